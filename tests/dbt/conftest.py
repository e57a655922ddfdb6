"""The dbt project's manifest, as `dbt parse` writes it: no warehouse needed (the profile renders
from its defaults and no connection is opened)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from welfare import settings


def parse_manifest(target: Path) -> dict:
    """Run `dbt parse` on the project into `target` and return the manifest it writes."""
    dbt = Path(sys.executable).with_name("dbt")
    env = {**os.environ, "DBT_PROFILES_DIR": str(settings.DBT_PROJECT_DIR), "DBT_TARGET_PATH": str(target),
           "DBT_LOG_PATH": str(target), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    subprocess.run([str(dbt) if dbt.exists() else "dbt", "parse", "--quiet", "--no-partial-parse"],
                   cwd=settings.DBT_PROJECT_DIR, env=env, check=True)
    return json.loads((target / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def manifest(tmp_path_factory) -> dict:
    return parse_manifest(tmp_path_factory.mktemp("dbt-target"))
