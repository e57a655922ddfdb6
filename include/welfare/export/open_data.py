"""`welfare export-open`: the open-data files of the strategy indicators, with small-number suppression.

What it reads: only aggregate tables of the ``marts`` schema (``READS``), in one read-only, repeatable-read
transaction (one consistent moment even while a nightly build runs). Never ``restricted``, ``raw``,
``staging``, ``intermediate`` or a person-level mart (``dim_persons``, ``fct_bmn_members``,
``fct_bmn_households``, ``fct_allowance_payments``, ``fct_welfare_services``): ``_select`` refuses any
relation not in ``READS``. ``marts.kpi_values`` itself stays exact; only the files are suppressed.

What it writes (CSV, UTF-8 with a BOM so that Excel opens the Thai, one Thai header row; ``_about.json``
maps each Thai header to its column in the warehouse):

- ``kpi_values.csv``: every indicator, fiscal year and area (province ``60``, districts ``60DD``) with the
  indicator's Thai name and unit and the area's Thai name (``kpi_definitions``, ``dim_areas``);
- ``kpi_attainment.csv``: the office's targets against the values;
- ``person_register_measurements.csv``: the aggregate measurement of the person register per drop date
  and area (persons, complete and consistent persons, the percentage): the only aggregate mart with
  counts of persons per area. There is no aggregate mart by target group (allowance coverage and
  welfare services by district exist only in ``intermediate`` or as person-level facts, which this
  export must not read); ``person_link_quality`` (counts per source extract and district) is left
  out: seven interlinked count columns and no province row, a data-quality table, not open data;
- ``_about.json`` and ``อ่านก่อน.txt``: the threshold, the rule, the indicators it applies to, the totals'
  consistency and the source's build (latest drop date, dbt's run_results.json when present).

Which indicators are counts of persons (``INDICATORS``, decided from kpis.md's unit and definition):

- person counts, suppressed: S2.4 (volunteers), G.3 (improper allowance payments: each one a payment to
  one person, so 1..threshold payments point at at most that many persons), G.4 (poor households);
- percentages of persons: S1.1 (its numerator and denominator are ``person_register_measurements``'
  ``complete_persons`` and ``persons``; the percentage is suppressed wherever either is), G.1 and G.2
  (their persons paid and eligible are ``marts.kpi_allowance_coverage``, an aggregate mart: the
  percentage is suppressed wherever either is 1..threshold; the counts themselves are not published);
- not persons, published exact: S1.2, S3.2, S4.3 (local authorities), S2.1, S2.2, S2.5, S3.1, S3.4
  (organisations), S2.3, S4.2 (projects and activities), S2.6 (media works), S4.1 (villages), S3.3
  (budget growth, %).
An indicator the list does not know is treated as a person count when its unit is a count (the cautious
reading) and as a percentage without a basis otherwise, and ``_about.json`` names it.

The rule (``suppress_counts``), per group (indicator and fiscal year; for the measurements, column and
drop date), with T the threshold (``--threshold``, ``WELFARE_SUPPRESS_THRESHOLD``, default 5):

1. primary: a district cell (``60DD``) with 1 <= value <= T is blanked. Zero is published. The province
   cell (``60``) is published exact unless it is itself within 1..T;
2. complementary: while exactly one district cell of the group is blanked, the smallest published
   non-zero district cell (ties: the lower area code) is blanked too, so that the blanked value cannot
   be had by subtracting the published districts from the province total. Applied to every group, not
   only to those whose districts add up to the province exactly: a reader cannot tell which do. Also
   while every blanked cell is exactly 1 (then the blanked total would give each one away), one more
   is blanked. Only when no non-zero district cell is left is a zero district cell blanked, and only
   when the group has no other district at all is the province cell blanked;
3. percentages (``suppress_percentages``): a percentage whose numerator or denominator (persons) is
   within 1..T, or is blanked in another file, is blanked.
A blanked cell has an empty value and ``ถูกปกปิด`` = ``Y``; the files never say whether a cell was
blanked first or as a complement (that would undo the complement). Attainment rows follow the
indicator: a blanked value blanks its ``attained`` and ``percent_of_target`` as well.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from welfare.settings import PgTarget

DEFAULT_THRESHOLD = 5
THRESHOLD_ENV = "WELFARE_SUPPRESS_THRESHOLD"
PROVINCE = "60"
_DISTRICT = re.compile(r"^60[0-9]{2}$")
FLAG = "Y"
ENCODING = "utf-8-sig"  # the BOM makes Excel read the file as UTF-8

# why a cell is blank (internal: never written, see the module's docstring)
PRIMARY = "primary"
COMPLEMENTARY = "complementary"
PERCENT_BASIS = "percent_basis"

PERSON_COUNT = "person_count"
PERSON_PERCENT = "person_percent"
NOT_PERSONS = "not_persons"


@dataclass(frozen=True)
class Indicator:
    kind: str      # PERSON_COUNT, PERSON_PERCENT or NOT_PERSONS
    unit_th: str   # the Thai unit of the files
    counts: str    # what the value counts (English), for _about.json


INDICATORS: dict[str, Indicator] = {
    "S1.1": Indicator(PERSON_PERCENT, "ร้อยละ", "% of persons in the register complete and consistent "
                      "(numerator and denominator: marts.person_register_measurements)"),
    "S1.2": Indicator(NOT_PERSONS, "แห่ง", "local authorities with reliable allowance records"),
    "S2.1": Indicator(NOT_PERSONS, "องค์กร", "certified organisations"),
    "S2.2": Indicator(NOT_PERSONS, "องค์กร", "network partner organisations"),
    "S2.3": Indicator(NOT_PERSONS, "โครงการ/กิจกรรม", "projects and activities"),
    "S2.4": Indicator(PERSON_COUNT, "คน", "volunteers (persons)"),
    "S2.5": Indicator(NOT_PERSONS, "องค์กร", "trained network partner organisations"),
    "S2.6": Indicator(NOT_PERSONS, "ชิ้นงาน", "approved media works (province only)"),
    "S3.1": Indicator(NOT_PERSONS, "องค์กร", "quality network partner organisations"),
    "S3.2": Indicator(NOT_PERSONS, "แห่ง", "local authorities with welfare spending"),
    "S3.3": Indicator(NOT_PERSONS, "ร้อยละ", "% growth of welfare spending (budget, province only)"),
    "S3.4": Indicator(NOT_PERSONS, "องค์กร", "certified organisations proposing to the fund"),
    "S4.1": Indicator(NOT_PERSONS, "หมู่บ้าน", "sufficiency villages"),
    "S4.2": Indicator(NOT_PERSONS, "โครงการ/กิจกรรม", "sufficiency-economy projects and activities"),
    "S4.3": Indicator(NOT_PERSONS, "แห่ง", "local authorities supporting community welfare funds"),
    "G.1": Indicator(PERSON_PERCENT, "ร้อยละ", "% of elderly persons paid the allowance (numerator and "
                     "denominator: marts.kpi_allowance_coverage, ELDERLY)"),
    "G.2": Indicator(PERSON_PERCENT, "ร้อยละ", "% of disability-card holders paid the allowance (numerator "
                     "and denominator: marts.kpi_allowance_coverage, DISABILITY)"),
    "G.3": Indicator(PERSON_COUNT, "รายการ", "improper allowance payments, each to one person"),
    "G.4": Indicator(PERSON_COUNT, "ครัวเรือน", "poor households not served"),
}

# The only relations the export reads, all in schema marts (aggregates: no row is a person).
READS = ("kpi_definitions", "dim_areas", "kpi_values", "kpi_attainment", "person_register_measurements",
         "kpi_allowance_coverage")
OPTIONAL_READS = ("person_register_measurements", "kpi_allowance_coverage")
COVERAGE_KPIS = {"ELDERLY": "G.1", "DISABILITY": "G.2"}  # kpi_allowance_coverage.allowance_type -> indicator

KPI_COLUMNS = [
    ("รหัสตัวชี้วัด", "kpi_code"), ("ชื่อตัวชี้วัด", "kpi_definitions.name_th"),
    ("ยุทธศาสตร์ที่", "kpi_definitions.strategy_no"), ("ปีงบประมาณ", "fiscal_year"), ("รหัสพื้นที่", "area_code"),
    ("ระดับพื้นที่", "dim_areas.area_level"), ("ชื่อพื้นที่", "dim_areas.name_th"), ("ค่า", "value"),
    ("หน่วย", "unit"), ("ถูกปกปิด", "suppressed"),
]
ATTAINMENT_COLUMNS = [
    ("รหัสตัวชี้วัด", "kpi_code"), ("ชื่อตัวชี้วัด", "kpi_definitions.name_th"), ("ปีงบประมาณ", "fiscal_year"),
    ("รหัสพื้นที่", "area_code"), ("ชื่อพื้นที่", "dim_areas.name_th"), ("ทิศทางที่ดี", "direction"),
    ("หน่วย", "unit"), ("ค่าเป้าหมาย", "target"), ("ค่า", "value"), ("บรรลุเป้าหมาย", "attained"),
    ("ร้อยละของค่าเป้าหมาย", "percent_of_target"), ("ถูกปกปิด", "suppressed"),
]
MEASUREMENT_COLUMNS = [
    ("วันที่ข้อมูล", "drop_date"), ("ปีงบประมาณ", "fiscal_year"), ("รหัสพื้นที่", "area_code"),
    ("ระดับพื้นที่", "dim_areas.area_level"), ("ชื่อพื้นที่", "dim_areas.name_th"),
    ("จำนวนบุคคลในทะเบียน", "persons"), ("จำนวนบุคคลในทะเบียน ถูกปกปิด", "persons suppressed"),
    ("จำนวนบุคคลที่ข้อมูลครบถ้วนสอดคล้อง", "complete_persons"),
    ("จำนวนบุคคลที่ข้อมูลครบถ้วนสอดคล้อง ถูกปกปิด", "complete_persons suppressed"),
    ("ร้อยละข้อมูลครบถ้วน", "pct_complete"), ("ร้อยละข้อมูลครบถ้วน ถูกปกปิด", "pct_complete suppressed"),
]
AREA_LEVEL_TH = {"province": "จังหวัด", "district": "อำเภอ"}
DIRECTION_TH = {"up": "ยิ่งมากยิ่งดี", "down": "ยิ่งน้อยยิ่งดี"}


class SuppressionError(RuntimeError):
    """A file about to be written would publish what the rule hides (a bug: nothing is written)."""


# ---------------------------------------------------------------- the rule
def check_threshold(threshold: Any) -> int:
    """The threshold as a whole number >= 1 (0 would switch the protection off)."""
    from welfare.settings import whole_number

    return whole_number(threshold, "the suppression threshold", "rows")


def default_threshold() -> int:
    """``$WELFARE_SUPPRESS_THRESHOLD``, else 5."""
    return check_threshold(os.environ.get(THRESHOLD_ENV) or DEFAULT_THRESHOLD)


def is_district(area_code: str) -> bool:
    return bool(_DISTRICT.match(area_code or ""))


def _small(value: Any, threshold: int) -> bool:
    return value is not None and 1 <= value <= threshold


@dataclass(frozen=True)
class Cell:
    """One published figure: its group (e.g. (kpi_code, fiscal_year)), area and exact value."""

    group: Hashable
    area_code: str
    value: Any  # int, Decimal, float or None


@dataclass(frozen=True)
class Basis:
    """A percentage's numerator and denominator (persons); ``hidden``: one is blanked in another file."""

    numerator: Any
    denominator: Any
    hidden: bool = False


