"""The one money module (tables/money.py): what people type, what pages, CSV and XLSX show."""

from __future__ import annotations

from decimal import Decimal

import pytest
from babel.numbers import format_currency
from hypothesis import given
from hypothesis import strategies as st

from tables.money import (
    FORMAT_MESSAGE,
    format_amount,
    format_csv,
    format_plain,
    format_rub,
    parse_rubles,
    read_rubles,
    to_decimal,
)

amounts = st.integers(-(10**14) + 1, 10**14 - 1)  # up to 12 digits of roubles


@given(amounts)
def test_pages_read_as_babel_wrote_them(kopecks: int) -> None:
    """Pages used Babel's ru_RU currency format: not a character may change."""
    assert format_rub(kopecks) == format_currency(Decimal(kopecks).scaleb(-2), "RUB", locale="ru_RU")


@given(amounts)
def test_every_format_reads_back(kopecks: int) -> None:
    assert read_rubles(format_csv(kopecks)) == kopecks
    assert read_rubles(format_rub(kopecks)) == kopecks
    assert read_rubles(format_amount(kopecks, group=" ")) == kopecks
    assert read_rubles(format_plain(kopecks)) == kopecks
    assert to_decimal(kopecks) * 100 == kopecks


def test_formats() -> None:
    assert format_rub(150050) == "1\xa0500,50\xa0₽" and format_rub(None) == "0,00\xa0₽"
    assert format_csv(-123456) == "-1234,56" and format_csv(5) == "0,05"
    assert format_amount(1400050, group=" ", suffix=" ₽") == "14 000,50 ₽"
    assert format_amount(-500) == "-5,00"
    assert format_plain(150000) == "1500" and format_plain(150050) == "1500,50"
    assert format_plain(-500) == "-5" and format_plain(-5) == "-0,05" and format_plain(0) == "0"
    assert to_decimal(-5) == Decimal("-0.05")


@pytest.mark.parametrize(("text", "kopecks"), [
    ("1 500,50", 150050), ("1500.5", 150050), ("1\xa0500", 150000), ("1\u202f500,5 ₽", 150050),
    ("-20", -2000), ("+7", 700), ("500р", 50000), ("12 руб.", 1200), (20, 2000), ("", None), ("  ", None),
    (None, None),
])
def test_read_rubles(text: str | int | None, kopecks: int | None) -> None:
    assert read_rubles(text) == kopecks


@pytest.mark.parametrize("text", ["abc", "1,234", "1e5", "--5", "5-", "1.2.3", "１５", "1" * 13])
def test_read_rubles_refuses_in_russian(text: str) -> None:
    with pytest.raises(ValueError, match=f"^{FORMAT_MESSAGE}$"):
        read_rubles(text)


@pytest.mark.parametrize(("text", "message"), [
    ("", "Укажите сумму"), ("abc", "числом"), ("1,234", "двух знаков"), ("-5", "больше нуля"),
    ("+5", "числом"), ("1234567890", "числом"), ("0", "Минимальная сумма — 0,01 ₽"),
    ("100000,01", "Максимальная сумма — 100000 ₽"),
])
def test_parse_rubles_refusals(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_rubles(text)


def test_parse_rubles_limits() -> None:
    assert parse_rubles("1 500,5") == 150050
    assert parse_rubles("0", min_kopecks=0) == 0
    assert parse_rubles("999999999,99", max_kopecks=10**11) == 99_999_999_999
