"""The ingest evaluates every rule as a Polars expression (welfare.validation.expressions); the suites, the docs and
the quarantine messages state it as SQL (welfare.validation.rules). Both must flag exactly the same rows: here
every rule of every extract is evaluated both ways, in PostgreSQL and in Polars, on the same
awkward values, and the flags are compared value by value."""

from __future__ import annotations

import random

import polars as pl
import pytest
import sql_forms
from welfare import contract
from welfare.ingest import publish
from welfare.validation import expressions
from welfare.validation.rules import rules_for
from welfare.warehouse.sql import connect, q

# Values a column of each type may be delivered with: valid ones, near misses, blanks, junk.
COMMON = [None, "", " ", "  x ", "null", "-", "'", '"', "ก", "1,5"]
BY_TYPE = {
    "int": ["0", "7", "-3", " 7", "7 ", "12345678901234567890", "123456789012345678", "-123456789012345678",
            "1234567890123456789", "1.0", "+1", "๑", "31", "32", "1"],
    "decimal": ["0", "0.00", "-0", "-0.00", "-1.5", "1500.25", "1.", ".5", "1e3", " 2", "-0.01"],
    "bool": ["Y", "N", "y", "true", "false", "TRUE", "1", "yes"],
    "date_be": ["01/01/2564", "29/02/2563", "29/02/2564", "31/04/2564", "00/01/2564", "15/13/2564",
                "15/06/2021", "15/06/2399", "15/06/2400", "1/1/2564", "2564-01-01", "31/12/9999"],
    "date_iso": ["2021-01-01", "2020-02-29", "2021-02-29", "2021-04-31", "2021-13-01", "0000-01-01",
                 "21-01-01", "2021/01/01", "2021-1-1", " 2021-01-01", "9999-12-31"],
}
IDS = ["1101700207030", "1101700207031", "110170020703", "11017002070300", "3600158977890", "abcdefghijklm",
       "0000000000000"]


def values_for(ext, col, rng: random.Random) -> list:
    pool = list(COMMON)
    if col.type == "date":
        pool += BY_TYPE["date_be" if ext.dates == "be" else "date_iso"]
    elif col.type in BY_TYPE:
        pool += BY_TYPE[col.type]
    if col.values:
        pool += [str(v) for v in col.values] * 3 + [str(col.values[0]).lower()]
    if col.values and col.type == "int":  # coded numbers: out of the list, zero-padded, signed
        pool += ["9", "0", "07", "-1", "+2", " 3"]
    if col.type == "list":
        allowed = [str(v) for v in (col.values or contract.subdistrict_codes()[:3])]
        sep = col.separator or "|"
        pool += [sep.join(allowed[:2]), allowed[0] + sep, sep, allowed[0] + sep + "XX", allowed[0]]
    if col.name in ("national_id", "head_national_id"):
        pool += IDS * 2
    if col.name in ("subdistrict_code", "village_code", "district_code", "household_code", "lao_code"):
        sub = contract.subdistrict_codes()[0]
        pool += [sub, sub + "01", sub + "0", "609999", "60999901", contract.district_codes()[0], "6099",
                 "12345678901", "2600101", "260010"] * 2
    if col.name == "status":
        pool += ["APPROVED"] * 4
    if col.name == "lao_type":
        pool += ["PAO"] * 4
    if col.name == "decision":
        pool += ["PENDING"] * 3
    return pool


def corpus(ext, rows: int = 600) -> pl.DataFrame:
    rng = random.Random(ext.qualified_name)
    data = {}
    for col in ext.columns:
        pool = values_for(ext, col, rng)
        data[col.name] = [rng.choice(pool) for _ in range(rows)]
    # keys that repeat, keys with a NULL part
    for k in ext.key:
        data[k][:40] = data[k][:20] * 2
    return pl.DataFrame({expressions.ROW_NO: list(range(1, rows + 1)), **{c: pl.Series(c, v, pl.String)
                                                                  for c, v in data.items()}})


EXTRACTS = [e for s in contract.systems().values() for e in s.extracts.values()]


