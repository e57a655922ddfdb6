"""End to end: generate a province, run the real Airflow DAGs (real GX, real dbt, real PostgreSQL),
and check the indicators against figures computed here from the generated files alone."""

from __future__ import annotations

import csv
import json
import os
import shutil
from collections import defaultdict
from datetime import date
from pathlib import Path

import pytest
from content_hashes import E2E_PROVINCE, RECORD, content_hashes
from contract_reader import current_state, deliveries, ground_truth, quarantined_rows, rejected_files
from thai_calendar import fiscal_year_window
from welfare import contract
from welfare.cli import main as welfare
from welfare.contract.thai import fiscal_year_of, parse_be_date
from welfare.generate import GenerateOptions, generate
from welfare.generate.drops import parse_drops
from welfare.orchestration import tasks
from welfare.warehouse import connections, wap
from welfare.warehouse.sql import connect

pytestmark = pytest.mark.e2e
DROPS, RESENDS = parse_drops(E2E_PROVINCE["drops"])
SCALE = E2E_PROVINCE["scale"]


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def query(target, sql, params=None):
    with connect(target.dsn) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def truth(sources: Path) -> dict:
    return ground_truth(sources)


def current_orgs(sources: Path) -> list[dict]:
    return current_state(sources, "msdhs", "organizations", truth(sources))


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


def test_the_run_fails_exactly_on_the_planted_rejected_files(first_run, warehouse, sources):
    """Rejected files fail their DAG run and `welfare run`; everything else still loads and builds."""
    assert first_run == 3  # completed, with data problems to report
    rows = query(warehouse, "select system, extract_date::text, file_name, reason from audit.file_audit "
                            "where status = 'rejected'")
    planted = {p["file"] + "@" + p["extract_date"]: p["rule"] for p in truth(sources)["planted"] if p["row"] is None}
    got = {f"{f}@{d}": reason for _, d, f, reason in rows if d not in truth(sources)["resends"]}
    assert set(got) == set(planted)
    for name, rule in planted.items():
        assert got[name].startswith(f"[{rule}]"), (name, got[name])
    assert query(warehouse, "select count(*) from marts.kpi_values")[0][0] > 0


def test_published_tables_hold_what_was_recorded(first_run, warehouse):
    """Every table and view of marts, restricted and snapshots holds the rows recorded in
    content_hashes.json for these drops: a change meant to leave the numbers alone did."""
    recorded = json.loads(RECORD.read_text(encoding="utf-8"))
    now = content_hashes(warehouse.dsn)
    assert sorted(now) == sorted(recorded), "published names differ from the recording"
    differ = {name: (recorded[name], now[name]) for name in recorded if recorded[name] != now[name]}
    assert not differ, f"contents differ from the recording (re-record on purpose only): {differ}"


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


AREAS = ["60"] + [f"60{d:02d}" for d in range(1, 16)]


def _d(value: str | None) -> date | None:
    return parse_be_date(value) if value else None


def expected_s2_5_s3_4(sources: Path) -> dict[str, dict[tuple[int, str], set[str]]]:
    """S2.5 and S3.4 from the generated files alone (kpis.md), as sets of org ids per (fiscal year, area)."""
    t = truth(sources)
    orgs = {o["org_id"]: o for o in current_orgs(sources)}
    out: dict[str, dict[tuple[int, str], set[str]]] = {"S2.5": defaultdict(set), "S3.4": defaultdict(set)}
    for tr in current_state(sources, "msdhs", "org_trainings", t):
        o, held = orgs.get(tr["org_id"]), _d(tr["held_on"])
        if o is None or held is None:
            continue  # a training of an organisation the registry does not hold cannot show partnership
        joined, left = _d(o["joined_network_on"]), _d(o["left_network_on"])
        if joined and joined <= held and (left is None or left > held):
            for area in ("60", o["subdistrict_code"][:4]):
                out["S2.5"][(fiscal_year_of(held), area)].add(o["org_id"])
    for p in current_state(sources, "msdhs", "fund_proposals", t):
        o, submitted = orgs.get(p["org_id"]), _d(p["submitted_on"])
        if o is None or submitted is None or not o["certification"]:
            continue
        cert, revoked = _d(o["certified_on"]), _d(o["certification_revoked_on"])
        if cert and cert <= submitted and (revoked is None or revoked > submitted):
            for area in ("60", o["subdistrict_code"][:4]):
                out["S3.4"][(int(p["fiscal_year"]), area)].add(o["org_id"])
    return out


