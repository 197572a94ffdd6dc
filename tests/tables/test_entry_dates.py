"""Dates and months are checked against a sane window where they enter the domain."""

from __future__ import annotations

import datetime as dt

import pytest

import tables.payments.payment
import tables.subscribers
from tables.audit import Actor
from tables.content import check_news_dates
from tables.ledger import LedgerEntry
from tables.payments.office import book_office_payment
from tables.payments.payment import Payment, check_payment_period, payable_periods
from tables.reports import Filters
from tests.support.factories import make_address, make_subscriber, make_tariff

NOW = dt.datetime(2026, 12, 10, 12, 0, tzinfo=dt.UTC)


def test_payment_period_within_a_year_back_and_two_months_ahead():
    today = dt.date(2026, 12, 10)
    assert check_payment_period(None, today=today) is None
    assert check_payment_period(" ", today=today) is None
    for good in ("2025-12", "2026-06", "2026-12", "2027-02"):
        assert check_payment_period(good, today=today) == good
    for bad in ("0000-01", "2025-11", "2027-03", "9999-12", "2026-13", "2026-1", "26-12", "декабрь"):
        with pytest.raises(ValueError, match=r"месяц оплаты в виде ГГГГ-ММ, с 12\.2025 по 02\.2027"):
            check_payment_period(bad, today=today)


def test_payable_months_follow_the_novokuznetsk_calendar(monkeypatch):
    # 31 Dec, 18:00 UTC is already 1 January in Novokuznetsk (UTC+7).
    new_year_eve = dt.datetime(2026, 12, 31, 18, 0, tzinfo=dt.UTC)
    monkeypatch.setattr(tables.payments.payment, "utcnow", lambda: new_year_eve)
    assert payable_periods() == ["2026-11", "2026-12", "2027-01", "2027-02"]
    assert check_payment_period("2027-03") == "2027-03"


async def test_office_payment_for_month_0000_01_is_refused_and_nothing_is_stored():
    subscriber = await make_subscriber()
    with pytest.raises(ValueError, match="месяц оплаты"):
        await book_office_payment(subscriber.id, 10000, actor=Actor("cashier"), period="0000-01")
    assert await Payment.count() == 0 and await LedgerEntry.count() == 0


def test_news_dates_within_five_years():
    near = {"published_at": NOW - dt.timedelta(days=400), "starts_at": NOW,
            "ends_at": NOW + dt.timedelta(days=3)}
    check_news_dates(near, now=NOW)
    check_news_dates({"published_at": None, "starts_at": None, "ends_at": None}, now=NOW)
    check_news_dates({"ends_at": dt.datetime(2031, 12, 10)}, now=NOW)  # naive values are UTC
    for key, value in [("ends_at", dt.datetime(9999, 12, 31, 23, 59, tzinfo=dt.UTC)),
                       ("starts_at", dt.datetime(1, 1, 1, tzinfo=dt.UTC)),
                       ("published_at", dt.datetime(2031, 12, 11, tzinfo=dt.UTC)),
                       ("published_at", dt.datetime(2021, 12, 9, tzinfo=dt.UTC))]:
        with pytest.raises(ValueError, match=r"укажите дату с 10\.12\.2021 по 10\.12\.2031"):
            check_news_dates({**near, key: value}, now=NOW)
    with pytest.raises(ValueError, match="Окончание работ должно быть позже начала"):
        check_news_dates({"starts_at": NOW, "ends_at": NOW - dt.timedelta(hours=1)}, now=NOW)


def test_report_day_within_2000_and_a_year_ahead():
    today = dt.date(2026, 11, 20)
    assert Filters.parse({"on": "2000-01-01"}, today=today).on == dt.date(2000, 1, 1)
    assert Filters.parse({"on": "2027-11-21"}, today=today).on == dt.date(2027, 11, 21)
    for bad in ("9999-12-31", "0001-01-01", "1999-12-31", "2027-11-22"):
        with pytest.raises(ValueError, match=r"Дата: укажите день с 01\.01\.2000 по 21\.11\.2027"):
            Filters.parse({"on": bad}, today=today)


async def test_a_new_contract_is_connected_on_the_novokuznetsk_day(monkeypatch):
    # 31 Dec, 18:00 UTC is already 1 January in Novokuznetsk (UTC+7): the server's date is not.
    new_year_eve = dt.datetime(2026, 12, 31, 18, 0, tzinfo=dt.UTC)
    monkeypatch.setattr(tables.subscribers, "utcnow", lambda: new_year_eve)
    address, tariff = await make_address(), await make_tariff()
    subscriber, _ = await tables.subscribers.create_subscriber(
        full_name="Петров Пётр Петрович", address_id=address.id, tariff_id=tariff.id,
        password="correct-horse-1")
    assert subscriber.connected_on == dt.date(2027, 1, 1)
