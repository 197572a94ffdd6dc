"""Payments: card top-ups, quick pay, office (cash) payments and refunds.

Everything here is database-only; the calls to the card provider live in
``tables.payment_flow``, which calls these functions with what the provider
answered.  The one rule that matters most: a card payment is credited by
:func:`settle_payment` only, in one transaction with its move to "succeeded",
so the webhook and the return page may both report the same intent, in any
order or at the same moment, and the ledger gets one entry.
"""

from __future__ import annotations

import datetime as dt
import enum
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from piccolo.columns import BigInt, ForeignKey, OnDelete, Text, Timestamptz, Varchar
from piccolo.columns.combination import WhereRaw
from piccolo.table import Table

from db.engine import is_unique_violation, write_transaction
from tables.addresses import (
    AMBIGUOUS,
    Town,
    addresses_on_street,
    matching_streets,
    normalise,
    place_key,
    streets_in_town,
)
from tables.audit import SYSTEM, Actor, write_audit
from tables.calendar import local_date, utcnow
from tables.choices import choices
from tables.ledger import DuplicateEntryError, EntryKind, post_entry
from tables.money import format_plain, kopecks, parse_rubles
from tables.subscribers import Subscriber, SubscriberStatus, mask_name


class PaymentStatus(enum.StrEnum):
    CREATED = "created"
    REQUIRES_ACTION = "requires_action"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUNDED = "refunded"


PAYMENT_STATUS_LABELS = {
    "created": "Создан",
    "requires_action": "Ждёт подтверждения",
    "succeeded": "Оплачен",
    "failed": "Не прошёл",
    "refunded": "Возвращён",
}

FINAL_STATUSES = (PaymentStatus.SUCCEEDED, PaymentStatus.FAILED, PaymentStatus.REFUNDED)
OPEN_STATUSES = (PaymentStatus.CREATED, PaymentStatus.REQUIRES_ACTION)
# "failed" is final for the subscriber, but a provider success for the same intent
# still wins (money moved), so only these two are closed to settlement.
CREDITED_STATUSES = (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED)


class PaymentChannel(enum.StrEnum):
    CABINET = "cabinet"
    QUICK_PAY = "quick_pay"
    OFFICE = "office"


PAYMENT_CHANNEL_LABELS = {
    "cabinet": "Личный кабинет",
    "quick_pay": "Оплата без входа",
    "office": "Касса офиса",
}

CURRENCY = "rub"
# Card top-up limits, kopecks.
MIN_AMOUNT = 10_00
MAX_AMOUNT = 15_000_00
# A card payment left unfinished this long is cancelled by the reconciliation.
ABANDON_AFTER = dt.timedelta(minutes=30)
ACCEPTED_BRANDS = ("visa", "mastercard", "maestro")

AMOUNT_MESSAGES = {
    "zero": "Сумма должна быть больше нуля.",
    "min": f"Минимальная сумма оплаты картой — {format_plain(MIN_AMOUNT)} ₽.",
    "max": f"Максимальная сумма одного платежа — {format_plain(MAX_AMOUNT)} ₽.",
}

# Provider failure codes → what the subscriber reads.
FAILURE_MESSAGES = {
    "card_declined": "Банк отклонил операцию по карте. Попробуйте другую карту или обратитесь в банк.",
    "insufficient_funds": "Недостаточно средств на карте.",
    "expired_card": "Срок действия карты истёк.",
    "incorrect_cvc": "Неверный код CVC/CVV.",
    "incorrect_number": "Неверный номер карты.",
    "invalid_number": "Неверный номер карты.",
    "processing_error": "Ошибка при обработке платежа в банке. Попробуйте ещё раз.",
    "payment_intent_authentication_failure":
        "Платёж не подтверждён: код подтверждения (3-D Secure) не введён или неверен.",
    "canceled": "Платёж отменён.",
    "abandoned": "Платёж не был завершён вовремя и отменён. Деньги не списаны.",
    "provider_unavailable": "Платёжная система не ответила. Деньги не списаны — попробуйте ещё раз.",
    "card_brand": "Принимаются только карты Visa, Mastercard и Maestro.",
    "amount_mismatch": "Сумма в платёжной системе не совпала с суммой платежа; платёж проверит сотрудник.",
}
DEFAULT_FAILURE = "Платёж отклонён платёжной системой."


