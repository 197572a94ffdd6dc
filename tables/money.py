"""Money parsing: user-typed roubles to integer kopecks, exactly."""

from __future__ import annotations

import re
from typing import Any, TypeVar

C = TypeVar("C")

# ASCII digits only: \d also matches other scripts' digits, which int() would accept.
_AMOUNT = re.compile(r"^(?P<rub>[0-9]{1,9})(?:[.,](?P<kop>[0-9]{1,2}))?$")


def parse_rubles(text: str | int | None, *, min_kopecks: int = 1,
                 max_kopecks: int = 10_000_000) -> int:
    """Parse "1500", "1 500,5" or "1500.50" into kopecks; reject anything else.

    >>> parse_rubles("1 500,5")
    150050
    """
    raw = str(text if text is not None else "").strip().replace("\u00a0", "").replace(" ", "")
    raw = raw.removesuffix("₽").removesuffix("руб.").removesuffix("р")
    if not raw:
        raise ValueError("Укажите сумму")
    match = _AMOUNT.match(raw)
    if not match:
        if re.match(r"^[0-9]+[.,][0-9]{3,}$", raw):
            raise ValueError("Сумма может содержать не больше двух знаков после запятой")
        if raw.startswith("-"):
            raise ValueError("Сумма должна быть больше нуля")
        raise ValueError("Сумма должна быть числом, например 500 или 499,90")
    kopecks = int(match["rub"]) * 100 + int((match["kop"] or "0").ljust(2, "0"))
    if kopecks < min_kopecks:
        raise ValueError(f"Минимальная сумма — {format_plain(min_kopecks)} ₽")
    if kopecks > max_kopecks:
        raise ValueError(f"Максимальная сумма — {format_plain(max_kopecks)} ₽")
    return kopecks


def format_plain(kopecks: int) -> str:
    """12345 → '123,45' (for messages; pages use the Babel filter)."""
    sign = "-" if kopecks < 0 else ""
    rub, kop = divmod(abs(kopecks), 100)
    return f"{sign}{rub},{kop:02d}" if kop else f"{sign}{rub}"


def parse_signed_rubles(text: str) -> int:
    """An amount with an optional single sign: "-150,50" → -15050 (adjustments)."""
    raw = (text or "").strip()
    sign = -1 if raw.startswith("-") else 1
    return sign * parse_rubles(raw[1:] if raw[:1] in "+-" else raw)


def kopecks(column: C) -> C:
    """Mark an integer column as money in kopecks: the admin shows and takes it in roubles.

    A mark on the column object (a column argument would go into the migrations, and
    Piccolo's copies of ``_meta`` keep only its own fields):
    ``amount = kopecks(BigInt(help_text="Сумма, ₽"))``.
    """
    column._kopecks = True  # type: ignore[attr-defined]
    return column


def is_kopecks(column: Any) -> bool:
    return bool(getattr(column, "_kopecks", False))
