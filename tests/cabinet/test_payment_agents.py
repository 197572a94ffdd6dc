"""Payment agents and terminals over HTTP: the OSMP/QIWI-style check/pay requests as agents send
them (``/payments/agents/<code>?command=pay&txn_id=…&txn_date=…&account=…&sum=…&sign=…``), the
XML answers, repeats (one after another, at once through the app, and real parallel requests to a
uvicorn process), refused signatures and addresses, unknown accounts and terminated contracts."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import xml.etree.ElementTree as ET

import httpx
import pytest

from tables.ledger import LedgerEntry
from tables.payments.agents import AgentTransaction, agent_daily_totals, request_signature
from tables.payments.payment import Payment
from tables.subscribers import Subscriber, SubscriberStatus
from tests.support.factories import make_subscriber
from tests.support.live_server import live_server

SECRET = "agent-secret-2026"
AGENTS = {
    "qiwi": {"name": "QIWI Кошелёк", "secret": SECRET},
    "kassa": {"name": "Касса в магазине", "allowed_ips": ["127.0.0.1"]},
    "bank": {"name": "Банк-партнёр", "secret": SECRET, "allowed_ips": ["10.0.0.0/8"]},
}


@pytest.fixture(autouse=True)
def agents(setenv):
    setenv("CENTRA_PAYMENT_AGENTS", json.dumps(AGENTS))


def signed(params: dict[str, str], secret: str = SECRET) -> dict[str, str]:
    return {**params, "sign": request_signature(params, secret)}


def pay_params(account: str, txn_id: str = "1234567", amount: str = "500.00",
               txn_date: str = "20261207101500") -> dict[str, str]:
    return signed({"command": "pay", "txn_id": txn_id, "txn_date": txn_date,
                   "account": account, "sum": amount})


def answer(response: httpx.Response) -> dict[str, str]:
    assert response.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(response.content)
    assert root.tag == "response"
    return {child.tag: child.text or "" for child in root}


async def test_check_answers_whether_the_contract_may_be_paid(client):
    s = await make_subscriber()
    ok = await client.get("/payments/agents/qiwi", params=signed(
        {"command": "check", "txn_id": "1", "account": s.contract_number, "sum": "10.45"}))
    assert ok.status_code == 200
    assert answer(ok) == {"osmp_txn_id": "1", "sum": "10.45", "result": "0", "comment": "OK"}
    unknown = answer(await client.get("/payments/agents/qiwi", params=signed(
        {"command": "check", "txn_id": "2", "account": "999999", "sum": "10.00"})))
    assert unknown["result"] == "5" and unknown["comment"] == "Договор не найден"
    bad = answer(await client.get("/payments/agents/qiwi", params=signed(
        {"command": "check", "txn_id": "3", "account": "10-00-01", "sum": "10.00"})))
    assert bad["result"] == "4"
    # A terminal checks before the payer has inserted any money: sum=0 is allowed in check.
    empty = answer(await client.get("/payments/agents/qiwi", params=signed(
        {"command": "check", "txn_id": "4", "account": s.contract_number, "sum": "0.00"})))
    assert empty["result"] == "0"
    assert await AgentTransaction.count() == 0 and await Payment.count() == 0


async def test_pay_books_once_and_a_repeat_returns_the_first_answer(client):
    s = await make_subscriber()
    first = await client.get("/payments/agents/qiwi", params=pay_params(s.contract_number))
    body = answer(first)
    payment = await Payment.objects().first()
    assert body == {"osmp_txn_id": "1234567", "prv_txn": str(payment.id), "sum": "500.00",
                    "result": "0", "comment": "OK"}
    assert payment.channel == "agent" and payment.status == "succeeded" and payment.amount == 500_00
    entry = await LedgerEntry.objects().first()
    assert entry.reference == "agent:qiwi:1234567" and entry.amount == 500_00 and entry.kind == "payment"
    assert (await Subscriber.objects().get(Subscriber.id == s.id)).balance == 500_00

    again = await client.get("/payments/agents/qiwi", params=pay_params(s.contract_number))
    assert again.content == first.content
    # The same txn_id with another sum is still the first payment: nothing more is booked.
    other = await client.post("/payments/agents/qiwi", data=pay_params(s.contract_number, amount="900.00"))
    assert other.content == first.content
    assert await LedgerEntry.count() == 1 and await Payment.count() == 1
    assert (await Subscriber.objects().get(Subscriber.id == s.id)).balance == 500_00

    # Another txn_id is another payment; the same txn_id at another agent too.
    await client.get("/payments/agents/qiwi", params=pay_params(s.contract_number, txn_id="1234568"))
    kassa = answer(await client.post("/payments/agents/kassa", data={
        "command": "pay", "txn_id": "1234567", "txn_date": "20261207101600",
        "account": s.contract_number, "sum": "100"}))
    assert kassa["result"] == "0" and kassa["sum"] == "100.00"
    assert await LedgerEntry.count() == 3
    assert (await Subscriber.objects().get(Subscriber.id == s.id)).balance == 1100_00


async def test_concurrent_repeats_through_the_app_book_once(client):
    s = await make_subscriber()
    params = pay_params(s.contract_number, txn_id="777")
    responses = await asyncio.gather(*(client.get("/payments/agents/qiwi", params=params)
                                       for _ in range(10)))
    assert len({r.content for r in responses}) == 1
    assert answer(responses[0])["result"] == "0"
    assert await LedgerEntry.count() == 1


async def test_real_parallel_repeats_book_once():
    """Twenty retries of one txn_id at the same moment, to a uvicorn process (PostgreSQL when the
    suite runs there: the unique key, not a write lock, decides which one books)."""
    s = await make_subscriber()
    params = pay_params(s.contract_number, txn_id="424242", amount="1500.50")
    with live_server({"CENTRA_PAYMENT_AGENTS": json.dumps(AGENTS)}) as base:
        async with httpx.AsyncClient(base_url=base, timeout=60) as c:
            responses = await asyncio.gather(*(c.get("/payments/agents/qiwi", params=params)
                                               for _ in range(20)))
    assert [r.status_code for r in responses] == [200] * 20
    assert len({r.content for r in responses}) == 1, {r.content for r in responses}
    assert answer(responses[0])["result"] == "0"
    assert (await LedgerEntry.count(), await Payment.count(), await AgentTransaction.count()) == (1, 1, 1)
    assert (await Subscriber.objects().get(Subscriber.id == s.id)).balance == 1500_50


async def test_bad_signature_and_foreign_address_are_refused(client):
    s = await make_subscriber()
    forged = pay_params(s.contract_number)
    forged["sum"] = "5000.00"  # signed for 500, changed on the way
    refused = await client.get("/payments/agents/qiwi", params=forged)
    assert refused.status_code == 403 and answer(refused)["result"] == "300"
    unsigned = {k: v for k, v in pay_params(s.contract_number).items() if k != "sign"}
    assert (await client.get("/payments/agents/qiwi", params=unsigned)).status_code == 403
    other_key = pay_params(s.contract_number)
    other_key["sign"] = request_signature({k: v for k, v in other_key.items() if k != "sign"}, "guess")
    assert (await client.get("/payments/agents/qiwi", params=other_key)).status_code == 403
    # "bank" needs its signature *and* an address in 10.0.0.0/8: the test client is 127.0.0.1.
    bank = await client.get("/payments/agents/bank", params=pay_params(s.contract_number))
    assert bank.status_code == 403
    # "kassa" is bound to 127.0.0.1 and needs no signature.
    kassa = await client.get("/payments/agents/kassa", params={
        "command": "check", "txn_id": "1", "account": s.contract_number, "sum": "1.00"})
    assert answer(kassa)["result"] == "0"
    nobody = await client.get("/payments/agents/nobody", params=pay_params(s.contract_number))
    assert nobody.status_code == 404
    assert await LedgerEntry.count() == 0 and await AgentTransaction.count() == 0


async def test_unknown_account_and_terminated_contract_book_nothing(client):
    unknown = answer(await client.get("/payments/agents/qiwi", params=pay_params("999999")))
    assert unknown["result"] == "5" and "prv_txn" not in unknown
    s = await make_subscriber()
    await Subscriber.update({Subscriber.status: SubscriberStatus.TERMINATED}).where(Subscriber.id == s.id)
    closed = answer(await client.get("/payments/agents/qiwi", params=pay_params(s.contract_number,
                                                                                txn_id="55")))
    assert closed["result"] == "7"
    # The repeat gets the first answer, even after the contract would be payable again.
    await Subscriber.update({Subscriber.status: SubscriberStatus.ACTIVE}).where(Subscriber.id == s.id)
    again = answer(await client.get("/payments/agents/qiwi", params=pay_params(s.contract_number,
                                                                               txn_id="55")))
    assert again["result"] == "7"
    assert await LedgerEntry.count() == 0 and await Payment.count() == 0


@pytest.mark.parametrize(("amount", "result"), [
    ("0.50", "241"), ("0", "241"), ("100000.01", "242"), ("10,45", "300"), ("-5.00", "300"),
    ("1e3", "300"), ("10.456", "300"), ("", "300"),
])
async def test_sums_are_validated(client, amount, result):
    s = await make_subscriber()
    body = answer(await client.get("/payments/agents/qiwi", params=pay_params(s.contract_number,
                                                                              amount=amount)))
    assert body["result"] == result
    assert await LedgerEntry.count() == 0 and await AgentTransaction.count() == 0


@pytest.mark.parametrize("params", [
    {"command": "pay", "txn_id": "", "txn_date": "20261207101500", "sum": "10.00"},
    {"command": "pay", "txn_id": "1", "txn_date": "2026-12-07", "sum": "10.00"},
    {"command": "pay", "txn_id": "1", "txn_date": "20261332101500", "sum": "10.00"},
    {"command": "pay", "txn_id": "1 OR 1=1", "txn_date": "20261207101500", "sum": "10.00"},
    {"command": "refund", "txn_id": "1", "txn_date": "20261207101500", "sum": "10.00"},
])
async def test_malformed_requests_are_answered_not_recorded(client, params):
    s = await make_subscriber()
    response = await client.get("/payments/agents/qiwi",
                                params=signed({**params, "account": s.contract_number}))
    assert response.status_code == 200 and answer(response)["result"] == "300"
    assert await AgentTransaction.count() == 0 and await LedgerEntry.count() == 0


async def test_daily_totals_follow_the_agents_days(client):
    s = await make_subscriber()
    for txn, day, amount in [("1", "20261205235959", "100.00"), ("2", "20261206000000", "50.50"),
                             ("3", "20261206120000", "20.00"), ("4", "20261208090000", "1.00")]:
        await client.get("/payments/agents/qiwi", params=pay_params(s.contract_number, txn_id=txn,
                                                                    amount=amount, txn_date=day))
    await client.get("/payments/agents/qiwi", params=pay_params("999999", txn_id="5",
                                                                txn_date="20261206130000"))
    days = await agent_daily_totals("qiwi", dt.date(2026, 12, 5), dt.date(2026, 12, 7))
    assert [(d.day, d.count, d.amount) for d in days] == [
        (dt.date(2026, 12, 5), 1, 100_00), (dt.date(2026, 12, 6), 2, 70_50)]
    assert await agent_daily_totals("kassa", dt.date(2026, 12, 5), dt.date(2026, 12, 7)) == []


async def test_the_accountant_reads_the_daily_reconciliation_in_the_office(client):
    from tests.support.helpers import admin_login, make_staff

    s = await make_subscriber()
    for txn, day, amount in [("1", "20261205101010", "100.00"), ("2", "20261205111111", "50.50")]:
        await client.get("/payments/agents/qiwi", params=pay_params(s.contract_number, txn_id=txn,
                                                                    amount=amount, txn_date=day))
    await make_staff("accountant", role="cashier")
    await admin_login(client, "accountant")
    page = await client.get("/office/agents", params={"agent": "qiwi", "date_from": "2026-12-01",
                                                      "date_to": "2026-12-31"})
    assert page.status_code == 200
    assert "05.12.2026" in page.text and "150,50" in page.text and "QIWI Кошелёк" in page.text
    bad = await client.get("/office/agents", params={"agent": "qiwi", "date_from": "2026-12-31",
                                                     "date_to": "2026-12-01"})
    assert bad.status_code == 422 and "раньше" in bad.text
    garbage = await client.get("/office/agents", params={"agent": "qiwi", "date_from": "31.31.2026"})
    assert garbage.status_code == 422
    unknown = await client.get("/office/agents", params={"agent": "nobody"})
    assert unknown.status_code == 422 and "Выберите агента" in unknown.text
    await make_staff("operator1", role="operator")
    await admin_login(client, "operator1")
    assert (await client.get("/office/agents")).status_code == 403
