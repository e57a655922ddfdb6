"""Bootstrap migrates a warehouse built by an earlier version, in a database of its own."""

from dataclasses import replace

import pytest
from welfare.warehouse import ddl
from welfare.warehouse.sql import connect


@pytest.fixture
def scratch(warehouse):
    name = "welfare_test_migrations"
    with connect(warehouse.dsn, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f"drop database if exists {name} with (force)")
        cur.execute(f"create database {name}")
    yield replace(warehouse, database=name)
    with connect(warehouse.dsn, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f"drop database if exists {name} with (force)")


def _query(target, sql):
    with connect(target.dsn) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def test_the_measurement_history_moves_out_of_marts_and_keeps_its_rows(scratch):
    with connect(scratch.dsn) as conn, conn.cursor() as cur:
        cur.execute("create schema marts")
        cur.execute("create table marts.person_register_measurements (drop_date date, area_code text, persons int)")
        cur.execute("insert into marts.person_register_measurements values ('2021-09-27', '60', 5), "
                    "('2021-09-28', '60', 6)")
        conn.commit()
    ddl.bootstrap(scratch.dsn)
    assert _query(scratch, "select to_regclass('marts.person_register_measurements')") == [(None,)]
    assert _query(scratch, "select drop_date::text, persons, build_id, measured_at "
                           "from history.int_person_register_measurements order by 1") == [
        ("2021-09-27", 5, None, None), ("2021-09-28", 6, None, None)]  # measured before builds were published
    ddl.bootstrap(scratch.dsn)  # again: nothing left to move, nothing lost
    assert _query(scratch, "select count(*) from history.int_person_register_measurements") == [(2,)]


def test_the_history_moves_out_of_the_intermediate_schema_with_the_view_over_it(scratch):
    """Before the two generations the mart was a view over intermediate.int_person_register_measurements: the
    history moves to the schema both generations share, and the view still reads it until the first publish."""
    with connect(scratch.dsn) as conn, conn.cursor() as cur:
        cur.execute("create schema marts; create schema intermediate")
        cur.execute("create table intermediate.int_person_register_measurements (drop_date date)")
        cur.execute("insert into intermediate.int_person_register_measurements values ('2021-09-27')")
        cur.execute("create view marts.person_register_measurements as "
                    "select * from intermediate.int_person_register_measurements")
        conn.commit()
    ddl.bootstrap(scratch.dsn)
    assert _query(scratch, "select relkind::text from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                           "where nspname = 'marts' and relname = 'person_register_measurements'") == [("v",)]
    assert _query(scratch, "select to_regclass('intermediate.int_person_register_measurements')") == [(None,)]
    assert _query(scratch, "select drop_date::text from marts.person_register_measurements") == [("2021-09-27",)]
    assert _query(scratch, "select count(*) from history.int_person_register_measurements") == [(1,)]


def test_bootstrap_makes_the_publish_records(scratch):
    ddl.bootstrap(scratch.dsn)
    cols = {t: {c for (c,) in _query(scratch, "select column_name from information_schema.columns "
                                              f"where table_schema = 'audit' and table_name = '{t}'")}
            for t in ("warehouse_build", "warehouse_publish")}
    assert {"build_id", "generation", "status", "failures", "dbt_invocation_id"} <= cols["warehouse_build"]
    assert {"build_id", "generation", "dbt_invocation_id", "run_id", "drop_date", "night_date", "started_at",
            "published_at", "relations", "latest_extracts"} <= cols["warehouse_publish"]
