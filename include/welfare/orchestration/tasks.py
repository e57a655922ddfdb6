"""What the Airflow tasks do. DAG files only wire these together.

Everything here takes plain values (system, drop date, sources root) so it
can be called and tested without Airflow; the Airflow-facing glue (reading
the run's context and the warehouse connection) is in the small functions
at the bottom.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from welfare import ingest
from welfare.settings import DBT_PROJECT_DIR, LOCAL_TZ, WAREHOUSE_CONN_ID, PgTarget, welfare_home

log = logging.getLogger(__name__)

DEFAULT_ARGS = {
    "owner": "welfare-data-engineering",
    "retries": 2,
    "retry_delay": timedelta(seconds=int(os.environ.get("WELFARE_RETRY_DELAY_SECONDS", "300"))),
    "retry_exponential_backoff": True,
}
DROP_WAIT_SECONDS = int(os.environ.get("WELFARE_DROP_WAIT_SECONDS", str(6 * 3600)))


class DataProblem(Exception):
    """A problem with the delivered data, not the platform: retrying will not help."""


# ---------------------------------------------------------------- plain logic
def wait_for_drop(sources: Path, system: str, extract_date: date, timeout_s: int = DROP_WAIT_SECONDS,
                  poke_s: float = 30.0) -> str:
    deadline = time.monotonic() + timeout_s
    folder = ingest.drop_folder(sources, system, extract_date)
    while not ingest.drop_complete(sources, system, extract_date):
        if time.monotonic() >= deadline:
            raise DataProblem(
                f"no complete {system} drop for {extract_date} after {timeout_s}s: "
                f"{folder / ingest.MANIFEST} never appeared. Ask the {system} system's owners whether the "
                "export ran; rerun this DAG run once the drop is complete.")
        time.sleep(min(poke_s, max(0.0, deadline - time.monotonic())))
    return str(folder)


def load_extract(target: PgTarget, sources: Path, system: str, extract: str, extract_date: date,
                 run_id: str | None = None) -> dict:
    bootstrap_once(target)
    res = ingest.ingest_extract(target, sources, system, extract, extract_date, run_id=run_id,
                                threshold=ingest.threshold_for(system, extract))
    summary = res.as_dict()
    log.info("load result: %s", json.dumps(summary, ensure_ascii=False))
    if res.failed:
        raise DataProblem(f"{system}.{extract} of {extract_date}: {res.reason}")
    return summary


_BOOTSTRAPPED: set[str] = set()


def bootstrap_once(target: PgTarget) -> None:
    from welfare.warehouse import ddl

    if target.uri not in _BOOTSTRAPPED:
        ddl.bootstrap(target.dsn)
        _BOOTSTRAPPED.add(target.uri)


def dbt_env(target: PgTarget) -> dict[str, str]:
    home = welfare_home()
    env = dict(os.environ)
    env.update(target.env())
    env.update({
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
        "DBT_PROJECT_DIR": str(DBT_PROJECT_DIR),
        "DBT_TARGET_PATH": str(home / "dbt" / "target"),
        "DBT_LOG_PATH": str(home / "dbt" / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
    })
    return env


def run_dbt(target: PgTarget, args: list[str]) -> None:
    """Run a dbt command against the warehouse, streaming its output into the task log."""
    bootstrap_once(target)
    dbt = Path(sys.executable).with_name("dbt")
    cmd = [str(dbt) if dbt.exists() else "dbt", *args]
    log.info("running %s", " ".join(cmd))
    proc = subprocess.run(cmd, cwd=DBT_PROJECT_DIR, env=dbt_env(target), capture_output=True, text=True)
    for line in (proc.stdout + proc.stderr).splitlines():
        log.info("dbt | %s", line)
    if proc.returncode != 0:
        raise RuntimeError(f"`dbt {' '.join(args)}` failed (exit {proc.returncode}); see the dbt lines above")


# ---------------------------------------------------------------- Airflow glue
def warehouse_target() -> PgTarget:
    """The warehouse, from Airflow's connection ``welfare_warehouse`` (env AIRFLOW_CONN_WELFARE_WAREHOUSE)."""
    from airflow.sdk import Connection

    conn = Connection.get(WAREHOUSE_CONN_ID)
    return PgTarget(host=conn.host or "127.0.0.1", port=int(conn.port or 5432), user=conn.login or "welfare",
                    password=conn.password or "", database=conn.schema or "welfare")


def run_params(context) -> tuple[Path, date]:
    """The sources root and the drop date of this run.

    The drop date is the run's logical date in Asia/Bangkok; ``dag_run.conf``
    may set ``extract_date`` and ``sources`` (default ``$WELFARE_SOURCES``).
    """
    conf = (context.get("dag_run").conf if context.get("dag_run") else None) or {}
    sources = conf.get("sources") or os.environ.get("WELFARE_SOURCES")
    if not sources:
        raise DataProblem("no sources root: set WELFARE_SOURCES or pass {'sources': ...} in the run's conf")
    if conf.get("extract_date"):
        d = date.fromisoformat(conf["extract_date"])
    else:
        d = context["logical_date"].in_timezone(LOCAL_TZ).date()
    return Path(sources), d
