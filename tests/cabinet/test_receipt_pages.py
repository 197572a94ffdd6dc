"""The subscriber's receipts: linked from the payment history, each on its own page, only their own."""

from __future__ import annotations

import re

import httpx

from tables.audit import Actor
from tables.payments.office import book_office_payment
from tables.payments.receipts import Receipt
from tests.support.factories import make_subscriber
from tests.support.helpers import cabinet_login

PASSWORD = "correct-horse-1"


async def test_history_links_the_receipt_and_the_page_shows_it(client: httpx.AsyncClient):
    subscriber = await make_subscriber(email="anna@example.ru")
    payment = await book_office_payment(subscriber.id, 140050, actor=Actor("clerk"))
    [receipt] = await Receipt.select(Receipt.id).where(Receipt.payment == payment.id)
    assert (await cabinet_login(client, subscriber.contract_number, PASSWORD)).status_code == 303

    history = await client.get("/cabinet/payments")
    assert f'href="/cabinet/receipts/{receipt["id"]}"' in history.text
    assert "не фискализирован" in history.text

    page = await client.get(f"/cabinet/receipts/{receipt['id']}")
    assert page.status_code == 200
    text = re.sub(r"\s+", " ", page.text)
    for expected in ("Приход", f"Услуги связи по договору № {subscriber.contract_number}", "1 400,50",
                     "Наличными", "anna@example.ru", "Чек не фискализирован", "НДС 22/122"):
        assert expected in text, expected
    assert "<h2>Фискальные данные</h2>" not in text

    await Receipt.update({Receipt.status: "done", Receipt.fiscal_sign: "3000000101",
                          Receipt.fiscal_document_number: "1101", Receipt.fn_number: "9999078900012345",
                          Receipt.ofd_url: "https://check.ofd.example/?fd=1101"}).where(
        Receipt.id == receipt["id"])
    page = await client.get(f"/cabinet/receipts/{receipt['id']}")
    assert "<h2>Фискальные данные</h2>" in page.text and "3000000101" in page.text
    assert "https://check.ofd.example/?fd=1101" in page.text
    assert "не фискализирован" not in (await client.get("/cabinet/payments")).text


async def test_another_contracts_receipt_is_not_found(client: httpx.AsyncClient):
    me = await make_subscriber()
    other = await make_subscriber()
    payment = await book_office_payment(other.id, 5000, actor=Actor("clerk"))
    [receipt] = await Receipt.select(Receipt.id).where(Receipt.payment == payment.id)
    assert (await cabinet_login(client, me.contract_number, PASSWORD)).status_code == 303
    assert (await client.get(f"/cabinet/receipts/{receipt['id']}")).status_code == 404
    assert (await client.get("/cabinet/receipts/99999999999999999999")).status_code in (400, 404)
