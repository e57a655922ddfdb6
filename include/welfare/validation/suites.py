"""Great Expectations (GX Core 1.x): each extract's suite, and its run on a file's rule results.

Each extract's suite is built from ``welfare.validation.rules``: one expectation per rule, so the
contract, the committed suites under ``expectations/`` and the quarantine reasons cannot drift
apart. The rules themselves are evaluated on the file's columns (``expressions``); the rows that
break any rule land in a *rule-results* table in the ``landing`` schema: ``_row_no`` and one
boolean column per rule, named by the rule (``required:national_id``, ...). GX validates the
suite against that table: one ``UnexpectedRowsExpectation`` per rule,
``select _row_no from {batch} where "<rule>"``; its ``meta`` carries the rule's SQL condition, its
``notes`` the message. GX's counts, the Data Docs and the stored results are per rule, and the
caller checks GX's counts against its own evaluation.

Importing this module is light (Airflow parses DAG files that import it): Great
Expectations, SQLAlchemy and pandas are imported inside the functions that need them.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import warnings
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from welfare import contract
from welfare.validation.rules import Rule, q, rules_for

if TYPE_CHECKING:
    import great_expectations as gx

    from welfare.contract import Extract

INDEX_COLUMN = "_row_no"
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
    docs_s: float = 0.0  # seconds spent rendering the Data Docs (reporting, not validating)


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


def _check_unique_names(ext: Extract, rules: list[Rule]) -> None:
    counts = Counter(r.name for r in rules)
    dupes = sorted(name for name, n in counts.items() if n > 1)
    if dupes:
        raise ValueError(
            f"{ext.qualified_name}: rule names must be unique within an extract; "
            f"duplicated: {', '.join(dupes)}"
        )


def _expectation(rule: Rule):
    import great_expectations.expectations as gxe

    meta = {"rule": rule.code, "column": rule.column, "rule_name": rule.name, "condition": rule.condition}
    return gxe.UnexpectedRowsExpectation(
        unexpected_rows_query=f"select {INDEX_COLUMN} from {{batch}} where {q(rule.name)}",
        meta=meta,
        notes=_human(rule.message),
        description=f"No row breaks rule {rule.name}: {_human(rule.message)}",
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
            "source": "generated from welfare.validation.rules by welfare.validation.suites.write_suites",
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
        # Validation definitions and checkpoints name the rule-results table, which is dropped after
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


def validate_rule_results(
    sqlalchemy_url: str,
    schema: str,
    results: str,
    ext: Extract,
    *,
    docs_dir: Path | None = None,
    run_label: str | None = None,
    with_failures: bool = True,
) -> ValidationReport:
    """Step 2: GX runs the extract's suite on a rule-results table (``_row_no`` and a boolean per
    rule, the rows that break at least one), whoever evaluated the rules; the table is dropped.
    ``with_failures=False``: the caller holds the failing rows already; only the counts per rule
    are read back (to check GX's against)."""
    gx = _gx()
    import sqlalchemy as sa
    from great_expectations.core.run_identifier import RunIdentifier

    rules = rules_for(ext)
    order = {r.name: i for i, r in enumerate(rules)}
    suite = build_suite(ext)  # also checks that rule names are unique
    table = results
    results_q = f"{q(schema)}.{q(results)}"

    engine = sa.create_engine(sqlalchemy_url)
    try:
        failures: list[tuple[int, int, str]] = []
        rule_counts: dict[str, int] = {r.name: 0 for r in rules}
        with engine.begin() as conn:
            if with_failures:
                flagged = conn.execute(sa.text(f"select {INDEX_COLUMN}, {', '.join(q(r.name) for r in rules)} "
                                               f"from {results_q}")).fetchall()
            else:
                counts = conn.execute(sa.text("select " + ", ".join(f"count(*) filter (where {q(r.name)})"
                                                                     for r in rules) + f" from {results_q}")).one()
                rule_counts = {r.name: int(n) for r, n in zip(rules, counts, strict=True)}
                flagged = []
        for row in flagged:
            row_no = int(row[0])
            for rule, failed in zip(rules, row[1:], strict=True):
                if failed:
                    failures.append((row_no, order[rule.name], rule.name))
                    rule_counts[rule.name] += 1

        context = _context(docs_dir)  # step 2: GX runs the suite on the rule results
        datasource = context.data_sources.add_postgres(name=DATASOURCE_NAME, connection_string=sqlalchemy_url)
        try:
            with warnings.catch_warnings():
                # GX 1.14+ deprecates TableAsset.schema_name in favour of a schema in the
                # datasource's connection configuration, which its PostgreSQL datasource lacks.
                warnings.filterwarnings("ignore", ".*schema_name.*", DeprecationWarning)
                asset = datasource.add_table_asset(name=f"{schema}.{table}", table_name=results,
                                                   schema_name=schema)
            batch_definition = asset.add_batch_definition_whole_table("whole_table")
            suite = context.suites.add_or_update(suite)
            definition = context.validation_definitions.add_or_update(
                gx.ValidationDefinition(name=suite.name, data=batch_definition, suite=suite)
            )
            run_id = RunIdentifier(run_name=run_label, run_time=datetime.now(UTC))
            result = definition.run(run_id=run_id, result_format={"result_format": "BASIC"})
            # Data Docs first, so that a run whose SQL failed can still be inspected there.
            docs_started = time.monotonic()
            docs_index = _build_docs(context, suite.name, run_id, result) if docs_dir else None
            docs_s = time.monotonic() - docs_started
        finally:
            datasource.get_engine().dispose()

        errors: list[str] = []
        for res in result.results:
            name = (res.expectation_config.meta or {}).get("rule_name")
            raised = _exception_messages(res.exception_info)
            if raised:
                errors.append(f"rule {name}: " + " / ".join(raised))
                continue
            counted = int((res.result or {}).get("observed_value") or 0)
            if counted != rule_counts[name] or bool(res.success) != (counted == 0):
                errors.append(f"rule {name}: GX counted {counted} failing rows, the rule results hold "
                              f"{rule_counts[name]}")
        if errors:
            raise RuntimeError(f"validating {schema}.{table} against {suite.name} failed: " + "; ".join(errors))
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"drop table if exists {results_q}"))
        engine.dispose()

    failures.sort()
    return ValidationReport(
        suite_name=suite.name,
        success=bool(result.success),
        evaluated_expectations=int(result.statistics["evaluated_expectations"]),
        failures=[(row_no, name) for row_no, _, name in failures],
        rule_counts=rule_counts,
        docs_index=docs_index,
        docs_s=round(docs_s, 3),
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
