"""welfare.validation.suites: GX suites built from the rules, and the rule results they validate.

The database tests need the ``warehouse_url`` fixture (tests/conftest.py): a SQLAlchemy URL of
a live PostgreSQL where ``include/welfare/warehouse/util.sql`` is applied. Every test works in a
schema of its own and drops it afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sql_forms
import sqlalchemy as sa
from welfare import contract
from welfare.validation import suites
from welfare.validation.rules import bool_values, rules_for

PROJECT_ROOT = Path(__file__).resolve().parents[3]
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
ALL_EXTRACTS = [ext for s in contract.systems().values() for ext in s.extracts.values()]
ORGS = contract.extract("msdhs", "organizations")
BMN_INDICATORS = contract.extract("cdd", "bmn_indicators")


# ----------------------------------------------------------------------------- helpers


def national_id(first12: str) -> str:
    """A 13-digit id whose check digit is right."""
    total = sum(int(d) * (13 - i) for i, d in enumerate(first12))
    return first12 + str((11 - total % 11) % 10)


GOOD_NID = national_id("110170012345")
BAD_NID = GOOD_NID[:12] + str((int(GOOD_NID[12]) + 1) % 10)
SUBDISTRICT = contract.subdistrict_codes()[0]


def good_value(ext, col) -> str:
    """A value of ``col`` that breaks no rule (for a row whose other values are good too)."""
    name, kind = col.name, col.type
    if col.is_national_id:
        return GOOD_NID
    special = {
        "subdistrict_code": SUBDISTRICT,
        "district_code": contract.district_codes()[0],
        "village_code": SUBDISTRICT + "01",
        "household_code": "60010101001",
        "lao_code": "6000001",
        "period": "2023-01",
    }
    if name in special:
        return special[name]
    if name == "lao_type":  # a PAO row must have an empty district_code
        return next(str(v) for v in col.values if v != "PAO")
    if kind == "int":
        return "1"
    if kind == "decimal":
        return "100.50"
    if kind == "bool":
        return bool_values(ext)[0]
    if kind == "date":
        return "15/06/2565" if ext.dates == "be" else "2022-06-15"
    if kind == "enum" and col.values:
        return str(col.values[0])
    if kind == "list":
        allowed = col.values or contract.subdistrict_codes()
        return (col.separator or "|").join(str(v) for v in allowed[:2])
    return "ok-" + name


def good_row(ext) -> dict[str, str | None]:
    return {c.name: good_value(ext, c) for c in ext.columns}


# Values that exercise every kind of rule: empty in all its forms, padding, junk, numbers
# of every sign and shape, dates of both calendars, real and impossible days, booleans.
JUNK = [
    None, "", " ", "   ", "\t", " x ", "x", "Y", "N", "y", "true", "false", "TRUE",
    "0", "1", "-1", "-5", "-0.50", "1.5", "1e3", "12a", "2566", "1234567",
    "01/01/2021", "31/02/2564", "29/02/2567", "29/02/2566", "1/1/2565", "15/06/2565 ",
    "2022-06-15", "2022-02-30", "2024-02-29", "2023-02-29", "2023-13", "2023-01",
    GOOD_NID, BAD_NID, "123", SUBDISTRICT, "609999", SUBDISTRICT + "01", "60999901",
    "6000001", "60010101001", "PAO", "ชาย", "COMMUNITY", "community", "PUBLIC_BENEFIT",
    f"{SUBDISTRICT}|609999", "ELDERLY|CHILD", "ELDERLY|NOPE", "APPROVED", "PENDING",
]


@pytest.fixture
def engine(warehouse_url):
    eng = sa.create_engine(warehouse_url)
    yield eng
    eng.dispose()


@pytest.fixture
def schema(engine):
    name = f"test_gx_{uuid.uuid4().hex[:10]}"
    with engine.begin() as conn:
        conn.execute(sa.text(f'create schema "{name}"'))
    yield name
    with engine.begin() as conn:
        conn.execute(sa.text(f'drop schema "{name}" cascade'))


def make_landing(engine, schema: str, table: str, ext, rows: list[dict]) -> None:
    """The landing table: _row_no (1-based, in list order) plus one text column per column."""
    cols = ", ".join(f'"{c.name}" text' for c in ext.columns)
    with engine.begin() as conn:
        conn.execute(sa.text(f'create table "{schema}"."{table}" (_row_no bigint, {cols})'))
        landing = sa.table(
            table, sa.column("_row_no"), *(sa.column(c.name) for c in ext.columns), schema=schema
        )
        records = [
            {"_row_no": i, **{c.name: row.get(c.name) for c in ext.columns}}
            for i, row in enumerate(rows, start=1)
        ]
        if records:
            conn.execute(sa.insert(landing), records)


def failures_by_condition(engine, schema: str, table: str, ext) -> set[tuple[int, str]]:
    """What every rule's own SQL condition says fails: the truth GX must reproduce."""
    out: set[tuple[int, str]] = set()
    with engine.connect() as conn:
        for rule in rules_for(ext):
            qualified = f'"{schema}"."{table}"'
            sql = f"select _row_no from {qualified} where {sql_forms.condition_on(rule, qualified)}"
            out.update((row_no, rule.name) for (row_no,) in conn.execute(sa.text(sql)))
    return out


