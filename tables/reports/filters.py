"""A report's selection (period, town, tariff, grouping, "as of" day). Month and day boundaries
are local time (Asia/Novokuznetsk, :class:`tables.month.Month`); timestamps are UTC."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tables.calendar import LOCAL_TZ, local_date
from tables.month import WORKING_YEARS, Month
from tables.payments.payment import CARD_CHANNELS, PAYMENT_CHANNEL_LABELS

if TYPE_CHECKING:
    from tables.reports.report import ReportSpec

MAX_MONTHS = 60
#: ``on`` (a report's "as of" day) within these bounds: 9999-12-31 overflowed the day after it.
FIRST_ON = dt.date(2000, 1, 1)
ON_DAYS_AHEAD = 366
#: The URL parameters a report may read, beside the period (``from``, ``to``).
OPTIONAL = ("town", "tariff", "group", "on", "channel")
#: ``channel``: one payment channel, or ``card`` for every channel paid by card.
CHANNEL_FILTERS = {"card": "Картой (все карточные каналы)", **PAYMENT_CHANNEL_LABELS}

def parse_month(text: str, what: str = "Месяц") -> str:
    message = f"{what}: укажите месяц в виде ГГГГ-ММ, например 2026-11"
    return Month.parse(text, message=message, years=WORKING_YEARS).iso


def _parse_id(text: str | None, what: str) -> int | None:
    value = (text or "").strip()
    if not value:
        return None
    if not value.isdigit() or len(value) > 9:
        raise ValueError(f"{what}: неверное значение")
    return int(value)


def local_midnight_utc(day: dt.date) -> dt.datetime:
    """The UTC instant a local calendar day starts."""
    return dt.datetime(day.year, day.month, day.day, tzinfo=LOCAL_TZ).astimezone(dt.UTC)


local_today = local_date


def _parse_period(params: Mapping[str, str], today: dt.date) -> tuple[str, str]:
    """``period`` (CLI: a month or ``first..last``), else ``from``/``to`` (default: six months)."""
    period = (params.get("period") or "").strip()
    if period:
        first, _, last = period.partition("..")
        month_from = parse_month(first, "Период")
        month_to = parse_month(last, "Период") if last else month_from
    else:
        month_to = parse_month(params["to"], "По месяц") if params.get("to") else Month.of(today).iso
        month_from = (parse_month(params["from"], "С месяца") if params.get("from")
                      else (Month.parse(month_to) - 5).iso)
    if month_from > month_to:
        raise ValueError("Начало периода позже его конца")
    if Month.parse(month_from).months_until(Month.parse(month_to)) > MAX_MONTHS:
        raise ValueError(f"Период не может быть длиннее {MAX_MONTHS} месяцев")
    return month_from, month_to


def _parse_on(text: str | None, today: dt.date) -> dt.date | None:
    if not text:
        return None
    try:
        on = dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError("Дата: укажите её в виде ГГГГ-ММ-ДД") from None
    latest = today + dt.timedelta(days=ON_DAYS_AHEAD)
    if not FIRST_ON <= on <= latest:
        raise ValueError(f"Дата: укажите день с {FIRST_ON:%d.%m.%Y} по {latest:%d.%m.%Y}")
    return on


def _parse_group(text: str | None, spec: ReportSpec | None) -> str:
    """One of the report's groupings (its first when none is asked); none if it has none."""
    group = (text or "").strip()
    if spec is None:
        return group
    if not spec.groups:
        return ""
    if group in spec.groups:
        return group
    if group:
        raise ValueError("Неизвестная группировка")
    return next(iter(spec.groups))


def _parse_channel(text: str | None) -> str:
    channel = (text or "").strip()
    if channel and channel not in CHANNEL_FILTERS:
        raise ValueError("Канал оплаты: выберите один из списка")
    return channel


def channel_values(channel: str) -> list[str]:
    """The payment channels a ``channel`` filter stands for (empty: no filter)."""
    if channel == "card":
        return [c.value for c in CARD_CHANNELS]
    return [channel] if channel else []


@dataclass(frozen=True)
class Filters:
    """A report's selection, read from the URL (``from``, ``to``, ``town``, ``tariff``,
    ``group``, ``on``, ``channel``) or the CLI (``period``: ``2026-11`` or ``2026-01..2026-06``)."""

    month_from: str
    month_to: str
    town: int | None = None
    tariff: int | None = None
    group: str = ""
    on: dt.date | None = None
    channel: str = ""

    @property
    def start_utc(self) -> dt.datetime:
        return Month.parse(self.month_from).utc_bounds()[0]

    @property
    def end_utc(self) -> dt.datetime:
        """Exclusive end: local midnight after the last day of ``month_to``."""
        return Month.parse(self.month_to).utc_bounds()[1]

    @property
    def first_day(self) -> dt.date:
        return Month.parse(self.month_from).first_day

    @property
    def last_day(self) -> dt.date:
        return Month.parse(self.month_to).last_day

    @property
    def months(self) -> list[str]:
        return [m.iso for m in Month.range(self.month_from, self.month_to)]

    def query(self, spec: ReportSpec | None = None) -> dict[str, str]:
        """The URL query (and CLI options) that reproduce this selection."""
        uses = spec.uses if spec else {"period", *OPTIONAL}
        params: dict[str, str] = {}
        if "period" in uses:
            params["from"], params["to"] = self.month_from, self.month_to
        for key in OPTIONAL:
            value = getattr(self, key)
            if key in uses and value:
                params[key] = value.isoformat() if key == "on" else str(value)
        return params

    @classmethod
    def parse(cls, params: Mapping[str, str], *, today: dt.date,
              spec: ReportSpec | None = None) -> Filters:
        """Validate user input; bad values raise ``ValueError`` with a Russian message."""
        month_from, month_to = _parse_period(params, today)
        on = _parse_on(params.get("on"), today)
        group = _parse_group(params.get("group"), spec)
        return cls(month_from=month_from, month_to=month_to,
                   town=_parse_id(params.get("town"), "Город"),
                   tariff=_parse_id(params.get("tariff"), "Тариф"),
                   group=group, on=on, channel=_parse_channel(params.get("channel")))