def test_s2_5_and_s3_4_match_an_independent_computation(first_run, warehouse, sources):
    rows = query(warehouse, "select kpi_code, fiscal_year, area_code, value from marts.kpi_values "
                            "where kpi_code in ('S2.5', 'S3.4')")
    got = {(k, fy, a): v for k, fy, a, v in rows}
    years = sorted({fy for _, fy, _ in got})
    assert years == [2560, 2561, 2562, 2563, 2564]
    exp = expected_s2_5_s3_4(sources)
    assert len(got) == 2 * len(years) * len(AREAS)  # every area and year, zeros included
    nonzero = 0
    for code in ("S2.5", "S3.4"):
        for fy in years:
            for area in AREAS:
                want = len(exp[code].get((fy, area), ()))
                assert got[(code, fy, area)] == want, (code, fy, area)
                nonzero += want > 0
    assert nonzero > 10  # the check compared real figures, not zeros


def test_the_organizations_snapshot_keeps_a_revoked_certification_with_both_validity_windows(
        first_run, warehouse, sources):
    """After two drops in which an organisation loses its certification, the snapshot holds both states."""
    t = truth(sources)
    seen: dict[str, list[tuple[str, str]]] = defaultdict(list)  # org_id -> [(drop, revoked_on)] of valid rows
    for day, rows in deliveries(sources, "msdhs", "organizations", t):
        for r in rows:
            if not r["_quarantined"] and r["certification"]:
                seen[r["org_id"]].append((day, r["certification_revoked_on"]))
    revoked_later = {}
    for org_id, states in seen.items():
        for (d1, r1), (d2, r2) in zip(states, states[1:], strict=False):
            if not r1 and r2:
                revoked_later[org_id] = (d1, d2, r2)
    assert revoked_later, "the generator revokes a certification in a later drop"
    versions = defaultdict(list)
    for org_id, revoked_on, extracted_on, valid_from, valid_to in query(
            warehouse, "select org_id, certification_revoked_on, extracted_on, dbt_valid_from, dbt_valid_to "
                       "from snapshots.snp_msdhs__organizations order by org_id, dbt_valid_from"):
        versions[org_id].append((revoked_on, extracted_on, valid_from, valid_to))
    for org_id, (d1, d2, revoked) in revoked_later.items():
        v = versions[org_id]
        certified = [x for x in v if x[0] is None]
        lost = [x for x in v if x[0] == parse_be_date(revoked)]
        assert certified and lost, (org_id, v)
        before, after = certified[-1], lost[0]
        assert before[1] <= date.fromisoformat(d1) and after[1] == date.fromisoformat(d2), (org_id, v)
        assert before[3] is not None and before[3] == after[2], (org_id, v)  # windows meet, no gap or overlap
        assert after[2] < (after[3] or after[2].max)
    # the dimension shows the same history
    hist = query(warehouse, "select org_id, count(*) from marts.dim_organization_history "
                            "where org_id = any(%s) group by org_id", (list(revoked_later),))
    assert all(n >= 2 for _, n in hist) and len(hist) == len(revoked_later)


def test_every_planted_defect_is_quarantined_with_its_rule(first_run, warehouse, sources):
    rows = query(warehouse, "select extract_date::text, source_file, row_no, rules from audit.quarantine")
    quarantined = {(d, f, r): rules for d, f, r, rules in rows}
    t = truth(sources)
    planted = [p for p in t["planted"] if (p["extract_date"], p["file"], p["row"]) in quarantined_rows(t)]
    assert {p["defect"] for p in planted} >= {"national_id", "be_year", "date_invalid", "area_code", "required",
                                              "enum", "negative_amount", "duplicate_key"}
    for p in planted:
        key = (p["extract_date"], p["file"], p["row"])
        assert key in quarantined, p
        assert p["rule"] in quarantined[key], (p, quarantined[key])
    # and nothing else: every quarantined row is one the generator planted
    assert set(quarantined) == quarantined_rows(t)


def test_quarantine_messages_name_file_row_and_rule(first_run, warehouse):
    rows = query(warehouse, "select system, extract_date::text, source_file, row_no, rule, message, record "
                            "from audit.quarantine")
    assert rows
    for system, d, f, r, rule, msg, record in rows:
        assert msg.startswith(f"row {r} of {system}/{d}/{f}: ") and f"[rule {rule}]" in msg
        assert isinstance(record, dict) and record