def check_report(report, ext, truth: set[tuple[int, str]]) -> None:
    rules = rules_for(ext)
    assert report.suite_name == f"{ext.system}.{ext.name}"
    assert report.evaluated_expectations == len(rules)
    assert len(report.failures) == len(set(report.failures)), "a failure is reported twice"
    assert set(report.failures) == truth
    assert report.failures == sorted(
        report.failures, key=lambda f: (f[0], [r.name for r in rules].index(f[1]))
    )
    expected_counts = {r.name: 0 for r in rules}
    for _, name in truth:
        expected_counts[name] += 1
    assert report.rule_counts == expected_counts
    assert report.success is (not truth)


# ----------------------------------------------------------------------------- suites


def test_import_is_light():
    code = (
        "import sys, welfare.validation; "
        "heavy = [m for m in ('great_expectations', 'pandas', 'sqlalchemy') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("ext", ALL_EXTRACTS, ids=lambda e: e.qualified_name)
def test_rule_names_are_unique_and_suite_has_one_expectation_per_rule(ext):
    rules = rules_for(ext)
    names = [r.name for r in rules]
    assert len(names) == len(set(names))
    suite = suites.build_suite(ext)
    assert suite.name == suites.suite_name(ext) == f"{ext.system}.{ext.name}"
    assert len(suite.expectations) == len(rules)
    for rule, exp in zip(rules, suite.expectations, strict=True):
        assert exp.meta == {"rule": rule.code, "column": rule.column, "rule_name": rule.name,
                            "condition": rule.condition}
        assert exp.notes and "%s" not in exp.notes
        # every rule is an expectation on the rule-results table, selecting the rule's own column
        assert exp.expectation_type == "unexpected_rows_expectation"
        assert exp.unexpected_rows_query == f'select _row_no from {{batch}} where "{rule.name}"'


def test_rule_results_are_one_pass_over_the_landing_table():
    sql = sql_forms.rule_results_sql(BMN_INDICATORS, "landing.x", "landing.x__rules")
    # one scan for the rules, one aggregate for the keys that repeat
    assert sql.count("from landing.x as t") == 1 and sql.count("from landing.x group by") == 1
    for rule in rules_for(BMN_INDICATORS):
        assert rule.code == "duplicate_key" or sql_forms.condition_on(rule, "l") in sql


def test_suite_json_round_trips_into_gx():
    import great_expectations as gx

    text = suites.suite_json(ORGS)
    suite = gx.ExpectationSuite(**json.loads(text))
    assert [e.meta["rule_name"] for e in suite.expectations] == [r.name for r in rules_for(ORGS)]


def test_write_suites_is_deterministic(tmp_path):
    first = suites.write_suites(tmp_path / "a")
    second = suites.write_suites(tmp_path / "b")
    assert len(first) == len(ALL_EXTRACTS) == 20
    for a, b, ext in zip(first, second, ALL_EXTRACTS, strict=True):
        assert a == tmp_path / "a" / ext.system / f"{ext.name}.json"
        assert a.read_bytes() == b.read_bytes()
        assert a.read_text(encoding="utf-8") == suites.suite_json(ext)
        text = a.read_text(encoding="utf-8")
        assert '"id"' not in text and "run_time" not in text
    again = suites.write_suites(tmp_path / "a")
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in second]


def test_committed_suites_match_the_contract():
    """expectations/ is generated by write_suites; regenerate it when the rules change:
    python -c 'from pathlib import Path; from welfare.validation import suites;
               suites.write_suites(Path("expectations"))'"""
    expected = {
        (EXPECTATIONS_DIR / ext.system / f"{ext.name}.json"): suites.suite_json(ext)
        for ext in ALL_EXTRACTS
    }
    committed = set(EXPECTATIONS_DIR.glob("*/*.json"))
    assert committed == set(expected), "expectations/ holds missing or stale suite files"
    for path, text in expected.items():
        assert path.read_text(encoding="utf-8") == text, f"{path} has drifted from the rules"


# ----------------------------------------------------------------------------- validation


