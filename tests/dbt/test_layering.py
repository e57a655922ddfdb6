"""dbt flows one way, read from the manifest `dbt parse` writes: staging is the only layer that
reads sources, intermediate models never read a mart or a restricted model, and every model is
documented in its YAML."""

from __future__ import annotations

import pytest

LAYERS = ("staging", "intermediate", "marts", "restricted")


def layer(node: dict) -> str:
    """The layer of a model: the first folder under models/ (staging, intermediate, marts, restricted)."""
    parts = node["original_file_path"].split("/")
    assert parts[0] == "models" and parts[1] in LAYERS, node["original_file_path"]
    return parts[1]


@pytest.fixture(scope="module")
def models(manifest) -> dict[str, dict]:
    return {uid: n for uid, n in manifest["nodes"].items() if n["resource_type"] == "model"}


def test_the_project_has_every_layer(models):
    assert {layer(n) for n in models.values()} == set(LAYERS)


def test_no_intermediate_model_reads_a_mart_or_a_restricted_model(models):
    wrong = sorted(
        f"{n['name']} reads {models[dep]['name']}"
        for n in models.values() if layer(n) == "intermediate"
        for dep in n["depends_on"]["nodes"] if dep in models and layer(models[dep]) in ("marts", "restricted")
    )
    assert not wrong, wrong


def test_only_staging_reads_sources(manifest, models):
    nodes = [n for n in manifest["nodes"].values() if n["resource_type"] in ("model", "snapshot")]
    wrong = sorted(
        f"{n['name']} reads {dep}"
        for n in nodes if n["resource_type"] == "snapshot" or layer(n) != "staging"
        for dep in n["depends_on"]["nodes"] if dep.startswith("source.")
    )
    assert not wrong, wrong


def test_staging_reads_nothing_but_sources(models):
    wrong = sorted(f"{n['name']} reads {dep}" for n in models.values() if layer(n) == "staging"
                   for dep in n["depends_on"]["nodes"] if not dep.startswith("source."))
    assert not wrong, wrong


def test_every_model_is_described_in_its_yaml(models):
    undocumented = sorted(n["name"] for n in models.values() if not n.get("patch_path") or not n["description"].strip())
    assert not undocumented, undocumented