def _groups(cells: Sequence[Cell]) -> dict[Hashable, list[int]]:
    groups: dict[Hashable, list[int]] = defaultdict(list)
    for i, c in enumerate(cells):
        if c.area_code != PROVINCE and not is_district(c.area_code):
            raise ValueError(f"area {c.area_code!r}: the rule is defined for the province ({PROVINCE}) and its "
                             "districts (60DD) only")
        groups[c.group].append(i)
    return groups


def suppress_counts(cells: Sequence[Cell], threshold: int) -> list[str | None]:
    """Index by index: None (published), PRIMARY or COMPLEMENTARY (blanked). See the module's docstring."""
    t = check_threshold(threshold)
    reasons: list[str | None] = [None] * len(cells)
    for idx in _groups(cells).values():
        for i in idx:
            if _small(cells[i].value, t):
                reasons[i] = PRIMARY
        districts = [i for i in idx if is_district(cells[i].area_code)]
        province = [i for i in idx if cells[i].area_code == PROVINCE]
        _complement(cells, reasons, districts, province)
    return reasons


def _complement(cells: Sequence[Cell], reasons: list[str | None], districts: list[int], province: list[int]) -> None:
    while True:
        hidden = [i for i in districts if reasons[i]]
        if not hidden:
            return
        if len(hidden) >= 2 and any(cells[i].value != 1 for i in hidden):
            return
        shown = [i for i in districts if not reasons[i] and cells[i].value is not None]
        nonzero = sorted((i for i in shown if cells[i].value > 0), key=lambda i: (cells[i].value, cells[i].area_code))
        zeros = sorted((i for i in shown if cells[i].value == 0), key=lambda i: cells[i].area_code)
        if nonzero or zeros:
            reasons[(nonzero or zeros)[0]] = COMPLEMENTARY
            continue
        for i in province:  # no other district to hide: the province total would give the blanks away
            if not reasons[i]:
                reasons[i] = COMPLEMENTARY
        return


