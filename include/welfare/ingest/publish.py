"""Check and publish one file, chunk by chunk, in one transaction.

The ledger row first (its load id names the new raw partition). Then a producer thread reads the
file as a stream of frames (``readers.frames``) and evaluates every rule on each
(``welfare.validation.expressions``), with the file's duplicate keys found beforehand; it writes the
valid rows, typed, into the stream that ``COPY`` reads into the partition, and spools to disk the
rule results of the failing rows (for Great Expectations) and their records as delivered (for the
quarantine). Reading and checking a chunk overlap the server's COPY of the one before. Memory
holds a few chunks, whatever the file's size. Then: the failing rows into ``audit.quarantine``
(rules, message, record as delivered), the Great Expectations suite on the rule results, the
snapshot-shrink check, and the partition attached.

Imported lazily by the loader (Airflow parses the DAG files that import ``welfare.ingest``).
"""

from __future__ import annotations

import io
import queue
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl

from welfare.contract import Extract
from welfare.ingest import readers
from welfare.ingest.outcome import FileRejected
from welfare.validation.expressions import NOT_JSON, RAW_LINE, ROW_NO, be_date, evaluate, iso_date, trim
from welfare.validation.rules import Rule
from welfare.warehouse import ddl
from welfare.warehouse.sql import q


@dataclass
class Published:
    load_id: int
    rows_loaded: int
    rows_quarantined: int
    by_rule: dict[str, int]
    validation_s: float = 0.0  # rules on every chunk (in the producer) and Great Expectations
    docs_s: float = 0.0
    rule_counts: dict[str, int] = field(default_factory=dict)


class _Spool:
    """The failing rows' rule results and records, written to disk chunk by chunk."""

    def __init__(self, folder: Path):
        self.flags = open(folder / "flags.csv", "wb")  # noqa: SIM115 - closed by close()
        self.failures = open(folder / "failures.csv", "wb")  # noqa: SIM115
        self.records = open(folder / "records.csv", "wb")  # noqa: SIM115

    def close(self) -> None:
        for f in (self.flags, self.failures, self.records):
            f.close()


def rule_templates(ext: Extract, rules: list[Rule]) -> list[str]:
    """Each rule's message template; without the value for an extract about persons (PDPA): the
    message names the file, row, column and rule, and the value stays in the quarantined record."""
    if not ext.holds_personal_data:
        return [r.message for r in rules]
    return [r.message.replace(" %s", "").replace("%s", "") for r in rules]


