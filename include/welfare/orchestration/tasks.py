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
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from welfare import ingest
from welfare.ingest.drops import misnamed_drop
from welfare.settings import DBT_PROJECT_DIR, LOCAL_TZ, WAREHOUSE_CONN_IDS, PgTarget, welfare_home

log = logging.getLogger(__name__)

DEFAULT_ARGS = {
    "owner": "welfare-data-engineering",
    "retries": 2,
    "retry_delay": timedelta(seconds=int(os.environ.get("WELFARE_RETRY_DELAY_SECONDS", "300"))),
    "retry_exponential_backoff": True,
}
DROP_WAIT_SECONDS = int(os.environ.get("WELFARE_DROP_WAIT_SECONDS", str(6 * 3600)))
# A load task that runs longer than this fails with Airflow's timeout (a province-scale file takes minutes).
LOAD_TIMEOUT_SECONDS = int(os.environ.get("WELFARE_LOAD_TIMEOUT_SECONDS", str(2 * 3600)))


class DataProblem(Exception):
    """A problem with the delivered data, not the platform: retrying will not help."""


# ---------------------------------------------------------------- plain logic
def wait_for_drop(sources: Path, system: str, extract_date: date, timeout_s: int = DROP_WAIT_SECONDS,
                  poke_s: float = 30.0) -> str:
    deadline = time.monotonic() + timeout_s
    folder = ingest.drop_folder(sources, system, extract_date)
    while not ingest.drop_complete(sources, system, extract_date):
        misnamed = misnamed_drop(sources, system, extract_date)
        if misnamed:
            raise DataProblem(
                f"the {system} drop for {extract_date} arrived as {system}/{misnamed}/, but drop folders are named "
                f"YYYY-MM-DD: ask the {system} system's owners to deliver it as {system}/{extract_date}/ (or rename "
                "it), then clear this task")
        if time.monotonic() >= deadline:
            raise DataProblem(
                f"no complete {system} drop for {extract_date} after {timeout_s}s: "
                f"{folder / ingest.MANIFEST} never appeared. Ask the {system} system's owners whether the "
                "export ran; rerun this DAG run once the drop is complete.")
        time.sleep(min(poke_s, max(0.0, deadline - time.monotonic())))
    return str(folder)


def load_extract(target: PgTarget, sources: Path, system: str, extract: str, extract_date: date,
                 run_id: str | None = None, accepted_by: str | None = None) -> dict:
    """One extract of one drop; ``accepted_by``: an operator accepts this delivery's snapshot_shrink."""
    try:
        threshold = ingest.threshold_for(system, extract)  # a bad setting fails here, before anything loads
    except ingest.ConfigurationError as exc:
        raise DataProblem(f"configuration error: {exc}") from exc
    bootstrap_once(target)
    if accepted_by:
        accept(target, system, extract, extract_date, accepted_by, note=f"accepted in Airflow run {run_id}")
    res = ingest.ingest_extract(target, sources, system, extract, extract_date, run_id=run_id, threshold=threshold)
    summary = res.as_dict()
    log.info("load result: %s", json.dumps(summary, ensure_ascii=False))
    if res.failed:
        raise DataProblem(f"{system}.{extract} of {extract_date}: {res.reason}")
    return summary


def accept(target: PgTarget, system: str, extract: str, extract_date: date, accepted_by: str,
           note: str | None = None) -> str | None:
    """Record that ``accepted_by`` accepts the delivery rejected for snapshot_shrink (its sha256), if any."""
    from welfare import contract
    from welfare.ingest import audit
    from welfare.warehouse.sql import connect

    with connect(target.dsn) as conn, conn.cursor() as cur:
        try:
            sha = audit.accept_delivery(cur, contract.extract(system, extract), extract_date, accepted_by, note)
        except ValueError as exc:
            log.warning("%s", exc)
            return None
        conn.commit()
    log.warning("%s.%s of %s: snapshot_shrink accepted by %s (file sha256 %s)", system, extract, extract_date,
                accepted_by, sha[:12])
    return sha


