"""The open-data export's small-number suppression on hand-made cells, and the files' shaping without a
database: primary and complementary suppression, zero and the province published exact, the threshold,
percentages, attainment, and that the reader touches nothing but the aggregate marts."""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal

import pytest
from welfare.export import open_data as od
from welfare.export.open_data import (
    COMPLEMENTARY,
    PERCENT_BASIS,
    PRIMARY,
    Basis,
    Cell,
    MartsData,
    SuppressionError,
    build_open_data,
    check_counts,
    suppress_counts,
    suppress_percentages,
)

DISTRICTS = [f"60{n:02d}" for n in range(1, 16)]


def group(values: dict[str, int | None], province: int | None = None, key=("G.4", 2564)) -> list[Cell]:
    """Cells of one group: the districts given (others 0 unless None is given) and the province (default: the sum)."""
    cells = [Cell(key, d, values.get(d, 0)) for d in DISTRICTS]
    total = sum(v for v in values.values() if v is not None) if province is None else province
    return [Cell(key, "60", total), *cells]


def blanked(cells: list[Cell], reasons: list[str | None]) -> dict[str, str]:
    return {c.area_code: r for c, r in zip(cells, reasons, strict=True) if r}


# ---------------------------------------------------------------- counts
def test_primary_suppression_blanks_one_to_threshold_and_publishes_the_rest():
    cells = group({"6001": 1, "6002": 5, "6003": 6, "6004": 40, "6005": 3})
    got = blanked(cells, suppress_counts(cells, 5))
    assert {a for a, r in got.items() if r == PRIMARY} == {"6001", "6002", "6005"}
    assert "6003" not in got and "6004" not in got and "60" not in got


def test_a_lone_blank_gets_the_smallest_non_zero_district_as_complement():
    cells = group({"6001": 3, "6002": 12, "6003": 7, "6004": 7, "6005": 0, "6006": 9})
    got = blanked(cells, suppress_counts(cells, 5))
    # 7 is the smallest published non-zero value; of the two 7s the lower area code
    assert got == {"6001": PRIMARY, "6003": COMPLEMENTARY}


def test_two_blanks_need_no_complement():
    cells = group({"6001": 2, "6002": 4, "6003": 20, "6004": 30})
    assert blanked(cells, suppress_counts(cells, 5)) == {"6001": PRIMARY, "6002": PRIMARY}


def test_blanks_that_are_all_one_get_one_more():
    # two blanks of 1 each: their total (province minus the published) would give both away
    cells = group({"6001": 1, "6002": 1, "6003": 20, "6004": 30})
    got = blanked(cells, suppress_counts(cells, 5))
    assert got == {"6001": PRIMARY, "6002": PRIMARY, "6003": COMPLEMENTARY}


def test_zero_is_published_and_never_the_complement_while_a_non_zero_is_left():
    cells = group({"6001": 4, "6002": 0, "6003": 0, "6004": 50})
    reasons = suppress_counts(cells, 5)
    got = blanked(cells, reasons)
    assert got == {"6001": PRIMARY, "6004": COMPLEMENTARY}
    zero = [r for c, r in zip(cells, reasons, strict=True) if c.value == 0]
    assert zero and all(r is None for r in zero)


def test_a_zero_district_is_hidden_only_when_no_non_zero_is_left():
    # one district of 2, the rest 0, the province more (records with no district): a zero must go with it
    cells = group({"6001": 2}, province=30)
    got = blanked(cells, suppress_counts(cells, 5))
    assert got == {"6001": PRIMARY, "6002": COMPLEMENTARY}


def test_the_province_stays_exact_unless_it_is_itself_small():
    big = group({"6001": 2, "6002": 3, "6003": 100})
    assert "60" not in blanked(big, suppress_counts(big, 5))
    small = group({"6001": 2, "6002": 2})
    assert blanked(small, suppress_counts(small, 5))["60"] == PRIMARY
    zero = group({})
    assert blanked(zero, suppress_counts(zero, 5)) == {}  # all zero: everything published


def test_the_province_goes_when_a_group_has_no_other_district():
    cells = [Cell(("G.3", 2564), "60", 40), Cell(("G.3", 2564), "6001", 3)]
    assert blanked(cells, suppress_counts(cells, 5)) == {"6001": PRIMARY, "60": COMPLEMENTARY}

    ones = group({d: 1 for d in DISTRICTS})  # 15 blanks of 1 and a province of 15 would give all of them away
    assert blanked(ones, suppress_counts(ones, 5))["60"] == COMPLEMENTARY


def test_groups_are_suppressed_each_on_their_own():
    a = group({"6001": 3, "6002": 50}, key=("G.4", 2563))
    b = group({"6001": 50, "6002": 60}, key=("G.4", 2564))
    got = suppress_counts(a + b, 5)
    assert blanked(a, got[:len(a)]) == {"6001": PRIMARY, "6002": COMPLEMENTARY}
    assert blanked(b, got[len(a):]) == {}


