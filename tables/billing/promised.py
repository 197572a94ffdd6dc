"""Promised payments (обещанный платёж): a credit of up to one monthly fee for 3 days, once a month."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from piccolo.columns import (
    BigInt,
    ForeignKey,
    OnDelete,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from db.engine import write_transaction
from tables import messages
from tables.audit import SYSTEM, Actor, write_audit
from tables.billing.debt import debt_threshold
from tables.billing.fee import monthly_fee
from tables.billing.sql import lock_subscriber
from tables.billing.texts import TEXTS
from tables.calendar import LOCAL_TZ, local_date, utcnow
from tables.ledger import EntryKind, post_entry
from tables.money import format_plain, kopecks
from tables.month import Month
from tables.subscribers import Subscriber, SubscriberStatus

PROMISED_DAYS = 3


def _local_text(moment: dt.datetime) -> str:
    return moment.astimezone(LOCAL_TZ).strftime("%d.%m.%Y %H:%M")


class PromisedPayment(Table, help_text="Обещанные платежи: кредит на 3 дня, не чаще раза в месяц"):
    subscriber = ForeignKey(Subscriber, null=False, on_delete=OnDelete.restrict,
                            help_text="Договор")
    amount = kopecks(BigInt(help_text="Сумма, ₽"))
    period = Varchar(length=7, help_text="Месяц предоставления (ГГГГ-ММ, один в месяц)")
    granted_at = Timestamptz(help_text="Предоставлен")
    expires_at = Timestamptz(help_text="Действует до")
    reversed_at = Timestamptz(null=True, default=None, help_text="Списан обратно")
    created_by = Varchar(length=150, default="subscriber", help_text="Кто оформил")


@dataclass(frozen=True)
class PromisedPaymentOffer:
    """What the cabinet shows: whether a promised payment can be taken now, and why not."""

    available: bool
    max_amount: int  # kopecks
    reason: str  # Russian: the offer when available, the refusal otherwise
    expires_at: dt.datetime | None = None  # when one taken now would end
    active: PromisedPayment | None = None  # the one running now, if any


_PROMISED_SQL = (
    "SELECT id, subscriber, amount, period, granted_at, expires_at, reversed_at, created_by"
    " FROM promised_payment WHERE subscriber = {} AND (reversed_at IS NULL OR period = {})"
    " ORDER BY id DESC"
)


async def _offer(subscriber: Subscriber | None, now: dt.datetime, *,
                 fee: int | None = None) -> PromisedPaymentOffer:
    if subscriber is None:
        return PromisedPaymentOffer(False, 0, TEXTS["not_found"])
    if subscriber.status == SubscriberStatus.TERMINATED:
        return PromisedPaymentOffer(False, 0, TEXTS["promised_terminated"])
    if subscriber.terminated_on is not None:
        # Its reversal could fall after the contract has ended.
        return PromisedPaymentOffer(False, 0, TEXTS["promised_terminating"].format(
            date=subscriber.terminated_on.strftime("%d.%m.%Y")))
    period = Month.current(now).iso
    # The running one and this month's one in one read (the dashboard asks on every view).
    rows = [PromisedPayment(_exists_in_db=True, **row)
            for row in await PromisedPayment.raw(_PROMISED_SQL, subscriber.id, period)]
    active = next((row for row in rows if row.reversed_at is None), None)
    if active is not None:
        return PromisedPaymentOffer(False, 0, TEXTS["promised_active"].format(
            until=_local_text(active.expires_at)), active=active)
    used = next((row for row in rows if row.period == period), None)
    if used is not None:
        return PromisedPaymentOffer(False, 0, TEXTS["promised_used"].format(
            date=used.granted_at.astimezone(LOCAL_TZ).strftime("%d.%m.%Y")))
    if fee is None:
        fee = (await monthly_fee(subscriber, today=local_date(now))).next
    if fee <= 0:
        return PromisedPaymentOffer(False, 0, TEXTS["promised_no_fee"])
    if subscriber.status == SubscriberStatus.SUSPENDED and subscriber.balance + fee < 0:
        debt = -subscriber.balance
        return PromisedPaymentOffer(False, 0, TEXTS["promised_debt_too_large"].format(
            debt=format_plain(debt), max=format_plain(fee), rest=format_plain(debt - fee)))
    return PromisedPaymentOffer(
        True, fee, TEXTS["promised_available"].format(max=format_plain(fee), days=PROMISED_DAYS),
        expires_at=now + dt.timedelta(days=PROMISED_DAYS),
    )


async def promised_payment_offer(subscriber_id: int, *, now: dt.datetime | None = None
                                 ) -> PromisedPaymentOffer:
    """Whether the subscriber may take a promised payment now, up to how much, and why not.

    Rules: up to one monthly fee (:func:`tables.billing.fee.monthly_fee`: tariff + router
    rental, at the tariff of the next charge), for 3 days, once per calendar
    month (local time), one at a time, never for a terminated (or terminating) contract,
    and for a suspended contract only when it restores service (the debt is at most one
    fee); otherwise the reason says how much to pay.

    >>> offer = await promised_payment_offer(subscriber.id, now=utcnow())
    >>> offer.available, offer.max_amount, offer.reason
    (True, 75000, 'Можно взять до 750 ₽ на 3 дня')
    """
    now = now or utcnow()
    subscriber = await Subscriber.objects().where(Subscriber.id == subscriber_id).first()
    return await _offer(subscriber, now)


async def promised_offer_for(subscriber: Subscriber, *, fee: int,
                             now: dt.datetime) -> PromisedPaymentOffer:
    """``promised_payment_offer`` for a contract and monthly fee the caller has already read."""
    return await _offer(subscriber, now, fee=fee)


async def grant_promised_payment(
    subscriber_id: int,
    *,
    now: dt.datetime | None = None,
    amount: int | None = None,
    actor: Actor | None = None,
) -> PromisedPayment:
    """Credit a promised payment now (reversed automatically after 3 days).

    A credit that brings a suspended contract to ≥ 0 re-activates it (``post_entry``).

    >>> promised = await grant_promised_payment(subscriber.id, now=utcnow())
    >>> promised.amount, promised.expires_at  # the full monthly fee by default

    :param amount: kopecks, 1 … one monthly fee; the full fee when omitted.
    :raises ValueError: with the Russian reason when not available.
    """
    now = now or utcnow()
    async with write_transaction():
        subscriber = await lock_subscriber(subscriber_id)
        offer = await _offer(subscriber, now)
        if not offer.available or subscriber is None:
            raise ValueError(offer.reason)
        amount = offer.max_amount if amount is None else amount
        if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount <= offer.max_amount:
            raise ValueError(TEXTS["promised_amount"].format(max=format_plain(offer.max_amount)))
        if subscriber.status == SubscriberStatus.SUSPENDED and subscriber.balance + amount < 0:
            raise ValueError(TEXTS["promised_below_debt"].format(
                debt=format_plain(-subscriber.balance), max=format_plain(offer.max_amount)))
        actor = actor or Actor(f"subscriber:{subscriber.contract_number}")
        expires = now + dt.timedelta(days=PROMISED_DAYS)
        promised = PromisedPayment(subscriber=subscriber_id, amount=amount,
                                   period=Month.current(now).iso, granted_at=now,
                                   expires_at=expires, created_by=actor.name[:150])
        await promised.save()
        _, balance = await post_entry(subscriber_id, amount, EntryKind.PROMISED,
                                      f"promised:{promised.id}", created_by=actor.name,
                                      comment=TEXTS["promised_comment"].format(until=_local_text(expires)))
        await write_audit(action="promised.granted", object_type="subscriber",
                          object_id=subscriber_id, object_repr=subscriber.contract_number,
                          actor=actor, after={"promised_payment": promised.id, "amount": amount,
                                              "expires_at": expires.isoformat(), "balance": balance})
        await messages.promised_granted(subscriber_id, promised.id, amount, expires)
    return promised


async def reverse_expired_promised_payments(*, now: dt.datetime | None = None,
                                            batch_size: int = 500) -> int:
    """Book the reversal of every promised payment whose 3 days are over.

    Each reversal is its own transaction (claimed by setting ``reversed_at``, and its
    ledger reference ``promised:<id>:reversal`` is unique), so overlapping runs are
    harmless.  A contract left below the debt threshold is suspended again.

    :returns: the number reversed.
    """
    now = now or utcnow()
    limit = -debt_threshold()
    reversed_count = 0
    while True:
        due = await PromisedPayment.select(PromisedPayment.id).where(
            PromisedPayment.reversed_at.is_null() & (PromisedPayment.expires_at <= now)
        ).order_by(PromisedPayment.id).limit(batch_size)
        if not due:
            return reversed_count
        for row in due:
            async with write_transaction():
                claimed = await PromisedPayment.update({PromisedPayment.reversed_at: now}).where(
                    (PromisedPayment.id == row["id"]) & PromisedPayment.reversed_at.is_null()
                ).returning(PromisedPayment.subscriber, PromisedPayment.amount,
                            PromisedPayment.granted_at)
                if not claimed:
                    continue
                sid, amount = claimed[0]["subscriber"], claimed[0]["amount"]
                _, balance = await post_entry(
                    sid, -amount, EntryKind.PROMISED, f"promised:{row['id']}:reversal",
                    comment=TEXTS["promised_reversal_comment"].format(
                        date=claimed[0]["granted_at"].astimezone(LOCAL_TZ).strftime("%d.%m.%Y")),
                )
                await write_audit(action="promised.reversed", object_type="subscriber",
                                  object_id=sid, actor=SYSTEM,
                                  after={"promised_payment": row["id"], "balance": balance})
                if balance < limit:
                    suspended = await Subscriber.update(
                        {Subscriber.status: SubscriberStatus.SUSPENDED}
                    ).where((Subscriber.id == sid) & (Subscriber.status == SubscriberStatus.ACTIVE)
                            ).returning(Subscriber.id)
                    if suspended:
                        audit_id = await write_audit(
                            action="subscriber.suspended", object_type="subscriber",
                            object_id=sid, actor=SYSTEM, message=TEXTS["suspended_after_promised"],
                            before={"status": "active"},
                            after={"status": "suspended", "balance": balance})
                        await messages.suspended(sid, balance, audit_id)
                reversed_count += 1