def failure_message(code: str | None) -> str:
    return FAILURE_MESSAGES.get(code or "", DEFAULT_FAILURE)


class Payment(Table, help_text="Платежи. Зачисление — один раз, при переходе в «Оплачен»."):
    subscriber = ForeignKey(Subscriber, null=False, on_delete=OnDelete.restrict,
                            help_text="Договор")
    amount = kopecks(BigInt(help_text="Сумма, ₽"))
    refunded_amount = kopecks(BigInt(default=0, help_text="Возвращено, ₽ (или возвращается)"))
    status = Varchar(length=20, choices=choices(PaymentStatus, PAYMENT_STATUS_LABELS),
                     default="created", index=True, help_text="Состояние")
    channel = Varchar(length=20, choices=choices(PaymentChannel, PAYMENT_CHANNEL_LABELS),
                      default="cabinet", help_text="Канал оплаты")
    period = Varchar(length=7, null=True, default=None, help_text="За какой месяц (ГГГГ-ММ)")
    provider_intent_id = Varchar(length=100, unique=True, null=True, default=None,
                                 help_text="Платёж у провайдера (PaymentIntent)")
    provider_charge_id = Varchar(length=100, default="", help_text="Списание у провайдера (Charge)")
    card_brand = Varchar(length=20, default="", help_text="Платёжная система карты")
    card_last4 = Varchar(length=4, default="", help_text="Последние 4 цифры карты")
    failure_reason = Text(default="", help_text="Причина отказа")
    created_at = Timestamptz(help_text="Создан")
    updated_at = Timestamptz(help_text="Изменён")
    created_by = Varchar(length=150, default="subscriber", help_text="Кто создал")
    failure_code = Varchar(length=60, default="", help_text="Код отказа провайдера")
    town = ForeignKey(Town, null=True, default=None, on_delete=OnDelete.set_null,
                      help_text="Город договора (для отчётов)")
    # Unguessable key of a quick-pay payment: the visitor has no login, so the
    # card and result pages are reached by this, never by the numeric id.
    access_token = Varchar(length=64, null=True, default=None, secret=True,
                           help_text="Ключ страницы оплаты без входа")
    submitted_at = Timestamptz(null=True, default=None,
                               help_text="Когда карта отправлена на оплату")
    # One key per confirmation page of a cash payment: a second press of «Принять оплату»
    # (or a resent form) finds the payment the first one booked instead of booking again.
    # Unique through the index ``payment_office_key`` (its migration: SQLite cannot add a
    # UNIQUE column to a table).
    office_key = Varchar(length=64, null=True, default=None, secret=True,
                         help_text="Ключ подтверждения оплаты в кассе")


class PaymentCustomer(Table, help_text="Покупатели у провайдера (customer) по договорам"):
    subscriber = ForeignKey(Subscriber, null=False, unique=True, on_delete=OnDelete.restrict,
                            help_text="Договор")
    provider_customer_id = Varchar(length=100, unique=True, help_text="Покупатель у провайдера (customer)")
    created_at = Timestamptz(help_text="Создан")


class ProviderEvent(Table, help_text="События провайдера (webhook): принятые уведомления"):
    event_id = Varchar(length=100, unique=True, help_text="Идентификатор события провайдера")
    event_type = Varchar(length=100, default="", help_text="Тип события")
    object_id = Varchar(length=100, default="", index=True, help_text="Объект (PaymentIntent)")
    outcome = Varchar(length=40, default="", help_text="Что сделано")
    received_at = Timestamptz(help_text="Получено")


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


# --- amounts and periods -------------------------------------------------------------


def parse_payment_amount(text: str | None) -> int:
    """A card payment amount in kopecks, within the limits, or ``ValueError`` in Russian.

    >>> parse_payment_amount("650,5")
    65050
    """
    kopecks = parse_rubles(text, min_kopecks=0, max_kopecks=10**11)
    return check_payment_amount(kopecks)


def check_payment_amount(kopecks: int) -> int:
    if kopecks <= 0:
        raise ValueError(AMOUNT_MESSAGES["zero"])
    if kopecks < MIN_AMOUNT:
        raise ValueError(AMOUNT_MESSAGES["min"])
    if kopecks > MAX_AMOUNT:
        raise ValueError(AMOUNT_MESSAGES["max"])
    return kopecks


