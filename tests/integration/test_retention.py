"""The retention purge (welfare.retention, PDPA) on real deliveries: the real ingest into a database of its
own, the real dbt staging view and snapshot of one extract, then purges with ``now`` moved on.

msdhs.volunteers (snapshot), drops A, B, C (600, 599, 598 days ago) and D (60 days ago, current):
V3 moves in B and V4 in D, a volunteer's national id is invalid in A (V7), in B (V8), and in C and D (V5), so V5's
current row falls back to its version in B. lao.allowance_payments (increment), two drops 600 and 599
days ago, one row quarantined. Two rejected files (kept 200 and 0 days ago), Data Docs and run logs.
Later a drop E (30 days ago) fixes V5 and moves V6; the purge 500 days on must wait for the snapshot to see E.
"""

from __future__ import annotations

import hashlib
import os
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from generate_helpers import encode_extract, national_id, write_drop
from warehouse_helpers import building_schema, fresh_database
from welfare import contract, ingest, retention
from welfare.orchestration import tasks
from welfare.warehouse import roles, secrets
from welfare.warehouse.sql import connect

VOL = contract.extract("msdhs", "volunteers")
PAY = contract.extract("lao", "allowance_payments")
SNAPSHOT_BUILD = ["build", "--select", "stg_msdhs__volunteers", "snp_msdhs__volunteers",
                  "--resource-type", "model", "--resource-type", "snapshot"]
DAY = timedelta(days=1)


def q(target, sql, params=None):
    with connect(target.dsn) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def bad_id(good: str) -> str:
    return good[:-1] + str((int(good[-1]) + 1) % 10)  # the check digit broken


def volunteer(i: int, moved: bool = False, invalid: bool = False) -> dict:
    nid = national_id(random.Random(i), "6001")
    return {"volunteer_id": f"V{i}", "national_id": bad_id(nid) if invalid else nid,
            "subdistrict_code": "600102" if moved else "600101", "registered_on": date(2020, 1, 1) + i * DAY}


def volunteers(moved: set[int] = frozenset(), invalid: set[int] = frozenset()) -> list[dict]:
    return [volunteer(i, i in moved, i in invalid) for i in range(10)]


def payment(i: int, amount: str = "600.00", invalid: bool = False) -> dict:
    nid = national_id(random.Random(100 + i), "6001")
    return {"payment_id": f"P{i}", "lao_code": "6001001", "national_id": bad_id(nid) if invalid else nid,
            "allowance_type": "ELDERLY", "period": "2021-09", "amount": amount, "paid_on": "2021-09-10"}


def deliver(sources: Path, ext, day: date, rows: list[dict], manifest_rows: int | None = None):
    data = encode_extract(ext, rows)
    write_drop(sources, ext.system, day, {ext.file: data},
               rows={ext.file: len(rows) if manifest_rows is None else manifest_rows},
               sha={ext.file: hashlib.sha256(data).hexdigest()})
    return ingest.ingest_extract(DB["admin"], sources, ext.system, ext.name, day, threshold=1.0)


def aged(path: Path, now: datetime, days: int) -> Path:
    t = (now - timedelta(days=days)).timestamp()
    os.utime(path, (t, t), follow_symlinks=False)
    return path


def partitions(target, ext) -> set[int]:
    rows = q(target, "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid "
                     "where i.inhparent = %s::regclass", (f"raw.{ext.qualified_name}",))
    return {int(r[0].rsplit("__l", 1)[1]) for r in rows}


def quarantined(target, ext) -> dict[int, int]:
    return dict(q(target, "select load_id, count(*) from audit.quarantine where system = %s and extract = %s "
                          "group by load_id", (ext.system, ext.name)))


def current_state(target) -> list[tuple]:
    """The staging view as SNAPSHOT_BUILD built it (nothing is published here: the generation being built)."""
    return q(target, "select volunteer_id, national_id, subdistrict_code, load_id, is_stale "
                     f"from {building_schema(target, 'staging')}.stg_msdhs__volunteers order by volunteer_id")


def files_under(home: Path) -> set[str]:
    return {str(p.relative_to(home)) for p in home.rglob("*") if p.is_file() or p.is_symlink()}


def state(target, home: Path) -> dict:
    return {"vol": partitions(target, VOL), "pay": partitions(target, PAY), "vol_q": quarantined(target, VOL),
            "pay_q": quarantined(target, PAY), "files": files_under(home),
            "purges": q(target, "select count(*) from audit.retention_purge")[0][0],
            "kept_at": q(target, "select extract_date, kept_at from audit.file_audit where status = 'rejected' "
                                 "order by extract_date")}


