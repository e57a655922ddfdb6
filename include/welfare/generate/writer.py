"""Write extract files exactly as the contract describes, and the manifest last."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

from welfare.contract import Extract
from welfare.thai import format_be_date


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
    if value is None:
        return None
    if col_type == "date" and not isinstance(value, str):
        return value.isoformat()
    if col_type == "list" and isinstance(value, tuple):
        return list(value)
    return value


def encode_extract(ext: Extract, rows: list[dict], header_override: list[str] | None = None,
                   encoding_override: str | None = None) -> bytes:
    """The bytes of one extract file. ``rows`` are dicts keyed by contract column name."""
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


def write_file(folder: Path, name: str, data: bytes) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return {"name": name, "sha256": hashlib.sha256(data).hexdigest()}


def write_manifest(folder: Path, system: str, extract_date: str, entries: list[dict]) -> None:
    """Written last, atomically: a drop is complete once ``_manifest.json`` exists."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {"system": system, "extract_date": extract_date,
                "files": [{"name": e["name"], "rows": e["rows"], "sha256": e["sha256"]}
                          for e in sorted(entries, key=lambda e: e["name"])]}
    tmp = folder / "_manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    tmp.replace(folder / "_manifest.json")