def suggested_amount(balance: int, monthly_fee: int) -> int:
    """What to offer on the top-up form: the debt plus next month, whole roubles, in limits."""
    wanted = max(0, -balance + monthly_fee)
    wanted = -(-wanted // 100) * 100
    if wanted == 0:
        return 0
    return min(max(wanted, MIN_AMOUNT), MAX_AMOUNT)


def period_of(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def payable_periods(today: dt.date | None = None, *, back: int = 2, ahead: int = 1) -> list[str]:
    """Months a payment may be for, offered on the payment pages: two back, this one (in
    Novokuznetsk), the next one (newest last)."""
    today = today or local_date(utcnow())
    index = today.year * 12 + today.month - 1
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index - back, index + ahead + 1)]


#: The months any payment (card, office) may be *for*, around this local month: paying off
#: an older debt, or ahead.  Anything further is a typo — one ``0000-01`` once made a
#: contract's statement and payment history unreadable for good (money rows never change).
PAYMENT_PERIOD_MONTHS_BACK = 12
PAYMENT_PERIOD_MONTHS_AHEAD = 2


def check_payment_period(period: str | None, *, today: dt.date | None = None) -> str | None:
    """The month a payment is for, checked at entry: empty is ``None``, else ``YYYY-MM``
    within :data:`PAYMENT_PERIOD_MONTHS_BACK` months back and
    :data:`PAYMENT_PERIOD_MONTHS_AHEAD` ahead of today's month in Novokuznetsk.

    :raises ValueError: with a Russian message for the clerk or subscriber.

    >>> check_payment_period("0000-01")
    ValueError: Укажите месяц оплаты в виде ГГГГ-ММ, с 12.2025 по 02.2027.
    """
    text = (period or "").strip()
    if not text:
        return None
    allowed = payable_periods(today, back=PAYMENT_PERIOD_MONTHS_BACK, ahead=PAYMENT_PERIOD_MONTHS_AHEAD)
    if text not in allowed:
        def shown(label: str) -> str:
            return f"{label[5:]}.{label[:4]}"

        raise ValueError(f"Укажите месяц оплаты в виде ГГГГ-ММ, с {shown(allowed[0])} "
                         f"по {shown(allowed[-1])}.")
    return text


# --- creating a card payment ---------------------------------------------------------------


async def _town_of(subscriber_id: int) -> int | None:
    row = await (
        Subscriber.select(Subscriber.address._.street._.town.as_alias("town"))
        .where(Subscriber.id == subscriber_id)
        .first()
    )
    return row["town"] if row else None


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
        town=await _town_of(subscriber_id),
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


# --- settlement: the only place a card payment is credited ------------------------------------


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


def payment_reference(payment: Payment) -> str:
    """Our payment as the provider knows it: id + creation second, unique across databases."""
    stamp = int(payment.created_at.timestamp()) if payment.created_at else 0
    return f"{payment.id}-{stamp}"


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


async def record_event(event_id: str, event_type: str, object_id: str, *, outcome: str = "",
                       now: dt.datetime | None = None) -> bool:
    """Record a provider event once; False when it was recorded before (a redelivery).

    Call inside the transaction that applies it, so an event is applied exactly once.
    """
    inserted = await (
        ProviderEvent.insert(ProviderEvent(event_id=event_id[:100], event_type=event_type[:100],
                                           object_id=object_id[:100], outcome=outcome,
                                           received_at=now or utcnow()))
        .on_conflict(target=ProviderEvent.event_id, action="DO NOTHING")
        .returning(ProviderEvent.id)
    )
    return bool(inserted)


