"""``payments``: money received by card and at the office, by day, month, channel or card brand."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tables.payments.payment import PAYMENT_CHANNEL_LABELS, PaymentStatus
from tables.reports.filters import Filters, channel_values
from tables.reports.report import TOTAL, Chart, Column, Report, spec
from tables.reports.sql import as_int, fetch, in_scope, sql_local_day, sql_local_month

PAYMENT_GROUPS = {"month": "по месяцам", "day": "по дням", "channel": "по каналам",
                  "brand": "по платёжным системам"}
CARD_BRAND_LABELS = {"visa": "Visa", "mastercard": "Mastercard", "maestro": "Maestro",
                     "mir": "МИР", "": "Без карты"}
_PAID = (PaymentStatus.SUCCEEDED.value, PaymentStatus.REFUNDED.value)
_CHANNELS = list(PAYMENT_CHANNEL_LABELS)


def _keys(group: str, f: Filters, rows: list[dict[str, Any]]) -> tuple[list[Any], Column]:
    """The report's lines (every day or month of the period, every channel, the brands seen)."""
    if group == "day":
        first, last = f.first_day, f.last_day
        return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)], \
            Column("key", "День", "date")
    if group == "month":
        return f.months, Column("key", "Месяц", "month")
    if group == "channel":
        return _CHANNELS, Column("key", "Канал оплаты")
    return sorted({r["k"] or "" for r in rows}, key=lambda b: (b == "", b)), \
        Column("key", "Платёжная система")


def _shown(group: str, key: Any) -> Any:
    if group == "channel":
        return PAYMENT_CHANNEL_LABELS.get(key, key)
    if group == "brand":
        return CARD_BRAND_LABELS.get(key, key)
    return key


def paid_payments(f: Filters) -> tuple[str, list[Any]]:
    """``FROM payment p WHERE …``: the money received in the selection (status succeeded or
    refunded, created in the period, the town's/tariff's contracts, the channel).

    The payments report and the accounting export (``tables.reports.accounting``) both read
    through it, so their totals cannot differ.
    """
    scope, args = in_scope(f, "p.subscriber")
    channels = channel_values(f.channel)
    if channels:
        scope += f" AND p.channel IN ({', '.join('?' * len(channels))})"
        args = [*args, *channels]
    return (f" FROM payment p WHERE p.status IN ('{_PAID[0]}', '{_PAID[1]}')"
            f" AND p.created_at >= ? AND p.created_at < ?{scope}", [f.start_utc, f.end_utc, *args])


async def payments_report(f: Filters, now: dt.datetime) -> Report:
    """Received card and office payments (status succeeded or refunded) by their creation time.

    Refunds are attributed to the refunded payment (its ``refunded_amount``); the
    ``billing`` report shows refunds by the time the money went back.
    """
    group = f.group or "month"
    key_sql = {"day": sql_local_day("p.created_at"), "month": sql_local_month("p.created_at"),
               "channel": "p.channel", "brand": "p.card_brand"}[group]
    source, args = paid_payments(f)
    rows = await fetch(
        f"SELECT {key_sql} AS k, p.channel AS channel, COUNT(*) AS n, SUM(p.amount) AS amount,"
        f" SUM(p.refunded_amount) AS refunded{source} GROUP BY {key_sql}, p.channel",
        *args,
    )
    time_based = group in ("day", "month")
    keys, key_col = _keys(group, f, rows)
    sums: dict[Any, dict[str, int]] = {k: {"n": 0, "amount": 0, "refunded": 0,
                                           **dict.fromkeys(_CHANNELS, 0)} for k in keys}
    for r in rows:
        k = dt.date.fromisoformat(r["k"]) if group == "day" else (r["k"] or "")
        bucket = sums[k]
        bucket["n"] += as_int(r["n"])
        bucket["amount"] += as_int(r["amount"])
        bucket["refunded"] += as_int(r["refunded"])
        if r["channel"] in bucket:
            bucket[r["channel"]] += as_int(r["amount"])
    columns = [key_col, Column("count", "Платежей", "int"), Column("amount", "Оплачено", "money")]
    if time_based:
        columns += [Column(c, PAYMENT_CHANNEL_LABELS[c], "money") for c in _CHANNELS]
    columns += [Column("refunded", "Возвращено", "money"), Column("net", "Итого за вычетом возвратов",
                                                                   "money")]

    def line(label: Any, b: dict[str, int]) -> tuple:
        cells = [label, b["n"], b["amount"]]
        if time_based:
            cells += [b[c] for c in _CHANNELS]
        return (*cells, b["refunded"], b["amount"] - b["refunded"])

    total = {key: sum(b[key] for b in sums.values()) for key in ("n", "amount", "refunded", *_CHANNELS)}
    return Report("payments", "Платежи", columns, [line(_shown(group, k), sums[k]) for k in keys],
                  total=line(TOTAL, total), subtitle=PAYMENT_GROUPS[group])


def charts(report: Report, f: Filters) -> list[Chart]:
    """Paid per day or month stacked by channel; otherwise one bar per channel or brand."""
    keys = _CHANNELS if f.group in ("day", "month") else ["amount"]
    return [Chart("Оплачено", report.labels("key"), report.series(*keys),
                  stacked=len(keys) > 1, money=True)]


SPEC = spec("payments", "Платежи", "Оплаты по дням или месяцам, каналам и платёжным системам; возвраты.",
            payments_report, "period town tariff channel group", PAYMENT_GROUPS, charts)