@pytest.mark.parametrize("ext", EXTRACTS, ids=lambda e: e.qualified_name)
def test_each_rule_flags_the_same_rows_in_polars_as_in_sql(ext, warehouse):
    df = corpus(ext)
    rules = rules_for(ext)
    schema, table = "landing", f"frame_eq_{ext.system}_{ext.name}"
    cols = ", ".join(f"{q(c)} text" for c in ext.column_names)
    with connect(warehouse.dsn) as conn, conn.cursor() as cur:
        cur.execute(f"drop table if exists {schema}.{table}; drop table if exists {schema}.{table}__rules")
        cur.execute(f"create table {schema}.{table} (_row_no bigint, {cols})")
        cur.executemany(f"insert into {schema}.{table} values ({', '.join(['%s'] * (len(ext.columns) + 1))})",
                        df.rows())
        cur.execute(sql_forms.rule_results_sql(ext, f"{schema}.{table}", f"{schema}.{table}__rules", rules))
        cur.execute(f"select * from {schema}.{table}__rules order by 1")
        sql_rows = {r[0]: r[1:] for r in cur.fetchall()}
        conn.rollback()
    flags = expressions.evaluate(ext, df, rules)
    pl_rows = {r[0]: r[1:] for r in flags.rows()}
    disagreements = []
    for row_no in sorted(set(sql_rows) | set(pl_rows)):
        want = sql_rows.get(row_no, (False,) * len(rules))
        got = pl_rows.get(row_no, (False,) * len(rules))
        for rule, w, g in zip(rules, want, got, strict=True):
            if bool(w) != bool(g):
                value = df.row(row_no - 1, named=True).get(rule.column) if rule.column else None
                disagreements.append(f"row {row_no} rule {rule.name} value {value!r}: sql {w}, polars {g}")
    assert not disagreements, "\n".join(disagreements[:30])
    # the corpus is awkward enough to break every rule at least once in some row
    broken = {r.name for r in rules if flags.height and flags[r.name].any()}
    assert broken, f"{ext.qualified_name}: the corpus broke no rule"


@pytest.mark.parametrize("ext", EXTRACTS, ids=lambda e: e.qualified_name)
def test_typed_values_are_what_the_sql_typing_makes_of_them(ext, warehouse):
    """The valid rows' typed values (what COPY loads) equal ``sql_forms.typed_expr`` applied in SQL."""
    df = corpus(ext)
    rules = rules_for(ext)
    bad = expressions.evaluate(ext, df, rules).select(expressions.ROW_NO)
    valid = df.join(bad, on=expressions.ROW_NO, how="anti")
    typed = valid.select(expressions.ROW_NO, *publish.typed_columns(ext))
    cols = ", ".join(f"{q(c)} text" for c in ext.column_names)
    with connect(warehouse.dsn) as conn, conn.cursor() as cur:
        cur.execute(f"create temp table l (_row_no bigint, {cols})")
        cur.executemany(f"insert into l values ({', '.join(['%s'] * (len(ext.columns) + 1))})", valid.rows())
        exprs = ", ".join(f"({sql_forms.typed_expr(ext, c)})::text" for c in ext.columns)
        cur.execute(f"select _row_no, {exprs} from l order by 1")
        want = cur.fetchall()
        # and what PostgreSQL makes of the typed text Polars writes for COPY
        casts = ", ".join(f"{q(c.name)}::{_pg_type(ext, c)}::text" for c in ext.columns)
        cur.execute(f"create temp table t (_row_no bigint, {cols})")
        cur.executemany(f"insert into t values ({', '.join(['%s'] * (len(ext.columns) + 1))})", typed.rows())
        cur.execute(f"select _row_no, {casts} from t order by 1")
        got = cur.fetchall()
        conn.rollback()
    assert got == want


def _pg_type(ext, col) -> str:
    return {"str": "text", "enum": "text", "int": "bigint", "decimal": "numeric", "bool": "boolean",
            "date": "date", "list": "text[]"}[col.type]


@pytest.mark.parametrize("ext", EXTRACTS, ids=lambda e: e.qualified_name)
def test_checking_each_distinct_value_once_flags_the_same_rows(ext, monkeypatch):
    """At scale the rules of a column whose values repeat run once per distinct value (and a cp874
    column of few values arrives as a Categorical): the same rows as the row-by-row evaluation."""
    df = corpus(ext)
    rules = rules_for(ext)
    as_categorical = df.with_columns(pl.col(c).cast(pl.Categorical) for c in ext.column_names)
    row_by_row = expressions.evaluate(ext, df, rules)
    assert expressions.evaluate(ext, as_categorical, rules).equals(row_by_row)
    monkeypatch.setattr(expressions, "DISTINCT_MIN_ROWS", 0)
    assert expressions.evaluate(ext, df, rules).equals(row_by_row)
    assert expressions.evaluate(ext, as_categorical, rules).equals(row_by_row)
