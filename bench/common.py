"""What the benchmarks share: a fresh database on the embedded cluster, and the files of one drop."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

from welfare import contract
from welfare.contract import Extract
from welfare.settings import PgTarget
from welfare.warehouse.sql import connect


def recreate_database(admin: PgTarget, name: str) -> PgTarget:
    """Database ``name`` dropped and created again, empty; the target that reaches it."""
    with connect(admin.dsn, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f'drop database if exists "{name}" with (force)')
        cur.execute(f'create database "{name}"')
    return PgTarget(admin.host, admin.port, admin.user, name, admin.password)


def drop_files(sources: Path, day: date) -> Iterator[tuple[str, str, Extract, Path]]:
    """(system, extract name, extract, path) of every extract file the drop of ``day`` holds."""
    for system, sysdef in contract.systems().items():
        folder = sources / system / day.isoformat()
        for name, ext in sysdef.extracts.items():
            if (folder / ext.file).exists():
                yield system, name, ext, folder / ext.file
