"""Planted defects: each a switch with a rate, each recorded in the ground truth.

Row defects change one cell of one row (or add a twin row) so that exactly one
validation rule breaks; the ground truth names the file, the 1-based data row
and the rule (``code:column``, the name the quarantine records). A ``Planter``
decides, deterministically, which rows of one file get which row defect and
changes their cells; the ``ExtractWriter`` (sink.py) asks it row by row and
records what it planted. File defects make the loader reject a whole file
(``drops.py`` truncates a file, writes it in the wrong encoding, or writes it
with a ``SchemaDrift``). Semantic defects pass validation and are found by the
warehouse (improper payments, sources that disagree); the source systems plant
them themselves.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import NamedTuple

from welfare.contract import Extract

ROW_DEFECTS = {  # switch -> default share of the rows of every file it applies to
    "national_id": 0.004,
    "be_year": 0.002,
    "date_invalid": 0.002,
    "area_code": 0.002,
    "required": 0.002,
    "enum": 0.002,
    "negative_amount": 0.002,
    "duplicate_key": 0.001,
}
FILE_DEFECTS = {  # switch -> default share of the files of the later drops (at least one file when on)
    "truncated": 0.02,
    "wrong_encoding": 0.02,
    "schema_drift": 0.02,
}
SEMANTIC_DEFECTS = {
    "paid_after_death": 0.05,     # share of deceased allowance recipients paid 1-3 months too long
    "duplicate_payment": 0.0003,  # share of payments paid again by a second authority
    "underage_elderly": 0.005,    # share of elderly recipients first paid 1-6 months before turning 60
    "source_conflict": 0.003,     # share of target persons whose sex or birth date differs from the BMN survey
}
DEFAULT_RATES = {**ROW_DEFECTS, **FILE_DEFECTS, **SEMANTIC_DEFECTS}
# what a file defect is rejected for: the loader's rule
FILE_DEFECT_RULES = {"truncated": "manifest_sha256", "wrong_encoding": "encoding", "schema_drift": "schema_drift"}
# the values a duplicate key's twin may differ in (besides amounts): no rule checks them
TWIN_TEXT_COLUMNS = {"name", "title", "course", "first_name", "last_name", "village_name"}


def parse_defects(spec: str | None) -> dict[str, float]:
    """``none``, ``default``, or ``name=rate,name,...`` (a bare name takes its default rate; others off)."""
    if spec is None or spec == "default":
        return dict(DEFAULT_RATES)
    if spec == "none":
        return {}
    out: dict[str, float] = {}
    for part in spec.split(","):
        name, _, rate = part.partition("=")
        name = name.strip()
        if name not in DEFAULT_RATES:
            raise ValueError(f"unknown defect {name!r}; known: {', '.join(DEFAULT_RATES)}")
        out[name] = float(rate) if rate else DEFAULT_RATES[name]
        if out[name] < 0:
            raise ValueError(f"defect {name}: the rate must be >= 0")
    return out


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


class RowDefect(NamedTuple):
    """A row with a planted defect, and the rule (``code:column``) that must catch it."""

    cells: list
    rule: str


class Planter:
    """Which data rows of one file get which row defect, and the defect's change to each.

    With the file's row count known, each defect hits exactly round(rate * n)
    rows; for files streamed without a known count, the gaps between defects
    are geometric (the same expected share). A defect due on a row it cannot
    apply to (no applicable column has a value) is dropped.
    """

    def __init__(self, ext: Extract, rates: dict[str, float], rng: random.Random, n: int | None = None):
        self.ext = ext
        self.rng = rng
        self.index = {c: i for i, c in enumerate(ext.column_names)}
        self.jsonl = ext.format == "jsonl"
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

    def twin(self, cells: list) -> list:
        """The second row of a planted duplicate key: the same key, and the first amount or name that has a
        value (no rule checks those) changed; an identical row when there is none."""
        out = list(cells)
        for i, c in enumerate(self.ext.columns):
            if c.name not in self.ext.key and out[i] not in (None, "") and (
                    c.type == "decimal" or c.name in TWIN_TEXT_COLUMNS):
                out[i] = _twin_value(out[i], c.type)
                break
        return out

    def plant(self, cells: list, defect: str) -> RowDefect | None:
        """``cells`` with ``defect`` planted in one of its applicable columns that has a value (None: none has)."""
        ext = self.ext
        cols = [c for c in applicable_columns(ext, defect) or [] if cells[self.index[c]] not in (None, "")]
        if not cols:
            return None
        col = self.rng.choice(cols)
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
        return RowDefect(out, f"{code}:{col}")


def applicable_columns(ext: Extract, defect: str) -> list[str] | None:
    """The columns of ``ext`` a row defect may be planted in; None when it applies to none (or is no row defect)."""
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


def _twin_value(value, col_type: str):
    if col_type == "decimal":
        return f"{float(value) + 1:.2f}" if isinstance(value, str) else value + 1
    return value + " (ซ้ำ)"


def invalid_national_id(valid: str) -> str:
    """The same id with a wrong check digit."""
    wrong = (int(valid[12]) + 1 + int(valid[11]) % 8) % 10
    if wrong == int(valid[12]):
        wrong = (wrong + 1) % 10
    return valid[:12] + str(wrong)
