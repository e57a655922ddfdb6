"""Planted defects: each a switch with a rate, each recorded in the ground truth.

A defect changes one cell of one row so that exactly one validation rule
breaks; the ground truth names the file, the 1-based data row and the rule
(``code:column``, the same name the quarantine records).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from welfare import rules as rules_mod
from welfare.contract import Extract
from welfare.generate.people import invalid_national_id
from welfare.generate.writer import render_value

# defect switch -> default rate (share of rows of an eligible file)
DEFAULT_RATES = {
    "national_id": 0.006,
    "be_year": 0.004,
    "date_invalid": 0.004,
    "area_code": 0.004,
    "required": 0.004,
    "enum": 0.004,
}


@dataclass(frozen=True)
class Planted:
    system: str
    extract_date: str
    file: str
    row: int
    rule: str
    defect: str

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def parse_defects(spec: str | None) -> dict[str, float]:
    """``none``, ``default``, or ``name=rate,name=rate`` (others off)."""
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
    return out


def _candidates(ext: Extract, defect: str) -> list[str]:
    cols = ext.columns
    if defect == "national_id":
        return [c.name for c in cols if c.name in rules_mod.NATIONAL_ID_COLUMNS]
    if defect in ("be_year", "date_invalid"):
        return [c.name for c in cols if c.type == "date" and c.required] if ext.dates == "be" else (
            [c.name for c in cols if c.type == "date" and c.required] if defect == "date_invalid" else [])
    if defect == "area_code":
        return [c.name for c in cols if c.name == "subdistrict_code"]
    if defect == "required":
        return [c.name for c in cols if c.required]
    if defect == "enum":
        return [c.name for c in cols if c.type == "enum" and c.values and not c.name.endswith("_code")]
    return []


def plant(ext: Extract, rows: list[dict], rates: dict[str, float], rng: random.Random,
          system: str, extract_date: str) -> list[Planted]:
    """Mutate ``rows`` in place; return what was planted. One defect per row at most."""
    planted: list[Planted] = []
    taken: set[int] = set()
    n = len(rows)
    for defect, rate in rates.items():
        cols = _candidates(ext, defect)
        if not cols or rate <= 0:
            continue
        count = round(rate * n)
        if count == 0:
            continue
        free = [i for i in range(n) if i not in taken]
        for i in rng.sample(free, min(count, len(free))):
            col = rng.choice(cols)
            row = rows[i]
            ctype = ext.column(col).type
            if defect == "national_id":
                row[col] = invalid_national_id(row[col])
                rule = f"national_id:{col}"
            elif defect == "be_year":
                value = row[col]
                row[col] = f"{value.day:02d}/{value.month:02d}/{value.year}"
                rule = f"date_be_year:{col}"
            elif defect == "date_invalid":
                row[col] = "31/02/2563" if ext.dates == "be" else "2020-02-31"
                rule = f"date_invalid:{col}"
            elif defect == "area_code":
                row[col] = "609999"
                rule = f"area_code:{col}"
            elif defect == "required":
                row[col] = None
                rule = f"required:{col}"
            elif defect == "enum":
                row[col] = "UNKNOWN" if ctype == "enum" else render_value(ext, ctype, row[col])
                rule = f"enum:{col}"
            else:  # pragma: no cover - parse_defects guards the names
                continue
            taken.add(i)
            planted.append(Planted(system, extract_date, ext.file, i + 1, rule, defect))
    return planted
