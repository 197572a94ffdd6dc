"""Refunds to the card: reserve the amount (capped atomically), ask the provider, post the entry once."""

from __future__ import annotations

import enum
from typing import Any

from piccolo.columns import BigInt, ForeignKey, OnDelete, Text, Timestamptz, Varchar
from piccolo.columns.combination import WhereRaw
from piccolo.table import Table

from db.engine import write_transaction
from providers.stripe_client import (
    ProviderRefused,
    ProviderUnavailable,
    provider,
)
from tables.audit import SYSTEM, Actor, write_audit
from tables.calendar import utcnow
from tables.choices import choices
from tables.ledger import DuplicateEntryError, EntryKind, post_entry
from tables.money import format_plain, kopecks
from tables.payments.events import event_outcome, record_event
from tables.payments.payment import CREDITED_STATUSES, Payment, PaymentChannel, PaymentStatus


class RefundStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


REFUND_STATUS_LABELS = {
    "pending": "Отправлен в платёжную систему",
    "succeeded": "Выполнен",
    "failed": "Отклонён",
}


class PaymentRefund(Table, help_text="Возвраты платежей на карту"):
    payment = ForeignKey(Payment, null=False, on_delete=OnDelete.restrict, help_text="Платёж")
    amount = kopecks(BigInt(help_text="Сумма возврата, ₽"))
    status = Varchar(length=20, choices=choices(RefundStatus, REFUND_STATUS_LABELS),
                     default="pending", index=True, help_text="Состояние")
    provider_refund_id = Varchar(length=100, unique=True, null=True, default=None,
                                 help_text="Возврат у провайдера (Refund)")
    reason = Text(default="", help_text="Причина возврата")
    failure_reason = Text(default="", help_text="Почему не выполнен")
    created_by = Varchar(length=150, default="", help_text="Кто оформил")
    created_at = Timestamptz(help_text="Создан")
    updated_at = Timestamptz(help_text="Изменён")


