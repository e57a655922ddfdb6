"""Test-side Thai calendar helpers: a date written the Buddhist-Era way, and a fiscal year's window."""

from __future__ import annotations

from datetime import date

from welfare.contract.thai import BE_OFFSET


def format_be_date(value: date) -> str:
    return f"{value.day:02d}/{value.month:02d}/{value.year + BE_OFFSET}"


def fiscal_year_window(fiscal_year_be: int) -> tuple[date, date]:
    """First and last day (Common Era) of a Buddhist-Era fiscal year: 2564 -> 2020-10-01..2021-09-30."""
    return date(fiscal_year_be - 544, 10, 1), date(fiscal_year_be - 543, 9, 30)