def record_unexpected_files(target: PgTarget, sources: Path, system: str, extract_date: date,
                            run_id: str | None = None) -> list[str]:
    """Files in the drop that its manifest does not list and that are no extract's file: recorded in
    ``audit.file_audit`` as ``unexpected`` (never loaded). An extract's own file is its load task's."""
    from welfare import contract
    from welfare.ingest import audit, readers
    from welfare.ingest.drops import drop_folder_checked, read_manifest, unexpected_files
    from welfare.ingest.outcome import FileRejected, FileResult
    from welfare.warehouse.sql import connect

    try:
        folder = drop_folder_checked(sources, system, extract_date)
        manifest = read_manifest(folder)
    except FileRejected:
        return []  # the load tasks record that
    ours = {e.file for e in contract.systems()[system].extracts.values()}
    names = [n for n in unexpected_files(folder, manifest) if n not in ours]
    with connect(target.dsn) as conn, conn.cursor() as cur:
        for n in names:
            regular = readers.is_regular(folder / n)
            res = FileResult(system, "-", extract_date.isoformat(), n, "unexpected", rule="unexpected_file",
                             reason=f"[unexpected_file] {n} is in the drop but not in its manifest, and no extract of "
                                    "the contract has this name: not read" + ("" if regular else " (not a regular file)"))
            if not audit.recorded_before(cur, res, None):
                audit.record_audit(cur, res, None, run_id, datetime.now(UTC), fingerprint=manifest.fingerprint)
                log.warning("%s/%s/%s: %s", system, extract_date, n, res.reason)
        conn.commit()
    return names


def acceptance_of(context, extract: str) -> str | None:
    """Who accepts this extract's snapshot_shrink in this run: the run's ``accept_snapshot_shrink``
    parameter lists it (a manual trigger), and the triggering user is named."""
    params = context.get("params") or {}
    conf = (context.get("dag_run").conf if context.get("dag_run") else None) or {}
    listed = conf.get("accept_snapshot_shrink", params.get("accept_snapshot_shrink")) or []
    if extract not in listed:
        return None
    run = context.get("dag_run")
    who = getattr(run, "triggering_user_name", None) or "an Airflow user"
    return f"{who} (Airflow run {context.get('run_id')})"


_READY: set[str] = set()


def bootstrap_once(target: PgTarget) -> None:
    """The warehouse must have been set up (`welfare warehouse setup`, as its superuser): the
    components' roles create no schema and run no migration."""
    from welfare.settings import make_home_private
    from welfare.warehouse import ddl

    make_home_private()  # what this task writes under $WELFARE_HOME (rejected files, Data Docs) is private
    if target.uri not in _READY:
        ddl.require_setup(target.dsn)
        _READY.add(target.uri)


