"""An independent reader of source drops for the tests: the contract's rules in plain Python.

It shares nothing with the loader but the project's copy of the contract, so a
test can check the generator and the warehouse against it.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import date
from pathlib import Path

from welfare import contract
from welfare.contract.thai import is_valid_national_id

PY_ENCODING = {"utf-8-sig": "utf-8-sig", "cp874": "cp874", "utf-8": "utf-8"}


def read_extract(system: str, name: str, path: Path) -> list[dict]:
    """Rows of one file as {contract column: raw value} (CSV: strings; JSON lines: JSON values)."""
    ext = contract.extract(system, name)
    raw = path.read_bytes()
    if ext.format == "jsonl":
        return [json.loads(line) for line in raw.decode("utf-8").splitlines() if line.strip()]
    text = raw.decode(PY_ENCODING[ext.encoding])
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=ext.delimiter))
    header = [h.lstrip("\ufeff") for h in rows[0]]
    assert header == [c.header for c in ext.columns], f"{path}: the header row is not the contract's"
    return [dict(zip(ext.column_names, r, strict=True)) for r in rows[1:]]


def parse_date(ext, value: str) -> date | None:
    """The date, None if empty; raises ValueError naming the rule it breaks."""
    if value in (None, ""):
        return None
    if ext.dates == "be":
        dd, mm, yyyy = value.split("/")
        if len(dd) != 2 or len(mm) != 2 or len(yyyy) != 4:
            raise ValueError("date_format")
        if int(yyyy) < 2400:
            raise ValueError("date_be_year")
        try:
            return date(int(yyyy) - 543, int(mm), int(dd))
        except ValueError:
            raise ValueError("date_invalid") from None
    try:
        y, m, d = value.split("-")
        return date(int(y), int(m), int(d))
    except ValueError:
        raise ValueError("date_invalid") from None


def violations(system: str, name: str, rows: list[dict]) -> dict[int, set[str]]:
    """Row number (1-based) -> the rules of the contract the row breaks."""
    ext = contract.extract(system, name)
    subs = set(contract.subdistrict_codes())
    districts = set(contract.district_codes())
    out: dict[int, set[str]] = {}
    def key_of(r: dict) -> tuple | None:  # a key with an empty part matches nothing (SQL NULL)
        parts = tuple(r.get(k) for k in ext.key)
        return None if any(v in (None, "") for v in parts) else tuple(map(str, parts))

    keys = Counter(key_of(r) for r in rows)
    for n, r in enumerate(rows, start=1):
        bad: set[str] = set()
        for c in ext.columns:
            v = r.get(c.name)
            empty = v is None or v == ""
            if empty:
                if c.required and not (name == "authorities" and c.name == "district_code"):
                    bad.add(f"required:{c.name}")
                continue
            s = v if isinstance(v, str) else (json.dumps(v) if not isinstance(v, list) else v)
            if c.type == "date":
                try:
                    parse_date(ext, s)
                except ValueError as e:
                    bad.add(f"{e}:{c.name}")
            elif c.type == "enum" and str(v) not in [str(x) for x in c.values]:
                bad.add(f"enum:{c.name}")
            elif c.type == "int":
                try:
                    iv = int(s)
                except ValueError:
                    bad.add(f"type_int:{c.name}")
                else:
                    if c.values and iv not in c.values:
                        bad.add(f"enum:{c.name}")
            elif c.type == "decimal":
                try:
                    if float(s) < 0:
                        bad.add(f"negative_amount:{c.name}")
                except ValueError:
                    bad.add(f"type_decimal:{c.name}")
            elif c.type == "list":
                items = v if isinstance(v, list) else v.split(c.separator or "|")
                allowed = set(c.values) if c.values else subs
                if any(x not in allowed for x in items):
                    bad.add(("list_enum:" if c.values else "area_code:") + c.name)
            if c.name in ("national_id", "head_national_id") and not is_valid_national_id(s):
                bad.add(f"national_id:{c.name}")
            if c.name == "subdistrict_code" and s not in subs:
                bad.add("area_code:subdistrict_code")
            if c.name == "district_code" and s not in districts:
                bad.add("area_code:district_code")
            if c.name == "village_code" and s[:6] not in subs:
                bad.add("area_code:village_code")
        if key_of(r) is not None and keys[key_of(r)] > 1:
            bad.add("duplicate_key")
        if name == "organizations" and r.get("certification") and not r.get("certified_on"):
            bad.add("conditional_required:certified_on")
        if name == "organizations" and r.get("quality_assessed_fy") and not r.get("quality_passed"):
            bad.add("conditional_required:quality_passed")
        if name == "fund_proposals" and r.get("status") == "APPROVED" and not r.get("approved_amount"):
            bad.add("conditional_required:approved_amount")
        if name == "media_works" and r.get("decision") not in ("PENDING", "", None) and not r.get("decided_on"):
            bad.add("conditional_required:decided_on")
        if name == "villages" and r["village_code"] and r["subdistrict_code"] \
                and r["village_code"][:6] != r["subdistrict_code"]:
            bad.add("village_subdistrict:subdistrict_code")
        if name == "authorities" and (r.get("lao_type") == "PAO") != (r.get("district_code") in ("", None)):
            bad.add("pao_district:district_code")
        if bad:
            out[n] = bad
    return out


# ----------------------------------------------------------------------------- current state
def ground_truth(sources: Path) -> dict:
    return json.loads((Path(sources) / "ground_truth.json").read_text(encoding="utf-8"))


def quarantined_rows(truth: dict) -> set[tuple[str, str, int]]:
    """(extract_date, file, row) of every planted row the loader must quarantine."""
    return {(p["extract_date"], p["file"], p["row"]) for p in truth["planted"]
            if p["row"] is not None and not p["rule"].startswith(("improper:", "conflict:"))}


def rejected_files(truth: dict) -> set[tuple[str, str, str]]:
    """(system, extract_date, file) of every planted file the loader must reject whole."""
    return {(p["system"], p["extract_date"], p["file"]) for p in truth["planted"] if p["row"] is None}


def deliveries(sources: Path, system: str, name: str, truth: dict) -> list[tuple[str, list[dict]]]:
    """The accepted deliveries of one extract, oldest first: (date, rows with their 1-based row numbers).
    Re-sends add nothing; rejected files are skipped; quarantined rows are marked ``_quarantined``."""
    ext = contract.extract(system, name)
    bad = quarantined_rows(truth)
    rejected = rejected_files(truth)
    out = []
    for day in sorted(d for d in truth["drops"] if d not in truth["resends"]):
        path = Path(sources) / system / day / ext.file
        if not path.exists() or (system, day, ext.file) in rejected:
            continue
        rows = read_extract(system, name, path)
        for n, r in enumerate(rows, start=1):
            r["_row"] = n
            r["_quarantined"] = (day, ext.file, n) in bad
        out.append((day, rows))
    return out


def current_state(sources: Path, system: str, name: str, truth: dict) -> list[dict]:
    """An extract's current state as the contract defines it, from the files alone.

    Snapshot: the rows of the latest accepted delivery; a quarantined row's key keeps its last valid
    earlier version. Increment: per key, the valid row of the latest delivery that has one.
    """
    ext = contract.extract(system, name)

    def key(r):
        parts = tuple(r.get(k) for k in ext.key)
        return None if any(v in (None, "") for v in parts) else tuple(map(str, parts))

    history: dict[tuple, dict] = {}
    found = deliveries(sources, system, name, truth)
    if ext.kind == "increment":
        for _, rows in found:
            for r in rows:
                if not r["_quarantined"] and key(r) is not None:
                    history[key(r)] = r
        return list(history.values())
    if not found:
        return []
    for _, rows in found[:-1]:
        for r in rows:
            if not r["_quarantined"] and key(r) is not None:
                history[key(r)] = r
    state: dict[tuple, dict] = {}
    for r in found[-1][1]:
        k = key(r)
        if not r["_quarantined"]:
            state[k] = r
        elif k is not None and k in history and k not in state:
            state[k] = history[k]
    return list(state.values())
