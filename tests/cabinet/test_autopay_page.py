"""The cabinet's autopay page: a card saved from a top-up, settings saved, refused and removed."""

from __future__ import annotations

import httpx
import pytest

from tables.payments.autopay import Autopay, save_card
from tests.support.factories import make_subscriber
from tests.support.helpers import cabinet_login, csrf_from

PASSWORD = "correct-horse-1"


async def login(client: httpx.AsyncClient):
    person = await make_subscriber()
    assert (await cabinet_login(client, person.contract_number, PASSWORD)).status_code == 303
    return person


async def test_without_a_card_the_page_says_how_to_save_one(client):
    await login(client)
    page = await client.get("/cabinet/autopay")
    assert page.status_code == 200 and "Сохранить карту для автоплатежа" in page.text


@pytest.mark.usefixtures("stripe_sandbox")
async def test_the_card_page_offers_to_save_the_card(client):
    await login(client)
    page = await client.get("/cabinet/pay")
    started = await client.post("/cabinet/pay", data={"amount": "500", "_csrf_token": csrf_from(page.text)})
    card = await client.get(started.headers["location"])
    assert 'name="save_card"' in card.text


async def test_settings_saved_refused_and_card_removed(client):
    person = await login(client)
    await save_card(person.id, customer_id="cus_1",
                    card={"id": "card_1", "brand": "Visa", "last4": "4242", "exp_month": 12,
                          "exp_year": 2034})
    page = await client.get("/cabinet/autopay")
    assert "Visa •••• 4242" in page.text and "12/34" in page.text
    token = csrf_from(page.text)
    bad = await client.post("/cabinet/autopay", data={"enabled": "1", "days_before": "40",
                                                      "amount_mode": "fee", "_csrf_token": token})
    assert bad.status_code == 400 and "от 1 до 10" in bad.text
    bad = await client.post("/cabinet/autopay", data={"enabled": "1", "days_before": "3",
                                                      "amount_mode": "fee", "monthly_limit": "сто",
                                                      "_csrf_token": token})
    assert bad.status_code == 400
    ok = await client.post("/cabinet/autopay", data={"days_before": "5", "amount_mode": "fee",
                                                     "monthly_limit": "1 500", "_csrf_token": token})
    assert ok.status_code == 303
    row = await Autopay.select().where(Autopay.subscriber == person.id).first()
    assert (row["enabled"], row["days_before"], row["amount_mode"], row["monthly_limit"]) == (
        False, 5, "fee", 150000)
    removed = await client.post("/cabinet/autopay/remove", data={"_csrf_token": token})
    assert removed.status_code == 303 and await Autopay.count() == 0
    assert "Карта удалена" in (await client.get(removed.headers["location"])).text
