"""Payments: card top-ups, quick pay and office (cash) payments."""

from __future__ import annotations

import enum

from piccolo.columns import BigInt, ForeignKey, OnDelete, Text, Timestamptz, Varchar
from piccolo.table import Table

from tables.audit import Actor, write_audit
from tables.db import choices, utcnow, write_transaction
from tables.ledger import EntryKind, post_entry
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


class PaymentChannel(enum.StrEnum):
    CABINET = "cabinet"
    QUICK_PAY = "quick_pay"
    OFFICE = "office"


PAYMENT_CHANNEL_LABELS = {
    "cabinet": "Личный кабинет",
    "quick_pay": "Оплата без входа",
    "office": "Касса офиса",
}


class Payment(Table, help_text="Платежи. Зачисление — один раз, при переходе в «Оплачен»."):
    subscriber = ForeignKey(Subscriber, null=False, on_delete=OnDelete.restrict,
                            help_text="Договор")
    amount = BigInt(help_text="Сумма, копейки")
    refunded_amount = BigInt(default=0, help_text="Возвращено, копейки")
    status = Varchar(length=20, choices=choices(PaymentStatus, PAYMENT_STATUS_LABELS),
                     default="created", index=True, help_text="Состояние")
    channel = Varchar(length=20, choices=choices(PaymentChannel, PAYMENT_CHANNEL_LABELS),
                      default="cabinet", help_text="Канал оплаты")
    period = Varchar(length=7, null=True, default=None, help_text="За какой месяц (ГГГГ-ММ)")
    provider_intent_id = Varchar(length=100, unique=True, null=True, default=None,
                                 help_text="PaymentIntent платёжного провайдера")
    provider_charge_id = Varchar(length=100, default="", help_text="Charge провайдера")
    card_brand = Varchar(length=20, default="", help_text="Платёжная система карты")
    card_last4 = Varchar(length=4, default="", help_text="Последние 4 цифры карты")
    failure_reason = Text(default="", help_text="Причина отказа")
    created_at = Timestamptz(help_text="Создан (UTC)")
    updated_at = Timestamptz(help_text="Изменён (UTC)")
    created_by = Varchar(length=150, default="subscriber", help_text="Кто создал")


async def book_office_payment(subscriber_id: int, amount: int, *, actor: Actor,
                              period: str | None = None) -> Payment:
    """Cash or terminal payment taken at the office: a succeeded payment and its ledger entry."""
    if amount <= 0:
        raise ValueError("Сумма должна быть больше нуля")
    now = utcnow()
    async with write_transaction():
        payment = Payment(subscriber=subscriber_id, amount=amount, status=PaymentStatus.SUCCEEDED,
                          channel=PaymentChannel.OFFICE, period=period, created_at=now,
                          updated_at=now, created_by=actor.name)
        await payment.save()
        await post_entry(subscriber_id, amount, EntryKind.PAYMENT, f"payment:{payment.id}",
                         period=period, comment="Оплата в кассе офиса", created_by=actor.name)
        await write_audit(action="payment.office_booked", object_type="payment",
                          object_id=payment.id, actor=actor,
                          after={"subscriber": subscriber_id, "amount": amount, "period": period})
    return payment
