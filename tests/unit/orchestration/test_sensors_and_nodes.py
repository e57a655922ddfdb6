"""The drop trigger (what the triggerer runs while an ingest waits) and the dbt node mirrors, run for real:
the trigger's async loop over a real folder, dbt's JSON log lines through the recorder, the node
trigger over the files the recorder writes."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import pytest
from airflow.triggers.base import TaskFailedEvent, TaskSkippedEvent, TaskSuccessEvent
from welfare.orchestration import dbt_nodes, sensors
from welfare.orchestration.sensors import DropTrigger


def first_event(trigger, timeout_s: float = 20.0):
    async def go():
        async for event in trigger.run():
            return event

    return asyncio.run(asyncio.wait_for(go(), timeout_s))


def test_the_trigger_waits_until_the_manifest_arrives(tmp_path):
    folder = tmp_path / "lao" / "2024-12-31"
    folder.mkdir(parents=True)

    def deliver():
        time.sleep(0.6)
        (folder / "_manifest.json").write_text("{}")

    threading.Thread(target=deliver).start()
    t0 = time.monotonic()
    now = time.time()
    event = first_event(DropTrigger(str(tmp_path), "lao", "2024-12-31", deadline=now + 30, started=now, poke_s=0.1))
    assert event.payload["status"] == "complete" and event.payload["folder"] == str(folder)
    assert time.monotonic() - t0 >= 0.5  # it waited for the drop, it did not answer at once


def test_the_trigger_times_out_naming_the_system_and_the_date(tmp_path):
    now = time.time()
    event = first_event(DropTrigger(str(tmp_path), "cdd", "2024-12-31", deadline=now + 0.3, started=now, poke_s=0.1))
    assert event.payload["status"] == "timeout"
    message = sensors.failure_message(event.payload)
    assert "no complete cdd drop for 2024-12-31" in message
    assert str(tmp_path / "cdd" / "2024-12-31" / "_manifest.json") in message
    # the sensor's retries never extend the wait: the timeout fails the task for good
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match="no complete cdd drop"):
        sensors.DropSensor(task_id="wait_for_drop", system="cdd", retries=2).execute_complete({}, event.payload)


def test_a_misnamed_drop_ends_the_wait_at_once(tmp_path):
    (tmp_path / "msdhs" / "20241231").mkdir(parents=True)
    (tmp_path / "msdhs" / "20241231" / "_manifest.json").write_text("{}")
    now = time.time()
    event = first_event(DropTrigger(str(tmp_path), "msdhs", "2024-12-31", deadline=now + 30, started=now, poke_s=0.1))
    assert event.payload["status"] == "misnamed"
    assert "arrived as msdhs/20241231/" in sensors.failure_message(event.payload)


def test_the_wait_is_configured_by_a_whole_number_of_seconds(monkeypatch):
    monkeypatch.setenv("WELFARE_DROP_WAIT_SECONDS", "90")
    assert sensors.drop_wait_seconds() == 90
    monkeypatch.setenv("WELFARE_DROP_WAIT_SECONDS", "1h")
    with pytest.raises(ValueError, match="WELFARE_DROP_WAIT_SECONDS"):
        sensors.drop_wait_seconds()


MANIFEST = {
    "metadata": {"project_name": "welfare"},
    "nodes": {
        "seed.welfare.areas": {"resource_type": "seed", "name": "areas", "package_name": "welfare", "depends_on": {}},
        "model.welfare.stg_a": {"resource_type": "model", "name": "stg_a", "package_name": "welfare",
                                "depends_on": {"nodes": ["seed.welfare.areas", "source.welfare.raw.a"]}},
        "model.welfare.kpi": {"resource_type": "model", "name": "kpi", "package_name": "welfare",
                              "depends_on": {"nodes": ["model.welfare.stg_a"]}},
        "test.welfare.unique_kpi_id": {"resource_type": "test", "name": "unique_kpi_id", "package_name": "welfare",
                                       "attached_node": "model.welfare.kpi",
                                       "depends_on": {"nodes": ["model.welfare.kpi"]}},
        "test.welfare.both": {"resource_type": "test", "name": "both", "package_name": "welfare",
                              "attached_node": None,
                              "depends_on": {"nodes": ["model.welfare.stg_a", "model.welfare.kpi"]}},
    },
}


def test_the_node_list_mirrors_dbt_s_graph_with_each_test_on_one_node():
    nodes = {n["unique_id"]: n for n in dbt_nodes.node_list_from_manifest(MANIFEST)}
    assert set(nodes) == {"seed.welfare.areas", "model.welfare.stg_a", "model.welfare.kpi"}
    assert nodes["model.welfare.stg_a"]["upstream"] == ["seed.welfare.areas"]  # a source is not a task
    assert nodes["model.welfare.kpi"]["upstream"] == ["model.welfare.stg_a"]
    assert nodes["model.welfare.kpi"]["tests"] == ["test.welfare.both", "test.welfare.unique_kpi_id"]
    assert nodes["model.welfare.stg_a"]["tests"] == []


def dbt_line(name: str, uid: str, msg: str, status: str | None = None) -> str:
    data = {"node_info": {"unique_id": uid, "node_status": status or "started"}}
    if status:  # a model's own status is the adapter's answer, as dbt-postgres writes it
        data["status"] = "INSERT 0 3014" if name == "LogModelResult" else status
    return json.dumps({"info": {"name": name, "msg": msg}, "data": data})


def test_the_recorder_and_the_node_trigger_end_each_task_as_dbt_ended_its_node(tmp_path, monkeypatch):
    monkeypatch.setenv("WELFARE_HOME", str(tmp_path))
    rec = dbt_nodes.NodeRecorder("manual__2024-12-31")
    for line in (dbt_line("LogStartLine", "model.welfare.kpi", "1 of 3 START sql table model kpi"),
                 dbt_line("LogModelResult", "model.welfare.kpi", "1 of 3 OK created kpi", "success"),
                 dbt_line("LogTestResult", "test.welfare.unique_kpi_id", "2 of 3 FAIL 3 unique_kpi_id", "fail"),
                 dbt_line("LogModelResult", "model.welfare.stg_a", "3 of 3 OK created stg_a", "success")):
        rec.feed(json.loads(line))
    rec.done(1)

    def end_of(uid, tests):
        trigger = dbt_nodes.NodeResultTrigger(uid, tests, run_id="manual__2024-12-31", poke_s=0.05)
        return first_event(trigger)

    assert isinstance(end_of("model.welfare.stg_a", []), TaskSuccessEvent)
    assert isinstance(end_of("model.welfare.kpi", ["test.welfare.unique_kpi_id"]), TaskFailedEvent)  # its test failed
    assert isinstance(end_of("seed.welfare.areas", []), TaskSkippedEvent)  # dbt never ran it
    kept = json.loads((dbt_nodes.results_dir("manual__2024-12-31") / "model.welfare.kpi.json").read_text())
    assert kept["status"] == "success" and kept["lines"] == ["1 of 3 START sql table model kpi",
                                                             "1 of 3 OK created kpi"]


def test_a_node_still_running_keeps_its_task_waiting(tmp_path, monkeypatch):
    monkeypatch.setenv("WELFARE_HOME", str(tmp_path))
    dbt_nodes.NodeRecorder("r1")  # the build started; nothing finished yet
    assert dbt_nodes.outcome("model.welfare.kpi", [], {}, finished=False) is None
    trigger = dbt_nodes.NodeResultTrigger("model.welfare.kpi", [], run_id="r1", poke_s=0.05)
    with pytest.raises(asyncio.TimeoutError):
        first_event(trigger, timeout_s=0.5)


def test_stream_dbt_passes_each_line_on_as_it_comes(tmp_path, monkeypatch):
    """A stand-in for dbt (a script printing JSON lines with pauses): each line reaches the log before the
    process has finished, and the node results are written."""
    monkeypatch.setenv("WELFARE_HOME", str(tmp_path))
    import sys

    script = tmp_path / "fake_dbt"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys, time\n"
        "assert sys.argv[1:3] == ['--log-format', 'json']\n"
        f"print({dbt_line('LogModelResult', 'model.welfare.kpi', 'OK created kpi', 'success')!r}, flush=True)\n"
        "time.sleep(1.0)\n"
        "print('not json', flush=True)\n")
    script.chmod(0o700)
    seen: list[tuple[float, str]] = []
    t0 = time.monotonic()
    rc = dbt_nodes.stream_dbt([str(script)], env={"PATH": "/usr/bin"}, cwd=tmp_path, run_key="r2",
                              echo=lambda s: seen.append((time.monotonic() - t0, s)))
    assert rc == 0
    assert [s for _, s in seen] == ["OK created kpi", "not json"]
    assert seen[0][0] < 0.9 <= seen[1][0]  # the first line came a second before the process ended
    assert (Path(dbt_nodes.results_dir("r2")) / "_done.json").exists()
