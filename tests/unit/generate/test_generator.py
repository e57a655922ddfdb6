"""The synthetic source systems: deterministic, contract-exact, calibrated, honest about what they plant."""

from __future__ import annotations

import ast
import hashlib
import json
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import pytest
import welfare.generate
from contract_reader import parse_date, read_extract, violations
from welfare import contract
from welfare.generate import GenerateOptions, generate
from welfare.generate.defects import DEFAULT_RATES, FILE_DEFECT_RULES
from welfare.generate.drops import parse_drops

DROPS, RESENDS = parse_drops("2021-09-27,2021-09-28,2021-09-29,2021-09-30=2021-09-29")
SCALE = 0.004
ALL_EXTRACTS = [(s, e) for s, sysdef in contract.systems().items() for e in sysdef.extracts]


def tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def make(out: Path, seed: int = 11, defects: str = "none") -> Path:
    generate(GenerateOptions(out=out, scale=SCALE, seed=seed, drops=DROPS, resends=RESENDS, defects=defects))
    return out


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    return make(tmp_path_factory.mktemp("clean"))


@pytest.fixture(scope="module")
def defective(tmp_path_factory) -> Path:
    # every defect on, at rates high enough that each lands at this small scale
    rates = {**DEFAULT_RATES, "national_id": 0.01, "be_year": 0.01, "date_invalid": 0.01, "area_code": 0.01,
             "required": 0.01, "enum": 0.01, "negative_amount": 0.01, "duplicate_key": 0.005,
             "duplicate_payment": 0.002, "underage_elderly": 0.05, "source_conflict": 0.02}
    return make(tmp_path_factory.mktemp("defective"), defects=",".join(f"{k}={v}" for k, v in rates.items()))


def manifests(root: Path):
    for m in sorted(root.glob("*/*/_manifest.json")):
        yield m.parent.parent.name, m.parent.name, json.loads(m.read_text(encoding="utf-8"))


def test_same_seed_same_bytes_other_seed_differs(tmp_path, clean):
    assert tree_digest(make(tmp_path / "again")) == tree_digest(clean)
    assert tree_digest(make(tmp_path / "other", seed=12)) != tree_digest(clean)


def test_a_clean_province_follows_the_contract_file_by_file(clean):
    names = {e.file: (s, n) for s, sysdef in contract.systems().items() for n, e in sysdef.extracts.items()}
    seen = set()
    for system, day, manifest in manifests(clean):
        # a re-send's manifest is the drop's it repeats, its extract_date too (sources.yml)
        assert manifest["system"] == system and manifest["extract_date"] == RESENDS.get(
            date.fromisoformat(day), date.fromisoformat(day)).isoformat()
        folder = clean / system / day
        on_disk = {p.name for p in folder.iterdir() if p.name != "_manifest.json"}
        assert on_disk == {f["name"] for f in manifest["files"]}, f"{folder}: files and manifest disagree"
        for f in manifest["files"]:
            path = folder / f["name"]
            assert hashlib.sha256(path.read_bytes()).hexdigest() == f["sha256"]
            sys_name, ext_name = names[f["name"]]
            assert sys_name == system
            ext = contract.extract(system, ext_name)
            if ext.encoding == "utf-8-sig":
                assert path.read_bytes().startswith(b"\xef\xbb\xbf"), f"{path}: no BOM"
            rows = read_extract(system, ext_name, path)  # decodes with the contract's encoding
            assert len(rows) == f["rows"], f"{path}: manifest rows"
            assert violations(system, ext_name, rows) == {}, f"{path}: a clean province breaks no rule"
            if ext.format == "jsonl":
                assert all(set(r) == set(ext.column_names) for r in rows)
            seen.add((system, ext_name))
    assert seen == set(ALL_EXTRACTS), "every extract of all three systems is delivered"


def test_dates_are_buddhist_era_where_the_contract_says(clean):
    rows = read_extract("msdhs", "target_persons", clean / "msdhs/2021-09-27/target_persons.csv")
    births = [parse_date(contract.extract("msdhs", "target_persons"), r["birth_date"]) for r in rows]
    assert all(date(1900, 1, 1) < b < date(2021, 9, 27) for b in births)
    assert all(r["registered_on"][-4:] >= "2551" for r in rows)
    pay = read_extract("lao", "allowance_payments", clean / "lao/2021-09-27/allowance_payments.jsonl")
    assert all(date.fromisoformat(p["paid_on"]) < date(2021, 9, 27) for p in pay)


