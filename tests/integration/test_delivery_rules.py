"""The contract's delivery rules (sources.yml): a re-send is recognised by its manifest, a key twice in
one file leaves its previous valid version standing, and a snapshot that shrinks too far is refused
until an operator accepts it. Real ingest, real dbt, in a database of its own."""

from __future__ import annotations

import hashlib
import random
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest
from generate_helpers import encode_extract, national_id
from warehouse_helpers import building_schema, fresh_database
from welfare import contract, ingest
from welfare.generate.sink import write_manifest
from welfare.orchestration import tasks
from welfare.warehouse.sql import connect

VOL = contract.extract("msdhs", "volunteers")
PAY = contract.extract("lao", "allowance_payments")


@pytest.fixture(scope="module")
def db(warehouse):
    return fresh_database(warehouse, "delivery_rules")


def q(target, sql, params=None):
    with connect(target.dsn) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def deliver(root: Path, ext, day: date, rows: list[dict]) -> Path:
    folder = root / ext.system / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    data = encode_extract(ext, rows)
    (folder / ext.file).write_bytes(data)
    write_manifest(folder, ext.system, day.isoformat(),
                   [{"name": ext.file, "rows": len(rows), "sha256": hashlib.sha256(data).hexdigest()}])
    return folder


def volunteer(i: int, subdistrict: str = "600101") -> dict:
    return {"volunteer_id": f"V{i:05d}", "national_id": national_id(random.Random(i), "6001"),
            "subdistrict_code": subdistrict, "registered_on": date(2020, 1, 1) + timedelta(days=i % 300)}


def payment(i: int, amount: str = "600.00") -> dict:
    return {"payment_id": f"P{i:05d}", "lao_code": "6001001", "national_id": national_id(random.Random(i), "6001"),
            "allowance_type": "ELDERLY", "period": "2021-09", "amount": amount, "paid_on": "2021-09-10"}


def load(target, sources, ext, day, **kw):
    return ingest.ingest_extract(target, sources, ext.system, ext.name, day, threshold=1.0, **kw)


def latest_delivery(target, ext) -> date:
    return q(target, "select max(extract_date) from audit.load_ledger where system = %s and extract = %s",
             (ext.system, ext.name))[0][0]


# ---------------------------------------------------------------- re-sends
def test_a_resent_drop_is_recognised_by_its_manifest_even_after_a_newer_drop(db, tmp_path):
    sources = tmp_path
    a, b, c = date(2022, 1, 1), date(2022, 1, 2), date(2022, 1, 5)
    first = deliver(sources, VOL, a, [volunteer(i) for i in range(5)])
    res_a = load(db, sources, VOL, a)
    deliver(sources, VOL, b, [volunteer(i) for i in range(3, 9)])
    assert load(db, sources, VOL, b).status == "loaded"
    shutil.copytree(first, sources / "msdhs" / c.isoformat())  # drop a, re-sent under the folder of c
    ledger = q(db, "select count(*) from audit.load_ledger")
    res = load(db, sources, VOL, c)
    assert (res.status, res.resends_date, res.resent_of) == ("resent", a.isoformat(), res_a.load_id)
    assert res.rows_in == res.rows_resent == 5 and res.rows_loaded == 0
    assert q(db, "select count(*) from audit.load_ledger") == ledger  # nothing loaded
    assert latest_delivery(db, VOL) == b  # the state of b stands
    ((status, resends),) = q(db, "select status, resends_date from audit.file_audit where extract_date = %s", (c,))
    assert (status, resends) == ("resent", a)
    assert load(db, sources, VOL, c).status == "resent"  # a rerun records nothing more
    assert q(db, "select count(*) from audit.file_audit where extract_date = %s", (c,)) == [(1,)]


# ---------------------------------------------------------------- duplicate keys
def test_a_duplicate_key_keeps_its_previous_valid_version_in_snapshots_and_increments(db, tmp_path):
    sources = tmp_path
    n1, n2 = date(2022, 2, 1), date(2022, 2, 2)
    vols = [volunteer(i) for i in range(100, 110)]
    pays = [payment(i) for i in range(100, 110)]
    deliver(sources, VOL, n1, vols)
    deliver(sources, PAY, n1, pays)
    assert load(db, sources, VOL, n1).status == load(db, sources, PAY, n1).status == "loaded"
    # night 2: V00101 twice (a move to another subdistrict, twice, with differing dates), P00101 twice
    moved = [dict(vols[1], subdistrict_code="600102"), dict(vols[1], subdistrict_code="600103")]
    deliver(sources, VOL, n2, [*vols[:1], *moved, *vols[2:]])
    deliver(sources, PAY, n2, [payment(101, "700.00"), payment(101, "800.00"), payment(102, "650.00")])
    r_vol, r_pay = load(db, sources, VOL, n2), load(db, sources, PAY, n2)
    assert (r_vol.rows_quarantined, r_pay.rows_quarantined) == (2, 2)
    assert set(r_vol.quarantined_by_rule) == {"duplicate_key"}
    tasks.run_dbt(db, ["run", "--select", "stg_msdhs__volunteers", "stg_lao__allowance_payments"])
    staging = building_schema(db, "staging")  # the views just built (nothing is published here)
    (vol,) = q(db, f"select subdistrict_code, is_stale from {staging}.stg_msdhs__volunteers "
                   "where volunteer_id = 'V00101'")
    assert vol == ("600101", True)  # night 1's version stands
    assert q(db, f"select count(*) from {staging}.stg_msdhs__volunteers")[0][0] == 10
    got = dict(q(db, f"select payment_id, amount::text from {staging}.stg_lao__allowance_payments "
                     "where payment_id in ('P00101', 'P00102')"))
    assert got == {"P00101": "600.00", "P00102": "650.00"}  # P00101: night 1 stands; P00102: corrected


