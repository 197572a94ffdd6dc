"""Autopay: a saved card charged with the subscriber away before the monthly charge.

The card is saved from a cabinet top-up the subscriber chose to save it with (the provider
keeps the card on our customer; here only its id, brand, last four digits and expiry). The
subscriber chooses how many days before the 1st to charge, what (the shortfall against next
month's fee, or the whole fee: the one rule in ``tables.billing.fee``) and a monthly ceiling,
and may switch it off or remove the card.

The worker (:func:`run_autopay`, daily) charges each due contract at most once per attempt
and period: an :class:`AutopayCharge` row keyed ``<contract>:<period>:<attempt>`` (unique) is
inserted with its ``Payment`` before the provider is called, so repeats and concurrent runs
find the key taken and charge nothing. The charge is an off-session PaymentIntent; whatever
the provider answers goes through ``settle_payment`` like every card payment (credited once,
with its receipt). A decline, or a bank that wants its code (3-D Secure), tells the subscriber
with a link to pay; a declined charge is tried again the next day up to
``CENTRA_AUTOPAY_ATTEMPTS``. A card that expires before the month is reported instead of charged.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging

from piccolo.columns import BigInt, Boolean, ForeignKey, Integer, OnDelete, Timestamptz, Varchar
from piccolo.table import Table

from db.engine import write_transaction
from providers.stripe_client import ProviderRefused, ProviderUnavailable, provider
from tables import messages
from tables.audit import Actor, write_audit
from tables.billing.fee import monthly_fee_for
from tables.calendar import local_date, utcnow
from tables.choices import choices
from tables.money import format_plain, kopecks, parse_rubles
from tables.month import Month
from tables.payments.payment import (
    CURRENCY,
    MAX_AMOUNT,
    MIN_AMOUNT,
    Payment,
    PaymentChannel,
    PaymentStatus,
    payment_reference,
    town_of,
)
from tables.payments.settlement import mark_failed, settle_payment
from tables.subscribers import Subscriber, SubscriberStatus

log = logging.getLogger("centra.autopay")


class AmountMode(enum.StrEnum):
    SHORTFALL = "shortfall"
    FEE = "fee"


AMOUNT_MODE_LABELS = {"shortfall": "Недостающую сумму", "fee": "Абонентскую плату за месяц"}
DAYS_BEFORE = range(1, 11)


class Autopay(Table, help_text="Автоплатежи: сохранённая карта абонента и настройки списания"):
    subscriber = ForeignKey(Subscriber, null=False, unique=True, on_delete=OnDelete.restrict,
                            help_text="Договор")
    customer_id = Varchar(length=100, help_text="Покупатель у провайдера (customer)")
    card_id = Varchar(length=100, help_text="Сохранённая карта у провайдера")
    card_brand = Varchar(length=20, default="", help_text="Платёжная система карты")
    card_last4 = Varchar(length=4, default="", help_text="Последние 4 цифры карты")
    exp_month = Integer(default=0, help_text="Карта действует до: месяц")
    exp_year = Integer(default=0, help_text="Карта действует до: год")
    enabled = Boolean(default=True, help_text="Включён")
    days_before = Integer(default=3, help_text="За сколько дней до списания платить")
    amount_mode = Varchar(length=12, choices=choices(AmountMode, AMOUNT_MODE_LABELS), default="shortfall",
                          help_text="Сумма: недостающая или вся абонентская плата")
    monthly_limit = kopecks(BigInt(default=0, help_text="Не больше в месяц, ₽ (0 — без ограничения)"))
    created_at = Timestamptz(help_text="Карта сохранена")
    updated_at = Timestamptz(help_text="Изменён")


class ChargeStatus(enum.StrEnum):
    CREATED = "created"
    SUCCEEDED = "succeeded"
    REQUIRES_ACTION = "requires_action"
    FAILED = "failed"


CHARGE_STATUS_LABELS = {"created": "Отправлен", "succeeded": "Оплачен",
                        "requires_action": "Ждёт подтверждения абонента", "failed": "Не прошёл"}


class AutopayCharge(Table, help_text="Списания автоплатежа: не больше одного на попытку и месяц"):
    subscriber = ForeignKey(Subscriber, null=False, on_delete=OnDelete.restrict, help_text="Договор")
    period = Varchar(length=7, help_text="За какой месяц (ГГГГ-ММ)")
    attempt = Integer(default=1, help_text="Попытка №")
    key = Varchar(length=40, unique=True, help_text="Договор:месяц:попытка — одно списание на ключ")
    payment = ForeignKey(Payment, null=True, default=None, on_delete=OnDelete.restrict, help_text="Платёж")
    amount = kopecks(BigInt(help_text="Сумма, ₽"))
    status = Varchar(length=16, choices=choices(ChargeStatus, CHARGE_STATUS_LABELS), default="created",
                     help_text="Состояние")
    failure_code = Varchar(length=60, default="", help_text="Код отказа")
    created_at = Timestamptz(help_text="Создано")


# --- the card and the settings ------------------------------------------------------------
async def save_card(subscriber_id: int, *, customer_id: str, card: dict) -> None:
    """Keep the card a top-up was paid with for autopay (replacing an earlier one)."""
    now = utcnow()
    values = {"customer_id": customer_id[:100], "card_id": str(card.get("id") or "")[:100],
              "card_brand": str(card.get("brand") or "").strip().lower()[:20],
              "card_last4": "".join(c for c in str(card.get("last4") or "") if c.isdigit())[-4:],
              "exp_month": int(card.get("exp_month") or 0), "exp_year": int(card.get("exp_year") or 0)}
    if not values["card_id"]:
        return
    async with write_transaction():
        existing = await Autopay.select(Autopay.id).where(Autopay.subscriber == subscriber_id).first()
        if existing:
            await Autopay.update({**{getattr(Autopay, k): v for k, v in values.items()},
                                  Autopay.updated_at: now}).where(Autopay.id == existing["id"])
        else:
            await Autopay.insert(Autopay(subscriber=subscriber_id, created_at=now, updated_at=now,
                                         **values))
        await write_audit(action="autopay.card_saved", object_type="subscriber", object_id=subscriber_id,
                          actor=Actor("subscriber"),
                          after={"card": f"{values['card_brand']} {values['card_last4']}",
                                 "exp": f"{values['exp_month']:02d}/{values['exp_year']}"})


async def autopay_of(subscriber_id: int) -> dict | None:
    return await Autopay.select().where(Autopay.subscriber == subscriber_id).first()


async def save_settings(subscriber_id: int, *, enabled: bool, days_before: str | int, amount_mode: str,
                        monthly_limit: str | None) -> dict:
    """The subscriber's choices, checked (Russian refusals), with an audit entry."""
    try:
        days = int(str(days_before).strip())
    except ValueError:
        days = 0
    if days not in DAYS_BEFORE:
        raise ValueError("Выберите, за сколько дней до списания платить: от 1 до 10.")
    if amount_mode not in AMOUNT_MODE_LABELS:
        raise ValueError("Выберите сумму автоплатежа.")
    limit_text = (monthly_limit or "").strip()
    limit = parse_rubles(limit_text, min_kopecks=MIN_AMOUNT, max_kopecks=MAX_AMOUNT) if limit_text else 0
    async with write_transaction():
        before = await autopay_of(subscriber_id)
        if before is None:
            raise ValueError("Сохранённой карты нет: оплатите картой в кабинете "
                             "и отметьте «Сохранить карту».")
        await Autopay.update({Autopay.enabled: enabled, Autopay.days_before: days,
                              Autopay.amount_mode: amount_mode, Autopay.monthly_limit: limit,
                              Autopay.updated_at: utcnow()}).where(Autopay.subscriber == subscriber_id)
        after = {"enabled": enabled, "days_before": days, "amount_mode": amount_mode, "monthly_limit": limit}
        await write_audit(action="autopay.settings", object_type="subscriber", object_id=subscriber_id,
                          actor=Actor("subscriber"),
                          before={k: before[k] for k in after}, after=after)
    return after