def test_the_threshold_is_configurable():
    cells = group({"6001": 2, "6002": 5, "6003": 8, "6004": 30})
    assert set(blanked(cells, suppress_counts(cells, 1))) == set()
    assert set(blanked(cells, suppress_counts(cells, 2))) == {"6001", "6002"}  # 2 primary, 5 its complement
    assert {a for a, r in blanked(cells, suppress_counts(cells, 5)).items() if r == PRIMARY} == {"6001", "6002"}
    assert {a for a, r in blanked(cells, suppress_counts(cells, 10)).items() if r == PRIMARY} == {"6001", "6002", "6003"}


def test_threshold_from_the_environment_and_bad_thresholds(monkeypatch):
    monkeypatch.delenv(od.THRESHOLD_ENV, raising=False)
    assert od.default_threshold() == 5
    monkeypatch.setenv(od.THRESHOLD_ENV, "10")
    assert od.default_threshold() == 10
    for bad in (0, -1, "x", "2.5", True, None):
        with pytest.raises(ValueError):
            od.check_threshold(bad)


def test_an_area_outside_province_and_districts_is_refused():
    with pytest.raises(ValueError, match="province"):
        suppress_counts([Cell(("G.4", 2564), "600101", 3)], 5)


def test_random_groups_keep_the_promises():
    rng = random.Random(60)
    for _ in range(300):
        t = rng.randint(1, 10)
        values = {d: rng.choice([0, 0, 1, 2, 3, 5, 8, 13, 40, 200]) for d in rng.sample(DISTRICTS, rng.randint(1, 15))}
        cells = group(values, province=sum(values.values()) + rng.choice([0, 0, 4]))
        reasons = suppress_counts(cells, t)
        check_counts(cells, reasons, t)  # raises if broken
        hidden = [c for c, r in zip(cells, reasons, strict=True) if r and c.area_code != "60"]
        assert len(hidden) != 1 or reasons[0]
        assert all(not (1 <= c.value <= t) for c, r in zip(cells, reasons, strict=True) if not r)
        assert not hidden or any(c.value != 1 for c in hidden) or reasons[0]


def test_the_check_itself_fails_on_a_broken_suppression():
    cells = group({"6001": 3, "6002": 50, "6003": 60})
    with pytest.raises(SuppressionError, match="published"):
        check_counts(cells, [None] * len(cells), 5)
    lone = [PRIMARY if c.area_code == "6001" else None for c in cells]
    with pytest.raises(SuppressionError, match="one alone"):
        check_counts(cells, lone, 5)


# ---------------------------------------------------------------- percentages
def test_percentages_follow_their_numerator_and_denominator():
    key = ("S1.1", 2564)
    cells = [Cell(key, a, Decimal("75.0")) for a in ("60", "6001", "6002", "6003", "6004", "6005", "6006")]
    bases = {
        (key, "60"): Basis(900, 1200),
        (key, "6001"): Basis(3, 400),           # numerator small
        (key, "6002"): Basis(3, 4),             # both small
        (key, "6003"): Basis(0, 300),           # zero of many: published
        (key, "6004"): Basis(250, 300, True),   # blanked in another file
        (key, "6005"): Basis(0, 4),             # 0 of 4: the denominator is small
    }                                           # 6006: no basis known, published
    got = blanked(cells, suppress_percentages(cells, bases, 5))
    assert got == {"6001": PERCENT_BASIS, "6002": PERCENT_BASIS, "6004": PERCENT_BASIS, "6005": PERCENT_BASIS}
    assert blanked(cells, suppress_percentages(cells, bases, 2)) == {"6004": PERCENT_BASIS}