def publish(cur, target, ext: Extract, path: Path, quoted: bool, columns: list[str] | None,
            duplicate_rows: pl.Series, rules: list[Rule], json_rule: Rule | None,
            extract_date: date, sha: str,
            rows_in: int, run_label: str, shrink_check: Callable | None = None) -> Published:
    """The whole file checked and published in the transaction of ``cur``; FileRejected if a chunk
    turns out unreadable or the snapshot shrinks too far (the caller rolls back)."""
    from welfare.validation import suites

    all_rules = ([json_rule] if json_rule else []) + rules
    names = [r.name for r in all_rules]
    cur.execute(
        "insert into audit.load_ledger (system, extract, extract_date, file_name, sha256, rows_in, rows_loaded, "
        "rows_quarantined) values (%s, %s, %s, %s, %s, %s, 0, 0) returning load_id",
        (ext.system, ext.name, extract_date, ext.file, sha, rows_in))
    load_id = cur.fetchone()[0]
    # the owner's function makes the partition (the loader may create no table in raw): _load_id, _row_no
    # and the contract's typed columns; the load's constant columns are added before it is attached
    cur.execute("select util.raw_partition_create(%s)", (load_id,))
    partition = ddl.raw_partition(ext, load_id)
    typed = typed_columns(ext)
    meta = pl.DataFrame({"rule": names, "rule_order": list(range(len(all_rules))),
                         "col": [r.column or "" for r in all_rules], "template": rule_templates(ext, all_rules)})
    counts = dict.fromkeys(names, 0)
    seconds = {"rules": 0.0}

    with tempfile.TemporaryDirectory(prefix="welfare-load-") as tmp:
        spool = _Spool(Path(tmp))

        def chunks() -> Iterator[bytes]:
            for frame in readers.frames(ext, path, quoted, columns):
                # cp874 columns of few values arrive as a dictionary (Categorical); typing reads text
                frame = frame.with_columns(pl.col(c).cast(pl.String) for c, t in frame.schema.items()
                                           if t == pl.Categorical)
                t0 = time.monotonic()
                flags = evaluate(ext, frame, rules, duplicate_rows)
                if json_rule is not None:
                    bad_json = frame.filter(pl.col(NOT_JSON)).select(ROW_NO)
                    flags = (flags.join(bad_json.with_columns(pl.lit(True).alias(json_rule.name)), on=ROW_NO,
                                        how="full", coalesce=True)
                             .with_columns(pl.col(n).fill_null(False) for n in names)
                             .sort(ROW_NO).select(ROW_NO, *names))
                seconds["rules"] += time.monotonic() - t0
                for n in names:
                    counts[n] += int(flags[n].sum())
                flags.select(ROW_NO, *[r.name for r in rules]).write_csv(spool.flags, include_header=False)
                (flags.unpivot(index=ROW_NO, on=names, variable_name="rule", value_name="failed")
                 .filter(pl.col("failed")).join(meta, on="rule")
                 .select(ROW_NO, "rule_order", "rule", "col", "template")
                 .write_csv(spool.failures, include_header=False))
                bad = frame.join(flags.select(ROW_NO), on=ROW_NO, how="semi")
                bad.select(ROW_NO, records_json(ext, bad)).write_csv(spool.records, include_header=False)
                valid = frame.join(flags.select(ROW_NO), on=ROW_NO, how="anti").select(ROW_NO, *typed)
                buf = io.BytesIO()
                valid.write_csv(buf, include_header=False, null_value="")
                yield buf.getvalue()

        cols = ", ".join(q(c.name) for c in ext.columns)
        stream = ChunkStream(chunks())
        try:
            cur.copy_expert(f"copy {partition} (_row_no, {cols}) from stdin with (format csv, encoding 'UTF8')",
                            stream, size=1 << 20)
        except Exception:
            if isinstance(stream.error, FileRejected):
                raise stream.error from None
            raise
        finally:
            stream.close()
            spool.close()
        loaded = cur.rowcount

        cur.execute("create temp table _failure (row_no bigint, rule_order int, rule text, col text, template text) "
                    "on commit drop")
        cur.execute("create temp table _failed_record (row_no bigint primary key, record jsonb) on commit drop")
        with open(Path(tmp) / "failures.csv", "rb") as f:
            cur.copy_expert("copy _failure from stdin with (format csv)", f)
        with open(Path(tmp) / "records.csv", "rb") as f:
            cur.copy_expert("copy _failed_record from stdin with (format csv)", f)
        quarantined = _quarantine(cur, ext, load_id, extract_date)

        t_gx = time.monotonic()
        report = _great_expectations(target, ext, rules, Path(tmp) / "flags.csv", run_label, suites)
        if report.rule_counts != {r.name: counts[r.name] for r in rules}:
            raise RuntimeError(f"{ext.qualified_name}: Great Expectations and the rule evaluation disagree: "
                               f"{report.rule_counts}")
        validation_s = seconds["rules"] + (time.monotonic() - t_gx - report.docs_s)

    if shrink_check is not None:
        shrink_check(cur, partition, quarantined)
    # the constant columns (_system, _extract, _extract_date, _source_file, _loaded_at) as defaults, no
    # row rewritten; then the partition is attached to raw.<system>__<extract>
    cur.execute("select util.raw_partition_attach(%s)", (load_id,))
    cur.execute("select rule, count(distinct row_no) from _failure group by rule")
    by_rule = dict(cur.fetchall())
    cur.execute("update audit.load_ledger set rows_loaded = %s, rows_quarantined = %s where load_id = %s",
                (loaded, quarantined, load_id))
    return Published(load_id, loaded, quarantined, by_rule, round(validation_s, 3), report.docs_s, counts)


def _quarantine(cur, ext: Extract, load_id: int, extract_date: date) -> int:
    where = f"{ext.system}/{extract_date.isoformat()}/{ext.file}"
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
         "file": ext.file, "where": where},
    )
    return cur.rowcount


