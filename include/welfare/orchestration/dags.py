"""The DAG factory the files under ``dags/`` call. Imported at DAG-parse time: keep it light (no DB, no GX,
no dbt)."""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import CronTriggerTimetable, Param, dag, task

from welfare import contract
from welfare.orchestration import alerts
from welfare.orchestration.assets import raw_assets
from welfare.orchestration.tasks import DEFAULT_ARGS as TASK_DEFAULTS
from welfare.orchestration.tasks import LOAD_TIMEOUT_SECONDS
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
# Every task has a timeout; the tasks below that may run longer set their own.
# A failed task alerts through the connection welfare_alerts (SMTP or a webhook; none: the log).
DEFAULT_ARGS = {**TASK_DEFAULTS, "execution_timeout": timedelta(hours=2), "on_failure_callback": alerts.on_task_failure}
NIGHTLY = CronTriggerTimetable("30 23 * * *", timezone=LOCAL_TZ)  # each system exports in the evening

DROP_DATE_PARAM = Param(
    None, type=["null", "string"], format="date", title="Drop date",
    description="The night to run (YYYY-MM-DD); empty: the run's logical date in Asia/Bangkok. The sources "
                "root is the deployment's (WELFARE_SOURCES), never a trigger's.")


def drop_date_of(dag_run=None, logical_date=None, params=None) -> str:
    """The night a run is for (a template macro): the trigger's ``extract_date``, else the logical date
    in Asia/Bangkok."""
    conf = (getattr(dag_run, "conf", None) or {}) if dag_run is not None else {}
    given = conf.get("extract_date") or (params or {}).get("extract_date")
    if given:
        return str(given)
    if logical_date is None:
        raise ValueError("this run has neither an extract_date nor a logical date: trigger it with a drop date")
    return logical_date.in_timezone(LOCAL_TZ).date().isoformat()


DROP_DATE = "{{ drop_date_of(dag_run, logical_date, params) }}"


def ingest_dag(system: str, doc_md: str | None = None):
    """One DAG per source system: wait for the drop (deferred), then one load task per extract. It runs
    when the nightly chain (welfare_nightly) triggers it, or by hand for one drop date."""
    from welfare.orchestration.sensors import DropSensor, drop_wait_seconds

    sys_def = contract.systems()[system]
    assets = raw_assets(system)

    @dag(
        dag_id=f"welfare_ingest_{system}",
        description=f"Ingest of {sys_def.title}, one drop a run",
        doc_md=(doc_md or "") + INGEST_TRIAGE + alerts.triage_doc(),
        schedule=None,  # welfare_nightly triggers it each night at 23:30, for that night's drop
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["welfare", "ingest", system],
        params={
            "extract_date": DROP_DATE_PARAM,
            "accept_snapshot_shrink": Param(
                [], type="array", items={"type": "string", "enum": list(sys_def.extracts)},
                title="Accept a shrunken snapshot",
                description="Extracts of this drop whose snapshot was rejected for snapshot_shrink and that you "
                            "accept as a real change: the acceptance is recorded (who, when, which file) and they "
                            "load."),
        },
    )
    def _ingest():
        # A timeout (no drop) fails at once, whatever the retries (AirflowFailException). The retries are for
        # Airflow's own race: a drop found seconds after the deferral can resume the task before the executor
        # has reported the deferring try's exit, and the scheduler then fails the resumed task.
        waited = DropSensor(task_id="wait_for_drop", system=system, retries=2,
                            execution_timeout=timedelta(seconds=drop_wait_seconds() + 900))
        results = []
        for name in sys_def.extracts:

            @task(task_id=f"load_{name}", multiple_outputs=True, outlets=[assets[(system, name)]],
                  execution_timeout=timedelta(seconds=LOAD_TIMEOUT_SECONDS))
            def load(extract_name: str = name, **context) -> dict:
                from airflow.sdk.exceptions import AirflowFailException

                from welfare.orchestration import night, tasks

                sources, extract_date = tasks.run_params(context)
                asset = raw_assets(system)[(system, extract_name)]
                try:
                    summary = tasks.load_extract(tasks.warehouse_target(), sources, system, extract_name,
                                                 extract_date, run_id=context["run_id"],
                                                 accepted_by=tasks.acceptance_of(context, extract_name))
                except tasks.DataProblem as exc:
                    # A data problem: retrying cannot help, so fail now, visibly, with the reason.
                    raise AirflowFailException(str(exc)) from exc
                # the asset event carries the load's counts: the UI's asset view shows them per night
                context["outlet_events"][asset].extra = night.asset_extra(summary)
                return summary

            loaded = load()
            waited >> loaded
            results.append(loaded)

        @task(trigger_rule="all_done", retries=0, execution_timeout=timedelta(minutes=15))
        def report(**context) -> str:
            from airflow.sdk.exceptions import AirflowSkipException

            from welfare import ingest
            from welfare.ingest import report as load_report_mod
            from welfare.orchestration import tasks

            target = tasks.warehouse_target()
            sources, extract_date = tasks.run_params(context)
            if not ingest.drop_complete(sources, system, extract_date):
                raise AirflowSkipException(f"no complete {system} drop for {extract_date}: nothing to report")
            tasks.record_unexpected_files(target, sources, system, extract_date, run_id=context["run_id"])
            text = load_report_mod.load_report(target, system=system, extract_date=extract_date)
            print(text)
            return text

        @task(trigger_rule="one_failed", retries=0, execution_timeout=timedelta(minutes=5))
        def watcher() -> None:
            """Fails the run when any load failed: the report above is all_done and would hide it."""
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException("at least one extract failed to load; see its task log and the load report")

        report_task = report()
        results >> report_task
        [waited, *results] >> watcher()

    return _ingest()


