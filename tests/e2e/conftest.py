"""The end-to-end province, generated once and run once through the real pipeline (`welfare run`:
real Airflow, GX, dbt and PostgreSQL) for every end-to-end module."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from content_hashes import E2E_PROVINCE
from welfare.cli import main as welfare
from welfare.generate import GenerateOptions, generate
from welfare.generate.drops import parse_drops


@pytest.fixture(scope="session")
def sources(tmp_path_factory) -> Path:
    drops, resends = parse_drops(E2E_PROVINCE["drops"])
    out = tmp_path_factory.mktemp("sources")
    generate(GenerateOptions(out=out, scale=E2E_PROVINCE["scale"], seed=E2E_PROVINCE["seed"], drops=drops,
                             resends=resends, defects="default"))
    return out


@pytest.fixture(scope="session")
def first_run(warehouse, sources):
    # the recorded content hashes hold person_keys: the end-to-end run uses a fixed key of its own
    os.environ["WELFARE_PSEUDONYM_KEY"] = E2E_PROVINCE["pseudonym_key"]
    return welfare(["run", "--sources", str(sources)])
