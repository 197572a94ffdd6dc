"""A terminated contract's leftover balance from the subscriber card: a clerk files the request
with the details the subscriber gave, a cashier pays it out once — no typed contract number, the
role table, CSRF, Russian refusals."""

from __future__ import annotations

import asyncio

from tables.audit import AuditEntry
from tables.ledger import EntryKind, LedgerEntry, post_entry
from tables.requests.queue import ServiceRequest
from tables.subscribers import Subscriber
from tests.support.factories import make_subscriber
from tests.support.helpers import admin_login, csrf_from, make_staff


async def _terminated_with(balance: int) -> Subscriber:
    s = await make_subscriber()
    if balance:
        await post_entry(s.id, balance, EntryKind.PAYMENT, f"pay-{s.id}")
    await Subscriber.update({Subscriber.status: "terminated"}).where(Subscriber.id == s.id)
    return s


async def test_an_operator_files_and_a_cashier_pays_out_once(client, app):
    s = await _terminated_with(50000)
    await make_staff("op", role="operator")
    await make_staff("kassa", role="cashier")
    await admin_login(client, "op")
    card = await client.get(f"/office/subscribers/{s.contract_number}")
    assert "Возврат остатка" in card.text
    url = f"/office/subscribers/{s.contract_number}/balance-refund"
    page = await client.get(url)
    assert page.status_code == 200 and "Подать заявку на возврат 500,00" in page.text
    token = csrf_from(page.text)
    empty = await client.post(url, data={"_csrf_token": token, "details": " "})
    assert empty.status_code == 422 and 'role="alert"' in empty.text
    assert await ServiceRequest.count() == 0
    filed = await client.post(url, data={"_csrf_token": token, "details": "получит в кассе"},
                              follow_redirects=False)
    assert filed.status_code in (302, 303) and filed.headers["location"].endswith("?done=balance_refund")
    request = await ServiceRequest.objects().get(ServiceRequest.subscriber == s.id)
    assert request.kind == "balance_refund" and request.text == "получит в кассе"
    page = await client.get(url)
    assert request.number in page.text and "Выплачивает кассир" in page.text
    refused = await client.post(f"{url}/pay", data={"_csrf_token": token,
                                                    "request": str(request.id)})
    assert refused.status_code == 403

    import httpx

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as cashier:
        await admin_login(cashier, "kassa")
        page = await cashier.get(url)
        assert "Выплатить остаток 500,00" in page.text
        form = {"_csrf_token": csrf_from(page.text), "request": str(request.id)}
        # The same button pressed twice at once: the money goes out once.
        answers = await asyncio.gather(*[cashier.post(f"{url}/pay", data=form, follow_redirects=False)
                                         for _ in range(2)])
    assert sorted(a.status_code for a in answers)[0] in (302, 303)
    assert sorted(a.status_code for a in answers)[1] == 422
    entries = await LedgerEntry.select(LedgerEntry.amount).where(
        (LedgerEntry.subscriber == s.id) & (LedgerEntry.kind == "refund"))
    assert [e["amount"] for e in entries] == [-50000]
    assert (await Subscriber.objects().get(Subscriber.id == s.id)).balance == 0
    assert await AuditEntry.exists().where(AuditEntry.action == "subscriber.balance_refunded")


async def test_an_active_contract_or_nothing_to_return_gets_a_reason_not_a_form(client):
    active = await make_subscriber()
    await post_entry(active.id, 30000, EntryKind.PAYMENT, f"pay-{active.id}")
    empty = await _terminated_with(0)
    await make_staff("op", role="operator")
    await admin_login(client, "op")
    page = await client.get(f"/office/subscribers/{active.contract_number}/balance-refund")
    assert page.status_code == 200 and "Договор действует" in page.text and "<textarea" not in page.text
    card = await client.get(f"/office/subscribers/{active.contract_number}")
    assert "Возврат остатка" not in card.text
    forced = await client.post(f"/office/subscribers/{active.contract_number}/balance-refund",
                               data={"_csrf_token": csrf_from(card.text), "details": "карта"})
    assert forced.status_code == 422 and "после расторжения договора" in forced.text
    page = await client.get(f"/office/subscribers/{empty.contract_number}/balance-refund")
    assert "Возвращать нечего" in page.text
    assert await ServiceRequest.count() == 0


async def test_a_manager_reads_but_files_nothing(client):
    s = await _terminated_with(50000)
    await make_staff("boss", role="manager")
    await admin_login(client, "boss")
    card = await client.get(f"/office/subscribers/{s.contract_number}")
    assert card.status_code == 200 and "Возврат остатка" not in card.text
    url = f"/office/subscribers/{s.contract_number}/balance-refund"
    page = await client.get(url)
    assert page.status_code == 200 and "<textarea" not in page.text
    token = csrf_from((await client.get("/office/broadcasts")).text)  # a form a manager has
    refused = await client.post(url, data={"_csrf_token": token, "details": "карта"})
    assert refused.status_code == 403 and await ServiceRequest.count() == 0