BUILD_TIMEOUT = timedelta(seconds=int(os.environ.get("WELFARE_BUILD_TIMEOUT_SECONDS", str(3 * 3600))))


def warehouse_dag(doc_md: str | None = None):
    """The night's build of the linked warehouse: dbt build into the generation readers do not see,
    then publish it, then the docs. welfare_nightly triggers it once the night's three ingests have
    finished; by hand it rebuilds on what is current."""
    from airflow.sdk import Asset, TaskGroup

    from welfare.orchestration.dbt_nodes import DbtNodeOperator, read_node_list

    published = Asset(name="welfare.marts.published", uri="postgres://warehouse:5432/welfare/marts/kpi_values",
                      group="welfare-marts")

    @dag(
        dag_id="welfare_warehouse",
        description="dbt build of the central welfare warehouse and the strategy indicators, published when every test passed",
        doc_md=(doc_md or "") + alerts.triage_doc("build"),
        deadline=alerts.build_deadline(),
        schedule=None,  # welfare_nightly triggers it once a night
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["welfare", "warehouse", "dbt", "kpi"],
        params={"extract_date": DROP_DATE_PARAM},
        user_defined_macros={"drop_date_of": drop_date_of},
    )
    def _warehouse():
        @task(multiple_outputs=False, execution_timeout=timedelta(minutes=10))
        def plan(**context) -> dict:
            """Which system delivered this night; one that did not is named, and the build runs on what is current."""
            from datetime import date

            from welfare.orchestration import night, tasks

            d = date.fromisoformat(drop_date_of(context.get("dag_run"), context.get("logical_date"),
                                                context.get("params")))
            return night.plan(tasks.warehouse_target("transformer"), d).as_dict()

        @task(multiple_outputs=False, execution_timeout=BUILD_TIMEOUT)
        def dbt_build(night_plan: dict, **context) -> dict:
            """Write and audit: `dbt build` (models, snapshots, tests) into the generation readers do not see;
            its output streams into this log; every node's result is mirrored by the tasks of the `dbt` group.
            A failing node or test fails it at once (no retry: the data would fail again); a platform error
            (the database away) is retried."""
            import functools

            from airflow.sdk.exceptions import AirflowFailException

            from welfare.orchestration import dbt_nodes, tasks
            from welfare.warehouse import wap

            run_key = context["run_id"]
            try:
                return wap.build(tasks.warehouse_target("transformer"), ["--fail-fast"], run_id=run_key,
                                 night=night_plan, run_dbt=functools.partial(tasks.run_dbt, run_key=run_key))
            except wap.BuildFailed as exc:
                raise AirflowFailException(str(exc)) from exc
            finally:
                dbt_nodes.NodeRecorder.finish(run_key)  # the mirrors stop waiting, whatever happened

        @task(multiple_outputs=False, outlets=[published], execution_timeout=timedelta(minutes=30))
        def publish(build: dict, **context) -> dict:
            """Publish: readers' views switch to the new generation in one transaction, only after every test passed."""
            from welfare.orchestration import tasks
            from welfare.warehouse import wap

            out = wap.publish(tasks.warehouse_target("transformer"), build)
            context["outlet_events"][published].extra = {k: out[k] for k in ("generation", "drop_date") if k in out}
            return out

        @task(execution_timeout=timedelta(minutes=30))
        def dbt_docs() -> None:
            """dbt docs (lineage from every exposure and indicator to its source extracts) under
            $WELFARE_HOME/dbt/target: index.html, manifest.json, catalog.json."""
            from welfare.orchestration import tasks

            tasks.run_dbt(tasks.warehouse_target("transformer"), ["docs", "generate"])

        planned = plan()
        built = dbt_build(planned)
        publish(built) >> dbt_docs()

        nodes = read_node_list()
        if nodes:
            with TaskGroup("dbt", tooltip="each dbt model, seed and snapshot of the build, with its tests: "
                                          "mirrored from the one dbt build, run in the triggerer"):
                mirrors = {n["unique_id"]: DbtNodeOperator(task_id=n["name"], unique_id=n["unique_id"],
                                                           tests=n["tests"], retries=0,
                                                           execution_timeout=BUILD_TIMEOUT,
                                                           doc_md=f"`{n['unique_id']}` and its {len(n['tests'])} tests")
                           for n in nodes}
                for n in nodes:
                    for up in n["upstream"]:
                        mirrors[up] >> mirrors[n["unique_id"]]
                    if not n["upstream"]:
                        planned >> mirrors[n["unique_id"]]

    return _warehouse()