DB: dict = {}


@pytest.fixture(scope="module")
def world(warehouse, tmp_path_factory):
    """Everything arranged and purged once; the tests read what was seen at each step."""
    db = fresh_database(warehouse, "retention")
    transformer = roles.role_target(db, "transformer", secrets.password("transformer"))
    key = secrets.pseudonym_key().hex()
    DB["admin"] = db
    home = tmp_path_factory.mktemp("retention_home")
    empty_home = tmp_path_factory.mktemp("retention_empty_home")
    sources = tmp_path_factory.mktemp("retention_sources")
    now = datetime.now(UTC)
    today = now.astimezone(ZoneInfo("Asia/Bangkok")).date()
    a, b, c, d, e = (today - n * DAY for n in (600, 599, 598, 60, 30))
    seen: dict = {"today": today, "dates": (a, b, c, d, e)}
    with pytest.MonkeyPatch.context() as mp:
        # the ingest writes its rejected files and Data Docs, and dbt its logs, under this module's own home
        mp.setenv("WELFARE_HOME", str(home))
        mp.setenv(secrets.KEY_ENV, key)
        loads = {}
        for day, rows in ((a, volunteers(invalid={7})), (b, volunteers(moved={3}, invalid={8})),
                          (c, volunteers(moved={3}, invalid={5})), (d, volunteers(moved={3, 4}, invalid={5}))):
            res = deliver(sources, VOL, day, rows)
            assert res.status == "loaded", res.reason
            loads[day] = res.load_id
        p1 = deliver(sources, PAY, a, [payment(i) for i in range(5)] + [payment(9, invalid=True)])
        p2 = deliver(sources, PAY, b, [payment(0, "700.00")])
        old_rej = deliver(sources, PAY, today - 400 * DAY, [payment(20)], manifest_rows=2)
        new_rej = deliver(sources, PAY, today - 10 * DAY, [payment(21)], manifest_rows=2)
        assert (p1.status, p2.status, old_rej.status, new_rej.status) == ("loaded", "loaded", "rejected", "rejected")
        tasks.run_dbt(db, SNAPSHOT_BUILD)  # the staging view, and the snapshot captures D
    seen.update(loads=loads, pay_loads={p1.load_id, p2.load_id})

    # arranged ages: the rejection of 400 days ago was kept 200 days ago (its files and its audit row); the
    # recent one's files look old too (copied with their times), but its audit row says it was kept today
    for folder in (today - 400 * DAY, today - 10 * DAY):
        for f in (home / "quarantine" / "files" / "lao" / folder.isoformat()).iterdir():
            aged(f, now, 200)
    with connect(db.dsn) as conn, conn.cursor() as cur:
        cur.execute("update audit.file_audit set finished_at = finished_at - interval '200 days' "
                    "where status = 'rejected' and extract_date = %s", (today - 400 * DAY,))
        conn.commit()
    docs = home / "data_docs"
    gx_file = next(p for p in sorted((docs / "gx" / "validations").rglob("*")) if p.is_file())
    aged(gx_file, now, 100)
    old_page = docs / "site" / "validations" / "old_suite" / "old_run" / "page.html"
    old_page.parent.mkdir(parents=True)
    old_page.write_text("old")
    aged(old_page, now, 100)
    outside = tmp_path_factory.mktemp("retention_outside") / "target.html"
    outside.write_text("not ours")
    aged(outside, now, 100)
    (docs / "site" / "link.html").symlink_to(outside)
    aged(docs / "site" / "link.html", now, 100)
    runs = home / "runs"
    runs.mkdir(exist_ok=True)
    (runs / "old.log").write_text("old")
    aged(runs / "old.log", now, 100)
    (runs / "new.log").write_text("new")
    task_log = home / "airflow" / "logs" / "dag_id=x" / "run_id=r" / "task_id=t" / "attempt=1.log"
    task_log.parent.mkdir(parents=True)
    task_log.write_text("old")
    aged(task_log, now, 100)
    mixed = home / "airflow" / "logs" / "dag_id=y"
    mixed.mkdir()
    (mixed / "old.log").write_text("old")
    aged(mixed / "old.log", now, 100)
    (mixed / "new.log").write_text("new")
    seen.update(gx_file=str(gx_file.relative_to(home)), outside=outside, home=home)

    seen["before"] = state(db, home)
    seen["current_before"] = current_state(db)
    seen["plan"] = retention.purge(transformer, home, now=now, dry_run=True, run_id="dry")
    seen["after_plan"] = state(db, home)
    seen["first"] = retention.purge(transformer, home, now=now, run_id="first")
    seen["after_first"] = state(db, home)
    seen["current_after"] = current_state(db)
    seen["records"] = q(db, "select run_id, category, object, system, extract, extract_date, load_id, rows_purged, "
                            "bytes_purged, reason from audit.retention_purge order by purge_id")
    seen["second"] = retention.purge(transformer, home, now=now, run_id="second")
    seen["after_second"] = state(db, home)

    # E fixes V5 and moves V6; 500 days on, without and then with the snapshot having seen E (files: an empty home)
    later = now + 500 * DAY
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WELFARE_HOME", str(home))
        mp.setenv(secrets.KEY_ENV, key)
        res = deliver(sources, VOL, e, volunteers(moved={3, 4, 6}))  # V6 moves: a new version
        assert res.status == "loaded", res.reason
        loads[e] = res.load_id
        seen["later_unseen"] = retention.purge(transformer, empty_home, now=later, run_id="later")
        seen["after_later_unseen"] = state(db, empty_home)
        tasks.run_dbt(db, SNAPSHOT_BUILD)
        seen["later_seen"] = retention.purge(transformer, empty_home, now=later, run_id="later-seen")
        seen["after_later_seen"] = state(db, empty_home)
        seen["current_later"] = current_state(db)
    return seen


