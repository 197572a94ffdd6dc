"""One monthly-fee rule (tables.billing.fee): tariff + router rent + a booked change that applies
next month, the same figure on the dashboard, the top-up page, the forecast, the promised payment,
the office card and in the charge run; the top-up page honours the dashboard's ``?amount=``."""

from __future__ import annotations

import re
from html import unescape

import pytest

from tables.audit import Actor
from tables.billing.fee import monthly_fee
from tables.billing.promised import promised_payment_offer
from tables.billing.tariff_changes import schedule_tariff_change
from tables.calendar import local_date, utcnow
from tables.card import subscriber_card
from tables.month import Month
from tables.statements import dashboard
from tables.subscribers import Subscriber
from tests.support.factories import make_subscriber, make_tariff, post_at
from tests.support.helpers import sign_in
from web.formatting import rub


def text_of(html: str) -> str:
    return re.sub(r"[ \t\r\n]+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def amount_field(html: str) -> str:
    return re.search(r'<input id="amount" name="amount"[^>]*value="([^"]*)"', html).group(1)


async def router_renter(*, balance: int = 0, booked: bool = True) -> Subscriber:
    """650 ₽ + 150 ₽ router rent today (800 ₽); with ``booked``, a 750 ₽ tariff from the 1st of
    next month (900 ₽ with the router), booked as staff book it."""
    now_tariff = await make_tariff("Базовый", fee=65000, router_fee=15000, router_option=True)
    s = await make_subscriber(tariff=now_tariff, router_rented=True)
    if booked:
        later = await make_tariff("Оптима", fee=75000, router_fee=15000, router_option=True)
        await schedule_tariff_change(s.id, later.id, Month.of(local_date(utcnow())).next.first_day,
                                     Actor("clerk"), comment="заявка")
    if balance:
        await post_at(s.id, balance, utcnow(), kind="adjustment")
    return await Subscriber.objects().where(Subscriber.id == s.id).first()


@pytest.mark.parametrize("booked,next_month", [(True, 90000), (False, 80000)])
async def test_every_page_shows_the_same_monthly_fee(client, booked, next_month):
    s = await router_renter(booked=booked)
    now = utcnow()
    today = local_date(now)

    fee = await monthly_fee(s, today=today)
    assert (fee.current, fee.next) == (80000, next_month)
    # The charge run books exactly that for next month (its SQL writes the same rule).
    from tables.billing.fee import compute_charge
    assert await compute_charge(s.id, Month.of(today).next) == next_month

    view = await dashboard(s, now=now)
    assert view.forecast.monthly_fee == next_month and view.forecast.top_up == next_month
    assert view.promised.max_amount == next_month
    assert (await promised_payment_offer(s.id, now=now)).max_amount == next_month
    card = await subscriber_card(s.contract_number, now=now)
    assert card.forecast.monthly_fee == next_month and card.forecast.top_up == next_month

    await sign_in(client, s.id)
    home = await client.get("/cabinet/")
    text = text_of(home.text)
    assert f"— {rub(next_month)}" in text  # «Следующее списание: 1 … — 900,00 ₽»
    assert f"Рекомендуем внести {rub(next_month)}" in text
    assert f'href="/cabinet/pay?amount={next_month // 100}"' in home.text
    assert f"Взять обещанный платёж {rub(next_month)}" in text

    # The dashboard's link and the plain page offer the same amount.
    for url in (f"/cabinet/pay?amount={next_month // 100}", "/cabinet/pay"):
        page = await client.get(url)
        assert page.status_code == 200
        assert amount_field(page.text) == f"{next_month // 100},00"
        assert f"Рекомендуем внести {rub(next_month)}" in text_of(page.text)
    if booked:
        assert "тариф «Оптима», 900,00 ₽ в месяц" in text_of(page.text).replace("\xa0", " ")


async def test_top_up_page_pre_fills_the_amount_of_the_link(client):
    s = await router_renter(balance=10000, booked=False)  # 100 ₽ on the balance: 700 ₽ suggested
    await sign_in(client, s.id)
    page = await client.get("/cabinet/pay?amount=800")
    assert page.status_code == 200 and amount_field(page.text) == "800,00"
    assert amount_field((await client.get("/cabinet/pay?amount=1250,5")).text) == "1250,50"


@pytest.mark.parametrize("bad", ["", "abc", "0", "-800", "5", "15000,01", "800,555", "1e3", "9" * 40,
                                 "800%00", "%D0%B0"])
async def test_top_up_page_ignores_a_bad_amount(client, bad):
    s = await router_renter(balance=10000, booked=False)
    await sign_in(client, s.id)
    page = await client.get(f"/cabinet/pay?amount={bad}")
    assert page.status_code == 200
    assert amount_field(page.text) == "700,00"  # the rule's own: 800 ₽ next month − 100 ₽


async def test_top_up_page_takes_the_first_of_two_amounts(client):
    s = await router_renter(booked=False)
    await sign_in(client, s.id)
    page = await client.get("/cabinet/pay?amount=300&amount=400")
    assert page.status_code == 200 and amount_field(page.text) == "300,00"
