"""`welfare export-open` against a real PostgreSQL: a database of its own whose marts schema holds small
tables with the real columns of kpi_values, kpi_definitions, kpi_attainment, dim_areas and
person_register_measurements, rows designed here; the export runs as welfare_bi_reader (the superuser
only arranges), and the CSV files it writes are read back: no published count of persons in
1..threshold, no group with a lone blanked district, the province exact, Thai headers, UTF-8."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from warehouse_helpers import fresh_database
from welfare.export.open_data import export_open
from welfare.settings import DBT_PROJECT_DIR
from welfare.warehouse import roles, secrets
from welfare.warehouse.sql import connect

T = 5
PERSONS = {"S2.4", "G.3", "G.4"}  # the test's own reading of kpis.md: volunteers, payments to persons, households
DISTRICTS = [f"60{n:02d}" for n in range(1, 16)]
PERSON_LEVEL = ["dim_persons", "fct_bmn_members", "fct_bmn_households", "fct_allowance_payments", "fct_welfare_services"]

# (kpi_code, fiscal_year) -> (the 15 districts' exact values, what the province counts beyond them)
COUNTS = {
    ("S2.4", 2564): ([40, 5, 6, 33, 20, 18, 25, 60, 22, 19, 30, 15, 12, 14, 16], 0),   # 5 blanked, 6 its complement
    ("S2.4", 2563): ([38, 9, 7, 30, 21, 17, 24, 55, 20, 18, 28, 14, 11, 13, 15], 0),   # nothing small
    ("G.4", 2564): ([0, 3, 12, 7, 0, 9, 0, 0, 4, 0, 0, 0, 8, 0, 0], 0),               # 3 and 4: two blanks
    ("G.4", 2563): ([0] * 14 + [2], 0),                                                # province 2 itself small
    ("G.3", 2564): ([1] + [0] * 13 + [50], 3),                                         # 3 paid by the PAO
    ("G.3", 2563): ([0] * 15, 0),                                                      # all zero: published
    ("S2.1", 2564): ([1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2, 3, 4, 5], 0),                # organisations
}
# person_register_measurements: drop date -> (persons, complete persons) per district; the province adds 7 and 5
MEASURED = {
    date(2021, 9, 27): [(500, 450), (10, 9)] + [(300 + i, 270 + i) for i in range(13)],
    date(2021, 9, 28): [(510, 460), (4, 3)] + [(300 + i, 271 + i) for i in range(13)],
}


def pct(n: int, d: int) -> Decimal | None:
    return None if d == 0 else (Decimal(100 * n) / Decimal(d)).quantize(Decimal("0.1"))


def exact_kpis() -> dict[tuple[str, int, str], Decimal | None]:
    out: dict[tuple[str, int, str], Decimal | None] = {}
    for (code, fy), (values, extra) in COUNTS.items():
        out[(code, fy, "60")] = Decimal(sum(values) + extra)
        out.update({(code, fy, d): Decimal(v) for d, v in zip(DISTRICTS, values, strict=True)})
    latest = MEASURED[date(2021, 9, 28)]
    out[("S1.1", 2564, "60")] = pct(sum(c for _, c in latest) + 5, sum(p for p, _ in latest) + 7)
    out.update({("S1.1", 2564, d): pct(c, p) for d, (p, c) in zip(DISTRICTS, latest, strict=True)})
    for i, a in enumerate(["60", *DISTRICTS]):
        out[("G.1", 2564, a)] = Decimal("80.0") + i
    return out


EXACT = exact_kpis()

SCHEMA = """
create table marts.kpi_definitions (kpi_code text primary key, strategy_no int, name_th text, name_en text,
    unit text, direction text, area_scope text, plan_wording_th text);
create table marts.kpi_values (kpi_code text not null, fiscal_year int not null, area_code text not null,
    value numeric, primary key (kpi_code, fiscal_year, area_code));
create table marts.kpi_attainment (kpi_code text not null, fiscal_year int not null, area_code text not null,
    direction text, unit text, target numeric, value numeric, attained boolean, percent_of_target numeric,
    primary key (kpi_code, fiscal_year, area_code));
create table marts.dim_areas (area_code text primary key, area_level text, parent_area_code text, province_code text,
    district_code text, subdistrict_code text, village_code text, name_th text, name_en text);
create table marts.person_register_measurements (drop_date date, fiscal_year int, area_code text, persons bigint,
    complete_persons bigint, pct_complete numeric);