def test_rows_in_equal_loaded_plus_quarantined_for_every_file(first_run, warehouse, sources):
    audit = {(s, d, f): rest for s, d, f, *rest in query(
        warehouse, "select system, extract_date::text, file_name, status, rows_in, rows_loaded, rows_quarantined, "
                   "rows_rejected, rows_resent from audit.file_audit")}
    t = truth(sources)
    delivered = 0
    earlier: dict[tuple[str, str], set[str]] = defaultdict(set)  # (system, file) -> sha256 delivered before
    for m in sorted(sources.glob("*/*/_manifest.json"), key=lambda m: (m.parent.name, m.parent.parent.name)):
        system, d = m.parent.parent.name, m.parent.name
        for e in json.loads(m.read_text())["files"]:
            status, n, loaded, quarantined, rejected, resent = audit[(system, d, e["name"])]
            assert n == loaded + quarantined + rejected + resent
            delivered += 1
            if (system, t["resends"].get(d, d), e["name"]) in rejected_files(t):  # a re-sent reject: rejected
                assert status == "rejected" and rejected == n and loaded == quarantined == 0
                continue
            assert n == e["rows"]
            seen_before = e["sha256"] in earlier[(system, e["name"])]
            earlier[(system, e["name"])].add(e["sha256"])
            if d in t["resends"] or status == "resent":
                # the same bytes as an earlier delivery (a re-sent drop, or a registry unchanged overnight)
                assert seen_before and status == "resent" and resent == n and loaded == quarantined == 0
                continue
            assert status == "loaded"
            name = e["name"].rsplit(".", 1)[0]
            raw = query(warehouse, f"select count(*) from raw.{system}__{name} where _extract_date = %s", (d,))[0][0]
            q = query(warehouse, "select count(*) from audit.quarantine where extract_date = %s and system = %s "
                                 "and source_file = %s", (d, system, e["name"]))[0][0]
            assert (raw, q) == (loaded, quarantined)
            assert q == sum(1 for (qd, qf, _) in quarantined_rows(t) if (qd, qf) == (d, e["name"]))
    assert delivered == len(audit)


def test_snapshot_deletes_and_increment_corrections_end_in_the_right_current_state(first_run, warehouse, sources):
    """The staging views (the published generation's) against the contract's current state computed from the
    files alone."""
    t = truth(sources)
    staging = wap.schema_of("staging", wap.published(warehouse))
    tp_ext = contract.extract("msdhs", "target_persons")
    want_persons = {r["national_id"]: (parse_be_date(r["updated_on"]), r["died_on"] or None)
                    for r in current_state(sources, "msdhs", "target_persons", t)}
    got_persons = {nid: (upd, died.strftime("%d/%m/") + str(died.year + 543) if died else None)
                   for nid, upd, died in query(warehouse, "select national_id, updated_on, died_on "
                                                          f"from {staging}.stg_msdhs__target_persons")}
    assert got_persons == want_persons
    # the check saw a deletion at the source: a person of the first delivery is gone from the state
    first = {r["national_id"] for r in read_extract_rows(sources, tp_ext, DROPS[0])}
    assert first - set(want_persons)

    want_pay = {r["payment_id"]: float(r["amount"]) for r in current_state(sources, "lao", "allowance_payments", t)}
    got_pay = {pid: float(a) for pid, a in query(warehouse, "select payment_id, amount "
                                                            f"from {staging}.stg_lao__allowance_payments")}
    assert got_pay == want_pay
    # and a correction: a payment whose current amount differs from its first delivery
    pay_ext = contract.extract("lao", "allowance_payments")
    delivered = {r["payment_id"]: float(r["amount"]) for r in read_extract_rows(sources, pay_ext, DROPS[0])
                 if isinstance(r["amount"], int | float | str) and str(r["amount"]).lstrip("-").replace(".", "").isdigit()}
    assert any(want_pay.get(pid) not in (None, amount) for pid, amount in delivered.items())


def read_extract_rows(sources: Path, ext, day: date) -> list[dict]:
    from contract_reader import read_extract

    return read_extract(ext.system, ext.name, sources / ext.system / day.isoformat() / ext.file)


