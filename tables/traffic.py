"""A contract's traffic by local day and by month (issue 32), and the charts the cabinet and the
subscriber card draw of it.

Accounting (``tables.radius.account``) adds what the session counters grew by to the contract's
row of the local (Asia/Novokuznetsk) day the record arrived on (``traffic_day``), so a day here is
a day of the provider's calendar, not of UTC: 23:30 local on the 7th is 16:30 UTC the same day,
00:30 local on the 8th is still the 7th in UTC and counts for the 8th. Months are summed in SQL
from those days (``GROUP BY`` the day's month, on both engines); nothing loads a year of rows
into Python.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from db.engine import is_sqlite
from tables.calendar import utcnow
from tables.month import Month
from tables.network import TrafficDay
from tables.reports.report import Chart, Series

#: How far back a subscriber or a clerk may look (the month picker lists these months).
MONTHS_SHOWN = 12
MONTH_MESSAGE = "Месяц указывается в виде ГГГГ-ММ, например {example}"
RANGE_MESSAGE = "Трафик можно посмотреть за последние {n} месяцев: с {first} по {last}"


@dataclass(frozen=True, kw_only=True)
class Traffic:
    """Bytes one period saw: ``download`` is what the subscriber received, ``upload`` sent."""

    download: int = 0
    upload: int = 0

    @property
    def total(self) -> int:
        return self.download + self.upload


@dataclass(frozen=True, kw_only=True)
class DayTraffic(Traffic):
    day: dt.date


@dataclass(frozen=True, kw_only=True)
class MonthTraffic(Traffic):
    month: Month


def months_shown(now: dt.datetime | None = None) -> list[Month]:
    """The months one may choose, latest first (the current month and the 11 before it)."""
    current = Month.current(now)
    return [current - n for n in range(MONTHS_SHOWN)]


def parse_month(text: str | None, now: dt.datetime | None = None) -> Month:
    """The month a page was asked for (``?month=2026-11``); empty is the current month.

    :raises ValueError: with a Russian message for a malformed month or one out of range.
    """
    months = months_shown(now)
    if not (text or "").strip():
        return months[0]
    month = Month.parse(text.strip()[:40], message=MONTH_MESSAGE.format(example=months[0].iso))
    if month not in months:
        raise ValueError(RANGE_MESSAGE.format(n=MONTHS_SHOWN, first=months[-1].title,
                                              last=months[0].title))
    return month


async def traffic_by_day(subscriber_id: int, month: Month) -> list[DayTraffic]:
    """Every day of the month, in order, zero where nothing was counted."""
    rows = await TrafficDay.select(TrafficDay.day, TrafficDay.download_bytes,
                                   TrafficDay.upload_bytes).where(
        (TrafficDay.subscriber == subscriber_id) & (TrafficDay.day >= month.first_day)
        & (TrafficDay.day <= month.last_day))
    by_day = {row["day"]: row for row in rows}
    return [DayTraffic(download=int(by_day[d]["download_bytes"]) if d in by_day else 0,
                       upload=int(by_day[d]["upload_bytes"]) if d in by_day else 0, day=d)
            for d in month.dates()]


async def traffic_by_month(subscriber_id: int, last: Month,
                           count: int = MONTHS_SHOWN) -> list[MonthTraffic]:
    """``count`` months up to ``last``, oldest first, each summed by the database."""
    first = last - (count - 1)
    month_of_day = "substr(day, 1, 7)" if is_sqlite() else "to_char(day, 'YYYY-MM')"
    day = (lambda d: d.isoformat()) if is_sqlite() else (lambda d: d)
    rows = await TrafficDay.raw(
        f"SELECT {month_of_day} AS month, SUM(download_bytes) AS download, "
        "SUM(upload_bytes) AS upload FROM traffic_day "
        "WHERE subscriber = {} AND day >= {} AND day <= {} "
        f"GROUP BY {month_of_day}",
        subscriber_id, day(first.first_day), day(last.last_day))
    sums = {row["month"]: row for row in rows}
    return [MonthTraffic(download=int(sums[m.iso]["download"] or 0) if m.iso in sums else 0,
                         upload=int(sums[m.iso]["upload"] or 0) if m.iso in sums else 0, month=m)
            for m in Month.range(first, last)]


def total(rows: list[DayTraffic] | list[MonthTraffic]) -> Traffic:
    return Traffic(download=sum(r.download for r in rows), upload=sum(r.upload for r in rows))


def traffic_charts(days: list[DayTraffic], months: list[MonthTraffic]) -> list[Chart]:
    """The two charts: the chosen month by day, and the last months (bars: received, sent)."""
    def series(rows: list[DayTraffic] | list[MonthTraffic]) -> list[Series]:
        return [Series("Получено", [r.download for r in rows]),
                Series("Отправлено", [r.upload for r in rows])]

    month = Month.of(days[0].day) if days else Month.current(utcnow())
    return [
        Chart(f"Трафик по дням, {month.title}", [f"{d.day.day:02d}" for d in days], series(days),
              unit="bytes",
              description=f"Получено и отправлено за каждый день месяца ({month.title}); "
                          "те же числа — в таблице «Трафик по дням» под графиком."),
        Chart("Трафик по месяцам", [m.month.dotted for m in months], series(months), unit="bytes",
              description=f"Получено и отправлено за каждый из последних {len(months)} месяцев; "
                          "те же числа — в таблице «Трафик по месяцам» под графиком."),
    ]
