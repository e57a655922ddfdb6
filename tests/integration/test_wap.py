"""Write, audit, publish (welfare.warehouse.wap) on a real warehouse: a small clean province, the real
ingest and the real `dbt build` into the generation readers do not see, published in one transaction.

One world, built in order: an older warehouse's tables in marts; night 1 built and published (blue); night 2
loaded, then built with the drill's failing test (nothing published, readers unchanged); built again and
published (green); night 3 loaded and built (blue), published while readers read and one holds a long
transaction."""

from __future__ import annotations

import threading
import time
from datetime import date

import psycopg2
import pytest
from psycopg2 import errors
from warehouse_helpers import fresh_database
from welfare import contract, ingest
from welfare.generate import GenerateOptions, generate
from welfare.generate.drops import parse_drops
from welfare.orchestration import tasks
from welfare.warehouse import connections, roles, secrets, wap
from welfare.warehouse.sql import connect

NIGHTS = [date(2021, 9, 27), date(2021, 9, 28), date(2021, 9, 29)]
DRILL = ["--vars", "{wap_drill_fail: true}"]
CASEWORKER = "cw_wap_test"


def q(target, sql, params=None):
    with connect(target.dsn) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall() if cur.description else None


def load_night(target, sources, day: date) -> None:
    for system, sysdef in contract.systems().items():
        folder = sources / system / day.isoformat()
        for name, ext in sysdef.extracts.items():
            if (folder / ext.file).exists():
                res = ingest.ingest_extract(target, sources, system, name, day, threshold=1.0)
                assert res.status in ("loaded", "resent"), (system, name, res.reason)


def readers_view(db) -> dict:
    """What the readers read, each as itself: the BI tool, an analyst, a caseworker."""
    bi, analyst, cw = (connections.role_target(r, base=db) for r in ("bi_reader", "analyst", CASEWORKER))
    digest = ("select count(*), md5(coalesce(string_agg(t::text, '|' order by t::text), '')) from {} as t")
    return {
        "kpi_values": q(bi, digest.format("marts.kpi_values"))[0],
        "measurements": q(bi, "select drop_date, area_code, persons, complete_persons from "
                              "marts.person_register_measurements order by 1, 2"),
        "payments": q(analyst, digest.format("marts.fct_allowance_payments"))[0],
        "improper": q(cw, "select payment_id, district_code from restricted.improper_allowance_payments order by 1"),
    }


def denied(target, sql) -> bool:
    try:
        q(target, sql)
    except errors.InsufficientPrivilege:
        return True
    return False


def publishes(db) -> int:
    return q(db, "select count(*) from audit.warehouse_publish")[0][0]