def _great_expectations(target, ext: Extract, rules: list[Rule], flags_csv: Path, run_label: str, suites):
    """The extract's suite, run on the rule results of the failing rows (a table in ``landing``)."""
    import uuid

    from welfare.settings import data_docs_dir
    from welfare.warehouse.sql import connect

    results = f"{ext.qualified_name}__{uuid.uuid4().hex[:12]}__rules"
    with connect(target.dsn) as conn, conn.cursor() as cur:
        cols = ", ".join(f"{q(r.name)} boolean" for r in rules)
        cur.execute(f"create unlogged table landing.{q(results)} ({ROW_NO} bigint, {cols})")
        with open(flags_csv, "rb") as f:
            cur.copy_expert(f"copy landing.{q(results)} from stdin with (format csv)", f)
        conn.commit()
    return suites.validate_rule_results(target.sqlalchemy_url, "landing", results, ext,
                                        docs_dir=data_docs_dir(), run_label=run_label, with_failures=False)


def typed_columns(ext: Extract) -> list[pl.Expr]:
    """Each contract column as PostgreSQL's COPY reads it into the raw table's type (NULL for '')."""
    out = []
    for col in ext.columns:
        v = pl.col(col.name)
        if col.type in ("str", "enum"):
            e = pl.when(v != "").then(v)
        elif col.type in ("int", "decimal", "bool"):
            t = trim(v)
            e = pl.when(t != "").then(t)
        elif col.type == "date":
            t = trim(v)
            e = (be_date(t) if ext.dates == "be" else iso_date(t)).dt.to_string("%Y-%m-%d")
        elif col.type == "list":
            sep = col.separator or "|"
            base = v if ext.format == "jsonl" else pl.when(trim(v) != "").then(trim(v))
            quoted = base.str.split(sep).list.eval(
                pl.lit('"') + pl.element().str.replace_all("\\", "\\\\", literal=True)
                .str.replace_all('"', '\\"', literal=True) + pl.lit('"'))
            e = pl.when(base.is_not_null()).then(
                pl.when(base == "").then(pl.lit("{}")).otherwise(pl.lit("{") + quoted.list.join(",") + pl.lit("}")))
        else:
            raise ValueError(f"unknown type {col.type}")
        out.append(e.alias(col.name))
    return out


class ChunkStream(io.RawIOBase):
    """A file-like object COPY reads: the byte chunks of an iterator, produced by a thread (Polars
    works without the GIL, so producing the next chunk overlaps the server's COPY of this one). An
    error in the producer is raised to the reader, and kept in ``error``."""

    def __init__(self, chunks: Iterator[bytes], depth: int = 2):
        super().__init__()
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._buf = b""
        self._pos = 0
        self._done = False
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._produce, args=(chunks,), daemon=True)
        self._thread.start()

    def _produce(self, chunks: Iterator[bytes]) -> None:
        try:
            for chunk in chunks:
                if not chunk:
                    continue
                while not self._stop.is_set():
                    try:
                        self._q.put(chunk, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    return
        except BaseException as exc:  # surfaced to the reader
            self.error = exc
        finally:
            self._q.put(None)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (fewer at a chunk's end; b'' only at the end of the stream)."""
        if self._pos >= len(self._buf):
            if self._done:
                return b""
            chunk = self._q.get()
            if chunk is None:
                self._done = True
                if self.error is not None:
                    raise self.error
                return b""
            self._buf, self._pos = chunk, 0
        end = len(self._buf) if size < 0 else min(len(self._buf), self._pos + size)
        out = self._buf[self._pos:end]
        self._pos = end
        return out

    def close(self) -> None:
        self._stop.set()
        while self._thread.is_alive():  # let a producer blocked on a full queue finish
            try:
                self._q.get_nowait()
            except queue.Empty:
                self._thread.join(0.05)
        super().close()


def records_json(ext: Extract, df: pl.DataFrame) -> pl.Series:
    """Each row's record as delivered: a JSON object of the contract's columns, or, for a JSON line
    that is not a flat JSON object, ``{"_line": <the line as delivered>}``."""
    record = pl.struct(ext.column_names).struct.json_encode()
    if RAW_LINE in df.columns:
        record = (pl.when(pl.col(RAW_LINE).is_not_null())
                  .then(pl.struct(pl.col(RAW_LINE).alias("_line")).struct.json_encode())
                  .otherwise(record))
    return df.select(record.alias("record"))["record"]
