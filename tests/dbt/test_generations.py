"""The two generations (welfare.warehouse.wap) in dbt's manifest: the layers readers never touch during a
build go to `<layer>_<color>`, what both generations share keeps its one schema, only shared models keep a
history (full_refresh off), and the drill's failing test is off unless asked for."""

from __future__ import annotations

import subprocess

import pytest
from conftest import parse_manifest

LAYERS = ("staging", "intermediate", "marts", "restricted")


@pytest.fixture(scope="module")
def green(tmp_path_factory) -> dict:
    mp = pytest.MonkeyPatch()
    mp.setenv("WELFARE_BUILD_COLOR", "green")
    try:
        return parse_manifest(tmp_path_factory.mktemp("dbt-green"))
    finally:
        mp.undo()


def built(manifest: dict) -> dict[str, dict]:
    return {uid: n for uid, n in manifest["nodes"].items() if n["resource_type"] in ("model", "seed", "snapshot")}


def test_every_layer_goes_to_the_generation_and_the_rest_is_shared(manifest, green):
    for m, color in ((manifest, "blue"), (green, "green")):  # blue when nothing says (dbt parse, the linters)
        for n in built(m).values():
            folder = n["original_file_path"].split("/")
            if n["resource_type"] == "seed":
                assert n["schema"] == "reference", n["name"]
            elif n["resource_type"] == "snapshot":
                assert n["schema"] == "snapshots", n["name"]
            elif n["name"] == "int_person_register_measurements":
                assert n["schema"] == "history"
            else:
                assert folder[1] in LAYERS and n["schema"] == f"{folder[1]}_{color}", (n["name"], n["schema"])


def test_only_a_shared_model_keeps_a_history(manifest):
    """A model never fully refreshed must not alternate between the generations: each would hold half of it."""
    kept = {n["name"]: n["schema"] for n in built(manifest).values()
            if n["resource_type"] == "model" and n["config"].get("full_refresh") is False}
    assert kept == {"int_person_register_measurements": "history"}


def test_no_view_reads_a_seed_that_a_build_drops(manifest):
    """A seed full-refreshed (dropped with cascade) would take the published generation's views over it along."""
    nodes = manifest["nodes"]
    dropped = {uid for uid, n in nodes.items() if n["resource_type"] == "seed" and n["config"].get("full_refresh") is not False}
    views = sorted(n["name"] for n in nodes.values() if n["resource_type"] == "model"
                   and n["config"].get("materialized") == "view" and set(n["depends_on"]["nodes"]) & dropped)
    assert not views, views


def test_the_drill_test_is_off_unless_its_var_is_set(manifest):
    def drill(m: dict) -> list[str]:
        return [n["name"] for n in m["nodes"].values() if n["resource_type"] == "test" and "wap_drill" in n["name"]]

    assert drill(manifest) == []
    assert "wap_drill_fails_the_build" in [n["name"] for ns in manifest["disabled"].values() for n in ns]


def test_an_unknown_generation_is_refused(tmp_path):
    mp = pytest.MonkeyPatch()
    mp.setenv("WELFARE_BUILD_COLOR", "purple")
    try:
        with pytest.raises(subprocess.CalledProcessError):
            parse_manifest(tmp_path)
    finally:
        mp.undo()
