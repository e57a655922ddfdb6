"""Every rule as a Polars expression, evaluated on a file's columns.

Each rule of ``welfare.validation.rules`` is evaluated here as a Polars expression that means
exactly what its SQL ``condition`` means (``tests/unit/validation/test_expressions.py`` checks the
two agree, value by value, on a corpus of awkward values, in Polars and in PostgreSQL), so a file
is read once and its rows go to PostgreSQL once. A column whose values repeat is checked once per
distinct value; duplicate keys are found from hashes of the key and then compared exactly.

Imported lazily by the ingest (Airflow parses the DAG files that import ``welfare.ingest``).
"""

from __future__ import annotations

import polars as pl

from welfare import contract
from welfare.contract import Column, Extract
from welfare.contract.thai import MIN_BE_YEAR
from welfare.validation.rules import CODE_PATTERNS, Rule, bool_values

ROW_NO = "_row_no"
NOT_JSON = "_not_json"
RAW_LINE = "_raw_line"  # a JSON line that is not a flat JSON object, as delivered

_INT = r"^-?[0-9]{1,18}$"
_DEC = r"^-?[0-9]+(\.[0-9]+)?$"
_BE = r"^[0-9]{2}/[0-9]{2}/[0-9]{4}$"
_ISO = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_PERIOD = r"^[0-9]{4}-(0[1-9]|1[0-2])$"


def trim(e: pl.Expr) -> pl.Expr:
    return e.str.strip_chars(" ")  # PostgreSQL's btrim(x): spaces only


def present(c: str) -> pl.Expr:
    return trim(pl.col(c)).fill_null("") != ""


def blank(c: str) -> pl.Expr:
    return ~present(c)


def _matches(c: str, regex: str) -> pl.Expr:
    return pl.col(c).str.contains(regex).fill_null(False)


def _in(c: str, values) -> pl.Expr:
    return pl.col(c).is_in([str(v) for v in values]).fill_null(False)


def be_date(e: pl.Expr) -> pl.Expr:
    """``util.be_date``: dd/mm/yyyy Buddhist Era -> date, NULL unless a real day with year >= 2400."""
    ok = e.str.contains(_BE).fill_null(False)
    year = e.str.slice(6, 4).cast(pl.Int32, strict=False)
    iso = pl.concat_str([(year - 543).cast(pl.String).str.zfill(4), e.str.slice(3, 2), e.str.slice(0, 2)],
                        separator="-")
    return pl.when(ok & (year >= MIN_BE_YEAR)).then(iso.str.to_date("%Y-%m-%d", strict=False))


def iso_date(e: pl.Expr) -> pl.Expr:
    ok = e.str.contains(_ISO).fill_null(False)
    return pl.when(ok & (e.str.slice(0, 4) != "0000")).then(e.str.to_date("%Y-%m-%d", strict=False))


def national_id_ok(e: pl.Expr) -> pl.Expr:
    """``util.national_id_ok``: 13 digits, the last = (11 - sum(d_i * (14 - i)) mod 11) mod 10.
    The digits come from the number by integer arithmetic in numpy (13 digits fit in 64 bits)."""
    ok = e.str.contains(r"^[0-9]{13}$").fill_null(False)
    return ok & pl.when(ok).then(e).map_batches(_checksum_ok, return_dtype=pl.Boolean)


def _checksum_ok(s: pl.Series) -> pl.Series:
    """The check digit of each 13-digit value (NULL elsewhere): all digits side by side in one
    buffer, a 13-column matrix of digits, one weighted sum."""
    import numpy as np

    present = s.is_not_null()
    digits13 = s.filter(present)
    out = np.zeros(len(s), dtype=bool)
    if len(digits13):
        buf = np.frombuffer(digits13.str.join("").item().encode("ascii"), dtype=np.uint8)
        d = (buf - ord("0")).reshape(-1, 13)
        total = np.zeros(len(d), dtype=np.int32)
        for i in range(12):  # (integer matmul in numpy is not BLAS: a loop of columns is faster)
            total += d[:, i].astype(np.int32) * (13 - i)
        out[present.to_numpy()] = ((11 - total % 11) % 10) == d[:, 12]
    return pl.Series(s.name, out)


