"""End to end: generate a province, run the real Airflow DAGs (real GX, real dbt, real PostgreSQL),
and check the indicators against figures computed here from the generated files alone."""

from __future__ import annotations

import csv
import json
import os
from collections import defaultdict
from datetime import date
from pathlib import Path

import pytest
from welfare import db
from welfare.cli import main as welfare
from welfare.generate import GenerateOptions, generate
from welfare.thai import fiscal_year_window, parse_be_date

pytestmark = pytest.mark.e2e
DROPS = [date(2021, 9, 28), date(2021, 9, 29), date(2021, 9, 30)]
PLANTED_RATES = "national_id=0.02,be_year=0.01,date_invalid=0.01,area_code=0.01,required=0.01,enum=0.01"


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sources")
    generate(GenerateOptions(out=out, scale=0.03, seed=7, drops=DROPS, defects=PLANTED_RATES))
    return out


@pytest.fixture(scope="module")
def first_run(warehouse, sources, monkeypatch_module):
    # Planted rates are above the 5% default on purpose here; the threshold has its own test.
    monkeypatch_module.setenv("WELFARE_QUARANTINE_THRESHOLD", "0.5")
    code = welfare(["run", "--sources", str(sources)])
    return code


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def query(target, sql, params=None):
    with db.connect(target.dsn) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def truth(sources: Path) -> list[dict]:
    return json.loads((sources / "ground_truth.json").read_text(encoding="utf-8"))["planted"]


def read_csv(path: Path) -> list[dict]:
    from welfare import contract

    ext = next(e for e in contract.systems()["msdhs"].extracts.values() if e.file == path.name)
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    names = [ext.header_map[h] for h in rows[0]]
    return [dict(zip(names, r, strict=True)) for r in rows[1:]]


def current_orgs(sources: Path) -> list[dict]:
    """The organisations registry as the contract defines its current state, from the files alone."""
    bad = defaultdict(set)
    for p in truth(sources):
        bad[(p["extract_date"], p["file"])].add(p["row"])
    history: dict[str, list[tuple[date, dict]]] = defaultdict(list)
    latest = DROPS[-1]
    latest_rows = []
    for d in DROPS:
        rows = read_csv(sources / "msdhs" / d.isoformat() / "organizations.csv")
        for i, r in enumerate(rows, start=1):
            if i in bad[(d.isoformat(), "organizations.csv")]:
                if d == latest:
                    latest_rows.append(("quarantined", r))
                continue
            history[r["org_id"]].append((d, r))
            if d == latest:
                latest_rows.append(("valid", r))
    out = []
    for status, r in latest_rows:
        if status == "valid":
            out.append(r)
        elif r["org_id"] and history.get(r["org_id"]):  # stale: the last valid version stands
            out.append(history[r["org_id"]][-1][1])
    return out


def expected_counts(orgs: list[dict], fy: int) -> dict[str, dict[str, int]]:
    _, fy_end = fiscal_year_window(fy)
    pd = lambda v: parse_be_date(v) if v else None  # noqa: E731
    result = {"S2.1": defaultdict(int), "S2.2": defaultdict(int)}
    for o in orgs:
        areas = ["60", o["subdistrict_code"][:4]]
        cert, revoked = pd(o["certified_on"]), pd(o["certification_revoked_on"])
        if o["certification"] and cert and cert <= fy_end and (revoked is None or revoked > fy_end):
            for a in areas:
                result["S2.1"][a] += 1
        joined, left = pd(o["joined_network_on"]), pd(o["left_network_on"])
        if joined and joined <= fy_end and (left is None or left > fy_end):
            for a in areas:
                result["S2.2"][a] += 1
    return result


def test_run_succeeds(first_run):
    assert first_run == 0


def test_s2_1_and_s2_2_match_an_independent_computation(first_run, warehouse, sources):
    rows = query(warehouse, "select kpi_code, fiscal_year, area_code, value from marts.kpi_values "
                            "where kpi_code in ('S2.1', 'S2.2')")
    got = {(k, fy, a): v for k, fy, a, v in rows}
    years = sorted({fy for _, fy, _ in got})
    assert years == [2560, 2561, 2562, 2563, 2564]
    orgs = current_orgs(sources)
    nonzero = 0
    for fy in years:
        exp = expected_counts(orgs, fy)
        for code in ("S2.1", "S2.2"):
            for area in ["60"] + [f"60{d:02d}" for d in range(1, 16)]:
                assert got[(code, fy, area)] == exp[code].get(area, 0), (code, fy, area)
                nonzero += exp[code].get(area, 0) > 0
    assert nonzero > 20  # the check compared real figures, not zeros


