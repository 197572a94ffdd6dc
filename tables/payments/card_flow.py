"""A card payment's steps, up to the provider's answer.

Provider calls never run inside a database transaction (a slow provider must
not hold SQLite's write lock or a PostgreSQL row lock); each step writes what
it learned through a small database-only function, and crediting happens only
in :func:`tables.payments.settlement.settle_payment`.

Order of a card payment (cabinet and quick pay alike):

1. :func:`start_payment` — our row, status "created" (its id keys every call below);
2. :func:`submit_card` — claim the row once, attach the Stripe.js token to a
   customer, create the PaymentIntent **without** confirming and store its id,
   then confirm.  Until the confirm nothing can be charged, so any failure
   before it closes the payment as failed; a failure *of* the confirm leaves
   it open with the intent id for a re-read;
3. the confirmation code step in the browser when the intent requires it;
4. ``refresh.refresh_payment`` (return page), ``webhook.handle_webhook`` and
   ``reconcile.reconcile`` all re-read / receive the intent and call ``settle_payment``.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass

from piccolo.columns import ForeignKey, OnDelete, Timestamptz, Varchar
from piccolo.table import Table

from db.engine import write_transaction
from providers.stripe_client import (
    PaymentProvider,
    ProviderError,
    ProviderRefused,
    ProviderUnavailable,
    provider,
)
from tables.calendar import utcnow
from tables.money import format_plain
from tables.payments.payment import (
    AMOUNT_MESSAGES,
    CURRENCY,
    Payment,
    PaymentChannel,
    PaymentStatus,
    check_payment_amount,
    check_payment_period,
    failure_message,
    payable_periods,
    payment_reference,
    town_of,
)
from tables.payments.settlement import mark_failed, settle_payment
from tables.subscribers import Subscriber, SubscriberStatus

ACCEPTED_BRANDS = ("visa", "mastercard", "maestro")


class PaymentCustomer(Table, help_text="Покупатели у провайдера (customer) по договорам"):
    subscriber = ForeignKey(Subscriber, null=False, unique=True, on_delete=OnDelete.restrict,
                            help_text="Договор")
    provider_customer_id = Varchar(length=100, unique=True, help_text="Покупатель у провайдера (customer)")
    created_at = Timestamptz(help_text="Создан")


async def start_payment(subscriber_id: int, amount: int, *, channel: PaymentChannel | str,
                        period: str | None = None, today: dt.date | None = None) -> Payment:
    """Create our ``Payment`` (status "created") before anything reaches the provider.

    Its id is the idempotency key of every provider call that follows.  A
    terminated contract may still pay off its debt, and only that much.
    """
    channel = PaymentChannel(channel)
    if channel == PaymentChannel.OFFICE:
        raise ValueError("Оплата в кассе оформляется формой «Оплата в кассе»")
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise ValueError(AMOUNT_MESSAGES["zero"])
    check_payment_amount(amount)
    period = check_payment_period(period, today=today)
    if period is not None and period not in payable_periods(today):
        raise ValueError("Выберите месяц из списка.")
    subscriber = await Subscriber.objects().where(Subscriber.id == subscriber_id).first()
    if subscriber is None:
        raise ValueError("Договор не найден")
    if subscriber.status == SubscriberStatus.TERMINATED:
        debt = -subscriber.balance
        if debt <= 0:
            raise ValueError("Договор расторгнут, долга нет — оплата не требуется.")
        if amount > debt:
            raise ValueError(f"Договор расторгнут: можно оплатить только долг — {format_plain(debt)} ₽.")
    now = utcnow()
    payment = Payment(
        subscriber=subscriber_id, amount=amount, status=PaymentStatus.CREATED, channel=channel,
        period=period, created_at=now, updated_at=now,
        created_by="subscriber" if channel == PaymentChannel.CABINET else "quick_pay",
        town=await town_of(subscriber_id),
        access_token=secrets.token_urlsafe(32) if channel == PaymentChannel.QUICK_PAY else None,
    )
    async with write_transaction():
        await payment.save()
    return payment


async def claim_for_card(payment_id: int) -> Payment | None:
    """Mark the payment as submitted once; a double click or replayed form gets ``None``."""
    async with write_transaction():
        rows = await Payment.update({Payment.submitted_at: utcnow(), Payment.updated_at: utcnow()}).where(
            (Payment.id == payment_id)
            & (Payment.status == PaymentStatus.CREATED)
            & Payment.submitted_at.is_null()
            & Payment.provider_intent_id.is_null()
        ).returning(Payment.id)
    if not rows:
        return None
    return await Payment.objects().where(Payment.id == payment_id).first()


async def record_card(payment_id: int, brand: str, last4: str) -> None:
    """Keep what identifies the card to its owner: brand and last four digits, nothing else."""
    async with write_transaction():
        await Payment.update({
            Payment.card_brand: normalise_brand(brand)[:20],
            Payment.card_last4: "".join(c for c in last4 if c.isdigit())[-4:],
            Payment.updated_at: utcnow(),
        }).where(Payment.id == payment_id)


def normalise_brand(brand: str | None) -> str:
    """Cards API says "Visa"/"MasterCard", PaymentMethods "visa"/"mastercard"."""
    return (brand or "").strip().lower().replace(" ", "_")


async def bind_intent(payment_id: int, intent_id: str) -> None:
    async with write_transaction():
        await Payment.update({Payment.provider_intent_id: intent_id, Payment.updated_at: utcnow()}).where(
            (Payment.id == payment_id) & Payment.provider_intent_id.is_null()
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


async def submit_card(payment_id: int, token: str, *, save_card: bool = False) -> CardOutcome:
    """Pay an open payment with a card token from Stripe.js (the card number never comes here).

    Safe to call twice: only the first call for a payment talks to the provider.

    :param save_card: keep the card for autopay (cabinet payments that did not fail).
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
    if save_card and payment.channel == PaymentChannel.CABINET and status != PaymentStatus.FAILED:
        from tables.payments.autopay import save_card as keep_card  # autopay builds on this module

        await keep_card(payment.subscriber, customer_id=customer, card=card)
    secret = intent.get("client_secret") if intent.get("status") == "requires_action" else None
    message = ""
    if status == PaymentStatus.FAILED:
        row = await Payment.select(Payment.failure_reason).where(Payment.id == payment.id).first()
        message = row["failure_reason"] if row else ""
    return CardOutcome(status, client_secret=secret, message=message)
