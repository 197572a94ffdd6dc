"""The promised payment from the dashboard: taken once a month, refused with a Russian reason."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest

from cabinet.auth import SESSION_COOKIE
from tables.accounts import redeem_staff_view, start_staff_view
from tables.audit import Actor
from tables.billing.promised import PromisedPayment, grant_promised_payment, reverse_expired_promised_payments
from tables.ledger import ledger_sum
from tables.subscribers import Subscriber, SubscriberStatus
from tests.support.factories import make_subscriber
from tests.support.helpers import csrf_from, row_counts, sign_in
from web.formatting import datetime_ru, rub

NOW = dt.datetime(2026, 12, 10, 5, 0, tzinfo=dt.UTC)  # 10 December, 12:00 in Novokuznetsk


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    for module in ("cabinet.dashboard", "cabinet.promised"):
        monkeypatch.setattr(f"{module}.utcnow", lambda: NOW)


def text_of(html: str) -> str:
    return re.sub(r"[ \t\r\n]+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


async def take(client, *, with_token: bool = True):
    page = await client.get("/cabinet/")
    data = {"_csrf_token": csrf_from(page.text)} if with_token else {}
    return await client.post("/cabinet/promised", data=data)


async def balance(subscriber_id: int) -> int:
    row = await Subscriber.select(Subscriber.balance).where(Subscriber.id == subscriber_id).first()
    return row["balance"]


async def test_offer_shown_and_granted_through_the_form(client):
    s = await make_subscriber(fee=75000)
    await sign_in(client, s.id)
    page = await client.get("/cabinet/")
    text = text_of(page.text)
    until = datetime_ru(NOW + dt.timedelta(days=3))
    assert f"Можно взять до {rub(75000)} до {until}" in text
    assert 'action="/cabinet/promised"' in page.text
    response = await take(client)
    assert response.status_code == 303 and response.headers["location"] == "/cabinet/?promised=1"
    promised = await PromisedPayment.objects().where(PromisedPayment.subscriber == s.id).first()
    assert promised.amount == 75000 and promised.created_by == f"subscriber:{s.contract_number}"
    assert await balance(s.id) == 75000 == await ledger_sum(s.id)
    after = await client.get(response.headers["location"])
    text = text_of(after.text)
    assert "Обещанный платёж зачислен" in text
    assert f"Действует обещанный платёж {rub(75000)} до {until}" in text
    assert 'action="/cabinet/promised"' not in after.text


async def test_refused_while_active_and_again_in_the_same_month(client):
    s = await make_subscriber(fee=75000)
    await sign_in(client, s.id)
    assert (await take(client)).status_code == 303
    before = await row_counts()
    again = await take(client)
    assert again.status_code == 409 and "Обещанный платёж уже действует до" in text_of(again.text)
    assert await row_counts() == before
    # Once the first one has expired the month's allowance is still used up.
    assert await reverse_expired_promised_payments(now=NOW + dt.timedelta(days=3)) == 1
    before, money = await row_counts(), await balance(s.id)
    third = await take(client)
    assert third.status_code == 409
    assert "Обещанный платёж в этом месяце уже был (10.12.2026)" in text_of(third.text)
    assert await row_counts() == before and await balance(s.id) == money == 0
    assert await PromisedPayment.count().where(PromisedPayment.subscriber == s.id) == 1


async def test_the_reason_is_shown_instead_of_the_form(client):
    s = await make_subscriber(fee=75000)
    await grant_promised_payment(s.id, now=NOW - dt.timedelta(days=5))
    await reverse_expired_promised_payments(now=NOW)
    await sign_in(client, s.id)
    page = await client.get("/cabinet/")
    assert "Обещанный платёж в этом месяце уже был (05.12.2026)" in text_of(page.text)
    assert 'action="/cabinet/promised"' not in page.text


async def test_refused_for_a_terminated_contract(client):
    s = await make_subscriber(fee=75000)
    await Subscriber.update({Subscriber.status: SubscriberStatus.TERMINATED,
                             Subscriber.terminated_on: dt.date(2026, 12, 1)}).where(Subscriber.id == s.id)
    await sign_in(client, s.id)
    page = await client.get("/cabinet/")
    assert 'action="/cabinet/promised"' not in page.text
    before = await row_counts()
    response = await take(client)
    assert response.status_code == 403 and "Договор расторгнут" in text_of(response.text)
    assert await row_counts() == before and await balance(s.id) == 0


async def test_refused_for_a_contract_being_terminated(client):
    s = await make_subscriber(fee=75000)
    await Subscriber.update({Subscriber.terminated_on: dt.date(2026, 12, 20)}).where(Subscriber.id == s.id)
    await sign_in(client, s.id)
    page = await client.get("/cabinet/")
    assert "недоступен: договор расторгается с 20.12.2026" in text_of(page.text)
    before = await row_counts()
    response = await take(client)
    assert response.status_code == 409
    assert "Обещанный платёж недоступен: договор расторгается с 20.12.2026" in text_of(response.text)
    assert await row_counts() == before and await balance(s.id) == 0


async def test_staff_view_is_read_only(client):
    s = await make_subscriber(fee=75000)
    link = await start_staff_view(s.id, actor=Actor("staff:clerk"))
    client.cookies.set(SESSION_COOKIE, await redeem_staff_view(link))
    page = await client.get("/cabinet/")
    assert page.status_code == 200 and "Режим просмотра сотрудником" in page.text
    assert f"Можно взять до {rub(75000)}" in text_of(page.text)  # the staff sees the offer...
    assert 'action="/cabinet/promised"' not in page.text  # ...but no button
    before = await row_counts()
    response = await client.post("/cabinet/promised", data={"_csrf_token": csrf_from(page.text)})
    assert response.status_code == 403 and "Режим просмотра сотрудником" in text_of(response.text)
    assert await row_counts() == before


async def test_missing_csrf_token_is_forbidden(client):
    s = await make_subscriber(fee=75000)
    await sign_in(client, s.id)
    before = await row_counts()
    response = await take(client, with_token=False)
    assert response.status_code == 403
    assert await row_counts() == before and await balance(s.id) == 0


async def test_a_debt_above_one_fee_is_told_what_restores_service(client):
    """Issue 24 item 9a, on the page: no button that would leave the contract suspended."""
    from tables.ledger import EntryKind, post_entry

    s = await make_subscriber(fee=75000)
    await post_entry(s.id, -120000, EntryKind.CHARGE, "c-big", period="2026-12")
    await Subscriber.update({Subscriber.status: SubscriberStatus.SUSPENDED}).where(Subscriber.id == s.id)
    await sign_in(client, s.id)
    text = text_of((await client.get("/cabinet/")).text)
    assert "Чтобы восстановить доступ, пополните счёт на 1200 ₽ — или на 450 ₽" in text
    assert "Взять обещанный платёж" not in text
    refused = await take(client)
    assert refused.status_code == 409 and "пополните счёт на 1200 ₽" in text_of(refused.text)
    assert await PromisedPayment.count() == 0 and await balance(s.id) == -120000
