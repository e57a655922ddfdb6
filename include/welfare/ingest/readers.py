"""Read one extract file as a stream of chunks, never the whole file at once.

A file is opened only if it is a regular file inside its drop (``open_regular``: no symlink, FIFO,
device or directory is ever opened). ``scan_file`` reads its bytes once for the sha256 and
whether it holds a quote. ``check_header`` reads the CSV header (one bounded line) and checks it
against the contract. ``byte_chunks`` cuts the rest into chunks of whole records of about
``CHUNK_BYTES`` (a quoted field's line breaks stay inside its chunk) and refuses a line longer
than ``MAX_LINE_BYTES``. ``frames`` parses each chunk into a Polars frame of text columns plus
``_row_no`` (the record's 1-based position in the file): CSV with Arrow (cp874 decoded once per
distinct value), JSON lines with Polars' reader, or line by line where a chunk holds anything
but flat JSON objects, so that only a bad line is refused, and kept as its raw text.

Every problem that refuses the whole file raises ``FileRejected`` with a rule and a reason that
names the file, the row or line, and the column, and never quotes a value from the file: an
extract's values may be personal data. Header labels are quoted only for extracts that hold no
personal data, and only when they look like labels.

Imported lazily by the loader (Airflow parses the DAG files that import ``welfare.ingest``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import stat
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from welfare.contract import Extract
from welfare.ingest.outcome import FileRejected
from welfare.validation.expressions import NOT_JSON, RAW_LINE, ROW_NO

PY_ENCODINGS = {"utf-8-sig": "utf-8-sig", "utf-8": "utf-8", "cp874": "cp874"}
# A line longer than this is refused, whole file (rule line_too_long): no record of the contract comes
# near it (the widest, a BMN member, is under 400 bytes), and it bounds what one line can cost.
MAX_LINE_BYTES = 1 << 20
# The file is read, checked and published in chunks of whole records of about this size: memory stays
# bounded by a few chunks whatever the file's size.
CHUNK_BYTES = 32 << 20
_READ_BYTES = 8 << 20
# Labels and keys are quoted in a reason only if they look like one (and never for personal data).
_LABEL = re.compile(r"^[\w\u0E00-\u0E7F ()/.-]{1,60}$")
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISLNK, "symbolic link"), (stat.S_ISDIR, "directory"), (stat.S_ISFIFO, "FIFO"),
                       (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
                       (stat.S_ISSOCK, "socket")):
        if test(mode):
            return name
    return "special file"


def is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def open_regular(path: Path):
    """The file, opened for reading, if it is a regular file (not followed if a link; a FIFO or
    device is never opened in a way that blocks). FileRejected('not_a_regular_file') otherwise."""
    st = os.lstat(path)
    if not stat.S_ISREG(st.st_mode):
        raise FileRejected("not_a_regular_file",
                           f"{path.name} is a {_kind(st.st_mode)}, not a regular file: it was not opened")
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        st2 = os.fstat(fd)
        if not stat.S_ISREG(st2.st_mode) or (st2.st_dev, st2.st_ino) != (st.st_dev, st.st_ino):
            raise FileRejected("not_a_regular_file", f"{path.name} changed into a non-regular file while opened")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb", buffering=0)
    except BaseException:
        os.close(fd)
        raise


def scan_file(path: Path) -> tuple[str, bool]:
    """The file's sha256, and whether it holds a double quote (a CSV field that may span lines),
    in one read."""
    h = hashlib.sha256()
    quoted = False
    with open_regular(path) as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            quoted = quoted or b'"' in chunk
    return h.hexdigest(), quoted


def _first_line(f) -> bytes:
    """The first line (without its line break), read with a bound."""
    head = b""
    while len(head) <= MAX_LINE_BYTES:
        block = f.read(1 << 16)
        if not block:
            break
        head += block
        if b"\n" in head or b"\r" in head:
            break
    end = min((i for i in (head.find(b"\n"), head.find(b"\r")) if i >= 0), default=len(head))
    if end > MAX_LINE_BYTES:
        raise FileRejected("line_too_long", f"header line: longer than {MAX_LINE_BYTES:,} bytes")
    return head[:end]


def header_length(path: Path) -> int:
    """Bytes of the header line, its line break included."""
    with open_regular(path) as f:
        head = _first_line(f)
        f.seek(len(head))
        nl = f.read(2)
    return len(head) + (2 if nl == b"\r\n" else 1 if nl[:1] in (b"\n", b"\r") else 0)


def _labels_said(labels: list[str], header_like: bool, limit: int = 8) -> str:
    """Labels for a reason, quoted only where the line is a header (most of its labels are the
    contract's) and each looks like a label (no long number): otherwise they may be a person's data."""
    def label(lab: str) -> bool:
        return bool(_LABEL.match(lab)) and sum(ch.isdigit() for ch in lab) < 5

    if not header_like or not all(label(lab) for lab in labels[:limit]):
        return f"{len(labels):,} label(s), not quoted (they may be data)"
    more = f" and {len(labels) - limit:,} more" if len(labels) > limit else ""
    return ", ".join(labels[:limit]) + more


def check_header(ext: Extract, path: Path) -> list[str]:
    """Contract column names in the file's order; reject on encoding trouble or drift."""
    with open_regular(path) as f:
        first = _first_line(f)
    if not first and path.stat().st_size == 0:
        raise FileRejected("empty_file", f"{path.name}: the file is empty (0 bytes): not even a header row")
    expected_labels = [c.header or c.name for c in ext.columns]
    expected = set(expected_labels)

    def labels_in(encoding: str) -> list[str] | None:
        try:
            text = first.decode(encoding)
        except UnicodeDecodeError:
            return None
        try:
            return next(csv.reader([text.lstrip("\ufeff")], delimiter=ext.delimiter), [])
        except csv.Error:
            return None

    labels = labels_in(PY_ENCODINGS[ext.encoding])
    if labels is None or not set(labels) & expected:
        for other in ("utf-8", "cp874"):
            alt = labels_in(other) if other != ext.encoding else None
            if alt and set(alt) & expected:
                raise FileRejected(
                    "encoding",
                    f"{path.name}: delivered as {other}, but the contract says {ext.encoding}; "
                    "ask the source system to re-export with the agreed encoding")
        if labels is None:
            raise FileRejected("encoding", f"{path.name}: the header row cannot be read as {ext.encoding}")
        raise FileRejected(
            "schema_drift",
            f"{path.name}: the first line has {len(labels):,} fields and none is a header label of the "
            "contract: the header row is missing or was renamed")
    header_map = ext.header_map
    unknown = [lab for lab in labels if lab not in header_map]
    present = set(labels)
    missing = [lab for lab in expected_labels if lab not in present]
    dupes = sorted(lab for lab, n in Counter(labels).items() if n > 1)
    if unknown or missing or dupes:
        header_like = 2 * (len(labels) - len(unknown)) >= len(labels)
        parts = []
        if missing:
            parts.append("missing " + ", ".join(f"{lab} ({header_map[lab]})" for lab in missing))
        if unknown:
            parts.append("not in the contract: " + _labels_said(unknown, header_like))
        if dupes:
            parts.append("repeated: " + _labels_said(dupes, header_like))
        raise FileRejected("schema_drift", f"{path.name}: schema drift, " + "; ".join(parts))
    return [header_map[lab] for lab in labels]


# ---------------------------------------------------------------- chunks of whole records
def _check_lines(buf, chunk, name: str) -> None:
    """Refuse a line longer than MAX_LINE_BYTES: every half-bound window must hold a line break, and
    where one does not, the line around it is measured."""
    half = MAX_LINE_BYTES // 2
    for i in range(0, len(buf) - half + 1, half):
        if buf.find(b"\n", i, i + half) >= 0:
            continue
        start = buf.rfind(b"\n", 0, i) + 1
        end = buf.find(b"\n", i)
        end = len(buf) if end < 0 else end
        if end - start > MAX_LINE_BYTES:
            raise FileRejected("line_too_long",
                               f"{name}: line {chunk.line(start):,} is longer than {MAX_LINE_BYTES:,} bytes")


def _record_end(buf: bytes, quoted: bool) -> int:
    """The end of the last whole record in ``buf`` (0 if none): after its last line break that is
    outside a quoted field."""
    pos = buf.rfind(b"\n")
    if not quoted or pos < 0:
        return pos + 1
    quotes = buf.count(b'"', 0, pos)
    while pos >= 0:
        if quotes % 2 == 0:
            return pos + 1
        prev = buf.rfind(b"\n", 0, pos)
        quotes -= buf.count(b'"', max(prev, 0), pos)
        pos = prev
    return 0


class Chunk:
    """Whole records of a file: ``data``, from byte ``offset`` on. Line numbers are counted only when
    a message needs one (``line``): reading a file does not count its lines."""

    __slots__ = ("_first", "data", "offset", "path")

    def __init__(self, path: Path, offset: int, data: bytearray):
        self.path, self.offset, self.data = path, offset, data
        self._first: int | None = None

    def line(self, pos: int = 0) -> int:
        """The 1-based line number of ``data[pos]``."""
        if self._first is None:
            before = 0
            with open_regular(self.path) as f:
                left = self.offset
                while left > 0 and (block := f.read(min(left, 1 << 22))):
                    before += block.count(b"\n")
                    left -= len(block)
            self._first = before + 1
        return self._first + self.data.count(b"\n", 0, pos)


def byte_chunks(path: Path, offset: int, quoted: bool) -> Iterator[Chunk]:
    """Chunks of whole records from byte ``offset`` on, each in a buffer of its own (no copy of the
    bytes but the part of a record carried over to the next chunk)."""
    name = path.name
    carry = b""
    with open_regular(path) as f:
        f.seek(offset)
        start = offset
        while True:
            buf = bytearray(len(carry) + CHUNK_BYTES)
            buf[:len(carry)] = carry
            filled = len(carry)
            view = memoryview(buf)
            while filled < len(buf):
                got = f.readinto(view[filled:])
                if not got:
                    break
                filled += got
            view.release()
            eof = filled < len(buf)
            del buf[filled:]
            if not buf:
                return
            end = len(buf) if eof else _record_end(buf, quoted)
            if end == 0:
                _check_lines(buf, Chunk(path, start, buf), name)
                raise FileRejected("unclosed_quote", f"{name}: a quoted field that opens near line "
                                   f"{Chunk(path, start, buf).line():,} does not close within {len(buf):,} bytes")
            carry = bytes(buf[end:])
            del buf[end:]
            chunk = Chunk(path, start, buf)
            _check_lines(buf, chunk, name)
            nul = buf.find(b"\x00")
            if nul >= 0:  # PostgreSQL text cannot hold it, and no encoding of the contract writes it
                raise FileRejected("encoding", f"{name}: line {chunk.line(nul):,} holds a NUL byte; "
                                   "the file is not text in its contract's encoding")
            yield chunk
            start += end
            if eof:
                return


# ---------------------------------------------------------------- CSV
def _decode_cp874(arr, name: str, file: str, rows: str):
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
            raise FileRejected("encoding", f"{file}: column {name} holds bytes that are not cp874 "
                               f"(in {rows})") from exc
    decoded = pa.DictionaryArray.from_arrays(enc.indices, pa.array(values, pa.string()))
    # Few distinct values (enums, Thai place names): kept as a dictionary (a Polars Categorical)
    return decoded if len(values) * 4 < len(arr) else decoded.cast(pa.string())


def _parse_csv(ext: Extract, chunk: Chunk, columns: list[str], include: list[str], first_row: int, name: str,
               decode: bool = True):
    """One chunk of CSV records -> an Arrow table of the ``include`` columns (text; an unquoted empty
    field is NULL, as in COPY CSV)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    binary = ext.encoding == "cp874"
    invalid: list[tuple[int | None, int]] = []

    def on_invalid(row) -> str:
        invalid.append((row.number, row.actual_columns))
        return "skip"

    data = chunk.data
    quoted = b'"' in data

    def lines() -> str:
        return f"lines {chunk.line():,}-{chunk.line(len(data)):,}"

    try:
        table = pcsv.read_csv(
            pa.py_buffer(data),
            read_options=pcsv.ReadOptions(column_names=columns, block_size=4 << 20, use_threads=True),
            parse_options=pcsv.ParseOptions(delimiter=ext.delimiter, newlines_in_values=quoted,
                                            invalid_row_handler=on_invalid),
            convert_options=pcsv.ConvertOptions(
                include_columns=include,
                column_types={c: pa.binary() if binary else pa.string() for c in include},
                strings_can_be_null=True, quoted_strings_can_be_null=False, null_values=[""]),
        )
    except pa.ArrowInvalid as exc:
        text = str(exc)
        if "UTF8" in text or "utf8" in text.lower():
            raise FileRejected("encoding", f"{name}: {lines()} hold bytes that are not {ext.encoding}") from exc
        raise FileRejected("unreadable", f"{name}: {lines()} cannot be read as {ext.encoding} CSV") from exc
    if invalid and invalid[0][0] is None:  # the parallel reader does not number rows: find the first one
        invalid.clear()
        pcsv.read_csv(pa.py_buffer(data),
                      read_options=pcsv.ReadOptions(column_names=columns, use_threads=False),
                      parse_options=pcsv.ParseOptions(delimiter=ext.delimiter, newlines_in_values=quoted,
                                                      invalid_row_handler=on_invalid),
                      convert_options=pcsv.ConvertOptions(include_columns=include[:1],
                                                          column_types={include[0]: pa.binary()}))
    if invalid:
        number, got = invalid[0]
        where = (f"record {first_row + number - 1:,}" if number is not None and number > 0
                 else f"a record of {lines()}")
        raise FileRejected("field_count", f"{name}: {where} has {got} fields, the contract has {len(columns)}"
                           + (f" ({len(invalid):,} such records in this part of the file)" if len(invalid) > 1 else ""))
    if binary and decode:
        rows = f"rows {first_row:,}-{first_row + table.num_rows - 1:,}"
        table = pa.table({c: _decode_cp874(table[c], c, name, rows) for c in include})
    return table


# ---------------------------------------------------------------- JSON lines
def _flat_known(ext: Extract, data: bytes, df: pl.DataFrame) -> bool:
    """True where a chunk Polars read holds only flat JSON objects with the contract's keys: one ``{``
    a record, no list holding a list or an object, and key separators (``":``) that are exactly the
    values Polars found plus the explicit nulls, with no key written with a space before its colon.
    False sends the chunk line by line, which is exact. (Polars itself refuses bytes that are not
    UTF-8 and nesting deeper than its limit.)"""
    n = df.height
    if data.count(b"{") != n:
        return False
    brackets = data.count(b"[")
    if brackets:
        lists = sum(1 for c in ext.columns if c.type == "list")
        if brackets > n * lists or b"[[" in data or b"[{" in data:
            return False
    separators = data.count(b'":')
    found = sum(n - df[c].null_count() for c in ext.column_names)
    if separators != found and separators - data.count(b'":null') != found:
        return False
    return data.count(b":") == separators or not (b'" :' in data or b'"\t:' in data or b'"\r:' in data)


def _json_value(v):
    """A JSON value as the text the rules read; ValueError for an object or a nested list."""
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return json.dumps(v)
    if isinstance(v, list):
        if any(isinstance(x, (list, dict)) for x in v):
            raise ValueError("a list holding lists or objects")
        return json.dumps(v, ensure_ascii=False)
    raise ValueError("an object")


def _jsonl_by_line(ext: Extract, chunk: Chunk, name: str) -> pl.DataFrame:
    data = chunk.data
    names = ext.column_names
    known = set(names)
    cols: dict[str, list] = {n: [] for n in names}
    raw: list[str | None] = []
    for i, line in enumerate(data.split(b"\n")):
        if not line.strip():
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FileRejected("encoding", f"{name}: line {chunk.line() + i:,} holds bytes that are not UTF-8"
                               ) from exc
        try:
            doc = json.loads(text)
            if not isinstance(doc, dict):
                raise ValueError("not an object")
            unknown = [k for k in doc if k not in known]
            if unknown:
                said = ", ".join(k if _KEY.match(k) else "(a key that is not a name)" for k in unknown[:8])
                raise FileRejected("schema_drift", f"{name}: schema drift, line {chunk.line() + i:,} carries keys "
                                   f"not in the contract: {said}")
            values = {n: _json_value(doc.get(n)) for n in names}
        except (ValueError, RecursionError):
            raw.append(text)
            for n in names:
                cols[n].append(None)
            continue
        raw.append(None)
        for n in names:
            cols[n].append(values[n])
    frame = {n: pl.Series(n, cols[n], pl.String) for n in names}
    frame[RAW_LINE] = pl.Series(RAW_LINE, raw, pl.String)
    return pl.DataFrame(frame)


def _parse_jsonl(ext: Extract, chunk: Chunk, name: str) -> tuple[pl.DataFrame, bool]:
    """One chunk of JSON lines -> every contract key as text (numbers and booleans as JSON writes them,
    a list joined by its separator, ``[]`` as ''), ``_not_json`` and ``_raw_line`` (the line as
    delivered, where it is not a flat JSON object); and whether Polars could read it whole."""
    names = ext.column_names
    data = chunk.data
    try:
        df = pl.read_ndjson(io.BytesIO(data), schema={n: pl.String for n in names})
    except Exception:  # noqa: BLE001 - any line Polars cannot read: read this chunk line by line
        df = None
    if df is not None and not _flat_known(ext, data, df):
        df = None
    if df is not None:
        df = df.with_columns(pl.lit(None, pl.String).alias(RAW_LINE))
    flat = df is not None
    if df is None:
        df = _jsonl_by_line(ext, chunk, name)
    df = df.with_columns(pl.col(RAW_LINE).is_not_null().alias(NOT_JSON))
    for c in ext.columns:
        if c.type == "list":
            sep = c.separator or "|"
            col = pl.col(c.name)
            try:
                df = df.with_columns(
                    pl.when(col.str.starts_with("["))
                    .then(col.str.json_decode(pl.List(pl.String)).list.join(sep))
                    .otherwise(col).alias(c.name))
            except Exception:  # noqa: BLE001 - a list Polars cannot decode: decode value by value
                df = df.with_columns(col.map_elements(lambda v, s=sep: _join_list(v, s), return_dtype=pl.String))
    return df, flat


def _join_list(v: str | None, sep: str) -> str | None:
    if v is None or not v.startswith("["):
        return v
    try:
        items = json.loads(v)
    except ValueError:
        return v
    if not isinstance(items, list):
        return v
    return sep.join("" if x is None else x if isinstance(x, str) else json.dumps(x) for x in items)


# ---------------------------------------------------------------- frames
def frames(ext: Extract, path: Path, quoted: bool, columns: list[str] | None = None,
           only: list[str] | None = None) -> Iterator[pl.DataFrame]:
    """The file as a stream of frames: ``_row_no`` and the contract columns as delivered (text); JSON
    lines add ``_not_json`` and ``_raw_line``. ``columns``: a CSV file's columns in its order
    (``check_header``). ``only``: just these columns, for the first read of a file (its keys): a
    cp874 file's stay bytes, and JSON lines are not checked for flatness (the second read is)."""
    row = 1
    if ext.format == "csv":
        columns = columns or check_header(ext, path)
        include = only or [c for c in ext.column_names if c in columns]
        for chunk in byte_chunks(path, header_length(path), quoted):
            table = _parse_csv(ext, chunk, columns, include, row, path.name, decode=only is None)
            df = pl.from_arrow(table)
            assert isinstance(df, pl.DataFrame)
            want = only or ext.column_names
            missing = [c for c in want if c not in df.columns]
            df = df.with_columns(pl.lit(None, pl.String).alias(c) for c in missing)
            yield df.select(pl.int_range(row, row + df.height, dtype=pl.Int64).alias(ROW_NO), *want)
            row += df.height
        return
    for chunk in byte_chunks(path, 0, False):
        if only:
            df = _jsonl_keys(ext, chunk, only, path.name)
            yield df.select(pl.int_range(row, row + df.height, dtype=pl.Int64).alias(ROW_NO), *only)
        else:
            df, _ = _parse_jsonl(ext, chunk, path.name)
            yield df.select(pl.int_range(row, row + df.height, dtype=pl.Int64).alias(ROW_NO), NOT_JSON, RAW_LINE,
                            *ext.column_names)
        row += df.height


def _jsonl_keys(ext: Extract, chunk: Chunk, keys: list[str], name: str) -> pl.DataFrame:
    """The key columns of a chunk of JSON lines (the first read of the file)."""
    try:
        return pl.read_ndjson(io.BytesIO(chunk.data), schema={k: pl.String for k in keys})
    except Exception:  # noqa: BLE001 - read line by line, exactly as the second read will
        return _jsonl_by_line(ext, chunk, name).select(keys)


def count_records(ext: Extract, path: Path) -> int:
    """Records in a file the loader refused (for its audit): lines, less the header of a CSV file.
    0 for anything that is not a regular file."""
    if not is_regular(path):
        return 0
    try:
        with open_regular(path) as f:
            lines, last = 0, b"\n"
            while block := f.read(1 << 22):
                lines += block.count(b"\n")
                last = block[-1:]
        lines += 0 if last == b"\n" else 1
        return max(0, lines - (1 if ext.format == "csv" else 0))
    except (OSError, FileRejected):
        return 0
