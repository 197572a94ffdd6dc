"""The card provider: the Stripe API through the official SDK, async over httpx.

Only this module knows the SDK.  It answers with plain dicts (the provider's
JSON) and two kinds of error, which is all the payment flow needs to decide:

- :class:`ProviderRefused` — the provider answered and said no (declined card,
  invalid token, 4xx): nothing was charged by this call;
- :class:`ProviderUnavailable` — timeout, connection error, 5xx, bad keys: the
  outcome is unknown, so the payment must stay open for a later re-read.

The base URL and keys come from settings on every call, so the same code runs
against Stripe, stripe-mock and the local sandbox (``providers/stripe_sandbox.py``).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import stripe

from settings import Settings, get_settings

TIMEOUT_SECONDS = 20.0
WEBHOOK_TOLERANCE_SECONDS = 300


class ProviderError(Exception):
    def __init__(self, code: str, message: str = "", http_status: int | None = None) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.http_status = http_status


class ProviderRefused(ProviderError):
    """A definite "no" from the provider."""


class ProviderUnavailable(ProviderError):
    """No usable answer: the operation may or may not have happened."""


class InvalidWebhook(Exception):
    """Missing or wrong signature, stale timestamp or unreadable payload."""


@dataclass(frozen=True)
class ProviderConfig:
    api_base: str
    secret_key: str = field(repr=False)
    publishable_key: str
    js_url: str
    webhook_secret: str = field(repr=False)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> ProviderConfig:
        s = settings or get_settings()
        return cls(api_base=s.stripe_api_base.rstrip("/"),
                   secret_key=s.stripe_secret_key.get_secret_value(),
                   publishable_key=s.stripe_publishable_key, js_url=s.stripe_js_url,
                   webhook_secret=s.stripe_webhook_secret.get_secret_value())


def _plain(obj: Any) -> dict[str, Any]:
    # StripeObject is not a dict; its JSON form is what webhooks carry too.
    return json.loads(str(obj)) if obj is not None else {}


class PaymentProvider:
    """Thin async wrapper of ``stripe.StripeClient`` (``client.v1.*``) with our error kinds."""

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self._client = stripe.StripeClient(
            config.secret_key or "sk_missing",
            base_addresses={"api": config.api_base},
            http_client=stripe.HTTPXClient(timeout=TIMEOUT_SECONDS),
            # Our own reconciliation retries; the SDK's retries would hide outages.
            max_network_retries=0,
        )

    async def _call(self, coro: Any) -> Any:
        if not self.config.secret_key:
            coro.close()
            raise ProviderUnavailable("not_configured", "STRIPE_SECRET_KEY is not set")
        try:
            return await coro
        except stripe.CardError as exc:
            error = exc.error
            code = (getattr(error, "decline_code", None) or exc.code or "card_declined") if error else (
                exc.code or "card_declined")
            raise ProviderRefused(str(code), exc.user_message or "", exc.http_status) from exc
        except (stripe.InvalidRequestError, stripe.IdempotencyError) as exc:
            if exc.http_status and exc.http_status >= 500:  # the sandbox answers 500 for "not implemented"
                raise ProviderUnavailable("api_error", str(exc), exc.http_status) from exc
            raise ProviderRefused(str(exc.code or "invalid_request"), exc.user_message or "",
                                  exc.http_status) from exc
        except stripe.StripeError as exc:  # connection, 5xx, rate limit, authentication
            raise ProviderUnavailable(type(exc).__name__, str(exc)[:200], exc.http_status) from exc

    async def create_customer(self, metadata: dict[str, str], *, key: str) -> dict[str, Any]:
        return _plain(await self._call(self._client.v1.customers.create_async(
            params={"metadata": metadata}, options={"idempotency_key": key})))

    async def attach_card(self, customer_id: str, token: str, *, key: str) -> dict[str, Any]:
        """Attach a Stripe.js card token to the customer (Cards API) → the ``card_`` object."""
        return _plain(await self._call(self._client.v1.customers.payment_sources.create_async(
            customer_id, params={"source": token}, options={"idempotency_key": key})))

    async def create_intent(self, *, amount: int, currency: str, customer: str, payment_method: str,
                            metadata: dict[str, str], key: str) -> dict[str, Any]:
        """Create without confirming: the intent id is stored before any money can move."""
        return _plain(await self._call(self._client.v1.payment_intents.create_async(
            params={"amount": amount, "currency": currency, "customer": customer,
                    "payment_method": payment_method, "payment_method_types": ["card"],
                    "metadata": metadata},
            options={"idempotency_key": key})))

    async def charge_saved_card(self, *, amount: int, currency: str, customer: str,
                                payment_method: str, metadata: dict[str, str],
                                key: str) -> dict[str, Any]:
        """Charge a saved card with the customer away (``off_session``, confirmed at once).

        Answers ``succeeded``, or ``requires_action`` when the bank wants its code (the
        customer must come back); a decline raises :class:`ProviderRefused`.
        """
        return _plain(await self._call(self._client.v1.payment_intents.create_async(
            params={"amount": amount, "currency": currency, "customer": customer,
                    "payment_method": payment_method, "payment_method_types": ["card"],
                    "metadata": metadata, "confirm": True, "off_session": True},
            options={"idempotency_key": key})))

    async def confirm_intent(self, intent_id: str, *, key: str) -> dict[str, Any]:
        return _plain(await self._call(self._client.v1.payment_intents.confirm_async(
            intent_id, options={"idempotency_key": key})))

    async def retrieve_intent(self, intent_id: str) -> dict[str, Any]:
        return _plain(await self._call(self._client.v1.payment_intents.retrieve_async(intent_id)))

    async def cancel_intent(self, intent_id: str, *, key: str) -> dict[str, Any]:
        return _plain(await self._call(self._client.v1.payment_intents.cancel_async(
            intent_id, options={"idempotency_key": key})))

    async def create_refund(self, intent_id: str, amount: int, metadata: dict[str, str], *,
                            key: str) -> dict[str, Any]:
        return _plain(await self._call(self._client.v1.refunds.create_async(
            params={"payment_intent": intent_id, "amount": amount, "metadata": metadata},
            options={"idempotency_key": key})))

    async def list_refunds(self, intent_id: str) -> list[dict[str, Any]]:
        page = await self._call(self._client.v1.refunds.list_async(
            params={"payment_intent": intent_id, "limit": 100}))
        return [_plain(r) for r in page.data]


_cache: dict[tuple[ProviderConfig, int], PaymentProvider] = {}


def provider() -> PaymentProvider:
    """The provider for the current settings and event loop (the SDK's httpx client is per loop)."""
    config = ProviderConfig.from_settings()
    try:
        loop_id = id(asyncio.get_running_loop())
    except RuntimeError:
        loop_id = 0
    key = (config, loop_id)
    if key not in _cache:
        if len(_cache) > 8:
            _cache.clear()
        _cache[key] = PaymentProvider(config)
    return _cache[key]


def verify_webhook(payload: bytes, signature: str | None, secret: str | None = None,
                   tolerance: int = WEBHOOK_TOLERANCE_SECONDS) -> dict[str, Any]:
    """Check the ``Stripe-Signature`` of the raw body and return the event as a dict."""
    secret = secret if secret is not None else ProviderConfig.from_settings().webhook_secret
    if not secret:
        raise InvalidWebhook("webhook secret not configured")
    try:
        stripe.WebhookSignature.verify_header(payload, signature, secret, tolerance)
        event = json.loads(payload)
    except (stripe.SignatureVerificationError, ValueError, UnicodeDecodeError) as exc:
        raise InvalidWebhook(str(exc)[:200]) from exc
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        raise InvalidWebhook("not an event")
    return event
