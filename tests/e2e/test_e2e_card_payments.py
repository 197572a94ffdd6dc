"""Journeys 2 and 3: card payments in a real browser against the Stripe sandbox (localstripe).

The card is typed into the provider's element (the sandbox's fake Stripe.js renders plain inputs
inside our mount node; real Stripe renders an iframe), the 3-D Secure challenge is the sandbox's
dialog. Our server is reached only with a token, and the result page re-reads the intent.
"""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from tables.payments.payment import Payment
from tables.subscribers import Subscriber
from tests.support.browser import add_subscriber_session, check_layout
from tests.support.factories import make_address, make_subscriber, make_tariff
from tests.support.payments import CARD_3DS, CARD_OK

# The sandbox's real webhooks reach the server too (about a second later, finding the payment
# already settled by the result page, or settling it first: either way it is credited once).
pytestmark = pytest.mark.usefixtures("sandbox_webhooks")


async def enter_card(page: Page, number: str) -> None:
    """Type the card into the provider's element and submit the card page."""
    element = page.locator("#card-element")
    await element.get_by_placeholder("number").fill(number)
    await element.get_by_placeholder("exp_month").fill("12")
    await element.get_by_placeholder("exp_year").fill("34")
    await element.get_by_placeholder("cvc").fill("123")
    await page.locator("#pay-button").click()


async def balance_of(subscriber_id: int) -> int:
    row = await Subscriber.select(Subscriber.balance).where(Subscriber.id == subscriber_id).first()
    return row["balance"]


async def cabinet_subscriber(page: Page, live_server: str) -> Subscriber:
    tariff = await make_tariff(name="Интернет 100", fee=55000)
    subscriber = await make_subscriber(full_name="Белова Марина Юрьевна", tariff=tariff,
                                       address=await make_address(street="улица Кирова", house="15",
                                                                  apartment="3"))
    await add_subscriber_session(page.context, live_server, subscriber.id)
    return subscriber


async def start_topup(page: Page, amount: str) -> None:
    await page.goto("/cabinet/pay")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Пополнить счёт картой")
    await check_layout(page)
    await page.get_by_label("Сумма, ₽").fill(amount)
    await page.get_by_role("button", name="Перейти к оплате картой").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Оплата картой")
    await expect(page.locator("#card-element").get_by_placeholder("number")).to_be_visible()
    await check_layout(page)


