"""``comments``: the latest comments subscribers left with their ratings (a list, no chart)."""

from __future__ import annotations

import datetime as dt

from tables.ratings import RATING_LABELS
from tables.reports.filters import Filters
from tables.reports.report import Column, Report, spec
from tables.reports.sql import fetch, timestamp

LATEST_COMMENTS = 100


async def comments_report(f: Filters, now: dt.datetime) -> Report:
    """The latest rating comments of the period, newest first."""
    rows = await fetch(
        "SELECT c.created_at, c.period, c.score, c.comment, s.contract_number"
        " FROM cabinet_rating c LEFT JOIN subscriber s ON s.id = c.subscriber"
        " WHERE c.period BETWEEN ? AND ? AND c.comment <> ''"
        f" ORDER BY c.created_at DESC, c.id DESC LIMIT {LATEST_COMMENTS}",
        f.month_from, f.month_to,
    )
    lines = [(timestamp(r["created_at"]), r["period"], int(r["score"]),
              RATING_LABELS.get(int(r["score"]), ""), r["comment"], r["contract_number"] or "")
             for r in rows]
    columns = [Column("created_at", "Когда", "datetime"), Column("month", "Месяц", "month"),
               Column("score", "Оценка", "int"), Column("label", "Оценка словами"),
               Column("comment", "Комментарий"), Column("contract", "Договор")]
    return Report("comments", "Комментарии к оценкам", columns, lines,
                  subtitle=f"последние {LATEST_COMMENTS}")


SPEC = spec("comments", "Комментарии к оценкам", "Последние комментарии абонентов к оценкам.",
            comments_report, "period")
