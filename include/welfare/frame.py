"""Read one extract file into columns and evaluate its rules there, at columnar speed.

The ingest reads a file once, in this process, with Arrow's multi-threaded CSV reader
(CSV) or Polars' JSON-lines reader (JSON lines): every contract column as delivered,
as text, plus ``_row_no`` (the record's 1-based position in the file). Each rule of
``welfare.rules`` is evaluated here as a Polars expression that means exactly what its
SQL ``condition`` means (``tests/unit/test_frame.py`` checks the two agree, value by
value, on a corpus of awkward values), so the rows go to PostgreSQL once: the valid ones
typed, by COPY, straight into the raw partition, the failing ones into the quarantine.

Why not evaluate the rules in PostgreSQL on a landing table: that reads and writes every
row twice more (landing, then typed raw), and a file's duplicate keys need an aggregate
over all its rows; at province scale (53 M BMN indicator rows) that took several times
the COPY itself (figures in ``make bench-ingest``).

Imported lazily by the ingest (Airflow parses the DAG files that import ``welfare.ingest``).
"""

from __future__ import annotations

import io
import json
import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from welfare import contract
from welfare.contract import Column, Extract
from welfare.rules import CODE_PATTERNS, MIN_BE_YEAR, Rule, bool_values

ROW_NO = "_row_no"
NOT_JSON = "_not_json"
# JSON lines: keys are checked on this many lines from the start and as many spread over the rest.
KEY_SAMPLE = 2000


class Unreadable(Exception):
    """The file cannot be read as the contract says (encoding, CSV shape, JSON)."""

    def __init__(self, rule: str, message: str):
        super().__init__(message)
        self.rule = rule


# ---------------------------------------------------------------- reading
def _decode_cp874(arr, name: str, path: Path):
    """A binary column of cp874 bytes -> a string column (decoding each distinct value once)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = arr.combine_chunks() if hasattr(arr, "combine_chunks") else arr
    try:
        as_text = pc.cast(arr, pa.string())
        if pc.all(pc.string_is_ascii(as_text)).as_py() in (True, None):
            return as_text
    except pa.ArrowInvalid:
        pass
    enc = arr.dictionary_encode()
    values = []
    for v in enc.dictionary.to_pylist():
        try:
            values.append(v.decode("cp874"))
        except UnicodeDecodeError as exc:
            raise Unreadable("encoding", f"{path.name}: column {name} holds bytes that are not cp874 "
                             f"({v[max(0, exc.start - 8):exc.end + 8]!r})") from exc
    decoded = pa.DictionaryArray.from_arrays(enc.indices, pa.array(values, pa.string()))
    # Few distinct values (enums, Thai place names): kept as a dictionary (a Polars Categorical)
    return decoded if len(values) * 4 < len(arr) else decoded.cast(pa.string())


def read_csv(ext: Extract, path: Path, columns: list[str], has_quotes: bool | None = None) -> pl.DataFrame:
    """Every column as delivered (text; an unquoted empty field is NULL, as in COPY CSV)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    binary = ext.encoding == "cp874"
    # Quoted fields may hold line breaks; Arrow's faster parallel reader needs to know there are none.
    if has_quotes is None:
        has_quotes = _file_has(path, b'"')
    try:
        table = pcsv.read_csv(
            path,
            read_options=pcsv.ReadOptions(column_names=columns, skip_rows=1, block_size=64 << 20),
            parse_options=pcsv.ParseOptions(delimiter=ext.delimiter, newlines_in_values=has_quotes),
            convert_options=pcsv.ConvertOptions(
                column_types={c: pa.binary() if binary else pa.string() for c in columns},
                strings_can_be_null=True, quoted_strings_can_be_null=False, null_values=[""]),
        )
    except (pa.ArrowInvalid, OSError) as exc:
        message = str(exc).strip().replace("\n", " ")
        rule = "encoding" if "UTF8" in message or "utf8" in message.lower() else "unreadable"
        raise Unreadable(rule, f"{path.name}: cannot be read as {ext.encoding} CSV: {message[:400]}") from exc
    if binary:
        table = pa.table({c: _decode_cp874(table[c], c, path) for c in columns})
    df = pl.from_arrow(table)
    assert isinstance(df, pl.DataFrame)
    missing = [c.name for c in ext.columns if c.name not in df.columns]
    df = df.with_columns(pl.lit(None, pl.String).alias(c) for c in missing)
    return df.select(pl.int_range(1, df.height + 1, dtype=pl.Int64).alias(ROW_NO), *ext.column_names)


