"""Staff refunds and payment totals in the admin (refunds against the sandbox)."""

from __future__ import annotations

import datetime as dt

import pytest

from tables.audit import Actor, AuditEntry
from tables.ledger import LedgerEntry
from tables.payments.card_flow import start_payment, submit_card
from tables.payments.office import book_office_payment
from tables.payments.payment import Payment
from tables.subscribers import Subscriber
from tests.factories import make_address, make_subscriber
from tests.payments_support import card_token
from tests.test_support import admin_login, make_staff

REFUND = "/admin/api/forms/возврат-платежа/"
REPORT = "/admin/api/forms/итоги-по-платежам/"


async def card_payment(sandbox, subscriber: Subscriber, amount: int = 50000) -> Payment:
    payment = await start_payment(subscriber.id, amount, channel="cabinet")
    assert (await submit_card(payment.id, await card_token(sandbox))).status == "succeeded"
    return payment


async def test_refund_form_partial_then_too_much(client, stripe_sandbox):
    subscriber = await make_subscriber()
    payment = await card_payment(stripe_sandbox, subscriber)
    await make_staff()
    await admin_login(client)
    done = await client.post(REFUND, json={"payment_id": payment.id, "amount": "200", "reason": "ошибка"})
    assert done.status_code == 200, done.text
    assert "выполнен" in done.text
    too_much = await client.post(REFUND, json={"payment_id": payment.id, "amount": "301",
                                               "reason": "ещё раз"})
    assert too_much.status_code == 422 and "не больше 300" in too_much.text
    refunds = await LedgerEntry.select().where(LedgerEntry.kind == "refund")
    assert [r["amount"] for r in refunds] == [-20000] and refunds[0]["reference"].startswith("re_")
    assert refunds[0]["created_by"] == "clerk"
    actions = [r["action"] for r in await AuditEntry.select(AuditEntry.action)]
    assert {"payment.refund_requested", "payment.refunded"} <= set(actions)
    row = await Payment.objects().where(Payment.id == payment.id).first()
    assert row.refunded_amount == 20000 and row.status == "succeeded"


@pytest.mark.parametrize("amount", ["0", "-5", "abc", "1,001"])
async def test_refund_form_bad_amounts(client, stripe_sandbox, amount):
    payment = await card_payment(stripe_sandbox, await make_subscriber())
    await make_staff()
    await admin_login(client)
    response = await client.post(REFUND, json={"payment_id": payment.id, "amount": amount,
                                               "reason": "ошибка"})
    assert response.status_code == 422
    assert await LedgerEntry.count() == 1


async def test_report_form_totals_by_filters(client):
    kirova = await make_subscriber(address=await make_address(town="Новокузнецк"))
    lenina = await make_subscriber(address=await make_address(town="Осинники", street="улица Ленина"))
    clerk = Actor("clerk")
    await book_office_payment(kirova.id, 10000, actor=clerk)
    await book_office_payment(lenina.id, 25000, actor=clerk)
    await start_payment(lenina.id, 5000, channel="cabinet")
    await make_staff()
    await admin_login(client)
    everything = await client.post(REPORT, json={})
    assert everything.status_code == 200, everything.text
    assert "Платежей: 3" in everything.text and "зачислено 350,00" in everything.text
    town = await client.post(REPORT, json={"town": "Осинники", "status": "succeeded"})
    assert "Платежей: 1 на 250,00" in town.text
    office = await client.post(REPORT, json={"channel": "office"})
    assert "Платежей: 2" in office.text
    today = dt.date.today()
    dated = await client.post(REPORT, json={"date_from": str(today - dt.timedelta(days=1)),
                                            "date_to": str(today + dt.timedelta(days=1))})
    assert "Платежей: 3" in dated.text
    future = await client.post(REPORT, json={"date_from": str(today + dt.timedelta(days=2))})
    assert "Платежей: 0" in future.text
    unknown = await client.post(REPORT, json={"town": "Москва"})
    assert unknown.status_code == 422


async def test_payment_list_filters_by_town_in_admin(client):
    kirova = await make_subscriber(address=await make_address(town="Новокузнецк"))
    clerk = Actor("clerk")
    payment = await book_office_payment(kirova.id, 10000, actor=clerk)
    await make_staff()
    await admin_login(client)
    listing = await client.get("/admin/api/tables/payment/", params={"town": payment.town})
    assert listing.status_code == 200 and [r["id"] for r in listing.json()["rows"]] == [payment.id]
    for table in ("payment_refund", "provider_event", "payment_customer"):
        assert (await client.get(f"/admin/api/tables/{table}/")).status_code == 200
        assert (await client.post(f"/admin/api/tables/{table}/", json={})).status_code >= 400


async def test_ids_beyond_the_database_get_a_form_error_not_a_500(client):
    await make_staff()
    await admin_login(client)
    refund = await client.post(REFUND, json={"payment_id": 10**20, "amount": "100", "reason": "тест"})
    contract = await client.post("/admin/api/forms/новый-договор/", json={
        "full_name": "Иванов Иван", "address_id": 10**20, "tariff_id": 1})
    for response in (refund, contract):
        assert response.status_code == 422, response.text


@pytest.fixture(params=["first app", "another app built before"])
async def built_apps(request) -> None:
    """The admin's forms are module-level objects: building another application in the same
    process (tests, a second worker) must not wrap their models twice."""
    if request.param != "first app":
        from app import create_app

        create_app()


async def test_form_validation_errors_are_in_russian(built_apps, client):
    await make_staff()
    await admin_login(client)
    response = await client.post(REFUND, json={"payment_id": "abc", "amount": "100", "reason": ""})
    assert response.status_code == 422
    messages = {tuple(e["loc"]): e["msg"] for e in response.json()["detail"]}
    # Each message names its field: the admin shows the message alone (backoffice/ui.py).
    assert messages == {("payment_id",): "Номер платежа: Введите целое число.",
                        ("reason",): "Причина возврата: Не короче 3 символов."}
    report = await client.post(REPORT, json={"date_from": "2026-13-01", "date_to": "2026-12-01"})
    assert report.status_code == 422
    assert all(not any("a" <= c <= "z" for c in e["msg"].lower()) for e in report.json()["detail"])
