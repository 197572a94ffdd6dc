"""The one month type: parsing, text, arithmetic, days and local bounds (tables/month.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from babel.dates import format_date
from hypothesis import given
from hypothesis import strategies as st

from tables.calendar import LOCAL_TZ
from tables.month import FORMAT_MESSAGE, WORKING_YEARS, Month

months = st.builds(Month, st.integers(1900, 2200), st.integers(1, 12))
shifts = st.integers(-2400, 2400)


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-12", Month(2026, 12)),
    (" 2027-01 ", Month(2027, 1)),
    ("12.2026", Month(2026, 12)),
    ("1.2027", Month(2027, 1)),
    ("декабрь 2026", Month(2026, 12)),
    ("Январь  2027", Month(2027, 1)),
    ("ЯНВАРЯ 2027", Month(2027, 1)),
    ("май 2026 г.", Month(2026, 5)),
    ("сентябрь 2026 года", Month(2026, 9)),
    ("ёлка", None),
    ("2026-13", None), ("2026-00", None), ("0000-01", None), ("2026-1", None), ("26-12", None),
    ("2026/12", None), ("декабрь", None), ("дек 2026", None), ("13.2026", None), ("", None),
    (None, None), ("２０２６-１２", None), ("2026-12-01", None), ("2026-12\n", Month(2026, 12)),
])
def test_parse(text: str | None, expected: Month | None) -> None:
    if expected is None:
        with pytest.raises(ValueError, match="^" + FORMAT_MESSAGE + "$"):
            Month.parse(text)
    else:
        assert Month.parse(text) == expected


def test_parse_refuses_with_the_callers_words_and_passes_a_month_through() -> None:
    with pytest.raises(ValueError, match=r"^Период указывается как ГГГГ-ММ$"):
        Month.parse("2026-13", message="Период указывается как ГГГГ-ММ")
    month = Month(2026, 12)
    assert Month.parse(month) is month


def test_parse_within_working_years() -> None:
    assert Month.parse("2000-01", years=WORKING_YEARS) == Month(2000, 1)
    assert Month.parse("декабрь 2100", years=WORKING_YEARS) == Month(2100, 12)
    for text in ("1999-12", "2101-01", Month(2199, 1)):
        with pytest.raises(ValueError, match=r"^Не тот год$"):
            Month.parse(text, message="Не тот год", years=WORKING_YEARS)


def test_invalid_months_cannot_be_built() -> None:
    for year, month in ((2026, 0), (2026, 13), (0, 1), (10000, 1)):
        with pytest.raises(ValueError):
            Month(year, month)
    with pytest.raises(ValueError):
        Month(9999, 12) + 1


def test_text() -> None:
    month = Month(2026, 3)
    assert (str(month), month.iso, month.dotted) == ("2026-03", "2026-03", "03.2026")
    assert month.title == "март 2026"
    assert f"{Month(987, 1)}" == "0987-01"


@pytest.mark.parametrize("number", range(1, 13))
def test_titles_read_as_babel_writes_them(number: int) -> None:
    """The pages used Babel's ``LLLL y``: the names must not change."""
    assert Month(2026, number).title == format_date(dt.date(2026, number, 1), "LLLL y", locale="ru_RU")


def test_year_ends() -> None:
    december, january = Month(2026, 12), Month(2027, 1)
    assert december + 1 == december.next == january
    assert january - 1 == january.previous == december
    assert january - december == 1 and december - january == -1
    assert Month(2026, 1) + 23 == Month(2027, 12) and Month(2027, 12) - 23 == Month(2026, 1)
    assert Month.range("2026-11", "2027-02") == [Month(2026, 11), december, january, Month(2027, 2)]
    assert Month.range(january, december) == []
    assert december.months_until(january) == 2 and january.months_until(december) == 0
    assert december.first_day == dt.date(2026, 12, 1) and december.last_day == dt.date(2026, 12, 31)


def test_days() -> None:
    assert Month(2028, 2).days == 29 and Month(2026, 2).days == 28 and Month(2100, 2).days == 28
    assert Month(2026, 2).last_day == dt.date(2026, 2, 28)
    dates = Month(2026, 4).dates()
    assert len(dates) == 30 and dates[0] == dt.date(2026, 4, 1) and dates[-1] == dt.date(2026, 4, 30)


def test_local_bounds_in_novokuznetsk() -> None:
    start, end = Month(2026, 12).bounds()
    assert start == dt.datetime(2026, 12, 1, tzinfo=LOCAL_TZ)
    assert end == dt.datetime(2027, 1, 1, tzinfo=LOCAL_TZ)
    assert start.utcoffset() == dt.timedelta(hours=7)
    assert Month(2026, 12).utc_bounds() == (dt.datetime(2026, 11, 30, 17, tzinfo=dt.UTC),
                                            dt.datetime(2026, 12, 31, 17, tzinfo=dt.UTC))
    assert Month(9999, 12).bounds()[1] > Month(9999, 12).bounds()[0]


def test_of_a_moment_is_its_local_month() -> None:
    # 31 December 17:30 UTC is 1 January 00:30 in Novokuznetsk.
    late = dt.datetime(2026, 12, 31, 17, 30, tzinfo=dt.UTC)
    assert Month.of(late) == Month(2027, 1)
    assert Month.of(late.replace(tzinfo=None)) == Month(2027, 1)  # naive values are UTC
    assert Month.of(dt.datetime(2026, 12, 31, 16, 59, tzinfo=dt.UTC)) == Month(2026, 12)
    assert Month.of(dt.date(2026, 12, 31)) == Month(2026, 12)  # a day is already local
    assert Month.current(late) == Month(2027, 1)
    assert Month.current() == Month.of(dt.datetime.now(dt.UTC))


@given(months, shifts, shifts)
def test_adding_is_index_arithmetic(month: Month, a: int, b: int) -> None:
    assert (month + a) + b == month + (a + b)
    assert (month + a) - a == month
    assert (month + a) - month == a
    assert Month.from_index(month.index) == month
    assert (month < month + a) == (a > 0)


@given(months)
def test_text_round_trips(month: Month) -> None:
    assert Month.parse(str(month)) == month
    assert Month.parse(month.title) == month
    assert Month.parse(month.dotted) == month
    assert (str(month) < str(month + 1)) and (month < month + 1)  # stored text sorts like months


@given(months)
def test_bounds_cover_the_month_exactly(month: Month) -> None:
    start, end = month.bounds()
    assert end == (month + 1).bounds()[0]
    assert Month.of(start) == month and Month.of(end - dt.timedelta(microseconds=1)) == month
    assert (end - start).days == month.days == len(month.dates())
    assert month.first_day.day == 1 and (month.last_day + dt.timedelta(days=1)) == (month + 1).first_day


@given(months, st.integers(0, 60))
def test_range_and_months_until_agree(month: Month, span: int) -> None:
    last = month + span
    listed = Month.range(month, last)
    assert len(listed) == span + 1 == month.months_until(last)
    assert listed[0] == month and listed[-1] == last and listed == sorted(set(listed))
