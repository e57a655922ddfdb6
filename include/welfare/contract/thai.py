"""Thai administrative conventions: national ids, Buddhist-Era dates, fiscal years."""

from __future__ import annotations

import re
from datetime import date

BE_OFFSET = 543
MIN_BE_YEAR = 2400  # a year below this in a Buddhist-Era field is a Common-Era year typed in
_BE_DATE = re.compile(r"^(\d{2})/(\d{2})/(\d{4})$")


class DateError(ValueError):
    """A date value that does not follow the contract; ``rule`` names the broken rule."""

    def __init__(self, rule: str, message: str):
        super().__init__(message)
        self.rule = rule


def national_id_check_digit(first12: str) -> int:
    total = sum(int(d) * (13 - i) for i, d in enumerate(first12))
    return (11 - total % 11) % 10


def is_valid_national_id(value: str | None) -> bool:
    """13 digits whose last digit is the contract's checksum of the first twelve."""
    if value is None or len(value) != 13 or not value.isdigit():
        return False
    return national_id_check_digit(value[:12]) == int(value[12])


def parse_be_date(value: str) -> date:
    """Parse dd/mm/yyyy with a Buddhist-Era year into a Common-Era date."""
    m = _BE_DATE.match(value.strip())
    if not m:
        raise DateError("date_format", f"{value!r} is not a dd/mm/yyyy Buddhist-Era date")
    day, month, year = (int(g) for g in m.groups())
    if year < MIN_BE_YEAR:
        raise DateError(
            "date_be_year",
            f"{value!r} has year {year}, below {MIN_BE_YEAR}: a Common-Era year typed into a "
            f"Buddhist-Era field (did the source mean {year + BE_OFFSET}?)",
        )
    try:
        return date(year - BE_OFFSET, month, day)
    except ValueError:
        raise DateError("date_invalid", f"{value!r} is not a date that exists") from None


def fiscal_year_of(value: date) -> int:
    """Thai government fiscal year (Buddhist Era) that a Common-Era date falls in."""
    return value.year + BE_OFFSET + (1 if value.month >= 10 else 0)
