"""Settlement: the only place a card payment is credited.

A card payment is credited by :func:`settle_payment` only, in one transaction with
its move to "succeeded", so the webhook, the return page and the reconciliation may
all report the same intent, in any order or at the same moment, and the ledger gets
one entry.  Database-only: callers pass what the provider answered.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from db.engine import write_transaction
from tables.audit import SYSTEM, Actor, write_audit
from tables.calendar import utcnow
from tables.ledger import DuplicateEntryError, EntryKind, post_entry
from tables.payments.events import event_outcome, record_event
from tables.payments.payment import (
    CARD_CHANNELS,
    CREDITED_STATUSES,
    CURRENCY,
    OPEN_STATUSES,
    PAYMENT_CHANNEL_LABELS,
    Payment,
    PaymentStatus,
    failure_message,
    payment_reference,
)
from tables.payments.receipts import issue_receipt


async def mark_failed(payment_id: int, code: str, *, actor: Actor = SYSTEM) -> bool:
    """Close an open payment as failed with a reason; ``False`` when it was already final."""
    async with write_transaction():
        rows = await Payment.update({
            Payment.status: PaymentStatus.FAILED,
            Payment.failure_code: code[:60],
            Payment.failure_reason: failure_message(code),
            Payment.updated_at: utcnow(),
        }).where((Payment.id == payment_id) & Payment.status.is_in(list(OPEN_STATUSES))).returning(
            Payment.id
        )
        if rows:
            await write_audit(action="payment.failed", object_type="payment", object_id=payment_id,
                              actor=actor, message=code)
    return bool(rows)


@dataclass(frozen=True)
class Settlement:
    payment_id: int | None
    status: str | None
    credited: bool = False
    duplicate_event: bool = False


def _charge_id(intent: Mapping[str, Any]) -> str:
    charge = intent.get("latest_charge")
    if isinstance(charge, Mapping):
        charge = charge.get("id")
    return str(charge or "")[:100]


def _failure_code(intent: Mapping[str, Any]) -> str:
    if intent.get("status") == "canceled":
        reason = intent.get("cancellation_reason")
        return "abandoned" if reason in (None, "abandoned") else "canceled"
    error = intent.get("last_payment_error") or {}
    return str(error.get("decline_code") or error.get("code") or "card_declined")


async def _find_payment(intent: Mapping[str, Any]) -> Payment | None:
    payment = await Payment.objects().where(Payment.provider_intent_id == intent["id"]).first()
    if payment is not None:
        return payment
    # Created by us but the answer with its id was lost: our metadata names the payment.  The id
    # alone is not enough: another database on the same provider account (staging, a restored
    # backup, a test run) has its own payment with that id, so the reference must match too.
    metadata = intent.get("metadata") or {}
    raw_id = str(metadata.get("centra_payment", ""))
    if raw_id.isdigit():
        payment = await Payment.objects().where(
            (Payment.id == int(raw_id)) & Payment.provider_intent_id.is_null()
        ).first()
        if payment is not None and metadata.get("centra_ref") != payment_reference(payment):
            return None
        if payment is not None:
            await Payment.update({Payment.provider_intent_id: intent["id"]}).where(
                Payment.id == payment.id
            )
            payment.provider_intent_id = intent["id"]
    return payment


async def settle_payment(intent: Mapping[str, Any], *, event_id: str | None = None,
                         event_type: str = "") -> Settlement:
    """Bring our payment in line with the provider's PaymentIntent, crediting at most once.

    Called by the webhook (with the verified event's id, recorded in the same
    transaction so a redelivery is a no-op), by the return page and by the
    reconciliation (after re-reading the intent).  On success the payment moves
    to "succeeded" with a conditional UPDATE and the ledger entry (reference =
    intent id) is posted in the same transaction: a concurrent caller either
    waits for the row and then finds nothing to update, or sees the entry.

    :param intent: the PaymentIntent as a plain dict (the provider's JSON).
    """
    intent_id = str(intent.get("id") or "")
    if not intent_id.startswith("pi_"):
        raise ValueError("not a PaymentIntent")
    now = utcnow()
    async with write_transaction():
        if event_id and not await record_event(event_id, event_type, intent_id, now=now):
            return Settlement(None, None, duplicate_event=True)
        payment = await _find_payment(intent)
        if payment is None or payment.channel not in CARD_CHANNELS:
            settlement, outcome = Settlement(None, None), "unknown_intent"
        else:
            step = _STEPS.get(_step_of(intent), _no_change)
            settlement, outcome = await step(payment, intent, event_id=event_id, now=now)
        await event_outcome(event_id, outcome)
        return settlement


# Each step runs inside settle_payment's transaction and answers (settlement, event outcome).
Step = Callable[..., Awaitable[tuple[Settlement, str]]]


def _step_of(intent: Mapping[str, Any]) -> str | None:
    status = intent.get("status")
    if status in ("succeeded", "requires_action"):
        return status
    if status == "canceled" or (status == "requires_payment_method" and intent.get("last_payment_error")):
        return "failed"
    return None


async def _credit(payment: Payment, intent: Mapping[str, Any], *, event_id: str | None,
                  now: dt.datetime) -> tuple[Settlement, str]:
    """The provider took the money: "succeeded" and the ledger entry, once."""
    if intent.get("amount") != payment.amount or str(intent.get("currency", "")).lower() != CURRENCY:
        await write_audit(action="payment.amount_mismatch", object_type="payment",
                          object_id=payment.id, actor=SYSTEM,
                          before={"amount": payment.amount},
                          after={"provider_amount": intent.get("amount"),
                                 "currency": intent.get("currency")})
        return Settlement(payment.id, payment.status), "amount_mismatch"
    rows = await Payment.update({
        Payment.status: PaymentStatus.SUCCEEDED,
        Payment.provider_charge_id: _charge_id(intent),
        Payment.failure_code: "",
        Payment.failure_reason: "",
        Payment.updated_at: now,
    }).where(
        (Payment.id == payment.id) & Payment.status.not_in(list(CREDITED_STATUSES))
    ).returning(Payment.id)
    if not rows:
        return Settlement(payment.id, payment.status), "already_settled"
    try:
        _, balance = await post_entry(
            payment.subscriber, payment.amount, EntryKind.PAYMENT, intent["id"],
            period=payment.period, created_by="provider",
            comment=f"Оплата картой ({PAYMENT_CHANNEL_LABELS[payment.channel]})",
        )
    except DuplicateEntryError:
        return Settlement(payment.id, PaymentStatus.SUCCEEDED), "already_settled"
    await issue_receipt(payment.id, now=now)
    await write_audit(action="payment.succeeded", object_type="payment", object_id=payment.id,
                      actor=SYSTEM, message=f"intent={intent['id']} event={event_id or '-'}",
                      before={"status": payment.status},
                      after={"status": "succeeded", "amount": payment.amount, "balance": balance})
    return Settlement(payment.id, PaymentStatus.SUCCEEDED, credited=True), "credited"


async def _requires_action(payment: Payment, intent: Mapping[str, Any], *, event_id: str | None,
                           now: dt.datetime) -> tuple[Settlement, str]:
    """The bank asks for its confirmation code."""
    await Payment.update(
        {Payment.status: PaymentStatus.REQUIRES_ACTION, Payment.updated_at: now}
    ).where((Payment.id == payment.id) & (Payment.status == PaymentStatus.CREATED))
    return Settlement(payment.id, await _status(payment.id)), "requires_action"


async def _fail(payment: Payment, intent: Mapping[str, Any], *, event_id: str | None,
                now: dt.datetime) -> tuple[Settlement, str]:
    """Declined or cancelled: an open payment closes as failed with the reason."""
    code = _failure_code(intent)
    rows = await Payment.update({
        Payment.status: PaymentStatus.FAILED,
        Payment.failure_code: code[:60],
        Payment.failure_reason: failure_message(code),
        Payment.updated_at: now,
    }).where(
        (Payment.id == payment.id) & Payment.status.is_in(list(OPEN_STATUSES))
    ).returning(Payment.id)
    if rows:
        await write_audit(action="payment.failed", object_type="payment", object_id=payment.id,
                          actor=SYSTEM, message=f"intent={intent['id']} code={code}")
    return Settlement(payment.id, await _status(payment.id)), "failed" if rows else "already_settled"


async def _no_change(payment: Payment, intent: Mapping[str, Any], *, event_id: str | None,
                     now: dt.datetime) -> tuple[Settlement, str]:
    return Settlement(payment.id, payment.status), "no_change"


_STEPS: dict[str | None, Step] = {"succeeded": _credit, "requires_action": _requires_action, "failed": _fail}


async def _status(payment_id: int) -> str | None:
    row = await Payment.select(Payment.status).where(Payment.id == payment_id).first()
    return row["status"] if row else None
