"""Carry one extract file of one drop from the drop folder into the raw schema.

verify (manifest row count and sha256) -> check the header (encoding, schema drift) -> read the
file once into columns (``welfare.frame``: Arrow's CSV reader, Polars' JSON-lines reader) ->
evaluate every rule there and run the Great Expectations suite on the rule results -> publish in
ONE transaction: the ledger row, failing rows into audit.quarantine with their rules and record,
valid rows typed and streamed by COPY into a new raw partition, and the audit row.
A file whose content was already loaded for that date is skipped: re-sent drops and reruns change
nothing. A file rejected whole is copied, untouched, into ``$WELFARE_HOME/quarantine/files`` with
its reason beside it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import shutil
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from welfare import contract, db
from welfare.contract import Extract
from welfare.rules import Rule, q, rules_for
from welfare.settings import PgTarget, data_docs_dir, quarantine_dir

log = logging.getLogger(__name__)

MANIFEST = "_manifest.json"
DEFAULT_QUARANTINE_THRESHOLD = 0.05
PG_ENCODINGS = {"utf-8-sig": "UTF8", "utf-8": "UTF8", "cp874": "WIN874"}
PY_ENCODINGS = {"utf-8-sig": "utf-8-sig", "utf-8": "utf-8", "cp874": "cp874"}


class FileRejected(Exception):
    """The whole file is refused; ``rule`` names why."""

    def __init__(self, rule: str, message: str):
        super().__init__(message)
        self.rule = rule


@dataclass
class FileResult:
    system: str
    extract: str
    extract_date: str
    file_name: str
    status: str  # loaded | rejected | resent | duplicate (this date's file, loaded before) | absent
    rows_in: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_rejected: int = 0
    rows_resent: int = 0
    resent_of: int | None = None
    quarantined_by_rule: dict[str, int] = field(default_factory=dict)
    threshold_breached: bool = False
    reason: str | None = None
    load_id: int | None = None
    duration_s: float = 0.0
    landing_s: float | None = None     # checks, and the file read into columns
    validation_s: float | None = None  # every rule evaluated, the Great Expectations suite on the results
    publish_s: float | None = None     # ledger, quarantine, typed rows COPYed into raw: one transaction
    docs_s: float | None = None        # the Data Docs pages of this validation (reporting; not in validation_s)

    @property
    def failed(self) -> bool:
        return self.status == "rejected" or self.threshold_breached

    def as_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------- drops
def drop_folder(sources: Path, system: str, extract_date: date) -> Path:
    return Path(sources) / system / extract_date.isoformat()


def drop_complete(sources: Path, system: str, extract_date: date) -> bool:
    return (drop_folder(sources, system, extract_date) / MANIFEST).exists()


def read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise FileRejected("manifest", f"{path}: cannot read the manifest: {exc}") from exc
    if not isinstance(manifest.get("files"), list):
        raise FileRejected("manifest", f"{path}: manifest has no 'files' list")
    return manifest


def complete_drop_dates(sources: Path) -> dict[date, list[str]]:
    """Every extract date with at least one complete drop, and the systems that dropped."""
    found: dict[date, list[str]] = {}
    for system in contract.systems():
        root = Path(sources) / system
        if not root.is_dir():
            continue
        for folder in sorted(root.iterdir()):
            try:
                d = date.fromisoformat(folder.name)
            except ValueError:
                continue
            if (folder / MANIFEST).exists():
                found.setdefault(d, []).append(system)
    return dict(sorted(found.items()))


def sha256_of(path: Path) -> str:
    return scan_file(path)[0]


def scan_file(path: Path) -> tuple[str, bool]:
    """The file's sha256, and whether it holds a double quote (a CSV field that may span lines),
    in one read."""
    h = hashlib.sha256()
    quoted = False
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
            quoted = quoted or b'"' in chunk
    return h.hexdigest(), quoted


# ---------------------------------------------------------------- header
def check_header(ext: Extract, path: Path) -> list[str]:
    """Contract column names in the file's order; reject on encoding trouble or drift."""
    with open(path, "rb") as f:
        first = f.readline()
    expected_labels = [c.header or c.name for c in ext.columns]
    try:
        text = first.decode(PY_ENCODINGS[ext.encoding])
    except UnicodeDecodeError:
        text = None
    labels = next(csv.reader([text.lstrip("\ufeff")], delimiter=ext.delimiter)) if text else None
    if labels is None or not set(labels) & set(expected_labels):
        for other in ("utf-8", "cp874"):
            if other == ext.encoding:
                continue
            try:
                alt = next(csv.reader([first.decode(other).lstrip("\ufeff")], delimiter=ext.delimiter))
            except UnicodeDecodeError:
                continue
            if set(alt) & set(expected_labels):
                raise FileRejected(
                    "encoding",
                    f"{path.name}: delivered as {other}, but the contract says {ext.encoding}; "
                    "ask the source system to re-export with the agreed encoding",
                )
        raise FileRejected(
            "encoding" if labels is None else "schema_drift",
            f"{path.name}: the header row cannot be read as {ext.encoding}"
            if labels is None
            else f"{path.name}: none of the header labels match the contract: {labels[:5]}...",
        )
    header_map = ext.header_map
    unknown = [lab for lab in labels if lab not in header_map]
    missing = [lab for lab in expected_labels if lab not in labels]
    dupes = sorted({lab for lab in labels if labels.count(lab) > 1})
    if unknown or missing or dupes:
        parts = []
        if missing:
            parts.append("missing " + ", ".join(f"{lab} ({header_map[lab]})" for lab in missing))
        if unknown:
            parts.append("not in the contract " + ", ".join(unknown))
        if dupes:
            parts.append("repeated " + ", ".join(dupes))
        raise FileRejected("schema_drift", f"{path.name}: schema drift, " + "; ".join(parts))
    return [header_map[lab] for lab in labels]