@pytest.fixture(scope="module")
def world(warehouse, tmp_path_factory):
    db = fresh_database(warehouse, "wap")
    transformer = roles.role_target(db, "transformer", secrets.password("transformer"))
    sources = tmp_path_factory.mktemp("wap_sources")
    drops, resends = parse_drops(",".join(d.isoformat() for d in NIGHTS))
    # the defects only the warehouse finds: the caseworkers' list of improper payments has rows
    generate(GenerateOptions(out=sources, scale=0.002, seed=11, drops=drops, resends=resends,
                             defects="paid_after_death=0.02,duplicate_payment=0.02,underage_elderly=0.02"))
    seen: dict = {"db": db, "transformer": transformer}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(secrets.KEY_ENV, secrets.pseudonym_key().hex())
        # an older warehouse: dbt built its tables straight into marts; the first publish replaces them
        q(db, "create table marts.kpi_values (kpi_code text); insert into marts.kpi_values values ('old'); "
              "create table marts.gone_from_the_project (x int); "
              f"create schema staging authorization {roles.OWNER}; create view staging.stg_old as select 1 as x")
        load_night(db, sources, NIGHTS[0])
        seen["first"] = tasks.build_and_publish(transformer, ["--fail-fast"], run_id="night-1")
        (district,) = q(db, "select district_code from restricted_blue.improper_allowance_payments "
                            "where district_code is not null group by 1 order by count(*) desc, 1 limit 1")[0]
        seen["district"] = district
        roles.grant_districts(db, CASEWORKER, [district], secrets.password(CASEWORKER), granted_by="test")
        seen["night1"] = readers_view(db)
        seen["publishes_after_first"] = publishes(db)

        load_night(db, sources, NIGHTS[1])
        try:
            tasks.build_and_publish(transformer, ["--fail-fast", *DRILL], run_id="night-2-drill")
        except wap.BuildFailed as exc:
            seen["drill"] = exc
        seen["after_drill"] = readers_view(db)
        seen["publishes_after_drill"] = publishes(db)
        seen["published_after_drill"] = wap.published(db)
        bi = connections.role_target("bi_reader", base=db)
        seen["bi_reads_green"] = not denied(bi, "select count(*) from marts_green.kpi_values")
        seen["bi_reads_blue"] = not denied(bi, "select count(*) from marts_blue.kpi_values")

        seen["second"] = tasks.build_and_publish(transformer, ["--fail-fast"], run_id="night-2",
                                                 night={"drop_date": "2021-09-28", "missing": []})
        seen["night2"] = readers_view(db)
        seen["building_after_second"] = wap.building_color(db)
        seen["bi_reads_green_now"] = not denied(bi, "select count(*) from marts_green.kpi_values")
        seen["bi_reads_blue_now"] = not denied(bi, "select count(*) from marts_blue.kpi_values")
        # the next night's build (blue again), published by the lock tests
        load_night(db, sources, NIGHTS[2])
        seen["third"] = wap.build(transformer, ["--fail-fast"], run_id="night-3")
        yield seen