def suppress_percentages(cells: Sequence[Cell], bases: Mapping[tuple[Hashable, str], Basis],
                         threshold: int) -> list[str | None]:
    """Index by index: PERCENT_BASIS when the cell's basis ((group, area_code) in ``bases``) has a numerator
    or denominator within 1..threshold or hidden elsewhere; None (published) otherwise or without a basis."""
    t = check_threshold(threshold)
    _groups(cells)
    out: list[str | None] = []
    for c in cells:
        b = bases.get((c.group, c.area_code))
        small = b is not None and (b.hidden or _small(b.numerator, t) or _small(b.denominator, t))
        out.append(PERCENT_BASIS if small else None)
    return out


@dataclass
class GroupCheck:
    groups: int = 0
    additive: int = 0          # groups whose district cells add up to the province cell exactly
    province_more: int = 0     # the province also counts records with no district
    blanked_cells: int = 0


def check_counts(cells: Sequence[Cell], reasons: Sequence[str | None], threshold: int) -> GroupCheck:
    """What the files promise, checked before anything is written; raises SuppressionError if not kept."""
    t = check_threshold(threshold)
    check = GroupCheck()
    for group, idx in _groups(cells).items():
        check.groups += 1
        districts = [i for i in idx if is_district(cells[i].area_code)]
        for i in idx:
            if not reasons[i] and _small(cells[i].value, t):
                raise SuppressionError(f"{group} {cells[i].area_code}: {cells[i].value} would be published")
            if reasons[i]:
                check.blanked_cells += 1
        hidden = [i for i in districts if reasons[i]]
        exposed = len(hidden) == 1 or (hidden and all(cells[i].value == 1 for i in hidden))
        if exposed and not all(reasons[i] for i in idx if cells[i].area_code == PROVINCE):
            raise SuppressionError(f"{group}: the blanked district cells can be recovered from the province total "
                                   "(one alone, or every one of them 1)")
        for i in idx:
            if cells[i].area_code == PROVINCE and cells[i].value is not None and districts:
                total = sum(cells[d].value for d in districts if cells[d].value is not None)
                check.additive += total == cells[i].value
                check.province_more += total < cells[i].value
    return check


