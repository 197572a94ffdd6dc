"""The provider's clock and calendar: Novokuznetsk local time, one source of "now"."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Novokuznetsk and Osinniki (Kemerovo oblast): UTC+7, no DST since 2014. Months, statements,
# billing periods and reports all follow the provider's local calendar.
LOCAL_TZ_NAME = "Asia/Novokuznetsk"
try:
    LOCAL_TZ: dt.tzinfo = ZoneInfo(LOCAL_TZ_NAME)
except ZoneInfoNotFoundError:  # pragma: no cover - images without tzdata
    LOCAL_TZ = dt.timezone(dt.timedelta(hours=7), "+07")


def as_utc(moment: dt.datetime | str) -> dt.datetime:
    """A stored moment as an aware UTC datetime.

    Naive values (Piccolo's naive columns, SQLite's aggregates) and ISO text (SQLite hands
    computed columns back as text) are UTC: ``"2026-12-07 03:00:00"`` → 03:00 UTC.

    :raises ValueError: for text that is not an ISO moment.
    """
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def naive_utc(moment: dt.datetime) -> dt.datetime:
    """The inverse, for columns kept naive (piccolo_api's sessions): an aware moment as naive UTC."""
    return as_utc(moment).replace(tzinfo=None)


def local_date(moment: dt.datetime) -> dt.date:
    """The provider's calendar day of a moment (naive values, as read back from storage, are UTC)."""
    return as_utc(moment).astimezone(LOCAL_TZ).date()


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
