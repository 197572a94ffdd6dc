"""``requests``: requests created in a period by kind, how soon staff answered and closed them."""

from __future__ import annotations

import datetime as dt

from tables.reports.filters import Filters
from tables.reports.report import TOTAL, Chart, Column, Report, Series, spec
from tables.reports.sql import fetch, hours, micros, percentile, request_scope, timestamp
from tables.requests.queue import REQUEST_KIND_LABELS


async def requests_report(f: Filters, now: dt.datetime) -> Report:
    """Requests created in the period by kind: volume, time to the first staff reply and to close.

    The first reply is the first non-internal event written by staff; times are
    in hours; percentiles interpolate linearly between ranks.
    """
    joins, where, args = request_scope(f)
    rows = await fetch(
        "SELECT r.kind, r.created_at, r.closed_at,"
        " (SELECT MIN(e.created_at) FROM request_event e WHERE e.service_request = r.id"
        "  AND e.staff IS NOT NULL AND NOT e.internal) AS replied_at"
        f" FROM service_request r{joins} WHERE r.created_at >= ? AND r.created_at < ?{where}",
        f.start_utc, f.end_utc, *args,
    )
    kinds = list(REQUEST_KIND_LABELS)
    stats: dict[str, dict[str, list[int]]] = {k: {"all": [], "reply": [], "close": []}
                                              for k in [*kinds, "*"]}
    for r in rows:
        created = timestamp(r["created_at"])
        replied, closed = timestamp(r["replied_at"]), timestamp(r["closed_at"])
        for key in (r["kind"], "*"):
            bucket = stats.setdefault(key, {"all": [], "reply": [], "close": []})
            bucket["all"].append(1)
            if replied is not None:
                bucket["reply"].append(micros(replied - created))
            if closed is not None:
                bucket["close"].append(micros(closed - created))

    def line(label: str, s: dict[str, list[int]]) -> tuple:
        return (label, len(s["all"]), len(s["close"]), len(s["all"]) - len(s["reply"]),
                hours(percentile(s["reply"], 0.5)), hours(percentile(s["reply"], 0.9)),
                hours(percentile(s["close"], 0.5)), hours(percentile(s["close"], 0.9)))

    lines = [line(REQUEST_KIND_LABELS.get(k, k), stats[k]) for k in stats if k != "*"]
    columns = [Column("kind", "Вид заявки"), Column("created", "Создано", "int"),
               Column("closed", "Закрыто", "int"), Column("unanswered", "Без ответа", "int"),
               Column("reply_median", "Первый ответ: медиана, ч", "decimal", 1),
               Column("reply_p90", "Первый ответ: 90%, ч", "decimal", 1),
               Column("close_median", "Закрытие: медиана, ч", "decimal", 1),
               Column("close_p90", "Закрытие: 90%, ч", "decimal", 1)]
    return Report("requests", "Обработка заявок", columns, lines, total=line(TOTAL, stats["*"]))


def charts(report: Report, f: Filters) -> list[Chart]:
    return [Chart("Время до первого ответа, ч", report.labels("kind"),
                  [Series("Медиана", report.values("reply_median")),
                   Series("90%", report.values("reply_p90"))])]


SPEC = spec("requests", "Обработка заявок", "Заявки по видам: время до первого ответа и до закрытия.",
            requests_report, "period town tariff", charts=charts)
