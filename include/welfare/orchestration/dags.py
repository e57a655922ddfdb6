"""The DAG factory the files under ``dags/`` call. Imported at DAG-parse time: keep it light (no DB, no GX,
no dbt)."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import AssetAny, CronTriggerTimetable, Param, dag, task

from welfare import contract
from welfare.orchestration.assets import raw_assets
from welfare.orchestration.tasks import DEFAULT_ARGS, LOAD_TIMEOUT_SECONDS
from welfare.settings import LOCAL_TZ

INGEST_TRIAGE = """
Per file: the drop folder and its manifest checked, the file (a regular file only) checked against
its manifest entry (rows, sha256), its header against the contract (encoding, schema drift), the
keys of every row read as a stream (duplicate keys across the whole file), then one transaction:
the file read again in chunks, every rule evaluated on each, valid rows typed by COPY into a new
partition of `raw`, failing rows into `audit.quarantine`, the extract's Great Expectations suite
(`expectations/`) on the rule results, the snapshot-shrink check, the ledger and `audit.file_audit`.

**If you are paged**
- `wait_for_drop` failed: the drop's `_manifest.json` never appeared, or the drop arrived under a
  folder not named YYYY-MM-DD (the message names it). Ask the source system's owners whether the
  export ran; clear the task once the drop is complete.
- a `load_<extract>` task failed: open its log. `REJECTED` names the file, the rule and the reason
  (manifest, not_a_regular_file, schema_drift, encoding, field_count, line_too_long,
  snapshot_shrink, ...); the file is kept under `$WELFARE_HOME/quarantine/files/` and loads
  nothing. Reasons never quote a value of the file. `unexpected`: a file in the drop that its
  manifest does not list (not loaded).
- `snapshot_shrink`: the snapshot would delete more than half of the current keys, almost always a
  failed export; the previous state stands. If the registry really shrank, trigger this DAG for
  that date with `accept_snapshot_shrink` listing the extract (or run `welfare accept`): the
  acceptance is recorded (who, when, which file) and the delivery loads.
- A threshold breach names the share of rows quarantined: read them in `audit.quarantine` (rule
  and message per row). Rows that passed are loaded; the previous state of a rejected snapshot
  stands. Fix at the source and re-send: an identical drop is recognised as a re-send and changes
  nothing, a corrected one loads.
- `watcher` failed: it only says that a load failed; look at the load tasks.
"""

START = pendulum.datetime(2016, 10, 1, tz=LOCAL_TZ)  # the first month of allowance history


def ingest_dag(system: str, doc_md: str | None = None):
    """One DAG per source system: wait for the drop, then one load task per extract."""
    sys_def = contract.systems()[system]
    assets = raw_assets(system)

    @dag(
        dag_id=f"welfare_ingest_{system}",
        description=f"Nightly ingest of {sys_def.title}",
        doc_md=(doc_md or "") + INGEST_TRIAGE,
        # Each system exports the day's extract in the evening; wait for it from 23:30 Bangkok time.
        schedule=CronTriggerTimetable("30 23 * * *", timezone=LOCAL_TZ),
        start_date=START,
        catchup=False,  # backfills are explicit: `airflow backfill create` or `welfare run`
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["welfare", "ingest", system],
        params={
            "extract_date": Param(
                None, type=["null", "string"], format="date", title="Drop date",
                description="The drop to load (YYYY-MM-DD); empty: the run's logical date in Asia/Bangkok. "
                            "The sources root is the deployment's (WELFARE_SOURCES), never a trigger's."),
            "accept_snapshot_shrink": Param(
                [], type="array", items={"type": "string", "enum": list(sys_def.extracts)},
                title="Accept a shrunken snapshot",
                description="Extracts of this drop whose snapshot was rejected for snapshot_shrink and that you "
                            "accept as a real change: the acceptance is recorded (who, when, which file) and they "
                            "load."),
        },
    )
    def _ingest():
        @task(retries=0)
        def wait_for_drop(**context) -> str:
            from airflow.sdk.exceptions import AirflowFailException

            from welfare.orchestration import tasks

            sources, extract_date = tasks.run_params(context)
            try:
                return tasks.wait_for_drop(sources, system, extract_date)
            except tasks.DataProblem as exc:
                raise AirflowFailException(str(exc)) from exc

        results = []
        waited = wait_for_drop()
        for name in sys_def.extracts:

            @task(task_id=f"load_{name}", multiple_outputs=True, outlets=[assets[(system, name)]],
                  execution_timeout=timedelta(seconds=LOAD_TIMEOUT_SECONDS))
            def load(extract_name: str = name, **context) -> dict:
                from airflow.sdk.exceptions import AirflowFailException

                from welfare.orchestration import tasks

                sources, extract_date = tasks.run_params(context)
                try:
                    return tasks.load_extract(tasks.warehouse_target(), sources, system, extract_name,
                                              extract_date, run_id=context["run_id"],
                                              accepted_by=tasks.acceptance_of(context, extract_name))
                except tasks.DataProblem as exc:
                    # A data problem: retrying cannot help, so fail now, visibly, with the reason.
                    raise AirflowFailException(str(exc)) from exc

            loaded = load()
            waited >> loaded
            results.append(loaded)

        @task(trigger_rule="all_done", retries=0)
        def report(**context) -> str:
            from welfare.ingest import report as load_report_mod
            from welfare.orchestration import tasks

            target = tasks.warehouse_target()
            sources, extract_date = tasks.run_params(context)
            tasks.record_unexpected_files(target, sources, system, extract_date, run_id=context["run_id"])
            text = load_report_mod.load_report(target, system=system, extract_date=extract_date)
            print(text)
            return text

        @task(trigger_rule="one_failed", retries=0)
        def watcher() -> None:
            """Fails the run when any load failed: the report above is all_done and would hide it."""
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException("at least one extract failed to load; see its task log and the load report")

        report_task = report()
        results >> report_task
        [waited, *results] >> watcher()

    return _ingest()


def warehouse_dag(doc_md: str | None = None):
    """Build the linked warehouse with dbt whenever any raw table was loaded."""
    assets = list(raw_assets().values())

    @dag(
        dag_id="welfare_warehouse",
        description="dbt build of the central welfare warehouse and the strategy indicators",
        doc_md=doc_md,
        schedule=AssetAny(*assets),
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["welfare", "warehouse", "dbt", "kpi"],
    )
    def _warehouse():
        @task
        def dbt_build() -> None:
            from welfare.orchestration import tasks

            tasks.run_dbt(tasks.warehouse_target("transformer"), ["build", "--fail-fast"])

        @task
        def dbt_docs() -> None:
            """dbt docs (lineage from every exposure and indicator to its source extracts) under
            $WELFARE_HOME/dbt/target: index.html, manifest.json, catalog.json."""
            from welfare.orchestration import tasks

            tasks.run_dbt(tasks.warehouse_target("transformer"), ["docs", "generate"])

        dbt_build() >> dbt_docs()

    return _warehouse()


# The periods' variables and defaults, as welfare.retention.PERIODS has them (its docstring is the rule);
# repeated here so that parsing the DAG imports nothing but Airflow.
RETENTION_DOC = """
**What is purged** (one row per object in `audit.retention_purge`: what, when, why; the ledger and
`audit.file_audit` stay). Each category has a period in days, set by an environment variable:
- `WELFARE_RETENTION_RAW_DAYS` (default 400). A raw partition of a *snapshot* extract that was
  superseded by a later load more than this many days ago. It must also have been captured by the
  extract's dbt snapshot, with a later state, and no key quarantined in the current load may fall
  back to it. Increments are never purged. Neither is a current load.