async def reserve_refund(payment_id: int, amount: int, reason: str, *, actor: Actor) -> PaymentRefund:
    """Record a refund request and reserve its amount on the payment, capped atomically.

    The conditional UPDATE (``refunded_amount + amount <= amount``) is the cap, so
    two clerks refunding at once cannot together exceed the payment.  The
    provider is asked afterwards; :func:`complete_refund` or :func:`fail_refund`
    closes the request.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("Укажите причину возврата")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise ValueError("Сумма возврата должна быть больше нуля")
    now = utcnow()
    async with write_transaction():
        payment = await Payment.objects().where(Payment.id == payment_id).first()
        if payment is None:
            raise ValueError(f"Платёж № {payment_id} не найден")
        if payment.channel == PaymentChannel.OFFICE or not payment.provider_intent_id:
            raise ValueError("На карту возвращаются только платежи картой; наличные возвращает касса.")
        if payment.status not in CREDITED_STATUSES:
            raise ValueError("Вернуть можно только зачисленный платёж")
        rows = await Payment.update({
            Payment.refunded_amount: Payment.refunded_amount + amount,
            Payment.updated_at: now,
        }).where(
            (Payment.id == payment_id)
            & (Payment.status == PaymentStatus.SUCCEEDED)
            & WhereRaw("refunded_amount + {} <= amount", amount)
        ).returning(Payment.refunded_amount)
        if not rows:
            left = payment.amount - payment.refunded_amount
            raise ValueError(f"Сумма возврата больше остатка платежа: можно вернуть не больше "
                             f"{format_plain(max(left, 0))} ₽")
        refund = PaymentRefund(payment=payment_id, amount=amount, status=RefundStatus.PENDING,
                               reason=reason[:1000], created_by=actor.name, created_at=now, updated_at=now)
        await refund.save()
        await write_audit(action="payment.refund_requested", object_type="payment", object_id=payment_id,
                          actor=actor, message=reason[:500],
                          before={"refunded_amount": payment.refunded_amount},
                          after={"refund": refund.id, "amount": amount,
                                 "refunded_amount": rows[0]["refunded_amount"]})
    return refund


async def complete_refund(refund_id: int, provider_refund_id: str, *, actor: Actor = SYSTEM) -> bool:
    """The provider accepted the refund: post the ``refund`` entry once (reference = its id)."""
    now = utcnow()
    async with write_transaction():
        rows = await PaymentRefund.update({
            PaymentRefund.status: RefundStatus.SUCCEEDED,
            PaymentRefund.provider_refund_id: provider_refund_id[:100],
            PaymentRefund.updated_at: now,
        }).where(
            (PaymentRefund.id == refund_id) & (PaymentRefund.status == RefundStatus.PENDING)
        ).returning(PaymentRefund.payment, PaymentRefund.amount, PaymentRefund.reason)
        if not rows:
            return False
        payment_id, amount = rows[0]["payment"], rows[0]["amount"]
        payment = await Payment.objects().where(Payment.id == payment_id).first()
        try:
            comment = f"Возврат платежа № {payment_id}: {rows[0]['reason']}"[:500]
            _, balance = await post_entry(payment.subscriber, -amount, EntryKind.REFUND, provider_refund_id,
                                          period=payment.period, comment=comment, created_by=actor.name)
        except DuplicateEntryError:
            balance = None
        from tables.payments.receipts import issue_receipt  # receipts read PaymentRefund

        await issue_receipt(payment_id, refund_id=refund_id, amount=amount, now=now)
        pending = await PaymentRefund.exists().where(
            (PaymentRefund.payment == payment_id) & (PaymentRefund.status == RefundStatus.PENDING)
        )
        if not pending:
            await Payment.update({Payment.status: PaymentStatus.REFUNDED, Payment.updated_at: now}).where(
                (Payment.id == payment_id) & (Payment.status == PaymentStatus.SUCCEEDED)
                & WhereRaw("refunded_amount = amount")
            )
        await write_audit(action="payment.refunded", object_type="payment", object_id=payment_id,
                          actor=actor, message=f"refund={refund_id} provider={provider_refund_id}",
                          after={"amount": amount, "balance": balance})
    return True


async def fail_refund(refund_id: int, reason: str, *, actor: Actor = SYSTEM) -> bool:
    """The provider refused (or never got) the refund: release the reserved amount."""
    now = utcnow()
    async with write_transaction():
        rows = await PaymentRefund.update({
            PaymentRefund.status: RefundStatus.FAILED,
            PaymentRefund.failure_reason: reason[:1000],
            PaymentRefund.updated_at: now,
        }).where(
            (PaymentRefund.id == refund_id) & (PaymentRefund.status == RefundStatus.PENDING)
        ).returning(PaymentRefund.payment, PaymentRefund.amount)
        if not rows:
            return False
        payment_id, amount = rows[0]["payment"], rows[0]["amount"]
        await Payment.update({
            Payment.refunded_amount: Payment.refunded_amount - amount, Payment.updated_at: now,
        }).where(Payment.id == payment_id)
        await write_audit(action="payment.refund_failed", object_type="payment", object_id=payment_id,
                          actor=actor, message=reason[:500], after={"refund": refund_id, "amount": amount})
    return True


async def reverse_failed_refund(provider_refund_id: str, reason: str, *, event_id: str | None = None,
                                event_type: str = "refund.failed", actor: Actor = SYSTEM) -> bool:
    """A refund the provider accepted and later failed (the card network bounced it).

    Its ``refund`` entry took the money off the balance when it was accepted; the money never
    reached the card, so it goes back on the balance: a ``refund`` entry of the opposite sign
    (reference ``refund-failed:<provider refund id>``, so once only), the refund marked failed,
    the payment's refunded amount released. Returns False when there is nothing to reverse.
    """
    now = utcnow()
    async with write_transaction():
        if event_id and not await record_event(event_id, event_type, provider_refund_id,
                                               outcome="refund_reversed", now=now):
            return False
        rows = await PaymentRefund.update({
            PaymentRefund.status: RefundStatus.FAILED,
            PaymentRefund.failure_reason: reason[:1000],
            PaymentRefund.updated_at: now,
        }).where(
            (PaymentRefund.provider_refund_id == provider_refund_id[:100])
            & (PaymentRefund.status == RefundStatus.SUCCEEDED)
        ).returning(PaymentRefund.id, PaymentRefund.payment, PaymentRefund.amount)
        if not rows:  # not ours, or already failed: the event is recorded as such
            await event_outcome(event_id, "unknown_refund")
            return False
        refund_id, payment_id, amount = rows[0]["id"], rows[0]["payment"], rows[0]["amount"]
        payment = await Payment.objects().where(Payment.id == payment_id).first()
        _, balance = await post_entry(
            payment.subscriber, amount, EntryKind.REFUND, f"refund-failed:{provider_refund_id}",
            period=payment.period, created_by=actor.name,
            comment=f"Возврат платежа № {payment_id} на карту не выполнен: сумма возвращена на счёт"[:500])
        from tables.payments.receipts import issue_receipt  # receipts read PaymentRefund

        await issue_receipt(payment_id, refund_id=refund_id, amount=amount, now=now, bounced=True)
        await Payment.update({
            Payment.refunded_amount: Payment.refunded_amount - amount,
            Payment.status: PaymentStatus.SUCCEEDED, Payment.updated_at: now,
        }).where(Payment.id == payment_id)
        await write_audit(action="payment.refund_reversed", object_type="payment", object_id=payment_id,
                          actor=actor, message=reason[:500],
                          after={"refund": refund_id, "amount": amount, "balance": balance})
    return True


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
        return await refund_by_id(refund.id)
    await apply_provider_refund(refund.id, result, actor=actor)
    refund = await refund_by_id(refund.id)
    if refund.status == RefundStatus.FAILED:
        raise ValueError(f"Платёжная система отклонила возврат: {refund.failure_reason}")
    return refund


async def refund_by_id(refund_id: int) -> PaymentRefund:
    return await PaymentRefund.objects().where(PaymentRefund.id == refund_id).first()


async def apply_provider_refund(refund_id: int, provider_refund: dict[str, Any], *,
                                actor: Actor = SYSTEM) -> None:
    """Close a pending refund with what the provider said about it."""
    if provider_refund.get("status") in ("failed", "canceled"):
        reason = provider_refund.get("failure_reason") or provider_refund.get("status")
        await fail_refund(refund_id, str(reason), actor=actor)
    else:  # succeeded, or pending on the card network's side: the money is on its way back
        await complete_refund(refund_id, str(provider_refund["id"]), actor=actor)