def test_dry_run_plans_the_purge_and_changes_nothing(world):
    plan, first = world["plan"], world["first"]
    assert plan.dry_run and plan.purged
    assert [(p.category, p.object) for p in plan.purged] == [(p.category, p.object) for p in first.purged]
    assert world["after_plan"] == world["before"]  # no partition, row, file or record touched


def test_exactly_the_superseded_partitions_past_the_period_are_dropped(world):
    a, b, c, d, _ = world["dates"]
    ids = world["loads"]
    before, after = world["before"]["vol"], world["after_first"]["vol"]
    assert before == {ids[a], ids[b], ids[c], ids[d]}
    # A: superseded 599 days ago -> dropped; B: past the period, but V5 of the current load falls back to it;
    # C: superseded 60 days ago (within 400); D: current
    assert after == {ids[b], ids[c], ids[d]}
    assert [p.object for p in world["first"].of("raw_partition")] == [f"raw.msdhs__volunteers__l{ids[a]}"]
    (held,) = [k for k in world["first"].kept if k.category == "raw_partition"]
    assert held.load_id == ids[b] and "quarantined in the current load" in held.reason


def test_the_current_state_reads_the_same_rows_after_the_purge(world):
    rows = world["current_after"]
    assert rows == world["current_before"]
    v5 = [r for r in rows if r[0] == "V5"]
    assert v5 and v5[0][3:] == (world["loads"][world["dates"][1]], True)  # B's version, stale


def test_quarantined_rows_of_superseded_loads_past_the_period_go_and_the_current_ones_stay(world):
    a, b, c, d, _ = world["dates"]
    ids = world["loads"]
    assert world["before"]["vol_q"] == {ids[a]: 1, ids[b]: 1, ids[c]: 1, ids[d]: 1}
    # A's and B's (598+ days), not C's (60 days) nor the current load D's
    assert world["after_first"]["vol_q"] == {ids[c]: 1, ids[d]: 1}


def test_increments_are_never_purged(world):
    for step in ("after_first", "after_later_unseen", "after_later_seen"):
        assert world[step]["pay"] == world["pay_loads"], step
        assert sum(world[step]["pay_q"].values()) == 1, step
    assert not [p for r in ("first", "later_unseen", "later_seen") for p in world[r].purged
                if p.extract == "allowance_payments" and p.category != "rejected_file"]


def test_rejected_files_past_the_period_go_and_their_audit_keeps_the_reason(world):
    today = world["today"]
    old, new = (today - 400 * DAY).isoformat(), (today - 10 * DAY).isoformat()
    before, after = world["before"]["files"], world["after_first"]["files"]
    old_files = {f"quarantine/files/lao/{old}/allowance_payments.jsonl",
                 f"quarantine/files/lao/{old}/allowance_payments.jsonl.reason.txt"}
    new_files = {f.replace(old, new) for f in old_files}
    assert old_files | new_files <= before
    assert not old_files & after and new_files <= after
    kept_at = dict(world["after_first"]["kept_at"])
    assert kept_at[today - 400 * DAY] is None and kept_at[today - 10 * DAY].endswith("allowance_payments.jsonl")
    assert dict(world["before"]["kept_at"])[today - 400 * DAY] is not None
    assert {p.object for p in world["first"].of("rejected_file")} == old_files


