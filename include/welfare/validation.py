"""Great Expectations (GX Core 1.x) validation of a landing table, with row-level failures.

Each extract's suite is built from ``welfare.rules``: one expectation per rule, so the
contract, the committed suites under ``expectations/`` and the quarantine reasons cannot
drift apart. ``validate_landing`` runs the suite against a landing table in PostgreSQL
(``_row_no bigint`` plus one ``text`` column per contract column, values as delivered) and
returns every failing ``(row_no, rule name)`` pair.

How a rule becomes an expectation. The rule's ``condition`` (a SQL predicate, TRUE for a
failing row) is the truth; an expectation is only ever a form whose failing rows are
*exactly* ``select _row_no from landing where <condition>``:

* ``match_regex`` -> ``ExpectColumnValuesToMatchRegex``. GX skips NULL but would count ''
  and all-space cells, which the rule treats as empty ("present" means ``btrim(c) <> ''``,
  and ``btrim`` trims spaces only). The expectation's regex is therefore
  ``^ *$|<rule regex>``: a NULL, '' or all-space cell matches, anything else must match
  the rule's regex. On PostgreSQL GX evaluates it with ``~``, like the condition.
* ``in_set`` -> ``UnexpectedRowsExpectation``. ``ExpectColumnValuesToBeInSet`` cannot be
  made exact: it counts all-space cells as unexpected, and no GX 1.x ``row_condition`` can
  express ``btrim(c) <> ''`` (row conditions only compare a column with literals). A
  blank-tolerant regex alternation would be exact but slow: PostgreSQL's regex engine on
  the 130 subdistrict codes costs ~2.5 s per million rows per scan, the condition's
  ``not in (...)`` list ~0.1 s.
* ``not_null`` -> ``UnexpectedRowsExpectation``: ``ExpectColumnValuesToNotBeNull`` sees
  only SQL NULL, while the landing encodes an empty cell as NULL, '' or spaces.
* ``sql`` -> ``UnexpectedRowsExpectation``.

An ``UnexpectedRowsExpectation`` query is ``select _row_no, <column> from {batch} where
<condition>`` (the condition's own braces doubled, since GX fills ``{batch}`` with
``str.format``). ``match_regex`` uses the native form only when the rule's condition is
literally the canonical predicate ``welfare.rules`` writes for it (checked by string
comparison); any other condition is validated as it stands, so a future rule can never be
mistranslated.

Cost, per expectation: GX runs an ``UnexpectedRowsExpectation`` as two queries (the rows,
then ``count(*)`` over the same query); the column-map expectations share one aggregate
query for their counts, then each runs a (LIMITed) index query and values query.

Complete row lists. GX 1.24 caps what it returns: ``UnexpectedRowsExpectation`` fetches at
most 200 rows (``great_expectations.constants.MAX_RESULT_RECORDS``) whatever the result
format, and a column-map expectation's ``unexpected_index_list`` is cut at
``partial_unexpected_count`` (default 20, even under COMPLETE) and its ``unexpected_list``
at 200. (Both GX row queries run on client-side cursors, so PostgreSQL still sends every
failing row and GX keeps the first 200; ``stream_results`` cannot help, GX closes the
connection before it fetches.) We ask for
``partial_unexpected_count=200`` (so stored results and Data Docs stay small) and, for
every rule whose unexpected count exceeds the rows GX returned, fetch the complete list
of row numbers with the rule's own SQL condition on the GX datasource's SQLAlchemy engine
(one extra query for that rule only) and check its size against GX's count.

Importing this module is light (Airflow parses DAG files that import it): Great
Expectations, SQLAlchemy and pandas are imported inside the functions that need them.
"""

from __future__ import annotations

import json
import logging
import os
import re
import warnings
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from welfare import contract
from welfare.rules import Rule, present, q, rules_for

if TYPE_CHECKING:
    import great_expectations as gx

    from welfare.contract import Extract

INDEX_COLUMN = "_row_no"
# Rows GX is asked to return per expectation; rules with more failing rows are completed
# with their own SQL condition (see module docstring). Equal to GX's MAX_RESULT_RECORDS,
# the hard cap of UnexpectedRowsExpectation.
RETURNED_ROWS = 200
# A NULL cell is skipped by GX's column-map expectations; '' and all-space cells are
# "empty" for the rules too (btrim trims spaces only), so they must match as well.
BLANK_REGEX = "^ *$"
DATASOURCE_NAME = "warehouse"
DOCS_SITE_NAME = "local_site"

