"""``backlog``: requests still open (new or in progress) by age and kind."""

from __future__ import annotations

import datetime as dt

from tables.reports.filters import Filters
from tables.reports.report import TOTAL, Chart, Column, Report, spec
from tables.reports.sql import bucket, fetch, request_scope, timestamp
from tables.requests.queue import REQUEST_KIND_LABELS, RequestStatus

BACKLOG_BUCKETS = ((1, "до 1 дня"), (3, "1–3 дня"), (7, "3–7 дней"), (30, "7–30 дней"),
                   (None, "более 30 дней"))


async def backlog_report(f: Filters, now: dt.datetime) -> Report:
    """Open requests (new or in progress) right now by age and kind."""
    joins, where, args = request_scope(f)
    rows = await fetch(
        f"SELECT r.kind, r.created_at FROM service_request r{joins}"
        f" WHERE r.status IN ('{RequestStatus.NEW.value}', '{RequestStatus.IN_PROGRESS.value}'){where}",
        *args,
    )
    kinds = list(REQUEST_KIND_LABELS)
    counts = {label: dict.fromkeys(kinds, 0) for _, label in BACKLOG_BUCKETS}
    for r in rows:
        age = now - timestamp(r["created_at"])
        days = age.days + (1 if age % dt.timedelta(days=1) else 0)  # started days
        counts[bucket(days, BACKLOG_BUCKETS)][r["kind"]] += 1
    lines = [(label, *[c[k] for k in kinds], sum(c.values())) for label, c in counts.items()]
    columns = [Column("age", "Возраст заявки"),
               *[Column(k, REQUEST_KIND_LABELS[k], "int") for k in kinds],
               Column("total", "Всего", "int")]
    total = (TOTAL, *[sum(line[i] for line in lines) for i in range(1, len(columns))])
    return Report("backlog", "Открытые заявки по возрасту", columns, lines, total=total,
                  subtitle="новые и в работе сейчас")


def charts(report: Report, f: Filters) -> list[Chart]:
    kinds = [c.key for c in report.columns[1:-1]]
    return [Chart("Открытые заявки по возрасту", report.labels("age"), report.series(*kinds), stacked=True)]


SPEC = spec("backlog", "Открытые заявки", "Незакрытые заявки по возрасту.",
            backlog_report, "town tariff", charts=charts)