def test_old_data_docs_and_run_logs_go_links_and_recent_files_stay(world):
    before, after = world["before"]["files"], world["after_first"]["files"]
    gone = {world["gx_file"], "data_docs/site/validations/old_suite/old_run/page.html", "runs/old.log",
            "airflow/logs/dag_id=x/run_id=r/task_id=t/attempt=1.log", "airflow/logs/dag_id=y/old.log"}
    assert gone <= before and not gone & after
    assert {"data_docs/site/link.html", "runs/new.log", "airflow/logs/dag_id=y/new.log",
            "data_docs/site/index.html"} <= after
    assert world["outside"].read_text() == "not ours"  # the link's target: never followed
    # emptied folders removed, the roots and a folder still holding a file kept
    home = world["home"]
    assert not (home / "data_docs/site/validations/old_suite").exists()
    assert not (home / "airflow/logs/dag_id=x").exists()
    assert (home / "airflow/logs/dag_id=y").is_dir() and (home / "airflow/logs").is_dir() and (home / "runs").is_dir()
    assert {p.category for p in world["first"].purged} == {"raw_partition", "quarantine_rows", "rejected_file",
                                                          "data_docs", "run_log"}


def test_every_purge_has_its_record(world):
    records = world["records"]
    first = world["first"].purged
    assert len(records) == len(first)
    assert [(r[1], r[2]) for r in records] == [(p.category, p.object) for p in first]
    assert {r[0] for r in records} == {"first"}
    ids = world["loads"]
    a = world["dates"][0]
    raw = [r for r in records if r[1] == "raw_partition"]
    assert [(r[3], r[4], r[5], r[6], r[7]) for r in raw] == [("msdhs", "volunteers", a, ids[a], 10 - 1)]
    assert raw[0][8] > 0 and "WELFARE_RETENTION_RAW_DAYS" in raw[0][9] and "superseded on" in raw[0][9]
    quar = [r for r in records if r[1] == "quarantine_rows"]
    assert sorted(r[6] for r in quar) == sorted([ids[a], ids[world["dates"][1]]]) and {r[7] for r in quar} == {1}
    assert all("WELFARE_RETENTION_QUARANTINE_DAYS" in r[9] for r in quar)
    files = [r for r in records if r[1] in ("rejected_file", "data_docs", "run_log")]
    assert files and all(r[8] is not None and "days" in r[9] for r in files)


def test_a_second_purge_purges_nothing_new(world):
    assert world["second"].purged == []
    assert world["after_second"] == world["after_first"]


def test_a_later_purge_waits_for_the_snapshot_to_capture_the_newer_load(world):
    _, b, c, d, e = world["dates"]
    ids = world["loads"]
    # E fixed V5: B is no longer fallen back to; C is past the period; D is superseded by E, but the snapshot
    # has not captured E yet: D and its quarantined rows stay
    assert world["after_later_unseen"]["vol"] == {ids[d], ids[e]}
    assert world["after_later_unseen"]["vol_q"] == {ids[d]: 1}
    held = {(k.category, k.load_id) for k in world["later_unseen"].kept}
    assert held == {("raw_partition", ids[d]), ("quarantine_rows", ids[d])}
    assert all("has captured no later load" in k.reason for k in world["later_unseen"].kept)
    # the snapshot has seen E: D goes; the current load E stays, and its state is whole
    assert world["after_later_seen"]["vol"] == {ids[e]}
    assert world["after_later_seen"]["vol_q"] == {}
    assert [r[3] for r in world["current_later"]] == [ids[e]] * 10
    assert not any(r[4] for r in world["current_later"])


def test_periods_come_from_the_environment_and_a_bad_one_is_refused():
    assert retention.retention_periods({}) == {"raw": 400, "quarantine": 180, "rejected_files": 180,
                                               "data_docs": 90, "run_logs": 90}
    got = retention.retention_periods({"WELFARE_RETENTION_RAW_DAYS": "30", "WELFARE_RETENTION_RUN_LOGS_DAYS": " 7 "})
    assert (got["raw"], got["run_logs"], got["quarantine"]) == (30, 7, 180)
    for bad in ("0", "-5", "ten", "1.5"):
        with pytest.raises(retention.RetentionError, match="WELFARE_RETENTION_DATA_DOCS_DAYS"):
            retention.retention_periods({"WELFARE_RETENTION_DATA_DOCS_DAYS": bad})
