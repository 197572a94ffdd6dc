"""Fiscal receipts: one per credited payment and per refund, sent to a local ATOL-speaking register."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from providers.cash_register import AtolClient, AtolConfig
from providers.cash_register_sandbox import GROUP, LOGIN, PASSWORD, AtolSandbox
from settings import get_settings
from tables.audit import Actor
from tables.calendar import utcnow
from tables.payments.office import book_office_payment
from tables.payments.payment import Payment
from tables.payments.receipts import Receipt, fiscalize_receipts, receipt_document
from tables.payments.refunds import complete_refund, reserve_refund
from tables.payments.settlement import settle_payment
from tests.support.factories import make_subscriber

CLERK = Actor("clerk", None)


@pytest.fixture
def register():
    server = AtolSandbox().start()
    yield server
    server.stop()


@pytest.fixture
def configured(register, setenv):
    """The seller and the register's credentials, as production sets them."""
    for name, value in {"CENTRA_RECEIPT_SELLER_INN": "4217000001", "CENTRA_ATOL_LOGIN": LOGIN,
                        "CENTRA_ATOL_PASSWORD": PASSWORD, "CENTRA_ATOL_GROUP_CODE": GROUP,
                        "CENTRA_ATOL_URL": register.base_url,
                        "CENTRA_RECEIPT_SELLER_EMAIL": "kassa@centra.example"}.items():
        setenv(name, value)
    return register


async def card_payment(amount: int = 50000, *, email: str = "anna@example.ru") -> tuple[int, dict]:
    subscriber = await make_subscriber(email=email)
    now = utcnow()
    payment = Payment(subscriber=subscriber.id, amount=amount, status="created", channel="cabinet",
                      provider_intent_id=f"pi_receipt_{subscriber.id}", created_at=now, updated_at=now)
    await payment.save()
    intent = {"id": payment.provider_intent_id, "status": "succeeded", "amount": amount,
              "currency": "rub", "latest_charge": "ch_1"}
    return payment.id, intent


async def test_a_card_payment_credited_by_ten_racing_callers_gets_one_receipt():
    payment_id, intent = await card_payment()
    results = await asyncio.gather(*[settle_payment(intent) for _ in range(10)])
    assert sum(r.credited for r in results) == 1
    [receipt] = await Receipt.select().where(Receipt.payment == payment_id)
    assert receipt["operation"] == "sell" and receipt["amount"] == 50000
    assert receipt["payment_type"] == "electronic" and receipt["buyer_contact"] == "anna@example.ru"
    assert receipt["item_name"].startswith("Услуги связи по договору № ")
    assert receipt["status"] == "pending"  # nothing configured: built, not fiscalized


async def test_a_payment_that_is_not_credited_gets_no_receipt():
    _payment_id, intent = await card_payment()
    await settle_payment({**intent, "status": "requires_payment_method",
                          "last_payment_error": {"code": "card_declined"}})
    await settle_payment({**intent, "amount": 1})  # another amount: never credited
    assert await Receipt.count() == 0


async def test_cash_payment_and_refund_receipts():
    subscriber = await make_subscriber(email="", phone="+79131234567")
    office = await book_office_payment(subscriber.id, 120000, actor=CLERK, key="k" * 16)
    await book_office_payment(subscriber.id, 120000, actor=CLERK, key="k" * 16)  # the same click again
    [cash] = await Receipt.select().where(Receipt.payment == office.id)
    assert cash["payment_type"] == "cash" and cash["buyer_contact"] == "+79131234567"

    payment_id, intent = await card_payment(80000)
    await settle_payment(intent)
    refund = await reserve_refund(payment_id, 30000, "двойная оплата", actor=CLERK)
    assert await complete_refund(refund.id, "re_1")
    assert not await complete_refund(refund.id, "re_1")
    rows = await Receipt.select().where(Receipt.payment == payment_id).order_by(Receipt.id)
    assert [(r["operation"], r["amount"], r["refund"]) for r in rows] == [
        ("sell", 80000, None), ("sell_refund", 30000, refund.id)]