def rule_expr(ext: Extract, rule: Rule) -> pl.Expr:
    """TRUE for a row that breaks ``rule``: the same rows as its SQL ``condition``."""
    c, code = rule.column, rule.code
    col: Column | None = next((x for x in ext.columns if x.name == c), None)
    v = pl.col(c) if c else None
    if code == "not_json":
        return pl.col(NOT_JSON)
    if code == "required":
        return v.is_null() if (col.type == "list" and ext.format == "jsonl") else blank(c)
    if code == "type_int":
        return present(c) & ~_matches(c, _INT)
    if code == "type_decimal":
        return present(c) & ~_matches(c, _DEC)
    if code == "negative_amount":
        return present(c) & _matches(c, _DEC) & (v.cast(pl.Float64, strict=False) < 0).fill_null(False)
    if code == "type_bool":
        return present(c) & ~_in(c, bool_values(ext))
    if code == "enum" and col.type == "int":
        number = v.cast(pl.Int64, strict=False)
        return present(c) & _matches(c, _INT) & ~number.is_in([int(x) for x in col.values]).fill_null(False)
    if code == "enum":
        return present(c) & ~_in(c, col.values)
    if code in ("list_enum", "area_code") and col is not None and col.type == "list":
        allowed = [str(x) for x in (col.values or contract.subdistrict_codes())]
        outside = v.str.split(col.separator or "|").list.eval(~pl.element().is_in(allowed)).list.any()
        return present(c) & outside.fill_null(False)
    if code == "national_id":
        return present(c) & ~national_id_ok(v)
    if code == "area_code" and c == "subdistrict_code":
        return present(c) & ~_in(c, contract.subdistrict_codes())
    if code == "area_code" and c == "district_code":
        return present(c) & ~_in(c, contract.district_codes())
    if code == "area_code" and c == "village_code":
        return present(c) & _matches(c, CODE_PATTERNS[c][0]) & ~v.str.slice(0, 6).is_in(
            list(contract.subdistrict_codes())).fill_null(False)
    if code == "code_format":
        return present(c) & ~_matches(c, CODE_PATTERNS[c][0])
    if code == "date_format":
        return present(c) & ~_matches(c, _BE if ext.dates == "be" else _ISO)
    if code == "date_be_year":
        return present(c) & _matches(c, _BE) & (v.str.slice(6, 4).cast(pl.Int32, strict=False) < MIN_BE_YEAR)
    if code == "date_invalid":
        if ext.dates == "be":
            return (present(c) & _matches(c, _BE) & (v.str.slice(6, 4).cast(pl.Int32, strict=False) >= MIN_BE_YEAR)
                    & be_date(v).is_null())
        return present(c) & _matches(c, _ISO) & iso_date(v).is_null()
    if code == "conditional_required":
        if c == "certified_on":
            return present("certification") & blank("certified_on")
        if c == "quality_passed":
            return present("quality_assessed_fy") & blank("quality_passed")
        if c == "approved_amount":
            return (pl.col("status") == "APPROVED").fill_null(False) & blank("approved_amount")
        if c == "decided_on":
            return ((pl.col("decision").fill_null("") != "PENDING") & present("decision") & blank("decided_on"))
    if code == "village_subdistrict":
        return (present("village_code") & present("subdistrict_code")
                & (pl.col("village_code").str.slice(0, 6) != pl.col("subdistrict_code")).fill_null(False))
    if code == "pao_district":
        pao = pl.col("lao_type") == "PAO"
        empty = pl.col("district_code").fill_null("") == ""
        return (pao != empty).fill_null(False)
    if code == "range":
        n = v.cast(pl.Float64, strict=False)
        return _matches(c, r"^-?[0-9]+$") & ~n.is_between(1, 31).fill_null(True)
    if code == "period_format":
        return present(c) & ~_matches(c, _PERIOD)
    raise ValueError(f"{ext.qualified_name}: no columnar form for rule {rule.name}")


# Rules that read one column only: at scale they are evaluated once per distinct value.
SINGLE_COLUMN = frozenset({"required", "type_int", "type_decimal", "negative_amount", "type_bool", "enum",
                           "list_enum", "area_code", "national_id", "code_format", "date_format", "date_be_year",
                           "date_invalid", "range", "period_format"})
DISTINCT_MIN_ROWS = 50_000


def evaluate(ext: Extract, df: pl.DataFrame, rules: list[Rule], duplicate_rows: pl.Series | None = None
             ) -> pl.DataFrame:
    """``_row_no`` and a boolean column per rule, for the rows that break at least one rule.

    ``duplicate_rows``: the row numbers whose key repeats in the whole file (``DuplicateKeys``), when
    ``df`` is one chunk of it; without it, the keys are compared within ``df``."""
    exprs: dict[str, pl.Expr] = {}
    by_column: dict[str, list[Rule]] = {}
    for r in rules:
        if r.code in SINGLE_COLUMN and r.column:
            by_column.setdefault(r.column, []).append(r)
    row_by_row: set[str] = set()  # columns whose rules run on every row (as text)
    for column, col_rules in by_column.items():
        flags = _column_flags(ext, df, column, col_rules)
        if flags is None:
            row_by_row.add(column)
            flags = {r.name: rule_expr(ext, r) for r in col_rules}
        exprs.update(flags)
    for r in rules:
        if r.name not in exprs and r.code != "duplicate_key":
            exprs[r.name] = rule_expr(ext, r)
            row_by_row.update(ext.column_names)
    categorical = [c for c, dt in df.schema.items() if dt == pl.Categorical and c in row_by_row]
    source = df.with_columns(pl.col(c).cast(pl.String) for c in categorical) if categorical else df
    names = [r.name for r in rules]
    flags = source.select(pl.col(ROW_NO), *[e.fill_null(False).alias(n) for n, e in exprs.items()])
    dup = next((r for r in rules if r.code == "duplicate_key"), None)
    if dup is not None and duplicate_rows is not None:
        flags = flags.with_columns(pl.col(ROW_NO).is_in(duplicate_rows.implode()).alias(dup.name))
    elif dup is not None:
        flags = flags.with_columns(_duplicate_flags(ext, df).alias(dup.name))
    return flags.select(ROW_NO, *names).filter(pl.any_horizontal(names))


