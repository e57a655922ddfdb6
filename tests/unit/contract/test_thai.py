"""Thai conventions: national-id checksum, Buddhist-Era dates, fiscal-year windows."""

from datetime import date

import pytest
from thai_calendar import fiscal_year_window, format_be_date
from welfare.contract.thai import (
    DateError,
    fiscal_year_of,
    is_valid_national_id,
    national_id_check_digit,
    parse_be_date,
)


def test_check_digit_follows_the_contract_formula():
    first12 = "160010012345"
    total = sum(int(d) * (14 - i) for i, d in enumerate(first12, start=1))
    assert national_id_check_digit(first12) == (11 - total % 11) % 10


@pytest.mark.parametrize("first12", ["110170020345", "360150000001", "860010999999", "500000000000"])
def test_valid_ids_pass_and_every_wrong_check_digit_fails(first12):
    good = first12 + str(national_id_check_digit(first12))
    assert is_valid_national_id(good)
    for d in "0123456789":
        if d != good[-1]:
            assert not is_valid_national_id(first12 + d)


@pytest.mark.parametrize("value", [None, "", "123", "12345678901234", "11017002034x5", " 1101700203451"])
def test_malformed_ids_fail(value):
    assert not is_valid_national_id(value)


def test_be_date_parses_to_common_era():
    assert parse_be_date("30/09/2564") == date(2021, 9, 30)
    assert parse_be_date("01/10/2563") == date(2020, 10, 1)


def test_common_era_year_in_a_be_field_is_refused_with_its_own_rule():
    with pytest.raises(DateError) as e:
        parse_be_date("30/09/2021")
    assert e.value.rule == "date_be_year"
    assert "2564" in str(e.value)  # suggests the year the source probably meant


def test_29_february_in_leap_and_non_leap_years():
    assert parse_be_date("29/02/2563") == date(2020, 2, 29)  # 2020 is a leap year
    with pytest.raises(DateError) as e:
        parse_be_date("29/02/2564")  # 2021 is not
    assert e.value.rule == "date_invalid"
    assert parse_be_date("29/02/2543") == date(2000, 2, 29)  # divisible by 400
    with pytest.raises(DateError):
        parse_be_date("29/02/2443")  # 1900: divisible by 100, not a leap year


@pytest.mark.parametrize("value", ["2564-09-30", "30/9/2564", "31/04/2564", "00/01/2564", "15/13/2564"])
def test_bad_be_dates(value):
    with pytest.raises(DateError):
        parse_be_date(value)


def test_format_round_trips():
    for d in (date(2016, 10, 1), date(2020, 2, 29), date(2021, 9, 30)):
        assert parse_be_date(format_be_date(d)) == d


def test_fiscal_year_windows():
    assert fiscal_year_window(2564) == (date(2020, 10, 1), date(2021, 9, 30))
    assert fiscal_year_window(2560) == (date(2016, 10, 1), date(2017, 9, 30))
    assert fiscal_year_of(date(2020, 9, 30)) == 2563
    assert fiscal_year_of(date(2020, 10, 1)) == 2564
    assert fiscal_year_of(date(2021, 9, 30)) == 2564
    start, end = fiscal_year_window(2565)
    assert fiscal_year_of(start) == fiscal_year_of(end) == 2565


def test_sql_functions_agree_with_python(warehouse):
    from welfare.warehouse.sql import connect

    cases = ["29/02/2563", "29/02/2564", "31/04/2564", "30/09/2021", "01/10/2563", "xx/yy/zzzz"]
    ids = ["1600100123456", "1101700203451"]
    ids.append("160010012345" + str(national_id_check_digit("160010012345")))
    with connect(warehouse.dsn) as conn, conn.cursor() as cur:
        for c in cases:
            cur.execute("select util.be_date(%s)", (c,))
            try:
                expected = parse_be_date(c)
            except DateError:
                expected = None
            assert cur.fetchone()[0] == expected, c
        for i in ids:
            cur.execute("select util.national_id_ok(%s)", (i,))
            assert cur.fetchone()[0] == is_valid_national_id(i), i
