"""Personal data after a real run: who can read what, as each role; what the readable relations hold;
the keyed pseudonym and its rotation; the access log; private state. On the end-to-end province
(`first_run`, tests/e2e/conftest.py)."""

from __future__ import annotations

import hashlib
import hmac
import os
import pwd
import stat
import subprocess
import time
from pathlib import Path

import psycopg2
import pytest
from content_hashes import E2E_PROVINCE
from psycopg2 import errors
from welfare.cli import main as welfare
from welfare.orchestration import tasks
from welfare.warehouse import access_log, connections, roles, wap
from welfare.warehouse.embedded import EmbeddedWarehouse
from welfare.warehouse.sql import connect

pytestmark = pytest.mark.e2e

# one row per person, payment, service, household or member: the analyst tier, never the BI tool's
PERSON_LEVEL = {"fct_allowance_payments", "fct_bmn_households", "fct_bmn_indicator_results", "fct_bmn_members",
                "fct_welfare_services", "dim_persons"}
FOLLOW_UP_LISTS = {"improper_allowance_payments", "unserved_poor_households", "eligible_persons_not_paid"}
LIST_DISTRICT = {"improper_allowance_payments": "district_code", "unserved_poor_households": "district_code",
                 "eligible_persons_not_paid": "home_district_code"}
CASEWORKER = "cw_e2e_takhli"
OTHER_CASEWORKER = "cw_e2e_nobody"


def query(target, sql, params=None):
    with connect(target.dsn) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def as_role(warehouse, role: str):
    return connections.role_target(role, base=warehouse)


def readable(target) -> set[str]:
    """Every relation outside the catalogs the session's role may select from (whole or some columns)."""
    rows = query(target, """
        select n.nspname || '.' || c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r', 'p', 'v', 'm', 'f') and n.nspname not in ('pg_catalog', 'information_schema')
          and n.nspname not like 'pg_toast%%' and has_schema_privilege(n.oid, 'USAGE')
          and (has_table_privilege(c.oid, 'SELECT') or has_any_column_privilege(c.oid, 'SELECT'))
        """)
    return {r[0] for r in rows}


def marts(warehouse) -> set[str]:
    return {r[0] for r in query(warehouse, "select table_name from information_schema.tables "
                                           "where table_schema = 'marts'")}


def denied(target, relation: str) -> bool:
    try:
        query(target, f"select * from {relation} limit 1")
    except errors.InsufficientPrivilege:
        return True
    return False


@pytest.fixture(scope="module")
def caseworker(first_run, warehouse):
    """A caseworker login serving the district with the most improper payments, and one serving none."""
    district = query(warehouse, "select district_code from restricted.improper_allowance_payments "
                                "where district_code is not null group by 1 order by count(*) desc, 1 limit 1")[0][0]
    assert welfare(["caseworker", "grant", CASEWORKER, district]) == 0
    assert welfare(["caseworker", "grant", OTHER_CASEWORKER, "6099"]) == 0  # a district with no rows
    return district


