"""Payment pages: cabinet top-up, quick pay without login, the webhook endpoint — with the sandbox."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from cabinet.limits import QUICK_PAY_PER_IP
from cabinet.quickpay import issue_ticket, read_ticket
from tables.ledger import LedgerEntry
from tables.payments.events import ProviderEvent
from tables.payments.payment import Payment
from tables.subscribers import Subscriber
from tests.support.factories import make_address, make_subscriber
from tests.support.helpers import app_tables, cabinet_login, csrf_from
from tests.support.payments import (
    CARD_3DS,
    CARD_DECLINED,
    CARD_OK,
    authenticate,
    card_token,
    fetch_intent,
    signed_event,
)

pytestmark = pytest.mark.usefixtures("stripe_sandbox")
PASSWORD = "correct-horse-1"


async def login(client: httpx.AsyncClient, subscriber: Subscriber) -> None:
    response = await cabinet_login(client, subscriber.contract_number, PASSWORD)
    assert response.status_code == 303


async def post_form(client: httpx.AsyncClient, page_url: str, action: str, data: dict) -> httpx.Response:
    page = await client.get(page_url)
    return await client.post(action, data={**data, "_csrf_token": csrf_from(page.text)})


async def balance(subscriber_id: int) -> int:
    row = await Subscriber.select(Subscriber.balance).where(Subscriber.id == subscriber_id).first()
    return row["balance"]


async def start_topup(client, amount: str = "500") -> tuple[httpx.Response, int]:
    response = await post_form(client, "/cabinet/pay", "/cabinet/pay", {"amount": amount})
    assert response.status_code == 303, response.text
    payment_id = int(response.headers["location"].rsplit("/", 1)[1])
    return response, payment_id


async def pay_with(client, sandbox, payment_url: str, number: str) -> httpx.Response:
    page = await client.get(payment_url)
    assert page.status_code == 200
    action = re.search(r'id="card-form" method="post" action="([^"]+)"', page.text).group(1)
    return await client.post(action, data={"token": await card_token(sandbox, number),
                                           "_csrf_token": csrf_from(page.text)})


async def test_top_up_page_suggests_debt_plus_month(client):
    subscriber = await make_subscriber(fee=75000)
    await Subscriber.update({Subscriber.balance: -12345}).where(Subscriber.id == subscriber.id)
    await login(client, subscriber)
    page = await client.get("/cabinet/pay")
    assert page.status_code == 200 and 'value="874,00"' in page.text


@pytest.mark.parametrize("amount,message", [
    ("0", "больше нуля"), ("-100", "больше нуля"), ("сто", "числом"), ("20000", "Максимальная"),
    ("100,555", "двух знаков"), ("5", "Минимальная"),
])
async def test_bad_amount_gets_a_message_and_creates_nothing(client, amount, message):
    await login(client, await make_subscriber())
    response = await post_form(client, "/cabinet/pay", "/cabinet/pay", {"amount": amount})
    assert response.status_code == 400 and message in response.text
    assert await Payment.count() == 0


async def test_cabinet_top_up_end_to_end(client, stripe_sandbox):
    subscriber = await make_subscriber()
    await login(client, subscriber)
    _, payment_id = await start_topup(client, "650,50")
    card_page = await client.get(f"/cabinet/pay/{payment_id}")
    assert stripe_sandbox.js_url in card_page.text and "pk_test_" in card_page.text
    assert 'name="number"' not in card_page.text  # the card fields belong to the provider's element
    answer = await pay_with(client, stripe_sandbox, f"/cabinet/pay/{payment_id}", CARD_OK)
    assert answer.status_code == 303 and answer.headers["location"] == f"/cabinet/pay/result/{payment_id}"
    result = await client.get(answer.headers["location"])
    assert "Оплата прошла" in result.text and "•••• 4242" in result.text
    assert await balance(subscriber.id) == 65050
    history = await client.get("/cabinet/payments")
    assert "Оплачен" in history.text and "650,50" in history.text
    # Back button / second submit: nothing is charged again.
    again = await client.get(f"/cabinet/pay/{payment_id}")
    assert again.status_code == 303
    assert await LedgerEntry.count() == 1


async def test_no_card_number_is_stored_anywhere(client, stripe_sandbox):
    subscriber = await make_subscriber()
    await login(client, subscriber)
    _, payment_id = await start_topup(client)
    await pay_with(client, stripe_sandbox, f"/cabinet/pay/{payment_id}", CARD_OK)
    for table in app_tables():
        dump = str(await table.select())
        assert CARD_OK not in dump and "424242424242" not in dump, table._meta.tablename


async def test_declined_card_shows_the_reason_in_russian(client, stripe_sandbox):
    subscriber = await make_subscriber()
    await login(client, subscriber)
    _, payment_id = await start_topup(client)
    answer = await pay_with(client, stripe_sandbox, f"/cabinet/pay/{payment_id}", CARD_DECLINED)
    result = await client.get(answer.headers["location"])
    assert "Оплата не прошла" in result.text and "Банк отклонил" in result.text
    history = await client.get("/cabinet/payments")
    assert "Не прошёл" in history.text and "Банк отклонил" in history.text
    assert await balance(subscriber.id) == 0 and await LedgerEntry.count() == 0


@pytest.mark.parametrize("confirmed", [True, False])
async def test_three_d_secure_step_in_the_cabinet(client, stripe_sandbox, confirmed):
    subscriber = await make_subscriber()
    await login(client, subscriber)
    _, payment_id = await start_topup(client)
    answer = await pay_with(client, stripe_sandbox, f"/cabinet/pay/{payment_id}", CARD_3DS)
    assert answer.status_code == 200 and "Подтвердите платёж" in answer.text
    secret = re.search(r'data-secret="([^"]+)"', answer.text).group(1)
    pending = await client.get(f"/cabinet/pay/result/{payment_id}")
    assert "ждёт подтверждения" in pending.text and await balance(subscriber.id) == 0
    payment = await Payment.objects().where(Payment.id == payment_id).first()
    await authenticate(stripe_sandbox, payment.provider_intent_id, secret, success=confirmed)
    result = await client.get(f"/cabinet/pay/result/{payment_id}")
    if confirmed:
        assert "Оплата прошла" in result.text and await balance(subscriber.id) == 50000
    else:
        assert "код подтверждения" in result.text and await balance(subscriber.id) == 0


async def test_another_subscribers_payment_is_not_found(client, stripe_sandbox):
    owner = await make_subscriber()
    other = await make_subscriber()
    await login(client, owner)
    _, payment_id = await start_topup(client)
    await post_form(client, "/cabinet/", "/cabinet/logout", {})
    await login(client, other)
    for url in (f"/cabinet/pay/{payment_id}", f"/cabinet/pay/result/{payment_id}"):
        assert (await client.get(url)).status_code == 404
    page = await client.get("/cabinet/pay")
    response = await client.post(f"/cabinet/pay/{payment_id}/card", data={
        "token": await card_token(stripe_sandbox), "_csrf_token": csrf_from(page.text)})
    assert response.status_code == 404
    assert (await Payment.objects().first()).submitted_at is None


async def test_payment_posts_need_csrf(client):
    await login(client, await make_subscriber())
    assert (await client.post("/cabinet/pay", data={"amount": "500"})).status_code == 403
    assert (await client.post("/pay/find", data={"contract_number": "1"})).status_code == 403
    assert await Payment.count() == 0


# --- webhook endpoint ---------------------------------------------------------------------------


async def unsettled_intent(client, sandbox) -> tuple[Subscriber, int, dict]:
    """A card payment charged at the provider while our side has not settled it yet."""
    subscriber = await make_subscriber()
    await login(client, subscriber)
    _, payment_id = await start_topup(client)
    answer = await pay_with(client, sandbox, f"/cabinet/pay/{payment_id}", CARD_3DS)
    secret = re.search(r'data-secret="([^"]+)"', answer.text).group(1)
    payment = await Payment.objects().where(Payment.id == payment_id).first()
    await authenticate(sandbox, payment.provider_intent_id, secret, success=True)
    return subscriber, payment_id, await fetch_intent(sandbox, payment.provider_intent_id)


async def test_webhook_endpoint_refuses_bad_signature(client, stripe_sandbox):
    subscriber, _, intent = await unsettled_intent(client, stripe_sandbox)
    body, headers = signed_event(intent, secret="whsec_forged")
    response = await client.post("/payments/webhook", content=body, headers=headers)
    assert response.status_code == 400
    assert await ProviderEvent.count() == 0 and await balance(subscriber.id) == 0
    body, headers = signed_event(intent)
    response = await client.post("/payments/webhook", content=body, headers=headers)
    assert response.status_code == 200 and await balance(subscriber.id) == 50000


async def test_webhook_and_return_page_concurrently_credit_once(client, stripe_sandbox):
    subscriber, payment_id, intent = await unsettled_intent(client, stripe_sandbox)
    body, headers = signed_event(intent, event_id="evt_page_race")
    responses = await asyncio.gather(
        client.post("/payments/webhook", content=body, headers=headers),
        client.get(f"/cabinet/pay/result/{payment_id}"),
        client.post("/payments/webhook", content=body, headers=headers),
        client.get(f"/cabinet/pay/result/{payment_id}"),
    )
    assert [r.status_code for r in responses] == [200, 200, 200, 200]
    assert await LedgerEntry.count() == 1 and await balance(subscriber.id) == 50000


# --- quick pay ---------------------------------------------------------------------------------


async def quick_subscriber() -> Subscriber:
    address = await make_address(street="улица Кирова", house="7", apartment="15")
    return await make_subscriber(full_name="Сидорова Анна Павловна", address=address)


def masked_ok(text: str) -> None:
    assert "Сидорова А. П." in text and "улица Кирова, д. 7" in text
    assert "Анна" not in text and "Павловна" not in text and "кв." not in text and ">15<" not in text


async def test_quick_pay_by_number_masks_the_identity(client):
    subscriber = await quick_subscriber()
    response = await post_form(client, "/pay/", "/pay/find", {"contract_number": subscriber.contract_number})
    assert response.status_code == 200
    masked_ok(response.text)


async def test_quick_pay_by_address(client):
    subscriber = await quick_subscriber()
    town = (await Subscriber.select(Subscriber.address._.street._.town.as_alias("t")).where(
        Subscriber.id == subscriber.id).first())["t"]
    response = await post_form(client, "/pay/", "/pay/find", {
        "by": "address", "town": str(town), "street": "кирова", "house": "7", "apartment": "15"})
    masked_ok(response.text)
    wrong = await post_form(client, "/pay/", "/pay/find", {
        "by": "address", "town": str(town), "street": "кирова", "house": "7", "apartment": "16"})
    assert "Договор не найден" in wrong.text


@pytest.mark.parametrize("number", ["999999", "abc", "1" * 30, "", "1' OR '1'='1"])
async def test_not_found_and_bad_input_look_the_same(client, number):
    await quick_subscriber()
    response = await post_form(client, "/pay/", "/pay/find", {"contract_number": number})
    assert response.status_code == 200
    assert "Договор не найден" in response.text and "Сидорова" not in response.text


async def test_quick_pay_is_rate_limited_per_ip(client):
    subscriber = await quick_subscriber()
    page = await client.get("/pay/")
    token = csrf_from(page.text)
    for _ in range(QUICK_PAY_PER_IP.max_hits):
        await client.post("/pay/find", data={"contract_number": "999999", "_csrf_token": token})
    blocked = await client.post("/pay/find", data={"contract_number": subscriber.contract_number,
                                                   "_csrf_token": token})
    assert blocked.status_code == 429 and "Сидорова" not in blocked.text


async def test_quick_pay_end_to_end_for_a_month(client, stripe_sandbox):
    subscriber = await quick_subscriber()
    found = await post_form(client, "/pay/", "/pay/find", {"contract_number": subscriber.contract_number})
    ticket = re.search(r'name="ticket" value="([^"]+)"', found.text).group(1)
    period = re.search(r'<option value="(\d{4}-\d{2})" selected>', found.text).group(1)
    bad = await client.post("/pay/start", data={"ticket": ticket, "period": period, "amount": "0",
                                                "_csrf_token": csrf_from(found.text)})
    assert bad.status_code == 400 and "больше нуля" in bad.text and await Payment.count() == 0
    started = await client.post("/pay/start", data={"ticket": ticket, "period": period, "amount": "750",
                                                    "_csrf_token": csrf_from(found.text)})
    assert started.status_code == 303 and started.headers["location"].startswith("/pay/p/")
    answer = await pay_with(client, stripe_sandbox, started.headers["location"], CARD_OK)
    result = await client.get(answer.headers["location"])
    assert "Оплата прошла" in result.text
    payment = await Payment.objects().first()
    assert (payment.channel, payment.period, payment.amount) == ("quick_pay", period, 75000)
    assert await balance(subscriber.id) == 75000
    entry = await LedgerEntry.objects().first()
    assert entry.period == period and entry.reference == payment.provider_intent_id


async def test_quick_pay_tickets_and_tokens_cannot_be_forged(client):
    subscriber = await quick_subscriber()
    ticket = issue_ticket(subscriber.id, now=1_000_000)
    assert read_ticket(ticket, now=1_000_100) == subscriber.id
    assert read_ticket(ticket, now=1_000_000 + 3600) is None  # expired
    forged = f"{subscriber.id + 1}.{ticket.split('.', 1)[1]}"
    assert read_ticket(forged, now=1_000_100) is None
    page = await client.get("/pay/")
    response = await client.post("/pay/start", data={"ticket": forged, "period": "", "amount": "500",
                                                     "_csrf_token": csrf_from(page.text)})
    assert response.status_code == 400 and await Payment.count() == 0
    assert (await client.get("/pay/p/not-a-token")).status_code == 404
    assert (await client.get("/pay/p/1/result")).status_code == 404
