"""Every extract of the contract has its staging view, built on current_state with the contract's kind and key,
and documented with at least one data test."""

import re

import pytest
import yaml
from welfare import contract, settings

STAGING = settings.DBT_PROJECT_DIR / "models" / "staging"
EXTRACTS = [ext for sysdef in contract.systems().values() for ext in sysdef.extracts.values()]
CURRENT_STATE = re.compile(
    r"current_state\(\s*'(?P<system>\w+)'\s*,\s*'(?P<extract>\w+)'\s*,\s*\[(?P<key>[^\]]*)\]\s*,\s*'(?P<kind>\w+)'\s*\)"
)


def model_path(ext):
    return STAGING / ext.system / f"stg_{ext.system}__{ext.name}.sql"


def documented_models(system: str) -> dict[str, dict]:
    path = STAGING / system / f"_{system}__models.yml"
    if not path.exists():
        return {}
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {m["name"]: m for m in doc.get("models") or []}


def data_tests(model: dict) -> list:
    tests = list(model.get("data_tests") or [])
    for col in model.get("columns") or []:
        tests += col.get("data_tests") or []
    return tests


def test_every_extract_is_covered():
    assert len(EXTRACTS) == 20


@pytest.mark.parametrize("ext", EXTRACTS, ids=lambda e: e.qualified_name)
def test_staging_model_takes_current_state_with_the_contract_kind_and_key(ext):
    path = model_path(ext)
    assert path.is_file(), f"missing staging model {path.relative_to(settings.PROJECT_ROOT)}"
    calls = list(CURRENT_STATE.finditer(path.read_text(encoding="utf-8")))
    assert len(calls) == 1, f"{path.name}: expected exactly one current_state(...) call, found {len(calls)}"
    call = calls[0]
    assert (call["system"], call["extract"]) == (ext.system, ext.name)
    assert call["kind"] == ext.kind
    key = [k.strip().strip("'\"") for k in call["key"].split(",") if k.strip()]
    assert key == list(ext.key)


# The largest extracts (70 million rows at full scale) are not scanned again by dbt tests: every row was
# checked at ingest, and the facts built on them have primary keys. Each says so in its meta.
CHECKED_AT_INGEST = {"cdd__bmn_indicators": "fct_bmn_indicator_results", "cdd__bmn_members": "fct_bmn_members",
                     "lao__allowance_payments": "int_allowance_payments_flagged"}


def checked_at_ingest(ext, model: dict) -> bool:
    meta = (model.get("config") or {}).get("meta") or {}
    fact = CHECKED_AT_INGEST.get(f"{ext.system}__{ext.name}")
    if fact is None:
        return False
    assert meta.get("tested_at") == "ingest" and fact in meta.get("key_enforced_by", ""), meta
    return True


@pytest.mark.parametrize("ext", EXTRACTS, ids=lambda e: e.qualified_name)
def test_staging_model_is_documented_and_tested(ext):
    name = f"stg_{ext.system}__{ext.name}"
    models = documented_models(ext.system)
    assert name in models, f"{name} is not in _{ext.system}__models.yml"
    assert models[name].get("description"), f"{name} has no description"
    assert data_tests(models[name]) or checked_at_ingest(ext, models[name]), f"{name} has no data test"


@pytest.mark.parametrize("ext", EXTRACTS, ids=lambda e: e.qualified_name)
def test_staging_model_key_is_tested_unique(ext):
    model = documented_models(ext.system).get(f"stg_{ext.system}__{ext.name}", {})
    if checked_at_ingest(ext, model):
        return
    if len(ext.key) == 1:
        cols = {c["name"]: c.get("data_tests") or [] for c in model.get("columns") or []}
        assert "unique" in cols.get(ext.key[0], []), f"{ext.qualified_name}: no unique test on {ext.key[0]}"
    else:
        combos = [t["unique_combination_of_columns"]["arguments"]["columns"] for t in model.get("data_tests") or []
                  if isinstance(t, dict) and "unique_combination_of_columns" in t]
        assert list(ext.key) in combos, f"{ext.qualified_name}: no unique_combination_of_columns on {list(ext.key)}"
