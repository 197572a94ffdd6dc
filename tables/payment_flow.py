"""Card payment flows that talk to the provider.

Provider calls never run inside a database transaction (a slow provider must
not hold SQLite's write lock or a PostgreSQL row lock); each step writes what
it learned through one domain function of ``tables.payments``, and crediting
happens only in :func:`tables.payments.settle_payment`.

Order of a card payment (cabinet and quick pay alike):

1. ``start_payment`` — our row, status "created" (its id keys every call below);
2. :func:`submit_card` — claim the row once, attach the Stripe.js token to a
   customer, create the PaymentIntent **without** confirming and store its id,
   then confirm.  Until the confirm nothing can be charged, so any failure
   before it closes the payment as failed; a failure *of* the confirm leaves
   it open with the intent id for a re-read;
3. the confirmation code step in the browser when the intent requires it;
4. :func:`refresh_payment` (return page), :func:`handle_webhook` and
   :func:`reconcile` all re-read / receive the intent and call ``settle_payment``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from db.engine import MAX_ROW_ID, write_transaction
from providers.stripe_client import (
    PaymentProvider,
    ProviderError,
    ProviderRefused,
    ProviderUnavailable,
    provider,
    verify_webhook,
)
from settings import get_settings
from tables.audit import SYSTEM, Actor
from tables.calendar import utcnow
from tables.payments import (
    ABANDON_AFTER,
    ACCEPTED_BRANDS,
    CURRENCY,
    OPEN_STATUSES,
    Payment,
    PaymentChannel,
    PaymentCustomer,
    PaymentRefund,
    PaymentStatus,
    RefundStatus,
    bind_intent,
    claim_for_card,
    complete_refund,
    fail_refund,
    failure_message,
    mark_failed,
    normalise_brand,
    payment_reference,
    record_card,
    record_event,
    reserve_refund,
    reverse_failed_refund,
    settle_payment,
    unbooked_payments,
)

TOKEN_RE = re.compile(r"^tok_[A-Za-z0-9_]{1,200}$")
CARD_MISSING = "Данные карты не получены. Обновите страницу и введите карту ещё раз."


def idempotency_key(payment: Payment, step: str) -> str:
    """Derived from our payment's reference, so a rebuilt database never reuses one."""
    return f"centra-payment-{payment_reference(payment)}-{step}"


@dataclass(frozen=True)
class CardOutcome:
    status: str
    client_secret: str | None = None  # only while the confirmation code step is due
    message: str = ""


async def _status(payment_id: int) -> str:
    row = await Payment.select(Payment.status, Payment.failure_code).where(Payment.id == payment_id).first()
    return row["status"] if row else PaymentStatus.FAILED


async def _customer_for(payment: Payment, p: PaymentProvider) -> str:
    if payment.channel == PaymentChannel.QUICK_PAY:
        # A visitor paying for someone's contract: their card is not kept on that subscriber.
        customer = await p.create_customer({"centra_payment": str(payment.id), "channel": "quick_pay"},
                                           key=idempotency_key(payment, "customer"))
        return customer["id"]
    row = await PaymentCustomer.select(PaymentCustomer.provider_customer_id).where(
        PaymentCustomer.subscriber == payment.subscriber
    ).first()
    if row:
        return row["provider_customer_id"]
    customer = await p.create_customer({"centra_subscriber": str(payment.subscriber)},
                                       key=idempotency_key(payment, "customer"))
    async with write_transaction():
        await PaymentCustomer.insert(
            PaymentCustomer(subscriber=payment.subscriber, provider_customer_id=customer["id"],
                            created_at=utcnow())
        ).on_conflict(target=PaymentCustomer.subscriber, action="DO NOTHING")
    row = await PaymentCustomer.select(PaymentCustomer.provider_customer_id).where(
        PaymentCustomer.subscriber == payment.subscriber
    ).first()
    return row["provider_customer_id"]


