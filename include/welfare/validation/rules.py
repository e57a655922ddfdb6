"""Row-level validation rules of each extract, derived from the contract plus business rules.

A rule is a SQL predicate over a file's rows (every column text, as delivered)
that is TRUE for a row that breaks it; ``expressions`` gives each the Polars
form the ingest evaluates, and a test keeps the two equal. The Great
Expectations suites in ``expectations/`` are built from these rules, so the
contract, the suites and the quarantine reasons can never drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from welfare import contract
from welfare.contract import Column, Extract
from welfare.contract.thai import MIN_BE_YEAR
from welfare.warehouse.sql import q

# Fixed-width codes the contract describes in its notes.
CODE_PATTERNS = {
    "village_code": (r"^60[0-9]{6}$", "an 8-digit village code 60DDTTVV"),
    "household_code": (r"^[0-9]{11}$", "an 11-digit household code"),
    "lao_code": (r"^[0-9]{7}$", "a 7-digit local-authority code"),
}


@dataclass(frozen=True)
class Rule:
    """One checkable rule.

    ``kind`` tells how Great Expectations expresses it: ``not_null`` (column
    must have a value), ``in_set`` (params["value_set"]), ``match_regex``
    (params["regex"]) or ``sql`` (only ``condition``). ``condition`` is always
    the exact SQL predicate that is true for a failing row; ``message`` is a
    ``format()`` template whose ``%s`` receives the offending value.
    """

    code: str
    column: str | None
    kind: str
    condition: str
    message: str
    params: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def name(self) -> str:
        return f"{self.code}:{self.column}" if self.column else self.code


def blank(col: str) -> str:
    return f"coalesce(btrim({q(col)}), '') = ''"


def present(col: str) -> str:
    return f"coalesce(btrim({q(col)}), '') <> ''"


def sql_list(values) -> str:
    return ", ".join("'" + str(v).replace("'", "''") + "'" for v in values)


def bool_values(ext: Extract) -> tuple[str, ...]:
    return ("true", "false") if ext.format == "jsonl" else ("Y", "N")


def _column_rules(ext: Extract, col: Column) -> list[Rule]:
    c = col.name
    rules: list[Rule] = []
    # authorities.district_code is empty exactly for the PAO: the conditional rule checks it.
    if col.required and not (ext.name == "authorities" and c == "district_code"):
        # A JSON list may be empty ([] is a value); only a missing or null list is "empty".
        missing = f"{q(c)} is null" if (col.type == "list" and ext.format == "jsonl") else blank(c)
        rules.append(Rule("required", c, "not_null", missing, f"{c} is required but empty"))

    def when_present(pred: str) -> str:
        return f"{present(c)} and {pred}"

    t = col.type
    if t == "int":
        regex = r"^-?[0-9]{1,18}$"
        rules.append(
            Rule("type_int", c, "match_regex", when_present(f"{q(c)} !~ '{regex}'"),
                 f"{c} %s is not a whole number", {"regex": regex})
        )
        if col.values:  # a coded number (disability_type 1..7): compared as a number, so 07 is 7
            rules.append(
                Rule("enum", c, "sql",
                     when_present(f"{q(c)} ~ '{regex}' and {q(c)}::numeric not in "
                                  f"({', '.join(str(int(v)) for v in col.values)})"),
                     f"{c} %s is not one of " + ", ".join(map(str, col.values)))
            )
    elif t == "decimal":
        regex = r"^-?[0-9]+(\.[0-9]+)?$"
        rules.append(
            Rule("type_decimal", c, "match_regex", when_present(f"{q(c)} !~ '{regex}'"),
                 f"{c} %s is not a plain decimal number", {"regex": regex})
        )
        rules.append(
            Rule("negative_amount", c, "sql",
                 when_present(f"{q(c)} ~ '{regex}' and {q(c)}::numeric < 0"),
                 f"{c} %s is a negative amount of baht")
        )
    elif t == "bool":
        values = bool_values(ext)
        rules.append(
            Rule("type_bool", c, "in_set", when_present(f"{q(c)} not in ({sql_list(values)})"),
                 f"{c} %s is not one of {'/'.join(values)}", {"value_set": list(values)})
        )
    elif t == "date":
        rules.extend(_date_rules(ext, c))
    elif t == "enum" and col.values:
        rules.append(
            Rule("enum", c, "in_set", when_present(f"{q(c)} not in ({sql_list(col.values)})"),
                 f"{c} %s is not one of " + ", ".join(map(str, col.values)),
                 {"value_set": [str(v) for v in col.values]})
        )
    elif t == "list":
        sep = col.separator or "|"
        allowed = col.values or (contract.subdistrict_codes() if c == "subdistrict_codes" else ())
        if allowed:
            code = "list_enum" if col.values else "area_code"
            rules.append(
                Rule(code, c, "sql",
                     when_present(
                         f"exists (select 1 from unnest(string_to_array({q(c)}, '{sep}')) as e(v) "
                         f"where e.v not in ({sql_list(allowed)}))"),
                     f"{c} %s holds a value outside the contract's list")
            )

    if col.is_national_id:
        rules.append(
            Rule("national_id", c, "sql", when_present(f"not util.national_id_ok({q(c)})"),
                 f"{c} %s is not a valid 13-digit national id (checksum fails)")
        )
    if c == "subdistrict_code":
        rules.append(
            Rule("area_code", c, "in_set",
                 when_present(f"{q(c)} not in ({sql_list(contract.subdistrict_codes())})"),
                 f"{c} %s is not a subdistrict of Nakhon Sawan (areas.csv)",
                 {"value_set": list(contract.subdistrict_codes())})
        )
    if c == "district_code":
        rules.append(
            Rule("area_code", c, "in_set",
                 when_present(f"{q(c)} not in ({sql_list(contract.district_codes())})"),
                 f"{c} %s is not a district of Nakhon Sawan (areas.csv)",
                 {"value_set": list(contract.district_codes())})
        )
    if c in CODE_PATTERNS:
        regex, what = CODE_PATTERNS[c]
        rules.append(
            Rule("code_format", c, "match_regex", when_present(f"{q(c)} !~ '{regex}'"),
                 f"{c} %s is not {what}", {"regex": regex})
        )
        if c == "village_code":
            rules.append(
                Rule("area_code", c, "sql",
                     when_present(f"{q(c)} ~ '{regex}' and left({q(c)}, 6) not in "
                                  f"({sql_list(contract.subdistrict_codes())})"),
                     f"{c} %s is in no subdistrict of Nakhon Sawan (areas.csv)")
            )
    return rules


def _date_rules(ext: Extract, c: str) -> list[Rule]:
    if ext.dates == "be":
        regex = r"^[0-9]{2}/[0-9]{2}/[0-9]{4}$"
        fmt = Rule("date_format", c, "match_regex", f"{present(c)} and {q(c)} !~ '{regex}'",
                   f"{c} %s is not a dd/mm/yyyy Buddhist-Era date", {"regex": regex})
        be_year = Rule(
            "date_be_year", c, "sql",
            f"{present(c)} and {q(c)} ~ '{regex}' and right({q(c)}, 4)::int < {MIN_BE_YEAR}",
            f"{c} %s has a Common-Era year in a Buddhist-Era field",
        )
        invalid = Rule(
            "date_invalid", c, "sql",
            f"{present(c)} and {q(c)} ~ '{regex}' and right({q(c)}, 4)::int >= {MIN_BE_YEAR} "
            f"and util.be_date({q(c)}) is null",
            f"{c} %s is not a date that exists",
        )
        return [fmt, be_year, invalid]
    regex = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
    fmt = Rule("date_format", c, "match_regex", f"{present(c)} and {q(c)} !~ '{regex}'",
               f"{c} %s is not a yyyy-mm-dd date", {"regex": regex})
    invalid = Rule("date_invalid", c, "sql",
                   f"{present(c)} and {q(c)} ~ '{regex}' and util.iso_date({q(c)}) is null",
                   f"{c} %s is not a date that exists")
    return [fmt, invalid]


def _conditional_rules(ext: Extract) -> list[Rule]:
    """Conditional requirements the contract states in its notes."""
    name = ext.name
    rules: list[Rule] = []
    if name == "organizations":
        rules.append(Rule("conditional_required", "certified_on", "sql",
                          f"{present('certification')} and {blank('certified_on')}",
                          "certified_on is required when certification is set%s"))
        rules.append(Rule("conditional_required", "quality_passed", "sql",
                          f"{present('quality_assessed_fy')} and {blank('quality_passed')}",
                          "quality_passed is required when quality_assessed_fy is set%s"))
    elif name == "fund_proposals":
        rules.append(Rule("conditional_required", "approved_amount", "sql",
                          f"\"status\" = 'APPROVED' and {blank('approved_amount')}",
                          "approved_amount is required when status is APPROVED%s"))
    elif name == "media_works":
        rules.append(Rule("conditional_required", "decided_on", "sql",
                          f"coalesce(\"decision\", '') <> 'PENDING' and {present('decision')} "
                          f"and {blank('decided_on')}",
                          "decided_on is required unless decision is PENDING%s"))
    elif name == "villages":
        rules.append(Rule("village_subdistrict", "subdistrict_code", "sql",
                          f"{present('village_code')} and {present('subdistrict_code')} "
                          "and left(\"village_code\", 6) <> \"subdistrict_code\"",
                          "subdistrict_code %s is not the first six digits of village_code"))
    elif name == "authorities":
        rules.append(Rule("pao_district", "district_code", "sql",
                          "(\"lao_type\" = 'PAO') <> (coalesce(\"district_code\", '') = '')",
                          "district_code %s must be empty exactly when lao_type is PAO"))
    elif name == "bmn_indicators":
        rules.append(Rule("range", "indicator_no", "sql",
                          "\"indicator_no\" ~ '^-?[0-9]+$' and \"indicator_no\"::numeric not between 1 and 31",
                          "indicator_no %s is outside 1..31"))
    elif name == "allowance_payments":
        regex = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
        rules.append(Rule("period_format", "period", "match_regex",
                          f"{present('period')} and \"period\" !~ '{regex}'",
                          "period %s is not a yyyy-mm month", {"regex": regex}))
    return rules


def rules_for(ext: Extract) -> list[Rule]:
    """Every rule of an extract, in the order a person should read them."""
    out: list[Rule] = []
    for col in ext.columns:
        out.extend(_column_rules(ext, col))
    out.extend(_conditional_rules(ext))
    out.append(duplicate_key_rule(ext))
    return out


def duplicate_key_rule(ext: Extract) -> Rule:
    """Every row whose key appears more than once in the same file: the file cannot say which one is
    right, so none is loaded (a snapshot keeps the key's previous version). ``{batch}`` is the table
    being validated (Great Expectations' own placeholder)."""
    keys = ", ".join(q(k) for k in ext.key)
    return Rule("duplicate_key", None, "sql",
                f"({keys}) in (select {keys} from {{batch}} group by {keys} having count(*) > 1)",
                f"the key ({', '.join(ext.key)}) appears on more than one row of this file; none of them is "
                "loaded%s")
