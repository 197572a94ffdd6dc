"""``billing``: what was charged and what was paid, refunded and adjusted, month by month."""

from __future__ import annotations

import datetime as dt

from tables.ledger import EntryKind
from tables.reports.filters import Filters
from tables.reports.report import TOTAL, Chart, Column, Report, spec
from tables.reports.sql import as_int, fetch, in_scope, sql_local_month


async def billing_report(f: Filters, now: dt.datetime) -> Report:
    """Charged vs paid per month: charges by their billing period, money movements by time.

    Two index ranges, not one expression over every row (an entry's month depends on its
    kind, so no index served it): charges by ``(period, id)``, the rest by ``created_at``.
    """
    scope, args = in_scope(f, "subscriber")
    kinds = (EntryKind.CHARGE, EntryKind.PAYMENT, EntryKind.REFUND, EntryKind.ADJUSTMENT)
    charge, month = EntryKind.CHARGE.value, sql_local_month("created_at")
    listed = ", ".join(repr(k.value) for k in kinds)
    rows = await fetch(
        f"SELECT kind, period AS m, SUM(amount) AS total FROM ledger_entry"
        f" WHERE kind = '{charge}' AND period BETWEEN ? AND ?{scope} GROUP BY kind, period"
        " UNION ALL"
        f" SELECT kind, {month} AS m, SUM(amount) AS total FROM ledger_entry"
        f" WHERE created_at >= ? AND created_at < ? AND kind IN ({listed})"
        f" AND (kind <> '{charge}' OR period IS NULL){scope} GROUP BY kind, {month}",
        f.month_from, f.month_to, *args, f.start_utc, f.end_utc, *args,
    )
    sums = {m: dict.fromkeys(kinds, 0) for m in f.months}
    for r in rows:
        sums[r["m"]][EntryKind(r["kind"])] += as_int(r["total"])

    def line(label: str, s: dict[EntryKind, int]) -> tuple:
        charged, paid = -s[EntryKind.CHARGE], s[EntryKind.PAYMENT]
        refunded = -s[EntryKind.REFUND]
        return (label, charged, paid, refunded, s[EntryKind.ADJUSTMENT], paid - refunded - charged)

    total = {k: sum(s[k] for s in sums.values()) for k in kinds}
    columns = [Column("month", "Месяц", "month"), Column("charged", "Начислено", "money"),
               Column("paid", "Оплачено", "money"), Column("refunded", "Возвраты", "money"),
               Column("adjusted", "Корректировки", "money"),
               Column("difference", "Разница (оплачено − возвраты − начислено)", "money")]
    return Report("billing", "Начисления и оплаты", columns,
                  [line(m, sums[m]) for m in f.months], total=line(TOTAL, total))


def charts(report: Report, f: Filters) -> list[Chart]:
    return [Chart("Начислено и оплачено", report.labels("month"), report.series("charged", "paid"),
                  money=True)]


SPEC = spec("billing", "Начисления и оплаты", "Что начислено, что оплачено и разница по месяцам.",
            billing_report, "period town tariff", charts=charts)
