"""How the admin names and shows things: Russian titles, roubles, local time.

Piccolo 1.38 has no ``verbose_name`` (an unknown column argument is kept in the migration
parameters and shown nowhere); what it has is ``help_text`` on columns and tables, which
reaches Piccolo Admin's schema as the tooltip. So the Russian text is written once, as the
``help_text`` beside the table, and its first phrase is the name:

    balance = kopecks(BigInt(default=0, help_text="Баланс, ₽ (сумма проводок)"))
    → column «Баланс», tooltip «Баланс, ₽ (сумма проводок)», shown as «1 500,00»

Money columns are marked with ``tables.money.kopecks``: stored in kopecks, shown and typed
in roubles. Timestamps are shown in ``tables.calendar.LOCAL_TZ``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from piccolo.columns import Column
from piccolo.table import Table

from tables.calendar import LOCAL_TZ, as_utc
from tables.money import NBSP, format_amount, is_kopecks, read_rubles

# The name ends where the explanation starts: ". ", ": ", ", ", " (" or " — ".
_NAME_END = re.compile(r"\. |: |, | \(| — ")


def title_of(help_text: str | None, fallback: str) -> str:
    """«Баланс, ₽ (сумма проводок)» → «Баланс»; no help text → the identifier."""
    text = (help_text or "").strip()
    if not text:
        return fallback.replace("_", " ")
    name = _NAME_END.split(text, maxsplit=1)[0].rstrip(".")
    return name[:1].upper() + name[1:]


#: Tables of Piccolo's own apps, whose help texts are English or missing: (name, columns).
LIBRARY_TABLES: dict[str, tuple[str, dict[str, str]]] = {
    "piccolo_user": ("Сотрудники", {
        "username": "Логин", "password": "Пароль", "first_name": "Имя", "last_name": "Фамилия",
        "email": "Электронная почта", "active": "Активен", "admin": "Доступ в админку",
        "superuser": "Суперпользователь (управляет сотрудниками)", "last_login": "Последний вход",
    }),
}


def column_title(column: Column) -> str:
    library = LIBRARY_TABLES.get(column._meta.table._meta.tablename)
    if library and column._meta.name in library[1]:
        return library[1][column._meta.name]
    title = title_of(column._meta.help_text, column._meta.name)
    return title if not is_kopecks(column) or "₽" in title else f"{title}, ₽"


def field_titles(table: type[Table], names: list[str]) -> list[str]:
    """Column names as the clerk sees them: ``["tariff"]`` → ``["«Тариф»"]``."""
    columns = {c._meta.name: c for c in table._meta.columns}
    return [f"«{column_title(columns[n])}»" if n in columns else n for n in names]


def table_title(table: type[Table]) -> str:
    if table._meta.tablename in LIBRARY_TABLES:
        return LIBRARY_TABLES[table._meta.tablename][0]
    return title_of(table._meta.help_text, table._meta.tablename)


def has_cyrillic(text: str) -> bool:
    return re.search("[А-Яа-яЁё]", text) is not None


def rubles(kopecks: int | None, *, grouped: bool = True) -> str | None:
    """150050 → «1 500,50» (a no-break space between thousands); -500 → «-5,00»."""
    return None if kopecks is None else format_amount(kopecks, group=NBSP if grouped else "")


def parse_rubles_field(value: Any, title: str) -> int | None:
    """What a clerk typed in a money field («1 500,50», «1500.5», «-20») → kopecks."""
    if value is None or isinstance(value, bool):
        return None
    try:
        # Roubles whatever the JSON type: a number from an API client means roubles as well.
        return read_rubles(value)
    except ValueError:
        raise ValueError(f"{title}: сумма в рублях, например 1 500,00 (не больше двух знаков "
                         "после запятой).") from None


def local_time(value: Any) -> Any:
    """A stored moment as the office reads it: «07.12.2026 13:24» in the provider's zone."""
    if not isinstance(value, str | dt.datetime):
        return value
    try:
        return as_utc(value).astimezone(LOCAL_TZ).strftime("%d.%m.%Y %H:%M")
    except ValueError:
        return value


def local_date(value: Any) -> Any:
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            return value
    return value.strftime("%d.%m.%Y") if isinstance(value, dt.date) else value