def _column_flags(ext: Extract, df: pl.DataFrame, column: str, rules: list[Rule]) -> dict[str, pl.Expr] | None:
    """The rules of one column. Where its values repeat (codes, years, enums, ids of people paid every
    month), each distinct value is checked once and the rows holding a failing value are found by
    lookup: on 53 M BMN rows that is a few distinct values instead of 53 M evaluations per rule.
    None where the column is better checked row by row."""
    values = df[column]
    sample = values.head(200_000)
    if df.height < DISTINCT_MIN_ROWS or sample.n_unique() * 4 > sample.len():
        return None  # few rows, or values that hardly repeat: row by row
    distinct = values.unique().cast(pl.String).to_frame(column)
    checked = distinct.select(pl.col(column), *[rule_expr(ext, r).fill_null(False).alias(r.name) for r in rules])
    out: dict[str, pl.Expr] = {}
    for r in rules:
        failing = checked.filter(pl.col(r.name))[column]
        e = pl.lit(False)
        if failing.null_count():
            e = e | pl.col(column).is_null()
        failing = failing.drop_nulls()
        if failing.len():
            e = e | pl.col(column).is_in(failing.implode()).fill_null(False)
        out[r.name] = e
    return out


def _duplicate_flags(ext: Extract, df: pl.DataFrame) -> pl.Series:
    """Rows whose key (no part NULL) appears more than once: candidates by a 64-bit hash of the key
    (one hash per column, combined; sorted, equal neighbours), then the exact key compared among the
    candidates only, so a hash collision never flags a row."""
    keys = list(ext.key)
    complete = pl.all_horizontal([pl.col(k).is_not_null() for k in keys])
    combined = None
    for i, k in enumerate(keys):
        h = pl.col(k).cast(pl.String).hash(seed=i)
        combined = h if combined is None else (combined * 0x9E3779B97F4A7C15) ^ h
    h = df.select(pl.when(complete).then(combined).alias("h"))["h"]
    ordered = h.drop_nulls().sort()
    repeated = ordered.filter(ordered == ordered.shift(1)).unique()
    if repeated.len() == 0:
        return pl.repeat(False, df.height, eager=True)
    candidate = h.is_in(repeated.implode()).fill_null(False)
    sub = df.filter(candidate).select(ROW_NO, *[pl.col(k).cast(pl.String) for k in keys])
    dup_rows = sub.filter(pl.struct(keys).is_duplicated())[ROW_NO]
    return df[ROW_NO].is_in(dup_rows.implode())


class DuplicateKeys:
    """The rows of a file whose key (no part NULL) occurs more than once, found across its chunks
    with bounded memory: two independent 64-bit hashes of each row's key are kept (16 bytes a row),
    and rows whose 128-bit hash repeats are the duplicates. Two different keys share a 128-bit hash
    with a probability below 1e-20 for a 53-million-row file; no key value is kept."""

    def __init__(self, ext: Extract):
        self.keys = list(ext.key)
        self._h1: list[pl.Series] = []
        self._h2: list[pl.Series] = []

    def _hash(self, df: pl.DataFrame, seed: int) -> pl.Series:
        complete = pl.all_horizontal([pl.col(k).is_not_null() for k in self.keys])
        combined = None
        for i, k in enumerate(self.keys):
            col = pl.col(k)
            if df.schema[k] == pl.Categorical:
                col = col.cast(pl.String)
            h = col.hash(seed=seed + i)
            combined = h if combined is None else (combined * 0x9E3779B97F4A7C15) ^ h
        return df.select(pl.when(complete).then(combined).alias("h"))["h"]

    def add(self, df: pl.DataFrame) -> None:
        """The next chunk's key columns, in file order."""
        self._h1.append(self._hash(df, 0))
        self._h2.append(self._hash(df, 1000))

    def rows(self) -> pl.Series:
        """Row numbers (1-based) of every row whose key repeats, sorted. The first hash is sorted (a
        copy, 8 bytes a row) and equal neighbours give the repeated values: no hash table over every
        row. Only the candidate rows are compared on both hashes."""
        empty = pl.Series(ROW_NO, [], pl.Int64)
        if not self._h1:
            return empty
        h1 = pl.concat(self._h1, rechunk=True)
        self._h1 = []
        ordered = h1.drop_nulls().sort()
        repeated = ordered.filter(ordered == ordered.shift(1)).unique()
        del ordered
        if repeated.len() == 0:
            self._h2 = []
            return empty
        candidate = h1.is_in(repeated.implode()).fill_null(False).arg_true()
        h2 = pl.concat(self._h2, rechunk=True)
        self._h2 = []
        pairs = pl.DataFrame({"a": h1.gather(candidate), "b": h2.gather(candidate),
                              ROW_NO: candidate.cast(pl.Int64) + 1})
        return pairs.filter(pl.struct("a", "b").is_duplicated())[ROW_NO].sort()
