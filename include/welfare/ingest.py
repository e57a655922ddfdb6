"""Carry one extract file of one drop from the drop folder into the raw schema.

verify (manifest row count and sha256) -> check the header (encoding, schema
drift) -> COPY the bytes into a landing table -> validate with Great
Expectations -> publish in ONE transaction: valid rows typed into raw, failing
rows into audit.quarantine with their rules, the ledger and the audit row.
A file whose content was already loaded for that date is skipped: re-sent
drops and reruns change nothing. A file rejected whole is copied, untouched,
into ``$WELFARE_HOME/quarantine/files`` with its reason beside it.
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
from welfare.rules import Rule, q, rules_for, sql_list
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
    landing_s: float | None = None     # checks and COPY into the landing table
    validation_s: float | None = None  # the Great Expectations suite, every failing row fetched
    publish_s: float | None = None     # typed rows into raw, quarantine, ledger: one transaction

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
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


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


# ---------------------------------------------------------------- landing
def _landing_name(ext: Extract) -> str:
    return f"landing.{ext.qualified_name}__{uuid.uuid4().hex[:12]}"


def land_csv(cur, ext: Extract, path: Path, columns: list[str], table: str) -> int:
    cols = ", ".join(f"{q(c)} text" for c in columns)
    cur.execute(f"create unlogged table {table} (_row_no bigint generated always as identity, {cols}) "
                f"with (autovacuum_enabled = false)")
    copy = (
        f"copy {table} ({', '.join(q(c) for c in columns)}) from stdin with "
        f"(format csv, header true, delimiter {db.sql_literal(ext.delimiter)}, "
        f"encoding '{PG_ENCODINGS[ext.encoding]}')"
    )
    with open(path, "rb") as f:
        cur.copy_expert(copy, f, size=1 << 20)
    return cur.rowcount


def land_jsonl(cur, ext: Extract, path: Path, table: str) -> int:
    """COPY a JSON-lines file, then unpack it into one text column per contract column.

    Fast path: COPY parses every line as jsonb. If a line is not JSON that COPY fails, and
    the file is loaded again as text, each line parsed on its own (``util.try_jsonb_object``)
    so that the bad lines can be quarantined and the rest loaded.
    """
    import psycopg2  # not at module level: DAG files import this module when Airflow parses them

    doc = table + "_doc"
    # One line = one field: quote and delimiter are control bytes JSON text never holds raw.
    copy = f"copy {doc} (doc) from stdin with (format csv, quote e'\\x01', delimiter e'\\x02', encoding 'UTF8')"
    cur.execute("savepoint land_jsonl")
    try:
        cur.execute(f"create unlogged table {doc} (_row_no bigint generated always as identity, doc jsonb) "
                    f"with (autovacuum_enabled = false)")
        with open(path, "rb") as f:
            cur.copy_expert(copy, f, size=1 << 20)
        parsed = "case when jsonb_typeof(r.doc) = 'object' then r.doc end"
    except psycopg2.DataError:
        cur.execute("rollback to savepoint land_jsonl")
        cur.execute(f"create unlogged table {doc} (_row_no bigint generated always as identity, doc text) "
                    f"with (autovacuum_enabled = false)")
        with open(path, "rb") as f:
            cur.copy_expert(copy, f, size=1 << 20)
        parsed = "util.try_jsonb_object(r.doc)"
    n = cur.rowcount
    cur.execute("release savepoint land_jsonl")
    names = "array[" + sql_list(ext.column_names) + "]::text[]"
    exprs = []
    for c in ext.columns:
        if c.type == "list":
            exprs.append(
                f"case when jsonb_typeof(j.doc -> '{c.name}') = 'array' then "
                f"array_to_string(array(select jsonb_array_elements_text(j.doc -> '{c.name}')), "
                f"{db.sql_literal(c.separator or '|')}) else j.doc ->> '{c.name}' end as {q(c.name)}")
        else:
            exprs.append(f"j.doc ->> '{c.name}' as {q(c.name)}")
    cur.execute(
        f"create unlogged table {table} with (autovacuum_enabled = false) as select r._row_no, "
        f"(j.doc is null) as _not_json, "
        # keys outside the contract: only rows that have some pay for listing them
        f"case when (j.doc - {names}) <> '{{}}'::jsonb then "
        f"array(select k from jsonb_object_keys(j.doc - {names}) k order by k) else '{{}}' end as _extra_keys, "
        + ", ".join(exprs)
        + f" from {doc} r cross join lateral (select {parsed} as doc) j"
    )
    cur.execute(f"drop table {doc}")
    return n


def jsonl_drift(cur, ext: Extract, table: str, path: Path) -> None:
    """Reject a JSON-lines file whose records carry keys the contract does not know."""
    cur.execute(f"select distinct unnest(_extra_keys) from {table} order by 1")
    extra = [r[0] for r in cur.fetchall()]
    if extra:
        raise FileRejected("schema_drift", f"{path.name}: schema drift, keys not in the contract: "
                           + ", ".join(extra))
    # A key that no record carries at all, where the contract requires it, is a removed column.
    missing = []
    for c in ext.columns:
        if c.required:
            cur.execute(f"select bool_and({q(c.name)} is null) from {table} where not _not_json")
            if cur.fetchone()[0]:
                missing.append(c.name)
    if missing:
        raise FileRejected("schema_drift", f"{path.name}: schema drift, no record carries "
                           + ", ".join(missing))


# ---------------------------------------------------------------- validation
def json_rule() -> Rule:
    return Rule("not_json", None, "sql", "_not_json", "the line is not a JSON object%s")


def validate(target: PgTarget, ext: Extract, table: str, run_label: str) -> tuple[list[tuple[int, str]], list[Rule]]:
    from welfare import validation

    schema, name = table.split(".", 1)
    report = validation.validate_landing(target.sqlalchemy_url, schema, name, ext,
                                         docs_dir=data_docs_dir(), run_label=run_label)
    failures = list(report.failures)
    rules = rules_for(ext)
    if ext.format == "jsonl":
        rules = [json_rule(), *rules]
    return failures, rules


def _not_json_failures(cur, table: str) -> list[tuple[int, str]]:
    cur.execute(f"select _row_no from {table} where _not_json")
    return [(r[0], "not_json") for r in cur.fetchall()]


# ---------------------------------------------------------------- publish
def _publish(cur, ext: Extract, table: str, extract_date: date, file_name: str, sha: str,
             rows_in: int, failures: list[tuple[int, str]], rules: list[Rule]) -> tuple[int, int, int, dict]:
    order = {r.name: i for i, r in enumerate(rules)}
    by_name = {r.name: r for r in rules}
    cur.execute("create temp table _failure (row_no bigint, rule_order int, rule text, col text, template text) on commit drop")
    buf = io.StringIO()
    w = csv.writer(buf)
    for row_no, rule_name in failures:
        rule = by_name[rule_name]
        w.writerow([row_no, order[rule_name], rule_name, rule.column or "", rule.message])
    buf.seek(0)
    cur.copy_expert("copy _failure from stdin with (format csv)", buf)
    cur.execute(
        "insert into audit.load_ledger (system, extract, extract_date, file_name, sha256, rows_in, rows_loaded, "
        "rows_quarantined) "
        "values (%s, %s, %s, %s, %s, %s, 0, 0) returning load_id",
        (ext.system, ext.name, extract_date, file_name, sha, rows_in),
    )
    load_id = cur.fetchone()[0]
    where = f"{ext.system}/{extract_date.isoformat()}/{file_name}"
    cur.execute(
        f"""
        insert into audit.quarantine (load_id, system, extract, extract_date, source_file, row_no, rule, rules,
                                      message, messages, record)
        select %(load_id)s, %(system)s, %(extract)s, %(date)s, %(file)s, f.row_no,
               (array_agg(f.rule order by f.rule_order))[1],
               array_agg(f.rule order by f.rule_order),
               (array_agg(f.msg order by f.rule_order))[1],
               array_agg(f.msg order by f.rule_order),
               min(f.record::text)::jsonb
        from (
            select f.row_no, f.rule, f.rule_order, rec.record,
                   format('row %%s of %%s: %%s [rule %%s]', f.row_no, %(where)s,
                          format(f.template, coalesce(quote_literal(rec.record ->> nullif(f.col, '')), '')),
                          f.rule) as msg
            from _failure f
            join lateral (select to_jsonb(l) - '_row_no' - '_not_json' - '_extra_keys' as record
                          from {table} l where l._row_no = f.row_no) rec on true
        ) f
        group by f.row_no
        """,
        {"load_id": load_id, "system": ext.system, "extract": ext.name, "date": extract_date,
         "file": file_name, "where": where},
    )
    quarantined = cur.rowcount
    cols = ", ".join(q(c.name) for c in ext.columns)
    typed = ", ".join(db.typed_expr(ext, c) for c in ext.columns)
    cur.execute(f"create table {db.raw_partition(ext, load_id)} partition of {db.raw_table(ext)} "
                f"for values in ({int(load_id)})")
    cur.execute(
        f"""
        insert into {db.raw_partition(ext, load_id)} (_load_id, _system, _extract, _extract_date, _source_file, _row_no,
                                                    {cols})
        select %s, %s, %s, %s, %s, l._row_no, {typed}
        from {table} l
        where not exists (select 1 from _failure f where f.row_no = l._row_no)
        """,
        (load_id, ext.system, ext.name, extract_date, file_name),
    )
    loaded = cur.rowcount
    cur.execute("select rule, count(distinct row_no) from _failure group by rule order by rule")
    by_rule = {r: n for r, n in cur.fetchall()}
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

    sha = sha256_of(path) if path.exists() else None
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
        table = _landing_name(ext)
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
            if ext.format == "csv":
                columns = check_header(ext, path)
                try:
                    n = land_csv(cur, ext, path, columns, table)
                except Exception as exc:  # COPY refuses malformed CSV or bytes outside the encoding
                    conn.rollback()
                    raise FileRejected("unreadable", f"{ext.file}: cannot be read as {ext.encoding} CSV: "
                                       + str(exc).strip().replace("\n", " ")) from exc
            else:
                n = land_jsonl(cur, ext, path, table)
            conn.commit()
            if n != int(entry.get("rows", -1)):
                raise FileRejected(
                    "manifest_rows",
                    f"{ext.file}: {n} records, but the manifest says {entry.get('rows')}; the file is truncated "
                    "or was changed after the manifest was written")
            if ext.format == "jsonl":
                jsonl_drift(cur, ext, table, path)
            res.rows_in = n
            res.landing_s = round(time.monotonic() - t0, 3)
            t_val = time.monotonic()
            failures, rules = validate(target, ext, table, run_label=f"{system}.{extract_name}.{extract_date}")
            if ext.format == "jsonl":
                failures = _not_json_failures(cur, table) + failures
            res.validation_s = round(time.monotonic() - t_val, 3)
            t_pub = time.monotonic()
            load_id, loaded, quarantined, by_rule = _publish(
                cur, ext, table, extract_date, ext.file, sha, n, failures, rules)
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
        finally:
            _drop_landing(target, conn, table)
    return res


def _drop_landing(target: PgTarget, conn, table: str) -> None:
    """Drop this load's landing tables, on a fresh connection if the load's own one died."""
    import psycopg2

    sql = f"drop table if exists {table}; drop table if exists {table}_doc"
    try:
        conn.rollback()
        with conn.cursor() as cur:
            cur.execute(sql)
        conn.commit()
    except psycopg2.Error:
        with db.connect(target.dsn, autocommit=True) as fresh, fresh.cursor() as cur:
            cur.execute(sql)


def threshold_for(system: str, extract_name: str, default: float = DEFAULT_QUARANTINE_THRESHOLD) -> float:
    """Per-extract quarantine threshold: ``WELFARE_QUARANTINE_THRESHOLD__<SYSTEM>__<EXTRACT>`` or the default."""
    import os

    key = f"WELFARE_QUARANTINE_THRESHOLD__{system.upper()}__{extract_name.upper()}"
    value = os.environ.get(key) or os.environ.get("WELFARE_QUARANTINE_THRESHOLD")
    return float(value) if value else default
