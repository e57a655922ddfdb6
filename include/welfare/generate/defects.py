"""Planted defects: each a switch with a rate, each recorded in the ground truth.

Row defects change one cell of one row (or add a twin row) so that exactly one
validation rule breaks; the ground truth names the file, the 1-based data row
and the rule (``code:column``, the name the quarantine records). File defects
make the loader reject a whole file. Semantic defects pass validation and are
found by the warehouse (improper payments, sources that disagree).
"""

from __future__ import annotations

ROW_DEFECTS = {  # switch -> default share of the rows of every file it applies to
    "national_id": 0.004,
    "be_year": 0.002,
    "date_invalid": 0.002,
    "area_code": 0.002,
    "required": 0.002,
    "enum": 0.002,
    "negative_amount": 0.002,
    "duplicate_key": 0.001,
}
FILE_DEFECTS = {  # switch -> default share of the files of the later drops (at least one file when on)
    "truncated": 0.02,
    "wrong_encoding": 0.02,
    "schema_drift": 0.02,
}
SEMANTIC_DEFECTS = {
    "paid_after_death": 0.05,     # share of deceased allowance recipients paid 1-3 months too long
    "duplicate_payment": 0.0003,  # share of payments paid again by a second authority
    "underage_elderly": 0.005,    # share of elderly recipients first paid 1-6 months before turning 60
    "source_conflict": 0.003,     # share of target persons whose sex or birth date differs from the BMN survey
}
DEFAULT_RATES = {**ROW_DEFECTS, **FILE_DEFECTS, **SEMANTIC_DEFECTS}
# what a file defect is rejected for: the loader's rule
FILE_DEFECT_RULES = {"truncated": "manifest_sha256", "wrong_encoding": "encoding", "schema_drift": "schema_drift"}


def parse_defects(spec: str | None) -> dict[str, float]:
    """``none``, ``default``, or ``name=rate,name,...`` (a bare name takes its default rate; others off)."""
    if spec is None or spec == "default":
        return dict(DEFAULT_RATES)
    if spec == "none":
        return {}
    out: dict[str, float] = {}
    for part in spec.split(","):
        name, _, rate = part.partition("=")
        name = name.strip()
        if name not in DEFAULT_RATES:
            raise ValueError(f"unknown defect {name!r}; known: {', '.join(DEFAULT_RATES)}")
        out[name] = float(rate) if rate else DEFAULT_RATES[name]
        if out[name] < 0:
            raise ValueError(f"defect {name}: the rate must be >= 0")
    return out
