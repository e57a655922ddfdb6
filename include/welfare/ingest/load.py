"""Carry one extract file of one drop from the drop folder into the raw schema.

verify (manifest row count and sha256) -> check the header (encoding, schema drift) -> read the
file once into columns (``readers``) -> evaluate every rule there and run the Great Expectations
suite on the rule results (``welfare.validation.checks``) -> publish in ONE transaction
(``publish``): the ledger row, failing rows into audit.quarantine with their rules and record,
valid rows typed and streamed by COPY into a new raw partition, and the audit row (``audit``).
A file whose content was already loaded for that date is skipped: re-sent drops and reruns change
nothing. A file rejected whole is copied, untouched, into ``$WELFARE_HOME/quarantine/files`` with
its reason beside it.

Polars, Arrow and Great Expectations are imported inside ``ingest_extract``: Airflow parses the
DAG files that import this module.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, date, datetime
from pathlib import Path

from welfare import contract
from welfare.ingest.audit import keep_rejected, record_audit, resent_of
from welfare.ingest.drops import drop_folder, read_manifest
from welfare.ingest.outcome import FileRejected, FileResult
from welfare.settings import PgTarget
from welfare.warehouse.sql import connect

log = logging.getLogger(__name__)

DEFAULT_QUARANTINE_THRESHOLD = 0.05


def ingest_extract(target: PgTarget, sources: Path, system: str, extract_name: str, extract_date: date, *,
                   run_id: str | None = None,
                   threshold: float = DEFAULT_QUARANTINE_THRESHOLD) -> FileResult:
    ext = contract.extract(system, extract_name)
    folder = drop_folder(sources, system, extract_date)
    started = datetime.now(UTC)
    t0 = time.monotonic()
    res = FileResult(system, extract_name, extract_date.isoformat(), ext.file, "absent")
    path = folder / ext.file
    manifest = read_manifest(folder)
    entry = next((f for f in manifest["files"] if f.get("name") == ext.file), None)
    if entry is None and not path.exists():
        log.info("%s/%s: %s is not in this drop; the previous state stands", system, extract_date, ext.file)
        return res

    from welfare.ingest import publish, readers
    from welfare.validation.checks import validate

    sha, quoted = readers.scan_file(path) if path.exists() else (None, True)
    with connect(target.dsn) as conn, conn.cursor() as cur:
        if sha is not None:
            cur.execute(
                "select load_id, rows_in, rows_loaded, rows_quarantined from audit.load_ledger "
                "where system = %s and extract = %s and extract_date = %s and sha256 = %s",
                (system, extract_name, extract_date, sha))
            hit = cur.fetchone()
            if hit:
                res.status = "duplicate"
                res.load_id, res.rows_in, res.rows_loaded, res.rows_quarantined = hit
                res.reason = f"already loaded as load {hit[0]}: nothing to do"
                cur.execute("select rule, count(*) from audit.quarantine where load_id = %s group by rule",
                            (res.load_id,))
                res.quarantined_by_rule = dict(cur.fetchall())
                res.threshold_breached = res.rows_in > 0 and res.rows_quarantined / res.rows_in > threshold
                log.info("%s/%s/%s: %s", system, extract_date, ext.file, res.reason)
                return res
            resent = resent_of(cur, ext, extract_date, sha)
            if resent is not None:
                res.status, res.resent_of, res.rows_in = "resent", resent[0], resent[1]
                res.rows_resent = res.rows_in
                res.reason = (f"byte-identical to the {resent[2]} delivery (load {resent[0]}): a re-send adds nothing")
                cur.execute("select 1 from audit.file_audit where system = %s and extract = %s and extract_date = %s "
                            "and sha256 = %s and status = 'resent'", (system, extract_name, extract_date, sha))
                if cur.fetchone() is None:
                    res.duration_s = round(time.monotonic() - t0, 3)
                    record_audit(cur, res, sha, run_id, started, entry=entry)
                    conn.commit()
                log.info("%s/%s/%s: %s", system, extract_date, ext.file, res.reason)
                return res
            cur.execute(
                "select reason, rows_in from audit.file_audit where system = %s and extract = %s "
                "and extract_date = %s and sha256 = %s and status = 'rejected' "
                "and manifest_rows is not distinct from %s and manifest_sha256 is not distinct from %s "
                "order by audit_id desc limit 1",
                (system, extract_name, extract_date, sha, (entry or {}).get("rows"), (entry or {}).get("sha256")))
            hit = cur.fetchone()
            if hit:
                res.status = "rejected"
                res.reason, res.rows_in = hit
                res.rows_rejected = res.rows_in
                log.error("%s/%s/%s was rejected before, unchanged: %s", system, extract_date, ext.file, res.reason)
                return res
        try:
            if entry is None:
                raise FileRejected("manifest", f"{ext.file} is in the drop folder but not in its manifest")
            if not path.exists():
                raise FileRejected("manifest", f"{ext.file} is listed in the manifest but missing from the drop")
            if entry.get("sha256") != sha:
                raise FileRejected(
                    "manifest_sha256",
                    f"{ext.file}: sha256 {sha[:12]}… differs from the manifest's {str(entry.get('sha256'))[:12]}…; "
                    "the file is truncated or corrupt")
            df = readers.read_file(ext, path, quoted)
            n = df.height
            if n != int(entry.get("rows", -1)):
                raise FileRejected(
                    "manifest_rows",
                    f"{ext.file}: {n} records, but the manifest says {entry.get('rows')}; the file is truncated "
                    "or was changed after the manifest was written")
            res.rows_in = n
            res.landing_s = round(time.monotonic() - t0, 3)
            t_val = time.monotonic()
            label = f"{system}.{extract_name}.{extract_date}"
            flags, rules, res.docs_s = validate(target, ext, df, run_label=label)
            res.validation_s = round(time.monotonic() - t_val - res.docs_s, 3)
            t_pub = time.monotonic()
            load_id, loaded, quarantined, by_rule = publish.publish(
                cur, ext, df, flags, rules, extract_date, ext.file, sha, n)
            res.publish_s = round(time.monotonic() - t_pub, 3)
            res.status = "loaded"
            res.load_id, res.rows_loaded, res.rows_quarantined = load_id, loaded, quarantined
            res.quarantined_by_rule = by_rule
            res.threshold_breached = n > 0 and quarantined / n > threshold
            if res.threshold_breached:
                res.reason = (f"{quarantined} of {n} rows quarantined ({100 * quarantined / n:.1f}%), above the "
                              f"threshold of {100 * threshold:.1f}%")
            res.duration_s = round(time.monotonic() - t0, 3)
            record_audit(cur, res, sha, run_id, started, entry=entry)
            conn.commit()
        except FileRejected as rej:
            conn.rollback()
            res.status = "rejected"
            res.reason = f"[{rej.rule}] {rej}"
            res.rows_in = res.rows_rejected = readers.count_records(ext, path) if path.exists() else 0
            res.duration_s = round(time.monotonic() - t0, 3)
            kept = keep_rejected(path, ext, extract_date, res.reason)
            record_audit(cur, res, sha, run_id, started, kept_at=kept, entry=entry)
            conn.commit()
            log.error("%s/%s/%s REJECTED: %s", system, extract_date, ext.file, res.reason)
    return res


def threshold_for(system: str, extract_name: str, default: float = DEFAULT_QUARANTINE_THRESHOLD) -> float:
    """Per-extract quarantine threshold: ``WELFARE_QUARANTINE_THRESHOLD__<SYSTEM>__<EXTRACT>`` or the default."""
    key = f"WELFARE_QUARANTINE_THRESHOLD__{system.upper()}__{extract_name.upper()}"
    value = os.environ.get(key) or os.environ.get("WELFARE_QUARANTINE_THRESHOLD")
    return float(value) if value else default
