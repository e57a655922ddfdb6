"""Run the real Airflow DAGs over drops on the embedded warehouse (what `welfare run` does)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from welfare import ingest
from welfare.settings import DAGS_DIR, PROJECT_ROOT, welfare_home

log = logging.getLogger(__name__)
WAREHOUSE_DAG = "welfare_warehouse"


def airflow_env(sources: Path | None = None) -> dict[str, str]:
    """Airflow's environment: its home, the project's DAGs, and the warehouse connections of the two
    component roles (the loader for the ingest, the transformer for dbt); never the superuser."""
    from welfare.settings import WAREHOUSE_CONN_IDS
    from welfare.warehouse import connections

    home = welfare_home() / "airflow"
    env = dict(os.environ)
    server = connections.server()  # started once, for both connections
    for role, conn_id in WAREHOUSE_CONN_IDS.items():
        env["AIRFLOW_CONN_" + conn_id.upper()] = connections.role_target(role, base=server).uri
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "2",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Bangkok",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        # task logs hold file names and reasons: private like everything under $WELFARE_HOME
        "AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FILE_PERMISSIONS": "0o600",
        "AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FOLDER_PERMISSIONS": "0o700",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "GX_ANALYTICS_ENABLED": "False",
        "DO_NOT_TRACK": "1",
        "WELFARE_HOME": str(welfare_home()),
        # `airflow dags test` of Airflow 3.3.2 fails a DAG with a deadline at the end of a successful run
        # (its in-memory DAG holds the deadline's definition where Airflow expects its id): `welfare run` has
        # no deadline alerts; the live scheduler has.
        "WELFARE_DEADLINE_ALERTS": "off",
        # `dags test` runs the one dbt build; the mirror tasks of its nodes are for the live UI
        "WELFARE_DBT_NODE_TASKS": "0",
        # `welfare run` is interactive: retry platform errors after seconds, not minutes.
        "WELFARE_RETRY_DELAY_SECONDS": os.environ.get("WELFARE_RETRY_DELAY_SECONDS", "5"),
    })
    if sources is not None:
        env["WELFARE_SOURCES"] = str(Path(sources).resolve())
    return env


def airflow_bin() -> str:
    cand = Path(sys.executable).with_name("airflow")
    return str(cand) if cand.exists() else "airflow"


def ensure_airflow(env: dict[str, str]) -> None:
    home = Path(env["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    marker = home / ".migrated"
    if marker.exists():
        return
    proc = subprocess.run([airflow_bin(), "db", "migrate"], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError("airflow db migrate failed:\n" + proc.stdout[-3000:] + proc.stderr[-3000:])
    marker.write_text("ok\n")


def system_env(env: dict[str, str], system: str) -> dict[str, str]:
    """The environment of one system's ingest under `dags test`: its own SQLite metadata file (a copy of
    the migrated one), so that the three systems' ingests of a night run side by side, as under the
    scheduler, without sharing SQLite's single writer. Their asset events are not read by anything:
    the warehouse DAG is triggered, not scheduled on them."""
    import shutil

    home = Path(env["AIRFLOW_HOME"])
    db = home / f"airflow-{system}.db"
    if not db.exists():
        tmp = db.with_suffix(".db.tmp")
        shutil.copyfile(home / "airflow.db", tmp)
        os.replace(tmp, db)
    return {**env, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{db}"}


def ingest_parallel() -> int:
    """How many systems' ingests of a night `welfare run` runs at once: ``$WELFARE_RUN_PARALLEL``, default 3
    (all of them, as the scheduler does); 1 runs them one after another (the least memory)."""
    from welfare.settings import whole_number

    return whole_number(os.environ.get("WELFARE_RUN_PARALLEL", "3"), "WELFARE_RUN_PARALLEL", "ingests")


@dataclass
class DagRunOutcome:
    dag_id: str
    extract_date: date
    ok: bool
    seconds: float
    log_file: Path


@dataclass
class RunSummary:
    dates: list[date] = field(default_factory=list)
    runs: list[DagRunOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.runs)


def dags_test(dag_id: str, extract_date: date, env: dict[str, str], sources: Path) -> DagRunOutcome:
    """`airflow dags test` one DAG for one drop date; its whole output is kept in a log file."""
    logs = welfare_home() / "runs"
    logs.mkdir(parents=True, exist_ok=True)
    log_file = logs / f"{extract_date.isoformat()}__{dag_id}.log"
    conf = json.dumps({"extract_date": extract_date.isoformat()})  # the sources root is WELFARE_SOURCES
    t0 = time.monotonic()
    with open(log_file, "w") as out:
        proc = subprocess.run(
            [airflow_bin(), "dags", "test", dag_id, extract_date.isoformat(), "--conf", conf],
            env=env, stdout=out, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT,
        )
    text = log_file.read_text(errors="replace")
    ok = proc.returncode == 0 and final_state(text) == "success"
    return DagRunOutcome(dag_id, extract_date, ok, round(time.monotonic() - t0, 1), log_file)


def final_state(log_text: str) -> str:
    """The state `airflow dags test` reports for the finished DAG run ('unknown' if none)."""
    import re

    found = re.findall(r"DagRun Finished: .*?state=([a-z_]+)", log_text)
    return found[-1] if found else "unknown"


def run_pipeline(sources: Path, until: date | None = None, echo=print) -> RunSummary:
    from welfare.warehouse import connections

    connections.setup()  # the superuser's only use: roles, schemas, grants
    env = airflow_env(sources)
    ensure_airflow(env)
    summary = RunSummary()
    drops = ingest.complete_drop_dates(sources)
    for d, systems in drops.items():
        if until and d > until:
            continue
        summary.dates.append(d)
        with ThreadPoolExecutor(max_workers=min(ingest_parallel(), len(systems)) or 1) as pool:
            outcomes = list(pool.map(lambda s, day=d: dags_test(f"welfare_ingest_{s}", day, system_env(env, s),
                                                                sources), systems))
        for system, outcome in zip(systems, outcomes, strict=True):
            summary.runs.append(outcome)
            echo(f"{d}  welfare_ingest_{system:<6} {'ok' if outcome.ok else 'FAILED':<7} {outcome.seconds:>6.1f}s  "
                 f"log: {outcome.log_file}")
        outcome = dags_test(WAREHOUSE_DAG, d, env, sources)
        summary.runs.append(outcome)
        echo(f"{d}  {WAREHOUSE_DAG:<21} {'ok' if outcome.ok else 'FAILED':<7} {outcome.seconds:>6.1f}s  log: {outcome.log_file}")
    return summary
