"""The project's own copies of the contract stay consistent with each other."""

import yaml
from welfare import contract, settings


def test_contract_has_the_three_systems_and_twenty_extracts():
    systems = contract.systems()
    assert {s: len(v.extracts) for s, v in systems.items()} == {"msdhs": 9, "cdd": 6, "lao": 5}


def test_areas_are_the_15_districts_and_130_subdistricts():
    assert len(contract.district_codes()) == 15
    assert len(contract.subdistrict_codes()) == 130
    assert all(c.startswith("60") for c in contract.subdistrict_codes())


def test_dbt_areas_seed_is_the_contract_copy():
    seed = settings.DBT_PROJECT_DIR / "seeds" / "areas.csv"
    packaged = settings.PROJECT_ROOT / "include" / "welfare" / "contract" / "files" / "areas.csv"
    assert seed.read_bytes() == packaged.read_bytes()


def test_dbt_sources_declare_every_extract_and_column():
    for name, system in contract.systems().items():
        path = settings.DBT_PROJECT_DIR / "models" / "staging" / name / f"_{name}__sources.yml"
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        tables = {t["name"]: t for t in doc["sources"][0]["tables"]}
        assert set(tables) == {f"{name}__{e}" for e in system.extracts}
        for ext in system.extracts.values():
            cols = [c["name"] for c in tables[ext.qualified_name]["columns"]]
            assert set(ext.column_names) <= set(cols), ext.qualified_name


def test_kpi_definitions_cover_every_code_of_kpis_md():
    import csv
    import re

    text = (settings.PROJECT_ROOT / "include" / "welfare" / "contract" / "files" / "kpis.md").read_text(encoding="utf-8")
    codes = set(re.findall(r"^\| (S\d\.\d|G\.\d) \|", text, flags=re.M))
    with open(settings.DBT_PROJECT_DIR / "seeds" / "strategy_indicators.csv", encoding="utf-8") as f:
        rows = {r["kpi_code"]: r for r in csv.DictReader(f)}
    assert set(rows) == codes and len(codes) == 19
    for code, r in rows.items():  # the Thai name is the plan's wording, as kpis.md quotes it
        assert f"| {code} | {r['name_th']} |" in text, code
