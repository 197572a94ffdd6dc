"""Payments: the ``Payment`` row, its statuses and channels, amount and month checks, readers.

Card top-ups, quick pay and office (cash) payments are all ``Payment`` rows; the steps
that move them live beside this module: ``card_flow`` (the card steps, which talk to the
provider), ``settlement`` (the only place a card payment is credited), ``refresh``
(the return page's re-read), ``webhook``, ``refunds``, ``office``, ``quick_pay`` and
``reconcile``.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from piccolo.columns import BigInt, ForeignKey, OnDelete, Text, Timestamptz, Varchar
from piccolo.table import Table

from tables.addresses import (
    Town,
)
from tables.calendar import utcnow
from tables.choices import choices
from tables.money import format_plain, kopecks, parse_rubles
from tables.month import Month
from tables.subscribers import Subscriber


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
    AGENT = "agent"
    BANK = "bank"
    AUTOPAY = "autopay"


PAYMENT_CHANNEL_LABELS = {
    "cabinet": "Личный кабинет",
    "quick_pay": "Оплата без входа",
    "office": "Касса офиса",
    "agent": "Платёжный агент, терминал",
    "bank": "Банковский перевод",
    "autopay": "Автоплатёж с карты",
}


#: Channels paid by card through the provider: only these have an intent to settle, reconcile
#: or refund. Office, agent and bank payments are booked once, already succeeded.
CARD_CHANNELS = (PaymentChannel.CABINET, PaymentChannel.QUICK_PAY, PaymentChannel.AUTOPAY)


CURRENCY = "rub"


# Card top-up limits, kopecks.
MIN_AMOUNT = 10_00


MAX_AMOUNT = 15_000_00


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


def payable_periods(today: dt.date | None = None, *, back: int = 2, ahead: int = 1) -> list[str]:
    """Months a payment may be for, offered on the payment pages: two back, this one (in
    Novokuznetsk), the next one (newest last)."""
    current = Month.of(today) if today else Month.current(utcnow())
    return [m.iso for m in Month.range(current - back, current + ahead)]


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
    if not (period or "").strip():
        return None
    current = Month.of(today) if today else Month.current(utcnow())
    first, last = current - PAYMENT_PERIOD_MONTHS_BACK, current + PAYMENT_PERIOD_MONTHS_AHEAD
    message = f"Укажите месяц оплаты в виде ГГГГ-ММ, с {first.dotted} по {last.dotted}."
    month = Month.parse(period, message=message)
    if not first <= month <= last:
        raise ValueError(message)
    return month.iso


async def town_of(subscriber_id: int) -> int | None:
    row = await (
        Subscriber.select(Subscriber.address._.street._.town.as_alias("town"))
        .where(Subscriber.id == subscriber_id)
        .first()
    )
    return row["town"] if row else None


def payment_reference(payment: Payment) -> str:
    """Our payment as the provider knows it: id + creation second, unique across databases."""
    stamp = int(payment.created_at.timestamp()) if payment.created_at else 0
    return f"{payment.id}-{stamp}"


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