def _check_what_each_role_reads(warehouse, district: str) -> None:
    """Readers read the views of marts and restricted, and through them (security_invoker) the published
    generation's relations, of which they have the usage; never the generation being built."""
    everything = marts(warehouse)
    live, building = wap.published(warehouse), wap.building_color(warehouse)
    aggregate = {f"marts.{t}" for t in everything - PERSON_LEVEL}
    assert len(aggregate) >= 15 and {"marts.kpi_values", "marts.kpi_definitions", "marts.kpi_attainment"} <= aggregate

    def and_published(relations: set[str]) -> set[str]:
        return relations | {f"{wap.schema_of(r.split('.')[0], live)}.{r.split('.')[1]}" for r in relations}

    bi = as_role(warehouse, "bi_reader")
    assert readable(bi) == and_published(aggregate)
    analyst = as_role(warehouse, "analyst")
    assert readable(analyst) == and_published({f"marts.{t}" for t in everything})
    cw = as_role(warehouse, CASEWORKER)
    assert readable(cw) == and_published({f"restricted.{t}" for t in FOLLOW_UP_LISTS})
    auditor = as_role(warehouse, "auditor")
    assert {"audit.file_audit", "audit.load_ledger", "audit.quarantine", "audit.warehouse_publish"} <= readable(auditor)
    assert {r.split(".")[0] for r in readable(auditor)} == {"audit"}
    loader = as_role(warehouse, "loader")
    assert {r.split(".")[0] for r in readable(loader)} <= {"raw", "audit", "landing"}

    staging, intermediate = (wap.schema_of(layer, live) for layer in ("staging", "intermediate"))
    unpublished = [f"{wap.schema_of('marts', building)}.kpi_values", f"{wap.schema_of('marts', building)}.dim_areas",
                   f"{wap.schema_of('restricted', building)}.improper_allowance_payments"]
    forbidden = {
        bi: ["raw.msdhs__target_persons", f"{staging}.stg_msdhs__target_persons", f"{intermediate}.int_person_register",
             "snapshots.snp_cdd__bmn_members", "restricted.person_register", "restricted.improper_allowance_payments",
             "history.int_person_register_measurements", "audit.quarantine", *[f"marts.{t}" for t in PERSON_LEVEL],
             *unpublished],
        analyst: ["raw.msdhs__target_persons", f"{staging}.stg_msdhs__target_persons", "snapshots.snp_cdd__bmn_members",
                  "restricted.person_register", "restricted.unserved_poor_households", "audit.quarantine",
                  "audit.file_audit", *unpublished],
        cw: ["restricted.person_register", "marts.dim_persons", "marts.kpi_values", "raw.lao__allowance_payments",
             "access.caseworker_districts", "audit.quarantine", *unpublished],
        auditor: ["marts.kpi_values", "restricted.person_register", "raw.msdhs__target_persons"],
        loader: ["marts.kpi_values", "marts.dim_persons", "restricted.person_register",
                 f"{staging}.stg_msdhs__target_persons", "snapshots.snp_cdd__bmn_members"],
    }
    for target, relations in forbidden.items():
        for rel in relations:
            assert denied(target, rel), f"{target.user} may read {rel}"
    # the auditor reads the quarantine's reasons, never the quarantined records
    assert query(auditor, "select count(rule) from audit.quarantine")[0][0] > 0
    assert denied(auditor, "audit.quarantine")  # select * includes record

    # row security: the login's district only, every row of it; a login with no rows of its districts sees none
    for table, col in LIST_DISTRICT.items():
        mine = query(cw, f"select {col}, count(*) from restricted.{table} group by 1")
        exact = query(warehouse, f"select count(*) from restricted.{table} where {col} = %s", (district,))[0][0]
        assert all(d == district for d, _ in mine), (table, mine)
        assert sum(n for _, n in mine) == exact
        assert query(as_role(warehouse, OTHER_CASEWORKER), f"select count(*) from restricted.{table}")[0][0] == 0
        forced = query(warehouse, "select relrowsecurity and relforcerowsecurity from pg_class "
                                  "where oid = %s::regclass", (f"{wap.schema_of('restricted', live)}.{table}",))[0][0]
        invoker = query(warehouse, "select 'security_invoker=true' = any(reloptions) from pg_class "
                                   "where oid = %s::regclass", (f"restricted.{table}",))[0][0]
        assert forced and invoker  # the view reads as the caseworker, so the policies hold for the caseworker
    assert query(warehouse, "select count(*) from restricted.improper_allowance_payments "
                            "where district_code = %s", (district,))[0][0] > 0
    # nobody but the superuser bypasses row security; no component logs in as a superuser
    rows = query(warehouse, "select rolname from pg_roles where (rolbypassrls or rolsuper) and rolname like 'welfare_%%'")
    assert rows == []


def test_each_role_reads_what_it_should_and_nothing_else_also_after_a_full_rebuild(first_run, warehouse, caseworker):
    _check_what_each_role_reads(warehouse, caseworker)
    before = wap.published(warehouse)
    tasks.build_and_publish(as_role(warehouse, "transformer"),
                            ["--full-refresh", "--exclude", "int_person_register_measurements"], run_id="e2e-privacy")
    assert wap.published(warehouse) == wap.other(before)  # the readers' usage moved with the generation
    _check_what_each_role_reads(warehouse, caseworker)


def _national_id_ok(s: str) -> bool:
    total = sum(int(s[i]) * (13 - i) for i in range(12))
    return (11 - total % 11) % 10 == int(s[12])


