"""``ratings``: the cabinet's ratings per month: how many, the average, the distribution."""

from __future__ import annotations

import datetime as dt

from tables.ratings import RATING_LABELS
from tables.reports.filters import Filters
from tables.reports.report import TOTAL, Chart, Column, Report, spec
from tables.reports.sql import as_int, fetch, ratio


async def ratings_report(f: Filters, now: dt.datetime) -> Report:
    """Cabinet ratings per month (by the rating's month): count, average and distribution."""
    rows = await fetch(
        "SELECT period AS m, score, COUNT(*) AS n FROM cabinet_rating"
        " WHERE period BETWEEN ? AND ? GROUP BY period, score",
        f.month_from, f.month_to,
    )
    scores = list(RATING_LABELS)
    counts = {m: dict.fromkeys(scores, 0) for m in f.months}
    for r in rows:
        counts[r["m"]][int(r["score"])] += as_int(r["n"])

    def line(label: str, c: dict[int, int]) -> tuple:
        n = sum(c.values())
        return (label, n, ratio(sum(s * k for s, k in c.items()), n), *[c[s] for s in scores])

    total = {s: sum(c[s] for c in counts.values()) for s in scores}
    columns = [Column("month", "Месяц", "month"), Column("count", "Оценок", "int"),
               Column("average", "Средняя оценка", "decimal", 2),
               *[Column(f"score_{s}", f"{s} — {RATING_LABELS[s]}", "int") for s in scores]]
    return Report("ratings", "Оценки кабинета", columns, [line(m, counts[m]) for m in f.months],
                  total=line(TOTAL, total))


def charts(report: Report, f: Filters) -> list[Chart]:
    scores = [c.key for c in report.columns if c.key.startswith("score_")]
    return [Chart("Оценки по месяцам", report.labels("month"), report.series(*scores), stacked=True)]


SPEC = spec("ratings", "Оценки кабинета", "Распределение оценок по месяцам.", ratings_report, "period",
            charts=charts)
