"""Shared fixtures: a real embedded PostgreSQL warehouse under a temporary WELFARE_HOME."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def welfare_home(tmp_path_factory) -> Path:
    home = Path(os.environ.get("WELFARE_TEST_HOME") or tmp_path_factory.mktemp("welfare_home"))
    os.environ["WELFARE_HOME"] = str(home)
    return home


@pytest.fixture(scope="session")
def warehouse(welfare_home):
    """A running PostgreSQL cluster started from the machine's server binaries and set up (roles, schemas,
    grants): the superuser's target, which tests use to arrange and inspect; the components connect
    as their roles."""
    from welfare.warehouse import roles, secrets
    from welfare.warehouse.embedded import EmbeddedWarehouse

    wh = EmbeddedWarehouse(welfare_home)
    target = wh.start()
    roles.setup(target, secrets.password)
    yield target
    wh.stop()
    if wh.server_root != wh.root and not os.environ.get("WELFARE_TEST_HOME"):
        import shutil

        shutil.rmtree(wh.server_root, ignore_errors=True)


@pytest.fixture(scope="session")
def warehouse_url(warehouse) -> str:
    return warehouse.sqlalchemy_url

