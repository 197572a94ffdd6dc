"""Requests that used to answer 500: static names the file system cannot look up, and
correctly signed but malformed provider events (400 and recorded: the provider retries a 500
for days)."""

from __future__ import annotations

import json
import time

import pytest
import stripe

from providers.stripe_sandbox import TEST_WEBHOOK_SECRET
from tables.ledger import LedgerEntry
from tables.payments.events import ProviderEvent


@pytest.mark.parametrize("path", ["/static/" + "a" * 3000, "/static/%00", "/static/site%00.css",
                                  "/static/" + "b/" * 200 + "c.css"])
async def test_static_names_that_cannot_exist_are_not_found(client, path):
    assert (await client.get(path)).status_code == 404
    assert (await client.get("/static/site.css")).status_code == 200


def _signed(event: dict) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(body, TEST_WEBHOOK_SECRET,
                                                               timestamp=int(time.time()))
    return body.encode(), {"Stripe-Signature": header, "Content-Type": "application/json"}


def _intent(**fields) -> dict:
    return {"data": {"object": {"object": "payment_intent", "id": "pi_1", "status": "succeeded",
                                "amount": 50000, "currency": "rub", **fields}}}


MALFORMED = {
    "data is a list": {"data": []},
    "object is text": {"data": {"object": "pi_1"}},
    "intent id is a number": _intent(id=123),
    "intent id not an intent": _intent(id="ch_1"),
    "amount as text": _intent(amount="50000"),
    "metadata as text": _intent(metadata="centra"),
    "our payment id beyond any row": _intent(id="pi_2", metadata={"centra_payment": "9" * 30}),
    "error as text": _intent(status="requires_payment_method", last_payment_error="declined"),
    "type is a number": {"type": 7, "data": {"object": {}}},
}


@pytest.mark.parametrize("name", MALFORMED)
async def test_signed_malformed_event_is_refused_and_recorded(client, setenv, name):
    setenv("STRIPE_WEBHOOK_SECRET", TEST_WEBHOOK_SECRET)
    event = {"id": "evt_bad_1", "object": "event", "type": "payment_intent.succeeded",
             **MALFORMED[name]}
    body, headers = _signed(event)
    for _ in range(2):  # the provider's retry gets the same answer, and one record
        response = await client.post("/payments/webhook", content=body, headers=headers)
        assert response.status_code == 400, response.text
    rows = await ProviderEvent.select().where(ProviderEvent.event_id == "evt_bad_1")
    assert [r["outcome"] for r in rows] == ["malformed"]
    assert await LedgerEntry.count() == 0


async def test_well_formed_unknown_event_is_still_accepted(client, setenv):
    setenv("STRIPE_WEBHOOK_SECRET", TEST_WEBHOOK_SECRET)
    body, headers = _signed({"id": "evt_ok_1", "object": "event", "type": "customer.created",
                             "data": {"object": {"object": "customer", "id": "cus_1"}}})
    response = await client.post("/payments/webhook", content=body, headers=headers)
    assert response.status_code == 200 and response.json()["outcome"] == "ignored"
