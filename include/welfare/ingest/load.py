"""Carry one extract file of one drop from the drop folder into the raw schema.

Every file ends in a recorded outcome (an ``audit.file_audit`` row; ``outcome``): loaded with its
failing rows quarantined, rejected whole with the rule and a reason a person can act on, re-sent
(an earlier delivery again: nothing changes), or unexpected (in the drop but not in its manifest:
not loaded). No exception about the file escapes: a data problem is never retried. Only the
platform's own failures (the warehouse unreachable, a bad setting) raise.

The steps: the drop folder (a real directory inside the sources root) and its manifest, checked
(``drops``) -> a re-sent drop recognised by its manifest -> the file itself (a regular file, never a
link's target) -> its sha256 (a file loaded before, or byte-identical to the delivery it repeats,
changes nothing) -> the header (encoding, schema drift) -> the keys of every row, read as a stream:
the record count against the manifest, and the rows whose key repeats -> the snapshot-shrink check
-> then, in ONE transaction (``publish``): the file read again as a stream of chunks, every rule
evaluated on each, the valid rows typed and COPYed into a new raw partition, the failing rows into
``audit.quarantine``, the Great Expectations suite on the rule results, and the audit row.

A file rejected whole is copied, untouched, into ``$WELFARE_HOME/quarantine/files`` with its reason
beside it. Reasons and log lines never quote a value of the file (``readers``).

Polars, Arrow and Great Expectations are imported inside ``ingest_extract``: Airflow parses the
DAG files that import this module.
"""

from __future__ import annotations

import logging
import math
import os
import time
import traceback
from datetime import UTC, date, datetime
from pathlib import Path

from welfare import contract
from welfare.contract import Extract
from welfare.ingest import audit
from welfare.ingest.drops import Manifest, drop_folder, drop_folder_checked, read_manifest
from welfare.ingest.outcome import ConfigurationError, FileRejected, FileResult
from welfare.settings import PgTarget
from welfare.warehouse.sql import connect

log = logging.getLogger(__name__)

DEFAULT_QUARANTINE_THRESHOLD = 0.05
# snapshot_shrink (sources.yml): a snapshot may not delete more than half of a current state this large
SHRINK_MIN_KEYS = 100
SHRINK_MAX_SHARE = 0.5


def check_threshold(value: float, where: str = "the quarantine threshold") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not 0 <= value <= 1:
        raise ConfigurationError(f"{where} is {value!r}: it must be a number between 0 and 1 (a share of rows)")
    return float(value)


def threshold_for(system: str, extract_name: str, default: float = DEFAULT_QUARANTINE_THRESHOLD) -> float:
    """Per-extract quarantine threshold: ``WELFARE_QUARANTINE_THRESHOLD__<SYSTEM>__<EXTRACT>``, else
    ``WELFARE_QUARANTINE_THRESHOLD``, else the default. ConfigurationError unless between 0 and 1."""
    for key in (f"WELFARE_QUARANTINE_THRESHOLD__{system.upper()}__{extract_name.upper()}",
                "WELFARE_QUARANTINE_THRESHOLD"):
        value = os.environ.get(key)
        if value is not None and value.strip() != "":
            try:
                number = float(value)
            except ValueError:
                raise ConfigurationError(f"{key}={value!r} is not a number between 0 and 1") from None
            return check_threshold(number, f"{key}={value!r}")
    return check_threshold(default)


def check_configuration() -> None:
    """Every extract's threshold setting, checked before anything loads."""
    for system, sys_def in contract.systems().items():
        for name in sys_def.extracts:
            threshold_for(system, name)


def ingest_extract(target: PgTarget, sources: Path, system: str, extract_name: str, extract_date: date, *,
                   run_id: str | None = None, threshold: float = DEFAULT_QUARANTINE_THRESHOLD) -> FileResult:
    check_threshold(threshold)
    ext = contract.extract(system, extract_name)
    return _Load(target, Path(sources), ext, extract_date, run_id, threshold).run()


