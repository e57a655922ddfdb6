"""The rule of the JSON-lines format itself: a line that is not a flat JSON object is quarantined
(``not_json``), kept as its raw text. The other rules are ``rules``; they are evaluated chunk by
chunk by the ingest's publisher (``welfare.ingest.publish``) with ``expressions``, and the Great
Expectations suite (``suites``) runs on their results."""

from __future__ import annotations

from welfare.validation.rules import Rule


def json_rule() -> Rule:
    return Rule("not_json", None, "sql", "_not_json", "the line is not a flat JSON object%s")