async def test_cabinet_top_up_with_3ds_confirmation(page, live_server, viewport):
    subscriber = await cabinet_subscriber(page, live_server)
    await start_topup(page, "650,50")
    await enter_card(page, CARD_3DS)

    # The bank's confirmation step (the sandbox's 3-D Secure dialog), then the result page.
    await expect(page.get_by_role("heading", level=1)).to_have_text("Подтвердите платёж")
    await page.get_by_role("button", name="Complete authentication").click()
    await expect(page).to_have_url(re.compile(r"/cabinet/pay/result/\d+$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Оплата прошла")
    await expect(page.get_by_role("status")).to_have_text(re.compile(r"650,50\s₽ зачислено на счёт"))
    await expect(page.get_by_text("•••• 3184")).to_be_visible()
    await check_layout(page)
    assert await balance_of(subscriber.id) == 65050

    await page.goto("/cabinet/")
    await expect(page.get_by_text(re.compile(r"Баланс: 650,50\s₽"))).to_be_visible()
    await check_layout(page)


async def test_cabinet_top_up_failed_confirmation_changes_nothing(page, live_server, viewport):
    subscriber = await cabinet_subscriber(page, live_server)
    await start_topup(page, "700")
    await enter_card(page, CARD_3DS)

    await expect(page.get_by_role("heading", level=1)).to_have_text("Подтвердите платёж")
    await page.get_by_role("button", name="Fail authentication").click()
    await expect(page).to_have_url(re.compile(r"/cabinet/pay/result/\d+$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Оплата не прошла")
    alert = page.get_by_role("alert").filter(has_text=re.compile(r"\w"))
    await expect(alert).to_have_text(re.compile(r"^Платёж не подтверждён: код подтверждения"))
    reason = await alert.inner_text()
    assert not re.search(r"[a-z]+_[a-z_]+", reason), reason  # no provider codes
    await check_layout(page)
    assert await balance_of(subscriber.id) == 0

    await page.goto("/cabinet/")
    await expect(page.get_by_text(re.compile(r"Баланс: 0,00\s₽"))).to_be_visible()


async def test_quick_pay_by_address_without_login(page, viewport):
    tariff = await make_tariff(name="Интернет 100", fee=55000)
    address = await make_address(town="Осинники", street="улица Ленина", house="10", apartment="27")
    subscriber = await make_subscriber(full_name="Гончаров Игорь Павлович", tariff=tariff,
                                       address=address)
    await make_address(town="Новокузнецк", street="улица Ленина", house="10", apartment="27")

    await page.goto("/pay")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Оплата услуг без входа в кабинет")
    await check_layout(page)
    await page.get_by_label("Город").select_option(label="Осинники")
    await page.get_by_label("Улица").fill("улица Ленина")
    await page.get_by_label("Дом", exact=True).fill("10")
    await page.get_by_label("Квартира").fill("27")
    await page.get_by_role("button", name="Найти по адресу").click()

    # Only surname + initials and the address without the apartment.
    found = page.locator("section.card")
    await expect(found).to_contain_text("Гончаров И. П.")
    await expect(found).to_contain_text("Осинники, улица Ленина, д. 10")
    assert "Игорь" not in await found.inner_text() and "27" not in await found.inner_text()
    await check_layout(page)

    period = await page.get_by_label("За какой месяц").input_value()
    options = await page.get_by_label("За какой месяц").locator("option").all_inner_texts()
    assert len(options) == 4
    await page.get_by_label("За какой месяц").select_option(index=3)
    chosen = await page.get_by_label("За какой месяц").input_value()
    assert chosen > period
    await page.get_by_label("Сумма, ₽").fill("550")
    await page.get_by_role("button", name="Перейти к оплате картой").click()

    await expect(page.get_by_role("heading", level=1)).to_have_text("Оплата картой")
    await check_layout(page)
    await enter_card(page, CARD_OK)
    await expect(page).to_have_url(re.compile(r"/pay/p/[^/]+/result$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Оплата прошла")
    await expect(page.get_by_role("status")).to_have_text(re.compile(r"550,00\s₽ зачислено на счёт"))
    await check_layout(page)

    assert await balance_of(subscriber.id) == 55000
    payment = await Payment.objects().where(Payment.subscriber == subscriber.id).first()
    assert payment is not None and payment.channel == "quick_pay" and payment.period == chosen


async def test_cabinet_top_up_saves_the_card_for_autopay(page, live_server, viewport):
    from tables.payments.autopay import Autopay

    subscriber = await cabinet_subscriber(page, live_server)
    await start_topup(page, "300")
    await page.get_by_label(re.compile("Сохранить карту для автоплатежа")).check()
    await enter_card(page, CARD_OK)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Оплата прошла")
    row = await Autopay.select().where(Autopay.subscriber == subscriber.id).first()
    assert row is not None and row["card_last4"] == "4242" and row["enabled"]

    await page.goto("/cabinet/autopay")
    await expect(page.get_by_text(re.compile(r"•••• 4242, действует до 12/34"))).to_be_visible()
    await page.get_by_label("За сколько дней до списания").select_option("5")
    await page.get_by_label("Абонентскую плату за месяц").check()
    await page.get_by_role("button", name="Сохранить").click()
    await expect(page.get_by_role("status")).to_have_text("Настройки автоплатежа сохранены.")
    await check_layout(page)
    row = await Autopay.select().where(Autopay.subscriber == subscriber.id).first()
    assert (row["days_before"], row["amount_mode"]) == (5, "fee")
