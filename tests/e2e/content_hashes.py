"""Per-table content hashes of what the warehouse publishes, for the end-to-end province.

Every table and view in `marts`, `restricted` and `snapshots` (the readers' views of the published
generation, and the shared snapshots) is reduced to its row count and an md5 of its rows (as JSON,
sorted), leaving out only what says *when* or *by which load* a row was written rather than what it
holds: dbt's snapshot timestamps and the version windows built on them (a
window is kept as "is current"), `load_id` (the loads of one night take their ids in the order
Airflow happens to run the tasks), the watermark `through_load_id` and the measurement time of
`person_register_measurements`.

`tests/e2e/content_hashes.json` holds the hashes recorded on the end-to-end drops
(`E2E_PROVINCE`); the end-to-end test compares a run's hashes with it, so a change that is meant
to leave the numbers alone (a refactoring) is shown to. A change meant to move them re-records
the file, on purpose, with

    .venv/bin/python tests/e2e/content_hashes.py --record

and says so in its commit.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

# The end-to-end province: the same drops `tests/e2e/test_pipeline.py` runs.
E2E_PROVINCE = {"scale": 0.004, "seed": 7, "drops": "2021-09-27,2021-09-28,2021-09-29,2021-09-30=2021-09-29",
                # a test key, known to be public: the hashes below hold the person_keys it gives
                "pseudonym_key": "e2e0" * 16}
RECORD = Path(__file__).with_name("content_hashes.json")
SCHEMAS = ("marts", "restricted", "snapshots")
# When a row was written, not what it says.
WRITE_TIME_COLUMNS = ["dbt_valid_from", "dbt_valid_to", "dbt_updated_at", "dbt_scd_id", "valid_from", "valid_to",
                      "org_version_key", "load_id", "through_load_id", "measured_at"]


def content_hashes(dsn: str) -> dict[str, list]:
    """{"schema.table": [row count, md5 of the sorted rows]} for every published table or view."""
    import psycopg2

    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("select table_schema, table_name from information_schema.tables "
                    "where table_schema = any(%s) order by 1, 2", (list(SCHEMAS),))
        tables = cur.fetchall()
        out = {}
        for schema, table in tables:
            cur.execute("select column_name from information_schema.columns where table_schema = %s "
                        "and table_name = %s and column_name in ('dbt_valid_to', 'valid_to')", (schema, table))
            window_end = cur.fetchone()
            current = (f"jsonb_build_object('is_current', t.{window_end[0]} is null)" if window_end
                       else "'{}'::jsonb")
            cur.execute(f"select count(*), md5(coalesce(string_agg(r::text, '|' order by r::text), '')) "
                        f"from (select (to_jsonb(t) - %s::text[]) || {current} as r "
                        f"from \"{schema}\".\"{table}\" as t) as x", (WRITE_TIME_COLUMNS,))
            count, digest = cur.fetchone()
            out[f"{schema}.{table}"] = [count, digest]
    return out


def _record(out: Path) -> int:
    """Generate the end-to-end province, run the real pipeline over it in a scratch home, write the hashes."""
    home = Path(tempfile.mkdtemp(prefix="welfare-hashes-"))
    os.environ["WELFARE_HOME"] = str(home)
    os.environ["WELFARE_PSEUDONYM_KEY"] = E2E_PROVINCE["pseudonym_key"]
    from welfare.cli import main as welfare

    sources = home / "sources"
    rc = welfare(["generate", "--out", str(sources), "--scale", str(E2E_PROVINCE["scale"]),
                  "--seed", str(E2E_PROVINCE["seed"]), "--drops", E2E_PROVINCE["drops"]])
    if rc != 0:
        return rc
    rc = welfare(["run", "--sources", str(sources)])
    if rc not in (0, 3):
        print(f"content_hashes: welfare run failed ({rc}); home kept at {home}", file=sys.stderr)
        return rc
    from welfare.warehouse import connections

    hashes = content_hashes(connections.admin_target().dsn)
    out.write_text(json.dumps(hashes, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"content_hashes: {len(hashes)} tables written to {out} (home {home})")
    welfare(["warehouse", "stop"])
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help="run the end-to-end province and write the hashes")
    parser.add_argument("--out", type=Path, default=RECORD)
    args = parser.parse_args()
    if not args.record:
        parser.error("nothing to do without --record")
    sys.exit(_record(args.out))
