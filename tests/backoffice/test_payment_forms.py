"""Staff refunds on the office page (against the sandbox) and payment totals in the admin."""

from __future__ import annotations

import datetime as dt

import pytest

from tables.audit import Actor, AuditEntry
from tables.ledger import LedgerEntry
from tables.payments.card_flow import start_payment, submit_card
from tables.payments.office import book_office_payment
from tables.payments.payment import Payment
from tables.subscribers import Subscriber
from tests.support.factories import make_address, make_subscriber
from tests.support.helpers import admin_login, csrf_from, make_staff
from tests.support.payments import card_token

REJECT = "/admin/api/forms/отклонить-заявку/"
REPORT = "/admin/api/forms/итоги-по-платежам/"


async def card_payment(sandbox, subscriber: Subscriber, amount: int = 50000) -> Payment:
    payment = await start_payment(subscriber.id, amount, channel="cabinet")
    assert (await submit_card(payment.id, await card_token(sandbox))).status == "succeeded"
    return payment


async def _refund(client, payment_id: int, url_end: str, data: dict):
    """The office's refund page as the browser sends it (with the page's CSRF token)."""
    page = f"/office/payments/{payment_id}/refund"
    token = csrf_from((await client.get(page)).text)
    return await client.post(page + url_end, data={**data, "_csrf_token": token})


async def test_refund_partial_then_too_much(client, stripe_sandbox):
    subscriber = await make_subscriber()
    payment = await card_payment(stripe_sandbox, subscriber)
    await make_staff()
    await admin_login(client)
    done = await _refund(client, payment.id, "/confirm", {"amount": "20000", "reason": "ошибка"})
    assert done.status_code in (302, 303), done.text
    assert done.headers["location"].endswith("?done=refund")
    too_much = await _refund(client, payment.id, "", {"amount": "301", "reason": "ещё раз"})
    assert too_much.status_code == 422 and "300,00" in too_much.text
    refunds = await LedgerEntry.select().where(LedgerEntry.kind == "refund")
    assert [r["amount"] for r in refunds] == [-20000] and refunds[0]["reference"].startswith("re_")
    assert refunds[0]["created_by"] == "clerk"
    actions = [r["action"] for r in await AuditEntry.select(AuditEntry.action)]
    assert {"payment.refund_requested", "payment.refunded"} <= set(actions)
    row = await Payment.objects().where(Payment.id == payment.id).first()
    assert row.refunded_amount == 20000 and row.status == "succeeded"


@pytest.mark.parametrize("amount", ["0", "-5", "abc", "1,001"])
async def test_refund_bad_amounts(client, stripe_sandbox, amount):
    payment = await card_payment(stripe_sandbox, await make_subscriber())
    await make_staff()
    await admin_login(client)
    response = await _refund(client, payment.id, "", {"amount": amount, "reason": "ошибка"})
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


async def test_ids_beyond_the_database_are_not_found_not_a_500(client):
    await make_staff()
    await admin_login(client)
    for path in (f"/office/payments/{10**20}/refund", f"/office/payments/{2**31}/refund",
                 f"/office/receipts/{10**20}"):
        response = await client.get(path)
        assert response.status_code == 404, (path, response.text)


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
    response = await client.post(REJECT, json={"number": "", "reason": ""})
    assert response.status_code == 422
    messages = {tuple(e["loc"]): e["msg"] for e in response.json()["detail"]}
    # Each message names its field: the admin shows the message alone (backoffice/ui.py).
    assert messages == {("number",): "Номер заявки: Не короче 1 символов.",
                        ("reason",): "Причина отказа: Не короче 1 символов."}
    report = await client.post(REPORT, json={"date_from": "2026-13-01", "date_to": "2026-12-01"})
    assert report.status_code == 422
    assert all(not any("a" <= c <= "z" for c in e["msg"].lower()) for e in report.json()["detail"])
