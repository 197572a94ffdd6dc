"""``churn``: connections and terminations by month, or terminations by reason."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from tables.reports.filters import Filters
from tables.reports.report import TOTAL, Chart, Column, Report, spec
from tables.reports.sql import as_int, fetch, ratio, sql_date_month, subscriber_scope
from tables.requests.queue import REQUEST_TOPIC_LABELS, RequestKind, RequestStatus

CHURN_GROUPS = {"month": "по месяцам", "reason": "по причинам расторжения"}
NO_REASON = "Причина не указана"
NO_REQUEST = "Без заявки на расторжение"


async def churn_report(f: Filters, now: dt.datetime) -> Report:
    """Connections and terminations by month, or terminations by reason.

    The reason is the topic (else "not given") of the contract's last completed
    termination request.
    """
    if (f.group or "month") == "reason":
        return await _by_reason(f)
    return await _by_month(f)


async def _by_reason(f: Filters) -> Report:
    joins, where, args = subscriber_scope(f)
    rows = await fetch(
        "SELECT (SELECT COALESCE(r.topic, '') || '|' FROM service_request r"
        f"  WHERE r.subscriber = s.id AND r.kind = '{RequestKind.TERMINATION.value}'"
        f"  AND r.status = '{RequestStatus.DONE.value}'"
        "  ORDER BY r.closed_at DESC, r.id DESC LIMIT 1) AS reason"
        f" FROM subscriber s{joins} WHERE s.terminated_on BETWEEN ? AND ?{where}",
        f.first_day, f.last_day, *args,
    )
    counts: dict[str, int] = {}
    for r in rows:
        if r["reason"] is None:
            label = NO_REQUEST
        else:
            topic = r["reason"][:-1].strip()
            label = REQUEST_TOPIC_LABELS.get(topic, topic) or NO_REASON
        counts[label] = counts.get(label, 0) + 1
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    n = sum(counts.values())
    lines = [(label, count, ratio(count * 100, n, 1)) for label, count in ordered]
    columns = [Column("reason", "Причина"), Column("terminations", "Расторжений", "int"),
               Column("share", "Доля, %", "decimal", 1)]
    return Report("churn", "Отток", columns, lines,
                  total=(TOTAL, n, Decimal("100.0") if n else None),
                  subtitle=CHURN_GROUPS["reason"])


async def _by_month(f: Filters) -> Report:
    joins, where, args = subscriber_scope(f)
    per_month = {m: [0, 0] for m in f.months}
    for i, column in enumerate(("connected_on", "terminated_on")):
        rows = await fetch(
            f"SELECT {sql_date_month('s.' + column)} AS m, COUNT(*) AS n FROM subscriber s{joins}"
            f" WHERE s.{column} BETWEEN ? AND ?{where} GROUP BY {sql_date_month('s.' + column)}",
            f.first_day, f.last_day, *args,
        )
        for r in rows:
            per_month[r["m"]][i] += as_int(r["n"])
    lines = [(m, c, t, c - t) for m, (c, t) in per_month.items()]
    columns = [Column("month", "Месяц", "month"), Column("connected", "Подключено", "int"),
               Column("terminated", "Расторгнуто", "int"), Column("net", "Прирост", "int")]
    total = (TOTAL, *[sum(line[i] for line in lines) for i in (1, 2, 3)])
    return Report("churn", "Отток", columns, lines, total=total, subtitle=CHURN_GROUPS["month"])


def charts(report: Report, f: Filters) -> list[Chart]:
    if f.group == "reason":
        return [Chart("Расторжения по причинам", report.labels("reason"), report.series("terminations"))]
    return [Chart("Подключения и расторжения", report.labels("month"),
                  report.series("connected", "terminated"))]


SPEC = spec("churn", "Отток", "Подключения и расторжения по месяцам и причины расторжений.",
            churn_report, "period town tariff group", CHURN_GROUPS, charts)