# ---------------------------------------------------------------- the files without a database
def marts(measurements=True) -> MartsData:
    defs = [
        {"kpi_code": "S2.1", "strategy_no": 2, "name_th": "องค์กรที่ได้รับการรับรอง", "name_en": "", "unit": "count",
         "direction": "up", "area_scope": ""},
        {"kpi_code": "G.4", "strategy_no": 0, "name_th": "ครัวเรือนยากจนที่ยังไม่ได้รับการดูแล", "name_en": "",
         "unit": "count", "direction": "down", "area_scope": ""},
        {"kpi_code": "S1.1", "strategy_no": 1, "name_th": "ฐานข้อมูลกลาง", "name_en": "", "unit": "percent",
         "direction": "up", "area_scope": ""},
        {"kpi_code": "G.1", "strategy_no": 0, "name_th": "ความครอบคลุมเบี้ยยังชีพผู้สูงอายุ", "name_en": "",
         "unit": "percent", "direction": "up", "area_scope": ""},
    ]
    areas = [{"area_code": "60", "area_level": "province", "name_th": "นครสวรรค์"}] + [
        {"area_code": "6001", "area_level": "district", "name_th": "เมืองนครสวรรค์"},
        {"area_code": "6002", "area_level": "district", "name_th": "ชุมแสง"},
        {"area_code": "6003", "area_level": "district", "name_th": "หนองบัว"}]
    kv = []
    for code, vals in {"S2.1": [9, 2, 3, 4], "G.4": [27, 2, 10, 15], "S1.1": [Decimal("90.0"), Decimal("75.0"),
                                                                                Decimal("95.0"), Decimal("90.0")],
                       "G.1": [Decimal("88.0"), Decimal("100.0"), Decimal("80.0"), Decimal("85.0")]}.items():
        kv += [{"kpi_code": code, "fiscal_year": 2564, "area_code": a, "value": v}
               for a, v in zip(["60", "6001", "6002", "6003"], vals, strict=True)]
    att = [{"kpi_code": "G.4", "fiscal_year": 2564, "area_code": "6001", "direction": "down", "unit": "count",
            "target": Decimal("4"), "value": Decimal("2"), "attained": True, "percent_of_target": Decimal("50.0")},
           {"kpi_code": "G.4", "fiscal_year": 2564, "area_code": "60", "direction": "down", "unit": "count",
            "target": Decimal("20"), "value": Decimal("27"), "attained": False, "percent_of_target": Decimal("135.0")}]
    m = [{"drop_date": date(2021, 9, 28), "fiscal_year": 2564, "area_code": a, "persons": p, "complete_persons": c,
          "pct_complete": pct}
         for a, p, c, pct in [("60", 1000, 900, Decimal("90.0")), ("6001", 4, 3, Decimal("75.0")),
                              ("6002", 600, 570, Decimal("95.0")), ("6003", 396, 327, Decimal("82.6"))]]
    return MartsData(defs, areas, kv, att, m if measurements else None, read_at="2021-09-29T08:00:00+07")


def rows_of(data: od.OpenData, name: str) -> list[dict]:
    f = next(f for f in data.files if f.name == name)
    return [dict(zip([th for th, _ in f.columns], r, strict=True)) for r in f.rows]


def test_build_open_data_suppresses_persons_only():
    out = build_open_data(marts(), 5)
    kv = {(r["รหัสตัวชี้วัด"], r["รหัสพื้นที่"]): r for r in rows_of(out, "kpi_values.csv")}
    # S2.1 counts organisations: 2, 3 and 4 are published
    assert [kv[("S2.1", a)]["ค่า"] for a in ("60", "6001", "6002", "6003")] == ["9", "2", "3", "4"]
    # G.4 counts households: 2 blanked, its complement the smallest other (10), the province exact
    assert [kv[("G.4", a)]["ค่า"] for a in ("60", "6001", "6002", "6003")] == ["27", "", "", "15"]
    assert [kv[("G.4", a)]["ถูกปกปิด"] for a in ("60", "6001", "6002", "6003")] == ["", "Y", "Y", ""]
    assert kv[("G.4", "6001")]["หน่วย"] == "ครัวเรือน" and kv[("G.4", "6001")]["ชื่อพื้นที่"] == "เมืองนครสวรรค์"
    # S1.1 follows the register's measurement (4 persons, 3 complete in 6001); G.1 has no basis in marts
    assert kv[("S1.1", "6001")]["ค่า"] == "" and kv[("S1.1", "6002")]["ค่า"] == "95.0"
    assert kv[("G.1", "6001")]["ค่า"] == "100.0"
    assert out.about["suppression"]["percentages_not_checked"] == ["G.1"]
    # the measurements: 4 and 3 blanked, and with them the percentage; 6003 is the complement of both
    m = {r["รหัสพื้นที่"]: r for r in rows_of(out, "person_register_measurements.csv")}
    assert m["6001"]["จำนวนบุคคลในทะเบียน"] == "" and m["6001"]["ร้อยละข้อมูลครบถ้วน"] == ""
    assert m["6003"]["จำนวนบุคคลในทะเบียน ถูกปกปิด"] == "Y" and m["6003"]["ร้อยละข้อมูลครบถ้วน ถูกปกปิด"] == "Y"
    assert m["60"]["จำนวนบุคคลในทะเบียน"] == "1000" and m["6002"]["ร้อยละข้อมูลครบถ้วน"] == "95.0"


def test_attainment_follows_the_indicator():
    att = {r["รหัสพื้นที่"]: r for r in rows_of(build_open_data(marts(), 5), "kpi_attainment.csv")}
    assert (att["6001"]["ค่า"], att["6001"]["บรรลุเป้าหมาย"], att["6001"]["ร้อยละของค่าเป้าหมาย"]) == ("", "", "")
    assert att["6001"]["ถูกปกปิด"] == "Y" and att["6001"]["ค่าเป้าหมาย"] == "4"
    assert (att["60"]["ค่า"], att["60"]["บรรลุเป้าหมาย"], att["60"]["ถูกปกปิด"]) == ("27", "N", "")


