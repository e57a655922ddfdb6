"""The gate before a publish (welfare.warehouse.wap.judge), on dbt artifacts written here: exit 0 and a
`dbt build` of this very build in which every node passed (warn passes), every model of the generation
was built and every test of what was built ran."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from welfare.warehouse import wap

BUILD = "build-20210928T163000Z-abc123"


def node(uid: str, schema: str, kind: str = "model", depends: tuple[str, ...] = (), alias: str | None = None) -> dict:
    return {"unique_id": uid, "resource_type": kind, "schema": schema, "name": uid.rsplit(".", 1)[1],
            "alias": alias or uid.rsplit(".", 1)[1], "config": {"materialized": "table"},
            "depends_on": {"nodes": list(depends)}}


NODES = [
    node("model.welfare.stg_a", "staging_green"),
    node("model.welfare.kpi_values", "marts_green", depends=("model.welfare.stg_a",)),
    node("model.welfare.person_register", "restricted_green", depends=("model.welfare.stg_a",)),
    node("model.welfare.int_history", "history"),
    node("seed.welfare.areas", "reference", kind="seed"),
    node("test.welfare.unique_kpi_values", "dbt_test__audit", kind="test", depends=("model.welfare.kpi_values",)),
    node("test.welfare.history_ok", "dbt_test__audit", kind="test", depends=("model.welfare.int_history",)),
]


def artifacts(tmp_path: Path, statuses: dict[str, str], which: str = "build", build_id: str = BUILD,
              invocation: str = "inv-1", skip: tuple[str, ...] = ()) -> Path:
    manifest = {"metadata": {"invocation_id": "inv-1"}, "nodes": {n["unique_id"]: n for n in NODES},
                "unit_tests": {"unit_test.welfare.kpi_values.edge": {"depends_on": {"nodes": ["model.welfare.kpi_values"]}}}}
    results = [{"unique_id": uid, "status": st, "message": f"{st} message\nsecond line"} for uid, st in statuses.items()]
    run = {"metadata": {"invocation_id": invocation, "env": {"WELFARE_BUILD_ID": build_id}},
           "args": {"which": which}, "elapsed_time": 12.5, "results": results}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    (tmp_path / "run_results.json").write_text(json.dumps(run))
    return tmp_path


ALL_PASS = {"model.welfare.stg_a": "success", "model.welfare.kpi_values": "success",
            "model.welfare.person_register": "success", "model.welfare.int_history": "success",
            "seed.welfare.areas": "success", "test.welfare.unique_kpi_values": "pass",
            "test.welfare.history_ok": "warn", "unit_test.welfare.kpi_values.edge": "pass"}


def test_a_whole_build_that_passed_opens_the_gate_and_names_the_readers_relations(tmp_path):
    v = wap.judge(artifacts(tmp_path, ALL_PASS), BUILD, "green")
    assert v.failures == [] and v.invocation_id == "inv-1"
    assert v.relations == ["marts.kpi_values", "restricted.person_register"]
    assert v.statuses == {"success": 5, "pass": 2, "warn": 1}


@pytest.mark.parametrize(("status", "named"), [("fail", "fail"), ("error", "error"), ("runtime error", "runtime error")])
def test_a_failing_node_shuts_the_gate_and_is_named(tmp_path, status, named):
    v = wap.judge(artifacts(tmp_path, {**ALL_PASS, "test.welfare.unique_kpi_values": status}), BUILD, "green")
    assert v.failures == [f"test.welfare.unique_kpi_values ({named}: {status} message)"]


def test_skipped_nodes_shut_the_gate(tmp_path):
    v = wap.judge(artifacts(tmp_path, {**ALL_PASS, "model.welfare.person_register": "skipped"}), BUILD, "green")
    assert v.failures and "1 node(s) skipped (model.welfare.person_register)" in v.failures[0]


def test_another_invocations_results_or_a_run_that_is_not_a_build_shut_it(tmp_path):
    assert "not this build's" in wap.judge(artifacts(tmp_path, ALL_PASS, build_id="other"), BUILD, "green").failures[0]
    assert "not `dbt build`" in wap.judge(artifacts(tmp_path, ALL_PASS, which="run"), BUILD, "green").failures[0]
    assert "different dbt invocations" in wap.judge(artifacts(tmp_path, ALL_PASS, invocation="inv-2"), BUILD,
                                                    "green").failures[0]
    assert "left no run_results.json" in wap.judge(tmp_path / "nothing", BUILD, "green").failures[0]


def test_a_selection_that_leaves_a_model_of_the_generation_or_its_tests_out_shuts_it(tmp_path):
    partial = {k: v for k, v in ALL_PASS.items() if k != "model.welfare.person_register"}
    v = wap.judge(artifacts(tmp_path, partial), BUILD, "green")
    assert v.failures == ["1 model(s) of the green generation were not built by this build (a selection leaves them "
                          "as an earlier build left them): model.welfare.person_register"]
    untested = {k: v for k, v in ALL_PASS.items() if not k.startswith(("test.", "unit_test."))}
    v = wap.judge(artifacts(tmp_path, untested), BUILD, "green")
    assert "3 test(s) of what was built did not run" in v.failures[0]


def test_shared_models_left_out_with_their_tests_do_not_shut_it(tmp_path):
    """The key rotation rebuilds everything but the shared run history of S1.1."""
    rotation = {k: v for k, v in ALL_PASS.items() if k not in ("model.welfare.int_history", "test.welfare.history_ok")}
    assert wap.judge(artifacts(tmp_path, rotation), BUILD, "green").failures == []


def test_a_non_zero_exit_shuts_it_even_when_every_result_passed(tmp_path):
    v = wap.judge(artifacts(tmp_path, ALL_PASS), BUILD, "green", RuntimeError("`dbt build` failed (exit 2)"))
    assert v.failures == ["dbt exited non-zero: `dbt build` failed (exit 2)"]
