"""What the cabinet's connection page and the subscriber card show of a contract's traffic: the
chosen month by day and the last twelve months, as charts (``web.charts``) with the numbers as
tables beside them (for screen readers, and for anyone who wants the figures)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from markupsafe import Markup

from tables.month import Month
from tables.traffic import (
    DayTraffic,
    MonthTraffic,
    Traffic,
    months_shown,
    parse_month,
    total,
    traffic_by_day,
    traffic_by_month,
    traffic_charts,
)
from web.charts import draw


@dataclass
class TrafficView:
    month: Month
    choices: list[Month]
    days: list[DayTraffic]
    months: list[MonthTraffic]
    day_total: Traffic
    months_total: Traffic
    charts: list[Markup] = field(default_factory=list)
    #: A Russian message when the month asked for was refused (the current month is shown).
    error: str = ""

    @property
    def days_with_traffic(self) -> list[DayTraffic]:
        return [d for d in self.days if d.total]


async def traffic_view(subscriber_id: int, month_text: str | None, now: dt.datetime) -> TrafficView:
    """The contract's traffic for ``?month=`` (empty: this month). Only ``subscriber_id``'s rows are
    read: the caller passes the logged-in contract (cabinet) or the card's (office)."""
    error = ""
    try:
        month = parse_month(month_text, now)
    except ValueError as exc:
        month, error = Month.current(now), str(exc)
    days = await traffic_by_day(subscriber_id, month)
    months = await traffic_by_month(subscriber_id, Month.current(now))
    return TrafficView(month=month, choices=months_shown(now), days=days, months=months,
                       day_total=total(days), months_total=total(months),
                       charts=[draw(chart) for chart in traffic_charts(days, months)], error=error)