async def event_outcome(event_id: str | None, outcome: str) -> None:
    """What applying a recorded event did (for the admin's event list)."""
    if event_id:
        await ProviderEvent.update({ProviderEvent.outcome: outcome}).where(
            ProviderEvent.event_id == event_id[:100])


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
    status = intent.get("status")
    now = utcnow()
    async with write_transaction():
        if event_id and not await record_event(event_id, event_type, intent_id, now=now):
            return Settlement(None, None, duplicate_event=True)

        async def outcome(text: str) -> None:
            await event_outcome(event_id, text)

        payment = await _find_payment(intent)
        if payment is None or payment.channel == PaymentChannel.OFFICE:
            await outcome("unknown_intent")
            return Settlement(None, None)

        if status == "succeeded":
            if intent.get("amount") != payment.amount or str(intent.get("currency", "")).lower() != CURRENCY:
                await outcome("amount_mismatch")
                await write_audit(action="payment.amount_mismatch", object_type="payment",
                                  object_id=payment.id, actor=SYSTEM,
                                  before={"amount": payment.amount},
                                  after={"provider_amount": intent.get("amount"),
                                         "currency": intent.get("currency")})
                return Settlement(payment.id, payment.status)
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
                await outcome("already_settled")
                return Settlement(payment.id, payment.status)
            try:
                _, balance = await post_entry(
                    payment.subscriber, payment.amount, EntryKind.PAYMENT, intent_id,
                    period=payment.period, created_by="provider",
                    comment=f"Оплата картой ({PAYMENT_CHANNEL_LABELS[payment.channel]})",
                )
            except DuplicateEntryError:
                await outcome("already_settled")
                return Settlement(payment.id, PaymentStatus.SUCCEEDED)
            await write_audit(action="payment.succeeded", object_type="payment", object_id=payment.id,
                              actor=SYSTEM, message=f"intent={intent_id} event={event_id or '-'}",
                              before={"status": payment.status},
                              after={"status": "succeeded", "amount": payment.amount, "balance": balance})
            await outcome("credited")
            return Settlement(payment.id, PaymentStatus.SUCCEEDED, credited=True)

        if status == "requires_action":
            await Payment.update(
                {Payment.status: PaymentStatus.REQUIRES_ACTION, Payment.updated_at: now}
            ).where((Payment.id == payment.id) & (Payment.status == PaymentStatus.CREATED))
            await outcome("requires_action")
            return Settlement(payment.id, await _status(payment.id))

        failed = status == "canceled" or (
            status == "requires_payment_method" and intent.get("last_payment_error")
        )
        if failed:
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
                                  actor=SYSTEM, message=f"intent={intent_id} code={code}")
            await outcome("failed" if rows else "already_settled")
            return Settlement(payment.id, await _status(payment.id))

        await outcome("no_change")
        return Settlement(payment.id, payment.status)


async def _status(payment_id: int) -> str | None:
    row = await Payment.select(Payment.status).where(Payment.id == payment_id).first()
    return row["status"] if row else None


# --- office payments ---------------------------------------------------------------------


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
                              updated_at=now, created_by=actor.name, town=await _town_of(subscriber_id),
                              office_key=key)
            await payment.save()
            await post_entry(subscriber_id, amount, EntryKind.PAYMENT, f"payment:{payment.id}",
                             period=period, comment="Оплата в кассе офиса", created_by=actor.name)
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


# --- refunds -----------------------------------------------------------------------------


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
        await Payment.update({
            Payment.refunded_amount: Payment.refunded_amount - amount,
            Payment.status: PaymentStatus.SUCCEEDED, Payment.updated_at: now,
        }).where(Payment.id == payment_id)
        await write_audit(action="payment.refund_reversed", object_type="payment", object_id=payment_id,
                          actor=actor, message=reason[:500],
                          after={"refund": refund_id, "amount": amount, "balance": balance})
    return True


# --- reading -----------------------------------------------------------------------------


async def subscriber_payments(subscriber_id: int, limit: int = 50) -> list[dict]:
    return await (
        Payment.select()
        .where(Payment.subscriber == subscriber_id)
        .order_by(Payment.id, ascending=False)
        .limit(limit)
    )


