"""Secrets under $WELFARE_HOME, the keyed pseudonym, the safe fallback folder, the access log's parser."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
from datetime import UTC, datetime, timedelta

import pytest
from welfare.orchestration import tasks
from welfare.warehouse import access_log, embedded, secrets


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("WELFARE_HOME", str(tmp_path / "home"))
    for k in list(os.environ):
        if k.startswith("WELFARE_") and (k.endswith("_PASSWORD") or k == secrets.KEY_ENV):
            monkeypatch.delenv(k)
    return tmp_path / "home"


def test_generated_secrets_are_private_stable_and_overridden_by_the_environment(home, monkeypatch):
    first = secrets.password("analyst")
    assert len(first) >= 32 and secrets.password("analyst") == first
    path = home / "secrets" / "analyst.password"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((home / "secrets").stat().st_mode) == 0o700
    assert secrets.password("loader") != first
    monkeypatch.setenv("WELFARE_ANALYST_PASSWORD", "from-the-secret-store")
    assert secrets.password("analyst") == "from-the-secret-store"


def test_a_secret_file_that_is_a_link_is_refused(home, tmp_path):
    (home / "secrets").mkdir(parents=True, mode=0o700)
    (tmp_path / "elsewhere").write_text("x\n")
    (home / "secrets" / "auditor.password").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(secrets.SecretError, match="symbolic link"):
        secrets.password("auditor")


def test_the_session_pads_compute_hmac_sha256_and_rotation_changes_the_key(home, monkeypatch):
    key = secrets.pseudonym_key()
    assert len(key) == 32
    opts = dict(part.split("=", 1) for part in secrets.pseudonym_session_options().split() if part != "-c")
    ipad, opad = bytes.fromhex(opts["welfare.pseudonym_ipad"]), bytes.fromhex(opts["welfare.pseudonym_opad"])
    nid = "3601000000019"
    # what the warehouse computes from the two settings (macros/person_key.sql)
    warehouse = hashlib.sha256(opad + hashlib.sha256(ipad + nid.encode()).digest()).hexdigest()
    assert warehouse == hmac.new(key, nid.encode(), hashlib.sha256).hexdigest() == secrets.person_key(nid)
    assert warehouse != hashlib.md5(nid.encode()).hexdigest()
    secrets.rotate_pseudonym_key()
    assert secrets.pseudonym_key() != key
    assert stat.S_IMODE((home / "secrets" / secrets.KEY_FILE).stat().st_mode) == 0o600
    monkeypatch.setenv(secrets.KEY_ENV, "ab" * 32)
    assert secrets.pseudonym_key() == bytes.fromhex("ab" * 32)
    with pytest.raises(secrets.SecretError, match="rotate it in the secret store"):
        secrets.rotate_pseudonym_key()
    monkeypatch.setenv(secrets.KEY_ENV, "not-hex")
    with pytest.raises(secrets.SecretError, match="64 hex digits"):
        secrets.pseudonym_key()


def test_the_fallback_folder_never_follows_a_planted_link(tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    os.chmod(victim, 0o755)  # whatever the process's umask
    planted = tmp_path / "planted"
    planted.symlink_to(victim)
    with pytest.raises(embedded.WarehouseError, match="not a folder"):
        embedded._safe_dir(planted, os.geteuid(), 0o700)
    assert stat.S_IMODE(victim.stat().st_mode) == 0o755  # not chmod-ed through the link
    made = tmp_path / "made"
    embedded._safe_dir(made, os.geteuid(), 0o700)
    st = made.lstat()
    assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == os.geteuid()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a folder another user owns")
def test_the_fallback_folder_of_another_user_is_refused(tmp_path):
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    os.chown(theirs, 65534, 65534)
    with pytest.raises(embedded.WarehouseError, match="belongs to uid 65534"):
        embedded._safe_dir(theirs, 999, 0o700)


def _record(user: str, message: str, at: str = "2026-12-04 07:38:52.123 +07") -> dict:
    return {"timestamp": at, "user": user, "dbname": "welfare", "message": message, "session_id": "s1"}


def test_the_access_log_reads_pgaudit_and_statement_lines_of_people_only():
    audit = _record("cw_takhli", "AUDIT: SESSION,3,1,READ,SELECT,TABLE,restricted.unserved_poor_households,"
                                 "<not logged>,<not logged>")
    [entry] = access_log.parse(audit)
    assert (entry["user"], entry["relation"], entry["command"], entry["via"]) == (
        "cw_takhli", "restricted.unserved_poor_households", "SELECT", "pgaudit")
    stmt = _record("welfare_analyst", "statement: select * from marts.dim_persons d join \"marts\".fct_bmn_members m "
                                      "on m.person_key = d.person_key where d.sex = 'F'")
    assert {e["relation"] for e in access_log.parse(stmt)} == {"marts.dim_persons", "marts.fct_bmn_members"}
    direct = _record("welfare_analyst", "statement: select * from marts_green.dim_persons, history.x")  # a generation
    assert {e["relation"] for e in access_log.parse(direct)} == {"marts_green.dim_persons", "history.x"}
    assert access_log.parse(_record("welfare_transformer", "AUDIT: SESSION,1,1,READ,SELECT,TABLE,marts.x,,")) == []
    assert access_log.parse(_record("cw_takhli", "AUDIT: SESSION,1,1,WRITE,INSERT,TABLE,marts.x,,")) == []
    assert access_log.parse(_record("cw_takhli", "connection authorized: user=cw_takhli")) == []


def test_collect_is_incremental_and_the_purge_keeps_the_period(tmp_path, monkeypatch):
    monkeypatch.setenv("WELFARE_HOME", str(tmp_path / "home"))
    server = tmp_path / "server-log"
    server.mkdir()
    old = (datetime.now(UTC) - timedelta(days=access_log.DEFAULT_RETENTION_DAYS + 5)).strftime("%Y-%m-%d %H:%M:%S.000 +00")
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.000 +00")
    lines = [_record("cw_a", "AUDIT: SESSION,1,1,READ,SELECT,TABLE,restricted.improper_allowance_payments,,", old),
             _record("welfare", "statement: select 1"),
             _record("cw_a", "AUDIT: SESSION,2,1,READ,SELECT,TABLE,restricted.unserved_poor_households,,", now)]
    log = server / "postgresql-Fri.json"
    log.write_text("".join(json.dumps(r) + "\n" for r in lines[:2]))
    assert access_log.collect(source=server) == 1
    with open(log, "a") as f:
        f.write(json.dumps(lines[2]) + "\n" + '{"partial": ')  # a line still being written
    assert access_log.collect(source=server) == 1
    assert access_log.collect(source=server) == 0
    assert [e["relation"] for e in access_log.entries()] == ["restricted.improper_allowance_payments",
                                                             "restricted.unserved_poor_households"]
    assert len(access_log.entries(since=datetime.now(UTC) - timedelta(days=1))) == 1
    assert access_log.purge() == 1
    assert [e["relation"] for e in access_log.entries()] == ["restricted.unserved_poor_households"]
    assert stat.S_IMODE(access_log.log_file().stat().st_mode) == 0o600


class _Run:
    def __init__(self, conf):
        self.conf = conf


def test_a_manual_trigger_gives_a_drop_date_and_never_a_path(monkeypatch, tmp_path):
    monkeypatch.setenv("WELFARE_SOURCES", str(tmp_path))
    sources, d = tasks.run_params({"dag_run": _Run({"extract_date": "2021-09-28"})})
    assert sources == tmp_path and d.isoformat() == "2021-09-28"
    with pytest.raises(tasks.DataProblem, match="not \\['sources'\\]"):
        tasks.run_params({"dag_run": _Run({"extract_date": "2021-09-28", "sources": "/etc"})})
    with pytest.raises(tasks.DataProblem, match="YYYY-MM-DD"):
        tasks.run_params({"dag_run": _Run({"extract_date": "../../etc"})})
    monkeypatch.delenv("WELFARE_SOURCES")
    with pytest.raises(tasks.DataProblem, match="WELFARE_SOURCES"):
        tasks.run_params({"dag_run": _Run({"extract_date": "2021-09-28"})})