- `WELFARE_RETENTION_QUARANTINE_DAYS` (default 180). The quarantined rows of such a superseded load.
  The current load's quarantined rows always stay.
- `WELFARE_RETENTION_REJECTED_FILES_DAYS` (default 180). Rejected files under
  `$WELFARE_HOME/quarantine/files/`. Their `file_audit` row keeps its reason, and its `kept_at`
  becomes NULL.
- `WELFARE_RETENTION_DATA_DOCS_DAYS` (default 90). Data Docs files under `$WELFARE_HOME/data_docs/`.
- `WELFARE_RETENTION_RUN_LOGS_DAYS` (default 90). Run logs under `$WELFARE_HOME/runs/` and
  `$WELFARE_HOME/airflow/logs/`.
- `WELFARE_RETENTION_ACCESS_LOG_DAYS` (default 400). Entries of the access log
  (`$WELFARE_HOME/access/access-log.jsonl`), after the server's new records are copied into it.

Files are judged by mtime, regular files only. Links are never followed, and emptied folders are
removed. A rerun purges nothing new. The task's log lists what it held back past its period and why.
"""


def retention_dag(doc_md: str | None = None):
    """Daily at 04:00 Bangkok time (after the night's loads and build): the retention purge."""

    @dag(
        dag_id="welfare_retention",
        description="PDPA retention: purge superseded raw partitions, quarantine, rejected files, docs and logs",
        doc_md=(doc_md or "") + RETENTION_DOC,
        schedule=CronTriggerTimetable("0 4 * * *", timezone=LOCAL_TZ),
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["welfare", "retention", "pdpa"],
    )
    def _retention():
        @task(multiple_outputs=False)  # one summary: counts per category and what was held back
        def purge(**context) -> dict:
            """welfare.retention.purge as welfare_transformer (a member of the owner: it may drop raw
            partitions and delete audit rows), over $WELFARE_HOME, as of now."""
            from welfare import retention
            from welfare.orchestration import tasks
            from welfare.settings import welfare_home
            from welfare.warehouse import access_log

            result = retention.purge(tasks.warehouse_target("transformer"), welfare_home(),
                                     run_id=context.get("run_id"))
            summary = result.summary()
            summary["access_log_collected"], summary["access_log_purged"] = access_log.collect_and_purge()
            return summary

        purge()

    return _retention()