def test_a_build_publishes_its_generation_and_replaces_an_older_warehouses_tables(world):
    db, first = world["db"], world["first"]
    assert first["generation"] == "blue" and first["previous_generation"] is None
    assert "marts.kpi_values" in first["relations"] and "restricted.person_register" in first["relations"]
    assert first["dbt_seconds"] > 0 and first["publish_seconds"] >= 0
    kinds = dict(q(db, "select c.relname, c.relkind::text from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                       "where n.nspname = 'marts'"))
    assert set(kinds.values()) == {"v"} and "gone_from_the_project" not in kinds  # the older tables are gone
    assert {f"marts.{r}" for r in kinds} == {r for r in first["relations"] if r.startswith("marts.")}
    assert q(db, "select count(*) from pg_namespace where nspname in ('staging', 'intermediate')") == [(0,)]
    ((gen, dd, rels, latest, inv, run_id),) = q(db, "select generation, drop_date, relations, latest_extracts, "
                                                    "dbt_invocation_id, run_id from audit.warehouse_publish "
                                                    "where build_id = %s", (first["build_id"],))
    assert (gen, dd, run_id) == ("blue", NIGHTS[0], "night-1") and sorted(rels) == first["relations"]
    assert set(latest) == set(contract.systems()) and inv == first["dbt_invocation_id"]
    assert world["night1"]["kpi_values"][0] > 0 and world["night1"]["payments"][0] > 0


def test_every_view_has_its_relations_grants_and_comments_and_reads_as_the_reader(world):
    db = world["db"]
    color = wap.published(db)
    acl = ("select coalesce(array_agg(pg_get_userbyid(a.grantee) || ':' || a.privilege_type "
           "order by pg_get_userbyid(a.grantee), a.privilege_type), '{}') "
           "from pg_class c, aclexplode(c.relacl) a where c.oid = %s::regclass and a.grantee <> c.relowner")
    columns = ("select attname, col_description(attrelid, attnum) from pg_attribute "
               "where attrelid = %s::regclass and attnum > 0 and not attisdropped order by attnum")
    described = 0
    for rel in world["second"]["relations"]:
        layer, name = rel.split(".")
        source = f"{layer}_{color}.{name}"
        assert q(db, acl, (rel,)) == q(db, acl, (source,)), rel
        ((mine, its),) = q(db, "select obj_description(%s::regclass, 'pg_class'), "
                               "obj_description(%s::regclass, 'pg_class')", (rel, source))
        assert mine == its, rel
        ((opts, owner),) = q(db, "select reloptions, pg_get_userbyid(relowner) from pg_class where oid = %s::regclass",
                             (rel,))
        assert "security_invoker=true" in opts and owner == roles.OWNER
        assert q(db, columns, (rel,)) == q(db, columns, (source,)), rel
        described += sum(1 for _, d in q(db, columns, (rel,)) if d)
    assert q(db, "select obj_description('marts.kpi_values'::regclass, 'pg_class')")[0][0]
    assert described > 20  # the columns' descriptions of the YAML reach the readers


def test_the_caseworkers_row_security_holds_through_the_published_view(world):
    db, district = world["db"], world["district"]
    color = wap.published(db)
    cw = connections.role_target(CASEWORKER, base=db)
    mine = q(cw, "select district_code, count(*) from restricted.improper_allowance_payments group by 1")
    exact = q(db, f"select count(*) from restricted_{color}.improper_allowance_payments where district_code = %s",
              (district,))[0][0]
    everyone = q(db, f"select count(*) from restricted_{color}.improper_allowance_payments")[0][0]
    assert all(d == district for d, _ in mine) and sum(n for _, n in mine) == exact
    assert 0 < exact < everyone  # the caseworker sees their district's rows, and only those
    for table in ("improper_allowance_payments", "unserved_poor_households", "eligible_persons_not_paid"):
        assert q(db, "select relrowsecurity and relforcerowsecurity from pg_class where oid = %s::regclass",
                 (f"restricted_{color}.{table}",))[0][0]
    assert denied(cw, "select count(*) from restricted.person_register")
    assert denied(connections.role_target("bi_reader", base=db), "select count(*) from marts.fct_allowance_payments")


def test_a_failing_test_publishes_nothing_and_readers_see_yesterday_unchanged(world):
    exc = world["drill"]
    assert isinstance(exc, wap.BuildFailed)
    assert "wap_drill_fails_the_build" in str(exc) and "nothing was published" in str(exc)
    assert world["publishes_after_drill"] == world["publishes_after_first"] == 1
    assert world["published_after_drill"] == "blue"
    assert world["after_drill"] == world["night1"]  # the BI tool's, the analyst's and the caseworker's reads
    assert {d for d, *_ in world["after_drill"]["measurements"]} == {NIGHTS[0]}  # the failed night is not shown
    assert not world["bi_reads_green"]  # the half-built generation cannot be read directly
    assert world["bi_reads_blue"]  # (the published one can: the views read it as the reader)
    db = world["db"]
    ((status, failures),) = q(db, "select status, failures from audit.warehouse_build where run_id = 'night-2-drill'")
    assert status == "failed" and any("wap_drill_fails_the_build" in f for f in failures)


def test_the_next_build_publishes_the_new_night_and_the_generations_swap(world):
    second = world["second"]
    assert (second["generation"], second["previous_generation"]) == ("green", "blue")
    assert world["building_after_second"] == "blue"
    assert world["bi_reads_green_now"] and not world["bi_reads_blue_now"]
    assert {d for d, *_ in world["night2"]["measurements"]} == set(NIGHTS[:2])
    assert world["night2"] != world["night1"]
    db = world["db"]
    assert q(db, "select generation, drop_date, night_date from audit.warehouse_publish order by publish_id") == [
        ("blue", NIGHTS[0], None), ("green", NIGHTS[1], NIGHTS[1])]  # the night, when the nightly chain says
    # the failed build's rows of the shared history were forgotten by the build after it
    builds = {b for (b,) in q(db, "select distinct build_id from history.int_person_register_measurements")}
    assert builds == {world["first"]["build_id"], second["build_id"], world["third"]["build_id"]}


def _fingerprint(cur) -> tuple:
    cur.execute("select md5(string_agg(t::text, '|' order by t::text)) from marts.kpi_values as t")
    kpi = cur.fetchone()[0]
    cur.execute("select max(drop_date), count(*) from marts.person_register_measurements")
    return kpi, *cur.fetchone()


def test_a_reader_holding_a_transaction_keeps_its_night_and_the_publish_waits_then_gives_up(world):
    """A reader in a REPEATABLE READ transaction opened before the publish reads the same night throughout;
    the publish waits for it, then gives up, naming it, and has changed nothing."""
    db, third = world["db"], world["third"]
    bi = connections.role_target("bi_reader", base=db)
    reader = psycopg2.connect(bi.dsn)
    reader.set_session(isolation_level="REPEATABLE READ")
    try:
        with reader.cursor() as cur:
            before = _fingerprint(cur)
            with pytest.raises(wap.PublishBlocked, match="welfare_bi_reader"):
                wap.publish(world["transformer"], third, lock_timeout_s=0.5, attempts=2)
            assert _fingerprint(cur) == before
        reader.commit()
    finally:
        reader.close()
    assert wap.published(db) == "green" and publishes(db) == 2


def test_the_switch_is_atomic_for_readers_and_the_publish_waits_for_a_long_reader(world):
    """While readers keep reading, each in its own transaction, and one holds a long one, the publish
    waits, retries and switches: every transaction saw the night before or the new night, never a mix."""
    db, third = world["db"], world["third"]
    bi = connections.role_target("bi_reader", base=db)
    with connect(bi.dsn) as conn, conn.cursor() as cur:
        old = _fingerprint(cur)
    seen: set[tuple] = set()
    stop = threading.Event()

    def keep_reading() -> None:
        with connect(bi.dsn) as conn:
            conn.set_session(isolation_level="REPEATABLE READ")
            while not stop.is_set():
                with conn.cursor() as cur:
                    seen.add(_fingerprint(cur))
                conn.commit()

    readers = [threading.Thread(target=keep_reading) for _ in range(3)]
    long_reader = psycopg2.connect(bi.dsn)
    long_reader.set_session(isolation_level="REPEATABLE READ")
    result: dict = {}

    def publish() -> None:
        try:
            result["out"] = wap.publish(world["transformer"], third, lock_timeout_s=1.0, attempts=20)
        except Exception as exc:  # reported below
            result["error"] = exc

    try:
        with long_reader.cursor() as cur:
            held = _fingerprint(cur)
            for t in readers:
                t.start()
            publisher = threading.Thread(target=publish)
            publisher.start()
            time.sleep(2.5)  # the publish is waiting for the long reader
            assert publisher.is_alive() and wap.published(db) == "green"
            assert _fingerprint(cur) == held == old
        long_reader.commit()
        publisher.join(60)
    finally:
        stop.set()
        for t in readers:
            t.join(30)
        long_reader.close()
    assert "error" not in result, result.get("error")
    assert result["out"]["generation"] == "blue" and result["out"]["attempts"] > 1
    with connect(bi.dsn) as conn, conn.cursor() as cur:
        new = _fingerprint(cur)
    assert new != old
    assert seen <= {old, new} and old in seen
    # publishing the same build again changes nothing
    again = wap.publish(world["transformer"], third)
    assert again["attempts"] == 0 and publishes(db) == 3


def test_a_partial_build_is_not_published(world):
    """(Last: it is a newer build of the unpublished generation, so the last build can no longer be published.)"""
    transformer = world["transformer"]
    with pytest.raises(wap.BuildFailed, match="were not built by this build"):
        wap.build(transformer, ["--select", "stg_msdhs__volunteers"], run_id="partial")
    assert wap.published(world["db"]) == "blue"
    with pytest.raises(wap.WapError, match="only a build that passed"):
        wap.publish(transformer, {"build_id": q(world["db"], "select build_id from audit.warehouse_build "
                                                            "where run_id = 'partial'")[0][0], "generation": "green"})


def test_dbt_refuses_to_build_the_published_generation(world):
    """Even run by hand with the published generation named, dbt stops at its start (on-run-start)."""
    db, transformer = world["db"], world["transformer"]
    live = wap.published(db)
    view = f"{wap.schema_of('staging', live)}.stg_audit__load_ledger"
    before = q(db, "select oid from pg_class where oid = %s::regclass", (view,))
    with pytest.raises(RuntimeError, match="failed"):
        tasks.run_dbt(transformer, ["run", "--select", "stg_audit__load_ledger"], color=live)
    assert q(db, "select oid from pg_class where oid = %s::regclass", (view,)) == before  # not replaced
