"""``subscribers``: contracts in service now, per tariff and town."""

from __future__ import annotations

import datetime as dt

from tables.reports.filters import Filters
from tables.reports.report import TOTAL, Chart, Column, Report, spec
from tables.reports.sql import as_int, fetch, subscriber_scope
from tables.subscribers import SubscriberStatus


async def subscribers_report(f: Filters, now: dt.datetime) -> Report:
    """Contracts in service now (active or suspended) per tariff (rows) and town (columns)."""
    joins, where, args = subscriber_scope(f)
    rows = await fetch(
        "SELECT t.id AS tariff_id, t.name AS tariff, tw.id AS town_id, COUNT(*) AS n"
        " FROM subscriber s JOIN tariff t ON t.id = s.tariff JOIN address a ON a.id = s.address"
        f" JOIN street st ON st.id = a.street JOIN town tw ON tw.id = st.town{joins}"
        f" WHERE s.status <> '{SubscriberStatus.TERMINATED.value}'{where}"
        " GROUP BY t.id, t.name, tw.id",
        *args,
    )
    town_sql, town_args = "SELECT id, name FROM town", []
    if f.town:
        town_sql, town_args = town_sql + " WHERE id = ?", [f.town]
    towns = await fetch(town_sql + " ORDER BY name", *town_args)
    tariffs: dict[int, str] = {}
    counts: dict[tuple[int, int], int] = {}
    for r in rows:
        tariffs[r["tariff_id"]] = r["tariff"]
        counts[(r["tariff_id"], r["town_id"])] = as_int(r["n"])
    lines = []
    for tariff_id, name in sorted(tariffs.items(), key=lambda item: item[1]):
        cells = [counts.get((tariff_id, t["id"]), 0) for t in towns]
        lines.append((name, *cells, sum(cells)))
    columns = [Column("tariff", "Тариф"),
               *[Column(f"town_{t['id']}", t["name"], "int") for t in towns],
               Column("total", "Всего", "int")]
    total = (TOTAL, *[sum(line[i] for line in lines) for i in range(1, len(columns))])
    return Report("subscribers", "Абоненты по тарифам и городам", columns, lines, total=total,
                  subtitle="договоры в обслуживании (активные и приостановленные) сейчас")


def charts(report: Report, f: Filters) -> list[Chart]:
    towns = [c.key for c in report.columns[1:-1]]
    return [Chart("Абоненты по тарифам", report.labels("tariff"), report.series(*towns), stacked=True)]


SPEC = spec("subscribers", "Абоненты по тарифам и городам", "Договоры в обслуживании сейчас.",
            subscribers_report, "town tariff", charts=charts)
