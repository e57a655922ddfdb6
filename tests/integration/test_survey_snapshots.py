"""The BMN survey's snapshot and incremental fact read only deliveries they have not captured yet
(macros/new_deliveries.sql). Over three nights — a first delivery, a night without one, a second
delivery that drops a key, changes one and sends one invalid — the history and the fact must be what
a plain full comparison would give. Real ingest, real dbt, in a database of its own."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest
from generate_helpers import encode_extract
from warehouse_helpers import building_schema, fresh_database
from welfare import contract, ingest
from welfare.generate.sink import write_manifest
from welfare.orchestration import tasks
from welfare.warehouse.sql import connect

EXT = contract.extract("cdd", "bmn_indicators")
NIGHTS = [date(2021, 9, 27), date(2021, 9, 28), date(2021, 9, 29)]
MODELS = ["stg_cdd__bmn_households", "stg_cdd__bmn_indicators", "fct_bmn_indicator_results"]


def deliver(root: Path, day: date, rows: list[dict]) -> None:
    folder = root / "cdd" / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    data = encode_extract(EXT, rows)
    (folder / EXT.file).write_bytes(data)
    write_manifest(folder, "cdd", day.isoformat(),
                   [{"name": EXT.file, "rows": len(rows), "sha256": hashlib.sha256(data).hexdigest()}])


def result(household: str, indicator: int, value: str) -> dict:
    return {"survey_year": "2564", "household_code": household, "indicator_no": str(indicator), "result": value}


@pytest.fixture(scope="module")
def survey_db(warehouse):
    return fresh_database(warehouse, "survey_snapshots")


def q(target, sql):
    with connect(target.dsn) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def night(target, sources: Path, day: date, rows: list[dict] | None) -> None:
    if rows is not None:
        deliver(sources, day, rows)
        res = ingest.ingest_extract(target, sources, "cdd", "bmn_indicators", day, threshold=1.0)
        assert res.status == "loaded", res
    tasks.run_dbt(target, ["run", "--select", *MODELS])
    tasks.run_dbt(target, ["snapshot", "--select", "snp_cdd__bmn_indicators"])


def test_survey_history_from_new_deliveries_only(survey_db, tmp_path):
    first = [result("60010101001", 1, "ผ่าน"), result("60010101001", 2, "ไม่ผ่าน"),
             result("60010101002", 1, "ผ่าน"), result("60010101002", 2, "ผ่าน")]
    night(survey_db, tmp_path, NIGHTS[0], first)
    history = ("select household_code, indicator_no, result, dbt_valid_to is null "
               "from snapshots.snp_cdd__bmn_indicators")
    versions = "select *, null from snapshots.snp_cdd__bmn_indicators"
    # the fact as the three nights' runs built it, into the generation being built (a selection of models is
    # never published: the gate wants the whole project)
    fact = ("select household_code, indicator_no, result, load_id "
            f"from {building_schema(survey_db, 'marts')}.fct_bmn_indicator_results")
    assert len(q(survey_db, history)) == 4 and len(q(survey_db, fact)) == 4

    # a night without a delivery: nothing read, nothing changed
    before = (sorted(map(str, q(survey_db, versions))), sorted(q(survey_db, fact)))
    night(survey_db, tmp_path, NIGHTS[1], None)
    assert (sorted(map(str, q(survey_db, versions))), sorted(q(survey_db, fact))) == before

    # the next delivery: (001, 2) now passes, (002, 1) is gone, (002, 2) arrives invalid (quarantined)
    second = [result("60010101001", 1, "ผ่าน"), result("60010101001", 2, "ผ่าน"),
              result("60010101002", 2, "ผ่านแล้ว")]
    night(survey_db, tmp_path, NIGHTS[2], second)
    got = sorted(q(survey_db, history))
    assert got == sorted([
        ("60010101001", 1, "ผ่าน", True),
        ("60010101001", 2, "ไม่ผ่าน", False), ("60010101001", 2, "ผ่าน", True),   # changed: two versions
        ("60010101002", 1, "ผ่าน", False),                                        # deleted: window closed
        ("60010101002", 2, "ผ่าน", True),                                         # quarantined: stays as it was
    ])
    closed = q(survey_db, "select dbt_valid_to from snapshots.snp_cdd__bmn_indicators "
                          "where household_code = '60010101002' and indicator_no = 1")
    opened = q(survey_db, "select dbt_valid_from from snapshots.snp_cdd__bmn_indicators "
                          "where household_code = '60010101001' and indicator_no = 2 and result = 'ผ่าน'")
    assert closed == opened  # the deletion and the new version share the night's timestamp
    current = {(h, i): r for h, i, r, _ in q(survey_db, fact)}
    assert current == {("60010101001", 1): "ผ่าน", ("60010101001", 2): "ผ่าน", ("60010101002", 2): "ผ่าน"}
