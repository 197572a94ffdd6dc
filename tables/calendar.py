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


def local_date(moment: dt.datetime) -> dt.date:
    """The provider's calendar day of a moment (naive values, as read back from storage, are UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(LOCAL_TZ).date()


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
