"""`make bench-nightly`: one night under the live scheduler, and what of it is Airflow's and dbt's own.

In a home of its own (the benchmark's sources watched as the drops folder):

1. `welfare up` (api-server, scheduler, dag-processor, triggerer; LocalExecutor), the DAGs paused;
2. `welfare_nightly` triggered for the sources' first drop date, as the 23:30 slot would be: the three
   ingests (sensors, one load task per file), then one warehouse build (plan, `dbt build` streamed and
   mirrored node by node in the triggerer, publish, docs);
3. a screenshot of the completed night in the UI (`nightly-ui.png` beside the JSON);
4. from Airflow's REST API, every task instance of the night: the night's wall time, and the time at
   least one task was running on a worker (the union of their [start, end]; deferred waits and the
   triggerer's mirror tasks are not work). Airflow's own overhead is the wall time minus that;
5. the same `dbt build` run plainly (no Airflow, no streaming, no node results), on the same data and
   doing the same work: into the generation the night did not build (its first build: a full one, as
   the night's was), with the snapshots the night wrote set aside (renamed), so that the plain build
   writes their first history as the night's build did. The visible build's overhead is the night's
   `dbt_build` task (from its start on a worker to its end) against it; the limit is 10%.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

VISIBLE_OVERHEAD_LIMIT = 0.10


def _ts(value: str | None) -> float | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() if value else None


def union_seconds(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, None
    for a, b in sorted(intervals):
        if end is None or a > end:
            total += b - a
            end = b
        elif b > end:
            total += b - end
            end = b
    return total


def night_figures(api, run_id: str) -> dict:
    """Per DAG run of the night and per task: seconds; the night's wall and work."""
    dags = ["welfare_nightly", "welfare_ingest_msdhs", "welfare_ingest_cdd", "welfare_ingest_lao", "welfare_warehouse"]
    runs, work, tasks = {}, [], {}
    for dag_id in dags:
        run = api.run(dag_id, run_id)
        runs[dag_id] = {"state": run["state"], "seconds": round(_ts(run["end_date"]) - _ts(run["start_date"]), 1)}
        for ti in api.task_instances(dag_id, run_id):
            if not ti.get("start_date") or not ti.get("end_date"):
                continue
            a, b = _ts(ti["start_date"]), _ts(ti["end_date"])
            tasks[f"{dag_id}.{ti['task_id']}"] = {"state": ti["state"], "seconds": round(b - a, 2)}
            ran_on_worker = dag_id != "welfare_nightly" and not ti["task_id"].startswith("dbt.") \
                and ti["task_id"] != "wait_for_drop"
            if ran_on_worker:
                work.append((a, b))
    nightly = api.run("welfare_nightly", run_id)
    wall = _ts(nightly["end_date"]) - _ts(nightly["start_date"])
    busy = union_seconds(work)
    return {"runs": runs, "tasks": tasks, "night_wall_s": round(wall, 1), "tasks_running_s": round(busy, 1),
            "airflow_overhead_s": round(wall - busy, 1), "airflow_overhead_share": round((wall - busy) / wall, 3)}


def node_seconds(run_results: dict) -> dict[str, tuple[str, float]]:
    """Per dbt node of a run_results.json: (resource type, execution seconds)."""
    return {r["unique_id"]: (r["unique_id"].split(".", 1)[0], float(r.get("execution_time") or 0.0))
            for r in run_results.get("results", [])}


def compare_nodes(night: dict[str, tuple[str, float]], plain: dict[str, tuple[str, float]]) -> dict:
    """The two builds node by node (dbt's execution times, summed over its threads): per resource type,
    and the nodes the night ran slowest against the plain build; where the difference lies when there is one."""
    kinds: dict[str, dict[str, float]] = {}
    for u in night:
        if u in plain:
            k = kinds.setdefault(night[u][0], {"night_s": 0.0, "plain_s": 0.0})
            k["night_s"] += night[u][1]
            k["plain_s"] += plain[u][1]
    slower = sorted(((night[u][1] - plain[u][1], u) for u in night if u in plain), reverse=True)[:8]
    return {"by_type": {k: {n: round(v, 1) for n, v in t.items()} for k, t in sorted(kinds.items())},
            "slowest_differences": [{"node": u, "night_s": round(night[u][1], 1), "plain_s": round(plain[u][1], 1)}
                                    for _, u in slower]}


SNAPSHOTS_SCHEMA = "snapshots"


