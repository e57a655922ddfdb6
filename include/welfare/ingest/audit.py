"""The audit of a file: its ``audit.file_audit`` row, the copy of a file rejected whole (with its
reason) under ``$WELFARE_HOME/quarantine/files``, and the earlier delivery a re-sent file repeats."""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime
from pathlib import Path

from welfare.contract import Extract
from welfare.ingest.outcome import FileResult
from welfare.settings import quarantine_dir


def record_audit(cur, res: FileResult, sha: str | None, run_id: str | None, started: datetime,
                  kept_at: str | None = None, entry: dict | None = None) -> None:
    cur.execute(
        """insert into audit.file_audit (load_id, run_id, system, extract, extract_date, file_name, sha256, status,
               rows_in, rows_loaded, rows_quarantined, rows_rejected, rows_resent, resent_of, quarantined_by_rule,
               threshold_breached, reason, kept_at, started_at, finished_at, duration_s, manifest_rows,
               manifest_sha256, landing_s, validation_s, publish_s)
           values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now(), %s, %s, %s,
                   %s, %s, %s)""",
        (res.load_id, run_id, res.system, res.extract, res.extract_date, res.file_name, sha, res.status,
         res.rows_in, res.rows_loaded, res.rows_quarantined, res.rows_rejected, res.rows_resent, res.resent_of,
         json.dumps(res.quarantined_by_rule), res.threshold_breached, res.reason, kept_at, started,
         res.duration_s, (entry or {}).get("rows"), (entry or {}).get("sha256"), res.landing_s, res.validation_s,
         res.publish_s),
    )


def keep_rejected(path: Path, ext: Extract, extract_date: date, reason: str) -> str | None:
    if not path.exists():
        return None
    dest = quarantine_dir() / "files" / ext.system / extract_date.isoformat()
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(path, dest / path.name)
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