def _file_has(path: Path, needle: bytes) -> bool:
    with open(path, "rb") as f:
        while chunk := f.read(1 << 24):
            if needle in chunk:
                return True
    return False


def _sample_lines(path: Path) -> Iterator[bytes]:
    """The first KEY_SAMPLE lines and about as many spread over the rest of the file."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        for _ in range(KEY_SAMPLE):
            line = f.readline()
            if not line:
                return
            yield line
        start = f.tell()
        if start >= size:
            return
        step = max(1, (size - start) // KEY_SAMPLE)
        for pos in range(start + step, size, step):
            f.seek(pos)
            f.readline()  # the rest of the line the seek fell into
            line = f.readline()
            if line:
                yield line


def read_jsonl(ext: Extract, path: Path) -> pl.DataFrame:
    """Every contract key as text (numbers and booleans as JSON writes them, a list joined by its
    separator, ``[]`` as ''), plus ``_not_json``. Raises ``Unreadable('schema_drift')`` for keys
    outside the contract (checked on a sample of lines, as a CSV file is checked on its header)
    or a required key that no record carries."""
    names = ext.column_names
    extra: set[str] = set()
    for line in _sample_lines(path):
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict):
            extra.update(k for k in doc if k not in ext.header_map and k not in names)
    if extra:
        raise Unreadable("schema_drift", f"{path.name}: schema drift, keys not in the contract: "
                         + ", ".join(sorted(extra)))
    try:
        df = pl.read_ndjson(path, schema={n: pl.String for n in names})
        df = df.with_columns(pl.lit(False).alias(NOT_JSON))
    except Exception:  # a line is not JSON: read line by line, so that only that line is refused
        df = _read_jsonl_by_line(ext, path)
    df = df.select(pl.int_range(1, df.height + 1, dtype=pl.Int64).alias(ROW_NO), NOT_JSON, *names)
    for c in ext.columns:
        if c.type == "list":
            sep = c.separator or "|"
            col = pl.col(c.name)
            df = df.with_columns(
                pl.when(col.str.starts_with("["))
                .then(col.str.json_decode(pl.List(pl.String)).list.join(sep))
                .otherwise(col).alias(c.name))
    records = df.filter(~pl.col(NOT_JSON))
    missing = [c.name for c in ext.columns
               if c.required and records.height and records[c.name].null_count() == records.height]
    if missing:
        raise Unreadable("schema_drift", f"{path.name}: schema drift, no record carries " + ", ".join(missing))
    return df


def _read_jsonl_by_line(ext: Extract, path: Path) -> pl.DataFrame:
    names = ext.column_names
    cols: dict[str, list] = {n: [] for n in names}
    bad: list[bool] = []
    with open(path, "rb") as f:
        for raw in f:
            if not raw.strip():
                continue
            try:
                doc = json.loads(raw)
            except ValueError:
                doc = None
            if not isinstance(doc, dict):
                doc = None
            bad.append(doc is None)
            for n in names:
                v = None if doc is None else doc.get(n)
                if isinstance(v, bool):
                    v = "true" if v else "false"
                elif isinstance(v, list):
                    v = json.dumps(v, ensure_ascii=False)
                elif v is not None and not isinstance(v, str):
                    v = json.dumps(v)
                cols[n].append(v)
    return pl.DataFrame({**{n: pl.Series(n, cols[n], pl.String) for n in names}, NOT_JSON: bad})


# ---------------------------------------------------------------- rules as expressions
_INT = r"^-?[0-9]{1,18}$"
_DEC = r"^-?[0-9]+(\.[0-9]+)?$"
_BE = r"^[0-9]{2}/[0-9]{2}/[0-9]{4}$"
_ISO = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_PERIOD = r"^[0-9]{4}-(0[1-9]|1[0-2])$"


def _trim(e: pl.Expr) -> pl.Expr:
    return e.str.strip_chars(" ")  # PostgreSQL's btrim(x): spaces only


def present(c: str) -> pl.Expr:
    return _trim(pl.col(c)).fill_null("") != ""


def blank(c: str) -> pl.Expr:
    return ~present(c)


def _matches(c: str, regex: str) -> pl.Expr:
    return pl.col(c).str.contains(regex).fill_null(False)


def _in(c: str, values) -> pl.Expr:
    return pl.col(c).is_in([str(v) for v in values]).fill_null(False)


def be_date(e: pl.Expr) -> pl.Expr:
    """``util.be_date``: dd/mm/yyyy Buddhist Era -> date, NULL unless a real day with year >= 2400."""
    ok = e.str.contains(_BE).fill_null(False)
    year = e.str.slice(6, 4).cast(pl.Int32, strict=False)
    iso = pl.concat_str([(year - 543).cast(pl.String).str.zfill(4), e.str.slice(3, 2), e.str.slice(0, 2)],
                        separator="-")
    return pl.when(ok & (year >= MIN_BE_YEAR)).then(iso.str.to_date("%Y-%m-%d", strict=False))


def iso_date(e: pl.Expr) -> pl.Expr:
    ok = e.str.contains(_ISO).fill_null(False)
    return pl.when(ok & (e.str.slice(0, 4) != "0000")).then(e.str.to_date("%Y-%m-%d", strict=False))


def national_id_ok(e: pl.Expr) -> pl.Expr:
    """``util.national_id_ok``: 13 digits, the last = (11 - sum(d_i * (14 - i)) mod 11) mod 10.
    The digits come from the number by integer arithmetic in numpy (13 digits fit in 64 bits)."""
    ok = e.str.contains(r"^[0-9]{13}$").fill_null(False)
    return ok & pl.when(ok).then(e).map_batches(_checksum_ok, return_dtype=pl.Boolean)


def _checksum_ok(s: pl.Series) -> pl.Series:
    """The check digit of each 13-digit value (NULL elsewhere): all digits side by side in one
    buffer, a 13-column matrix of digits, one weighted sum."""
    import numpy as np

    present = s.is_not_null()
    digits13 = s.filter(present)
    out = np.zeros(len(s), dtype=bool)
    if len(digits13):
        buf = np.frombuffer(digits13.str.join("").item().encode("ascii"), dtype=np.uint8)
        d = (buf - ord("0")).reshape(-1, 13)
        total = np.zeros(len(d), dtype=np.int32)
        for i in range(12):  # (integer matmul in numpy is not BLAS: a loop of columns is faster)
            total += d[:, i].astype(np.int32) * (13 - i)
        out[present.to_numpy()] = ((11 - total % 11) % 10) == d[:, 12]
    return pl.Series(s.name, out)


def rule_expr(ext: Extract, rule: Rule) -> pl.Expr:
    """TRUE for a row that breaks ``rule``: the same rows as its SQL ``condition``."""
    c, code = rule.column, rule.code
    col: Column | None = next((x for x in ext.columns if x.name == c), None)
    v = pl.col(c) if c else None
    if code == "not_json":
        return pl.col(NOT_JSON)
    if code == "required":
        return v.is_null() if (col.type == "list" and ext.format == "jsonl") else blank(c)
    if code == "type_int":
        return present(c) & ~_matches(c, _INT)
    if code == "type_decimal":
        return present(c) & ~_matches(c, _DEC)
    if code == "negative_amount":
        return present(c) & _matches(c, _DEC) & (v.cast(pl.Float64, strict=False) < 0).fill_null(False)
    if code == "type_bool":
        return present(c) & ~_in(c, bool_values(ext))
    if code == "enum" and col.type == "int":
        number = v.cast(pl.Int64, strict=False)
        return present(c) & _matches(c, _INT) & ~number.is_in([int(x) for x in col.values]).fill_null(False)
    if code == "enum":
        return present(c) & ~_in(c, col.values)
    if code in ("list_enum", "area_code") and col is not None and col.type == "list":
        allowed = [str(x) for x in (col.values or contract.subdistrict_codes())]
        outside = v.str.split(col.separator or "|").list.eval(~pl.element().is_in(allowed)).list.any()
        return present(c) & outside.fill_null(False)
    if code == "national_id":
        return present(c) & ~national_id_ok(v)
    if code == "area_code" and c == "subdistrict_code":
        return present(c) & ~_in(c, contract.subdistrict_codes())
    if code == "area_code" and c == "district_code":
        return present(c) & ~_in(c, contract.district_codes())
    if code == "area_code" and c == "village_code":
        return present(c) & _matches(c, CODE_PATTERNS[c][0]) & ~v.str.slice(0, 6).is_in(
            list(contract.subdistrict_codes())).fill_null(False)
    if code == "code_format":
        return present(c) & ~_matches(c, CODE_PATTERNS[c][0])
    if code == "date_format":
        return present(c) & ~_matches(c, _BE if ext.dates == "be" else _ISO)
    if code == "date_be_year":
        return present(c) & _matches(c, _BE) & (v.str.slice(6, 4).cast(pl.Int32, strict=False) < MIN_BE_YEAR)
    if code == "date_invalid":
        if ext.dates == "be":
            return (present(c) & _matches(c, _BE) & (v.str.slice(6, 4).cast(pl.Int32, strict=False) >= MIN_BE_YEAR)
                    & be_date(v).is_null())
        return present(c) & _matches(c, _ISO) & iso_date(v).is_null()
    if code == "conditional_required":
        if c == "certified_on":
            return present("certification") & blank("certified_on")
        if c == "quality_passed":
            return present("quality_assessed_fy") & blank("quality_passed")
        if c == "approved_amount":
            return (pl.col("status") == "APPROVED").fill_null(False) & blank("approved_amount")
        if c == "decided_on":
            return ((pl.col("decision").fill_null("") != "PENDING") & present("decision") & blank("decided_on"))
    if code == "village_subdistrict":
        return (present("village_code") & present("subdistrict_code")
                & (pl.col("village_code").str.slice(0, 6) != pl.col("subdistrict_code")).fill_null(False))
    if code == "pao_district":
        pao = pl.col("lao_type") == "PAO"
        empty = pl.col("district_code").fill_null("") == ""
        return (pao != empty).fill_null(False)
    if code == "range":
        n = v.cast(pl.Float64, strict=False)
        return _matches(c, r"^-?[0-9]+$") & ~n.is_between(1, 31).fill_null(True)
    if code == "period_format":
        return present(c) & ~_matches(c, _PERIOD)
    raise ValueError(f"{ext.qualified_name}: no columnar form for rule {rule.name}")


# Rules that read one column only: at scale they are evaluated once per distinct value.
SINGLE_COLUMN = frozenset({"required", "type_int", "type_decimal", "negative_amount", "type_bool", "enum",
                           "list_enum", "area_code", "national_id", "code_format", "date_format", "date_be_year",
                           "date_invalid", "range", "period_format"})
DISTINCT_MIN_ROWS = 50_000


def evaluate(ext: Extract, df: pl.DataFrame, rules: list[Rule]) -> pl.DataFrame:
    """``_row_no`` and a boolean column per rule, for the rows that break at least one rule."""
    exprs: dict[str, pl.Expr] = {}
    by_column: dict[str, list[Rule]] = {}
    for r in rules:
        if r.code in SINGLE_COLUMN and r.column:
            by_column.setdefault(r.column, []).append(r)
    row_by_row: set[str] = set()  # columns whose rules run on every row (as text)
    for column, col_rules in by_column.items():
        flags = _column_flags(ext, df, column, col_rules)
        if flags is None:
            row_by_row.add(column)
            flags = {r.name: rule_expr(ext, r) for r in col_rules}
        exprs.update(flags)
    for r in rules:
        if r.name not in exprs and r.code != "duplicate_key":
            exprs[r.name] = rule_expr(ext, r)
            row_by_row.update(ext.column_names)
    categorical = [c for c, dt in df.schema.items() if dt == pl.Categorical and c in row_by_row]
    source = df.with_columns(pl.col(c).cast(pl.String) for c in categorical) if categorical else df
    names = [r.name for r in rules]
    flags = source.select(pl.col(ROW_NO), *[e.fill_null(False).alias(n) for n, e in exprs.items()])
    dup = next((r for r in rules if r.code == "duplicate_key"), None)
    if dup is not None:
        flags = flags.with_columns(_duplicate_flags(ext, df).alias(dup.name))
    return flags.select(ROW_NO, *names).filter(pl.any_horizontal(names))


def _column_flags(ext: Extract, df: pl.DataFrame, column: str, rules: list[Rule]) -> dict[str, pl.Expr] | None:
    """The rules of one column. Where its values repeat (codes, years, enums, ids of people paid every
    month), each distinct value is checked once and the rows holding a failing value are found by
    lookup: on 53 M BMN rows that is a few distinct values instead of 53 M evaluations per rule.
    None where the column is better checked row by row."""
    values = df[column]
    sample = values.head(200_000)
    if df.height < DISTINCT_MIN_ROWS or sample.n_unique() * 4 > sample.len():
        return None  # few rows, or values that hardly repeat: row by row
    distinct = values.unique().cast(pl.String).to_frame(column)
    checked = distinct.select(pl.col(column), *[rule_expr(ext, r).fill_null(False).alias(r.name) for r in rules])
    out: dict[str, pl.Expr] = {}
    for r in rules:
        failing = checked.filter(pl.col(r.name))[column]
        e = pl.lit(False)
        if failing.null_count():
            e = e | pl.col(column).is_null()
        failing = failing.drop_nulls()
        if failing.len():
            e = e | pl.col(column).is_in(failing.implode()).fill_null(False)
        out[r.name] = e
    return out


def _duplicate_flags(ext: Extract, df: pl.DataFrame) -> pl.Series:
    """Rows whose key (no part NULL) appears more than once: candidates by a 64-bit hash of the key
    (one hash per column, combined; sorted, equal neighbours), then the exact key compared among the
    candidates only, so a hash collision never flags a row."""
    keys = list(ext.key)
    complete = pl.all_horizontal([pl.col(k).is_not_null() for k in keys])
    combined = None
    for i, k in enumerate(keys):
        h = pl.col(k).cast(pl.String).hash(seed=i)
        combined = h if combined is None else (combined * 0x9E3779B97F4A7C15) ^ h
    h = df.select(pl.when(complete).then(combined).alias("h"))["h"]
    ordered = h.drop_nulls().sort()
    repeated = ordered.filter(ordered == ordered.shift(1)).unique()
    if repeated.len() == 0:
        return pl.repeat(False, df.height, eager=True)
    candidate = h.is_in(repeated.implode()).fill_null(False)
    sub = df.filter(candidate).select(ROW_NO, *[pl.col(k).cast(pl.String) for k in keys])
    dup_rows = sub.filter(pl.struct(keys).is_duplicated())[ROW_NO]
    return df[ROW_NO].is_in(dup_rows.implode())


# ---------------------------------------------------------------- typed output
def typed_columns(ext: Extract) -> list[pl.Expr]:
    """Each contract column as PostgreSQL's COPY reads it into the raw table's type (NULL for '')."""
    out = []
    for col in ext.columns:
        v = pl.col(col.name)
        if col.type in ("str", "enum"):
            e = pl.when(v != "").then(v)
        elif col.type in ("int", "decimal", "bool"):
            t = _trim(v)
            e = pl.when(t != "").then(t)
        elif col.type == "date":
            t = _trim(v)
            e = (be_date(t) if ext.dates == "be" else iso_date(t)).dt.to_string("%Y-%m-%d")
        elif col.type == "list":
            sep = col.separator or "|"
            base = v if ext.format == "jsonl" else pl.when(_trim(v) != "").then(_trim(v))
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