async def payment_totals(*, status: str | None = None, channel: str | None = None,
                         date_from: dt.date | None = None, date_to: dt.date | None = None,
                         town_id: int | None = None) -> dict[str, Any]:
    """Count and sums of payments matching the filters (the admin's report)."""
    clauses, args = ["1 = 1"], []
    if status:
        clauses.append("status = {}")
        args.append(PaymentStatus(status).value)
    if channel:
        clauses.append("channel = {}")
        args.append(PaymentChannel(channel).value)
    if date_from:
        clauses.append("created_at >= {}")
        args.append(dt.datetime.combine(date_from, dt.time(), tzinfo=dt.UTC))
    if date_to:
        clauses.append("created_at < {}")
        args.append(dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC))
    if town_id:
        clauses.append("town = {}")
        args.append(town_id)
    rows = await Payment.raw(
        "SELECT status, COUNT(*) AS n, COALESCE(SUM(amount), 0) AS total, "
        "COALESCE(SUM(refunded_amount), 0) AS refunded FROM payment WHERE "
        + " AND ".join(clauses) + " GROUP BY status ORDER BY status",
        *args,
    )
    by_status = {r["status"]: {"count": int(r["n"]), "amount": int(r["total"]),
                               "refunded": int(r["refunded"])} for r in rows}
    return {
        "by_status": by_status,
        "count": sum(v["count"] for v in by_status.values()),
        "amount": sum(v["amount"] for v in by_status.values()),
        "credited": sum(v["amount"] for k, v in by_status.items() if k in CREDITED_STATUSES),
        "refunded": sum(v["refunded"] for v in by_status.values()),
    }


async def unbooked_payments() -> list[dict]:
    """Credited card payments without their ledger entry (should always be empty)."""
    return await Payment.raw(
        "SELECT p.id, p.provider_intent_id FROM payment p WHERE p.status IN ('succeeded', 'refunded') "
        "AND p.channel <> 'office' AND NOT EXISTS "
        "(SELECT 1 FROM ledger_entry l WHERE l.reference = p.provider_intent_id)"
    )



# --- quick pay: finding a contract without a login ------------------------------------------


@dataclass(frozen=True)
class PayableContract:
    """A contract found without a login, as the visitor may see it."""

    id: int
    name: str  # surname and initials
    address: str  # town, street and house: never the apartment


# The contract with what a visitor may see of it, in one read (the search runs for anyone,
# so it is fixed SQL rather than built per request).
_CONTRACT_SQL = (
    "SELECT s.id, s.full_name, s.status, s.balance, a.house, st.name AS street, t.name AS town"
    " FROM subscriber s LEFT JOIN address a ON a.id = s.address"
    " LEFT JOIN street st ON st.id = a.street LEFT JOIN town t ON t.id = st.town WHERE "
)
_BY_NUMBER_SQL = _CONTRACT_SQL + "s.contract_number = {}"
_BY_ADDRESS_SQL = _CONTRACT_SQL + "s.address = {}"
_BY_ID_SQL = _CONTRACT_SQL + "s.id = {}"


def _shown(row: dict) -> PayableContract:
    address = f"{row['town']}, {row['street']}, д. {row['house']}" if row["house"] is not None else ""
    return PayableContract(id=row["id"], name=mask_name(row["full_name"]), address=address)


def _payable(rows: list[dict]) -> PayableContract | None:
    # Terminated contracts are found only while they still owe money.
    usable = [r for r in rows if r["status"] != SubscriberStatus.TERMINATED or r["balance"] < 0]
    return _shown(usable[0]) if len(usable) == 1 else None


async def find_payable_contract(*, contract_number: str = "", town_id: int | None = None,
                                street: str = "", house: str = "",
                                apartment: str = "") -> PayableContract | None:
    """One contract by its number, or by town + street + house (+ apartment); else ``None``.

    Anything ambiguous (two contracts at the address, a street name matching
    several streets) is "not found": the visitor is asked for the number.
    """
    number = (contract_number or "").strip().replace(" ", "")
    if number:
        if not number.isdigit() or len(number) > 12:
            return None
        return _payable(await Subscriber.raw(_BY_NUMBER_SQL, number))
    house, apartment, wanted = normalise(house), normalise(apartment), normalise(street)
    if not town_id or not wanted or not house or len(house) > 20 or len(apartment) > 20:
        return None
    street_ids = matching_streets(await streets_in_town(town_id), wanted)
    if len(street_ids) != 1 or street_ids[0] == AMBIGUOUS:
        return None
    places = await addresses_on_street(street_ids[0])
    address_id = places.get(place_key(house, apartment), AMBIGUOUS)
    if address_id == AMBIGUOUS:
        return None
    return _payable(await Subscriber.raw(_BY_ADDRESS_SQL, address_id))


async def contract_to_pay(subscriber_id: int) -> PayableContract | None:
    """The contract a quick-pay ticket names, as the visitor saw it when it was found."""
    rows = await Subscriber.raw(_BY_ID_SQL, subscriber_id)
    return _shown(rows[0]) if rows else None
