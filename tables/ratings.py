"""Ratings of the cabinet by its users."""

from __future__ import annotations

from piccolo.columns import ForeignKey, OnDelete, SmallInt, Text, Timestamptz, Varchar
from piccolo.table import Table

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
    period = Varchar(length=7, help_text="Месяц оценки ГГГГ-ММ")
    created_at = Timestamptz(help_text="Время (UTC)")