# ---------------------------------------------------------------- read and validate
def read_file(ext: Extract, path: Path, quoted: bool | None = None):
    """The file as a columnar frame (text as delivered, ``_row_no``); FileRejected if unreadable."""
    from welfare import frame

    try:
        if ext.format == "csv":
            return frame.read_csv(ext, path, check_header(ext, path), has_quotes=quoted)
        return frame.read_jsonl(ext, path)
    except frame.Unreadable as exc:
        raise FileRejected(exc.rule, str(exc)) from exc


def json_rule() -> Rule:
    return Rule("not_json", None, "sql", "_not_json", "the line is not a JSON object%s")


def validate(target: PgTarget, ext: Extract, df, run_label: str):
    """Every rule evaluated on the frame, then the Great Expectations suite run on the rule results
    (written to a table beside the warehouse's landing schema). Returns the flags frame (rows that
    break a rule, a boolean per rule, ``not_json`` first for JSON lines), the rules in order and the
    seconds the Data Docs took to render."""
    import polars as pl

    from welfare import frame, validation

    rules = rules_for(ext)
    flags = frame.evaluate(ext, df, rules)
    results = f"{ext.qualified_name}__{uuid.uuid4().hex[:12]}__rules"
    with db.connect(target.dsn) as conn, conn.cursor() as cur:
        cols = ", ".join(f"{q(r.name)} boolean" for r in rules)
        cur.execute(f"create unlogged table landing.{q(results)} ({frame.ROW_NO} bigint, {cols})")
        buf = io.BytesIO()
        flags.write_csv(buf, include_header=False)
        buf.seek(0)
        cur.copy_expert(f"copy landing.{q(results)} from stdin with (format csv)", buf)
        conn.commit()
    report = validation.validate_rule_results(target.sqlalchemy_url, "landing", results, ext,
                                              docs_dir=data_docs_dir(), run_label=run_label, with_failures=False)
    if report.rule_counts != {r.name: int(flags[r.name].sum()) for r in rules}:
        raise RuntimeError(f"{ext.qualified_name}: Great Expectations and the rule evaluation disagree: "
                           f"{report.rule_counts}")
    if ext.format == "jsonl":
        rules = [json_rule(), *rules]
        bad_json = df.filter(pl.col(frame.NOT_JSON)).select(frame.ROW_NO)
        if bad_json.height:
            extra = bad_json.with_columns(pl.lit(True).alias("not_json"),
                                          *[pl.lit(False).alias(r.name) for r in rules[1:]])
            flags = pl.concat([flags.with_columns(pl.lit(False).alias("not_json")), extra], how="diagonal")
            flags = flags.group_by(frame.ROW_NO).agg(pl.all().any()).sort(frame.ROW_NO)
        else:
            flags = flags.with_columns(pl.lit(False).alias("not_json"))
        flags = flags.select(frame.ROW_NO, *[r.name for r in rules])
    return flags, rules, report.docs_s