# ---------------------------------------------------------------- reading the marts
@dataclass
class MartsData:
    """What the export reads, as plain rows (dicts of the columns' names)."""

    definitions: list[dict]
    areas: list[dict]
    kpi_values: list[dict]
    attainment: list[dict]
    measurements: list[dict] | None = None   # None: person_register_measurements not there or not granted
    coverage: list[dict] | None = None       # None: kpi_allowance_coverage not there or not granted
    read_at: str | None = None
    build: dict = field(default_factory=dict)


def _dsn(target: PgTarget | str) -> str:
    return target if isinstance(target, str) else target.dsn


def _select(cur, relation: str, columns: Sequence[str], tail: str = "") -> list[dict]:
    if relation not in READS:
        raise PermissionError(f"the open-data export reads marts.{{{', '.join(READS)}}} only, not {relation!r}")
    cur.execute(f"select {', '.join(columns)} from marts.{relation} {tail}".rstrip())
    return [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]


def _readable(cur, relation: str) -> bool:
    cur.execute("select to_regclass(%s) is not null", (f"marts.{relation}",))
    if not cur.fetchone()[0]:
        return False
    cur.execute("select has_table_privilege(%s, 'select')", (f"marts.{relation}",))
    return bool(cur.fetchone()[0])


def read_marts_with(conn) -> MartsData:
    """Everything in one read-only, repeatable-read transaction of ``conn`` (psycopg2)."""
    conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
    try:
        with conn.cursor() as cur:
            cur.execute("select to_char(now(), 'YYYY-MM-DD\"T\"HH24:MI:SSOF')")
            read_at = cur.fetchone()[0]
            data = MartsData(
                definitions=_select(cur, "kpi_definitions",
                                    ["kpi_code", "strategy_no", "name_th", "name_en", "unit", "direction", "area_scope"],
                                    "order by kpi_code"),
                areas=_select(cur, "dim_areas", ["area_code", "area_level", "name_th"],
                              "where area_level in ('province', 'district') order by area_code"),
                kpi_values=_select(cur, "kpi_values", ["kpi_code", "fiscal_year", "area_code", "value"],
                                   "order by kpi_code, fiscal_year, area_code"),
                attainment=_select(cur, "kpi_attainment",
                                   ["kpi_code", "fiscal_year", "area_code", "direction", "unit", "target", "value",
                                    "attained", "percent_of_target"],
                                   "order by kpi_code, fiscal_year, area_code"),
                read_at=read_at,
            )
            if _readable(cur, "person_register_measurements"):
                data.measurements = _select(
                    cur, "person_register_measurements",
                    ["drop_date", "fiscal_year", "area_code", "persons", "complete_persons", "pct_complete"],
                    "order by drop_date, area_code")
            if _readable(cur, "kpi_allowance_coverage"):
                data.coverage = _select(
                    cur, "kpi_allowance_coverage",
                    ["fiscal_year", "area_code", "allowance_type", "eligible_persons", "paid_persons"],
                    "order by fiscal_year, area_code, allowance_type")
    finally:
        conn.rollback()
        conn.set_session(isolation_level="DEFAULT", readonly="DEFAULT")
    return data


