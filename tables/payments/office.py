"""Cash or terminal payments taken at the office, booked once per confirmation."""

from __future__ import annotations

from db.engine import is_unique_violation, write_transaction
from tables.audit import Actor, write_audit
from tables.calendar import utcnow
from tables.ledger import EntryKind, post_entry
from tables.payments.payment import Payment, PaymentChannel, PaymentStatus, check_payment_period, town_of
from tables.payments.receipts import issue_receipt


async def book_office_payment(subscriber_id: int, amount: int, *, actor: Actor,
                              period: str | None = None, key: str | None = None) -> Payment:
    """Cash or terminal payment taken at the office: a succeeded payment and its ledger entry.

    :param key: the confirmation's own key; the same key again (a double click, a resent
        form, two at once) returns the payment it booked and books nothing more.
    """
    if amount <= 0:
        raise ValueError("Сумма должна быть больше нуля")
    period = check_payment_period(period)
    if key is not None and not (8 <= len(key) <= 64):
        raise ValueError("Форма подтверждения устарела: откройте оплату заново")
    booked = await _office_payment_by_key(key, subscriber_id, amount)
    if booked is not None:
        return booked
    now = utcnow()
    try:
        async with write_transaction():
            payment = Payment(subscriber=subscriber_id, amount=amount, status=PaymentStatus.SUCCEEDED,
                              channel=PaymentChannel.OFFICE, period=period, created_at=now,
                              updated_at=now, created_by=actor.name, town=await town_of(subscriber_id),
                              office_key=key)
            await payment.save()
            await post_entry(subscriber_id, amount, EntryKind.PAYMENT, f"payment:{payment.id}",
                             period=period, comment="Оплата в кассе офиса", created_by=actor.name)
            await issue_receipt(payment.id, now=now)
            await write_audit(action="payment.office_booked", object_type="payment",
                              object_id=payment.id, actor=actor,
                              after={"subscriber": subscriber_id, "amount": amount, "period": period})
    except Exception as exc:
        if not is_unique_violation(exc):
            raise
        booked = await _office_payment_by_key(key, subscriber_id, amount)
        if booked is None:
            raise
        return booked
    return payment


async def _office_payment_by_key(key: str | None, subscriber_id: int, amount: int) -> Payment | None:
    if key is None:
        return None
    payment = await Payment.objects().where(Payment.office_key == key).first()
    if payment is not None and (payment.subscriber != subscriber_id or payment.amount != amount):
        raise ValueError("Эта форма подтверждения уже использована для другой оплаты: откройте оплату заново")
    return payment