def test_no_relation_a_reader_can_read_holds_an_id_a_name_or_an_exact_date_of_a_person(first_run, warehouse):
    import re

    names = {v for r in query(warehouse, "select first_name, last_name from restricted.person_register") for v in r if v}
    born = {(k, b) for k, b in query(warehouse, "select person_key, birth_date from restricted.person_register "
                                                "where birth_date is not null")}
    died = {(k, d) for k, d in query(warehouse, "select person_key, died_on from restricted.person_register "
                                               "where died_on is not null")}
    assert len(names) > 20 and len(born) > 1000
    ids = re.compile(r"(?<![0-9A-Za-z])([0-9]{13})(?![0-9A-Za-z])")
    relations = readable(as_role(warehouse, "bi_reader")) | readable(as_role(warehouse, "analyst"))
    for rel in sorted(relations):
        schema, table = rel.split(".")
        cols = query(warehouse, "select column_name, data_type from information_schema.columns "
                                "where table_schema = %s and table_name = %s", (schema, table))
        names_of = {c for c, _ in cols}
        assert "person_state_hash" not in names_of and not names_of & {"national_id", "first_name", "last_name",
                                                                        "birth_date", "died_on", "head_national_id"}
        key = next((c for c in ("person_key", "head_person_key") if c in names_of), None)
        for col, dtype in cols:
            if dtype in ("text", "character varying", "ARRAY") and col not in ("person_key", "head_person_key"):
                values = {v for (v,) in query(warehouse, f'select distinct "{col}"::text from {rel}') if v}
                found = [m for v in values for m in ids.findall(v) if _national_id_ok(m)]
                assert not found, f"{rel}.{col} holds national ids"
                hit = {v for v in values if v in names or v.strip("{}") in names}
                assert not hit, f"{rel}.{col} holds names of persons: {len(hit)}"
            if dtype == "date" and key:
                rows = query(warehouse, f'select {key}, "{col}" from {rel} where "{col}" is not null')
                same_birth = sum(1 for r in rows if r in born)
                same_death = sum(1 for r in rows if r in died)
                # a payment can fall on a payee's birthday by chance; a column that carries the dates cannot hide
                assert same_birth <= max(2, len(rows) // 1000), f"{rel}.{col} holds birth dates"
                assert same_death <= max(2, len(rows) // 1000), f"{rel}.{col} holds death dates"


def _keys(warehouse) -> dict[str, str]:
    return dict(query(warehouse, "select national_id, person_key from restricted.person_register"))


def _mart_keys(warehouse, everywhere: bool = False) -> set[str]:
    """Every person_key in the readers' views and the published generation; ``everywhere``: in both
    generations (the one being built holds an older night's persons)."""
    generations = "blue|green" if everywhere else wap.published(warehouse)
    out: set[str] = set()
    for schema, table, col in query(warehouse, "select table_schema, table_name, column_name from "
                                               "information_schema.columns where (table_schema in ('marts', "
                                               "'restricted') or table_schema ~ %s) and column_name like '%%person_key'",
                                    (f"^(marts|restricted|intermediate|staging)_({generations})$",)):
        out |= {k for (k,) in query(warehouse, f'select distinct "{col}" from "{schema}"."{table}"') if k}
    return out


def test_person_key_is_the_keyed_hmac_the_same_in_every_mart_and_changes_on_rotation(first_run, warehouse):
    key = bytes.fromhex(E2E_PROVINCE["pseudonym_key"])
    before = _keys(warehouse)
    assert len(before) > 1000
    for nid, pk in before.items():
        assert pk != hashlib.md5(nid.encode()).hexdigest()
        assert pk == hmac.new(key, nid.encode(), hashlib.sha256).hexdigest()
    assert _mart_keys(warehouse) <= set(before.values())  # one person, one key, everywhere

    other = "5a" * 32
    os.environ["WELFARE_PSEUDONYM_KEY"] = other
    try:
        assert welfare(["rotate-key", "--rebuild-only"]) == 0
        # (the rebuild reads the current state, which other tests may have loaded more into: the same ids
        # or more)
        after = _keys(warehouse)
        assert len(after.keys() & before.keys()) >= 0.9 * len(before)
        assert all(after[n] == hmac.new(bytes.fromhex(other), n.encode(), hashlib.sha256).hexdigest() for n in after)
        assert all(after[n] != before[n] for n in after.keys() & before.keys())
        # nothing derived from the old key remains, in either generation
        assert not _mart_keys(warehouse, everywhere=True) & set(before.values())
        assert _mart_keys(warehouse) <= set(after.values())
    finally:
        os.environ["WELFARE_PSEUDONYM_KEY"] = E2E_PROVINCE["pseudonym_key"]
        assert welfare(["rotate-key", "--rebuild-only"]) == 0
    restored = _keys(warehouse)
    # the same key gives the same pseudonyms: stable across runs
    assert all(restored[n] == before[n] for n in restored.keys() & before.keys())
    assert all(restored[n] == hmac.new(key, n.encode(), hashlib.sha256).hexdigest() for n in restored)


def test_reads_by_a_caseworker_are_in_the_access_log(first_run, warehouse, caseworker):
    cw = as_role(warehouse, CASEWORKER)
    query(cw, "select count(*) from restricted.unserved_poor_households")
    query(as_role(warehouse, "analyst"), "select count(*) from marts.dim_persons")
    deadline = time.monotonic() + 20
    seen: list[dict] = []
    while time.monotonic() < deadline:
        access_log.collect()
        seen = access_log.entries(user=CASEWORKER)
        if any(e["relation"] == "restricted.unserved_poor_households" for e in seen):
            break
        time.sleep(0.5)
    assert any(e["relation"] == "restricted.unserved_poor_households" and e["command"] == "SELECT" for e in seen), seen
    assert any(e["relation"] == "marts.dim_persons" for e in access_log.entries(user=roles.ROLES["analyst"]))
    assert not access_log.entries(user="welfare_transformer")  # the components' own reads are not a person's
    log = access_log.log_file()
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    out = subprocess.run([str(Path(os.sys.executable).with_name("welfare")), "access-log", "--user", CASEWORKER],
                         capture_output=True, text=True, env=os.environ)
    assert out.returncode == 0 and "restricted.unserved_poor_households" in out.stdout


def test_no_connection_without_a_password_and_no_trust_line(first_run, warehouse):
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(host=warehouse.host, port=warehouse.port, user="welfare", dbname=warehouse.database)
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(host=warehouse.host, port=warehouse.port, user="welfare_analyst", password="wrong",
                         dbname=warehouse.database)
    wh = EmbeddedWarehouse.default()
    lines = [ln.split() for ln in (wh.data_dir / "pg_hba.conf").read_text().splitlines()
             if ln.strip() and not ln.lstrip().startswith("#")]
    assert lines and all(ln[-1] == "scram-sha-256" for ln in lines)
    assert not any("trust" in ln or "replication" in ln for ln in lines)
    assert stat.S_IMODE(wh.socket_dir.stat().st_mode) == 0o700


def test_every_state_file_is_private_to_its_user(first_run, welfare_home):
    exposed = []
    for path in [welfare_home, *welfare_home.rglob("*")]:
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            continue
        if st.st_mode & 0o077:
            exposed.append(f"{oct(stat.S_IMODE(st.st_mode))} {path.relative_to(welfare_home)}")
    assert not exposed, exposed[:20]
    kinds = {p.relative_to(welfare_home).parts[0] for p in welfare_home.iterdir()}
    assert {"secrets", "airflow", "runs", "quarantine", "data_docs", "dbt"} <= kinds
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("nobody")
        except KeyError:
            return
        secret = welfare_home / "secrets" / "analyst.password"
        out = subprocess.run(["runuser", "-u", "nobody", "--", "cat", str(secret)], capture_output=True, text=True)
        assert out.returncode != 0 and "Permission denied" in out.stderr


def test_the_open_export_of_the_real_run_blanks_small_person_counts(first_run, warehouse, tmp_path):
    import csv

    from welfare.export.open_data import INDICATORS, PERSON_COUNT

    assert welfare(["export-open", "--out", str(tmp_path), "--threshold", "5"]) == 0
    with open(tmp_path / "kpi_values.csv", encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    assert "รหัสตัวชี้วัด" in header and "ถูกปกปิด" in header
    code_i, area_i, fy_i = header.index("รหัสตัวชี้วัด"), header.index("รหัสพื้นที่"), header.index("ปีงบประมาณ")
    value_i, flag_i = header.index("ค่า"), header.index("ถูกปกปิด")
    exact = {(c, int(fy), a): v for c, fy, a, v in query(warehouse, "select kpi_code, fiscal_year, area_code, value "
                                                                   "from marts.kpi_values")}
    counts = [r for r in body if INDICATORS.get(r[code_i]) and INDICATORS[r[code_i]].kind == PERSON_COUNT]
    assert counts
    groups: dict = {}
    for r in counts:
        key = (r[code_i], int(r[fy_i]), r[area_i])
        if r[flag_i] == "Y":
            assert r[value_i] == ""
            groups.setdefault(key[:2], []).append(key)
        else:
            assert r[value_i] == "" and exact[key] is None or float(r[value_i]) == float(exact[key])
            assert not (r[area_i] != "60" and r[value_i] and 1 <= float(r[value_i]) <= 5)
    assert all(len(cells) != 1 for cells in groups.values())  # never a lone blank a total gives away