NIGHTLY_DOC = """
### welfare_nightly: the night, from the drops to the published marts

At 23:30 Asia/Bangkok it triggers the three ingest DAGs for that night's drop and waits for them
(deferred: no worker is held). Each ingest waits for its drop's `_manifest.json` for up to
`WELFARE_DROP_WAIT_SECONDS` (default 4 h), then fails naming the system and the date. Once all three
have finished, delivered or not, it triggers **one** `welfare_warehouse` build, which says which
system is missing and builds on what is current. The night must be done by 06:00: a deadline
alert fires otherwise.

**If you are paged**
- *a drop is late*: `ingest_<system>` failed with `no complete <system> drop`. The night was built
  without it. When the drop arrives, clear `ingest_<system>` and `build` of this run (or trigger
  this DAG for that date): the re-sent drops of the other systems change nothing, and the build
  publishes the completed night.
- *the build failed*: open `welfare_warehouse`'s `dbt_build` log (or the red task of its `dbt`
  group). Nothing was published: readers still see the last good night. Fix, then clear `build`.
- *the deadline passed*: look for the task still running or deferred (a drop still awaited, a
  build still running) in this run's grid.
- To rerun a night: trigger this DAG with its drop date. To replay many nights: `airflow backfill
  create --dag-id welfare_nightly --from-date ... --to-date ...` (one night at a time, in order).
"""


def nightly_dag(doc_md: str | None = None):
    """23:30 each night: the three ingests of the night's drop, then one warehouse build."""
    from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator

    systems = list(contract.systems())

    @dag(
        dag_id="welfare_nightly",
        description="The night: the three ingests of the night's drop, then one build of the warehouse",
        doc_md=(doc_md or "") + NIGHTLY_DOC + alerts.triage_doc("nightly"),
        deadline=alerts.nightly_deadline(),  # the night done by 06:00 Asia/Bangkok (WELFARE_NIGHT_DEADLINE)
        schedule=NIGHTLY,
        start_date=START,
        # Unpaused, Airflow runs the last 23:30 slot at once, then every night; older nights are a backfill
        # (`airflow backfill create`) or `welfare run`.
        catchup=False,
        max_active_runs=1,  # nights run one after another, in order
        default_args=DEFAULT_ARGS,
        tags=["welfare", "nightly"],
        params={"extract_date": DROP_DATE_PARAM},
        user_defined_macros={"drop_date_of": drop_date_of},
    )
    def _nightly():
        wait = timedelta(seconds=int(os.environ.get("WELFARE_NIGHT_TIMEOUT_SECONDS", str(10 * 3600))))
        common = dict(trigger_run_id="{{ run_id }}", conf={"extract_date": DROP_DATE}, reset_dag_run=True,
                      wait_for_completion=True, deferrable=True,
                      poke_interval=int(os.environ.get("WELFARE_NIGHT_POKE_SECONDS", "30")),
                      allowed_states=["success"], failed_states=["failed"], retries=0, execution_timeout=wait)
        ingests = [TriggerDagRunOperator(task_id=f"ingest_{s}", trigger_dag_id=f"welfare_ingest_{s}", **common)
                   for s in systems]
        build = TriggerDagRunOperator(task_id="build", trigger_dag_id="welfare_warehouse",
                                      trigger_rule="all_done", **common)
        ingests >> build

        @task(trigger_rule="one_failed", retries=0, execution_timeout=timedelta(minutes=5))
        def night_incomplete() -> None:
            """Fails the night when an ingest or the build failed: the build is all_done and would hide it."""
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException("the night is not whole: an ingest (a drop missing or a file rejected) or "
                                       "the build failed; see the red task above")

        [*ingests, build] >> night_incomplete()

    return _nightly()


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
  `$WELFARE_HOME/airflow/logs/`, and each build's dbt node results under `$WELFARE_HOME/dbt/nodes/`.
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
        doc_md=(doc_md or "") + RETENTION_DOC + alerts.triage_doc(),
        schedule=CronTriggerTimetable("0 4 * * *", timezone=LOCAL_TZ),  # no start_date: from the next 04:00
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
