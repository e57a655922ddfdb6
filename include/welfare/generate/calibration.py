"""Headline counts of a generated province, measured from its files, against the published figures.

`welfare calibrate --sources DIR` reads the first drop (the full history) file by
file, streaming, and compares each headline with province-facts.md; at scale
1.0 every headline should land within 5%. Shares are compared as they are.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

from welfare import contract
from welfare.contract.thai import is_valid_national_id, parse_be_date

TOLERANCE = 0.05


@dataclass
class Headline:
    name: str
    measured: float
    published: float | None  # at scale 1.0; None: reported, not compared
    scaled: bool             # True: the published figure shrinks with --scale

    def expected(self, scale: float) -> float | None:
        if self.published is None:
            return None
        return self.published * scale if self.scaled else self.published

    def within(self, scale: float) -> bool | None:
        want = self.expected(scale)
        if want is None:
            return None
        return abs(self.measured - want) <= TOLERANCE * want


def _csv_rows(system: str, name: str, path: Path):
    ext = contract.extract(system, name)
    with open(path, encoding="utf-8-sig" if ext.encoding == "utf-8-sig" else ext.encoding, newline="") as f:
        reader = csv.reader(f, delimiter=ext.delimiter)
        header = next(reader)
        names = [ext.header_map[h.lstrip("\ufeff")] for h in header]
        for row in reader:
            yield dict(zip(names, row, strict=True))


def _age(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def measure(sources: Path) -> dict:
    truth = json.loads((Path(sources) / "ground_truth.json").read_text(encoding="utf-8"))
    scale = float(truth["scale"])
    first = truth["drops"][0]
    cdd, msdhs, lao = (Path(sources) / s / first for s in ("cdd", "msdhs", "lao"))
    fy_end = date(2021, 9, 30)

    persons, elderly, mueang, households, poor = set(), 0, 0, 0, 0
    for r in _csv_rows("cdd", "bmn_members", cdd / "bmn_members.csv"):
        if r["survey_year"] != "2564" or not is_valid_national_id(r["national_id"]) or r["national_id"] in persons:
            continue
        persons.add(r["national_id"])
        try:
            elderly += _age(parse_be_date(r["birth_date"]), fy_end) >= 60
        except ValueError:
            pass
        mueang += r["household_code"].startswith("6001")
    for r in _csv_rows("cdd", "bmn_households", cdd / "bmn_households.csv"):
        if r["survey_year"] != "2564":
            continue
        households += 1
        try:
            poor += float(r["annual_income"]) / int(r["members"]) < 38_000
        except (ValueError, ZeroDivisionError):
            pass
    cards_by = date(2020, 8, 31)
    disabled = set()
    for r in _csv_rows("msdhs", "disability_cards", msdhs / "disability_cards.csv"):
        try:
            if parse_be_date(r["issued_on"]) <= cards_by:
                disabled.add(r["national_id"])
        except ValueError:
            pass
    villages = sum(1 for _ in _csv_rows("cdd", "villages", cdd / "villages.csv"))
    laos = [json.loads(line) for line in (lao / "authorities.jsonl").read_text(encoding="utf-8").splitlines()]
    paid_sept, on_time, payments = set(), 0, 0
    with open(lao / "allowance_payments.jsonl", encoding="utf-8") as f:
        for line in f:
            p = json.loads(line)
            payments += 1
            on_time += (p.get("paid_on") or "")[8:10] <= "10"
            if p.get("allowance_type") == "ELDERLY" and p.get("period") == "2021-09":
                paid_sept.add(p.get("national_id"))
    n = max(1, len(persons))
    heads = [
        Headline("registered population 2564 (persons in the BMN survey 2564)", len(persons), 1_035_028, True),
        Headline("share aged 60 or more at the end of FY 2564 (%)", round(100 * elderly / n, 2), 23.6, False),
        Headline("share living in Mueang Nakhon Sawan (%)", round(100 * mueang / n, 2), 23.6, False),
        Headline("registered persons with disabilities (a card by August 2563)", len(disabled), 33_529, True),
        Headline("BMN households 2564", households, 350_000, True),
        Headline("BMN households below 38,000 baht a head 2564 (%)", round(100 * poor / max(1, households), 2),
                 None, False),
        Headline("villages", villages, 1_431, False),
        Headline("local authorities", len(laos), 143, False),
        Headline("elderly allowance recipients, September 2564", len(paid_sept), None, True),
        Headline("elderly allowance take-up, September 2564 (% of persons aged 60+)",
                 round(100 * len(paid_sept) / max(1, elderly), 2), None, False),
        Headline("allowance payments paid by the 10th (%)", round(100 * on_time / max(1, payments), 2), None, False),
    ]
    return {"sources": str(sources), "scale": scale, "first_drop": first,
            "headlines": [dict(asdict(h), expected=h.expected(scale), within_5pct=h.within(scale)) for h in heads]}


def format_report(result: dict) -> str:
    lines = [f"Calibration of {result['sources']} (scale {result['scale']}, first drop {result['first_drop']})",
             f"{'headline':<72} {'measured':>12} {'expected':>12}  within 5%"]
    for h in result["headlines"]:
        exp = "" if h["expected"] is None else f"{h['expected']:,.1f}"
        ok = {True: "yes", False: "NO", None: "-"}[h["within_5pct"]]
        lines.append(f"{h['name']:<72} {h['measured']:>12,} {exp:>12}  {ok}")
    return "\n".join(lines)