def test_organizations_planted_failures(warehouse_url, engine, schema):
    good = good_row(ORGS)
    assert set(good) == set(ORGS.column_names)

    def row(**changes):
        return {**good, **changes}

    rows = [
        good,  # 1
        row(left_network_on="", certification=None, certified_on=None,
            certification_revoked_on="   ", quality_assessed_fy=None, quality_passed=None),  # 2
        row(certification="  ", certified_on="", quality_assessed_fy="", quality_passed=" "),  # 3
        row(subdistrict_code="609999"),  # 4 unknown subdistrict
        row(name=""),  # 5 missing required value ('' as delivered)
        row(org_id=None),  # 6 missing required value (NULL)
        row(sector="   "),  # 7 only spaces: empty, so required fails and enum does not
        row(sector="NGO"),  # 8 enum outside the list
        row(sector="community"),  # 9 enum is case-sensitive
        row(certification="GOLD"),  # 10
        row(joined_network_on="01/01/2021"),  # 11 Common-Era year in a BE field
        row(left_network_on="31/02/2564"),  # 12 a day that does not exist
        row(certified_on="2022-01-01"),  # 13 not dd/mm/yyyy
        row(certified_on=None),  # 14 certification set without certified_on
        row(certified_on="  "),  # 15 ... or with only spaces
        row(quality_assessed_fy="25x6"),  # 16 not a whole number
        row(quality_passed="yes"),  # 17 not Y/N
        row(quality_passed=None),  # 18 quality_assessed_fy set without quality_passed
        row(sector="NGO", subdistrict_code="", joined_network_on="29/02/2566"),  # 19 several
        row(left_network_on="29/02/2567"),  # 20 a real leap day: good
        row(quality_assessed_fy="-2566"),  # 21 a negative int is still an int
        row(name="twin of row 20"),  # 22 the same key as row 20: neither can be trusted
    ]
    rows = [dict(r, org_id=f"ORG{n:05d}") if r["org_id"] is not None else dict(r) for n, r in enumerate(rows, start=1)]
    rows[21]["org_id"] = rows[19]["org_id"]
    planted = {
        4: {"area_code:subdistrict_code"},
        5: {"required:name"},
        6: {"required:org_id"},
        7: {"required:sector"},
        8: {"enum:sector"},
        9: {"enum:sector"},
        10: {"enum:certification"},
        11: {"date_be_year:joined_network_on"},
        12: {"date_invalid:left_network_on"},
        13: {"date_format:certified_on"},
        14: {"conditional_required:certified_on"},
        15: {"conditional_required:certified_on"},
        16: {"type_int:quality_assessed_fy"},
        17: {"type_bool:quality_passed"},
        18: {"conditional_required:quality_passed"},
        19: {"enum:sector", "required:subdistrict_code", "date_invalid:joined_network_on"},
        20: {"duplicate_key"},
        22: {"duplicate_key"},
    }
    make_landing(engine, schema, "organizations", ORGS, rows)
    truth = failures_by_condition(engine, schema, "organizations", ORGS)

    report = sql_forms.validate_landing(warehouse_url, schema, "organizations", ORGS)

    check_report(report, ORGS, truth)
    by_row: dict[int, set[str]] = {}
    for row_no, name in report.failures:
        by_row.setdefault(row_no, set()).add(name)
    assert by_row == planted
    assert report.docs_index is None


@pytest.mark.parametrize(
    ("system", "name", "planted"),
    [
        # national id checksum, negative amount, an enum and an impossible BE date
        pytest.param("msdhs", "welfare_services", {
            "national_id": (BAD_NID, "national_id:national_id"),
            "amount": ("-150.00", "negative_amount:amount"),
            "service_type": ("CASH", "enum:service_type"),
            "delivered_on": ("31/02/2564", "date_invalid:delivered_on"),
        }, id="welfare_services"),
        # JSON-lines extract: ISO dates, the period format, a money column
        pytest.param("lao", "allowance_payments", {
            "national_id": (BAD_NID, "national_id:national_id"),
            "amount": ("-600", "negative_amount:amount"),
            "period": ("2023-13", "period_format:period"),
            "paid_on": ("2023-02-29", "date_invalid:paid_on"),
        }, id="allowance_payments"),
        # head_national_id, village and household codes
        pytest.param("cdd", "bmn_households", {
            "head_national_id": (BAD_NID, "national_id:head_national_id"),
            "annual_income": ("-1", "negative_amount:annual_income"),
            "village_code": ("60999901", "area_code:village_code"),
            "household_code": ("6001", "code_format:household_code"),
        }, id="bmn_households"),
    ],
)
def test_planted_failures_of_money_and_id_extracts(warehouse_url, engine, schema,
                                                   system, name, planted):
    ext = contract.extract(system, name)
    good = good_row(ext)
    rows = [good] + [{**good, col: value} for col, (value, _) in planted.items()]
    for n, r in enumerate(rows):  # one key a row: these rows are not duplicates of each other
        for k in ext.key:
            if k not in planted:
                r[k] = str(int(good[k]) + n) if ext.column(k).type == "int" else f"{good[k]}{n}"
    make_landing(engine, schema, name, ext, rows)
    truth = failures_by_condition(engine, schema, name, ext)

    report = sql_forms.validate_landing(warehouse_url, schema, name, ext)

    check_report(report, ext, truth)
    expected = {(i, rule) for i, (_, rule) in enumerate(planted.values(), start=2)}
    assert set(report.failures) == expected