def test_nightly_drops_behave_like_real_source_systems(clean):
    d = [x.isoformat() for x in DROPS]
    # a re-send is byte for byte the earlier drop
    for system in contract.systems():
        a, b = clean / system / d[2], clean / system / d[3]
        for p in a.iterdir():
            assert (b / p.name).read_bytes() == p.read_bytes()  # the manifest too
    # the BMN survey comes with the first drop only; the third drop omits one extract a system
    assert (clean / "cdd" / d[0] / "bmn_indicators.csv").exists()
    assert not (clean / "cdd" / d[1] / "bmn_indicators.csv").exists()
    assert not (clean / "msdhs" / d[2] / "media_works.csv").exists()
    assert not (clean / "lao" / d[2] / "budgets.jsonl").exists()
    # snapshots: keys deleted at the source disappear from the next night's file
    tp = [{r["national_id"] for r in read_extract("msdhs", "target_persons", clean / "msdhs" / x / "target_persons.csv")}
          for x in d[:2]]
    assert tp[0] - tp[1], "some target persons are deleted at the source between nights"
    orgs = [{r["org_id"]: r for r in read_extract("msdhs", "organizations", clean / "msdhs" / x / "organizations.csv")}
            for x in d[:2]]
    assert any(orgs[1][k]["certification_revoked_on"] and not orgs[0][k]["certification_revoked_on"]
               for k in orgs[0].keys() & orgs[1].keys()), "an organisation loses its certification overnight"
    # increments: new records each night, and corrections re-sending an earlier key with new values
    first = {p["payment_id"]: p
             for p in read_extract("lao", "allowance_payments", clean / "lao" / d[0] / "allowance_payments.jsonl")}
    later = [p for x in d[1:3] for p in read_extract("lao", "allowance_payments", clean / "lao" / x / "allowance_payments.jsonl")]
    assert any(p["payment_id"] not in first for p in later)
    corrected = [p for p in later if p["payment_id"] in first]
    assert corrected and all(p["amount"] != first[p["payment_id"]]["amount"] for p in corrected)


def test_proportions_of_the_province_hold_at_small_scale(clean):
    d0 = clean / "cdd/2021-09-27"
    members = [r for r in read_extract("cdd", "bmn_members", d0 / "bmn_members.csv") if r["survey_year"] == "2564"]
    ext = contract.extract("cdd", "bmn_members")
    ref = date(2021, 9, 30)
    ages = [(ref - parse_date(ext, r["birth_date"])).days / 365.25 for r in members]
    assert 0.20 < sum(a >= 60 for a in ages) / len(ages) < 0.27          # 23.6% aged 60 or more
    mueang = sum(r["household_code"].startswith("6001") for r in members) / len(members)
    assert 0.19 < mueang < 0.29                                           # Mueang about 24%
    assert 0.02 < sum(r["disabled"] == "Y" for r in members) / len(members) < 0.045
    households = [r for r in read_extract("cdd", "bmn_households", d0 / "bmn_households.csv") if r["survey_year"] == "2564"]
    poor = sum(float(h["annual_income"]) / int(h["members"]) < 38_000 for h in households) / len(households)
    assert 0.01 < poor < 0.10                                             # a few percent below 38,000 a head
    villages = read_extract("cdd", "villages", d0 / "villages.csv")
    assert 1_400 <= len(villages) <= 1_460                                # the geography stays whole
    laos = read_extract("lao", "authorities", clean / "lao/2021-09-27/authorities.jsonl")
    assert Counter(a["lao_type"] for a in laos) == {"PAO": 1, "CITY_MUNICIPALITY": 1, "TOWN_MUNICIPALITY": 4,
                                                      "SUBDISTRICT_MUNICIPALITY": 16, "SAO": 121}
    served = Counter(s for a in laos if a["lao_type"] != "PAO" for s in a["subdistrict_codes"])
    assert set(served) == set(contract.subdistrict_codes()) and set(served.values()) == {1}


def test_allowances_are_paid_at_the_published_rates(clean):
    births = {r["national_id"]: parse_date(contract.extract("msdhs", "target_persons"), r["birth_date"])
              for r in read_extract("msdhs", "target_persons", clean / "msdhs/2021-09-29/target_persons.csv")}
    latest = {}  # an increment: the latest delivery of a payment wins (corrections put amounts right)
    for day in [x.isoformat() for x in DROPS if x not in RESENDS]:
        for p in read_extract("lao", "allowance_payments", clean / "lao" / day / "allowance_payments.jsonl"):
            latest[p["payment_id"]] = p
    pays = list(latest.values())
    elderly = [p for p in pays if p["allowance_type"] == "ELDERLY"]
    assert elderly
    for p in elderly:
        y, m = map(int, p["period"].split("-"))
        b = births[p["national_id"]]
        age = y - b.year - ((m, 1) < (b.month, b.day))
        want = 1000 if age >= 90 else 800 if age >= 80 else 700 if age >= 70 else 600
        assert float(p["amount"]) == want and age >= 60
        assert date.fromisoformat(p["paid_on"]).strftime("%Y-%m") == p["period"]
    on_time = sum(date.fromisoformat(p["paid_on"]).day <= 10 for p in pays) / len(pays)
    assert on_time > 0.8                                                  # mostly paid by the 10th
    assert {float(p["amount"]) for p in pays if p["allowance_type"] == "DISABILITY"} <= {800.0, 1000.0}