async def submit_card(payment_id: int, token: str) -> CardOutcome:
    """Pay an open payment with a card token from Stripe.js (the card number never comes here).

    Safe to call twice: only the first call for a payment talks to the provider.
    """
    if not TOKEN_RE.match(token or ""):
        raise ValueError(CARD_MISSING)
    payment = await claim_for_card(payment_id)
    if payment is None:
        return CardOutcome(await _status(payment_id))
    p = provider()
    try:
        customer = await _customer_for(payment, p)
        card = await p.attach_card(customer, token, key=idempotency_key(payment, "card"))
        brand = normalise_brand(card.get("brand"))
        await record_card(payment.id, brand, str(card.get("last4") or ""))
        if brand not in ACCEPTED_BRANDS:
            await mark_failed(payment.id, "card_brand")
            return CardOutcome(PaymentStatus.FAILED, message=failure_message("card_brand"))
        intent = await p.create_intent(
            amount=payment.amount, currency=CURRENCY, customer=customer, payment_method=card["id"],
            metadata={"centra_payment": str(payment.id), "centra_ref": payment_reference(payment),
                      "channel": str(payment.channel),
                      "subscriber": str(payment.subscriber)},
            key=idempotency_key(payment, "intent"),
        )
        await bind_intent(payment.id, intent["id"])
    except ProviderError as exc:
        # Nothing was confirmed yet, so nothing can have been charged: close it.
        code = exc.code if isinstance(exc, ProviderRefused) else "provider_unavailable"
        await mark_failed(payment.id, code)
        return CardOutcome(PaymentStatus.FAILED, message=failure_message(code))
    try:
        intent = await p.confirm_intent(intent["id"], key=idempotency_key(payment, "confirm"))
    except ProviderUnavailable:
        # The charge may or may not have happened: keep it open for the re-read.
        return CardOutcome(await _status(payment.id))
    except ProviderRefused:
        try:
            intent = await p.retrieve_intent(intent["id"])
        except ProviderError:
            return CardOutcome(await _status(payment.id))
    settlement = await settle_payment(intent)
    status = settlement.status or await _status(payment.id)
    secret = intent.get("client_secret") if intent.get("status") == "requires_action" else None
    message = ""
    if status == PaymentStatus.FAILED:
        row = await Payment.select(Payment.failure_reason).where(Payment.id == payment.id).first()
        message = row["failure_reason"] if row else ""
    return CardOutcome(status, client_secret=secret, message=message)


# The return page re-reads an open payment from the provider. Anonymous GETs of an open quick-pay
# result page must not each cost a provider call (up to TIMEOUT_SECONDS when it hangs): per process,
# one call per payment at a time (the others wait for it), its answer kept for a few seconds
# (settings: ``provider_refresh_cache_seconds``), and a page waits at most ``wait`` seconds for it.
_answered: dict[tuple[int, str], float] = {}  # (payment, intent) → monotonic time of the last answer
_in_flight: dict[tuple[int, str], asyncio.Task] = {}
_ANSWERED_MAX = 10_000
log = logging.getLogger(__name__)


async def _reread(key: tuple[int, str]) -> None:
    try:
        intent = await provider().retrieve_intent(key[1])
    except ProviderError:
        return  # the outage is remembered too (finally): nobody hammers a provider that is down
    else:
        await settle_payment(intent)
    finally:
        now = time.monotonic()
        if len(_answered) >= _ANSWERED_MAX:
            ttl = get_settings().provider_refresh_cache_seconds
            for stale in [k for k, at in _answered.items() if now - at > ttl]:
                del _answered[stale]
            if len(_answered) >= _ANSWERED_MAX:
                _answered.clear()
        _answered[key] = now


def _finished(key: tuple[int, str], task: asyncio.Task) -> None:
    if _in_flight.get(key) is task:
        del _in_flight[key]
    if not task.cancelled() and task.exception() is not None:
        log.warning("re-reading payment %s failed: %r", key[0], task.exception())


async def refresh_payment(payment_id: int, *, wait: float | None = None,
                          allow: Callable[[], Awaitable[bool]] | None = None,
                          max_age: float | None = None) -> Payment | None:
    """Re-read an open payment's intent from the provider and settle it (the return page).

    At most one provider call per payment at a time in this process, and none while the
    last answer is younger than ``provider_refresh_cache_seconds``: the database already
    holds what it said.

    :param wait: seconds to wait for the provider before answering with what the database
        holds (the call goes on and settles the payment when it answers); ``None`` waits.
    :param allow: asked before a new provider call (the pages' per-payment and per-address
        limits); ``False`` answers from the database.
    :param max_age: seconds a previous answer is reused; the setting when ``None``.
    """
    payment = await Payment.objects().where(Payment.id == payment_id).first()
    if payment is None or payment.status not in OPEN_STATUSES or not payment.provider_intent_id:
        return payment
    key = (payment.id, payment.provider_intent_id)
    task = _in_flight.get(key)
    if task is None:
        answered = _answered.get(key)
        ttl = get_settings().provider_refresh_cache_seconds if max_age is None else max_age
        if answered is not None and time.monotonic() - answered < ttl:
            return payment
        if allow is not None and not await allow():
            return payment
        task = _in_flight.get(key)  # another request may have started it meanwhile
        if task is None:
            task = asyncio.create_task(_reread(key))
            _in_flight[key] = task
            task.add_done_callback(functools.partial(_finished, key))
    try:
        await asyncio.wait_for(asyncio.shield(task), wait)
    except TimeoutError:
        return payment
    return await Payment.objects().where(Payment.id == payment_id).first()


