"""How each part of the project reaches the warehouse, and as whom.

- A deployed PostgreSQL: ``WELFARE_WAREHOUSE_URI`` names the server and database (no credentials:
  ``postgresql://warehouse:5432/welfare``); each role's password comes from
  ``WELFARE_<ROLE>_PASSWORD``. The set-up alone uses the superuser, ``WELFARE_ADMIN_URI``.
- Otherwise the embedded cluster under ``$WELFARE_HOME``, started on demand; the passwords are the
  generated ones in ``$WELFARE_HOME/secrets``.
"""

from __future__ import annotations

import dataclasses
import os

from welfare.settings import PgTarget
from welfare.warehouse import roles, secrets


def admin_target() -> PgTarget:
    """The superuser, for the set-up only."""
    if os.environ.get("WELFARE_ADMIN_URI"):
        return PgTarget.from_uri(os.environ["WELFARE_ADMIN_URI"])
    from welfare.warehouse.embedded import EmbeddedWarehouse

    return EmbeddedWarehouse.default().start()


def server() -> PgTarget:
    """Where the warehouse is (host, port, database), with no credentials of a role."""
    if os.environ.get("WELFARE_WAREHOUSE_URI"):
        where = PgTarget.from_uri(os.environ["WELFARE_WAREHOUSE_URI"])
    else:
        where = admin_target()  # starts the embedded cluster
    return dataclasses.replace(where, user="", password="")


def role_target(role: str, base: PgTarget | None = None) -> PgTarget:
    """The warehouse as ``role`` (a short name such as ``analyst``, or a caseworker login)."""
    return roles.role_target(base or server(), role, secrets.password(role))


def setup() -> PgTarget:
    """Roles, schemas, grants and the ingest's DDL (idempotent); returns the superuser's target."""
    admin = admin_target()
    roles.setup(admin, secrets.password)
    return admin