def read_marts(target: PgTarget | str) -> MartsData:
    import psycopg2

    conn = psycopg2.connect(_dsn(target), application_name="welfare export-open")
    try:
        return read_marts_with(conn)
    finally:
        conn.close()


def dbt_build_info(run_results: Path | None) -> dict:
    """The dbt invocation that last wrote ``run_results.json`` (its time, command and elapsed seconds)."""
    if run_results is None or not Path(run_results).is_file():
        return {}
    try:
        doc = json.loads(Path(run_results).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    meta, args = doc.get("metadata") or {}, doc.get("args") or {}
    return {k: v for k, v in {"dbt_generated_at": meta.get("generated_at"), "dbt_command": args.get("which"),
                              "dbt_elapsed_seconds": doc.get("elapsed_time")}.items() if v is not None}


# ---------------------------------------------------------------- the files
@dataclass
class OutFile:
    name: str
    columns: list[tuple[str, str]]   # (Thai header, warehouse column)
    rows: list[list[str]]
    blanked_cells: int = 0


@dataclass
class OpenData:
    files: list[OutFile]
    about: dict


def classify(kpi_code: str, unit: str | None) -> tuple[Indicator, bool]:
    """The indicator's class and whether INDICATORS knew it (unknown counts: persons, the cautious reading)."""
    if kpi_code in INDICATORS:
        return INDICATORS[kpi_code], True
    if (unit or "").lower() in ("percent", "%"):
        return Indicator(PERSON_PERCENT, "ร้อยละ", "unclassified percentage (published, no basis checked)"), False
    return Indicator(PERSON_COUNT, unit or "", "unclassified count (treated as persons)"), False


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "Y" if v else "N"
    if isinstance(v, Decimal):
        return format(v, "f")  # as the warehouse holds it: counts whole, percentages to 1 decimal
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _area_order(code: str) -> tuple[int, str]:
    return (0 if code == PROVINCE else 1, code)


def _measurement_tables(rows: list[dict], threshold: int):
    """Suppression of person_register_measurements: (per-row hidden flags of each column, checks)."""
    persons = [Cell(("persons", r["drop_date"]), r["area_code"], r["persons"]) for r in rows]
    complete = [Cell(("complete_persons", r["drop_date"]), r["area_code"], r["complete_persons"]) for r in rows]
    p_hidden = suppress_counts(persons, threshold)
    c_hidden = suppress_counts(complete, threshold)
    checks = {"persons": check_counts(persons, p_hidden, threshold),
              "complete_persons": check_counts(complete, c_hidden, threshold)}
    pct_hidden = [bool(a or b) for a, b in zip(p_hidden, c_hidden, strict=True)]
    return [bool(x) for x in p_hidden], [bool(x) for x in c_hidden], pct_hidden, checks


def build_open_data(data: MartsData, threshold: int, build: Mapping | None = None) -> OpenData:
    """The files' rows and the metadata, suppressed (pure: no database)."""
    t = check_threshold(threshold)
    defs = {d["kpi_code"]: d for d in data.definitions}
    areas = {a["area_code"]: a for a in data.areas}
    kinds: dict[str, Indicator] = {}
    unknown: list[str] = []
    for code in sorted({r["kpi_code"] for r in data.kpi_values} | set(defs)):
        kinds[code], known = classify(code, (defs.get(code) or {}).get("unit"))
        if not known:
            unknown.append(code)

    # the person register's measurements first: S1.1's percentages follow their suppression
    measurement_file = None
    s11_basis: dict[tuple[Hashable, str], Basis] = {}
    checks: dict[str, GroupCheck] = {}
    if data.measurements is not None:
        m = sorted(data.measurements, key=lambda r: (r["drop_date"], _area_order(r["area_code"])))
        p_h, c_h, pct_h, m_checks = _measurement_tables(m, t)
        checks.update({f"person_register_measurements.{k}": v for k, v in m_checks.items()})
        latest: dict[tuple[int, str], int] = {}
        for i, r in enumerate(m):  # S1.1 of F = the latest measurement whose drop date falls in F
            latest[(r["fiscal_year"], r["area_code"])] = i
        for (fy, area), i in latest.items():
            s11_basis[(("S1.1", fy), area)] = Basis(m[i]["complete_persons"], m[i]["persons"], hidden=pct_h[i])
        rows = []
        for i, r in enumerate(m):
            a = areas.get(r["area_code"]) or {}
            rows.append([
                _fmt(r["drop_date"]), _fmt(r["fiscal_year"]), r["area_code"],
                AREA_LEVEL_TH.get(a.get("area_level"), a.get("area_level") or ""), a.get("name_th") or "",
                "" if p_h[i] else _fmt(r["persons"]), FLAG if p_h[i] else "",
                "" if c_h[i] else _fmt(r["complete_persons"]), FLAG if c_h[i] else "",
                "" if pct_h[i] else _fmt(r["pct_complete"]), FLAG if pct_h[i] else "",
            ])
        measurement_file = OutFile("person_register_measurements.csv", MEASUREMENT_COLUMNS, rows,
                                   sum(p_h) + sum(c_h) + sum(pct_h))
    # G.1 and G.2: their persons paid and eligible, from kpi_allowance_coverage (not published themselves)
    for r in data.coverage or []:
        code = COVERAGE_KPIS.get(r["allowance_type"])
        if code:
            s11_basis[((code, r["fiscal_year"]), r["area_code"])] = Basis(r["paid_persons"], r["eligible_persons"])

    # the indicators
    def strategy_order(code: str) -> tuple:
        s = (defs.get(code) or {}).get("strategy_no")
        return (s == 0, s if s is not None else 99, code)

    values = sorted(data.kpi_values, key=lambda r: (strategy_order(r["kpi_code"]), r["fiscal_year"],
                                                   _area_order(r["area_code"])))
    hidden: dict[tuple[str, int, str], bool] = {}
    by_kind: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(values):
        by_kind[kinds[r["kpi_code"]].kind].append(i)
    for kind, idx in by_kind.items():
        cells = [Cell((values[i]["kpi_code"], values[i]["fiscal_year"]), values[i]["area_code"], values[i]["value"])
                 for i in idx]
        if kind == PERSON_COUNT:
            reasons = suppress_counts(cells, t)
            for code in sorted({c.group[0] for c in cells}):
                one = [k for k, c in enumerate(cells) if c.group[0] == code]
                checks[f"kpi_values.{code}"] = check_counts([cells[k] for k in one], [reasons[k] for k in one], t)
        elif kind == PERSON_PERCENT:
            reasons = suppress_percentages(cells, s11_basis, t)
        else:
            _groups(cells)
            reasons = [None] * len(cells)
        for i, reason in zip(idx, reasons, strict=True):
            r = values[i]
            hidden[(r["kpi_code"], r["fiscal_year"], r["area_code"])] = bool(reason)

    kpi_rows = []
    for r in values:
        d, a, k = defs.get(r["kpi_code"]) or {}, areas.get(r["area_code"]) or {}, kinds[r["kpi_code"]]
        h = hidden[(r["kpi_code"], r["fiscal_year"], r["area_code"])]
        kpi_rows.append([
            r["kpi_code"], d.get("name_th") or "", _fmt(d.get("strategy_no")), _fmt(r["fiscal_year"]), r["area_code"],
            AREA_LEVEL_TH.get(a.get("area_level"), a.get("area_level") or ""), a.get("name_th") or "",
            "" if h else _fmt(r["value"]), k.unit_th, FLAG if h else "",
        ])
    kpi_file = OutFile("kpi_values.csv", KPI_COLUMNS, kpi_rows, sum(hidden.values()))

    # attainment follows the indicator's cell (and is never less cautious on its own value)
    att_rows, att_blanked = [], 0
    for r in sorted(data.attainment, key=lambda r: (strategy_order(r["kpi_code"]), r["fiscal_year"],
                                                    _area_order(r["area_code"]))):
        k = kinds.get(r["kpi_code"]) or classify(r["kpi_code"], r.get("unit"))[0]
        h = hidden.get((r["kpi_code"], r["fiscal_year"], r["area_code"]), False)
        h = h or (k.kind == PERSON_COUNT and _small(r["value"], t))
        att_blanked += h
        d, a = defs.get(r["kpi_code"]) or {}, areas.get(r["area_code"]) or {}
        att_rows.append([
            r["kpi_code"], d.get("name_th") or "", _fmt(r["fiscal_year"]), r["area_code"], a.get("name_th") or "",
            DIRECTION_TH.get(r["direction"], r["direction"] or ""), k.unit_th, _fmt(r["target"]),
            "" if h else _fmt(r["value"]), "" if h else _fmt(r["attained"]),
            "" if h else _fmt(r["percent_of_target"]), FLAG if h else "",
        ])
    att_file = OutFile("kpi_attainment.csv", ATTAINMENT_COLUMNS, att_rows, att_blanked)

    files = [kpi_file, att_file] + ([measurement_file] if measurement_file else [])
    about = _about(t, files, kinds, unknown, checks, data, dict(build or {}))
    return OpenData(files, about)


def _rule_th(t: int) -> str:
    return (f"ตัวเลขที่เป็นจำนวนคนหรือจำนวนครัวเรือนระดับอำเภอ (รหัสพื้นที่ 60DD) ที่มีค่าตั้งแต่ 1 ถึง {t} ไม่แสดงค่า "
            "(ช่อง ค่า ว่าง และช่อง ถูกปกปิด = Y) ค่า 0 แสดงตามจริง ค่าระดับจังหวัด (รหัสพื้นที่ 60) แสดงตามจริง "
            f"เว้นแต่ตัวเองมีค่าตั้งแต่ 1 ถึง {t} หากในตัวชี้วัดและปีงบประมาณเดียวกันมีอำเภอถูกปกปิดเพียงอำเภอเดียว "
            "จะปกปิดอำเภอที่มีค่าน้อยที่สุดที่ไม่ใช่ 0 เพิ่มอีกหนึ่งอำเภอ (การปกปิดเสริม) เพื่อไม่ให้คำนวณค่าที่ถูกปกปิด"
            "ได้จากค่าจังหวัดลบด้วยค่าอำเภอที่แสดง ร้อยละที่ตัวตั้งหรือตัวหารเป็นจำนวนคนตั้งแต่ 1 ถึง "
            f"{t} หรือถูกปกปิดในแฟ้มอื่น ก็ไม่แสดงค่าเช่นกัน ข้อมูลในคลังข้อมูลยังคงเป็นค่าจริงทั้งหมด")


def _rule_en(t: int) -> str:
    return (f"A count of persons or households of a district (area 60DD) between 1 and {t} is not published "
            "(value blank, ถูกปกปิด = Y). Zero is published. The province (area 60) is published exact unless it is "
            f"itself between 1 and {t}. Where only one district of an indicator and fiscal year would be blank, the "
            "smallest non-zero district is blanked as well (complementary suppression), so that no blank can be "
            "recovered by subtracting the published districts from the province total; a further one while every "
            "blank is exactly 1. A percentage whose numerator or denominator (persons) is between 1 and "
            f"{t}, or is blank in another file, is blank too. The files do not say which blank is which.")


def _about(t: int, files: list[OutFile], kinds: dict[str, Indicator], unknown: list[str],
           checks: dict[str, GroupCheck], data: MartsData, build: dict) -> dict:
    groups = sum(c.groups for c in checks.values())
    additive = sum(c.additive for c in checks.values())
    more = sum(c.province_more for c in checks.values())
    return {
        "title_th": "ข้อมูลเปิดตัวชี้วัดยุทธศาสตร์การจัดสวัสดิการสังคมจังหวัดนครสวรรค์",
        "title_en": "Open data of the Nakhon Sawan social-welfare strategy indicators",
        "publisher": "สำนักงานพัฒนาสังคมและความมั่นคงของมนุษย์จังหวัดนครสวรรค์",
        "suppression": {
            "threshold": t,
            "rule_th": _rule_th(t),
            "rule_en": _rule_en(t),
            "flag_column": "ถูกปกปิด",
            "flag_value": FLAG,
            "person_count_indicators": {c: k.counts for c, k in kinds.items() if k.kind == PERSON_COUNT},
            "person_percent_indicators": {c: k.counts for c, k in kinds.items() if k.kind == PERSON_PERCENT},
            "not_person_indicators": {c: k.counts for c, k in kinds.items() if k.kind == NOT_PERSONS},
            "unclassified_indicators": unknown,
            "percentages_not_checked": sorted(
                c for c, k in kinds.items() if k.kind == PERSON_PERCENT
                and not (c == "S1.1" and data.measurements is not None)
                and not (c in COVERAGE_KPIS.values() and data.coverage is not None)),
        },
        "totals": {
            "statement_th": "ค่าระดับจังหวัดที่แสดงเป็นค่าจริง ผลรวมของค่าอำเภอที่แสดงกับค่าที่ถูกปกปิดเท่ากับค่าจังหวัด "
                            "ยกเว้นรายการที่ไม่มีอำเภอ (เช่น การจ่ายเบี้ยของ อบจ. หรือบุคคลที่ไม่ทราบที่อยู่) "
                            "ซึ่งนับในค่าจังหวัดเท่านั้น",
            "statement_en": "Every published province total is the exact total. The published district values plus "
                            "the blanked ones add up to the province total, except for records with no district "
                            "(the PAO's payments, persons without a known home), which count in the province only.",
            "province_published_exact": True,
            "groups_checked": groups,
            "groups_districts_add_up_to_province": additive,
            "groups_province_includes_records_without_district": more,
            "blanked_cells": {f.name: f.blanked_cells for f in files},
        },
        "files": {f.name: {"rows": len(f.rows), "encoding": "UTF-8 with BOM",
                           "columns": {th: en for th, en in f.columns}} for f in files},
        "source": {
            "schema": "marts",
            "relations": [f"marts.{r}" for r in READS if r not in OPTIONAL_READS
                          or {"person_register_measurements": data.measurements,
                              "kpi_allowance_coverage": data.coverage}[r] is not None],
            "read_at": data.read_at,
            "latest_drop_date": _fmt(max((r["drop_date"] for r in data.measurements or []), default=None)),
            "latest_fiscal_year": max((r["fiscal_year"] for r in data.kpi_values), default=None),
            **build,
        },
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _readme(about: dict) -> str:
    s, tot, src = about["suppression"], about["totals"], about["source"]
    lines = [
        about["title_th"], about["title_en"], "",
        f"เกณฑ์ปกปิด (threshold): {s['threshold']}", "", s["rule_th"], "", s["rule_en"], "",
        "ตัวชี้วัดที่เป็นจำนวนคน/ครัวเรือน (person counts): " + ", ".join(s["person_count_indicators"]),
        "ตัวชี้วัดร้อยละของคน (person percentages): " + ", ".join(s["person_percent_indicators"]),
        "ร้อยละที่ตรวจตัวตั้ง/ตัวหารไม่ได้ (percentages not checked): " + (", ".join(s["percentages_not_checked"]) or "-"),
        "", tot["statement_th"], tot["statement_en"], "",
        f"ข้อมูลจาก (source): {', '.join(src['relations'])}",
        f"อ่านเมื่อ (read at): {src['read_at']}",
        f"ข้อมูลถึงวันที่ (latest drop date): {src['latest_drop_date'] or '-'}",
        f"ประมวลผลคลังข้อมูลเมื่อ (dbt build): {src.get('dbt_generated_at') or '-'}",
        f"ส่งออกเมื่อ (exported at): {about['exported_at']}", "",
        "แฟ้ม (files): " + ", ".join(about["files"]) + ", _about.json",
    ]
    return "\r\n".join(lines) + "\r\n"


def _write_atomic(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def write_open_data(od: OpenData, out: Path) -> list[Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for f in od.files:
        def write_csv(tmp: Path, f: OutFile = f) -> None:
            with open(tmp, "w", newline="", encoding=ENCODING) as fh:
                w = csv.writer(fh)
                w.writerow([th for th, _ in f.columns])
                w.writerows(f.rows)
        _write_atomic(out / f.name, write_csv)
        written.append(out / f.name)
    _write_atomic(out / "_about.json", lambda tmp: tmp.write_text(
        json.dumps(od.about, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8"))
    _write_atomic(out / "อ่านก่อน.txt", lambda tmp: tmp.write_text(_readme(od.about), encoding=ENCODING))
    return written + [out / "_about.json", out / "อ่านก่อน.txt"]


def export_open(target: PgTarget | str, out: Path, threshold: int | None = None,
                run_results: Path | None = None) -> OpenData:
    """Read the aggregate marts (``target``: a PgTarget or a libpq DSN), suppress, write the files to ``out``."""
    t = default_threshold() if threshold is None else check_threshold(threshold)
    data = read_marts(target)
    od = build_open_data(data, t, dbt_build_info(run_results))
    write_open_data(od, out)
    return od
