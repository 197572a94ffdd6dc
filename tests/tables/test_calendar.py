"""The one naive→UTC rule (tables/calendar.py): stored naive moments and SQLite's text are UTC."""

from __future__ import annotations

import datetime as dt

import pytest

from tables.calendar import LOCAL_TZ, as_utc, local_date, naive_utc

NEW_YEAR_LOCAL = dt.datetime(2026, 12, 31, 17, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize("stored", [
    dt.datetime(2026, 12, 31, 17, 30),  # a naive column
    "2026-12-31 17:30:00",  # SQLite's aggregate
    "2026-12-31T17:30:00Z",
    "2027-01-01T00:30:00+07:00",
    dt.datetime(2027, 1, 1, 0, 30, tzinfo=LOCAL_TZ),
])
def test_as_utc(stored: dt.datetime | str) -> None:
    moment = as_utc(stored)
    assert moment == NEW_YEAR_LOCAL and moment.utcoffset() == dt.timedelta(0)
    assert local_date(moment) == dt.date(2027, 1, 1)


def test_as_utc_refuses_text_that_is_not_a_moment() -> None:
    with pytest.raises(ValueError):
        as_utc("вчера")


def test_naive_utc_is_the_inverse() -> None:
    assert naive_utc(dt.datetime(2027, 1, 1, 0, 30, tzinfo=LOCAL_TZ)) == dt.datetime(2026, 12, 31, 17, 30)
    assert naive_utc(dt.datetime(2026, 12, 31, 17, 30)) == dt.datetime(2026, 12, 31, 17, 30)
    assert as_utc(naive_utc(NEW_YEAR_LOCAL)) == NEW_YEAR_LOCAL
