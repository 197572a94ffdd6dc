"""Money: integer kopecks inside; roubles only where people type or read them.

One module for every way an amount crosses that line:

- parse what staff and subscribers type: ``"1 500,50"``, ``"1500.5"``, ``"1 500 ₽"``
  (:func:`parse_rubles`, :func:`parse_signed_rubles`, :func:`read_rubles`), refusing in Russian;
- format for pages (:func:`format_rub`, ``"1 500,50 ₽"``, as Babel writes it for ru_RU), for
  CSV (:func:`format_csv`, ``"-1234,56"``), for XLSX cells and charts (:func:`to_decimal`), for
  messages (:func:`format_plain`, ``"1500,5"``) and grouped without the sign (:func:`format_amount`).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, TypeVar

C = TypeVar("C")

NBSP = "\u00a0"

# ASCII digits only: \d also matches other scripts' digits, which int() would accept.
_AMOUNT = re.compile(r"(?P<sign>[+-]?)(?P<rub>[0-9]{1,12})(?:[.,](?P<kop>[0-9]{1,2}))?")
_TOO_PRECISE = re.compile(r"[0-9]+[.,][0-9]{3,}")
# Spaces people and spreadsheets put between thousands: plain, no-break, narrow no-break.
_SPACES = str.maketrans("", "", " \u00a0\u202f")
#: What :func:`read_rubles` refuses with (callers that name the field add its name).
FORMAT_MESSAGE = "Сумма должна быть числом, например 500 или 499,90"


# --- typed by people ------------------------------------------------------------------------

def _cleaned(text: Any) -> str:
    raw = str(text if text is not None else "").strip().translate(_SPACES)
    return raw.removesuffix("₽").removesuffix("руб.").removesuffix("р")


def _kopecks(match: re.Match[str]) -> int:
    kopecks = int(match["rub"]) * 100 + int((match["kop"] or "0").ljust(2, "0"))
    return -kopecks if match["sign"] == "-" else kopecks


def read_rubles(text: Any) -> int | None:
    """A signed amount typed in roubles → kopecks; ``None`` when nothing was typed.

    >>> read_rubles("-1 500,5"), read_rubles(" "), read_rubles(20)
    (-150050, None, 2000)

    :raises ValueError: :data:`FORMAT_MESSAGE` for anything that is not an amount.
    """
    raw = _cleaned(text)
    if not raw:
        return None
    match = _AMOUNT.fullmatch(raw)
    if not match:
        raise ValueError(FORMAT_MESSAGE)
    return _kopecks(match)


def parse_rubles(text: str | int | None, *, min_kopecks: int = 1,
                 max_kopecks: int = 10_000_000) -> int:
    """Parse "1500", "1 500,5" or "1500.50" into kopecks; reject anything else.

    >>> parse_rubles("1 500,5")
    150050
    """
    raw = _cleaned(text)
    if not raw:
        raise ValueError("Укажите сумму")
    match = _AMOUNT.fullmatch(raw)
    if not match or match["sign"] or len(match["rub"]) > 9:
        if _TOO_PRECISE.fullmatch(raw):
            raise ValueError("Сумма может содержать не больше двух знаков после запятой")
        if raw.startswith("-"):
            raise ValueError("Сумма должна быть больше нуля")
        raise ValueError(FORMAT_MESSAGE)
    kopecks = _kopecks(match)
    if kopecks < min_kopecks:
        raise ValueError(f"Минимальная сумма — {format_plain(min_kopecks)} ₽")
    if kopecks > max_kopecks:
        raise ValueError(f"Максимальная сумма — {format_plain(max_kopecks)} ₽")
    return kopecks


def parse_signed_rubles(text: str) -> int:
    """An amount with an optional single sign: "-150,50" → -15050 (adjustments)."""
    raw = (text or "").strip()
    sign = -1 if raw.startswith("-") else 1
    return sign * parse_rubles(raw[1:] if raw[:1] in "+-" else raw)


# --- read by people -------------------------------------------------------------------------

def format_amount(kopecks: int, *, group: str = NBSP, suffix: str = "") -> str:
    """150050 → ``"1 500,50"`` (thousands apart by ``group``); -500 → ``"-5,00"``."""
    sign = "-" if kopecks < 0 else ""
    whole, part = divmod(abs(int(kopecks)), 100)
    return f"{sign}{whole:,}".replace(",", group) + f",{part:02d}{suffix}"


def format_rub(kopecks: int | None) -> str:
    """For pages: 1234567 → ``"12 345,67 ₽"`` (no-break spaces, as Babel's ru_RU currency format)."""
    return format_amount(kopecks or 0, suffix=NBSP + "₽")


def format_csv(kopecks: int) -> str:
    """For CSV: -123456 → ``"-1234,56"`` (what the SQL formatting of raw exports produces too)."""
    return format_amount(kopecks, group="")


def to_decimal(kopecks: int) -> Decimal:
    """For XLSX cells and charts: 123456 → ``Decimal("1234.56")``, exactly."""
    return Decimal(int(kopecks)).scaleb(-2)


def format_plain(kopecks: int) -> str:
    """12345 → '123,45', 150000 → '1500' (for messages; pages use :func:`format_rub`)."""
    return format_amount(kopecks, group="").removesuffix(",00")


# --- money columns --------------------------------------------------------------------------

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
