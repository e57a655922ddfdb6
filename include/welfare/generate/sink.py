"""Stream one extract file to disk exactly as the contract says, planting row defects on the way.

An ``ExtractWriter`` takes rows as cell lists in contract column order (CSV:
strings as the source system writes them; JSON lines: JSON values), encodes
them in chunks, hashes while writing and counts records for the manifest. A
``Planter`` decides, deterministically, which rows get which defect; the
writer applies it and records it in the ground truth.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from welfare.contract import Extract
from welfare.generate.people import invalid_national_id

FLUSH_ITEMS = 16384
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')
TWIN_TEXT_COLUMNS = {"name", "title", "course", "first_name", "last_name", "village_name"}


@dataclass(frozen=True)
class Planted:
    """One planted defect: where it is (file and 1-based data row, or the whole file) and what catches it."""

    system: str
    extract_date: str
    file: str
    row: int | None
    rule: str
    defect: str

    def as_dict(self) -> dict:
        return self.__dict__.copy()


class SchemaDrift(NamedTuple):
    """A file defect: the file's columns differ from the contract's by one column."""

    kind: str     # add (an extra column) | remove (the column is missing) | rename (its header or key changed)
    column: str


class Planter:
    """Which data rows of one file get which row defect.

    With the file's row count known, each defect hits exactly round(rate * n)
    rows; for files streamed without a known count, the gaps between defects
    are geometric (the same expected share).
    """

    def __init__(self, ext: Extract, rates: dict[str, float], rng: random.Random, n: int | None = None):
        self.ext = ext
        self.rng = rng
        self.rates = {d: r for d, r in rates.items() if r > 0 and applicable_columns(ext, d) is not None}
        self.queue: list[tuple[int, str]] = []
        self._next_geo: dict[str, int] = {}
        if n is not None:
            taken: set[int] = set()
            for d, r in self.rates.items():
                count = round(r * n)
                free = [i for i in range(1, n + 1) if i not in taken and i - 1 not in taken and i + 1 not in taken]
                for i in rng.sample(free, min(count, len(free))):
                    taken.add(i)
                    self.queue.append((i, d))
            self.queue.sort()
            self.streaming = False
        else:
            self.streaming = True
            for d, r in self.rates.items():
                self._next_geo[d] = self._gap(r)
            self._refill()
        self._set_next_pos()

    def _set_next_pos(self) -> None:
        """The row of the next defect due (the queue's first), or infinity."""
        if self.queue:
            row, _ = self.queue[0]
            self.next_pos = row
        else:
            self.next_pos = math.inf

    def _gap(self, rate: float) -> int:
        return 1 + int(math.log(1.0 - self.rng.random()) / math.log(1.0 - min(rate, 0.5)))

    def _refill(self) -> None:
        if not self._next_geo:
            return
        d = min(self._next_geo, key=lambda k: (self._next_geo[k], k))
        self.queue.append((self._next_geo[d], d))
        self._next_geo[d] += 1 + self._gap(self.rates[d])

    def pop(self, pos: int) -> str | None:
        """The defect due at or before row ``pos`` (late ones move to this row), if any."""
        if self.next_pos > pos:
            return None
        _, d = self.queue.pop(0)
        if self.streaming:
            while self._next_geo and min(self._next_geo.values()) <= pos:
                k = min(self._next_geo, key=lambda k: (self._next_geo[k], k))
                self._next_geo[k] = pos + self._gap(self.rates[k])
            self._refill()
        self.queue = [(max(row, pos + 2), x) for row, x in self.queue]
        self._set_next_pos()
        return d


def applicable_columns(ext: Extract, defect: str) -> list[str] | None:
    cols = ext.columns
    names: list[str]
    if defect == "national_id":
        names = list(ext.national_id_columns)
    elif defect == "be_year":
        names = [c.name for c in cols if c.type == "date" and c.required] if ext.dates == "be" else []
    elif defect == "date_invalid":
        names = [c.name for c in cols if c.type == "date" and c.required]
    elif defect == "area_code":
        names = [] if ext.name == "villages" else [c.name for c in cols if c.name in ("subdistrict_code", "village_code")]
    elif defect == "required":
        names = [c.name for c in cols if c.required and not (ext.name == "authorities" and c.name == "district_code")
                 and not (c.type == "list" and ext.format == "jsonl")]
    elif defect == "enum":
        # not media_works.decision: an unknown decision would also demand a decided_on (a second rule)
        names = [c.name for c in cols if c.values and c.type in ("enum", "int", "list")
                 and not (ext.name == "media_works" and c.name == "decision")]
    elif defect == "negative_amount":
        names = [c.name for c in cols if c.type == "decimal"]
    elif defect == "duplicate_key":
        names = list(ext.key)
    else:
        return None
    return names or None


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
                twin = list(cells)
                # the twin differs in a value no rule checks (an amount, a name), or not at all
                cols = self.ext.columns
                others = [i for i, c in enumerate(cols) if c.name not in self.ext.key and twin[i] not in (None, "")
                          and (c.type == "decimal" or c.name in TWIN_TEXT_COLUMNS)]
                if others:
                    i = others[0]
                    twin[i] = self._twin_value(twin[i], cols[i].type)
                second = self._emit(twin)
                rule = "duplicate_key"
                for row in (first, second):
                    self.planted.append(Planted(self.system, self.extract_date, self.ext.file, row, rule, defect))
                return first
            if defect is not None:
                changed = self._apply(cells, defect)
                if changed is not None:
                    bad_cells, rule = changed
                    row = self._emit(bad_cells)
                    self.planted.append(Planted(self.system, self.extract_date, self.ext.file, row, rule, defect))
                    return row
        return self._emit(cells)

    def note(self, row: int, rule: str, defect: str) -> None:
        """Record a defect the world planted itself (a semantic one, not caught by validation)."""
        self.planted.append(Planted(self.system, self.extract_date, self.ext.file, row, rule, defect))

    def _twin_value(self, value, col_type: str):
        if col_type == "decimal":
            return f"{float(value) + 1:.2f}" if isinstance(value, str) else value + 1
        return value + " (ซ้ำ)"

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

    def _apply(self, cells: list, defect: str) -> tuple[list, str] | None:
        ext = self.ext
        cols = [c for c in applicable_columns(ext, defect) or [] if cells[self.index[c]] not in (None, "")]
        if not cols:
            return None
        col = self.planter.rng.choice(cols) if self.planter else cols[0]
        i = self.index[col]
        column = ext.column(col)
        value = cells[i]
        out = list(cells)
        code = defect
        if defect == "national_id":
            out[i] = invalid_national_id(value)
        elif defect == "be_year":
            out[i] = f"{value[:6]}{int(value[6:]) - 543}"
            code = "date_be_year"
        elif defect == "date_invalid":
            out[i] = f"31/02/{value[6:]}" if ext.dates == "be" else f"{value[:4]}-02-30"
        elif defect == "area_code":
            # a district that does not exist (60DD -> 60(DD+50)); the rest kept, so keys stay distinct
            out[i] = f"60{int(value[2:4]) + 50:02d}{value[4:]}"
        elif defect == "required":
            out[i] = None if self.jsonl else ""
        elif defect == "enum":
            if column.type == "list":
                out[i] = value + (column.separator or "|") + "UNKNOWN"
                code = "list_enum"
            elif column.type == "int":
                out[i] = "9" if not self.jsonl else 9
            else:
                out[i] = "UNKNOWN"
        elif defect == "negative_amount":
            if isinstance(value, str):
                out[i] = "-" + value if float(value) else "-1.00"
            else:
                out[i] = -abs(value) if value else -1
        return out, f"{code}:{col}"

    def close(self) -> dict:
        self._flush()
        self.f.close()
        return {"name": self.ext.file, "rows": self.n, "sha256": self.sha.hexdigest()}


def json_cell(v) -> str:
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