def _fingerprint(target) -> dict:
    out = {}
    tables = [f"raw.{e.qualified_name}" for sysdef in contract.systems().values() for e in sysdef.extracts.values()]
    for table in [*tables, "audit.quarantine", "audit.load_ledger", "audit.file_audit"]:
        out[table] = query(target, f"select count(*) from {table}")[0][0]
    out["kpi"] = query(target, "select kpi_code, fiscal_year, area_code, value from marts.kpi_values "
                               "order by 1, 2, 3")
    # every row of every mart and follow-up mart readers read, and of every snapshot (a content hash per relation)
    tables = query(target, "select table_schema, table_name from information_schema.tables "
                           "where table_schema in ('marts', 'restricted', 'snapshots') order by 1, 2")
    assert len(tables) > 30, tables
    for schema, table in tables:
        out[f"{schema}.{table}"] = query(
            target, f'select count(*), md5(coalesce(string_agg(t::text, \'|\' order by t::text), \'\')) '
                    f'from "{schema}"."{table}" t')[0]
    return out


def test_second_run_changes_nothing(first_run, warehouse, sources, tmp_path):
    """The third night runs again (a drop already loaded, then rebuilt): nothing published changes. (The
    fourth night of the first run already re-sent it; the first nights' files take the same
    already-loaded path, their planted rejections rejected again: tests/integration covers it per file.)"""
    before = _fingerprint(warehouse)
    again = tmp_path / "again"
    night = DROPS[-2]
    for system in contract.systems():
        if (sources / system / night.isoformat()).is_dir():
            shutil.copytree(sources / system / night.isoformat(), again / system / night.isoformat())
    planted_rejects = {r for r in rejected_files(truth(sources)) if r[1] == night.isoformat()}
    assert welfare(["run", "--sources", str(again)]) == (3 if planted_rejects else 0)
    assert _fingerprint(warehouse) == before


# Watermarks: when a row was written, not what it says (a rebuild writes every row at once).
WRITE_MARKS = ["through_load_id"]
# Which builds a generation shows the measurements of: its own build's id, not its content.
OF_THE_BUILD = ("int_published_builds",)


def _content(target, color: str) -> dict:
    """A content hash of every table the models build in generation ``color`` (marts, follow-up marts,
    incremental intermediates), by layer and name, watermark columns left out; S1.1's run history
    (the schema history) is a history of runs."""
    schemas = {wap.schema_of(layer, color): layer for layer in ("marts", "restricted", "intermediate")}
    tables = query(target, "select table_schema, table_name from information_schema.tables "
                           "where table_type = 'BASE TABLE' and table_schema = any(%s) and not table_name = any(%s) "
                           "order by 1, 2", (list(schemas), list(OF_THE_BUILD)))
    names = {(schemas[s], t) for s, t in tables}
    assert ("intermediate", "int_bmn_persons") in names and ("intermediate", "int_allowance_payments_flagged") in names
    return {f"{schemas[schema]}.{table}": query(
        target, f"select count(*), md5(coalesce(string_agg(r::text, '|' order by r::text), '')) "
                f"from (select to_jsonb(t) - %s::text[] as r from \"{schema}\".\"{table}\" as t) as x",
        (WRITE_MARKS,))[0] for schema, table in tables}


def test_four_nights_of_incremental_builds_equal_a_full_rebuild(first_run, warehouse):
    """The incremental models (payments, their flags, the BMN survey's per-person summaries, the
    payees) of the published generation, built on the second night (its first build, a full one)
    and on the fourth (catching up the third and the fourth), hold exactly what rebuilding every
    model from the same current state into the other generation gives."""
    published = wap.published(warehouse)
    nightly = _content(warehouse, published)
    out = tasks.build_and_publish(connections.role_target("transformer", base=warehouse),
                                  ["--full-refresh", "--exclude", "int_person_register_measurements"],
                                  run_id="e2e-full-rebuild")
    assert out["generation"] == wap.other(published)
    rebuilt = _content(warehouse, out["generation"])
    assert rebuilt.keys() == nightly.keys()
    differ = sorted(t for t in nightly if nightly[t] != rebuilt[t])
    assert not differ, differ


