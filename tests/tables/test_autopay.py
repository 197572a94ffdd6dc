"""Autopay against the real Stripe sandbox process: save a card, charge it off-session once."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from providers.stripe_client import provider
from tables.calendar import LOCAL_TZ
from tables.ledger import LedgerEntry
from tables.month import Month
from tables.notifications import Notification
from tables.payments.autopay import (
    Autopay,
    AutopayCharge,
    charge_amount,
    remove_card,
    run_autopay,
    save_card,
    save_settings,
)
from tables.payments.card_flow import start_payment, submit_card
from tables.payments.payment import Payment
from tables.payments.receipts import Receipt
from tables.subscribers import Subscriber
from tests.support.factories import make_subscriber
from tests.support.payments import CARD_3DS, CARD_DECLINED, CARD_OK, card_token

pytestmark = pytest.mark.usefixtures("stripe_sandbox")


def days_before_the_first(days: int, month: Month | None = None) -> dt.datetime:
    """A moment ``days`` local days before the next month's 1st, 10:00 local."""
    first = (month or Month.current()).next.first_day
    return dt.datetime.combine(first - dt.timedelta(days=days), dt.time(10), tzinfo=LOCAL_TZ)


async def saved_card(sandbox, number: str = CARD_OK, **subscriber) -> Subscriber:
    """A subscriber who paid 100 ₽ in the cabinet with «Сохранить карту» (and, for another card
    number, then swapped the card for that one)."""
    person = await make_subscriber(**subscriber)
    payment = await start_payment(person.id, 10000, channel="cabinet")
    outcome = await submit_card(payment.id, await card_token(sandbox, CARD_OK), save_card=True)
    assert outcome.status == "succeeded"
    if number != CARD_OK:
        row = await Autopay.select().where(Autopay.subscriber == person.id).first()
        card = await provider().attach_card(row["customer_id"], await card_token(sandbox, number),
                                            key=f"test-{person.id}-{number}")
        await save_card(person.id, customer_id=row["customer_id"], card=card)
    return await Subscriber.objects().where(Subscriber.id == person.id).first()


async def balance(subscriber_id: int) -> int:
    row = await Subscriber.select(Subscriber.balance).where(Subscriber.id == subscriber_id).first()
    return row["balance"]


async def test_a_top_up_saves_only_brand_last4_and_expiry(stripe_sandbox):
    person = await saved_card(stripe_sandbox)
    row = await Autopay.select().where(Autopay.subscriber == person.id).first()
    assert row["card_last4"] == "4242" and row["card_brand"] == "visa"
    assert (row["exp_month"], row["exp_year"]) == (12, 2034)
    assert row["card_id"].startswith(("card_", "pm_")) and row["customer_id"].startswith("cus_")
    assert row["enabled"] and row["days_before"] == 3 and row["amount_mode"] == "shortfall"
    # Without the box ticked nothing is kept.
    other = await make_subscriber()
    payment = await start_payment(other.id, 10000, channel="cabinet")
    await submit_card(payment.id, await card_token(stripe_sandbox))
    assert await Autopay.count().where(Autopay.subscriber == other.id) == 0


async def test_charges_the_shortfall_once_with_its_receipt(stripe_sandbox):
    person = await saved_card(stripe_sandbox, fee=75000)  # balance 100 ₽ after the top-up
    too_early = await run_autopay(now=days_before_the_first(4))
    assert too_early["succeeded"] == 0 and await AutopayCharge.count() == 0
    now = days_before_the_first(3)
    assert (await run_autopay(now=now))["succeeded"] == 1
    assert await balance(person.id) == 75000
    [charge] = await AutopayCharge.select()
    assert (charge["amount"], charge["status"], charge["attempt"]) == (65000, "succeeded", 1)
    payment = await Payment.objects().where(Payment.id == charge["payment"]).first()
    assert payment.channel == "autopay" and payment.status == "succeeded"
    assert payment.period == Month.of(now.date()).next.iso
    assert await Receipt.count().where(Receipt.payment == payment.id) == 1
    # Again the same day, the next day, and five at once: nothing more.
    await run_autopay(now=now)
    await run_autopay(now=now + dt.timedelta(days=1))
    await asyncio.gather(*[run_autopay(now=now) for _ in range(5)])
    assert await AutopayCharge.count() == 1
    assert await LedgerEntry.count().where(LedgerEntry.subscriber == person.id) == 2


