"""SQL utilities: quoting identifiers and literals, and a connection to the warehouse."""

from __future__ import annotations

from contextlib import contextmanager


def q(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def sql_literal(s: str) -> str:
    """A quoted SQL string literal."""
    return "'" + s.replace("'", "''") + "'"


@contextmanager
def connect(dsn: str, autocommit: bool = False):
    import psycopg2

    conn = psycopg2.connect(dsn, application_name="welfare")
    conn.autocommit = autocommit
    try:
        yield conn
    finally:
        conn.close()