# ---------------------------------------------------------------- publish
def _publish(cur, ext: Extract, df, flags, rules: list[Rule], extract_date: date, file_name: str, sha: str,
             rows_in: int) -> tuple[int, int, int, dict]:
    """One transaction: the ledger row, the quarantined rows with their rules and record, and the
    valid rows typed into a new raw partition by COPY."""
    import polars as pl

    from welfare import frame

    names = [r.name for r in rules]
    meta = pl.DataFrame({"rule": names, "rule_order": list(range(len(rules))),
                         "col": [r.column or "" for r in rules], "template": [r.message for r in rules]})
    failed = (flags.unpivot(index=frame.ROW_NO, on=names, variable_name="rule", value_name="failed")
              .filter(pl.col("failed")).join(meta, on="rule")
              .select(frame.ROW_NO, "rule_order", "rule", "col", "template"))
    cur.execute("create temp table _failure (row_no bigint, rule_order int, rule text, col text, template text) "
                "on commit drop")
    cur.execute("create temp table _failed_record (row_no bigint primary key, record jsonb) on commit drop")
    buf = io.BytesIO()
    failed.write_csv(buf, include_header=False)
    buf.seek(0)
    cur.copy_expert("copy _failure from stdin with (format csv)", buf)
    bad_rows = flags.select(frame.ROW_NO)
    records = df.join(bad_rows, on=frame.ROW_NO, how="semi")
    buf = io.BytesIO()
    records.select(frame.ROW_NO, frame.records_json(ext, records)).write_csv(buf, include_header=False)
    buf.seek(0)
    cur.copy_expert("copy _failed_record from stdin with (format csv)", buf)
    cur.execute(
        "insert into audit.load_ledger (system, extract, extract_date, file_name, sha256, rows_in, rows_loaded, "
        "rows_quarantined) "
        "values (%s, %s, %s, %s, %s, %s, 0, 0) returning load_id",
        (ext.system, ext.name, extract_date, file_name, sha, rows_in),
    )
    load_id = cur.fetchone()[0]
    where = f"{ext.system}/{extract_date.isoformat()}/{file_name}"
    cur.execute(
        """
        insert into audit.quarantine (load_id, system, extract, extract_date, source_file, row_no, rule, rules,
                                      message, messages, record)
        select %(load_id)s, %(system)s, %(extract)s, %(date)s, %(file)s, f.row_no,
               (array_agg(f.rule order by f.rule_order))[1],
               array_agg(f.rule order by f.rule_order),
               (array_agg(f.msg order by f.rule_order))[1],
               array_agg(f.msg order by f.rule_order),
               min(f.record::text)::jsonb
        from (
            select f.row_no, f.rule, f.rule_order, r.record,
                   format('row %%s of %%s: %%s [rule %%s]', f.row_no, %(where)s,
                          format(f.template, coalesce(quote_literal(r.record ->> nullif(f.col, '')), '')),
                          f.rule) as msg
            from _failure f
            join _failed_record r on r.row_no = f.row_no
        ) f
        group by f.row_no
        """,
        {"load_id": load_id, "system": ext.system, "extract": ext.name, "date": extract_date,
         "file": file_name, "where": where},
    )
    quarantined = cur.rowcount
    # The partition is created, filled and attached in this transaction. Only the file's own columns
    # and the load id travel per row; the columns that are the same for every row of the file are
    # added after the COPY with a constant default, which PostgreSQL keeps once in the catalogue
    # instead of in each row. The CHECK on _load_id spares ATTACH a scan of the rows.
    partition = db.raw_partition(ext, load_id)
    typed_ddl = ", ".join(f"{q(c.name)} {db.SQL_TYPES[c.type]}" for c in ext.columns)
    cur.execute(f"create table {partition} (_load_id bigint not null default {int(load_id)} "
                f"check (_load_id = {int(load_id)}), _row_no bigint not null, {typed_ddl})")
    typed = frame.typed_columns(ext)
    marked = df.with_columns(pl.col(frame.ROW_NO).is_in(bad_rows[frame.ROW_NO].implode()).alias("_bad"))

    def valid_typed(part):
        return part.filter(~pl.col("_bad")).select(frame.ROW_NO, *typed)

    cols = ", ".join(q(c.name) for c in ext.columns)
    stream = frame.CsvStream(marked, valid_typed)
    try:
        cur.copy_expert(f"copy {partition} (_row_no, {cols}) from stdin with (format csv, encoding 'UTF8')",
                        stream, size=1 << 20)
    finally:
        stream.close()
    loaded = cur.rowcount
    cur.execute(
        f"alter table {partition} "
        f"add column _system text not null default {db.sql_literal(ext.system)}, "
        f"add column _extract text not null default {db.sql_literal(ext.name)}, "
        f"add column _extract_date date not null default {db.sql_literal(extract_date.isoformat())}, "
        f"add column _source_file text not null default {db.sql_literal(file_name)}, "
        f"add column _loaded_at timestamptz not null default now()")
    cur.execute(f"alter table {db.raw_table(ext)} attach partition {partition} for values in ({int(load_id)})")
    by_rule = {r: n for r, n in failed.group_by("rule").agg(pl.col(frame.ROW_NO).n_unique()).iter_rows()}
    cur.execute("update audit.load_ledger set rows_loaded = %s, rows_quarantined = %s where load_id = %s",
                (loaded, quarantined, load_id))
    return load_id, loaded, quarantined, by_rule


