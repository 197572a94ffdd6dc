"""Ratings of the cabinet by its users."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from piccolo.columns import ForeignKey, OnDelete, SmallInt, Text, Timestamptz, Varchar
from piccolo.query.functions.aggregate import Count
from piccolo.table import Table

from db.engine import write_transaction
from tables.month import Month
from tables.subscribers import Subscriber

# The seed's five levels, score 1..5.
RATING_LABELS = {
    1: "Не удобно",
    2: "Не очень удобно",
    3: "Достаточно удобно",
    4: "Удобно",
    5: "Лучше не бывает",
}


class CabinetRating(Table, help_text="Оценки удобства личного кабинета (1–5)"):
    subscriber = ForeignKey(Subscriber, null=True, default=None, on_delete=OnDelete.set_null,
                            help_text="Абонент (пусто — анонимно)")
    score = SmallInt(help_text="Оценка 1–5: Не удобно … Лучше не бывает")
    comment = Text(default="", help_text="Комментарий")
    period = Varchar(length=7, help_text="Месяц оценки (ГГГГ-ММ)")
    created_at = Timestamptz(help_text="Время")

MAX_COMMENT_LENGTH = 1000
# Months are counted in the provider's local time: a rating at 01:00 on the
# 1st in Novokuznetsk belongs to the new month.

MESSAGES = {
    "score": "Выберите оценку от 1 до 5.",
    "comment_long": f"Комментарий слишком длинный: не больше {MAX_COMMENT_LENGTH} символов.",
    "comment_type": "Комментарий должен быть текстом.",
    "no_subscriber": "Договор не найден.",
}


def rating_period(now: dt.datetime) -> str:
    """The month a rating counts for, ``YYYY-MM`` in local time."""
    return Month.of(now).iso


def parse_score(score: int | str | None) -> int:
    """Accept 1..5 as an int or its decimal text; anything else is a ``ValueError``."""
    if isinstance(score, bool):
        raise ValueError(MESSAGES["score"])
    if isinstance(score, str):
        text = score.strip()
        if not (text.isascii() and text.isdigit()):
            raise ValueError(MESSAGES["score"])
        score = int(text)
    if not isinstance(score, int) or score not in RATING_LABELS:
        raise ValueError(MESSAGES["score"])
    return score


async def rate_cabinet(
    score: int | str | None,
    comment: str | None,
    *,
    subscriber_id: int | None = None,
    now: dt.datetime,
) -> CabinetRating:
    """Store a rating of the cabinet; a subscriber's later rating in the same month replaces theirs.

    :param score: 1 (Не удобно) … 5 (Лучше не бывает), int or its text.
    :param comment: optional, at most ``MAX_COMMENT_LENGTH`` characters.
    :param subscriber_id: the logged-in subscriber, ``None`` for an anonymous
        visitor (anonymous ratings are never merged; the site rate-limits them).
    :raises ValueError: with a Russian message; nothing is stored then.
    """
    value = parse_score(score)
    # Browsers submit textarea line breaks as CRLF but count them as one
    # character against ``maxlength``: count them the same way.
    if comment is not None and not isinstance(comment, str):
        raise ValueError(MESSAGES["comment_type"])
    text = (comment or "").replace("\r\n", "\n").strip()
    if len(text) > MAX_COMMENT_LENGTH:
        raise ValueError(MESSAGES["comment_long"])
    rating = CabinetRating(subscriber=subscriber_id, score=value, comment=text,
                           period=rating_period(now), created_at=now)
    async with write_transaction():
        if subscriber_id is None:
            await CabinetRating.insert(rating)
            return rating
        if not await Subscriber.exists().where(Subscriber.id == subscriber_id):
            raise ValueError(MESSAGES["no_subscriber"])
        # The unique index on (subscriber, period) makes this one row per month,
        # even for two submissions racing each other.
        rows = await (
            CabinetRating.insert(rating)
            .on_conflict(
                target=(CabinetRating.subscriber, CabinetRating.period),
                action="DO UPDATE",
                values=[CabinetRating.score, CabinetRating.comment, CabinetRating.created_at],
            )
            .returning(CabinetRating.id)
        )
    rating.id = rows[0]["id"]
    rating._exists_in_db = True
    return rating


# --- Staff report -------------------------------------------------------------

@dataclass(frozen=True)
class MonthSummary:
    """Distribution of one month's ratings and its comments, newest first."""

    period: str
    counts: dict[int, int]
    comments: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def average(self) -> float:
        return sum(s * n for s, n in self.counts.items()) / self.total if self.total else 0.0


async def rating_summary(period: str | None = None, *, months: int = 12) -> list[MonthSummary]:
    """Ratings per month (the given ``YYYY-MM``, or the latest ``months``), newest first."""
    if period is not None:
        period = Month.parse(period, message="Месяц укажите в виде ГГГГ-ММ, например 2026-11.").iso
    query = CabinetRating.select(CabinetRating.period, CabinetRating.score,
                                 Count(CabinetRating.id, alias="n")).group_by(
        CabinetRating.period, CabinetRating.score)
    if period is not None:
        query = query.where(CabinetRating.period == period)
    counts: dict[str, dict[int, int]] = {}
    for row in await query:
        counts.setdefault(row["period"], dict.fromkeys(RATING_LABELS, 0))[row["score"]] = row["n"]
    chosen = sorted(counts, reverse=True)[:months]
    if not chosen:
        return []
    comments = await (
        CabinetRating.select(CabinetRating.period, CabinetRating.score, CabinetRating.comment,
                             CabinetRating.created_at, CabinetRating.subscriber)
        .where(CabinetRating.period.is_in(chosen) & (CabinetRating.comment != ""))
        .order_by(CabinetRating.created_at, ascending=False)
    )
    by_period: dict[str, list[dict[str, Any]]] = {p: [] for p in chosen}
    for row in comments:
        by_period[row["period"]].append(row)
    return [MonthSummary(period=p, counts=counts[p], comments=by_period[p]) for p in chosen]


async def current_rating(subscriber_id: int, *, now: dt.datetime) -> dict[str, Any] | None:
    """The subscriber's rating for the month of ``now``, if any (a new one would replace it)."""
    return await CabinetRating.select(CabinetRating.score, CabinetRating.comment).where(
        (CabinetRating.subscriber == subscriber_id) & (CabinetRating.period == rating_period(now))
    ).first()
