"""The Stripe sandbox fixture and helpers that play the browser's and the provider's parts.

Tests that take ``stripe_sandbox`` run against a real localstripe process on
127.0.0.1 (started once per session); the application finds it through the
STRIPE_* environment, which it reads on every call.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import stripe

from providers.stripe_sandbox import TEST_PUBLISHABLE_KEY, TEST_WEBHOOK_SECRET, Sandbox
from settings import get_settings

CARD_OK = "4242424242424242"
CARD_DECLINED = "4000000000000341"
CARD_3DS = "4000002760003184"


@pytest.fixture(scope="session")
def stripe_sandbox() -> Iterator[Sandbox]:
    sandbox = Sandbox(state_dir=None).start()
    saved = {k: os.environ.get(k) for k in sandbox.env()}
    os.environ.update(sandbox.env())
    get_settings.cache_clear()
    try:
        yield sandbox
    finally:
        sandbox.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()


async def card_token(sandbox: Sandbox, number: str = CARD_OK) -> str:
    """What Stripe.js does in the browser: the card goes to the provider, we get a token."""
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{sandbox.base_url}/v1/tokens", data={
            "key": TEST_PUBLISHABLE_KEY, "card[number]": number, "card[exp_month]": "12",
            "card[exp_year]": "34", "card[cvc]": "123",
        })
    response.raise_for_status()
    return response.json()["id"]


async def authenticate(sandbox: Sandbox, intent_id: str, client_secret: str, success: bool) -> None:
    """The confirmation code dialog of the sandbox's Stripe.js (``confirmCardPayment``)."""
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{sandbox.base_url}/v1/payment_intents/{intent_id}/_authenticate",
            params={"success": "true" if success else "false"},
            json={"key": TEST_PUBLISHABLE_KEY, "client_secret": client_secret},
        )
    response.raise_for_status()


async def fetch_intent(sandbox: Sandbox, intent_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{sandbox.base_url}/v1/payment_intents/{intent_id}",
                                  headers={"Authorization": "Bearer sk_test_reader"})
    response.raise_for_status()
    return response.json()


def signed_event(intent: dict[str, Any], event_type: str = "payment_intent.succeeded", *,
                 event_id: str = "evt_test_1", secret: str = TEST_WEBHOOK_SECRET,
                 timestamp: int | None = None) -> tuple[bytes, dict[str, str]]:
    """A webhook body and its ``Stripe-Signature`` header, signed the way Stripe signs."""
    body = json.dumps({"id": event_id, "object": "event", "type": event_type,
                       "created": int(time.time()), "data": {"object": intent}})
    header = stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=timestamp)
    return body.encode(), {"Stripe-Signature": header, "Content-Type": "application/json"}
