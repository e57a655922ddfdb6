"""Read one extract file into columns, once, in this process.

CSV with Arrow's multi-threaded reader (cp874 columns decoded once per distinct value), JSON
lines with Polars' reader (a file with a line that is not JSON is read line by line, so that only
that line is refused): every contract column as delivered, as text, plus ``_row_no`` (the record's
1-based position in the file). Before that, the file's sha256 and whether it holds a quote come
from one read (``scan_file``), and a CSV header is checked against the contract (``check_header``:
encoding, schema drift).

Imported lazily by the loader (Airflow parses the DAG files that import ``welfare.ingest``).
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from welfare.contract import Extract
from welfare.ingest.outcome import FileRejected
from welfare.validation.expressions import NOT_JSON, ROW_NO

PY_ENCODINGS = {"utf-8-sig": "utf-8-sig", "utf-8": "utf-8", "cp874": "cp874"}
# JSON lines: keys are checked on this many lines from the start and as many spread over the rest.
KEY_SAMPLE = 2000


class Unreadable(Exception):
    """The file cannot be read as the contract says (encoding, CSV shape, JSON)."""

    def __init__(self, rule: str, message: str):
        super().__init__(message)
        self.rule = rule


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


def read_file(ext: Extract, path: Path, quoted: bool | None = None):
    """The file as a columnar frame (text as delivered, ``_row_no``); FileRejected if unreadable."""
    try:
        if ext.format == "csv":
            return read_csv(ext, path, check_header(ext, path), has_quotes=quoted)
        return read_jsonl(ext, path)
    except Unreadable as exc:
        raise FileRejected(exc.rule, str(exc)) from exc


def count_records(ext: Extract, path: Path) -> int:
    """Records in a file the loader could not COPY (for the audit of a rejected file)."""
    try:
        if ext.format == "jsonl":
            with open(path, "rb") as f:
                return sum(1 for line in f if line.strip())
        with open(path, encoding=PY_ENCODINGS[ext.encoding], errors="replace", newline="") as f:
            return max(0, sum(1 for _ in csv.reader(f, delimiter=ext.delimiter)) - 1)
    except (OSError, csv.Error):
        return 0