def test_without_the_measurements_s1_1_is_published_and_said_unchecked():
    out = build_open_data(marts(measurements=False), 5)
    kv = {(r["รหัสตัวชี้วัด"], r["รหัสพื้นที่"]): r for r in rows_of(out, "kpi_values.csv")}
    assert kv[("S1.1", "6001")]["ค่า"] == "75.0"
    assert "S1.1" in out.about["suppression"]["percentages_not_checked"]
    assert [f.name for f in out.files] == ["kpi_values.csv", "kpi_attainment.csv"]


def test_an_unknown_count_indicator_is_treated_as_persons():
    data = marts()
    data.kpi_values += [{"kpi_code": "X.9", "fiscal_year": 2564, "area_code": a, "value": v}
                        for a, v in (("60", 30), ("6001", 1), ("6002", 9), ("6003", 20))]
    out = build_open_data(data, 5)
    kv = {(r["รหัสตัวชี้วัด"], r["รหัสพื้นที่"]): r["ค่า"] for r in rows_of(out, "kpi_values.csv")}
    assert (kv[("X.9", "6001")], kv[("X.9", "6002")], kv[("X.9", "60")]) == ("", "", "30")
    assert out.about["suppression"]["unclassified_indicators"] == ["X.9"]


def test_about_states_threshold_rule_and_totals():
    about = build_open_data(marts(), 7).about
    assert about["suppression"]["threshold"] == 7 and "1 ถึง 7" in about["suppression"]["rule_th"]
    assert set(about["suppression"]["person_count_indicators"]) == {"G.4"}
    assert about["totals"]["province_published_exact"] is True
    assert about["totals"]["groups_districts_add_up_to_province"] >= 1
    assert about["source"]["latest_drop_date"] == "2021-09-28"


# ---------------------------------------------------------------- what the reader reads
class FakeCursor:
    def __init__(self, log):
        self.log, self.last = log, ""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, sql, params=None):
        self.log.append((sql, params))
        self.last = sql

    def fetchone(self):
        return ["2021-09-29T08:00:00+07"] if "now()" in self.last else [True]

    def fetchall(self):
        return []


class FakeConn:
    def __init__(self):
        self.log, self.sessions = [], []

    def cursor(self):
        return FakeCursor(self.log)

    def set_session(self, **kw):
        self.sessions.append(kw)

    def rollback(self):
        pass


def test_the_reader_reads_only_the_aggregate_marts_read_only():
    import re

    conn = FakeConn()
    od.read_marts_with(conn)
    assert conn.sessions[0] == {"isolation_level": "REPEATABLE READ", "readonly": True}
    relations = set()
    for sql, params in conn.log:
        relations |= set(re.findall(r"\bfrom\s+([a-z_]+\.[a-z_]+)", sql))
        relations |= {p for p in (params or ()) if isinstance(p, str)}
        assert not re.search(r"\b(restricted|raw|staging|intermediate|landing|audit|snapshots)\.", sql), sql
        assert re.match(r"^\s*select\b", sql), sql
    assert relations == {f"marts.{r}" for r in od.READS}
    for person_level in ("dim_persons", "fct_bmn_members", "fct_bmn_households", "fct_allowance_payments",
                         "fct_welfare_services"):
        with pytest.raises(PermissionError):
            od._select(FakeCursor([]), person_level, ["x"])


def test_g1_follows_its_persons_paid_and_eligible_from_the_coverage_mart():
    data = marts()
    data.coverage = [{"fiscal_year": 2564, "area_code": a, "allowance_type": "ELDERLY", "eligible_persons": e,
                      "paid_persons": p}
                     for a, e, p in [("60", 1000, 880), ("6001", 3, 3), ("6002", 500, 400), ("6003", 497, 477)]]
    out = build_open_data(data, 5)
    kv = {(r["รหัสตัวชี้วัด"], r["รหัสพื้นที่"]): r for r in rows_of(out, "kpi_values.csv")}
    # 3 of 3 elderly paid in 6001: 100% would say of each of them that they are paid
    assert kv[("G.1", "6001")]["ค่า"] == "" and kv[("G.1", "6001")]["ถูกปกปิด"] == "Y"
    assert kv[("G.1", "6002")]["ค่า"] == "80.0" and kv[("G.1", "60")]["ค่า"] == "88.0"
    assert out.about["suppression"]["percentages_not_checked"] == []
    assert "marts.kpi_allowance_coverage" in out.about["source"]["relations"]