class _Load:
    def __init__(self, target: PgTarget, sources: Path, ext: Extract, extract_date: date, run_id: str | None,
                 threshold: float):
        self.target, self.sources, self.ext, self.date = target, sources, ext, extract_date
        self.run_id, self.threshold = run_id, threshold
        self.path = drop_folder(sources, ext.system, extract_date) / ext.file
        self.res = FileResult(ext.system, ext.name, extract_date.isoformat(), ext.file, "absent")
        self.started = datetime.now(UTC)
        self.t0 = time.monotonic()
        self.sha: str | None = None
        self.entry: dict | None = None
        self.manifest: Manifest | None = None
        self.where = f"{ext.system}/{extract_date}/{ext.file}"

    # ------------------------------------------------------------ outcomes
    def _finish(self, cur, kept_at: str | None = None, dedupe: bool = False) -> FileResult:
        self.res.duration_s = round(time.monotonic() - self.t0, 3)
        if not (dedupe and audit.recorded_before(cur, self.res, self.sha)):
            audit.record_audit(cur, self.res, self.sha, self.run_id, self.started, kept_at=kept_at, entry=self.entry,
                               fingerprint=self.manifest.fingerprint if self.manifest else None)
        return self.res

    def _reject(self, conn, cur, rej: FileRejected) -> FileResult:
        conn.rollback()
        from welfare.ingest import readers

        res = self.res
        res.status, res.rule, res.reason = "rejected", rej.rule, f"[{rej.rule}] {rej}"
        res.load_id = None
        res.rows_loaded = res.rows_quarantined = res.rows_resent = 0
        res.quarantined_by_rule, res.threshold_breached = {}, False
        res.rows_in = res.rows_rejected = readers.count_records(self.ext, self.path)
        repeated = audit.recorded_before(cur, res, self.sha)
        kept = None if repeated else audit.keep_rejected(self.path, self.ext, self.date, res.reason)
        self._finish(cur, kept_at=kept, dedupe=True)
        conn.commit()
        log.error("%s REJECTED: %s", self.where, res.reason)
        return res

    def run(self) -> FileResult:
        with connect(self.target.dsn) as conn, conn.cursor() as cur:
            try:
                return self._run(conn, cur)
            except FileRejected as rej:
                return self._reject(conn, cur, rej)
            except ConfigurationError:
                raise
            except Exception as exc:
                if is_platform_error(exc):
                    raise  # the warehouse itself (a lost or refused connection): the task's retry may help
                # Anything else is a problem with this file the loader did not foresee: recorded, never
                # retried. The log names the exception's type and where it arose, not its message
                # (which may quote the file's values).
                frames = traceback.extract_tb(exc.__traceback__)[-3:]
                at = "; ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in frames)
                log.error("%s: the loader failed on this file: %s at %s", self.where, type(exc).__name__, at)
                return self._reject(conn, cur, FileRejected(
                    "unreadable", f"{self.ext.file}: the loader could not read this file ({type(exc).__name__}); "
                    "it is kept in quarantine, and the data engineers have the error in the task log"))

    def _run(self, conn, cur) -> FileResult:
        ext, res = self.ext, self.res
        folder = drop_folder_checked(self.sources, ext.system, self.date)
        self.manifest = manifest = read_manifest(folder)
        self.entry = manifest.entry(ext.file)
        present = os.path.lexists(self.path)

        original = audit.resent_drop(cur, ext.system, manifest.fingerprint, self.date)
        if original is not None:
            return self._resent_drop(cur, conn, original)
        if manifest.extract_date is not None and manifest.extract_date != self.date:
            raise FileRejected("manifest", f"{ext.system}/{self.date}/_manifest.json is the manifest of "
                               f"{manifest.extract_date}, and no drop of {manifest.extract_date} with that manifest "
                               "was delivered before: drop folders are named by their extract date")
        if self.entry is None and not present:
            log.info("%s is not in this drop; the previous state stands", self.where)
            return res
        if self.entry is None:
            from welfare.ingest import readers

            res.status, res.rule = "unexpected", "unexpected_file"
            res.reason = (f"[unexpected_file] {ext.file} is in the drop folder but not in its manifest: not loaded; "
                          "ask the source system to re-send the drop with a manifest that lists it")
            res.rows_in = res.rows_rejected = readers.count_records(ext, self.path)
            self._finish(cur, dedupe=True)
            conn.commit()
            log.error("%s: %s", self.where, res.reason)
            return res
        if not present:
            raise FileRejected("manifest", f"{ext.file} is listed in the manifest but missing from the drop")

        from welfare.ingest import publish, readers
        from welfare.validation.checks import json_rule
        from welfare.validation.expressions import DuplicateKeys
        from welfare.validation.rules import rules_for

        self.sha, quoted = readers.scan_file(self.path)
        done = self._already_there(cur, conn)
        if done is not None:
            return done
        accepted = audit.acceptance(cur, ext, self.date, self.sha)
        if accepted is None:
            hit = self._rejected_before(cur)
            if hit is not None:
                return hit
        if self.entry["sha256"] != self.sha:
            raise FileRejected(
                "manifest_sha256",
                f"{ext.file}: sha256 {self.sha[:12]}… differs from the manifest's {self.entry['sha256'][:12]}…; "
                "the file is truncated or corrupt")
        columns = readers.check_header(ext, self.path) if ext.format == "csv" else None
        # The keys of every row, as a stream: the record count, and the rows whose key repeats.
        dups = DuplicateKeys(ext)
        n = 0
        for frame in readers.frames(ext, self.path, quoted, columns, only=list(ext.key)):
            dups.add(frame)
            n += frame.height
        if n != self.entry["rows"]:
            raise FileRejected(
                "manifest_rows",
                f"{ext.file}: {n:,} records, but the manifest says {self.entry['rows']:,}; the file is truncated "
                "or was changed after the manifest was written")
        duplicate_rows = dups.rows()
        del dups
        res.rows_in = n
        res.landing_s = round(time.monotonic() - self.t0, 3)
        shrink = None
        if ext.kind == "snapshot" and accepted is None:
            shrink = self._shrink_check(cur, n)
        t_pub = time.monotonic()
        rules = rules_for(ext)
        pub = publish.publish(cur, self.target, ext, self.path, quoted, columns, duplicate_rows, rules,
                              json_rule() if ext.format == "jsonl" else None, self.date, self.sha, n,
                              run_label=f"{ext.system}.{ext.name}.{self.date}", shrink_check=shrink)
        res.validation_s, res.docs_s = pub.validation_s, pub.docs_s
        res.publish_s = round(time.monotonic() - t_pub - pub.validation_s - pub.docs_s, 3)
        res.status = "loaded"
        res.load_id, res.rows_loaded, res.rows_quarantined = pub.load_id, pub.rows_loaded, pub.rows_quarantined
        res.quarantined_by_rule = pub.by_rule
        res.accepted_by = accepted
        res.threshold_breached = n > 0 and pub.rows_quarantined / n > self.threshold
        if res.threshold_breached:
            res.reason = (f"{pub.rows_quarantined} of {n} rows quarantined ({100 * pub.rows_quarantined / n:.1f}%), "
                          f"above the threshold of {100 * self.threshold:.1f}%")
        elif accepted:
            res.reason = f"loaded despite snapshot_shrink: accepted by {accepted}"
        self._finish(cur)
        conn.commit()
        log.info("%s: loaded %s of %s rows, %s quarantined", self.where, res.rows_loaded, n, res.rows_quarantined)
        return res

    # ------------------------------------------------------------ deliveries seen before
    def _already_there(self, cur, conn) -> FileResult | None:
        ext, res = self.ext, self.res
        cur.execute(
            "select load_id, rows_in, rows_loaded, rows_quarantined from audit.load_ledger "
            "where system = %s and extract = %s and extract_date = %s and sha256 = %s",
            (ext.system, ext.name, self.date, self.sha))
        hit = cur.fetchone()
        if hit:
            res.status = "duplicate"
            res.load_id, res.rows_in, res.rows_loaded, res.rows_quarantined = hit
            res.reason = f"already loaded as load {hit[0]}: nothing to do"
            cur.execute("select rule, count(*) from audit.quarantine where load_id = %s group by rule", (res.load_id,))
            res.quarantined_by_rule = dict(cur.fetchall())
            res.threshold_breached = res.rows_in > 0 and res.rows_quarantined / res.rows_in > self.threshold
            log.info("%s: %s", self.where, res.reason)
            return res
        resent = audit.resent_of(cur, ext, self.date, self.sha)
        if resent is not None:
            res.status, res.resent_of, res.rows_in = "resent", resent[0], resent[1]
            res.rows_resent = res.rows_in
            res.reason = f"byte-identical to the {resent[2]} delivery (load {resent[0]}): a re-send adds nothing"
            res.resends_date = resent[2].isoformat()
            self._finish(cur, dedupe=True)
            conn.commit()
            log.info("%s: %s", self.where, res.reason)
            return res
        return None

    def _resent_drop(self, cur, conn, original: date) -> FileResult:
        """This drop's manifest repeats the drop of ``original``: every file of it is a re-send."""
        ext, res = self.ext, self.res
        res.status, res.resends_date = "resent", original.isoformat()
        if self.entry is None:
            res.reason = f"the drop repeats the {original} drop, which did not carry {ext.file}"
            log.info("%s: %s", self.where, res.reason)
            res.status = "absent"
            return res
        self.sha = self.entry["sha256"]
        cur.execute("select load_id, rows_in from audit.load_ledger where system = %s and extract = %s "
                    "and extract_date = %s and sha256 = %s", (ext.system, ext.name, original, self.sha))
        hit = cur.fetchone()
        res.resent_of = hit[0] if hit else None
        res.rows_in = res.rows_resent = hit[1] if hit else self.entry["rows"]
        res.reason = (f"the drop's manifest repeats the {original} drop"
                      + (f" (load {hit[0]})" if hit else ", where this file was not loaded")
                      + ": a re-send changes nothing")
        self._finish(cur, dedupe=True)
        conn.commit()
        log.info("%s: %s", self.where, res.reason)
        return res

    def _rejected_before(self, cur) -> FileResult | None:
        """The same file, with the same manifest entry, was rejected before: the same outcome, recorded once."""
        ext, res = self.ext, self.res
        cur.execute(
            "select reason, rows_in, rule from audit.file_audit where system = %s and extract = %s "
            "and extract_date = %s and sha256 = %s and status = 'rejected' "
            "and manifest_rows is not distinct from %s and manifest_sha256 is not distinct from %s "
            "order by audit_id desc limit 1",
            (ext.system, ext.name, self.date, self.sha, self.entry.get("rows"), self.entry.get("sha256")))
        hit = cur.fetchone()
        if not hit:
            return None
        res.status = "rejected"
        res.reason, res.rows_in, res.rule = hit
        res.rows_rejected = res.rows_in
        log.error("%s was rejected before, unchanged: %s", self.where, res.reason)
        return res

    # ------------------------------------------------------------ snapshot_shrink
    def _shrink_check(self, cur, rows_in: int):
        """The current state of this snapshot (the latest earlier load): reject at once if the new file is
        too small to keep half of its keys, and return the exact check ``publish`` runs on the loaded
        partition (``None`` where the state is too small to check)."""
        from welfare.warehouse import ddl
        from welfare.warehouse.sql import q

        ext = self.ext
        cur.execute("select load_id, rows_loaded, extract_date from audit.load_ledger where system = %s and "
                    "extract = %s and extract_date < %s order by extract_date desc, load_id desc limit 1",
                    (ext.system, ext.name, self.date))
        prev = cur.fetchone()
        if prev is None or prev[1] == 0:
            return None
        prev_id, old, prev_date = prev

        def refuse(deleted_at_least: int) -> FileRejected:
            return FileRejected(
                "snapshot_shrink",
                f"{ext.file}: this snapshot would delete at least {deleted_at_least:,} of the {old:,} keys of the "
                f"current state (the {prev_date} delivery), more than {SHRINK_MAX_SHARE:.0%}: almost always a "
                "failed export. The previous state stands. If the registry really shrank, accept this delivery "
                f"(welfare accept --system {ext.system} --extract {ext.name} --date {self.date}) and it loads")

        if rows_in == 0:
            raise refuse(old)
        if old < SHRINK_MIN_KEYS:
            return None
        if rows_in < old * (1 - SHRINK_MAX_SHARE):
            raise refuse(old - rows_in)
        keys = ", ".join(q(k) for k in ext.key)

        def check(cur, partition: str, quarantined: int) -> None:
            # keys of the current state still present among the new file's valid rows; a quarantined row
            # is counted as a key kept (its previous version stands)
            cur.execute(f"select count(*) from {ddl.raw_table(ext)} o where o._load_id = %s "
                        f"and ({keys}) in (select {keys} from {partition})", (prev_id,))
            kept = cur.fetchone()[0] + quarantined
            if old - kept > old * SHRINK_MAX_SHARE:
                raise refuse(old - kept)

        return check


def is_platform_error(exc: BaseException) -> bool:
    """The warehouse, not the file: a connection lost or refused (too many connections, the server
    restarting), raised by psycopg2, by SQLAlchemy over it, or by GX testing its datasource's connection,
    directly or as the cause of what was raised. Such a failure is retried, never held against the file."""
    import psycopg2
    import sqlalchemy.exc

    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        # GX's TestConnectionError is a ConnectionError, as are a refused or reset socket
        if isinstance(exc, psycopg2.OperationalError | psycopg2.InterfaceError | sqlalchemy.exc.OperationalError
                      | sqlalchemy.exc.InterfaceError | ConnectionError):
            return True
        exc = exc.__cause__ or exc.__context__
    return False