def test_every_planted_defect_is_quarantined_with_its_rule(first_run, warehouse, sources):
    rows = query(warehouse, "select extract_date::text, source_file, row_no, rules from audit.quarantine")
    quarantined = {(d, f, r): rules for d, f, r, rules in rows}
    planted = truth(sources)
    assert planted, "the generator planted nothing"
    assert {p["defect"] for p in planted} >= {"national_id", "area_code", "required", "enum"}
    for p in planted:
        key = (p["extract_date"], p["file"], p["row"])
        assert key in quarantined, p
        assert p["rule"] in quarantined[key], (p, quarantined[key])
    # and nothing else: every quarantined row is one the generator planted
    assert set(quarantined) == {(p["extract_date"], p["file"], p["row"]) for p in planted}


def test_quarantine_messages_name_file_row_and_rule(first_run, warehouse):
    rows = query(warehouse, "select source_file, row_no, rule, message, record from audit.quarantine")
    for f, r, rule, msg, record in rows:
        assert f"row {r} of msdhs/" in msg and f in msg and f"[rule {rule}]" in msg
        assert isinstance(record, dict) and record


def test_rows_in_equal_loaded_plus_quarantined(first_run, warehouse, sources):
    rows = query(warehouse, "select extract_date::text, file_name, rows_in, rows_loaded, rows_quarantined, "
                            "rows_rejected from audit.file_audit")
    assert len(rows) == 2 * len(DROPS)
    for d, f, n, loaded, quarantined, rejected in rows:
        manifest = json.loads((sources / "msdhs" / d / "_manifest.json").read_text())
        assert n == next(e["rows"] for e in manifest["files"] if e["name"] == f)
        assert n == loaded + quarantined + rejected and rejected == 0
        raw = query(warehouse, f"select count(*) from raw.msdhs__{f.removesuffix('.csv')} "
                               "where _extract_date = %s", (d,))[0][0]
        q = query(warehouse, "select count(*) from audit.quarantine where extract_date = %s and source_file = %s",
                  (d, f))[0][0]
        assert (raw, q) == (loaded, quarantined)


def _fingerprint(target) -> dict:
    out = {}
    for table in ("raw.msdhs__organizations", "raw.msdhs__volunteers", "audit.quarantine",
                  "audit.load_ledger", "audit.file_audit"):
        out[table] = query(target, f"select count(*) from {table}")[0][0]
    out["kpi"] = query(target, "select kpi_code, fiscal_year, area_code, value from marts.kpi_values "
                               "order by 1, 2, 3")
    return out


def test_second_run_changes_nothing(first_run, warehouse, sources):
    before = _fingerprint(warehouse)
    assert welfare(["run", "--sources", str(sources)]) == 0
    assert _fingerprint(warehouse) == before


def test_kpis_csv_export(first_run, warehouse, tmp_path):
    out = tmp_path / "kpis.csv"
    assert welfare(["kpis", "--csv", str(out)]) == 0
    with open(out, encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["kpi_code", "fiscal_year", "area_code", "value"]
    assert len(rows) - 1 == query(warehouse, "select count(*) from marts.kpi_values")[0][0]


def test_a_breached_threshold_fails_the_run_after_loading_what_passed(first_run, warehouse, sources,
                                                                      monkeypatch_module, tmp_path):
    # A new drop with many bad rows, run with the default 5% threshold.
    out = tmp_path / "bad"
    generate(GenerateOptions(out=out, scale=0.03, seed=8, drops=[date(2021, 10, 1)],
                             defects="national_id=0.2,area_code=0.1"))
    monkeypatch_module.delenv("WELFARE_QUARANTINE_THRESHOLD")
    assert welfare(["run", "--sources", str(out)]) == 1
    rows = query(warehouse, "select file_name, threshold_breached, rows_loaded from audit.file_audit "
                            "where extract_date = '2021-10-01'")
    assert rows and all(b for _, b, _ in rows)
    assert all(n > 0 for _, _, n in rows)  # what passed was loaded


def test_data_docs_written(first_run, welfare_home):
    assert (welfare_home / "data_docs" / "site" / "index.html").exists()
    assert os.path.getsize(welfare_home / "data_docs" / "site" / "index.html") > 0
