"""The audit of a file: its ``audit.file_audit`` row, the copy of a file rejected whole (with its
reason) under ``$WELFARE_HOME/quarantine/files``, the earlier delivery a re-sent file repeats, and
an operator's acceptance of one delivery (``audit.accepted_delivery``)."""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime
from pathlib import Path

from welfare.contract import Extract
from welfare.ingest.outcome import FileResult
from welfare.settings import quarantine_dir


def record_audit(cur, res: FileResult, sha: str | None, run_id: str | None, started: datetime,
                 kept_at: str | None = None, entry: dict | None = None, fingerprint: str | None = None) -> None:
    cur.execute(
        """insert into audit.file_audit (load_id, run_id, system, extract, extract_date, file_name, sha256, status,
               rows_in, rows_loaded, rows_quarantined, rows_rejected, rows_resent, resent_of, quarantined_by_rule,
               threshold_breached, reason, kept_at, started_at, finished_at, duration_s, manifest_rows,
               manifest_sha256, landing_s, validation_s, publish_s, rule, manifest_fingerprint, resends_date,
               accepted_by)
           values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now(), %s, %s, %s,
                   %s, %s, %s, %s, %s, %s, %s)""",
        (res.load_id, run_id, res.system, res.extract, res.extract_date, res.file_name, sha, res.status,
         res.rows_in, res.rows_loaded, res.rows_quarantined, res.rows_rejected, res.rows_resent, res.resent_of,
         json.dumps(res.quarantined_by_rule), res.threshold_breached, res.reason, kept_at, started,
         res.duration_s, (entry or {}).get("rows"), (entry or {}).get("sha256"), res.landing_s, res.validation_s,
         res.publish_s, res.rule, fingerprint, res.resends_date, res.accepted_by),
    )


def recorded_before(cur, res: FileResult, sha: str | None) -> bool:
    """An audit row with this outcome exists already (a rerun over an unchanged problem adds none)."""
    cur.execute("select 1 from audit.file_audit where system = %s and extract = %s and extract_date = %s "
                "and file_name = %s and sha256 is not distinct from %s and status = %s "
                "and reason is not distinct from %s limit 1",
                (res.system, res.extract, res.extract_date, res.file_name, sha, res.status, res.reason))
    return cur.fetchone() is not None


def keep_rejected(path: Path, ext: Extract, extract_date: date, reason: str) -> str | None:
    """A copy of the refused file (only ever a regular file of the drop, never a link's target) and its
    reason, under ``$WELFARE_HOME/quarantine/files/<system>/<date>/``."""
    from welfare.ingest.readers import is_regular, open_regular

    if not is_regular(path):
        return None
    dest = quarantine_dir() / "files" / ext.system / extract_date.isoformat()
    dest.mkdir(parents=True, exist_ok=True)
    with open_regular(path) as src, open(dest / path.name, "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)
    (dest / (path.name + ".reason.txt")).write_text(reason + "\n", encoding="utf-8")
    return str(dest / path.name)


def resent_of(cur, ext: Extract, extract_date: date, sha: str) -> tuple[int, int, date] | None:
    """(load_id, rows_in, date) of the earlier delivery this file repeats byte for byte, if it does.

    An increment repeats any earlier delivery; a snapshot only the latest one before this date
    (the same bytes as an older snapshot, after a different one, are a real change: loaded).
    """
    if ext.kind == "increment":
        cur.execute("select load_id, rows_in, extract_date from audit.load_ledger where system = %s and extract = %s "
                    "and sha256 = %s and extract_date < %s order by extract_date limit 1",
                    (ext.system, ext.name, sha, extract_date))
        return cur.fetchone()
    cur.execute("select load_id, rows_in, extract_date, sha256 from audit.load_ledger where system = %s "
                "and extract = %s and extract_date < %s order by extract_date desc, load_id desc limit 1",
                (ext.system, ext.name, extract_date))
    hit = cur.fetchone()
    return hit[:3] if hit and hit[3] == sha else None


def resent_drop(cur, system: str, fingerprint: str, folder_date: date) -> date | None:
    """The date of an earlier drop, under another folder, whose manifest this drop's repeats."""
    cur.execute("select extract_date from audit.file_audit where system = %s and manifest_fingerprint = %s "
                "and extract_date <> %s and status <> 'resent' order by audit_id limit 1",
                (system, fingerprint, folder_date))
    hit = cur.fetchone()
    return hit[0] if hit else None


def acceptance(cur, ext: Extract, extract_date: date, sha: str | None) -> str | None:
    """Who accepted this delivery despite its snapshot_shrink, if anyone did."""
    if sha is None:
        return None
    cur.execute("select accepted_by, accepted_at from audit.accepted_delivery where system = %s and extract = %s "
                "and extract_date = %s and sha256 = %s and rule = 'snapshot_shrink' order by accept_id desc limit 1",
                (ext.system, ext.name, extract_date, sha))
    hit = cur.fetchone()
    return f"{hit[0]} at {hit[1]:%Y-%m-%d %H:%M:%S %Z}" if hit else None


def accept_delivery(cur, ext: Extract, extract_date: date, accepted_by: str, note: str | None = None) -> str:
    """Record an operator's acceptance of the delivery of ``ext`` on ``extract_date`` that was rejected
    for snapshot_shrink; returns its sha256. ValueError if no such rejection is on record."""
    cur.execute("select sha256 from audit.file_audit where system = %s and extract = %s and extract_date = %s "
                "and status = 'rejected' and rule = 'snapshot_shrink' and sha256 is not null "
                "order by audit_id desc limit 1", (ext.system, ext.name, extract_date))
    hit = cur.fetchone()
    if hit is None:
        raise ValueError(f"{ext.system}.{ext.name} of {extract_date}: no delivery rejected for snapshot_shrink is on "
                         "record; nothing to accept")
    cur.execute("insert into audit.accepted_delivery (system, extract, extract_date, file_name, sha256, accepted_by, "
                "note) values (%s, %s, %s, %s, %s, %s, %s) on conflict do nothing",
                (ext.system, ext.name, extract_date, ext.file, hit[0], accepted_by, note))
    return hit[0]
