"""`welfare run`'s own plumbing: each system's ingest of a night gets its own SQLite metadata file,
so the three run side by side; how many run at once is a setting."""

from __future__ import annotations

import sqlite3

import pytest
from welfare.cli import runner


def test_each_system_gets_a_copy_of_the_migrated_metadata_and_keeps_it(tmp_path):
    home = tmp_path / "airflow"
    home.mkdir()
    with sqlite3.connect(home / "airflow.db") as db:
        db.execute("create table alembic_version (version_num text)")
        db.execute("insert into alembic_version values ('migrated')")
    env = {"AIRFLOW_HOME": str(home), "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}"}
    envs = {s: runner.system_env(env, s) for s in ("msdhs", "cdd", "lao")}
    conns = {e["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] for e in envs.values()}
    assert len(conns) == 3 and env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] not in conns
    for system in envs:
        with sqlite3.connect(home / f"airflow-{system}.db") as db:
            assert db.execute("select version_num from alembic_version").fetchall() == [("migrated",)]
    # a second night reuses the file (its runs stay), it is not copied over again
    with sqlite3.connect(home / "airflow-cdd.db") as db:
        db.execute("insert into alembic_version values ('a run')")
    runner.system_env(env, "cdd")
    with sqlite3.connect(home / "airflow-cdd.db") as db:
        assert db.execute("select count(*) from alembic_version").fetchone() == (2,)
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("/airflow.db")  # the caller's env is untouched


def test_how_many_ingests_run_at_once_is_a_whole_number(monkeypatch):
    monkeypatch.delenv("WELFARE_RUN_PARALLEL", raising=False)
    assert runner.ingest_parallel() == 3
    monkeypatch.setenv("WELFARE_RUN_PARALLEL", "1")
    assert runner.ingest_parallel() == 1
    for bad in ("0", "two", ""):
        monkeypatch.setenv("WELFARE_RUN_PARALLEL", bad)
        with pytest.raises(ValueError, match="WELFARE_RUN_PARALLEL"):
            runner.ingest_parallel()