def dbt_env(target: PgTarget, color: str | None = None, build_id: str | None = None) -> dict[str, str]:
    """dbt's environment: the connection, its role (what dbt creates is the owner's), the pseudonym key as
    two session settings (never in the SQL dbt compiles or logs), and the generation it builds
    (``WELFARE_BUILD_COLOR``: ``color``, by default the one readers do not see, welfare.warehouse.wap) with
    the build's id (a session setting, and in dbt's artifacts as ``metadata.env.WELFARE_BUILD_ID``)."""
    import dataclasses

    from welfare.warehouse import roles, secrets, wap

    color = color or wap.building_color(target)
    build_id = build_id or wap.new_build_id("adhoc")
    home = welfare_home()
    env = dict(os.environ)
    options = secrets.pseudonym_session_options() + wap.session_options(color, build_id)
    env.update(dataclasses.replace(target, options=options).env())
    env.update({
        "WELFARE_PG_ROLE": roles.OWNER,
        "WELFARE_BUILD_COLOR": color,
        "DBT_ENV_CUSTOM_ENV_WELFARE_BUILD_ID": build_id,
        "DBT_ENV_CUSTOM_ENV_WELFARE_BUILD_COLOR": color,
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
        "DBT_PROJECT_DIR": str(DBT_PROJECT_DIR),
        "DBT_TARGET_PATH": str(wap.dbt_target_dir()),
        "DBT_LOG_PATH": str(home / "dbt" / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
    })
    return env


def run_dbt(target: PgTarget, args: list[str], *, color: str | None = None, build_id: str | None = None,
            run_key: str | None = None) -> None:
    """Run a dbt command against the warehouse, its output streamed into the task log line by line as dbt
    writes it; raises when dbt fails. ``color``: the generation (default: the published one for ``docs``,
    else the one readers do not see). A build that readers should see goes through :func:`build_and_publish`.
    ``run_key`` (an Airflow run id): each node's result is written for the warehouse DAG's mirror tasks
    (welfare.orchestration.dbt_nodes)."""
    from welfare.orchestration import dbt_nodes
    from welfare.warehouse import wap

    bootstrap_once(target)
    color = color or wap.color_for(target, args)
    dbt = Path(sys.executable).with_name("dbt")
    cmd = [str(dbt) if dbt.exists() else "dbt", *args]
    log.info("running %s (the %s generation)", " ".join(cmd), color)
    rc = dbt_nodes.stream_dbt(cmd, env=dbt_env(target, color=color, build_id=build_id), cwd=DBT_PROJECT_DIR,
                              run_key=run_key)
    if rc != 0:
        raise RuntimeError(f"`dbt {' '.join(args)}` failed (exit {rc}); see the dbt lines above")


def build_and_publish(target: PgTarget, dbt_args: list[str] | tuple[str, ...] = (), run_id: str | None = None,
                      night: dict | None = None) -> dict:
    """`dbt build` (plus ``dbt_args``) into the generation readers do not see, through :func:`run_dbt`; once
    every node and test passed, readers' views switch to it in one transaction (welfare.warehouse.wap).
    Raises, having published nothing, when the build failed."""
    from welfare.warehouse import wap

    return wap.build_and_publish(target, dbt_args, run_id=run_id, night=night, run_dbt=run_dbt)


def _hand_dbt_runner_to_wap() -> None:
    """welfare.warehouse.wap runs its builds through :func:`run_dbt` (looked up when called, so a replaced
    run_dbt is the one used): the warehouse room may not import this one."""
    from welfare.warehouse import wap

    wap.use_dbt_runner(lambda target, args, **kw: run_dbt(target, args, **kw))


_hand_dbt_runner_to_wap()


# ---------------------------------------------------------------- Airflow glue
def warehouse_target(role: str = "loader") -> PgTarget:
    """The warehouse as a component role, from Airflow's connection of that role: ``welfare_loader``
    (env AIRFLOW_CONN_WELFARE_LOADER) for the ingest, ``welfare_transformer`` for dbt and the purge."""
    from airflow.sdk import Connection

    conn = Connection.get(WAREHOUSE_CONN_IDS[role])
    return PgTarget(host=conn.host or "127.0.0.1", port=int(conn.port or 5432), user=conn.login or "",
                    password=conn.password or "", database=conn.schema or "welfare")


# What a manual trigger may say: the drop date, and the shrunken snapshots it accepts. Never a path: the
# sources root is the deployment's configuration ($WELFARE_SOURCES).
TRIGGER_KEYS = frozenset({"extract_date", "accept_snapshot_shrink"})


def run_params(context) -> tuple[Path, date]:
    """The sources root ($WELFARE_SOURCES) and the drop date of this run: the run's logical date in
    Asia/Bangkok, or the ``extract_date`` a manual trigger gives."""
    conf = (context.get("dag_run").conf if context.get("dag_run") else None) or {}
    unknown = sorted(set(conf) - TRIGGER_KEYS)
    if unknown:
        raise DataProblem(f"this DAG takes only {sorted(TRIGGER_KEYS)} at trigger, not {unknown}: the sources "
                          "root comes from the deployment's configuration (WELFARE_SOURCES)")
    sources = os.environ.get("WELFARE_SOURCES")
    if not sources:
        raise DataProblem("no sources root: the deployment sets WELFARE_SOURCES")
    if conf.get("extract_date"):
        try:
            d = date.fromisoformat(str(conf["extract_date"]))
        except ValueError:
            raise DataProblem(f"extract_date must be a date YYYY-MM-DD, not {conf['extract_date']!r}") from None
    else:
        d = context["logical_date"].in_timezone(LOCAL_TZ).date()
    return Path(sources), d