async def test_the_document_has_the_fields_the_law_asks_for():
    payment_id, intent = await card_payment(65050)
    await settle_payment(intent)
    row = await Receipt.select().where(Receipt.payment == payment_id).first()
    doc = receipt_document(row, seller_email="kassa@centra.example")
    receipt = doc["receipt"]
    assert doc["external_id"] == row["external_id"] and doc["external_id"].startswith("centra-payment-")
    assert dt.datetime.strptime(doc["timestamp"], "%d.%m.%Y %H:%M:%S")
    assert receipt["client"] == {"email": "anna@example.ru"}
    assert receipt["company"]["sno"] == "osn" and receipt["company"]["payment_address"]
    [item] = receipt["items"]
    assert (item["price"], item["quantity"], item["sum"]) == (650.5, 1.0, 650.5)
    assert item["vat"] == {"type": "vat122"}
    assert receipt["payments"] == [{"type": 1, "sum": 650.5}] and receipt["total"] == 650.5


async def test_without_settings_nothing_is_sent(register):
    _payment_id, intent = await card_payment()
    await settle_payment(intent)
    assert (await fiscalize_receipts())["registered"] == 0
    assert register.requests == []
    assert (await Receipt.select(Receipt.status).first())["status"] == "pending"


async def test_the_worker_fiscalizes_and_stores_the_fiscal_data(configured):
    payment_id, intent = await card_payment()
    await settle_payment(intent)
    first = await fiscalize_receipts()
    assert first["registered"] == 1 and first["done"] == 1
    row = await Receipt.select().where(Receipt.payment == payment_id).first()
    assert row["status"] == "done" and row["register_uuid"]
    assert row["fiscal_sign"] and row["fiscal_document_number"] and row["fn_number"]
    assert row["registration_number"] and row["ofd_url"].startswith("https://")
    [document] = configured.documents.values()
    assert document.body["receipt"]["company"]["inn"] == "4217000001"
    assert (await fiscalize_receipts()) == {"registered": 0, "retry": 0, "failed": 0, "done": 0, "wait": 0}


async def test_a_refused_receipt_fails_for_staff_and_is_not_retried(configured, setenv):
    payment_id, intent = await card_payment(email="")
    # No contact for the buyer and none for the seller either: the register refuses (error 32).
    setenv("CENTRA_RECEIPT_SELLER_EMAIL", "")
    subscriber = (await Payment.select(Payment.subscriber).where(Payment.id == payment_id).first())
    from tables.subscribers import Subscriber

    await Subscriber.update({Subscriber.phone: ""}).where(Subscriber.id == subscriber["subscriber"])
    await settle_payment(intent)
    assert (await fiscalize_receipts())["failed"] == 1
    row = await Receipt.select().first()
    assert row["status"] == "failed" and "32" in row["last_error"]
    await fiscalize_receipts()
    assert configured.documents == {} and sum("/sell" in r for r in configured.requests) == 1


async def test_timeout_then_retry_makes_one_document(configured):
    _payment_id, intent = await card_payment()
    await settle_payment(intent)
    configured.slow_next = 1
    settings = get_settings()
    client = AtolClient(AtolConfig(base_url=configured.base_url, login=LOGIN, password=PASSWORD,
                                   group_code=GROUP, timeout=1.0))
    try:
        assert (await fiscalize_receipts(client=client, settings=settings))["retry"] == 1
        row = await Receipt.select().first()
        assert row["status"] == "pending" and row["next_attempt_at"] is not None
        later = utcnow() + dt.timedelta(minutes=2)
        counts = await fiscalize_receipts(client=client, settings=settings, now=later)
    finally:
        await client.aclose()
    assert counts["registered"] == 1 and counts["done"] == 1
    assert len(configured.documents) == 1  # the second sell met error 33 and took the first uuid
    row = await Receipt.select().first()
    assert row["status"] == "done" and row["attempts"] == 2


async def test_a_document_the_register_could_not_print_fails(configured):
    await settle_payment((await card_payment())[1])
    configured.fail_next = 1
    assert (await fiscalize_receipts())["failed"] == 1
    row = await Receipt.select().first()
    assert row["status"] == "failed" and "ФН" in row["last_error"]


async def test_an_agent_payment_repeated_gets_one_receipt():
    from tables.payments.agents import agent_pay

    subscriber = await make_subscriber(email="anna@example.ru")
    params = {"txn_id": "77", "txn_date": "20261207101500", "account": subscriber.contract_number,
              "sum": "300.00"}
    await asyncio.gather(*[agent_pay("qiwi", "QIWI", params) for _ in range(5)])
    [receipt] = await Receipt.select().where(Receipt.subscriber == subscriber.id)
    assert (receipt["operation"], receipt["amount"], receipt["payment_type"]) == ("sell", 30000, "electronic")
