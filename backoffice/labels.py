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
from tables.money import is_kopecks

# The name ends where the explanation starts: ". ", ": ", ", ", " (" or " — ".
_NAME_END = re.compile(r"\. |: |, | \(| — ")
NBSP = "\u00a0"


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
    if kopecks is None:
        return None
    sign = "-" if kopecks < 0 else ""
    whole, part = divmod(abs(int(kopecks)), 100)
    digits = f"{whole:,}".replace(",", NBSP if grouped else "")
    return f"{sign}{digits},{part:02d}"


_RUBLES = re.compile(r"^(?P<sign>[+-]?)(?P<rub>[0-9]{1,12})(?:[.,](?P<kop>[0-9]{1,2}))?$")


def parse_rubles_field(value: Any, title: str) -> int | None:
    """What a clerk typed in a money field («1 500,50», «1500.5», «-20») → kopecks."""
    if value is None or isinstance(value, bool):
        return None
    # Roubles whatever the JSON type: a number from an API client means roubles as well.
    text = str(value).strip().replace(NBSP, "").replace(" ", "").removesuffix("₽")
    if text == "":
        return None
    match = _RUBLES.match(text)
    if not match:
        raise ValueError(f"{title}: сумма в рублях, например 1 500,00 (не больше двух знаков "
                         "после запятой).")
    kopecks = int(match["rub"]) * 100 + int((match["kop"] or "0").ljust(2, "0"))
    return -kopecks if match["sign"] == "-" else kopecks


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