_GX_LOGGERS = ("great_expectations",)


@dataclass(frozen=True)
class ValidationReport:
    suite_name: str
    success: bool
    evaluated_expectations: int
    failures: list[tuple[int, str]]  # (row_no, rule.name) for every failing row of every rule
    rule_counts: dict[str, int]  # rule.name -> number of failing rows (0 for passing rules)
    docs_index: Path | None  # Data Docs index.html if docs_dir was given


# --------------------------------------------------------------------------- helpers


def _gx():
    """Import Great Expectations lazily, quietly and offline."""
    # GX 1.24 no longer ships a usage-statistics client (its `analytics_enabled` setting
    # is inert and GX Cloud is shut down); the variable is kept for older 1.x releases,
    # where it disabled the PostHog events.
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    # Before the import: importing GX already logs at INFO/DEBUG (registries, sources).
    for name in _GX_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    import great_expectations as gx

    return gx


def suite_name(ext: Extract) -> str:
    return f"{ext.system}.{ext.name}"


def _human(message: str) -> str:
    """The rule's message without its ``%s`` placeholder for the offending value."""
    return re.sub(r" ?%s", "", message).strip()


def _format_safe(sql: str) -> str:
    """GX substitutes ``{batch}`` with ``str.format``: double the condition's own braces."""
    return sql.replace("{", "{{").replace("}", "}}")


def _rows_query(rule: Rule) -> str:
    select = f"{INDEX_COLUMN}, {q(rule.column)}" if rule.column else INDEX_COLUMN
    # a condition may name the validated table itself as {batch} (GX's placeholder): keep that one
    condition = _format_safe(rule.condition).replace("{{batch}}", "{batch}")
    return f"select {select} from {{batch}} where {condition}"


def _check_unique_names(ext: Extract, rules: list[Rule]) -> None:
    counts = Counter(r.name for r in rules)
    dupes = sorted(name for name, n in counts.items() if n > 1)
    if dupes:
        raise ValueError(
            f"{ext.qualified_name}: rule names must be unique within an extract; "
            f"duplicated: {', '.join(dupes)}"
        )


def _native_regex(rule: Rule) -> str | None:
    """Regex of an exact ``ExpectColumnValuesToMatchRegex`` form of ``rule``, if it has one."""
    c, regex = rule.column, rule.params.get("regex")
    if rule.kind != "match_regex" or c is None or not regex:
        return None
    if rule.condition != f"{present(c)} and {q(c)} !~ '{regex}'":
        return None  # not the canonical form: validate the condition itself
    return f"{BLANK_REGEX}|{regex}"


def _expectation(rule: Rule):
    import great_expectations.expectations as gxe

    meta = {"rule": rule.code, "column": rule.column, "rule_name": rule.name}
    notes = _human(rule.message)
    regex = _native_regex(rule)
    if regex is not None:
        return gxe.ExpectColumnValuesToMatchRegex(
            column=rule.column, regex=regex, meta=meta, notes=notes
        )
    # not_null, in_set, sql (and a match_regex rule whose condition is not the canonical
    # form): the rule's condition itself is the expectation.
    return gxe.UnexpectedRowsExpectation(
        unexpected_rows_query=_rows_query(rule), meta=meta, notes=notes
    )


# --------------------------------------------------------------------------- suites


def build_suite(ext: Extract) -> gx.ExpectationSuite:
    """The extract's suite: one expectation per rule, in ``rules_for`` order."""
    gx = _gx()
    rules = rules_for(ext)
    _check_unique_names(ext, rules)
    return gx.ExpectationSuite(
        name=suite_name(ext),
        expectations=[_expectation(r) for r in rules],
        meta={
            "system": ext.system,
            "extract": ext.name,
            "source": "generated from welfare.rules by welfare.validation.write_suites",
        },
        notes=ext.description or None,
    )


def _strip_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_ids(v) for k, v in value.items() if not (k == "id" and v is None)}
    if isinstance(value, list):
        return [_strip_ids(v) for v in value]
    return value


