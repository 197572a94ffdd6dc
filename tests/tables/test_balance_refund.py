"""Issue 24 item 9d: the leftover balance of a terminated contract goes back to the subscriber.

A "Возврат остатка" request, filed from the cabinet or by staff, completed through the ledger:
one ``refund`` entry takes the balance to zero, audited, exactly once — also when clerks
complete it at the same moment (domain calls at once here; real parallel admin requests
against a running server below, on whichever engine the session runs).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import httpx
import pytest

from backoffice.forms import FORMS
from tables.audit import AuditEntry
from tables.billing.charge_run import run_charges
from tables.ledger import EntryKind, LedgerEntry, ledger_sum, post_entry
from tables.notifications import Notification
from tables.requests.balance_refund import complete_balance_refund, file_balance_refund
from tables.requests.queue import RequestEvent, RequestStatus, ServiceRequest, close_request
from tables.requests.termination import complete_termination
from tables.subscribers import Subscriber, SubscriberStatus
from tests.support.factories import make_subscriber
from tests.support.helpers import STAFF_PASSWORD, make_staff
from tests.support.live_server import live_server
from tests.support.request_factories import filed, staff_actor

ROOT = Path(__file__).resolve().parents[2]
NSK_NOON = dt.timedelta(hours=5)  # 12:00 in Novokuznetsk is 05:00 UTC


def local_noon(day: int, month: int = 12) -> dt.datetime:
    return dt.datetime(2026, month, day, tzinfo=dt.UTC) + NSK_NOON


async def contract(subscriber_id: int) -> Subscriber:
    return await Subscriber.objects().where(Subscriber.id == subscriber_id).first()


async def terminated_with_leftover(paid: int = 100000) -> Subscriber:
    """Paid ahead, charged December, terminated on 10 December: part of the fee comes back."""
    s = await make_subscriber(fee=75000)
    await post_entry(s.id, paid, EntryKind.PAYMENT, f"pay-{s.id}")
    await run_charges("2026-12", actor=await staff_actor("billing"), now=local_noon(1))
    request = await filed(s.id, "termination", now=local_noon(5), desired_date=dt.date(2026, 12, 10))
    await complete_termination(request.id, actor=await staff_actor(f"clerk{s.id}"), now=local_noon(10))
    row = await contract(s.id)
    assert row.status == SubscriberStatus.TERMINATED and row.balance > 0
    return row


async def test_subscriber_files_and_cashier_pays_out_the_leftover():
    s = await terminated_with_leftover()
    leftover = s.balance  # 1000 − 750 + the 21 days given back
    assert leftover == 100000 - 75000 + (75000 - (2 * 10 * 75000 + 31) // 62)
    request = await file_balance_refund(s.id, "Сбербанк, счёт 40817810000000000001", now=local_noon(11))
    assert request.kind == "balance_refund" and request.number.startswith("Z-")
    events = await RequestEvent.select().where(RequestEvent.service_request == request.id)
    assert [(e["author_kind"], e["message"]) for e in events] == [
        ("subscriber", "Сбербанк, счёт 40817810000000000001")]

    cashier = await staff_actor("cashier")
    assert await complete_balance_refund(request.id, actor=cashier, now=local_noon(12)) == leftover
    row = await contract(s.id)
    assert row.balance == 0 == await ledger_sum(s.id)
    assert row.status == SubscriberStatus.TERMINATED
    entry = await LedgerEntry.objects().where(LedgerEntry.reference == f"balance-refund:{request.id}").first()
    assert entry.kind == EntryKind.REFUND and entry.amount == -leftover
    assert entry.comment == f"Возврат остатка по заявке {request.number}" and entry.created_by == "cashier"
    done = await ServiceRequest.objects().where(ServiceRequest.id == request.id).first()
    assert done.status == RequestStatus.DONE and "выплачен" in done.close_reason
    audit = await AuditEntry.objects().where(AuditEntry.action == "subscriber.balance_refunded").first()
    before = json.loads(audit.before) if isinstance(audit.before, str) else audit.before
    assert audit.object_id == str(s.id) and audit.actor_name == "cashier"
    assert before == {"balance": leftover}
    told = await Notification.objects().where(Notification.reference == request.number)
    assert len(told) == 1 and "выплачен" in told[0].body
    # Done is final: a second completion changes nothing.
    with pytest.raises(ValueError, match="уже закрыта"):
        await complete_balance_refund(request.id, actor=cashier)
    assert await LedgerEntry.count().where(LedgerEntry.kind == EntryKind.REFUND) == 1


async def test_staff_file_on_the_subscribers_behalf():
    s = await terminated_with_leftover()
    clerk = await staff_actor("office")
    request = await file_balance_refund(s.id, "получит в кассе", actor=clerk)
    event = await RequestEvent.objects().where(RequestEvent.service_request == request.id).first()
    assert event.author_kind == "staff" and event.staff == clerk.staff_id


async def test_refused_with_a_reason_and_nothing_changes():
    active = await make_subscriber()
    await post_entry(active.id, 5000, EntryKind.PAYMENT, "pay-active")
    with pytest.raises(ValueError, match="после расторжения договора"):
        await file_balance_refund(active.id, "на карту")
    s = await terminated_with_leftover()
    with pytest.raises(ValueError, match="куда перечислить"):
        await file_balance_refund(s.id, "   ")
    first = await file_balance_refund(s.id, "на карту")
    with pytest.raises(ValueError, match=f"{first.number} уже подана"):
        await file_balance_refund(s.id, "ещё раз")
    # Plain "done" is not how the money moves.
    with pytest.raises(ValueError, match="«Выплатить остаток»"):
        await close_request(first.id, actor=await staff_actor("x"), done=True)
    # The balance went to zero another way (a correction): completing refuses, the request stays open.
    await post_entry(s.id, -s.balance, EntryKind.ADJUSTMENT, "adj-zero")
    with pytest.raises(ValueError, match="нет остатка"):
        await complete_balance_refund(first.id, actor=await staff_actor("y"))
    row = await ServiceRequest.objects().where(ServiceRequest.id == first.id).first()
    assert row.status == RequestStatus.NEW
    assert await LedgerEntry.count().where(LedgerEntry.kind == EntryKind.REFUND) == 0
    with pytest.raises(ValueError, match="нет остатка"):
        await _zero_balance_refund()


async def _zero_balance_refund() -> None:
    s = await make_subscriber()
    await Subscriber.update({Subscriber.status: SubscriberStatus.TERMINATED,
                             Subscriber.terminated_on: dt.date(2026, 12, 1)}).where(Subscriber.id == s.id)
    await file_balance_refund(s.id, "на карту")


async def test_concurrent_completions_pay_out_once():
    s = await terminated_with_leftover()
    request = await file_balance_refund(s.id, "на карту")
    clerks = [await staff_actor(f"c{i}") for i in range(6)]
    results = await asyncio.gather(*(complete_balance_refund(request.id, actor=c) for c in clerks),
                                   return_exceptions=True)
    paid = [r for r in results if isinstance(r, int)]
    assert paid == [s.balance], results
    assert all(isinstance(r, ValueError) for r in results if not isinstance(r, int))
    assert (await contract(s.id)).balance == 0 == await ledger_sum(s.id)
    assert await LedgerEntry.count().where(LedgerEntry.kind == EntryKind.REFUND) == 1
    assert await AuditEntry.count().where(AuditEntry.action == "subscriber.balance_refunded") == 1


# --- real parallel requests through the admin form, against a running server ----------------

@pytest.fixture
def server():
    with live_server({"REDIS_URL": None}) as base:
        yield base


async def _admin_client(base: str, username: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base, timeout=60)
    await client.get("/admin/")
    token = client.cookies.get("csrftoken")
    response = await client.post("/admin/public/login/", headers={"X-CSRFToken": token},
                                 json={"username": username, "password": STAFF_PASSWORD})
    assert response.status_code == 200, response.text
    client.headers["X-CSRFToken"] = token
    return client


async def test_parallel_admin_completions_against_a_running_server_pay_out_once(server):
    s = await terminated_with_leftover()
    leftover = s.balance
    request = await file_balance_refund(s.id, "на карту")
    slug = next(f.slug for f in FORMS if f.name == "Выплатить остаток")
    clients = []
    for i in range(4):  # four cashiers, each with a session of their own
        await make_staff(f"cashier{i}", role="cashier")
        clients.append(await _admin_client(server, f"cashier{i}"))
    try:
        posts = [c.post(f"/admin/api/forms/{slug}/", json={"number": request.number})
                 for c in clients for _ in range(3)]
        responses = await asyncio.gather(*posts)
    finally:
        for c in clients:
            await c.aclose()
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [422] * 11, [(r.status_code, r.text[:200]) for r in responses]
    assert (await contract(s.id)).balance == 0 == await ledger_sum(s.id)
    refunds = await LedgerEntry.select(LedgerEntry.amount).where(LedgerEntry.kind == EntryKind.REFUND)
    assert refunds == [{"amount": -leftover}]
    assert await AuditEntry.count().where(AuditEntry.action == "subscriber.balance_refunded") == 1
