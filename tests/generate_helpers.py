"""Hand-made extract files for the ingest tests: rows as dicts, encoded the way a source system writes them.

The generator writes its drops through ``welfare.generate.sink.ExtractWriter``
(cell lists in contract order); these helpers build the small, deliberately odd
files the ingest tests need instead: rows with keys missing or extra, another
header, another encoding.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
from datetime import date
from pathlib import Path

from thai_calendar import format_be_date
from welfare.contract import Extract
from welfare.contract.thai import national_id_check_digit


def national_id(rng: random.Random, district_code: str, kind: int | None = None) -> str:
    """A valid 13-digit id registered at a Nakhon Sawan office (digits 2-5 = 60DD)."""
    first = kind if kind is not None else rng.choice((1, 1, 1, 3, 3, 5, 8))
    body = f"{first}{district_code}{rng.randrange(10**7):07d}"
    return body + str(national_id_check_digit(body))


def render_value(ext: Extract, col_type: str, value, separator: str | None = None) -> str:
    """A Python value as the source system writes it in a CSV cell."""
    if value is None:
        return ""
    if col_type == "date" and not isinstance(value, str):
        return format_be_date(value) if ext.dates == "be" else value.isoformat()
    if col_type == "bool" and isinstance(value, bool):
        return "Y" if value else "N"
    if col_type == "list" and isinstance(value, list | tuple):
        return (separator or "|").join(value)
    return str(value)


def json_value(col_type: str, value):
    """A Python value as the source system writes it in a JSON line."""
    if value is None:
        return None
    if col_type == "date" and not isinstance(value, str):
        return value.isoformat()
    if col_type == "list" and isinstance(value, tuple):
        return list(value)
    return value


def encode_extract(ext: Extract, rows: list[dict], header_override: list[str] | None = None,
                   encoding_override: str | None = None) -> bytes:
    """The bytes of one extract file. ``rows`` are dicts keyed by contract column name.

    JSON lines: a column missing from a row is left out, and keys outside the
    contract (other than ``_``-prefixed ones) are written too. CSV: keys starting
    ``_extra`` become extra cells after the contract's columns.
    """
    if ext.format == "jsonl":
        lines = []
        for r in rows:
            obj = {c.name: json_value(c.type, r.get(c.name)) for c in ext.columns if c.name in r}
            extra = {k: v for k, v in r.items() if k not in obj and not k.startswith("_")}
            obj.update(extra)
            lines.append(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))
        return ("\n".join(lines) + ("\n" if lines else "")).encode("utf-8")
    buf = io.StringIO(newline="")
    w = csv.writer(buf, delimiter=ext.delimiter, lineterminator="\r\n")
    header = header_override or [c.header or c.name for c in ext.columns]
    w.writerow(header)
    for r in rows:
        w.writerow([render_value(ext, c.type, r.get(c.name), c.separator) for c in ext.columns]
                   + [r[k] for k in r if k.startswith("_extra")])
    text = buf.getvalue()
    encoding = encoding_override or ext.encoding
    return text.encode(encoding)


def write_drop(root: Path, system: str, day: date, files: dict[str, bytes], rows: dict[str, int] | None = None,
               sha: dict[str, str] | None = None, manifest: bytes | None = None) -> Path:
    """A drop folder ``root/<system>/<day>/`` with these files and a manifest (rows: lines less a CSV
    header, unless given; sha256 of the bytes, unless given), or ``manifest`` as its bytes."""
    from welfare.generate.sink import write_manifest

    folder = root / system / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for name, data in files.items():
        (folder / name).write_bytes(data)
        n = (rows or {}).get(name, data.count(b"\n") - (0 if name.endswith(".jsonl") else 1))
        entries.append({"name": name, "rows": n, "sha256": (sha or {}).get(name, hashlib.sha256(data).hexdigest())})
    if manifest is not None:
        (folder / "_manifest.json").write_bytes(manifest)
    else:
        write_manifest(folder, system, day.isoformat(), entries)
    return folder
