"""Broken and hostile deliveries: every one ends in a recorded outcome (an audit.file_audit row, the
rule that decided it), no exception escapes the loader, nothing outside the drop is read or copied,
and no reason quotes a value of a person-bearing file. Real PostgreSQL and Great Expectations."""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import random
import signal
from datetime import date, timedelta
from pathlib import Path

import pytest
from generate_helpers import encode_extract, national_id, write_drop
from warehouse_helpers import fresh_database
from welfare import contract, ingest
from welfare.orchestration import tasks
from welfare.warehouse.sql import connect

_day = itertools.count()


def new_date() -> date:
    """A drop date no other test uses (these tests share one warehouse)."""
    return date(2035, 1, 1) + timedelta(days=next(_day))


def q(target, sql, params=None):
    with connect(target.dsn) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def volunteers(n: int, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    return [{"volunteer_id": f"V{seed}-{i}", "national_id": national_id(rng, "6001"), "subdistrict_code": "600101",
             "registered_on": date(2020, 1, 1) + timedelta(days=i)} for i in range(n)]


def payments(n: int, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    return [{"payment_id": f"P{seed}-{i}", "lao_code": "6001001", "national_id": national_id(rng, "6001"),
             "allowance_type": "ELDERLY", "period": "2021-09", "amount": "600.00", "paid_on": date(2021, 9, 10)}
            for i in range(n)]


VOL = contract.extract("msdhs", "volunteers")
PAY = contract.extract("lao", "allowance_payments")


def audit_rows(target, system: str, extract: str, d: date) -> list[tuple]:
    return q(target, "select status, rule, reason, rows_in, rows_loaded, rows_quarantined, rows_rejected, rows_resent "
                     "from audit.file_audit where system = %s and extract = %s and extract_date = %s order by audit_id",
             (system, extract, d))


def personal_values(rows: list[dict]) -> list[str]:
    return [r["national_id"] for r in rows]


def assert_outcome(target, res, system, extract, d, status, rule, *, secrets=(), caplog=None):
    """The result, its one audit row, the rows balance, and no personal value in any reason or log line."""
    assert res.status == status, res
    if rule is not None:
        assert res.rule == rule and f"[{rule}]" in res.reason, res
    rows = audit_rows(target, system, extract, d)
    assert len(rows) == 1, rows
    st, r_rule, reason, n_in, loaded, quarantined, rejected, resent = rows[0]
    assert (st, r_rule) == (status, rule)
    assert n_in == loaded + quarantined + rejected + resent
    said = [reason or ""]
    if caplog is not None:
        said += [rec.getMessage() for rec in caplog.records]
    if res.load_id:
        said += [m for (m,) in q(target, "select message from audit.quarantine where load_id = %s", (res.load_id,))]
    for secret in secrets:
        assert not any(secret in s for s in said), f"{secret} quoted in: {said}"
    return rows[0]


@pytest.fixture(scope="module")
def warehouse(warehouse):
    """A database of this module's own: no other test's deliveries make a previous state here (a
    snapshot's previous state decides snapshot_shrink)."""
    return fresh_database(warehouse, "hostile_files")


@pytest.fixture
def sources(tmp_path, warehouse):
    return tmp_path / "sources"


@pytest.fixture(autouse=True)
def _logs(caplog):
    caplog.set_level(logging.DEBUG)


def kept_files(welfare_home: Path) -> list[Path]:
    root = welfare_home / "quarantine" / "files"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


# ---------------------------------------------------------------- manifests
@pytest.mark.parametrize("manifest,what", [
    (b"{not json", "not valid UTF-8 JSON"),
    (b"[]", "must be a JSON object"),
    (b'{"files": ["volunteers.csv"]}', "is not an object"),
    (b'{"files": [{"name": "volunteers.csv", "rows": "abc", "sha256": "%s"}]}', "'rows' must be a whole number"),
    (b'{"files": [{"name": "volunteers.csv", "rows": 1.5, "sha256": "%s"}]}', "'rows' must be a whole number"),
    (b'{"files": [{"name": "volunteers.csv", "rows": true, "sha256": "%s"}]}', "'rows' must be a whole number"),
    (b'{"files": [{"name": "volunteers.csv", "rows": 3, "sha256": "%s"}, '
     b'{"name": "volunteers.csv", "rows": 3, "sha256": "%s"}]}', "listed twice"),
    (b'{"files": [{"name": "volunteers.csv", "rows": 3, "sha256": "xyz"}]}', "'sha256' must be 64"),
], ids=["not-json", "array", "string-entries", "rows-abc", "rows-1.5", "rows-true", "listed-twice", "bad-sha"])
def test_a_broken_manifest_rejects_the_file_with_its_audit_row(warehouse, sources, caplog, manifest, what):
    d = new_date()
    data = encode_extract(VOL, volunteers(3))
    sha = hashlib.sha256(data).hexdigest().encode()
    body = manifest.replace(b"%s", sha)
    write_drop(sources, "msdhs", d, {VOL.file: data}, manifest=body)
    res = ingest.ingest_extract(warehouse, sources, "msdhs", "volunteers", d)
    row = assert_outcome(warehouse, res, "msdhs", "volunteers", d, "rejected", "manifest", caplog=caplog)
    assert what in res.reason and row[3] == row[6] == 3
    # a rerun over the same broken manifest records nothing new
    assert ingest.ingest_extract(warehouse, sources, "msdhs", "volunteers", d).status == "rejected"
    assert len(audit_rows(warehouse, "msdhs", "volunteers", d)) == 1


def test_a_file_the_manifest_lists_but_the_drop_lacks(warehouse, sources):
    d = new_date()
    folder = write_drop(sources, "msdhs", d, {VOL.file: encode_extract(VOL, volunteers(2))})
    (folder / VOL.file).unlink()
    res = ingest.ingest_extract(warehouse, sources, "msdhs", "volunteers", d)
    assert_outcome(warehouse, res, "msdhs", "volunteers", d, "rejected", "manifest")
    assert "missing from the drop" in res.reason


def test_files_the_manifest_does_not_list_are_reported_as_unexpected(warehouse, sources):
    d = new_date()
    folder = write_drop(sources, "msdhs", d, {VOL.file: encode_extract(VOL, volunteers(2))})
    data = encode_extract(contract.extract("msdhs", "media_works"), [])
    (folder / "media_works.csv").write_bytes(data)  # an extract's file, not in the manifest
    (folder / "notes.txt").write_bytes(b"hello")  # no extract's file
    res = ingest.ingest_extract(warehouse, sources, "msdhs", "media_works", d)
    assert_outcome(warehouse, res, "msdhs", "media_works", d, "unexpected", "unexpected_file")
    assert res.failed
    assert tasks.record_unexpected_files(warehouse, sources, "msdhs", d) == ["notes.txt"]
    tasks.record_unexpected_files(warehouse, sources, "msdhs", d)  # a rerun records it once
    (row,) = audit_rows(warehouse, "msdhs", "-", d)
    assert row[:2] == ("unexpected", "unexpected_file") and "notes.txt" in row[2]
    # the listed file loads as usual
    assert ingest.ingest_extract(warehouse, sources, "msdhs", "volunteers", d).status == "loaded"


# ---------------------------------------------------------------- not files
def _special(kind: str, path: Path, outside: Path) -> None:
    if kind == "symlink-outside":
        outside.write_bytes(b"SECRET-OUTSIDE-THE-DROP\n")
        path.symlink_to(outside)
    elif kind == "symlink-environ":
        path.symlink_to("/proc/self/environ")
    elif kind == "symlink-dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()


@pytest.mark.parametrize("kind", ["symlink-outside", "symlink-environ", "symlink-dev-zero", "fifo", "directory"])
def test_links_fifos_and_directories_are_refused_without_opening_them(warehouse, sources, welfare_home, tmp_path,
                                                                     kind):
    d = new_date()
    folder = write_drop(sources, "msdhs", d, {VOL.file: encode_extract(VOL, volunteers(2))})
    (folder / VOL.file).unlink()
    before = set(kept_files(welfare_home))
    _special(kind, folder / VOL.file, tmp_path / "outside.txt")
    signal.alarm(60)  # a FIFO or /dev/zero that were opened would never finish
    try:
        res = ingest.ingest_extract(warehouse, sources, "msdhs", "volunteers", d)
    finally:
        signal.alarm(0)
    assert_outcome(warehouse, res, "msdhs", "volunteers", d, "rejected", "not_a_regular_file")
    assert set(kept_files(welfare_home)) == before  # nothing copied
    (sha,) = q(warehouse, "select sha256 from audit.file_audit where system = 'msdhs' and extract_date = %s", (d,))[0]
    assert sha is None  # nothing hashed


def test_a_drop_folder_that_links_outside_the_sources_root_is_not_read(warehouse, sources, tmp_path):
    d = new_date()
    elsewhere = write_drop(tmp_path / "elsewhere", "msdhs", d, {VOL.file: encode_extract(VOL, volunteers(2))})
    (sources / "msdhs").mkdir(parents=True)
    (sources / "msdhs" / d.isoformat()).symlink_to(elsewhere)
    res = ingest.ingest_extract(warehouse, sources, "msdhs", "volunteers", d)
    assert_outcome(warehouse, res, "msdhs", "volunteers", d, "rejected", "not_a_regular_file")


# ---------------------------------------------------------------- empty files and snapshots
def test_a_zero_byte_csv_is_rejected_as_empty(warehouse, sources):
    d = new_date()
    write_drop(sources, "msdhs", d, {VOL.file: b""}, rows={VOL.file: 0})
    res = ingest.ingest_extract(warehouse, sources, "msdhs", "volunteers", d)
    assert_outcome(warehouse, res, "msdhs", "volunteers", d, "rejected", "empty_file")


# ---------------------------------------------------------------- personal data never in a reason
def test_a_csv_without_its_header_row_is_rejected_without_quoting_it(warehouse, sources, caplog):
    d = new_date()
    rows = volunteers(3)
    data = encode_extract(VOL, rows)
    data = data[data.index(b"\n") + 1:]  # the header row dropped
    write_drop(sources, "msdhs", d, {VOL.file: data}, rows={VOL.file: 2})
    res = ingest.ingest_extract(warehouse, sources, "msdhs", "volunteers", d)
    assert_outcome(warehouse, res, "msdhs", "volunteers", d, "rejected", "schema_drift",
                   secrets=personal_values(rows), caplog=caplog)
    assert "header row is missing" in res.reason
    reason_txt = next(p for p in kept_files(Path(os.environ["WELFARE_HOME"]))
                      if p.name == VOL.file + ".reason.txt" and d.isoformat() in str(p))
    assert not any(s in reason_txt.read_text() for s in personal_values(rows))


def test_a_row_with_an_extra_field_is_rejected_without_quoting_it(warehouse, sources, caplog):
    d = new_date()
    rows = volunteers(3)
    rows[1]["_extra"] = "surplus"
    write_drop(sources, "msdhs", d, {VOL.file: encode_extract(VOL, rows)})
    res = ingest.ingest_extract(warehouse, sources, "msdhs", "volunteers", d)
    assert_outcome(warehouse, res, "msdhs", "volunteers", d, "rejected", "field_count",
                   secrets=personal_values(rows) + ["surplus"], caplog=caplog)
    assert "record 2 has 6 fields, the contract has 5" in res.reason


def test_bytes_that_are_not_cp874_are_rejected_without_quoting_them(warehouse, sources, caplog):
    d = new_date()
    ext = contract.extract("cdd", "villages")
    data = encode_extract(ext, [{"village_code": "60010101", "village_name": "บ้านปากน้ำโพ",
                                 "subdistrict_code": "600101"}])
    data = data.replace("ปากน้ำโพ".encode("cp874"), b"\xdb\xfcSECRETNAME")  # 0xDB, 0xFC: undefined in cp874
    write_drop(sources, "cdd", d, {ext.file: data})
    res = ingest.ingest_extract(warehouse, sources, "cdd", "villages", d)
    assert_outcome(warehouse, res, "cdd", "villages", d, "rejected", "encoding", secrets=["SECRETNAME", "\\xdb"],
                   caplog=caplog)
    assert "village_name" in res.reason


def test_bytes_that_are_not_utf8_in_a_utf8_sig_file(warehouse, sources, caplog):
    d = new_date()
    rows = volunteers(3)
    data = encode_extract(VOL, rows).replace(b"V1-2", b"V1-\xff\xfe")
    write_drop(sources, "msdhs", d, {VOL.file: data})
    res = ingest.ingest_extract(warehouse, sources, "msdhs", "volunteers", d)
    assert_outcome(warehouse, res, "msdhs", "volunteers", d, "rejected", "encoding",
                   secrets=personal_values(rows), caplog=caplog)


def test_quarantine_messages_of_a_person_bearing_file_name_the_column_not_the_value(warehouse, sources):
    d = new_date()
    rows = volunteers(3)
    rows[0]["national_id"] = "1234567890123"  # the check digit fails
    write_drop(sources, "msdhs", d, {VOL.file: encode_extract(VOL, rows)})
    res = ingest.ingest_extract(warehouse, sources, "msdhs", "volunteers", d)
    assert res.status == "loaded" and res.rows_quarantined == 1
    ((message, record),) = q(warehouse, "select message, record from audit.quarantine where load_id = %s",
                             (res.load_id,))
    assert "national_id" in message and "[rule national_id:national_id]" in message and "row 1 of " in message
    assert "1234567890123" not in message and record["national_id"] == "1234567890123"


# ---------------------------------------------------------------- JSON lines
def test_json_lines_that_are_not_flat_objects_are_quarantined_and_kept_raw(warehouse, sources, caplog):
    d = new_date()
    rows = payments(6)
    lines = [json.dumps(json_safe(r)) for r in rows]
    lines[1] = "[" * 50_000 + "]" * 50_000  # nested about 50,000 levels deep
    lines[2] = lines[2].replace('"ELDERLY"', '[{"a": 1}]')  # a value that is a list of objects
    lines[3] = lines[3].replace('"ELDERLY"', '[[1, 2], [3]]')  # a list of lists
    lines[4] = "{this is not json " + rows[4]["national_id"]
    data = ("\n".join(lines) + "\n").encode()
    write_drop(sources, "lao", d, {PAY.file: data})
    res = ingest.ingest_extract(warehouse, sources, "lao", "allowance_payments", d)
    assert_outcome(warehouse, res, "lao", "allowance_payments", d, "loaded", None,
                   secrets=personal_values(rows), caplog=caplog)
    assert (res.rows_in, res.rows_loaded, res.rows_quarantined) == (6, 2, 4)
    kept = dict(q(warehouse, "select row_no, record from audit.quarantine where load_id = %s and rule = 'not_json'",
                  (res.load_id,)))
    assert sorted(kept) == [2, 3, 4, 5]
    assert kept[5] == {"_line": lines[4]} and kept[2]["_line"] == lines[1]  # what was delivered, not nulls


def json_safe(r: dict) -> dict:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in r.items()}


def test_an_unknown_key_on_any_line_is_schema_drift(warehouse, sources):
    d = new_date()
    rows = [json_safe(r) for r in payments(6000)]
    rows[5000]["bank_account"] = "123"  # far beyond any sample of the first lines
    data = ("\n".join(json.dumps(r) for r in rows) + "\n").encode()
    write_drop(sources, "lao", d, {PAY.file: data})
    res = ingest.ingest_extract(warehouse, sources, "lao", "allowance_payments", d)
    assert_outcome(warehouse, res, "lao", "allowance_payments", d, "rejected", "schema_drift")
    assert "line 5,001" in res.reason and "bank_account" in res.reason


# ---------------------------------------------------------------- bounds
def test_a_line_longer_than_the_bound_is_rejected(warehouse, sources):
    from welfare.ingest.readers import MAX_LINE_BYTES

    d = new_date()
    rows = volunteers(3)
    rows[1]["volunteer_id"] = "x" * (MAX_LINE_BYTES + 10)
    write_drop(sources, "msdhs", d, {VOL.file: encode_extract(VOL, rows)})
    res = ingest.ingest_extract(warehouse, sources, "msdhs", "volunteers", d)
    assert_outcome(warehouse, res, "msdhs", "volunteers", d, "rejected", "line_too_long")
    assert "line 3 " in res.reason


def test_a_header_of_100000_columns(warehouse, sources):
    d = new_date()
    header = [c.header for c in VOL.columns] + [f"c{i}" for i in range(100_000)]
    data = encode_extract(VOL, volunteers(2), header_override=header)
    write_drop(sources, "msdhs", d, {VOL.file: data})
    res = ingest.ingest_extract(warehouse, sources, "msdhs", "volunteers", d)
    assert_outcome(warehouse, res, "msdhs", "volunteers", d, "rejected", "schema_drift")
    assert len(res.reason) < 600 and "100,000" in res.reason


def test_40000_repeated_labels_are_checked_at_once(warehouse, sources):
    d = new_date()
    header = [c.header for c in VOL.columns] + ["x"] * 40_000
    write_drop(sources, "msdhs", d, {VOL.file: encode_extract(VOL, volunteers(2), header_override=header)})
    res = ingest.ingest_extract(warehouse, sources, "msdhs", "volunteers", d)
    assert_outcome(warehouse, res, "msdhs", "volunteers", d, "rejected", "schema_drift")
    assert "repeated" in res.reason


# ---------------------------------------------------------------- settings and folders
@pytest.mark.parametrize("value", ["nan", "abc", "1.5", "-0.1", "inf"])
def test_a_threshold_that_is_not_a_share_is_a_configuration_error(monkeypatch, value):
    monkeypatch.setenv("WELFARE_QUARANTINE_THRESHOLD", value)
    with pytest.raises(ingest.ConfigurationError, match="WELFARE_QUARANTINE_THRESHOLD"):
        ingest.check_configuration()
    with pytest.raises(tasks.DataProblem, match="configuration error"):
        tasks.load_extract(None, Path("/nonexistent"), "msdhs", "volunteers", date(2021, 1, 1))


def test_the_cli_refuses_to_run_with_a_bad_threshold(monkeypatch, tmp_path, capsys):
    from welfare.cli import main

    monkeypatch.setenv("WELFARE_QUARANTINE_THRESHOLD__LAO__BUDGETS", "nan")
    assert main(["run", "--sources", str(tmp_path)]) == 2
    assert "configuration error" in capsys.readouterr().err


def test_odd_drop_folders_are_reported_and_a_misnamed_drop_fails_at_once(sources, caplog):
    d = date(2021, 9, 28)
    for name in ("2021-13-45", "20210928"):
        (sources / "msdhs" / name).mkdir(parents=True)
        (sources / "msdhs" / name / ingest.MANIFEST).write_text("{}")
    assert ingest.complete_drop_dates(sources) == {}
    assert "2021-13-45" in caplog.text and "20210928" in caplog.text
    with pytest.raises(tasks.DataProblem, match=r"arrived as msdhs/20210928/.*named YYYY-MM-DD"):
        tasks.wait_for_drop(sources, "msdhs", d, timeout_s=3600, poke_s=0.01)
