"""Every snapshot-kind extract of the contract has its dbt snapshot (SCD type 2): from its current-state staging
view, keyed by the contract's key, check strategy on columns that leave out the load metadata, and a key deleted
at the source closes its validity window: dbt's hard_deletes, or, for the survey snapshots that read only new
deliveries, the close_deleted_keys pre-hook. Read from the manifest `dbt parse` writes, so YAML- and SQL-defined
snapshots are checked alike."""

import pytest
from welfare import contract

SNAPSHOT_EXTRACTS = [ext for sysdef in contract.systems().values() for ext in sysdef.extracts.values()
                     if ext.kind == "snapshot"]
LOAD_METADATA = {"extracted_on", "load_id", "is_stale"}


@pytest.fixture(scope="module")
def snapshots(manifest) -> dict[str, dict]:
    return {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "snapshot"}


def test_only_snapshot_kind_extracts_have_snapshots(snapshots):
    assert len(SNAPSHOT_EXTRACTS) == 16
    assert set(snapshots) == {f"snp_{e.system}__{e.name}" for e in SNAPSHOT_EXTRACTS}


@pytest.mark.parametrize("ext", SNAPSHOT_EXTRACTS, ids=lambda e: e.qualified_name)
def test_snapshot_follows_the_contract(ext, snapshots):
    snap = snapshots[f"snp_{ext.system}__{ext.name}"]
    assert snap["depends_on"]["nodes"] == [f"model.welfare.stg_{ext.system}__{ext.name}"]
    cfg = snap["config"]
    key = cfg["unique_key"] if isinstance(cfg["unique_key"], list) else [cfg["unique_key"]]
    assert key == list(ext.key)
    assert cfg["strategy"] == "check"
    cols = set(cfg["check_cols"])
    assert set(ext.key) <= cols and not cols & LOAD_METADATA
    if cfg["hard_deletes"] == "ignore":  # reads new deliveries only: the pre-hook closes deleted keys
        hooks = " ".join(h["sql"] for h in cfg["pre-hook"])
        assert f"close_deleted_keys('{ext.system}', '{ext.name}', ref('stg_{ext.system}__{ext.name}')" in hooks
        assert f"newer_deliveries('{ext.system}', '{ext.name}', this)" in snap["raw_code"]
    else:
        assert cfg["hard_deletes"] in ("invalidate", "new_record")
