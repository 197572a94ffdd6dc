"""The ATOL Online v5 client against a local HTTP server speaking the documented API."""

from __future__ import annotations

import httpx
import pytest

from providers.cash_register import AtolClient, AtolConfig, ReceiptRejected, RegisterUnavailable
from providers.cash_register_sandbox import GROUP, LOGIN, PASSWORD, AtolSandbox


def document(external_id: str = "centra-payment-1-1", *, inn: str = "4217000001", total: float = 500.0):
    return {
        "external_id": external_id, "timestamp": "07.12.2026 17:00:00",
        "receipt": {
            "client": {"email": "anna@example.ru"},
            "company": {"inn": inn, "sno": "osn", "payment_address": "https://centra.example"},
            "items": [{"name": "Услуги связи по договору № 100001", "price": total, "quantity": 1.0,
                       "measure": 0, "sum": total, "payment_method": "advance", "payment_object": 10,
                       "vat": {"type": "vat122"}}],
            "payments": [{"type": 1, "sum": total}], "total": total,
        },
    }


@pytest.fixture
def register():
    server = AtolSandbox().start()
    yield server
    server.stop()


@pytest.fixture
async def client(register):
    c = AtolClient(AtolConfig(base_url=register.base_url, login=LOGIN, password=PASSWORD,
                              group_code=GROUP, timeout=1.0))
    yield c
    await c.aclose()


async def test_sell_then_report_gives_the_fiscal_data(register, client):
    registration = await client.register("sell", document())
    assert not registration.duplicate
    report = await client.report(registration.uuid)
    assert report.status == "done"
    assert {"fiscal_document_attribute", "fiscal_document_number", "fn_number",
            "ecr_registration_number", "ofd_receipt_url"} <= set(report.payload)
    [stored] = register.documents.values()
    assert stored.operation == "sell" and stored.body["receipt"]["total"] == 500.0
    assert register.requests[0].endswith("/getToken")  # one token for both calls
    assert sum(r.endswith("/getToken") for r in register.requests) == 1


async def test_refund_receipt_is_a_sell_refund(register, client):
    registration = await client.register("sell_refund", document("centra-refund-1-1"))
    assert register.documents[registration.uuid].operation == "sell_refund"


async def test_validation_error_is_a_refusal_not_a_retry(register, client):
    with pytest.raises(ReceiptRejected) as refused:
        await client.register("sell", document(inn="12"))
    assert refused.value.code == 32 and "ИНН" in refused.value.text
    assert register.documents == {}


async def test_duplicate_external_id_answers_the_first_document(register, client):
    first = await client.register("sell", document("centra-payment-7-1"))
    again = await client.register("sell", document("centra-payment-7-1"))
    assert again.duplicate and again.uuid == first.uuid
    assert len(register.documents) == 1


async def test_timeout_then_retry_registers_once(register, client):
    register.slow_next = 1  # takes the document, answers after the client gave up
    with pytest.raises(RegisterUnavailable):
        await client.register("sell", document("centra-payment-9-1"))
    again = await client.register("sell", document("centra-payment-9-1"))
    assert again.duplicate and len(register.documents) == 1


async def test_server_error_and_expired_token(register, client):
    register.http_error_next = 1  # the first request (getToken) meets the 503
    with pytest.raises(RegisterUnavailable):
        await client.register("sell", document("a"))
    await client.register("sell", document("b"))
    register.expire_tokens()  # the next call meets a stale token, takes a fresh one, goes on
    await client.register("sell", document("c"))
    assert [r.rsplit("/", 1)[1] for r in register.requests] == [
        "getToken", "getToken", "sell", "sell", "getToken", "sell"]
    assert len(register.documents) == 2


async def test_wrong_password_is_a_refusal(register):
    c = AtolClient(AtolConfig(base_url=register.base_url, login=LOGIN, password="nope", group_code=GROUP))
    with pytest.raises(ReceiptRejected, match="Неверный логин"):
        await c.register("sell", document())
    await c.aclose()


async def test_the_raw_answers_have_the_documented_shape(register):
    token = httpx.post(f"{register.base_url}/getToken", json={"login": LOGIN, "pass": PASSWORD}).json()
    assert token["error"] is None and token["token"]
    sell = httpx.post(f"{register.base_url}/{GROUP}/sell", json=document(),
                      headers={"Token": token["token"]}).json()
    assert sell["status"] == "wait" and sell["error"] is None and sell["uuid"]
    refused = httpx.post(f"{register.base_url}/{GROUP}/sell", json=document("x", inn="1"),
                         headers={"Token": token["token"]})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == 32 and refused.json()["error"]["type"] == "system"