class MalformedEvent(ValueError):
    """A correctly signed event whose content is not what the provider documents."""


def _is_text(value: Any, *, none: bool = True) -> bool:
    return (value is None and none) or isinstance(value, str)


def event_problem(event: dict[str, Any]) -> str | None:
    """What makes a verified event unusable (``None``: nothing), checked before anything reads it.

    Only the fields we read are checked, with the types the provider documents: a wrong type
    otherwise fails deep in the processing (a 500, and the provider retries it for days).
    """
    if not _is_text(event.get("type"), none=False) or len(event["id"]) > 100:
        return "type or id"
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        return "data.object is not an object"
    obj = data["object"]
    if not _is_text(obj.get("id")) or len(obj.get("id") or "") > 100 or not _is_text(obj.get("object")):
        return "object id"
    if obj.get("object") == "payment_intent":
        if not str(obj.get("id") or "").startswith("pi_") or not _is_text(obj.get("status")):
            return "payment intent id or status"
        if obj.get("amount") is not None and (type(obj["amount"]) is not int or obj["amount"] < 0):
            return "amount"
        if not _is_text(obj.get("currency")) or not _is_text(obj.get("cancellation_reason")):
            return "currency"
        metadata = obj.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            return "metadata"
        ours = str((metadata or {}).get("centra_payment", ""))
        if ours.isdigit() and int(ours) > MAX_ROW_ID:
            return "metadata.centra_payment"
        if not isinstance(obj.get("last_payment_error"), (dict, type(None))):
            return "last_payment_error"
        if not isinstance(obj.get("latest_charge"), (dict, str, type(None))):
            return "latest_charge"
    if obj.get("object") == "refund" and not _is_text(obj.get("status")):
        return "refund status"
    return None


async def handle_webhook(payload: bytes, signature: str | None) -> str:
    """Verify and apply one provider event; raises ``InvalidWebhook`` for a bad signature and
    ``MalformedEvent`` for a signed event we cannot read (recorded with the outcome
    "malformed", visible in the admin's list of provider events).

    :returns: what happened ("processed", "duplicate", "ignored") — for logs and tests.
    """
    event = verify_webhook(payload, signature)
    problem = event_problem(event)
    if problem:
        obj = (event.get("data") or {}).get("object") if isinstance(event.get("data"), dict) else None
        object_id = obj.get("id") if isinstance(obj, dict) else None
        async with write_transaction():
            await record_event(str(event["id"]), str(event.get("type") or ""),
                               object_id if isinstance(object_id, str) else "", outcome="malformed")
        raise MalformedEvent(problem)
    event_type = str(event.get("type") or "")
    obj = (event.get("data") or {}).get("object") or {}
    if event_type.startswith("payment_intent.") and obj.get("object") == "payment_intent":
        result = await settle_payment(obj, event_id=event["id"], event_type=event_type)
        return "duplicate" if result.duplicate_event else "processed"
    if obj.get("object") == "refund" and obj.get("status") in ("failed", "canceled"):
        # refund.failed / charge.refund.updated: accepted earlier, bounced by the card network.
        reason = str(obj.get("failure_reason") or obj.get("status"))
        if await reverse_failed_refund(str(obj.get("id") or ""), reason, event_id=event["id"],
                                       event_type=event_type):
            return "processed"
    async with write_transaction():
        await record_event(event["id"], event_type, str(obj.get("id") or ""), outcome="ignored")
    return "ignored"


async def refund_payment(payment_id: int, amount: int, reason: str, *, actor: Actor) -> PaymentRefund:
    """Refund a card payment fully or partly: reserve, ask the provider, post the ``refund`` entry.

    A refused refund releases its reservation and raises ``ValueError``; a provider
    that does not answer leaves the refund "pending" for :func:`reconcile`.
    """
    refund = await reserve_refund(payment_id, amount, reason, actor=actor)
    payment = await Payment.objects().where(Payment.id == payment_id).first()
    stamp = int(refund.created_at.timestamp())
    try:
        result = await provider().create_refund(
            payment.provider_intent_id, amount,
            {"centra_refund": str(refund.id), "centra_payment": str(payment_id)},
            key=f"centra-refund-{refund.id}-{stamp}",
        )
    except ProviderRefused as exc:
        await fail_refund(refund.id, f"{exc.code}: {exc.message}", actor=actor)
        raise ValueError(f"Платёжная система отказала в возврате ({exc.code}). "
                         "Деньги не возвращены.") from exc
    except ProviderUnavailable:
        return await _refund(refund.id)
    await _apply_refund(refund.id, result, actor=actor)
    refund = await _refund(refund.id)
    if refund.status == RefundStatus.FAILED:
        raise ValueError(f"Платёжная система отклонила возврат: {refund.failure_reason}")
    return refund