@pytest.mark.parametrize("ext", ALL_EXTRACTS, ids=lambda e: e.qualified_name)
def test_every_rule_of_every_extract_matches_its_condition(warehouse_url, engine, schema, ext):
    """A good row, then each column set to each junk value: GX's failing rows per rule are
    exactly the rows the rule's SQL condition selects, for every kind of rule."""
    good = good_row(ext)
    rows = [good] + [
        {**good, col.name: junk}
        for col in ext.columns
        for junk in JUNK
        if not (col.name == "indicator_no" and junk and junk.isdigit() and len(junk) > 9)
        # ^ the range rule's ::int cast errors on those: test_range_rule_with_a_huge_number
    ]
    make_landing(engine, schema, "landing", ext, rows)
    truth = failures_by_condition(engine, schema, "landing", ext)
    # the good row shares its key with the junk rows (so duplicate_key fires there too), no other rule
    assert not any(row_no == 1 and rule != "duplicate_key" for row_no, rule in truth), \
        "the good row must pass every rule"
    kinds = {r.kind for r in rules_for(ext)}
    assert {r.kind for r in rules_for(ext) if any(n == r.name for _, n in truth)} == kinds

    report = sql_forms.validate_landing(warehouse_url, schema, "landing", ext)

    check_report(report, ext, truth)


def test_range_rule_with_a_huge_number(warehouse_url, engine, schema):
    ext = contract.extract("cdd", "bmn_indicators")
    good = good_row(ext)
    make_landing(engine, schema, "landing", ext, [good, {**good, "indicator_no": GOOD_NID}])
    report = sql_forms.validate_landing(warehouse_url, schema, "landing", ext)
    assert (2, "range:indicator_no") in report.failures


def test_no_cap_on_failing_rows(warehouse_url, engine, schema):
    """GX returns at most 200 rows per expectation; every failing row must still be reported."""
    good = good_row(ORGS)
    rows = []
    for i in range(1, 1201):
        r = dict(good, org_id=f"ORG{i:05d}")
        if i % 3 == 0:
            r["sector"] = "NGO"  # 400 rows
        if i % 4 == 0:
            r["joined_network_on"] = "2565-06-15"  # 300 rows
        if i % 5 == 0:
            r["name"] = ""  # 240 rows
        rows.append(r)
    make_landing(engine, schema, "organizations", ORGS, rows)
    truth = failures_by_condition(engine, schema, "organizations", ORGS)

    report = sql_forms.validate_landing(warehouse_url, schema, "organizations", ORGS)

    check_report(report, ORGS, truth)
    assert report.rule_counts["enum:sector"] == 400
    assert report.rule_counts["date_format:joined_network_on"] == 300
    assert report.rule_counts["required:name"] == 240
    assert {r for r, n in report.failures if n == "enum:sector"} == set(range(3, 1201, 3))
    # the rule-results table is gone with the validation
    with engine.connect() as conn:
        left = conn.execute(sa.text("select count(*) from information_schema.tables "
                                    "where table_schema = :s and table_name like '%__rules'"), {"s": schema}).scalar()
    assert left == 0


def test_clean_landing_and_data_docs(warehouse_url, engine, schema, tmp_path):
    make_landing(engine, schema, "organizations", ORGS,
                 [dict(good_row(ORGS), org_id=f"ORG{i:05d}") for i in range(1, 6)])
    docs = tmp_path / "docs"

    report = sql_forms.validate_landing(
        warehouse_url, schema, "organizations", ORGS, docs_dir=docs, run_label="unit-test"
    )

    assert report.success is True
    assert report.failures == []
    assert set(report.rule_counts.values()) == {0}
    assert report.docs_index is not None and report.docs_index.is_file()
    assert report.docs_index.name == "index.html"
    assert docs.resolve() in report.docs_index.parents
    assert "unit-test" in report.docs_index.read_text(encoding="utf-8")
    # the connection URL (which may carry a password) is never written to disk
    url = sa.make_url(warehouse_url)
    secret = url.password or url.render_as_string(hide_password=False)
    for path in docs.rglob("*"):
        if path.is_file() and path.suffix in {".json", ".html", ".yml"}:
            assert secret not in path.read_text(encoding="utf-8", errors="ignore")


def test_empty_landing_passes(warehouse_url, engine, schema):
    make_landing(engine, schema, "organizations", ORGS, [])
    report = sql_forms.validate_landing(warehouse_url, schema, "organizations", ORGS)
    assert report.success is True
    assert report.failures == []
