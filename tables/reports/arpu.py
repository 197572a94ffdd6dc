"""``arpu``: contracts in service and the average charge per contract, month by month."""

from __future__ import annotations

import datetime as dt

from tables.ledger import EntryKind
from tables.month import Month
from tables.reports.filters import Filters
from tables.reports.report import Chart, Column, Report, Series, spec
from tables.reports.sql import as_int, fetch, in_scope, ratio, subscriber_scope


async def arpu_report(f: Filters, now: dt.datetime) -> Report:
    """Contracts in service during each month, charges for the month and their ratio.

    In service: connected on or before the month's last day and not terminated
    before its first day (suspended contracts count: suspension history is not kept).
    """
    joins, where, args = subscriber_scope(f)
    scope, scope_args = in_scope(f, "le.subscriber")
    charges = await fetch(
        f"SELECT le.period AS m, -SUM(le.amount) AS charged FROM ledger_entry le"
        f" WHERE le.kind = '{EntryKind.CHARGE.value}' AND le.period BETWEEN ? AND ?{scope}"
        f" GROUP BY le.period",
        f.month_from, f.month_to, *scope_args,
    )
    charged = {r["m"]: as_int(r["charged"]) for r in charges}
    # Every month's count in one pass over the contracts (was a query per month).
    in_service = ", ".join(
        f"SUM(CASE WHEN s.connected_on <= ? AND (s.terminated_on IS NULL OR s.terminated_on >= ?)"
        f" THEN 1 ELSE 0 END) AS n{i}" for i in range(len(f.months)))
    counted = (await fetch(
        f"SELECT {in_service} FROM subscriber s{joins} WHERE 1 = 1{where}",
        *[d for m in Month.range(f.month_from, f.month_to) for d in (m.last_day, m.first_day)], *args,
    ))[0]
    lines = []
    for i, m in enumerate(f.months):
        n = as_int(counted[f"n{i}"])
        revenue = charged.get(m, 0)
        arpu = ratio(revenue, n, 0)
        lines.append((m, n, revenue, int(arpu) if arpu is not None else None))
    columns = [Column("month", "Месяц", "month"),
               Column("subscribers", "Абонентов в обслуживании", "int"),
               Column("charged", "Начислено", "money"), Column("arpu", "ARPU", "money")]
    return Report("arpu", "ARPU и абоненты", columns, lines)


def charts(report: Report, f: Filters) -> list[Chart]:
    labels = report.labels("month")
    return [Chart("ARPU", labels, report.series("arpu"), kind="line", money=True),
            Chart("Абонентов в обслуживании", labels,
                  [Series("Абонентов", report.values("subscribers"))])]


SPEC = spec("arpu", "ARPU и абоненты", "Абоненты в обслуживании и средний доход на абонента по месяцам.",
            arpu_report, "period town tariff", charts=charts)
