"""Formatting for people: roubles, dates, Markdown, bytes. Registered as Jinja filters."""

from __future__ import annotations

import datetime as dt
import functools

import nh3
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal
from markdown_it import MarkdownIt
from markupsafe import Markup, escape

from tables.calendar import LOCAL_TZ_NAME
from tables.money import format_rub as rub
from tables.month import Month

LOCALE = "ru_RU"
TIMEZONE = LOCAL_TZ_NAME

# HTML in the source is escaped by the parser, and the output is sanitised
# again, so content edited in the admin can never inject markup or script.
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


# Babel's formatters cost 0.05–0.15 ms a call and a statement page makes ~200 of them (the
# month pickers list every month of the contract): the results are pure functions of their
# arguments, so they are kept (docs/performance.md).
_cached = functools.lru_cache(maxsize=8192)


@_cached
def date_ru(value: dt.date | dt.datetime | None, fmt: str = "d MMMM y") -> str:
    if value is None:
        return ""
    try:
        if isinstance(value, dt.datetime):
            return format_datetime(value, fmt, tzinfo=TIMEZONE, locale=LOCALE)
        return format_date(value, fmt, locale=LOCALE)
    except (OverflowError, ValueError):
        # A date at the edge of the calendar (9999-12-31 turned into local time) that slipped
        # in before dates were checked: shown as stored, never a page error for everyone.
        return value.strftime("%d.%m.%Y")


def datetime_ru(value: dt.datetime | None, fmt: str = "d MMMM y, HH:mm") -> str:
    return date_ru(value, fmt)


@_cached
def month_ru(period: str | Month) -> str:
    """'2026-11' → 'ноябрь 2026'; a malformed stored period (``0000-01``) is shown as it is."""
    try:
        return Month.parse(period).title
    except ValueError:
        return str(period)


@functools.lru_cache(maxsize=1024)
def _month_options(months: tuple[str, ...], selected: str) -> Markup:
    return Markup("".join(
        f'<option value="{escape(p)}"{" selected" if p == selected else ""}>{escape(month_ru(p))}</option>'
        for p in months
    ))


def month_options(months: list[str], selected: str | None) -> Markup:
    """``<option>``s of a month picker (a statement page has three of up to 60 months each;
    the same lists repeat for every contract of the same age, so they are kept)."""
    return _month_options(tuple(months), selected or "")


@functools.lru_cache(maxsize=256)
def markdown(text: str | None) -> Markup:
    html = _markdown.render(text or "")
    return Markup(nh3.clean(html))


def report_cell(value: object, column: object) -> str:
    """A report cell for the page: the CSV export's value, grouped for reading, money with ₽."""
    if value is None:
        return ""
    kind, places = getattr(column, "kind", "text"), getattr(column, "places", 0)
    if isinstance(value, str):
        return value  # text, a month, or the total row's label
    if kind == "money":
        return rub(value)  # type: ignore[arg-type]
    if kind == "int":
        return format_decimal(value, locale=LOCALE)  # type: ignore[arg-type]
    if kind == "decimal":
        pattern = "#,##0." + "0" * places if places else "#,##0"
        return format_decimal(value, pattern, locale=LOCALE)  # type: ignore[arg-type]
    if kind == "date":
        return value.strftime("%d.%m.%Y")  # type: ignore[attr-defined]
    if kind == "datetime":
        return date_ru(value, "dd.MM.y HH:mm")  # type: ignore[arg-type]
    return str(value)


#: Binary steps, as routers and operating systems count traffic.
BYTE_UNITS = ("Б", "КБ", "МБ", "ГБ", "ТБ")


def byte_unit(count: float) -> int:
    """The index in :data:`BYTE_UNITS` a count of bytes reads best in (``1288490188`` → 3, ГБ)."""
    value, unit = float(count), 0
    while value >= 1024 and unit < len(BYTE_UNITS) - 1:
        value, unit = value / 1024, unit + 1
    return unit


def format_bytes(count: int | None) -> str:
    """``1288490188`` → ``"1,2 ГБ"`` (binary steps, one decimal, a Russian comma)."""
    count = count or 0
    unit = byte_unit(count)
    value = count / 1024 ** unit
    text = f"{value:.0f}" if unit == 0 else f"{value:.1f}".replace(".", ",")
    return f"{text}\u00a0{BYTE_UNITS[unit]}"


FILTERS = {
    "rub": rub,
    "date_ru": date_ru,
    "datetime_ru": datetime_ru,
    "month_ru": month_ru,
    "month_options": month_options,
    "markdown": markdown,
    "report_cell": report_cell,
    "bytes_ru": format_bytes,
}