# ---------------------------------------------------------------- snapshot shrink
def test_a_shrinking_snapshot_is_refused_until_accepted(db, tmp_path, capsys):
    from welfare.cli import main

    sources = tmp_path
    n1, n2, n3 = date(2022, 3, 1), date(2022, 3, 2), date(2022, 3, 3)
    deliver(sources, VOL, n1, [volunteer(i) for i in range(1000, 1200)])  # 200 keys
    assert load(db, sources, VOL, n1).status == "loaded"
    # 80 of 200 keys: 120 deleted, more than half -> refused without reading further
    deliver(sources, VOL, n2, [volunteer(i) for i in range(1000, 1080)])
    res = load(db, sources, VOL, n2)
    assert (res.status, res.rule) == ("rejected", "snapshot_shrink") and "120" in res.reason
    assert latest_delivery(db, VOL) == n1  # the previous state stands
    # as many rows as before, but 150 of them new keys: 150 deleted -> refused by the exact count
    deliver(sources, VOL, n3, [volunteer(i) for i in range(1150, 1350)])
    res3 = load(db, sources, VOL, n3)
    assert (res3.status, res3.rule) == ("rejected", "snapshot_shrink") and "150" in res3.reason
    assert latest_delivery(db, VOL) == n1
    assert load(db, sources, VOL, n2).status == "rejected"  # a rerun: still refused, recorded once
    assert q(db, "select count(*) from audit.file_audit where extract_date = %s", (n2,)) == [(1,)]

    # the operator accepts night 2 (the registry really shrank): recorded, then it loads
    env_uri = db.uri
    import os

    os.environ["WELFARE_WAREHOUSE_URI"] = env_uri
    try:
        assert main(["accept", "--system", "msdhs", "--extract", "volunteers", "--date", n2.isoformat(),
                     "--sources", str(sources), "--by", "somchai", "--note", "registry cleaned"]) == 0
    finally:
        del os.environ["WELFARE_WAREHOUSE_URI"]
    assert "accepted" in capsys.readouterr().out
    ((who, sha, note),) = q(db, "select accepted_by, sha256, note from audit.accepted_delivery "
                                "where extract_date = %s", (n2,))
    assert (who, note) == ("somchai", "registry cleaned")
    assert sha == hashlib.sha256((sources / "msdhs" / n2.isoformat() / VOL.file).read_bytes()).hexdigest()
    ((status, accepted_by, rows),) = q(db, "select status, accepted_by, rows_loaded from audit.file_audit "
                                           "where extract_date = %s and status = 'loaded'", (n2,))
    assert status == "loaded" and accepted_by.startswith("somchai") and rows == 80
    assert latest_delivery(db, VOL) == n2


def test_an_empty_snapshot_is_refused_and_the_dag_parameter_accepts_it(db, tmp_path):
    sources = tmp_path
    n1, n2 = date(2022, 4, 1), date(2022, 4, 2)
    media = contract.extract("msdhs", "media_works")
    rows = [{"media_id": f"M{i}", "title": "สื่อ", "category": "VIDEO", "submitted_on": date(2021, 5, 1),
             "decision": "PENDING"} for i in range(3)]
    deliver(sources, media, n1, rows)
    assert load(db, sources, media, n1).status == "loaded"
    deliver(sources, media, n2, [])  # the header only, with a consistent manifest
    res = load(db, sources, media, n2)
    assert (res.status, res.rule, res.rows_in) == ("rejected", "snapshot_shrink", 0)
    # a manual trigger of the ingest DAG with accept_snapshot_shrink = ["media_works"]
    context = {"params": {"accept_snapshot_shrink": []}, "run_id": "manual__1",
               "dag_run": type("Run", (), {"conf": {"accept_snapshot_shrink": ["media_works"]},
                                           "triggering_user_name": "nok"})()}
    who = tasks.acceptance_of(context, "media_works")
    assert who.startswith("nok") and tasks.acceptance_of(context, "volunteers") is None
    summary = tasks.load_extract(db, sources, "msdhs", "media_works", n2, run_id="manual__1", accepted_by=who)
    assert summary["status"] == "loaded" and summary["rows_in"] == 0
    assert q(db, "select accepted_by from audit.accepted_delivery where extract = 'media_works'") == [(who,)]
    assert latest_delivery(db, media) == n2
