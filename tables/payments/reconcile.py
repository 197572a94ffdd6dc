"""Reconciliation: settle open card payments and pending refunds by asking the provider."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from providers.stripe_client import (
    PaymentProvider,
    ProviderError,
    ProviderRefused,
    ProviderUnavailable,
    provider,
)
from tables.calendar import as_utc, utcnow
from tables.payments.card_flow import idempotency_key
from tables.payments.payment import CARD_CHANNELS, OPEN_STATUSES, Payment, PaymentStatus
from tables.payments.refunds import (
    PaymentRefund,
    RefundStatus,
    apply_provider_refund,
    fail_refund,
    refund_by_id,
)
from tables.payments.settlement import mark_failed, settle_payment

# A card payment left unfinished this long is cancelled by the reconciliation.
ABANDON_AFTER = dt.timedelta(minutes=30)


async def unbooked_payments() -> list[dict]:
    """Credited card payments without their ledger entry (should always be empty)."""
    return await Payment.raw(
        "SELECT p.id, p.provider_intent_id FROM payment p WHERE p.status IN ('succeeded', 'refunded') "
        "AND p.channel IN ('cabinet', 'quick_pay') AND NOT EXISTS "
        "(SELECT 1 FROM ledger_entry l WHERE l.reference = p.provider_intent_id)"
    )


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


async def _reconcile_payment(payment: Payment, p: PaymentProvider, now: dt.datetime,
                             report: ReconcileReport) -> None:
    old = as_utc(payment.created_at) < now - ABANDON_AFTER
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
        Payment.status.is_in(list(OPEN_STATUSES)) & Payment.channel.is_in(list(CARD_CHANNELS))
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
            await apply_provider_refund(refund.id, found[0])
            status = (await refund_by_id(refund.id)).status
            if status == RefundStatus.SUCCEEDED:
                report.refunds_completed += 1
            else:
                report.refunds_failed += 1
        elif as_utc(refund.created_at) < now - ABANDON_AFTER:
            await fail_refund(refund.id, "not found at the provider")
            report.refunds_failed += 1

    for row in await unbooked_payments():
        report.mismatches.append(f"payment {row['id']} ({row['provider_intent_id']}) is credited "
                                 "but has no ledger entry")
    return report