async def _refund(refund_id: int) -> PaymentRefund:
    return await PaymentRefund.objects().where(PaymentRefund.id == refund_id).first()


async def _apply_refund(refund_id: int, provider_refund: dict[str, Any], *, actor: Actor = SYSTEM) -> None:
    if provider_refund.get("status") in ("failed", "canceled"):
        reason = provider_refund.get("failure_reason") or provider_refund.get("status")
        await fail_refund(refund_id, str(reason), actor=actor)
    else:  # succeeded, or pending on the card network's side: the money is on its way back
        await complete_refund(refund_id, str(provider_refund["id"]), actor=actor)


@dataclass
class ReconcileReport:
    checked: int = 0
    succeeded: int = 0
    failed: int = 0
    abandoned: int = 0
    still_open: int = 0
    unreachable: int = 0
    refunds_completed: int = 0
    refunds_failed: int = 0
    mismatches: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [
            f"open card payments checked: {self.checked}",
            f"  succeeded: {self.succeeded}, failed: {self.failed}, abandoned (cancelled): {self.abandoned}, "
            f"still open: {self.still_open}, provider unreachable: {self.unreachable}",
            f"pending refunds completed: {self.refunds_completed}, failed: {self.refunds_failed}",
        ]
        out += [f"MISMATCH: {m}" for m in self.mismatches] or ["ledger matches credited payments"]
        return out


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


async def _reconcile_payment(payment: Payment, p: PaymentProvider, now: dt.datetime,
                             report: ReconcileReport) -> None:
    old = _aware(payment.created_at) < now - ABANDON_AFTER
    if not payment.provider_intent_id:
        # No intent was ever confirmed for it: nothing can have been charged.
        if old and await mark_failed(payment.id, "abandoned"):
            report.abandoned += 1
        else:
            report.still_open += 1
        return
    try:
        intent = await p.retrieve_intent(payment.provider_intent_id)
    except ProviderUnavailable:
        report.unreachable += 1
        return
    except ProviderRefused:  # the provider does not know the intent: it never charged
        if old and await mark_failed(payment.id, "abandoned"):
            report.abandoned += 1
        else:
            report.still_open += 1
        return
    result = await settle_payment(intent)
    if result.status in OPEN_STATUSES and old and intent.get("status") in (
            "requires_payment_method", "requires_confirmation", "requires_action"):
        try:
            intent = await p.cancel_intent(intent["id"], key=idempotency_key(payment, "cancel"))
        except ProviderUnavailable:
            report.unreachable += 1
            return
        except ProviderRefused:  # e.g. it succeeded in the meantime
            try:
                intent = await p.retrieve_intent(intent["id"])
            except ProviderError:
                report.unreachable += 1
                return
        result = await settle_payment(intent)
        if result.status == PaymentStatus.FAILED and intent.get("status") == "canceled":
            report.abandoned += 1
            return
    if result.status == PaymentStatus.SUCCEEDED:
        report.succeeded += 1
    elif result.status == PaymentStatus.FAILED:
        report.failed += 1
    else:
        report.still_open += 1


async def reconcile(now: dt.datetime | None = None) -> ReconcileReport:
    """Settle every non-final card payment and pending refund by asking the provider.

    Safe to run at any time and on any machine, as often as wanted: every change
    goes through the same once-only functions as the webhook.
    """
    now = now or utcnow()
    report = ReconcileReport()
    p = provider()
    open_payments = await Payment.objects().where(
        Payment.status.is_in(list(OPEN_STATUSES)) & (Payment.channel != PaymentChannel.OFFICE)
    ).order_by(Payment.id)
    for payment in open_payments:
        report.checked += 1
        await _reconcile_payment(payment, p, now, report)

    pending = await PaymentRefund.objects().where(PaymentRefund.status == RefundStatus.PENDING)
    for refund in pending:
        payment = await Payment.objects().where(Payment.id == refund.payment).first()
        try:
            found = [r for r in await p.list_refunds(payment.provider_intent_id)
                     if (r.get("metadata") or {}).get("centra_refund") == str(refund.id)]
        except ProviderError:
            report.unreachable += 1
            continue
        if found:
            await _apply_refund(refund.id, found[0])
            status = (await _refund(refund.id)).status
            if status == RefundStatus.SUCCEEDED:
                report.refunds_completed += 1
            else:
                report.refunds_failed += 1
        elif _aware(refund.created_at) < now - ABANDON_AFTER:
            await fail_refund(refund.id, "not found at the provider")
            report.refunds_failed += 1

    for row in await unbooked_payments():
        report.mismatches.append(f"payment {row['id']} ({row['provider_intent_id']}) is credited "
                                 "but has no ledger entry")
    return report
