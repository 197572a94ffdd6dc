"""Promised payment (обещанный платёж): up to one monthly fee for 3 days, once a month."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from tables.audit import AuditEntry
from tables.billing.promised import (
    PromisedPayment,
    grant_promised_payment,
    promised_payment_offer,
    reverse_expired_promised_payments,
)
from tables.ledger import EntryKind, LedgerEntry, ledger_sum, post_entry
from tables.subscribers import Subscriber, SubscriberStatus
from tests.support.factories import make_subscriber, make_tariff

UTC = dt.UTC
NOW = dt.datetime(2026, 12, 5, 5, 0, tzinfo=UTC)  # 5 December, 12:00 local


async def row(subscriber_id: int) -> Subscriber:
    return await Subscriber.objects().where(Subscriber.id == subscriber_id).first()


async def test_offer_is_one_monthly_fee_with_router():
    tariff = await make_tariff(fee=75000, router_fee=10000)
    s = await make_subscriber(tariff=tariff, router_rented=True)
    offer = await promised_payment_offer(s.id, now=NOW)
    assert offer.available and offer.max_amount == 85000
    assert offer.reason == "Можно взять до 850 ₽ на 3 дня"
    assert offer.expires_at == NOW + dt.timedelta(days=3)


async def test_granted_credits_now_and_reactivates_a_suspended_contract():
    s = await make_subscriber(fee=75000)
    await post_entry(s.id, -60000, EntryKind.CHARGE, "c-1", period="2026-12")
    await Subscriber.update({Subscriber.status: SubscriberStatus.SUSPENDED}).where(Subscriber.id == s.id)
    promised = await grant_promised_payment(s.id, now=NOW)
    assert promised.amount == 75000 and promised.period == "2026-12"
    assert promised.expires_at == NOW + dt.timedelta(days=3) and promised.reversed_at is None
    current = await row(s.id)
    assert current.balance == 15000 == await ledger_sum(s.id)
    assert current.status == SubscriberStatus.ACTIVE
    entry = await LedgerEntry.objects().where(LedgerEntry.reference == f"promised:{promised.id}").first()
    assert entry.kind == EntryKind.PROMISED and entry.amount == 75000
    assert entry.comment == "Обещанный платёж до 08.12.2026 12:00"
    assert await AuditEntry.exists().where(AuditEntry.action == "promised.granted")


async def test_a_smaller_amount_and_bad_amounts():
    s = await make_subscriber(fee=75000)
    for bad in (0, -1, 75001, 1.5):
        with pytest.raises(ValueError, match="от 1 до 750 ₽"):
            await grant_promised_payment(s.id, now=NOW, amount=bad)  # type: ignore[arg-type]
    promised = await grant_promised_payment(s.id, now=NOW, amount=30000)
    assert promised.amount == 30000 and (await row(s.id)).balance == 30000


async def test_refused_while_active_and_twice_in_a_month():
    s = await make_subscriber(fee=75000)
    await grant_promised_payment(s.id, now=NOW)
    with pytest.raises(ValueError, match=r"уже действует до 08\.12\.2026 12:00"):
        await grant_promised_payment(s.id, now=NOW + dt.timedelta(hours=1))
    offer = await promised_payment_offer(s.id, now=NOW + dt.timedelta(hours=1))
    assert not offer.available and offer.active is not None
    assert await reverse_expired_promised_payments(now=NOW + dt.timedelta(days=3)) == 1
    later = dt.datetime(2026, 12, 20, tzinfo=UTC)
    offer = await promised_payment_offer(s.id, now=later)
    assert not offer.available
    assert offer.reason.startswith("Обещанный платёж в этом месяце уже был (05.12.2026)")
    with pytest.raises(ValueError, match="в этом месяце уже был"):
        await grant_promised_payment(s.id, now=later)
    # A new (local) month: 1 January 00:30 in Novokuznetsk is still 31 December in UTC.
    new_month = dt.datetime(2026, 12, 31, 17, 30, tzinfo=UTC)
    assert (await promised_payment_offer(s.id, now=new_month)).available
    promised = await grant_promised_payment(s.id, now=new_month)
    assert promised.period == "2027-01"
    assert await PromisedPayment.count() == 2


async def test_concurrent_grants_give_one():
    s = await make_subscriber(fee=75000)
    results = await asyncio.gather(*(grant_promised_payment(s.id, now=NOW) for _ in range(4)),
                                   return_exceptions=True)
    granted = [r for r in results if isinstance(r, PromisedPayment)]
    assert len(granted) == 1
    assert all(isinstance(r, ValueError) for r in results if r not in granted)
    assert (await row(s.id)).balance == 75000 == await ledger_sum(s.id)


async def test_reversed_at_expiry_not_before_and_only_once():
    s = await make_subscriber(fee=75000)
    promised = await grant_promised_payment(s.id, now=NOW)
    assert await reverse_expired_promised_payments(now=NOW + dt.timedelta(days=3, seconds=-1)) == 0
    assert (await row(s.id)).balance == 75000
    expiry = NOW + dt.timedelta(days=3)
    first, second = await asyncio.gather(reverse_expired_promised_payments(now=expiry),
                                         reverse_expired_promised_payments(now=expiry))
    assert first + second == 1
    assert await reverse_expired_promised_payments(now=expiry + dt.timedelta(days=1)) == 0
    assert (await row(s.id)).balance == 0 == await ledger_sum(s.id)
    reversal = await LedgerEntry.objects().where(
        LedgerEntry.reference == f"promised:{promised.id}:reversal").first()
    assert reversal.amount == -75000 and reversal.kind == EntryKind.PROMISED
    assert (await PromisedPayment.objects().first()).reversed_at == expiry


async def test_reversal_suspends_again_when_still_in_debt():
    debtor = await make_subscriber(fee=75000)
    await post_entry(debtor.id, -20000, EntryKind.CHARGE, "c-debt", period="2026-12")
    await Subscriber.update({Subscriber.status: SubscriberStatus.SUSPENDED}).where(
        Subscriber.id == debtor.id)
    payer = await make_subscriber(fee=75000)
    await post_entry(payer.id, -20000, EntryKind.CHARGE, "c-payer", period="2026-12")
    await Subscriber.update({Subscriber.status: SubscriberStatus.SUSPENDED}).where(
        Subscriber.id == payer.id)
    await grant_promised_payment(debtor.id, now=NOW)
    await grant_promised_payment(payer.id, now=NOW)
    assert (await row(debtor.id)).status == (await row(payer.id)).status == SubscriberStatus.ACTIVE
    await post_entry(payer.id, 20000, EntryKind.PAYMENT, "pay-in-time")
    assert await reverse_expired_promised_payments(now=NOW + dt.timedelta(days=3)) == 2
    assert (await row(debtor.id)).status == SubscriberStatus.SUSPENDED
    assert (await row(debtor.id)).balance == -20000
    assert (await row(payer.id)).status == SubscriberStatus.ACTIVE
    assert (await row(payer.id)).balance == 0


@pytest.mark.parametrize("status", [SubscriberStatus.TERMINATED, SubscriberStatus.ACTIVE])
async def test_never_for_a_terminated_or_terminating_contract(status):
    s = await make_subscriber(fee=75000)
    await Subscriber.update({Subscriber.status: status,
                             Subscriber.terminated_on: dt.date(2026, 12, 20)}).where(Subscriber.id == s.id)
    offer = await promised_payment_offer(s.id, now=NOW)
    expected = ("Обещанный платёж недоступен для расторгнутого договора"
                if status == SubscriberStatus.TERMINATED
                else "Обещанный платёж недоступен: договор расторгается с 20.12.2026")
    assert not offer.available and offer.reason == expected
    with pytest.raises(ValueError, match="расторг"):
        await grant_promised_payment(s.id, now=NOW)
    assert await PromisedPayment.count() == 0 and await LedgerEntry.count() == 0


async def test_not_for_a_free_tariff_or_unknown_contract():
    s = await make_subscriber(fee=0)
    assert not (await promised_payment_offer(s.id, now=NOW)).available
    offer = await promised_payment_offer(999_999, now=NOW)
    assert not offer.available and offer.reason == "Договор не найден"
    with pytest.raises(ValueError, match="Договор не найден"):
        await grant_promised_payment(999_999, now=NOW)


async def test_refused_with_what_restores_service_when_the_debt_exceeds_one_fee():
    """Issue 24 item 9a: taken with a debt above one fee, it left the contract suspended."""
    s = await make_subscriber(fee=75000)
    await post_entry(s.id, -120000, EntryKind.CHARGE, "c-big", period="2026-12")
    await Subscriber.update({Subscriber.status: SubscriberStatus.SUSPENDED}).where(Subscriber.id == s.id)
    offer = await promised_payment_offer(s.id, now=NOW)
    assert not offer.available
    assert offer.reason == ("Обещанный платёж не вернёт доступ: долг 1200 ₽ больше, чем можно взять "
                            "(750 ₽). Чтобы восстановить доступ, пополните счёт на 1200 ₽ — или на "
                            "450 ₽, а затем возьмите обещанный платёж.")
    with pytest.raises(ValueError, match="пополните счёт на 1200 ₽"):
        await grant_promised_payment(s.id, now=NOW)
    assert await PromisedPayment.count() == 0 and (await row(s.id)).balance == -120000
    # Following the advice works: pay 450 ₽, then the promised payment restores service.
    await post_entry(s.id, 45000, EntryKind.PAYMENT, "pay-part")
    assert (await row(s.id)).status == SubscriberStatus.SUSPENDED
    await grant_promised_payment(s.id, now=NOW)
    assert (await row(s.id)).status == SubscriberStatus.ACTIVE and (await row(s.id)).balance == 0


async def test_a_suspended_contract_cannot_take_less_than_its_debt():
    s = await make_subscriber(fee=75000)
    await post_entry(s.id, -50000, EntryKind.CHARGE, "c-mid", period="2026-12")
    await Subscriber.update({Subscriber.status: SubscriberStatus.SUSPENDED}).where(Subscriber.id == s.id)
    with pytest.raises(ValueError, match="не меньше 500 ₽"):
        await grant_promised_payment(s.id, now=NOW, amount=30000)
    assert await PromisedPayment.count() == 0
    await grant_promised_payment(s.id, now=NOW, amount=50000)
    assert (await row(s.id)).status == SubscriberStatus.ACTIVE


async def test_an_active_contract_in_the_grace_band_may_take_any_amount(setenv):
    setenv("CENTRA_DEBT_THRESHOLD_KOPECKS", "200000")
    s = await make_subscriber(fee=75000)
    await post_entry(s.id, -120000, EntryKind.CHARGE, "c-band", period="2026-12")
    assert (await row(s.id)).status == SubscriberStatus.ACTIVE
    assert (await promised_payment_offer(s.id, now=NOW)).available
    await grant_promised_payment(s.id, now=NOW, amount=10000)
    assert (await row(s.id)).balance == -110000
