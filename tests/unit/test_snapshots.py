"""Every snapshot-kind extract of the contract has its dbt snapshot (SCD type 2): from its current-state staging
view, keyed by the contract's key, check strategy on columns that leave out the load metadata, and a key deleted
at the source closes its validity window."""

import pytest
import yaml
from welfare import contract, settings

SNAPSHOTS = settings.DBT_PROJECT_DIR / "snapshots"
SNAPSHOT_EXTRACTS = [ext for sysdef in contract.systems().values() for ext in sysdef.extracts.values()
                     if ext.kind == "snapshot"]
LOAD_METADATA = {"extracted_on", "load_id", "is_stale"}


def declared() -> dict[str, dict]:
    out = {}
    for path in SNAPSHOTS.glob("*.yml"):
        for snap in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("snapshots") or []:
            out[snap["name"]] = snap
    return out


def test_only_snapshot_kind_extracts_have_snapshots():
    assert len(SNAPSHOT_EXTRACTS) == 16
    assert set(declared()) == {f"snp_{e.system}__{e.name}" for e in SNAPSHOT_EXTRACTS}


@pytest.mark.parametrize("ext", SNAPSHOT_EXTRACTS, ids=lambda e: e.qualified_name)
def test_snapshot_follows_the_contract(ext):
    snap = declared()[f"snp_{ext.system}__{ext.name}"]
    assert snap["relation"] == f"ref('stg_{ext.system}__{ext.name}')"
    cfg = snap["config"]
    key = cfg["unique_key"] if isinstance(cfg["unique_key"], list) else [cfg["unique_key"]]
    assert key == list(ext.key)
    assert cfg["strategy"] == "check" and cfg["hard_deletes"] in ("invalidate", "new_record")
    cols = set(cfg["check_cols"])
    assert set(ext.key) <= cols and not cols & LOAD_METADATA
