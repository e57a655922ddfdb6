"""`make bench-warehouse`: the dbt build of the warehouse at province scale.

In a fresh database of the embedded cluster, each build written into the generation readers do not
see and then published (welfare.warehouse.wap), the two measured apart:

1. ingest the first drop of the benchmark's sources (every file, as the DAGs do);
2. full build: `dbt build` (every model, snapshot, seed, data and unit test) on an empty warehouse,
   into the blue generation, then its publish;
3. the green generation's first build, on the same drop: a full build too (every generation's first
   is), then its publish;
4. ingest the next day's drop;
5. nightly build: the same `dbt build` again, into blue, now incremental (blue catches up from the
   build before last, as every night does), then its publish.

For each build: wall seconds, and dbt's own overhead, which is the wall time minus the time some SQL
of the build was running in PostgreSQL. That time comes from the server's log: the bench database
logs the duration of every statement (log_min_duration_statement = 0), each a [start, end] interval
on the server's clock; their union is the time the database was busy (dbt runs two threads, so the
plain sum would count overlaps twice). Also the slowest nodes (run_results.json) and the province's
value of every indicator for the latest fiscal year. For each publish: its seconds (one transaction).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from welfare import ingest
from welfare.orchestration import tasks
from welfare.settings import PgTarget
from welfare.warehouse import connections, roles, secrets, wap
from welfare.warehouse.embedded import EmbeddedWarehouse
from welfare.warehouse.sql import connect

from bench.common import drop_files, recreate_database

DATABASE = "welfare_bench_warehouse"
FULL_LIMIT_S = 15 * 60
OVERHEAD_LIMIT = 0.20
INCREMENTAL_LIMIT = 0.25
LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) \S+ \[\d+\] LOG:  duration: ([0-9.]+) ms")


JSON_DURATION = re.compile(r"^duration: ([0-9.]+) ms")


def busy_intervals(log_text: str) -> list[tuple[datetime, datetime]]:
    """[start, end] of every statement whose duration the server logged: the server's JSON log (the
    embedded cluster's), or its plain text log."""
    out = []
    for line in log_text.splitlines():
        if line.startswith("{"):
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            m = JSON_DURATION.match(rec.get("message") or "")
            if m:
                end = datetime.strptime(rec["timestamp"][:23], "%Y-%m-%d %H:%M:%S.%f")
                out.append((end - timedelta(milliseconds=float(m.group(1))), end))
            continue
        m = LOG_LINE.match(line)
        if m:
            end = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f")
            out.append((end - timedelta(milliseconds=float(m.group(2))), end))
    return out


def server_log_sizes(log_dir: Path) -> dict[Path, int]:
    return {p: p.stat().st_size for p in log_dir.glob("*.json")}


def server_log_since(log_dir: Path, sizes: dict[Path, int]) -> str:
    """What the server logged since ``sizes`` (a file a weekday; one may have been started anew)."""
    parts = []
    for p in sorted(log_dir.glob("*.json")):
        with open(p, "rb") as f:
            start = sizes.get(p, 0)
            f.seek(start if start <= p.stat().st_size else 0)
            parts.append(f.read().decode("utf-8", errors="replace"))
    return "\n".join(parts)


def union_seconds(intervals: list[tuple[datetime, datetime]]) -> float:
    """Seconds covered by at least one interval."""
    total, cur_start, cur_end = 0.0, None, None
    for start, end in sorted(intervals):
        if cur_end is None or start > cur_end:
            if cur_end is not None:
                total += (cur_end - cur_start).total_seconds()
            cur_start, cur_end = start, end
        else:
            cur_end = max(cur_end, end)
    if cur_end is not None:
        total += (cur_end - cur_start).total_seconds()
    return total


def ingest_drop(target: PgTarget, sources: Path, day: date) -> dict:
    t0 = time.monotonic()
    results = [ingest.ingest_extract(target, sources, system, name, day) for system, name, _, _ in drop_files(sources, day)]
    return {"drop": day.isoformat(), "files": len(results), "rows": sum(r.rows_in or 0 for r in results),
            "statuses": sorted({r.status for r in results}), "seconds": round(time.monotonic() - t0, 1)}


