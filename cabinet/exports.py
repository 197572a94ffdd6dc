"""Statement downloads: CSV that Russian Excel opens as-is."""

from __future__ import annotations

from tables.csvfile import csv_bytes
from tables.money import format_csv
from tables.month import Month
from tables.statements import MonthStatement
from web.formatting import datetime_ru, month_ru

CSV_TEXT = {
    "title": "Выписка по лицевому счёту",
    "contract": "Договор №",
    "range": "Период",
    "header": ["Дата", "Операция", "За месяц", "Сумма, руб.", "Остаток, руб."],
    "opening": "Входящий остаток",
    "closing": "Исходящий остаток",
    "credits": "Зачислено за месяц",
    "debits": "Списано за месяц",
}

def _text(value: str) -> str:
    return " ".join((value or "").split())


def _period_label(period: str | None) -> str:
    """A stored period as "12.2026" (an absurd legacy one, such as 0000-01, as stored)."""
    try:
        return Month.parse(period).dotted if period else ""
    except ValueError:
        return period or ""


def statement_csv(months: list[MonthStatement], contract_number: str) -> bytes:
    """UTF-8 with a BOM, ``;``-separated, CRLF: Excel with a Russian locale opens it directly."""
    rows: list[list[str]] = []
    first, last = months[0].period, months[-1].period
    rows.append([CSV_TEXT["title"], f"{CSV_TEXT['contract']} {contract_number}"])
    rows.append([CSV_TEXT["range"], f"{month_ru(first)} — {month_ru(last)}"])
    rows.append([])
    rows.append(CSV_TEXT["header"])
    for month in months:
        start = Month.parse(month.period).first_day.strftime("%d.%m.%Y")
        rows.append([start, f"{CSV_TEXT['opening']} ({month_ru(month.period)})", "", "",
                     format_csv(month.opening)])
        for line in month.lines:
            label = line.label
            if line.comment:
                label = f"{label}: {line.comment}"
            rows.append([datetime_ru(line.created_at, "dd.MM.yyyy HH:mm"), _text(label),
                         _period_label(line.period), format_csv(line.amount),
                         format_csv(line.balance_after)])
        rows.append(["", CSV_TEXT["credits"], "", format_csv(month.credits), ""])
        rows.append(["", CSV_TEXT["debits"], "", format_csv(month.debits), ""])
        rows.append(["", f"{CSV_TEXT['closing']} ({month_ru(month.period)})", "", "",
                     format_csv(month.closing)])
    return csv_bytes(rows)