def suite_json(ext: Extract) -> str:
    """Deterministic, pretty JSON of the extract's suite (sorted keys, no ids)."""
    data = build_suite(ext).to_json_dict()
    return json.dumps(_strip_ids(data), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def suite_path(out_dir: Path, ext: Extract) -> Path:
    return Path(out_dir) / ext.system / f"{ext.name}.json"


def write_suites(out_dir: Path) -> list[Path]:
    """Write ``out_dir/<system>/<extract>.json`` for every extract of the contract."""
    written: list[Path] = []
    for system in contract.systems().values():
        for ext in system.extracts.values():
            path = suite_path(out_dir, ext)
            path.parent.mkdir(parents=True, exist_ok=True)
            text = suite_json(ext)
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
            written.append(path)
    return written


# --------------------------------------------------------------------------- validation


def _context(docs_dir: Path | None):
    """An ephemeral GX context; with ``docs_dir``, its stores and Data Docs live there.

    Layout: ``docs_dir/gx/{expectations,validations,validation_definitions,checkpoints}``
    (GX's JSON stores, so the Data Docs index lists every run so far) and
    ``docs_dir/site/index.html`` (the Data Docs site). The datasource, and so the
    connection URL with any password, stays in memory and is never written.
    """
    gx = _gx()
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    progress = ProgressBarsConfig(globally=False, metric_calculations=False)
    if docs_dir is None:
        config = DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(),
            analytics_enabled=False,
            progress_bars=progress,
        )
        return gx.get_context(mode="ephemeral", project_config=config)

    root = Path(docs_dir).resolve()

    def backend(path: Path) -> dict:
        return {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(path)}

    stores = {
        "expectations_store": {
            "class_name": "ExpectationsStore",
            "store_backend": backend(root / "gx" / "expectations"),
        },
        "validation_results_store": {
            "class_name": "ValidationResultsStore",
            "store_backend": backend(root / "gx" / "validations"),
        },
        # Validation definitions and checkpoints name the landing table, which is dropped after
        # each load (and the datasource lives in memory only): keep them in memory, or the next
        # run would fail to deserialise a definition whose asset no longer exists.
        "validation_definition_store": {
            "class_name": "ValidationDefinitionStore",
            "store_backend": {"class_name": "InMemoryStoreBackend"},
        },
        "checkpoint_store": {
            "class_name": "CheckpointStore",
            "store_backend": {"class_name": "InMemoryStoreBackend"},
        },
    }
    sites = {
        DOCS_SITE_NAME: {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": backend(root / "site"),
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
    }
    config = DataContextConfig(
        stores=stores,
        expectations_store_name="expectations_store",
        validation_results_store_name="validation_results_store",
        checkpoint_store_name="checkpoint_store",
        data_docs_sites=sites,
        analytics_enabled=False,
        progress_bars=progress,
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _returned_rows(result: dict, is_query: bool) -> tuple[int, list[int]]:
    """(unexpected count, row numbers GX returned) from one expectation result."""
    if is_query:
        count = int(result.get("observed_value") or 0)
        rows = (result.get("details") or {}).get("unexpected_rows") or []
    else:
        count = int(result.get("unexpected_count") or 0)
        rows = result.get("unexpected_index_list") or []
    return count, [int(r[INDEX_COLUMN]) for r in rows]


def _exception_messages(info: dict | None) -> list[str]:
    """Errors GX caught while evaluating one expectation.

    ``exception_info`` is either one ``{"raised_exception", "exception_message", ...}`` dict
    or, when a metric failed (e.g. the SQL raised), a dict of those keyed by metric id.
    """
    if not info:
        return []
    entries = [info] if "raised_exception" in info else list(info.values())
    return [
        str(e.get("exception_message") or "unknown error")
        for e in entries
        if isinstance(e, dict) and e.get("raised_exception")
    ]


def _all_failing_rows(engine, landing, rule: Rule) -> list[int]:
    """Every row number the rule's own condition selects from the (GX asset's) table."""
    import sqlalchemy as sa

    condition = rule.condition_on(f"{q(landing.schema)}.{q(landing.name)}")
    query = sa.select(sa.column(INDEX_COLUMN)).select_from(landing).where(sa.text(condition))
    with engine.connect() as conn:
        return [int(row_no) for (row_no,) in conn.execute(query)]


def validate_landing(
    sqlalchemy_url: str,
    schema: str,
    table: str,
    ext: Extract,
    *,
    docs_dir: Path | None = None,
    run_label: str | None = None,
) -> ValidationReport:
    """Validate ``schema.table`` against the extract's suite; every failing row, per rule."""
    gx = _gx()
    from great_expectations.core.run_identifier import RunIdentifier

    rules = rules_for(ext)
    by_name = {r.name: (i, r) for i, r in enumerate(rules)}
    suite = build_suite(ext)  # also checks that rule names are unique

    context = _context(docs_dir)
    datasource = context.data_sources.add_postgres(
        name=DATASOURCE_NAME, connection_string=sqlalchemy_url
    )
    try:
        with warnings.catch_warnings():
            # GX 1.14+ deprecates TableAsset.schema_name in favour of a schema in the
            # datasource's connection configuration, which its PostgreSQL datasource lacks.
            warnings.filterwarnings("ignore", ".*schema_name.*", DeprecationWarning)
            asset = datasource.add_table_asset(
                name=f"{schema}.{table}", table_name=table, schema_name=schema
            )
        batch_definition = asset.add_batch_definition_whole_table("whole_table")
        suite = context.suites.add_or_update(suite)
        definition = context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=suite.name, data=batch_definition, suite=suite)
        )
        run_id = RunIdentifier(run_name=run_label, run_time=datetime.now(UTC))
        result = definition.run(
            run_id=run_id,
            result_format={
                "result_format": "COMPLETE",
                "unexpected_index_column_names": [INDEX_COLUMN],
                "partial_unexpected_count": RETURNED_ROWS,
            },
        )
        # Data Docs first, so that a run whose SQL failed can still be inspected there.
        docs_index = _build_docs(context, suite.name, run_id, result) if docs_dir else None

        errors: list[str] = []
        failures: list[tuple[int, int, str]] = []
        rule_counts: dict[str, int] = {r.name: 0 for r in rules}
        for res in result.results:
            config = res.expectation_config
            name = (config.meta or {}).get("rule_name")
            index, rule = by_name[name]
            raised = _exception_messages(res.exception_info)
            if raised:
                errors.append(f"rule {name}: " + " / ".join(raised))
                continue
            is_query = config.type == "unexpected_rows_expectation"
            count, rows = _returned_rows(res.result or {}, is_query)
            if not res.success and count == 0:
                errors.append(f"rule {name}: GX reports a failure but no failing rows")
            if count > len(rows):
                # GX returned only the first RETURNED_ROWS rows: fetch them all with the
                # rule's own condition, on the engine GX used, from the table GX validated.
                rows = _all_failing_rows(datasource.get_engine(), asset.as_selectable(), rule)
                if len(rows) != count:
                    errors.append(
                        f"rule {name}: GX counted {count} failing rows but the rule's "
                        f"condition selects {len(rows)}"
                    )
            rule_counts[name] = len(rows)
            failures.extend((row_no, index, name) for row_no in rows)
        if errors:
            raise RuntimeError(
                f"validating {schema}.{table} against {suite.name} failed: " + "; ".join(errors)
            )
    finally:
        datasource.get_engine().dispose()

    failures.sort()
    return ValidationReport(
        suite_name=suite.name,
        success=bool(result.success),
        evaluated_expectations=int(result.statistics["evaluated_expectations"]),
        failures=[(row_no, name) for row_no, _, name in failures],
        rule_counts=rule_counts,
        docs_index=docs_index,
    )


def _build_docs(context, name: str, run_id, result) -> Path:
    """Render this run's validation page and the suite page, then the index."""
    from urllib.parse import unquote, urlparse

    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    suite_id = ExpectationSuiteIdentifier(name=name)
    first = result.results[0].expectation_config if result.results else None
    batch_id = first.kwargs.get("batch_id") if first else None
    resources = [suite_id]
    if batch_id:
        resources.append(
            ValidationResultIdentifier(
                expectation_suite_identifier=suite_id, run_id=run_id, batch_identifier=batch_id
            )
        )
    # Incremental: earlier runs' pages stay as they are; the index lists every stored run.
    sites = context.build_data_docs(site_names=[DOCS_SITE_NAME], resource_identifiers=resources)
    parsed = urlparse(sites[DOCS_SITE_NAME])
    return Path(unquote(parsed.path)) if parsed.scheme == "file" else Path(parsed.path)