def test_ground_truth_lists_exactly_what_was_planted(defective):
    truth = json.loads((defective / "ground_truth.json").read_text(encoding="utf-8"))
    assert "planted" in truth and not (defective / "msdhs" / "ground_truth.json").exists()
    planted = defaultdict(set)
    whole_files = {}
    for p in truth["planted"]:
        if p["row"] is None:
            whole_files[(p["system"], p["extract_date"], p["file"])] = p["rule"]
        elif not p["rule"].startswith(("improper:", "conflict:")):
            planted[(p["system"], p["extract_date"], p["file"])].add((p["row"], p["rule"]))
    assert set(whole_files.values()) == set(FILE_DEFECT_RULES.values())
    by_defect = Counter(p["defect"] for p in truth["planted"])
    assert set(by_defect) == set(DEFAULT_RATES), f"every defect is planted at least once: {by_defect}"

    names = {e.file: n for sysdef in contract.systems().values() for n, e in sysdef.extracts.items()}
    resent = set(truth["resends"])
    for system, day, manifest in manifests(defective):
        for f in manifest["files"]:
            key = (system, day, f["name"])
            path = defective / system / day / f["name"]
            if day in resent:
                continue
            if key in whole_files:
                rule = whole_files[key]
                if rule == "manifest_sha256":
                    assert hashlib.sha256(path.read_bytes()).hexdigest() != f["sha256"]
                else:
                    with pytest.raises((AssertionError, UnicodeDecodeError)):
                        read_extract(system, names[f["name"]], path)
                continue
            found = violations(system, names[f["name"]], read_extract(system, names[f["name"]], path))
            got = {(row, rule) for row, rules in found.items() for rule in rules}
            assert got == planted.get(key, set()), f"{key}: the rows that break a rule are exactly the planted ones"


def test_improper_payments_in_the_ground_truth_are_the_improper_ones(defective):
    """Paid after death, paid twice, under 60: recomputed from the files and compared row by row."""
    truth = json.loads((defective / "ground_truth.json").read_text(encoding="utf-8"))
    resent = set(truth["resends"])
    tp_ext = contract.extract("msdhs", "target_persons")
    last = max(d for d in truth["drops"] if d not in resent)
    people = {}
    for r in read_extract("msdhs", "target_persons", defective / "msdhs" / last / "target_persons.csv"):
        try:
            people[r["national_id"]] = (parse_date(tp_ext, r["birth_date"]), parse_date(tp_ext, r["died_on"]))
        except ValueError:
            continue
    expected = {(p["extract_date"], p["row"]): p["rule"] for p in truth["planted"] if p["rule"].startswith("improper:")}
    quarantined = {(p["extract_date"], p["row"]) for p in truth["planted"]
                   if p["file"] == "allowance_payments.jsonl" and not p["rule"].startswith("improper:")}
    assert {r.split(":")[1] for r in expected.values()} == {"paid_after_death", "duplicate_payment", "underage_elderly"}
    seen: dict[tuple, tuple] = {}
    found = {}
    for day in sorted(d for d in truth["drops"] if d not in resent):
        for n, p in enumerate(read_extract("lao", "allowance_payments",
                                           defective / "lao" / day / "allowance_payments.jsonl"), start=1):
            if (day, n) in quarantined:
                continue
            y, m = map(int, p["period"].split("-"))
            birth, died = people.get(p["national_id"], (None, None))
            k = (p["national_id"], p["allowance_type"], p["period"])
            if k in seen and seen[k][0] != p["payment_id"]:
                found[(day, n)] = "improper:duplicate_payment"
            elif died and date(y, m, 1) > died:
                found[(day, n)] = "improper:paid_after_death"
            elif (p["allowance_type"] == "ELDERLY" and birth
                  and y - birth.year - ((m, 1) < (birth.month, birth.day)) < 60):
                found[(day, n)] = "improper:underage_elderly"
            seen.setdefault(k, (p["payment_id"], day, n))
    assert found == expected


def test_national_id_columns_come_from_the_contract():
    found = {f"{ext.qualified_name}.{name}" for s in contract.systems().values() for ext in s.extracts.values()
             for name in ext.national_id_columns}
    assert found == {"msdhs__target_persons.national_id", "msdhs__disability_cards.national_id",
                     "msdhs__welfare_services.national_id", "msdhs__volunteers.national_id",
                     "cdd__bmn_households.head_national_id", "cdd__bmn_members.national_id",
                     "lao__allowance_payments.national_id"}


def test_the_generator_shares_nothing_with_the_loader():
    """generate/ imports only the contract, the Thai helpers and its own modules, so one bug cannot hide on both sides."""
    allowed = ("welfare.contract", "welfare.contract.thai", "welfare.generate")
    imported = set()
    for path in Path(welfare.generate.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "welfare":
                imported |= {(path.name, f"welfare.{a.name}") for a in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("welfare."):
                imported.add((path.name, node.module))
            elif isinstance(node, ast.Import):
                imported |= {(path.name, a.name) for a in node.names if a.name.startswith("welfare")}
    assert imported
    assert [(f, m) for f, m in sorted(imported) if not any(m == a or m.startswith(a + ".") for a in allowed)] == []