def test_kpis_csv_export(first_run, warehouse, tmp_path):
    out = tmp_path / "kpis.csv"
    assert welfare(["kpis", "--csv", str(out)]) == 0
    with open(out, encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["kpi_code", "fiscal_year", "area_code", "value"]
    assert len(rows) - 1 == query(warehouse, "select count(*) from marts.kpi_values")[0][0]


# ----------------------------------------------------------------------------- the person-level warehouse
# An independent reading of the generated files (contract_reader's current state, plain Python): the person
# register's birth dates and deaths, the improper payments of G.3, S1.2 and G.4, compared with the warehouse.
PERSON_EXTRACTS = [("msdhs", "target_persons", "national_id"), ("msdhs", "disability_cards", "national_id"),
                   ("msdhs", "welfare_services", "national_id"), ("msdhs", "volunteers", "national_id"),
                   ("cdd", "bmn_members", "national_id"), ("cdd", "bmn_households", "head_national_id")]


def _date(system: str, name: str, value) -> date | None:
    from contract_reader import parse_date

    return parse_date(contract.extract(system, name), value) if value not in (None, "") else None


def _age(on: date, born: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _fiscal_year(period: str) -> int:
    y, m = map(int, period.split("-"))
    return y + 543 + (1 if m >= 10 else 0)


class Province:
    """The current state of the extracts the person-level indicators read, from the files alone."""

    def __init__(self, sources: Path):
        from welfare.contract.thai import is_valid_national_id

        t = truth(sources)
        self.state = {name: current_state(sources, system, name, t)
                      for system, name in [("msdhs", "target_persons"), ("msdhs", "disability_cards"),
                                           ("msdhs", "welfare_services"), ("msdhs", "volunteers"),
                                           ("cdd", "bmn_members"), ("cdd", "bmn_households"),
                                           ("lao", "authorities"), ("lao", "allowance_payments")]}
        self.valid = is_valid_national_id
        # birth date: target_persons first, then the BMN member row of the latest survey year (lower household)
        self.birth: dict[str, date] = {}
        for m in sorted(self.state["bmn_members"], key=lambda r: (-int(r["survey_year"]), r["household_code"]),
                        reverse=True):
            if self.valid(m["national_id"]) and m["birth_date"]:
                self.birth[m["national_id"]] = _date("cdd", "bmn_members", m["birth_date"])
        self.died: dict[str, date] = {}
        for p in self.state["target_persons"]:
            if self.valid(p["national_id"]):
                if p["birth_date"]:
                    self.birth[p["national_id"]] = _date("msdhs", "target_persons", p["birth_date"])
                if p["died_on"]:
                    self.died[p["national_id"]] = _date("msdhs", "target_persons", p["died_on"])
        # ids held by a current record of a person-bearing extract other than the payments
        self.linked = {r[col] for _, name, col in PERSON_EXTRACTS for r in self.state[name] if self.valid(r[col])}
        self.district = {a["lao_code"]: (a["district_code"] or None) for a in self.state["authorities"]}
        self.payments = [p for p in self.state["allowance_payments"] if self.valid(str(p["national_id"]))]

    def improper(self) -> dict[str, set[str]]:
        """payment_id -> reasons, by G.3."""
        out: dict[str, set[str]] = defaultdict(set)
        groups: dict[tuple, list[dict]] = defaultdict(list)
        for p in self.payments:
            groups[(p["national_id"], p["allowance_type"], p["period"])].append(p)
            start = date(*map(int, p["period"].split("-")), 1)
            died, born = self.died.get(p["national_id"]), self.birth.get(p["national_id"])
            if died and start > died:
                out[p["payment_id"]].add("paid_after_death")
            if p["allowance_type"] == "ELDERLY" and born and _age(start, born) < 60:
                out[p["payment_id"]].add("underage_elderly")
        for rows in groups.values():
            for p in sorted(rows, key=lambda r: (r["paid_on"], r["payment_id"]))[1:]:
                out[p["payment_id"]].add("duplicate_payment")
        return out

    def g3(self, years) -> dict[tuple[int, str], int]:
        by_id = {p["payment_id"]: p for p in self.payments}
        counts: dict[tuple[int, str], int] = defaultdict(int)
        for pid in self.improper():
            p = by_id[pid]
            fy, district = _fiscal_year(p["period"]), self.district.get(p["lao_code"])
            counts[(fy, "60")] += 1
            if district:
                counts[(fy, district)] += 1
        return {(fy, a): counts.get((fy, a), 0) for fy in years for a in AREAS}

    def s1_2(self, sources: Path, years) -> dict[tuple[int, str], int]:
        import re

        duplicates = {pid for pid, why in self.improper().items() if "duplicate_payment" in why}
        current_ids = {p["payment_id"] for p in self.state["allowance_payments"]}
        rows: dict[tuple[str, int], list[tuple[bool, bool, bool]]] = defaultdict(list)  # valid, linked, duplicate
        for p in self.payments:
            rows[(p["lao_code"], _fiscal_year(p["period"]))].append(
                (True, p["national_id"] in self.linked, p["payment_id"] in duplicates))
        from contract_reader import deliveries

        for _, delivered in deliveries(sources, "lao", "allowance_payments", truth(sources)):
            for r in delivered:
                period, lao = r.get("period"), r.get("lao_code")
                if not r["_quarantined"] or not lao or not isinstance(period, str) \
                        or not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period) or r.get("payment_id") in current_ids:
                    continue
                nid = r.get("national_id")
                linked = isinstance(nid, str) and self.valid(nid) and nid in self.linked
                rows[(str(lao), _fiscal_year(period))].append((False, linked, False))
        counts: dict[tuple[int, str], int] = defaultdict(int)
        for (lao, fy), rs in rows.items():
            if any(v for v, _, _ in rs) and sum(lk for _, lk, _ in rs) >= 0.99 * len(rs) and not any(d for *_, d in rs):
                counts[(fy, "60")] += 1
                if self.district.get(lao):
                    counts[(fy, self.district[lao])] += 1
        return {(fy, a): counts.get((fy, a), 0) for fy in years for a in AREAS}

    def g4(self, years) -> dict[tuple[int, str], int]:
        from decimal import Decimal

        poor_group = {p["national_id"] for p in self.state["target_persons"]
                      if "POOR" in p["target_groups"].split("|")}
        members: dict[tuple[int, str], list[str]] = defaultdict(list)
        for m in self.state["bmn_members"]:
            members[(int(m["survey_year"]), m["household_code"])].append(m["national_id"])
        surveys = {int(h["survey_year"]) for h in self.state["bmn_households"]}
        counts: dict[tuple[int, str], int] = defaultdict(int)
        for fy in years:
            start, end = fiscal_year_window(fy)
            served_ids = poor_group | {s["national_id"] for s in self.state["welfare_services"]
                                       if start <= _date("msdhs", "welfare_services", s["delivered_on"]) <= end}
            past = [s for s in surveys if s <= fy]
            if not past:
                continue
            survey = max(past)
            for h in self.state["bmn_households"]:
                n = int(h["members"])
                if int(h["survey_year"]) != survey or n < 1 or Decimal(h["annual_income"]) / n >= 38000:
                    continue
                if not set(members[(survey, h["household_code"])]) & served_ids:
                    counts[(fy, "60")] += 1
                    counts[(fy, h["village_code"][:4])] += 1
        return {(fy, a): counts.get((fy, a), 0) for fy in years for a in AREAS}


@pytest.fixture(scope="module")
def province(sources) -> Province:
    return Province(sources)


def _kpi(warehouse, code: str) -> dict[tuple[int, str], float | None]:
    rows = query(warehouse, "select fiscal_year, area_code, value from marts.kpi_values where kpi_code = %s", (code,))
    return {(fy, a): (None if v is None else float(v)) for fy, a, v in rows}


def test_improper_payments_found_are_the_planted_ones_person_by_person(first_run, warehouse, sources, province):
    """The restricted follow-up mart lists exactly the payments the generator made improper, with their reason."""
    from contract_reader import read_extract

    t = truth(sources)
    planted: dict[str, set[str]] = defaultdict(set)
    national_ids: dict[str, str] = {}
    for p in t["planted"]:
        if not p["rule"].startswith("improper:"):
            continue
        rows = read_extract("lao", "allowance_payments", sources / p["system"] / p["extract_date"] / p["file"])
        row = rows[p["row"] - 1]
        planted[row["payment_id"]].add(p["rule"].split(":", 1)[1])
        national_ids[row["payment_id"]] = row["national_id"]
    assert {r for why in planted.values() for r in why} == {"paid_after_death", "duplicate_payment",
                                                            "underage_elderly"}
    got = {pid: (nid, set(reasons.split(", "))) for pid, nid, reasons in query(
        warehouse, "select payment_id, national_id, improper_reasons from restricted.improper_allowance_payments")}
    assert got == {pid: (national_ids[pid], why) for pid, why in planted.items()}
    # the plain-Python reading of G.3 finds the same ones
    assert province.improper() == planted
    # and the analyst-facing fact carries no national id
    cols = {c for (c,) in query(warehouse, "select column_name from information_schema.columns "
                                           "where table_schema = 'marts' and table_name = 'fct_allowance_payments'")}
    assert "person_key" in cols and not cols & {"national_id", "first_name", "last_name"}


@pytest.mark.parametrize("code", ["G.3", "S1.2", "G.4"])
def test_person_level_indicators_match_an_independent_computation(first_run, warehouse, sources, province, code):
    got = _kpi(warehouse, code)
    years = sorted({fy for fy, _ in got})
    assert years == [2560, 2561, 2562, 2563, 2564]
    want = {"G.3": province.g3, "G.4": province.g4, "S1.2": lambda ys: province.s1_2(sources, ys)}[code](years)
    assert got == {k: float(v) for k, v in want.items()}
    assert sum(v > 0 for v in want.values()) > 10  # real figures, not zeros
    # a province row is computed over all records, not summed from districts
    for fy in years:
        assert got[(fy, "60")] >= max(got[(fy, a)] for a in AREAS[1:])


ALL_KPIS = ("S1.1", "S1.2", "S2.1", "S2.2", "S2.3", "S2.4", "S2.5", "S2.6", "S3.1", "S3.2", "S3.3", "S3.4",
            "S4.1", "S4.2", "S4.3", "G.1", "G.2", "G.3", "G.4")
PERCENTAGES = {"S1.1", "S3.3", "G.1", "G.2"}  # NULL where the denominator is 0 (or, S1.1, no run measured)
PROVINCE_ONLY = {"S2.6", "S3.3"}


def test_every_indicator_is_present_for_every_area_and_year(first_run, warehouse):
    codes = {r[0] for r in query(warehouse, "select kpi_code from marts.kpi_definitions")}
    assert codes == set(ALL_KPIS)
    for code in ALL_KPIS:
        got = _kpi(warehouse, code)
        areas = ["60"] if code in PROVINCE_ONLY else AREAS
        assert set(got) == {(fy, a) for fy in range(2560, 2565) for a in areas}, code
        if code not in PERCENTAGES:  # a count with no records is 0, never missing
            assert all(v is not None for v in got.values()), code
    s1_1 = _kpi(warehouse, "S1.1")
    assert s1_1[(2564, "60")] is not None and all(s1_1[(fy, "60")] is None for fy in range(2560, 2564))


def test_a_breached_threshold_fails_the_load_after_loading_what_passed(first_run, warehouse, tmp_path):
    """A new drop with many bad national ids, loaded by the DAG tasks' own function with the default 5%
    threshold: a breach fails the task (a DataProblem: not retried) after loading what passed. (That a
    failed load fails the DAG run and `welfare run` is shown by the planted rejections above.)"""
    out = tmp_path / "bad"
    # The same province (seed), so that its snapshots keep their keys (no snapshot_shrink).
    day = date(2021, 10, 1)
    generate(GenerateOptions(out=out, scale=SCALE, seed=E2E_PROVINCE["seed"], drops=[day], defects="national_id=0.2"))
    failed = set()
    for system, sys_def in contract.systems().items():
        for name in sys_def.extracts:
            try:
                tasks.load_extract(warehouse, out, system, name, day, run_id="threshold-test")
            except tasks.DataProblem as exc:
                assert "above the threshold" in str(exc)
                failed.add(name)
    assert {"target_persons", "allowance_payments"} <= failed and "villages" not in failed
    rows = query(warehouse, "select file_name, threshold_breached, rows_loaded, rows_quarantined from audit.file_audit "
                            "where extract_date = '2021-10-01'")
    by_file = {f: (b, loaded, q) for f, b, loaded, q in rows}
    assert by_file["target_persons.csv"][0] and by_file["allowance_payments.jsonl"][0]
    assert by_file["target_persons.csv"][1] > 0  # what passed was loaded
    assert not by_file["villages.csv"][0] and by_file["villages.csv"][2] == 0  # no national id: untouched


def test_data_docs_written(first_run, welfare_home):
    assert (welfare_home / "data_docs" / "site" / "index.html").exists()
    assert os.path.getsize(welfare_home / "data_docs" / "site" / "index.html") > 0
