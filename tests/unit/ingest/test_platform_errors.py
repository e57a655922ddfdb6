"""A file is rejected for what it holds, never because the warehouse was out of reach: the loader tells
the two apart (welfare.ingest.load.is_platform_error), and only the latter is raised for a retry."""

from __future__ import annotations

import psycopg2
import pytest
import sqlalchemy as sa
from great_expectations.datasource.fluent.interfaces import TestConnectionError
from welfare.ingest.load import is_platform_error


def _raised(make):
    try:
        make()
    except BaseException as exc:  # noqa: BLE001 (the test looks at whatever was raised)
        return exc
    raise AssertionError("nothing was raised")


def _chained():
    try:
        raise psycopg2.OperationalError('FATAL: too many connections for role "welfare_loader"')
    except psycopg2.OperationalError as inner:
        raise RuntimeError("validating raw.x failed") from inner


@pytest.mark.parametrize("make", [
    lambda: (_ for _ in ()).throw(TestConnectionError("Attempt to connect to datasource failed")),
    lambda: sa.create_engine("postgresql+psycopg2://nobody@127.0.0.1:1/none").connect(),
    _chained,
    lambda: (_ for _ in ()).throw(ConnectionResetError("reset by peer")),
], ids=["gx-test-connection", "sqlalchemy-refused", "chained-psycopg2", "socket-reset"])
def test_a_connection_failure_is_the_platform_s(make):
    assert is_platform_error(_raised(make))


@pytest.mark.parametrize("exc", [ValueError("bad date"), UnicodeDecodeError("cp874", b"\xff", 0, 1, "x"),
                                 KeyError("column"), psycopg2.errors.InvalidTextRepresentation("bad int")],
                         ids=["value", "decode", "key", "data-error-from-the-server"])
def test_a_problem_with_the_file_is_not(exc):
    assert not is_platform_error(exc)
