"""The ingest on every kind of file the contract names: cp874 CSV, utf-8-sig CSV, JSON lines,
and whole-file rejections (manifest mismatch, schema drift, wrong encoding). Real PostgreSQL and
Great Expectations; no Airflow (the e2e tests cover that)."""

from __future__ import annotations

import json
from datetime import date

import pytest
from generate_helpers import encode_extract, national_id, write_drop
from warehouse_helpers import fresh_database
from welfare import contract, ingest
from welfare.warehouse.sql import connect

D = date(2021, 9, 30)


def q(target, sql, params=None):
    with connect(target.dsn) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


@pytest.fixture(scope="module")
def warehouse(warehouse):
    """A database of this module's own: no other test's deliveries make a previous state here (a
    snapshot's previous state decides snapshot_shrink)."""
    return fresh_database(warehouse, "ingest_formats")


@pytest.fixture
def sources(tmp_path, warehouse):
    return tmp_path


def test_cp874_csv_with_thai_values(warehouse, sources):
    ext = contract.extract("cdd", "villages")
    rows = [
        {"village_code": "60010101", "village_name": "บ้านปากน้ำโพ", "subdistrict_code": "600101"},
        {"village_code": "60010102", "village_name": "บ้านหนองเต่า", "subdistrict_code": "600101"},
        {"village_code": "60010201", "village_name": "บ้านกลางแดด", "subdistrict_code": "600101"},  # mismatch
        {"village_code": "60990101", "village_name": "บ้านนอกเขต", "subdistrict_code": "609901"},  # not in province
    ]
    data = encode_extract(ext, rows)
    assert "บ้าน".encode("cp874") in data
    write_drop(sources, "cdd", D, {ext.file: data})
    res = ingest.ingest_extract(warehouse, sources, "cdd", "villages", D)
    assert (res.status, res.rows_in, res.rows_loaded, res.rows_quarantined) == ("loaded", 4, 2, 2)
    names = q(warehouse, "select village_name from raw.cdd__villages where _load_id = %s order by _row_no",
              (res.load_id,))
    assert [n for (n,) in names] == ["บ้านปากน้ำโพ", "บ้านหนองเต่า"]
    got = dict(q(warehouse, "select row_no, rules from audit.quarantine where load_id = %s", (res.load_id,)))
    assert "village_subdistrict:subdistrict_code" in got[3]
    assert "area_code:subdistrict_code" in got[4] and "area_code:village_code" in got[4]


def test_jsonl_with_lists_booleans_and_a_broken_line(warehouse, sources):
    ext = contract.extract("lao", "welfare_projects")
    good = {"project_id": "P1", "lao_code": "6001001", "fiscal_year": 2564, "title": "ซ่อมบ้านผู้สูงอายุ",
            "started_on": "2021-01-15", "budget": "125000.50", "beneficiaries": 30, "sufficiency_economy": True}
    negative = dict(good, project_id="P2", budget=-5)
    bad_date = dict(good, project_id="P3", started_on="2021-02-30")
    lines = [json.dumps(r, ensure_ascii=False) for r in (good, negative, bad_date)] + ["{not json"]
    data = ("\n".join(lines) + "\n").encode()
    write_drop(sources, "lao", D, {ext.file: data}, rows={ext.file: 4})
    res = ingest.ingest_extract(warehouse, sources, "lao", "welfare_projects", D)
    assert (res.status, res.rows_in, res.rows_loaded, res.rows_quarantined) == ("loaded", 4, 1, 3)
    (row,) = q(warehouse, "select project_id, budget, sufficiency_economy, started_on, beneficiaries "
                          "from raw.lao__welfare_projects where _load_id = %s", (res.load_id,))
    assert row[0] == "P1" and float(row[1]) == 125000.5 and row[2] is True and row[3] == date(2021, 1, 15)
    got = dict(q(warehouse, "select row_no, rule from audit.quarantine where load_id = %s", (res.load_id,)))
    assert got == {2: "negative_amount:budget", 3: "date_invalid:started_on", 4: "not_json"}


def test_jsonl_list_column(warehouse, sources):
    ext = contract.extract("lao", "authorities")
    rows = [
        {"lao_code": "6000001", "name": "องค์การบริหารส่วนจังหวัดนครสวรรค์", "lao_type": "PAO", "district_code": "",
         "subdistrict_codes": []},
        {"lao_code": "6001001", "name": "เทศบาลนครนครสวรรค์", "lao_type": "CITY_MUNICIPALITY",
         "district_code": "6001", "subdistrict_codes": ["600101", "600106"]},
        {"lao_code": "6001002", "name": "อบต.ผิดพลาด", "lao_type": "SAO", "district_code": "6001",
         "subdistrict_codes": ["600101", "609999"]},
    ]
    write_drop(sources, "lao", D, {ext.file: encode_extract(ext, rows)})
    res = ingest.ingest_extract(warehouse, sources, "lao", "authorities", D)
    assert (res.rows_loaded, res.rows_quarantined) == (2, 1), res
    got = q(warehouse, "select lao_code, subdistrict_codes, district_code from raw.lao__authorities "
                       "where _load_id = %s order by _row_no", (res.load_id,))
    assert got[1][1] == ["600101", "600106"] and got[0][2] is None


@pytest.mark.parametrize("problem", ["sha256", "rows", "drift", "encoding"])
def test_whole_file_rejections_load_nothing_and_keep_the_file(warehouse, sources, problem, welfare_home):
    ext = contract.extract("msdhs", "volunteers")
    rows = [{"volunteer_id": f"V{i}", "national_id": national_id(__import__("random").Random(i), "6001"),
             "subdistrict_code": "600101", "registered_on": date(2020, 1, i + 1)} for i in range(3)]
    data = encode_extract(ext, rows)
    kwargs = {}
    if problem == "sha256":
        kwargs["sha"] = {ext.file: "0" * 64}
    elif problem == "rows":
        kwargs["rows"] = {ext.file: 5}
    elif problem == "drift":
        header = [c.header for c in ext.columns]
        header[1] = "เลขบัตร"  # renamed column
        data = encode_extract(ext, rows, header_override=header)
    elif problem == "encoding":
        data = encode_extract(ext, rows, encoding_override="cp874")
    write_drop(sources, "msdhs", D, {ext.file: data}, **kwargs)
    before = q(warehouse, "select count(*) from raw.msdhs__volunteers")[0][0]
    res = ingest.ingest_extract(warehouse, sources, "msdhs", "volunteers", D)
    assert res.status == "rejected" and res.failed
    assert res.rows_in == res.rows_rejected == 3 and res.rows_loaded == 0
    assert q(warehouse, "select count(*) from raw.msdhs__volunteers")[0][0] == before
    expected = {"sha256": "manifest_sha256", "rows": "manifest_rows", "drift": "schema_drift",
                "encoding": "encoding"}[problem]
    assert f"[{expected}]" in res.reason and ext.file in res.reason
    if problem == "drift":
        assert "เลขประจำตัวประชาชน (national_id)" in res.reason and "เลขบัตร" in res.reason
    kept = welfare_home / "quarantine" / "files" / "msdhs" / D.isoformat() / ext.file
    assert kept.read_bytes() == data
    # a second look at the same rejected file records nothing new
    n_audit = q(warehouse, "select count(*) from audit.file_audit")[0][0]
    assert ingest.ingest_extract(warehouse, sources, "msdhs", "volunteers", D).status == "rejected"
    assert q(warehouse, "select count(*) from audit.file_audit")[0][0] == n_audit
