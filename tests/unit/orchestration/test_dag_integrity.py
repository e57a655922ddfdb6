"""Every DAG imports cleanly, is documented, tagged, owned and retried, and parses light."""

import subprocess
import sys

import pytest
from welfare.settings import DAGS_DIR


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory):
    import os

    home = tmp_path_factory.mktemp("airflow_home")
    os.environ.setdefault("AIRFLOW_HOME", str(home))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{home}/airflow.db")
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == {"welfare_ingest_msdhs", "welfare_ingest_cdd", "welfare_ingest_lao",
                                   "welfare_warehouse", "welfare_retention", "welfare_nightly"}


def test_tags_owner_retries_docs(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, dag_id
        assert dag.doc_md and "If you are paged" in dag.doc_md, dag_id
        assert dag.max_active_runs == 1, dag_id
        for t in dag.tasks:
            assert t.owner and t.owner != "airflow", (dag_id, t.task_id)
        for t in dag.tasks:
            # every task is bounded in time and alerts when it fails
            assert t.execution_timeout is not None, (dag_id, t.task_id)
            assert t.on_failure_callback, (dag_id, t.task_id)
        loads = [t for t in dag.tasks if t.task_id.startswith("load_") or t.task_id in ("dbt_build", "purge")]
        if dag_id != "welfare_nightly":
            assert loads, dag_id
        for t in loads:
            assert t.retries >= 2, (dag_id, t.task_id)


def test_every_extract_has_a_load_task_with_its_asset(dagbag):
    from welfare import contract

    for system, sys_def in contract.systems().items():
        dag = dagbag.dags[f"welfare_ingest_{system}"]
        for name in sys_def.extracts:
            task = dag.get_task(f"load_{name}")
            assert [o.name for o in task.outlets] == [f"welfare.raw.{system}__{name}"]
        # a failed load must fail the run even though the report task runs regardless
        assert dag.get_task("watcher").trigger_rule == "one_failed"


def test_loads_are_bounded_in_time_and_a_shrunken_snapshot_can_be_accepted_at_trigger(dagbag):
    from datetime import timedelta

    from welfare import contract
    from welfare.orchestration.tasks import LOAD_TIMEOUT_SECONDS

    for system, sys_def in contract.systems().items():
        dag = dagbag.dags[f"welfare_ingest_{system}"]
        for name in sys_def.extracts:
            assert dag.get_task(f"load_{name}").execution_timeout == timedelta(seconds=LOAD_TIMEOUT_SECONDS)
        param = dag.params.get_param("accept_snapshot_shrink")
        assert param.value == [] and param.schema["items"]["enum"] == list(sys_def.extracts)


def test_dag_files_import_nothing_heavy():
    code = (
        "import sys, runpy, glob\n"
        f"for f in sorted(glob.glob('{DAGS_DIR}/*.py')): runpy.run_path(f)\n"
        "heavy = [m for m in ('great_expectations', 'pandas', 'dbt', 'psycopg2', 'sqlalchemy.orm.session_fake')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    heavy = [m for m in out.stdout.strip().split(",") if m]
    assert not [m for m in heavy if m in ("great_expectations", "dbt", "psycopg2")], heavy


def test_the_night_is_one_chain_with_one_build_after_the_three_ingests(dagbag):
    from welfare import contract

    nightly = dagbag.dags["welfare_nightly"]
    assert nightly.timetable.expression == "30 23 * * *" and str(nightly.timetable.timezone) == "Asia/Bangkok"
    assert not nightly.catchup  # older nights are an explicit backfill
    build = nightly.get_task("build")
    assert build.trigger_dag_id == "welfare_warehouse" and build.trigger_rule == "all_done"
    ingests = {f"ingest_{s}" for s in contract.systems()}
    assert build.upstream_task_ids == ingests
    for task_id in ingests | {"build"}:
        t = nightly.get_task(task_id)
        assert t.deferrable and t.wait_for_completion and t.reset_dag_run, task_id  # waits without a worker
    # the ingests and the build run only when the night (or an operator) triggers them: never once per extract
    for dag_id in ("welfare_warehouse", *(f"welfare_ingest_{s}" for s in contract.systems())):
        assert not dagbag.dags[dag_id].timetable.can_be_scheduled, dag_id
    assert nightly.deadline, "the night must be done by its deadline"


def test_the_drop_is_awaited_by_a_deferrable_sensor_and_the_date_is_a_validated_param(dagbag):
    from airflow.sdk.exceptions import ParamValidationError
    from welfare import contract
    from welfare.orchestration.sensors import DropSensor, DropTrigger

    for system in contract.systems():
        dag = dagbag.dags[f"welfare_ingest_{system}"]
        sensor = dag.get_task("wait_for_drop")
        # retried only for Airflow's resume race: a missing drop fails at once (AirflowFailException)
        assert isinstance(sensor, DropSensor) and sensor.retries == 2
        param = dag.params.get_param("extract_date")
        assert param.schema["format"] == "date"
        with pytest.raises(ParamValidationError):
            param.resolve("31/12/2024")
        assert param.resolve("2024-12-31") == "2024-12-31"
    classpath, kwargs = DropTrigger("/s", "lao", "2024-12-31", deadline=5.0, started=1.0).serialize()
    assert classpath == "welfare.orchestration.sensors.DropTrigger" and kwargs["system"] == "lao"


def test_the_warehouse_publishes_only_after_the_build_and_documents_after_publishing(dagbag):
    dag = dagbag.dags["welfare_warehouse"]
    assert dag.get_task("publish").upstream_task_ids == {"dbt_build"}
    assert dag.get_task("dbt_docs").upstream_task_ids == {"publish"}
    assert [o.name for o in dag.get_task("publish").outlets] == ["welfare.marts.published"]