def _record_audit(cur, res: FileResult, sha: str | None, run_id: str | None, started: datetime,
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


def _keep_rejected(path: Path, ext: Extract, extract_date: date, reason: str) -> str | None:
    if not path.exists():
        return None
    dest = quarantine_dir() / "files" / ext.system / extract_date.isoformat()
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(path, dest / path.name)
    (dest / (path.name + ".reason.txt")).write_text(reason + "\n", encoding="utf-8")
    return str(dest / path.name)


def _count_records(ext: Extract, path: Path) -> int:
    """Records in a file the loader could not COPY (for the audit of a rejected file)."""
    try:
        if ext.format == "jsonl":
            with open(path, "rb") as f:
                return sum(1 for line in f if line.strip())
        with open(path, encoding=PY_ENCODINGS[ext.encoding], errors="replace", newline="") as f:
            return max(0, sum(1 for _ in csv.reader(f, delimiter=ext.delimiter)) - 1)
    except (OSError, csv.Error):
        return 0


def _resent_of(cur, ext: Extract, extract_date: date, sha: str) -> tuple[int, int, date] | None:
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


# ---------------------------------------------------------------- entry point
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

    sha, quoted = scan_file(path) if path.exists() else (None, True)
    with db.connect(target.dsn) as conn, conn.cursor() as cur:
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
            resent = _resent_of(cur, ext, extract_date, sha)
            if resent is not None:
                res.status, res.resent_of, res.rows_in = "resent", resent[0], resent[1]
                res.rows_resent = res.rows_in
                res.reason = (f"byte-identical to the {resent[2]} delivery (load {resent[0]}): a re-send adds nothing")
                cur.execute("select 1 from audit.file_audit where system = %s and extract = %s and extract_date = %s "
                            "and sha256 = %s and status = 'resent'", (system, extract_name, extract_date, sha))
                if cur.fetchone() is None:
                    res.duration_s = round(time.monotonic() - t0, 3)
                    _record_audit(cur, res, sha, run_id, started, entry=entry)
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
            df = read_file(ext, path, quoted)
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
            load_id, loaded, quarantined, by_rule = _publish(
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
            _record_audit(cur, res, sha, run_id, started, entry=entry)
            conn.commit()
        except FileRejected as rej:
            conn.rollback()
            res.status = "rejected"
            res.reason = f"[{rej.rule}] {rej}"
            res.rows_in = res.rows_rejected = _count_records(ext, path) if path.exists() else 0
            res.duration_s = round(time.monotonic() - t0, 3)
            kept = _keep_rejected(path, ext, extract_date, res.reason)
            _record_audit(cur, res, sha, run_id, started, kept_at=kept, entry=entry)
            conn.commit()
            log.error("%s/%s/%s REJECTED: %s", system, extract_date, ext.file, res.reason)
    return res


def threshold_for(system: str, extract_name: str, default: float = DEFAULT_QUARANTINE_THRESHOLD) -> float:
    """Per-extract quarantine threshold: ``WELFARE_QUARANTINE_THRESHOLD__<SYSTEM>__<EXTRACT>`` or the default."""
    import os

    key = f"WELFARE_QUARANTINE_THRESHOLD__{system.upper()}__{extract_name.upper()}"
    value = os.environ.get(key) or os.environ.get("WELFARE_QUARANTINE_THRESHOLD")
    return float(value) if value else default
