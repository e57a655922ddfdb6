"""Publish one checked file in one transaction: the ledger row, the failing rows into
``audit.quarantine`` (rules, message, record as delivered), and the valid rows typed and streamed
by COPY into a new partition of its raw table.

Imported lazily by the loader (Airflow parses the DAG files that import ``welfare.ingest``).
"""

from __future__ import annotations

import io
import queue
import threading
from datetime import date

import polars as pl

from welfare.contract import Extract
from welfare.validation.expressions import ROW_NO, be_date, iso_date, trim
from welfare.validation.rules import Rule
from welfare.warehouse import ddl
from welfare.warehouse.sql import q, sql_literal


def publish(cur, ext: Extract, df, flags, rules: list[Rule], extract_date: date, file_name: str, sha: str,
             rows_in: int) -> tuple[int, int, int, dict]:
    """One transaction: the ledger row, the quarantined rows with their rules and record, and the
    valid rows typed into a new raw partition by COPY."""
    names = [r.name for r in rules]
    meta = pl.DataFrame({"rule": names, "rule_order": list(range(len(rules))),
                         "col": [r.column or "" for r in rules], "template": [r.message for r in rules]})
    failed = (flags.unpivot(index=ROW_NO, on=names, variable_name="rule", value_name="failed")
              .filter(pl.col("failed")).join(meta, on="rule")
              .select(ROW_NO, "rule_order", "rule", "col", "template"))
    cur.execute("create temp table _failure (row_no bigint, rule_order int, rule text, col text, template text) "
                "on commit drop")
    cur.execute("create temp table _failed_record (row_no bigint primary key, record jsonb) on commit drop")
    buf = io.BytesIO()
    failed.write_csv(buf, include_header=False)
    buf.seek(0)
    cur.copy_expert("copy _failure from stdin with (format csv)", buf)
    bad_rows = flags.select(ROW_NO)
    records = df.join(bad_rows, on=ROW_NO, how="semi")
    buf = io.BytesIO()
    records.select(ROW_NO, records_json(ext, records)).write_csv(buf, include_header=False)
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
    partition = ddl.raw_partition(ext, load_id)
    typed_ddl = ", ".join(f"{q(c.name)} {ddl.SQL_TYPES[c.type]}" for c in ext.columns)
    cur.execute(f"create table {partition} (_load_id bigint not null default {int(load_id)} "
                f"check (_load_id = {int(load_id)}), _row_no bigint not null, {typed_ddl})")
    typed = typed_columns(ext)
    marked = df.with_columns(pl.col(ROW_NO).is_in(bad_rows[ROW_NO].implode()).alias("_bad"))

    def valid_typed(part):
        return part.filter(~pl.col("_bad")).select(ROW_NO, *typed)

    cols = ", ".join(q(c.name) for c in ext.columns)
    stream = CsvStream(marked, valid_typed)
    try:
        cur.copy_expert(f"copy {partition} (_row_no, {cols}) from stdin with (format csv, encoding 'UTF8')",
                        stream, size=1 << 20)
    finally:
        stream.close()
    loaded = cur.rowcount
    cur.execute(
        f"alter table {partition} "
        f"add column _system text not null default {sql_literal(ext.system)}, "
        f"add column _extract text not null default {sql_literal(ext.name)}, "
        f"add column _extract_date date not null default {sql_literal(extract_date.isoformat())}, "
        f"add column _source_file text not null default {sql_literal(file_name)}, "
        f"add column _loaded_at timestamptz not null default now()")
    cur.execute(f"alter table {ddl.raw_table(ext)} attach partition {partition} for values in ({int(load_id)})")
    by_rule = {r: n for r, n in failed.group_by("rule").agg(pl.col(ROW_NO).n_unique()).iter_rows()}
    cur.execute("update audit.load_ledger set rows_loaded = %s, rows_quarantined = %s where load_id = %s",
                (loaded, quarantined, load_id))
    return load_id, loaded, quarantined, by_rule


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


class CsvStream(io.RawIOBase):
    """A file-like object COPY reads: the frame written as CSV, slice by slice, by a producer thread
    (Polars writes CSV without the GIL, so the writing overlaps the server's COPY)."""

    def __init__(self, df: pl.DataFrame, transform=None, rows_per_chunk: int = 500_000):
        super().__init__()
        self._transform = transform or (lambda part: part)
        self._q: queue.Queue = queue.Queue(maxsize=4)
        self._buf = b""
        self._done = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._produce, args=(df, rows_per_chunk), daemon=True)
        self._thread.start()

    def _produce(self, df: pl.DataFrame, n: int) -> None:
        try:
            for start in range(0, df.height, n):
                buf = io.BytesIO()
                self._transform(df.slice(start, n)).write_csv(buf, include_header=False, null_value="")
                self._q.put(buf.getvalue())
        except BaseException as exc:  # surfaced to the reader
            self._error = exc
        finally:
            self._q.put(None)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while not self._done and (size < 0 or len(self._buf) < size):
            chunk = self._q.get()
            if chunk is None:
                self._done = True
                if self._error is not None:
                    raise self._error
                break
            self._buf += chunk
        if size < 0:
            out, self._buf = self._buf, b""
        else:
            out, self._buf = self._buf[:size], self._buf[size:]
        return out

    def close(self) -> None:
        # let a producer blocked on a full queue finish
        while self._thread.is_alive():
            try:
                self._q.get_nowait()
            except queue.Empty:
                self._thread.join(0.05)
        super().close()


def records_json(ext: Extract, df: pl.DataFrame) -> pl.Series:
    """Each row's record as delivered, a JSON object of the contract's columns."""
    return df.select(pl.struct(ext.column_names).struct.json_encode().alias("record"))["record"]