-- the person-level marts: reading any of them trips the wire
create function marts.tripwire(relation text) returns boolean language plpgsql as $$
begin raise exception 'the open-data export read marts.%', relation; end $$;
"""


@pytest.fixture(scope="module")
def db(warehouse):
    target = fresh_database(warehouse, "open_export")
    defs = [("S2.1", 2, "องค์กรที่ได้รับการรับรองเป็นองค์กรสาธารณประโยชน์และองค์กรสวัสดิการชุมชน", "count", "up"),
            ("S2.4", 2, "อาสาสมัครที่มีส่วนร่วมในการพัฒนาสังคม", "count", "up"),
            ("S1.1", 1, "ฐานข้อมูลกลางถูกต้อง ทันสมัย ครบถ้วน", "percent", "up"),
            ("G.1", 0, "ความครอบคลุมเบี้ยยังชีพผู้สูงอายุ", "percent", "up"),
            ("G.3", 0, "การจ่ายเบี้ยที่ไม่ถูกต้อง", "count", "down"),
            ("G.4", 0, "ครัวเรือนยากจนที่ยังไม่ได้รับการดูแล", "count", "down")]
    with open(DBT_PROJECT_DIR / "seeds" / "areas.csv", encoding="utf-8") as f:
        seed = list(csv.DictReader(f))
    names = {r["district_code"]: r["district_name_th"] for r in seed}
    with connect(target.dsn) as conn, conn.cursor() as cur:
        cur.execute(f"set role {roles.OWNER}")
        cur.execute(SCHEMA)
        for rel in PERSON_LEVEL:
            cur.execute(f"create view marts.{rel} as select 1 as person_key where marts.tripwire('{rel}')")
        cur.executemany("insert into marts.kpi_definitions values (%s, %s, %s, '', %s, %s, '', '')", defs)
        cur.execute("insert into marts.dim_areas (area_code, area_level, province_code, name_th, name_en) "
                    "values ('60', 'province', '60', 'นครสวรรค์', 'Nakhon Sawan')")
        cur.executemany("insert into marts.dim_areas (area_code, area_level, parent_area_code, province_code, "
                        "district_code, name_th) values (%s, 'district', '60', '60', %s, %s)",
                        [(d, d, names[d]) for d in DISTRICTS])
        cur.executemany("insert into marts.dim_areas (area_code, area_level, parent_area_code, district_code, name_th) "
                        "values (%s, 'subdistrict', %s, %s, %s)",
                        [(r["subdistrict_code"], r["district_code"], r["district_code"], r["subdistrict_name_th"])
                         for r in seed[:5]])
        cur.executemany("insert into marts.kpi_values values (%s, %s, %s, %s)",
                        [(k, fy, a, v) for (k, fy, a), v in EXACT.items()])
        targets = [("G.4", 2564, "6002", Decimal(5)), ("G.4", 2564, "60", Decimal(30)), ("S2.1", 2564, "6001", Decimal(2)),
                   ("S2.4", 2564, "6002", Decimal(10))]
        for code, fy, area, goal in targets:
            value = EXACT[(code, fy, area)]
            direction = "down" if code.startswith("G") else "up"
            attained = value <= goal if direction == "down" else value >= goal
            cur.execute("insert into marts.kpi_attainment values (%s, %s, %s, %s, 'count', %s, %s, %s, %s)",
                        (code, fy, area, direction, goal, value, attained, round(100 * value / goal, 1)))
        for drop, per_district in MEASURED.items():
            rows = [("60", sum(p for p, _ in per_district) + 7, sum(c for _, c in per_district) + 5)]
            rows += [(d, p, c) for d, (p, c) in zip(DISTRICTS, per_district, strict=True)]
            cur.executemany("insert into marts.person_register_measurements values (%s, 2564, %s, %s, %s, %s)",
                            [(drop, a, p, c, pct(c, p)) for a, p, c in rows])
        reader = roles.role_name("bi_reader")
        cur.execute(f"grant usage on schema marts to {reader}")
        cur.execute(f"grant select on all tables in schema marts to {reader}")
        conn.commit()
    return target


@pytest.fixture(scope="module")
def reader(db):
    return roles.role_target(db, "bi_reader", secrets.password("bi_reader"))


@pytest.fixture(scope="module")
def exported(reader, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("open_export")
    export_open(reader, out, threshold=T)
    return out


def read_csv(path: Path) -> list[dict]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), f"{path.name}: no UTF-8 BOM, Excel would not read the Thai"
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def kpi_cells(out: Path) -> dict[tuple[str, int, str], dict]:
    return {(r["รหัสตัวชี้วัด"], int(r["ปีงบประมาณ"]), r["รหัสพื้นที่"]): r for r in read_csv(out / "kpi_values.csv")}


def test_the_files_open_as_utf8_with_thai_headers(exported):
    for name in ("kpi_values.csv", "kpi_attainment.csv", "person_register_measurements.csv"):
        rows = read_csv(exported / name)  # decodes strictly: a byte that is not UTF-8 raises
        assert rows, name
    headers = list(read_csv(exported / "kpi_values.csv")[0])
    for th in ("รหัสตัวชี้วัด", "ปีงบประมาณ", "รหัสพื้นที่", "ชื่อพื้นที่", "ค่า", "หน่วย", "ถูกปกปิด"):
        assert th in headers, th
    assert "ค่าเป้าหมาย" in read_csv(exported / "kpi_attainment.csv")[0]
    cells = kpi_cells(exported)
    assert cells[("G.4", 2564, "6001")]["ชื่อพื้นที่"] == "เมืองนครสวรรค์" and cells[("G.4", 2564, "60")]["ชื่อพื้นที่"] == "นครสวรรค์"
    assert cells[("G.4", 2564, "6001")]["หน่วย"] == "ครัวเรือน"
    assert set(cells) == set(EXACT)  # every row of kpi_values, no subdistrict, nothing else
    assert "อ่านก่อน.txt" in {p.name for p in exported.iterdir()}
    assert f"1 ถึง {T}" in (exported / "อ่านก่อน.txt").read_text(encoding="utf-8-sig")


def test_no_small_count_of_persons_is_published_and_no_blank_stands_alone(exported):
    cells = kpi_cells(exported)
    seen_blank = 0
    for (code, fy), (values, _) in COUNTS.items():
        if code not in PERSONS:
            continue
        group = {a: cells[(code, fy, a)] for a in ["60", *DISTRICTS]}
        for a, r in group.items():
            assert (r["ค่า"] == "") == (r["ถูกปกปิด"] == "Y"), (code, fy, a)
            if r["ค่า"] != "":
                assert not 1 <= Decimal(r["ค่า"]) <= T, (code, fy, a, r["ค่า"])
                assert Decimal(r["ค่า"]) == EXACT[(code, fy, a)], (code, fy, a)  # published means exact
        blank = [a for a in DISTRICTS if group[a]["ถูกปกปิด"] == "Y"]
        seen_blank += len(blank)
        assert len(blank) != 1, (code, fy, blank)
        if group["60"]["ค่า"] != "" and blank:  # nothing recoverable from the published province total
            assert any(EXACT[(code, fy, a)] != 1 for a in blank), (code, fy, blank)
        for a, v in zip(DISTRICTS, values, strict=True):
            if v == 0 and len([x for x in values if x]) > 1:
                assert group[a]["ค่า"] == "0", (code, fy, a)  # zero published
    assert seen_blank >= 8  # the rows were designed to blank: the checks above did check something


def test_the_province_is_exact_and_the_districts_add_up(exported):
    cells = kpi_cells(exported)
    for (code, fy), (values, extra) in COUNTS.items():
        province = cells[(code, fy, "60")]
        if not 1 <= sum(values) + extra <= T:
            assert Decimal(province["ค่า"]) == sum(values) + extra, (code, fy)
        published = sum(Decimal(cells[(code, fy, a)]["ค่า"]) for a in DISTRICTS if cells[(code, fy, a)]["ค่า"])
        hidden = sum(EXACT[(code, fy, a)] for a in DISTRICTS if cells[(code, fy, a)]["ถูกปกปิด"] == "Y")
        assert published + hidden + extra == EXACT[(code, fy, "60")], (code, fy)
    assert cells[("G.4", 2563, "60")]["ค่า"] == ""  # a province of 2 is itself small
    # the designed cases: the primary and its complement
    assert [cells[("S2.4", 2564, a)]["ถูกปกปิด"] for a in ("6001", "6002", "6003")] == ["", "Y", "Y"]
    assert [cells[("G.3", 2564, a)]["ถูกปกปิด"] for a in ("6001", "6015")] == ["Y", "Y"]
    about = json.loads((exported / "_about.json").read_text(encoding="utf-8"))
    assert about["totals"]["province_published_exact"] is True
    assert about["totals"]["groups_province_includes_records_without_district"] >= 1  # G.3 2564: the PAO
    assert "เท่ากับค่าจังหวัด" in about["totals"]["statement_th"]


def test_counts_that_are_not_persons_and_percentages(exported):
    cells = kpi_cells(exported)
    assert [cells[("S2.1", 2564, a)]["ค่า"] for a in DISTRICTS[:5]] == ["1", "2", "3", "4", "5"]  # organisations
    assert all(cells[("G.1", 2564, a)]["ค่า"] != "" for a in ["60", *DISTRICTS])  # no basis in marts
    # S1.1 follows the latest measurement of its year (4 persons in 6002 on 2021-09-28), not the earlier one
    assert cells[("S1.1", 2564, "6002")]["ค่า"] == "" and cells[("S1.1", 2564, "6002")]["ถูกปกปิด"] == "Y"
    assert Decimal(cells[("S1.1", 2564, "60")]["ค่า"]) == EXACT[("S1.1", 2564, "60")]
    m = {(r["วันที่ข้อมูล"], r["รหัสพื้นที่"]): r for r in read_csv(exported / "person_register_measurements.csv")}
    late, early = m[("2021-09-28", "6002")], m[("2021-09-27", "6002")]
    assert (late["จำนวนบุคคลในทะเบียน"], late["ร้อยละข้อมูลครบถ้วน"], late["ร้อยละข้อมูลครบถ้วน ถูกปกปิด"]) == ("", "", "Y")
    assert (early["จำนวนบุคคลในทะเบียน"], early["จำนวนบุคคลที่ข้อมูลครบถ้วนสอดคล้อง"]) == ("10", "9")
    for drop in ("2021-09-27", "2021-09-28"):
        blank = [a for a in DISTRICTS if m[(drop, a)]["จำนวนบุคคลในทะเบียน ถูกปกปิด"] == "Y"]
        assert len(blank) in (0, 2) and all(not 1 <= int(m[(drop, a)]["จำนวนบุคคลในทะเบียน"] or 0) <= T
                                            for a in DISTRICTS)
    assert m[("2021-09-28", "60")]["จำนวนบุคคลในทะเบียน"] == str(sum(p for p, _ in MEASURED[date(2021, 9, 28)]) + 7)


def test_attainment_follows_the_indicator(exported):
    att = {(r["รหัสตัวชี้วัด"], r["รหัสพื้นที่"]): r for r in read_csv(exported / "kpi_attainment.csv")}
    g4 = att[("G.4", "6002")]
    assert (g4["ค่า"], g4["บรรลุเป้าหมาย"], g4["ร้อยละของค่าเป้าหมาย"], g4["ถูกปกปิด"]) == ("", "", "", "Y")
    assert g4["ค่าเป้าหมาย"] == "5"
    assert (att[("G.4", "60")]["ค่า"], att[("G.4", "60")]["ถูกปกปิด"]) == (str(EXACT[("G.4", 2564, "60")]), "")
    assert att[("S2.1", "6001")]["ค่า"] == "1" and att[("S2.1", "6001")]["บรรลุเป้าหมาย"] == "N"


def test_metadata_states_threshold_rule_and_source(exported):
    about = json.loads((exported / "_about.json").read_text(encoding="utf-8"))
    s = about["suppression"]
    assert s["threshold"] == T and f"1 ถึง {T}" in s["rule_th"] and "complementary" in s["rule_en"]
    assert set(s["person_count_indicators"]) == PERSONS and "S2.1" in s["not_person_indicators"]
    assert s["percentages_not_checked"] == ["G.1"]
    assert about["source"]["latest_drop_date"] == "2021-09-28" and about["source"]["latest_fiscal_year"] == 2564
    assert all(r.startswith("marts.") for r in about["source"]["relations"])
    assert about["files"]["kpi_values.csv"]["columns"]["ค่า"] == "value"


def test_the_warehouse_stays_exact_and_person_level_marts_are_not_read(db, reader, exported):
    with connect(db.dsn) as conn, conn.cursor() as cur:
        cur.execute("select kpi_code, fiscal_year, area_code, value from marts.kpi_values")
        assert {(k, fy, a): v for k, fy, a, v in cur.fetchall()} == EXACT
    import psycopg2

    # the wire is live for the reader: had the export read a person-level mart, it would have failed
    with connect(reader.dsn) as conn, conn.cursor() as cur, pytest.raises(psycopg2.Error, match="tripwire|read marts"):
        cur.execute("select * from marts.dim_persons")


def test_the_threshold_is_configurable(reader, tmp_path):
    export_open(reader, tmp_path, threshold=2)
    cells = kpi_cells(tmp_path)
    assert cells[("S2.4", 2564, "6002")]["ค่า"] == "5" and cells[("G.4", 2564, "6002")]["ค่า"] == "3"
    assert cells[("G.4", 2563, "6015")]["ถูกปกปิด"] == "Y"  # 2 is still within 1..2
    assert json.loads((tmp_path / "_about.json").read_text(encoding="utf-8"))["suppression"]["threshold"] == 2


def test_the_command(db, tmp_path, monkeypatch, capsys):
    from welfare.cli import main

    monkeypatch.setenv("WELFARE_WAREHOUSE_URI", f"postgresql://{db.host}:{db.port}/{db.database}")
    monkeypatch.setenv("WELFARE_SUPPRESS_THRESHOLD", "3")
    assert main(["export-open", "--out", str(tmp_path / "a")]) == 0
    assert "threshold 3" in capsys.readouterr().out
    about = json.loads((tmp_path / "a" / "_about.json").read_text(encoding="utf-8"))
    assert about["suppression"]["threshold"] == 3
    assert kpi_cells(tmp_path / "a")[("S2.4", 2564, "6002")]["ค่า"] == "5"  # 5 > 3: published
    assert main(["export-open", "--out", str(tmp_path / "b"), "--threshold", "0"]) == 2
    assert not (tmp_path / "b").exists()
