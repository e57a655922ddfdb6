"""Write the files of a drop exactly as the contract says: each extract streamed, the manifest last.

An ``ExtractWriter`` takes rows as cell lists in contract column order (CSV:
strings as the source system writes them; JSON lines: JSON values), encodes
them in chunks, hashes while writing and counts records for the manifest.
Given a ``Planter`` (defects.py), it lets the planter change the rows due a
row defect and records each one in the ground truth; given a ``SchemaDrift``,
it writes the file with one column added, removed or renamed.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from pathlib import Path

from welfare.contract import Extract
from welfare.generate.defects import Planted, Planter, SchemaDrift

FLUSH_ITEMS = 16384
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')


class ExtractWriter:
    """One extract file of one drop."""

    def __init__(self, ext: Extract, folder: Path, system: str, extract_date: str, *,
                 planter: Planter | None = None, planted: list[Planted] | None = None,
                 encoding: str | None = None, drift: SchemaDrift | None = None):
        self.ext = ext
        self.system = system
        self.extract_date = extract_date
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / ext.file
        self.f = open(self.path, "wb")
        self.sha = hashlib.sha256()
        self.n = 0
        self.buf: list[str] = []
        self.planter = planter
        self.planted = planted if planted is not None else []
        self.names = list(ext.column_names)
        self.index = {c: i for i, c in enumerate(self.names)}
        self.drift = drift
        self.jsonl = ext.format == "jsonl"
        enc = encoding or ext.encoding
        self.encoding = "utf-8" if enc == "utf-8-sig" else enc
        if enc == "utf-8-sig":
            self._write_bytes(b"\xef\xbb\xbf")
        if self.jsonl:
            keys = list(self.names)
            if drift and drift.kind == "rename":
                keys[self.index[drift.column]] = drift.column + "_name"
            self.keys = ['"' + k + '":' for k in keys]
        else:
            self.csv = csv.writer(self, delimiter=ext.delimiter, lineterminator="\r\n")
            header = [c.header or c.name for c in ext.columns]
            if drift:
                i = self.index[drift.column]
                if drift.kind == "add":
                    header.append("หมายเหตุ")
                elif drift.kind == "remove":
                    header.pop(i)
                else:
                    header[i] = header[i] + " (ใหม่)"
            self.csv.writerow(header)

    # csv.writer writes here
    def write(self, text: str) -> None:
        self.buf.append(text)
        if len(self.buf) >= FLUSH_ITEMS:
            self._flush()

    def _flush(self) -> None:
        if self.buf:
            self._write_bytes("".join(self.buf).encode(self.encoding))
            self.buf = []

    def _write_bytes(self, data: bytes) -> None:
        self.sha.update(data)
        self.f.write(data)

    # ------------------------------------------------------------------ rows
    def clear_for(self, count: int) -> bool:
        """True when the next ``count`` rows carry no planted defect (the caller may use ``add_text``)."""
        return self.drift is None and (self.planter is None or self.planter.next_pos > self.n + count)

    def add_text(self, text: str, count: int) -> None:
        """``count`` rows the caller rendered itself (only after ``clear_for(count)``)."""
        self.buf.append(text)
        self.n += count
        if len(self.buf) >= FLUSH_ITEMS:
            self._flush()

    def add(self, cells: list, *, protected: bool = False) -> int:
        """Write one row; return its 1-based row number in the file."""
        p = self.planter
        if p is not None and not protected and p.next_pos <= self.n + 1:
            defect = p.pop(self.n + 1)
            if defect == "duplicate_key":
                first = self._emit(cells)
                second = self._emit(p.twin(cells))
                for row in (first, second):
                    self.planted.append(Planted(self.system, self.extract_date, self.ext.file, row, "duplicate_key",
                                                defect))
                return first
            if defect is not None:
                changed = p.plant(cells, defect)
                if changed is not None:
                    row = self._emit(changed.cells)
                    self.planted.append(Planted(self.system, self.extract_date, self.ext.file, row, changed.rule,
                                                defect))
                    return row
        return self._emit(cells)

    def note(self, row: int, rule: str, defect: str) -> None:
        """Record a defect the world planted itself (a semantic one, not caught by validation)."""
        self.planted.append(Planted(self.system, self.extract_date, self.ext.file, row, rule, defect))

    def _emit(self, cells: list) -> int:
        drift = self.drift
        if drift:
            cells = list(cells)
            if drift.kind == "add":
                cells.append("")
            elif drift.kind == "remove":
                cells.pop(self.index[drift.column])
        if self.jsonl:
            keys = self.keys
            if drift and drift.kind == "add":
                keys = keys + ['"remark":']
            elif drift and drift.kind == "remove":
                keys = [k for i, k in enumerate(keys) if i != self.index[drift.column]]
            self.write("{" + ",".join(k + json_cell(v) for k, v in zip(keys, cells, strict=True)) + "}\n")
        else:
            self.csv.writerow(cells)
        self.n += 1
        return self.n

    def close(self) -> dict:
        self._flush()
        self.f.close()
        return {"name": self.ext.file, "rows": self.n, "sha256": self.sha.hexdigest()}


def json_cell(v) -> str:
    """A cell as a JSON value; strings with nothing to escape are written without json.dumps."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, str):
        if _NEEDS_ESCAPE.search(v):
            return json.dumps(v, ensure_ascii=False)
        return '"' + v + '"'
    if isinstance(v, int | float):
        return repr(v)
    return json.dumps(v, ensure_ascii=False)


def write_manifest(folder: Path, system: str, extract_date: str, entries: list[dict]) -> None:
    """Written last, atomically: a drop is complete once ``_manifest.json`` exists."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {"system": system, "extract_date": extract_date,
                "files": [{"name": e["name"], "rows": e["rows"], "sha256": e["sha256"]}
                          for e in sorted(entries, key=lambda e: e["name"])]}
    tmp = folder / "_manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    tmp.replace(folder / "_manifest.json")