def dbt_build(target: PgTarget, log_dir: Path, target_path: Path, label: str) -> dict:
    """One `dbt build` into the unpublished generation, timed on its own, then its publish, timed apart."""
    figures: dict = {}
    dbt = Path(sys.executable).with_name("dbt")

    def run(target: PgTarget, args: list[str], *, color: str, build_id: str) -> None:
        env = {**tasks.dbt_env(target, color=color, build_id=build_id), "DBT_TARGET_PATH": str(target_path),
               "DBT_LOG_PATH": str(target_path)}
        offset = server_log_sizes(log_dir)
        t0 = time.monotonic()
        proc = subprocess.run([str(dbt), *args], cwd=tasks.DBT_PROJECT_DIR, env=env, capture_output=True, text=True)
        wall = time.monotonic() - t0
        (target_path / f"{label}.log").write_text(proc.stdout + proc.stderr, encoding="utf-8")
        if proc.returncode != 0:
            sys.stdout.write(proc.stdout[-4000:])
            raise RuntimeError(f"the {label} dbt build failed (exit {proc.returncode})")
        intervals = busy_intervals(server_log_since(log_dir, offset))
        busy = union_seconds(intervals)
        figures.update({
            "wall_s": round(wall, 1), "db_busy_s": round(busy, 1), "statements": len(intervals),
            "db_statement_sum_s": round(sum((e - s).total_seconds() for s, e in intervals), 1),
            "dbt_overhead_s": round(wall - busy, 1), "dbt_overhead_share": round((wall - busy) / wall, 3),
        })

    try:
        built = wap.build(target, ["--fail-fast"], run_id=f"bench-{label}", run_dbt=run, target_dir=target_path)
    except wap.WapError as exc:
        raise SystemExit(f"bench-warehouse: the {label} build did not pass: {exc}") from None
    run_results = json.loads((target_path / "run_results.json").read_text(encoding="utf-8"))
    slowest = sorted(run_results["results"], key=lambda r: r["execution_time"], reverse=True)[:12]
    published = wap.publish(target, built)
    return {
        **figures, "generation": built["generation"], "nodes": len(run_results["results"]),
        "statuses": built["statuses"],
        "slowest": [{"node": r["unique_id"], "s": round(r["execution_time"], 1)} for r in slowest],
        "publish_s": published["publish_seconds"], "relations_published": len(published["relations"]),
    }


def province_kpis(target: PgTarget) -> dict:
    with connect(target.dsn) as conn, conn.cursor() as cur:
        cur.execute("select max(fiscal_year) from marts.kpi_values")
        (fy,) = cur.fetchone()
        cur.execute("select v.kpi_code, d.name_th, v.value::float from marts.kpi_values as v "
                    "join marts.kpi_definitions as d using (kpi_code) "
                    "where v.fiscal_year = %s and v.area_code = '60' order by v.kpi_code", (fy,))
        return {"fiscal_year": fy, "values": [{"kpi": k, "name_th": n, "value": v} for k, n, v in cur.fetchall()]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.warehouse")
    ap.add_argument("--sources", required=True)
    ap.add_argument("--json", required=True, help="write the figures here")
    ap.add_argument("--keep", action="store_true", help="keep the benchmark database (to look into it)")
    args = ap.parse_args(argv)
    sources = Path(args.sources).resolve()
    days = sorted(ingest.complete_drop_dates(sources))
    if len(days) < 2:
        raise SystemExit("bench-warehouse needs two drops (make bench generates four)")
    wh = EmbeddedWarehouse.default()
    admin = wh.start()
    admin_db = recreate_database(admin, DATABASE)
    roles.setup(admin_db, secrets.password)
    loader = connections.role_target("loader", base=admin_db)
    target = connections.role_target("transformer", base=admin_db)
    with connect(admin.dsn, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f'alter database "{DATABASE}" set log_min_duration_statement = 0')
    target_path = Path(os.environ.get("WELFARE_HOME", ".")) / "bench" / "dbt-target"
    target_path.mkdir(parents=True, exist_ok=True)
    (target_path / "partial_parse.msgpack").unlink(missing_ok=True)

    figures: dict = {"database": DATABASE, "ingest": [ingest_drop(loader, sources, days[0])]}
    figures["full_build"] = dbt_build(target, wh.server_log_dir, target_path, "full")
    figures["second_generation_build"] = dbt_build(target, wh.server_log_dir, target_path, "second_generation")
    figures["ingest"].append(ingest_drop(loader, sources, days[1]))
    figures["nightly_build"] = dbt_build(target, wh.server_log_dir, target_path, "nightly")
    full, nightly = figures["full_build"], figures["nightly_build"]
    figures["limits"] = {"full_build_s": FULL_LIMIT_S, "dbt_overhead_share": OVERHEAD_LIMIT,
                         "nightly_to_full": INCREMENTAL_LIMIT}
    figures["nightly_to_full"] = round(nightly["wall_s"] / full["wall_s"], 3)
    figures["checks"] = {
        "full_build_within_limit": full["wall_s"] <= FULL_LIMIT_S,
        "overhead_within_limit": max(full["dbt_overhead_share"], nightly["dbt_overhead_share"]) < OVERHEAD_LIMIT,
        "nightly_within_limit": figures["nightly_to_full"] <= INCREMENTAL_LIMIT,
    }
    figures["province_kpis"] = province_kpis(target)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(figures, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"dbt build, full: {full['wall_s']} s (limit {FULL_LIMIT_S}), dbt overhead "
          f"{100 * full['dbt_overhead_share']:.1f}%; nightly after {days[1]}: {nightly['wall_s']} s = "
          f"{100 * figures['nightly_to_full']:.1f}% of the full build (limit 25%), dbt overhead "
          f"{100 * nightly['dbt_overhead_share']:.1f}%; publish {full['publish_s']} s (full), "
          f"{nightly['publish_s']} s (nightly)")
    if not args.keep:
        with connect(admin.dsn, autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(f'drop database if exists "{DATABASE}" with (force)')
    return 0 if all(figures["checks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
