"""`make bench`: the ingest of one drop of all three systems against a plain `psql \\copy` floor.

Both run in the same invocation, on the same embedded cluster, in a fresh database
each, over the same files (read once beforehand, so both find them in the page cache):

- floor: one `psql` that `\\copy`s every file into an unindexed table shaped like the
  file (CSV: a text column per column, with the file's encoding; JSON lines:
  one jsonb column, the plain way to load JSON);
- ingest: `welfare.ingest.ingest_extract` for every extract of the drop, one after the
  other, as the DAG tasks run them (manifest check, COPY, Great Expectations, publish).

Figures: seconds of each, their ratio, rows a second, and the share of the ingest
spent in Great Expectations validation (from audit.file_audit).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from welfare import ingest
from welfare.warehouse import connections, roles, secrets
from welfare.warehouse.embedded import EmbeddedWarehouse, find_bindir
from welfare.warehouse.sql import connect

from bench.common import drop_files, recreate_database

PG_ENC = {"utf-8-sig": "UTF8", "cp874": "WIN874", "utf-8": "UTF8"}


def floor_script(sources: Path, day: date) -> str:
    lines = []
    for system, name, ext, path in drop_files(sources, day):
        table = f"floor.{system}__{name}"
        if ext.format == "jsonl":
            lines.append(f"create table {table} (doc jsonb) with (autovacuum_enabled = false);")
            lines.append(f"\\copy {table} from '{path}' with (format csv, quote e'\\x01', delimiter e'\\x02')")
        else:
            cols = ", ".join(f'"{c.name}" text' for c in ext.columns)
            lines.append(f"create table {table} ({cols}) with (autovacuum_enabled = false);")
            lines.append(f"\\copy {table} from '{path}' with (format csv, header true, encoding '{PG_ENC[ext.encoding]}')")
    return "\\timing on\ncreate schema floor;\n" + "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.ingest")
    ap.add_argument("--sources", required=True)
    ap.add_argument("--date", type=date.fromisoformat, help="the drop (default: the first)")
    ap.add_argument("--json", required=True, help="write the figures here")
    args = ap.parse_args(argv)
    sources = Path(args.sources).resolve()
    day = args.date or min(ingest.complete_drop_dates(sources))
    wh = EmbeddedWarehouse.default()
    admin = wh.start()
    files = list(drop_files(sources, day))
    size = sum(p.stat().st_size for *_, p in files)
    for *_, p in files:  # warm the page cache for both contestants
        with open(p, "rb") as f:
            while f.read(1 << 24):
                pass

    floor_db = recreate_database(admin, "welfare_bench_floor")
    script = sources.parent / "floor.sql"
    script.write_text(floor_script(sources, day), encoding="utf-8")
    t0 = time.monotonic()
    out = subprocess.run([str(find_bindir() / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", floor_db.uri,
                          "-f", str(script)], check=True, capture_output=True, text=True).stdout
    floor_s = time.monotonic() - t0
    # \timing: one line per statement: the schema, then (create table, \copy) per file
    timings = [float(m) / 1000 for m in re.findall(r"^Time: ([0-9.]+) ms", out, re.M)]
    floor_by_file = {f"{system}/{path.name}": round(timings[2 + 2 * i], 2) if len(timings) > 2 + 2 * i else None
                     for i, (system, _, _, path) in enumerate(files)}

    admin_db = recreate_database(admin, "welfare_bench_ingest")
    roles.setup(admin_db, secrets.password)
    target = connections.role_target("loader", base=admin_db)  # the ingest as it runs: the loader role
    t0 = time.monotonic()
    results = [ingest.ingest_extract(target, sources, system, name, day, threshold=1.0)
               for system, name, _, _ in files]
    ingest_s = time.monotonic() - t0
    rows = sum(r.rows_in for r in results)
    validation = sum(r.validation_s or 0 for r in results)
    per_file = {f"{r.system}/{r.file_name}": {"rows": r.rows_in, "status": r.status, "seconds": r.duration_s,
                                               "floor_copy_s": floor_by_file.get(f"{r.system}/{r.file_name}"),
                                               "landing_s": r.landing_s, "validation_s": r.validation_s, "docs_s": r.docs_s,
                                               "publish_s": r.publish_s} for r in results}
    figures = {
        "drop": day.isoformat(), "files": len(files), "bytes": size, "rows": rows,
        "floor_psql_copy_s": round(floor_s, 1), "ingest_s": round(ingest_s, 1),
        "ratio_to_copy": round(ingest_s / floor_s, 2), "ratio_limit": 2.0,
        "validation_s": round(validation, 1), "data_docs_s": round(sum(r.docs_s or 0 for r in results), 1),
        "validation_share_of_ingest": round(validation / ingest_s, 3),
        "validation_share_limit": 0.25, "ratio_within_limit": ingest_s / floor_s <= 2.0,
        "validation_share_within_limit": validation / ingest_s <= 0.25, "ingest_rows_per_s": round(rows / ingest_s),
        "floor_rows_per_s": round(rows / floor_s), "per_file": per_file,
        "floor_tables": "CSV: text columns per header, the file's encoding; JSON lines: one jsonb column",
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"ingest of {day} ({len(files)} files, {rows:,} rows, {size / 2**20:,.0f} MiB): {ingest_s:.1f} s; "
          f"psql \\copy floor {floor_s:.1f} s; ratio {ingest_s / floor_s:.2f} (limit 2.0); validation "
          f"{validation:.1f} s = {100 * validation / ingest_s:.1f}% of the ingest (limit 25%); "
          f"{rows / ingest_s:,.0f} rows/s")
    with connect(admin.dsn, autocommit=True) as conn, conn.cursor() as cur:
        for name in ("welfare_bench_floor", "welfare_bench_ingest"):
            cur.execute(f'drop database if exists "{name}" with (force)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
