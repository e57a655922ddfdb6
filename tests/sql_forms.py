"""Test-only helpers: the SQL forms the product no longer runs, kept to check its Polars forms.

``rule_results_sql`` evaluates every rule's SQL condition over a landing table of text values
(what the Polars evaluation must equal); ``typed_expr`` is the SQL that types a validated text
value (what the Polars typing for COPY must equal); ``validate_landing`` runs both steps, SQL rule
results then the Great Expectations suite, on a landing table.
"""

from __future__ import annotations

from pathlib import Path

from welfare.contract import Column, Extract
from welfare.validation.rules import Rule, rules_for
from welfare.validation.suites import INDEX_COLUMN, ValidationReport, validate_rule_results
from welfare.warehouse.sql import q, sql_literal


def condition_on(rule: Rule, table: str) -> str:
    """The rule's condition for rows of ``table`` (a condition may name its own table as ``{batch}``,
    which Great Expectations fills in)."""
    return rule.condition.replace("{batch}", table)


def results_table(table: str) -> str:
    """The rule-results table of a landing table (same schema)."""
    return f"{table}__rules"


def rule_results_sql(ext: Extract, landing: str, results: str, rules: list[Rule] | None = None) -> str:
    """One pass over ``landing``: the rows that break any rule, a boolean column per rule.

    ``offset 0`` keeps the per-row flags a subquery evaluated once per row (otherwise the
    planner copies every condition into the outer filter and evaluates it twice), and the
    keys that repeat are found once, by one aggregate, and joined (not a per-row subplan).
    """
    rules = rules if rules is not None else rules_for(ext)
    keys = [q(k) for k in ext.key]
    dup = next((r for r in rules if r.code == "duplicate_key"), None)

    def flag(r: Rule) -> str:
        if r is dup:  # the same rows as its condition: a key that appears more than once
            return "_repeated_key"
        return f"coalesce(({condition_on(r, 'l')}), false)"

    flags = ",\n    ".join(f"{flag(r)} as {q(r.name)}" for r in rules)
    any_flag = " or ".join(q(r.name) for r in rules)
    names = ", ".join(q(r.name) for r in rules)
    source = landing
    if dup is not None:
        key_list = ", ".join(keys)
        on = " and ".join(f"d.{k} = t.{k}" for k in keys)
        source = (f"(select t.*, (d.{keys[0]} is not null) as _repeated_key from {landing} as t\n"
                  f"    left join (select {key_list} from {landing} group by {key_list} having count(*) > 1) as d\n"
                  f"      on {on})")
    return (f"create unlogged table {results} with (autovacuum_enabled = false) as\n"
            f"select {INDEX_COLUMN}, {names} from (\n  select l.{INDEX_COLUMN},\n    {flags}\n"
            f"  from {source} as l\n  offset 0\n) as r\nwhere {any_flag}")


def validate_landing(
    sqlalchemy_url: str,
    schema: str,
    table: str,
    ext: Extract,
    *,
    docs_dir: Path | None = None,
    run_label: str | None = None,
) -> ValidationReport:
    """Validate ``schema.table`` (a landing table, text as delivered) against the extract's suite,
    the rules evaluated by the SQL engine (step 1 in SQL); every failing row, per rule."""
    import sqlalchemy as sa

    rules = rules_for(ext)
    results = results_table(table)
    landing_q, results_q = f"{q(schema)}.{q(table)}", f"{q(schema)}.{q(results)}"
    engine = sa.create_engine(sqlalchemy_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"drop table if exists {results_q}"))
            conn.execute(sa.text(rule_results_sql(ext, landing_q, results_q, rules)))
    finally:
        engine.dispose()
    return validate_rule_results(sqlalchemy_url, schema, results, ext, docs_dir=docs_dir, run_label=run_label)


def typed_expr(ext: Extract, col: Column, source: str = "l") -> str:
    """SQL turning a validated landing text value into the contract's type."""
    v = f"nullif(btrim({source}.{q(col.name)}), '')"
    if col.type in ("str", "enum"):
        return f"nullif({source}.{q(col.name)}, '')"
    if col.type == "int":
        return f"{v}::bigint"
    if col.type == "decimal":
        return f"{v}::numeric"
    if col.type == "bool":
        return f"{v}::boolean"
    if col.type == "date":
        return f"util.{'be' if ext.dates == 'be' else 'iso'}_date({v})"
    if col.type == "list":
        if ext.format == "jsonl":  # '' is an empty JSON array, NULL a missing one
            return f"string_to_array({source}.{q(col.name)}, {sql_literal(col.separator or '|')})"
        return f"string_to_array({v}, {sql_literal(col.separator or '|')})"
    raise ValueError(f"unknown type {col.type}")