async def remove_card(subscriber_id: int) -> bool:
    """Forget the saved card (autopay ends with it)."""
    async with write_transaction():
        rows = await Autopay.delete().where(Autopay.subscriber == subscriber_id).returning(Autopay.id)
        if rows:
            await write_audit(action="autopay.card_removed", object_type="subscriber",
                              object_id=subscriber_id, actor=Actor("subscriber"))
    return bool(rows)


def card_expires_before(row: dict, month: Month) -> bool:
    """A card valid through MM/YY cannot pay in a later month."""
    if not row["exp_year"] or not row["exp_month"]:
        return False
    year = row["exp_year"] + 2000 if row["exp_year"] < 100 else row["exp_year"]
    return (year, row["exp_month"]) < (month.year, month.month)


# --- the worker ---------------------------------------------------------------------------
def pay_link() -> str:
    from settings import get_settings

    site = get_settings().site_url.split("://", 1)[-1].rstrip("/")
    return f"{site}/cabinet/pay"


def charge_amount(mode: str, *, fee: int, balance: int, limit: int, paid: int) -> int:
    """What to charge: the shortfall (whole roubles up) or the fee, within the limits; 0: nothing.

    >>> charge_amount("shortfall", fee=80000, balance=30050, limit=0, paid=0)
    50000
    """
    if fee <= 0 or balance >= fee:
        return 0
    wanted = fee if mode == AmountMode.FEE else -(-(fee - balance) // 100) * 100
    wanted = min(max(wanted, MIN_AMOUNT), MAX_AMOUNT)
    if limit:
        wanted = min(wanted, limit - paid)
    return wanted if wanted >= MIN_AMOUNT else 0


async def _claim(subscriber_id: int, period: Month, attempt: int, amount: int,
                 now: dt.datetime) -> Payment | None:
    """Book the attempt and its payment in one transaction; None when the key is taken."""
    async with write_transaction():
        inserted = await AutopayCharge.insert(AutopayCharge(
            subscriber=subscriber_id, period=period.iso, attempt=attempt,
            key=f"{subscriber_id}:{period.iso}:{attempt}", amount=amount, created_at=now,
        )).on_conflict(target=AutopayCharge.key, action="DO NOTHING").returning(AutopayCharge.id)
        if not inserted:
            return None
        payment = Payment(subscriber=subscriber_id, amount=amount, status=PaymentStatus.CREATED,
                          channel=PaymentChannel.AUTOPAY, period=period.iso, created_at=now,
                          updated_at=now, created_by="autopay", town=await town_of(subscriber_id),
                          submitted_at=now)
        await payment.save()
        await AutopayCharge.update({AutopayCharge.payment: payment.id}).where(
            AutopayCharge.id == inserted[0]["id"])
    return payment


async def _finish(payment: Payment, key: str, status: ChargeStatus, code: str = "") -> None:
    async with write_transaction():
        await AutopayCharge.update({AutopayCharge.status: status,
                                    AutopayCharge.failure_code: code[:60]}).where(
            AutopayCharge.payment == payment.id)
        if status == ChargeStatus.FAILED:
            await messages.autopay_failed(payment.subscriber, key, link=pay_link())
        elif status == ChargeStatus.REQUIRES_ACTION:
            await messages.autopay_action(payment.subscriber, key, link=pay_link())


async def _charge(row: dict, payment: Payment) -> str:
    key = f"{payment.subscriber}:{payment.period}:{payment.id}"
    p = provider()
    try:
        intent = await p.charge_saved_card(
            amount=payment.amount, currency=CURRENCY, customer=row["customer_id"],
            payment_method=row["card_id"],
            metadata={"centra_payment": str(payment.id), "centra_ref": payment_reference(payment),
                      "channel": "autopay", "subscriber": str(payment.subscriber)},
            key=f"centra-autopay-{payment_reference(payment)}")
    except ProviderRefused as exc:
        await mark_failed(payment.id, exc.code)
        await _finish(payment, key, ChargeStatus.FAILED, exc.code)
        return "failed"
    except ProviderUnavailable:
        # The outcome is unknown: the payment stays open for the reconciliation, which finds the
        # intent by our metadata; this attempt's key stays taken, so nothing charges twice.
        return "unknown"
    settlement = await settle_payment(intent)
    status = settlement.status
    if status == PaymentStatus.SUCCEEDED:
        await _finish(payment, key, ChargeStatus.SUCCEEDED)
        return "succeeded"
    if status == PaymentStatus.REQUIRES_ACTION:
        await _finish(payment, key, ChargeStatus.REQUIRES_ACTION)
        return "requires_action"
    if status == PaymentStatus.FAILED:
        row_ = await Payment.select(Payment.failure_code).where(Payment.id == payment.id).first()
        await _finish(payment, key, ChargeStatus.FAILED, row_["failure_code"] if row_ else "")
        return "failed"
    return "unknown"


async def _due_rows(today: dt.date) -> list[dict]:
    return await Autopay.select(
        *Autopay.all_columns(), Autopay.subscriber.balance.as_alias("balance"),
        Autopay.subscriber.tariff.as_alias("tariff"), Autopay.subscriber.router_rented.as_alias("router"),
        Autopay.subscriber.status.as_alias("state"), Autopay.subscriber.terminated_on.as_alias("ends"),
    ).where((Autopay.enabled == True) & (Autopay.subscriber.status != SubscriberStatus.TERMINATED))  # noqa: E712


async def run_autopay(*, now: dt.datetime | None = None) -> dict[str, int]:
    """One daily pass: charge every contract whose chosen day before the 1st has come.

    Safe to repeat and to run concurrently: each (contract, month, attempt) is charged once.
    """
    from settings import get_settings

    now = now or utcnow()
    today = local_date(now)
    period = Month.of(today).next
    counts = {"succeeded": 0, "failed": 0, "requires_action": 0, "unknown": 0, "expired": 0}
    max_attempts = get_settings().autopay_attempts
    for row in await _due_rows(today):
        if (period.first_day - today).days > row["days_before"]:
            continue
        sid = row["subscriber"]
        charges = await AutopayCharge.select(
            AutopayCharge.amount, AutopayCharge.created_at,
            AutopayCharge.payment.status.as_alias("payment_status"),
        ).where(
            (AutopayCharge.subscriber == sid) & (AutopayCharge.period == period.iso)
        ).order_by(AutopayCharge.attempt)
        # The payment is the truth (the reconciliation may have settled an unanswered attempt).
        if any(c["payment_status"] != PaymentStatus.FAILED for c in charges):
            continue  # paid, waiting for the subscriber's code, or an attempt still open
        if charges and (len(charges) >= max_attempts or local_date(charges[-1]["created_at"]) >= today):
            continue  # attempts used up, or today's already made
        if card_expires_before(row, period):
            async with write_transaction():
                counts["expired"] += await messages.autopay_card_expired(sid, f"{sid}:{period.iso}")
            continue
        fee = (await monthly_fee_for(sid, row["tariff"], bool(row["router"]), today=today,
                                     terminated_on=row["ends"])).next
        paid = 0  # every earlier attempt of this month failed
        amount = charge_amount(row["amount_mode"], fee=fee, balance=row["balance"],
                               limit=row["monthly_limit"], paid=paid)
        if not amount:
            continue
        payment = await _claim(sid, period, len(charges) + 1, amount, now)
        if payment is None:
            continue  # another run took this attempt
        outcome = await _charge(row, payment)
        counts[outcome] += 1
        log.info("autopay %s %s: %s ₽ %s", sid, period.iso, format_plain(amount), outcome)
    return counts


async def autopay_summary(subscriber_id: int) -> dict | None:
    """For the staff card: the saved card, the settings and the latest charges."""
    row = await autopay_of(subscriber_id)
    if row is None:
        return None
    row["charges"] = await AutopayCharge.select().where(
        AutopayCharge.subscriber == subscriber_id).order_by(AutopayCharge.id, ascending=False).limit(5)
    for charge in row["charges"]:
        charge["status_label"] = CHARGE_STATUS_LABELS.get(charge["status"], charge["status"])
    return row

