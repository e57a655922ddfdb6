"""A database of a test module's own on the session's embedded cluster."""

from __future__ import annotations


def fresh_database(warehouse, name: str):
    """A database of its own on the session's cluster, dropped if it was there and set up (roles, schemas, grants): the
    tests that use it touch no other test's data."""
    import dataclasses

    from welfare.warehouse import roles, secrets
    from welfare.warehouse.sql import connect

    with connect(warehouse.dsn.replace(f"dbname={warehouse.database}", "dbname=postgres")) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"drop database if exists {name} with (force)")
            cur.execute(f"create database {name}")
    target = dataclasses.replace(warehouse, database=name)
    roles.setup(target, secrets.password)
    return target


def building_schema(target, layer: str) -> str:
    """Where dbt builds ``layer`` (staging, intermediate, marts, restricted) now: the generation readers do not
    see (welfare.warehouse.wap). Tests of a model's own logic that run dbt without publishing read it there."""
    from welfare.warehouse import wap

    return wap.schema_of(layer, wap.building_color(target))
