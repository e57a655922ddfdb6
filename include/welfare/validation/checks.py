"""Check a file read into columns: every rule evaluated on the columns (``expressions``), the
rows that break any rule written, a flag per rule, to a rule-results table in the warehouse's
``landing`` schema, and the extract's Great Expectations suite run on that table (``suites``),
whose counts must equal the evaluation's."""

from __future__ import annotations

import io
import uuid

from welfare.contract import Extract
from welfare.settings import PgTarget, data_docs_dir
from welfare.validation.rules import Rule, rules_for
from welfare.warehouse.sql import connect, q


def json_rule() -> Rule:
    return Rule("not_json", None, "sql", "_not_json", "the line is not a JSON object%s")


def validate(target: PgTarget, ext: Extract, df, run_label: str):
    """Every rule evaluated on the frame, then the Great Expectations suite run on the rule results
    (written to a table beside the warehouse's landing schema). Returns the flags frame (rows that
    break a rule, a boolean per rule, ``not_json`` first for JSON lines), the rules in order and the
    seconds the Data Docs took to render."""
    import polars as pl

    from welfare.validation import expressions, suites

    rules = rules_for(ext)
    flags = expressions.evaluate(ext, df, rules)
    results = f"{ext.qualified_name}__{uuid.uuid4().hex[:12]}__rules"
    with connect(target.dsn) as conn, conn.cursor() as cur:
        cols = ", ".join(f"{q(r.name)} boolean" for r in rules)
        cur.execute(f"create unlogged table landing.{q(results)} ({expressions.ROW_NO} bigint, {cols})")
        buf = io.BytesIO()
        flags.write_csv(buf, include_header=False)
        buf.seek(0)
        cur.copy_expert(f"copy landing.{q(results)} from stdin with (format csv)", buf)
        conn.commit()
    report = suites.validate_rule_results(target.sqlalchemy_url, "landing", results, ext,
                                              docs_dir=data_docs_dir(), run_label=run_label, with_failures=False)
    if report.rule_counts != {r.name: int(flags[r.name].sum()) for r in rules}:
        raise RuntimeError(f"{ext.qualified_name}: Great Expectations and the rule evaluation disagree: "
                           f"{report.rule_counts}")
    if ext.format == "jsonl":
        rules = [json_rule(), *rules]
        bad_json = df.filter(pl.col(expressions.NOT_JSON)).select(expressions.ROW_NO)
        if bad_json.height:
            extra = bad_json.with_columns(pl.lit(True).alias("not_json"),
                                          *[pl.lit(False).alias(r.name) for r in rules[1:]])
            flags = pl.concat([flags.with_columns(pl.lit(False).alias("not_json")), extra], how="diagonal")
            flags = flags.group_by(expressions.ROW_NO).agg(pl.all().any()).sort(expressions.ROW_NO)
        else:
            flags = flags.with_columns(pl.lit(False).alias("not_json"))
        flags = flags.select(expressions.ROW_NO, *[r.name for r in rules])
    return flags, rules, report.docs_s