def set_aside_snapshots(target) -> str:
    """Rename the snapshots the night wrote out of the way (the two generations share them): the plain
    build after it then writes their first history, as the night's build did, not a no-op merge."""
    import psycopg2

    aside = f"{SNAPSHOTS_SCHEMA}_of_the_night"
    conn = psycopg2.connect(target.dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(f"alter schema {SNAPSHOTS_SCHEMA} rename to {aside}")
    finally:
        conn.close()
    return aside


def plain_dbt_build(color: str) -> dict:
    """`dbt build` as a person would run it: no Airflow, no streamed output, no node results."""
    from welfare.orchestration import tasks
    from welfare.settings import DBT_PROJECT_DIR
    from welfare.warehouse import connections

    env = tasks.dbt_env(connections.role_target("transformer"), color=color)
    dbt = Path(sys.executable).with_name("dbt")
    t0 = time.monotonic()
    proc = subprocess.run([str(dbt), "build", "--fail-fast"], cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - t0
    if proc.returncode != 0:
        raise SystemExit("the plain dbt build failed:\n" + proc.stdout[-3000:])
    return {"seconds": round(seconds, 1), "generation": color}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.nightly")
    ap.add_argument("--sources", required=True, type=Path)
    ap.add_argument("--home", required=True, type=Path, help="a WELFARE_HOME of its own (made anew)")
    ap.add_argument("--json", required=True, type=Path)
    ap.add_argument("--port", type=int, default=18480)
    args = ap.parse_args(argv)

    import shutil

    shutil.rmtree(args.home, ignore_errors=True)
    args.home.mkdir(parents=True, mode=0o700)
    os.environ["WELFARE_HOME"] = str(args.home)
    os.environ.setdefault("WELFARE_NIGHT_POKE_SECONDS", "5")
    from welfare import ingest
    from welfare.cli import live
    from welfare.warehouse import connections, wap

    night = min(ingest.complete_drop_dates(args.sources))
    try:
        cfg = live.up(port=args.port, sources=str(args.sources), unpause=False, echo=lambda s: None)
        api = live.ApiClient.local()
        api.unpause([d for d in api.welfare_dags() if d != "welfare_retention"], stop_last_slot=True)
        run_id = api.trigger("welfare_nightly", logical_date=f"{night.isoformat()}T16:30:00Z")["dag_run_id"]
        final = api.wait_run("welfare_nightly", run_id, timeout_s=4 * 3600, poll_s=10)
        figures = night_figures(api, run_id)
        figures["night"] = night.isoformat()
        figures["executor"] = cfg.executor
        figures["state"] = final["state"]
        try:  # the completed night as the UI shows it
            shot, _ = live.screenshot_run(args.json.with_name("nightly-ui.png"), run_id=run_id)
            figures["ui_screenshot"] = str(shot)
        except live.LiveError as exc:
            figures["ui_screenshot"] = f"not taken: {exc}"
        live.down()
        other = wap.building_color(connections.role_target("transformer"))
        # the night's node results as its build recorded them (run_results.json is dbt docs generate's by now)
        from welfare.orchestration import dbt_nodes

        recorded = [json.loads(p.read_text()) for p in dbt_nodes.results_dir(run_id).glob("*.json")
                    if p.name != dbt_nodes.DONE]
        night_nodes = node_seconds({"results": recorded})
        results = wap.dbt_target_dir() / "run_results.json"
        figures["snapshots_set_aside_as"] = set_aside_snapshots(connections.admin_target())
        plain = plain_dbt_build(other)
        plain_nodes = node_seconds(json.loads(results.read_text())) if results.exists() else {}
        visible = figures["tasks"]["welfare_warehouse.dbt_build"]["seconds"]
        figures["plain_dbt_build"] = plain
        figures["visible_dbt_build_s"] = visible
        figures["visible_overhead"] = round(visible / plain["seconds"] - 1, 3)
        figures["nodes"] = compare_nodes(night_nodes, plain_nodes)
        figures["visible_overhead_limit"] = VISIBLE_OVERHEAD_LIMIT
        figures["within_limit"] = figures["visible_overhead"] <= VISIBLE_OVERHEAD_LIMIT
    finally:
        live.down()
        subprocess.run([str(Path(sys.executable).with_name("welfare")), "warehouse", "stop"], capture_output=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps({k: v for k, v in figures.items() if k not in ("tasks",)}, indent=2))
    return 0 if figures["state"] == "success" and figures["within_limit"] else 1


if __name__ == "__main__":
    sys.exit(main())