async def test_concurrent_first_runs_charge_once(stripe_sandbox):
    person = await saved_card(stripe_sandbox, fee=75000)
    await asyncio.gather(*[run_autopay(now=days_before_the_first(2)) for _ in range(6)])
    assert await AutopayCharge.count() == 1 and await balance(person.id) == 75000


async def test_declined_tells_with_a_link_and_retries_next_day_up_to_the_limit(stripe_sandbox, setenv):
    setenv("CENTRA_AUTOPAY_ATTEMPTS", "2")
    person = await saved_card(stripe_sandbox, CARD_DECLINED, fee=75000)
    now = days_before_the_first(3)
    assert (await run_autopay(now=now))["failed"] == 1
    assert (await run_autopay(now=now))["failed"] == 0  # not twice a day
    assert (await run_autopay(now=now + dt.timedelta(days=1)))["failed"] == 1
    assert (await run_autopay(now=now + dt.timedelta(days=2)))["failed"] == 0  # attempts used up
    charges = await AutopayCharge.select().order_by(AutopayCharge.attempt)
    assert [(c["attempt"], c["status"]) for c in charges] == [(1, "failed"), (2, "failed")]
    assert all(c["failure_code"] for c in charges)
    texts = await Notification.select(Notification.body).where(
        (Notification.subscriber == person.id) & (Notification.topic == "message.autopay_failed"))
    assert len(texts) == 2 and all("/cabinet/pay" in t["body"] for t in texts)
    assert await balance(person.id) == 10000


async def test_a_card_asking_for_its_code_waits_for_the_subscriber(stripe_sandbox):
    person = await saved_card(stripe_sandbox, CARD_3DS, fee=75000)
    now = days_before_the_first(1)
    assert (await run_autopay(now=now))["requires_action"] == 1
    assert (await run_autopay(now=now + dt.timedelta(hours=30)))["requires_action"] == 0
    [charge] = await AutopayCharge.select()
    assert charge["status"] == "requires_action"
    [message] = await Notification.select(Notification.body).where(
        (Notification.subscriber == person.id) & (Notification.topic == "message.autopay_action"))
    assert "/cabinet/pay" in message["body"]
    assert await balance(person.id) == 10000


async def test_expired_card_is_reported_not_charged(stripe_sandbox):
    person = await saved_card(stripe_sandbox, fee=75000)
    await Autopay.update({Autopay.exp_month: 1, Autopay.exp_year: 2020}).where(
        Autopay.subscriber == person.id)
    now = days_before_the_first(3)
    assert (await run_autopay(now=now))["expired"] == 1
    assert (await run_autopay(now=now))["expired"] == 0  # told once
    assert await AutopayCharge.count() == 0


async def test_settings_ceiling_fee_mode_off_and_removal(stripe_sandbox):
    person = await saved_card(stripe_sandbox, fee=75000)
    with pytest.raises(ValueError, match="от 1 до 10"):
        await save_settings(person.id, enabled=True, days_before="0", amount_mode="fee", monthly_limit="")
    await save_settings(person.id, enabled=True, days_before="5", amount_mode="fee", monthly_limit="500")
    now = days_before_the_first(5)
    assert (await run_autopay(now=now))["succeeded"] == 1
    assert [c["amount"] for c in await AutopayCharge.select()] == [50000]  # the fee, cut to the ceiling
    await save_settings(person.id, enabled=False, days_before="5", amount_mode="fee", monthly_limit="")
    assert (await run_autopay(now=days_before_the_first(5, Month.current().next)))["succeeded"] == 0
    assert await remove_card(person.id) and await Autopay.count() == 0


def test_charge_amount():
    assert charge_amount("shortfall", fee=80000, balance=30050, limit=0, paid=0) == 50000
    assert charge_amount("fee", fee=80000, balance=30050, limit=0, paid=0) == 80000
    assert charge_amount("fee", fee=80000, balance=80000, limit=0, paid=0) == 0
    assert charge_amount("shortfall", fee=80000, balance=79950, limit=0, paid=0) == 1000  # the minimum
    assert charge_amount("fee", fee=80000, balance=0, limit=50000, paid=45000) == 5000
    assert charge_amount("fee", fee=80000, balance=0, limit=50000, paid=49500) == 0  # under the minimum
