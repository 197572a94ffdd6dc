"""The monthly charge run: once per contract and period, prorated by days, suspending debtors."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import pytest

from tables.audit import Actor, AuditEntry
from tables.billing import charge_run
from tables.billing.charge_run import BillingRun, RunStatus, parse_period, preview_charges, run_charges
from tables.billing.fee import compute_charge
from tables.billing.tariff_changes import TariffChange, apply_due_tariff_changes, schedule_tariff_change
from tables.billing.termination import settle_terminated_charges
from tables.ledger import EntryKind, LedgerEntry, ledger_sum, post_entry
from tables.month import Month
from tables.subscribers import Subscriber, SubscriberStatus
from tests.support.factories import make_subscriber, make_tariff

UTC = dt.UTC
# 1 December 2026, 10:00 in Novokuznetsk.
DEC1 = dt.datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
STAFF = Actor("clerk")


def expected(*segments: tuple[int, int], month_days: int) -> int:
    """Independent oracle: Σ days × monthly fee / days in month, rounded half up to kopecks."""
    exact = sum(Decimal(days * fee) for days, fee in segments) / Decimal(month_days)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


async def row(subscriber_id: int) -> Subscriber:
    return await Subscriber.objects().where(Subscriber.id == subscriber_id).first()


async def charges(subscriber_id: int | None = None, period: str | None = None) -> list[dict]:
    query = LedgerEntry.select().where(LedgerEntry.kind == EntryKind.CHARGE)
    if subscriber_id is not None:
        query = query.where(LedgerEntry.subscriber == subscriber_id)
    if period is not None:
        query = query.where(LedgerEntry.period == period)
    return await query.order_by(LedgerEntry.id)


async def test_period_parsing_and_calendar():
    assert parse_period("2026-12").days == 31
    assert parse_period("2026-02").days == 28
    assert parse_period("2028-02").days == 29
    assert parse_period("2026-11").days == 30
    assert parse_period("2026-12").next == Month(2027, 1)
    assert parse_period("2026-12").title == "декабрь 2026"
    assert parse_period("12.2026") == parse_period("декабрь 2026") == Month(2026, 12)
    for bad in ["2026-13", "2026-00", "26-12", "2026/12", "", "abc", "1999-01", "2101-01"]:
        with pytest.raises(ValueError, match=r"^Период указывается как ГГГГ-ММ, например 2026-12$"):
            parse_period(bad)


@pytest.mark.parametrize("period", ["2027-01", "2027-02"])
async def test_cannot_charge_a_month_that_has_not_begun(period):
    """7 December 2026 (local): January is refused, with a Russian message, before any write."""
    await make_subscriber()
    dec7 = dt.datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
    for attempt in (run_charges(period, actor=STAFF, now=dec7), preview_charges(period, now=dec7)):
        with pytest.raises(ValueError, match=f"Период {period} ещё не наступил"):
            await attempt
    assert await LedgerEntry.count() == 0 and await BillingRun.count() == 0


async def test_the_local_month_decides_what_is_future():
    """31 December 2026 18:00 UTC is already 1 January 2027 in Novokuznetsk."""
    await make_subscriber()
    new_year_local = dt.datetime(2026, 12, 31, 18, 0, tzinfo=UTC)
    assert (await run_charges("2027-01", actor=STAFF, now=new_year_local)).contracts_charged == 1
    with pytest.raises(ValueError, match="ещё не наступил"):
        await run_charges("2027-01", actor=STAFF, now=dt.datetime(2026, 12, 31, 16, 0, tzinfo=UTC))


async def test_preview_matches_the_run_and_writes_nothing():
    rich = await make_subscriber(fee=75000)
    await post_entry(rich.id, 500000, EntryKind.PAYMENT, "pay-rich")
    poor = await make_subscriber(fee=55000)
    await make_subscriber(fee=60000, connected_on=dt.date(2027, 1, 10))  # not billable yet
    await schedule_tariff_change(rich.id, (await make_tariff(fee=90000)).id, dt.date(2026, 12, 1),
                                 STAFF, now=dt.datetime(2026, 11, 20, 3, tzinfo=UTC))
    counts = (await LedgerEntry.count(), await BillingRun.count(), await AuditEntry.count())
    preview = await preview_charges("2026-12", now=DEC1)
    assert (await LedgerEntry.count(), await BillingRun.count(), await AuditEntry.count()) == counts
    assert (preview.contracts, preview.suspensions, preview.tariff_changes) == (2, 1, 1)
    assert preview.total == 90000 + 55000 and preview.already_charged == 0
    run = await run_charges("2026-12", actor=STAFF, now=DEC1)
    assert (run.contracts_charged, run.total, run.contracts_suspended, run.tariff_changes_applied) == (
        preview.contracts, preview.total, preview.suspensions, preview.tariff_changes)
    again = await preview_charges("2026-12", now=DEC1)
    assert (again.contracts, again.total, again.already_charged, again.tariff_changes) == (0, 0, 2, 0)
    assert poor.id != rich.id


async def test_one_run_charges_each_billable_contract_once():
    active = await make_subscriber(fee=75000)
    suspended = await make_subscriber(fee=55000)
    await Subscriber.update({Subscriber.status: SubscriberStatus.SUSPENDED}).where(
        Subscriber.id == suspended.id)
    gone = await make_subscriber()
    await Subscriber.update({Subscriber.status: SubscriberStatus.TERMINATED,
                             Subscriber.terminated_on: dt.date(2026, 11, 20)}).where(Subscriber.id == gone.id)
    future = await make_subscriber(connected_on=dt.date(2027, 1, 5))

    run = await run_charges("2026-12", actor=STAFF, now=DEC1)

    assert (run.contracts_charged, run.total) == (2, 130000)
    assert run.status == RunStatus.DONE and run.started_by == "clerk" and run.period == "2026-12"
    entries = await charges()
    assert [(e["subscriber"], e["amount"], e["reference"]) for e in entries] == [
        (active.id, -75000, f"charge:{active.id}:2026-12"),
        (suspended.id, -55000, f"charge:{suspended.id}:2026-12"),
    ]
    assert entries[0]["comment"] == "Абонентская плата за декабрь 2026"
    for s in (active, suspended, gone, future):
        assert (await row(s.id)).balance == await ledger_sum(s.id)

    again = await run_charges("2026-12", actor=STAFF, now=DEC1)
    assert (again.contracts_charged, again.total) == (0, 0)
    assert len(await charges()) == 2
    assert (await row(active.id)).balance == -75000
    assert await BillingRun.count() == 2
    audit = await AuditEntry.select(AuditEntry.action).where(AuditEntry.action == "billing.charged")
    assert len(audit) == 2


async def test_two_concurrent_runs_add_nothing_twice():
    fees = {(await make_subscriber(fee=10000 + i)).id: 10000 + i for i in range(6)}
    first, second = await asyncio.gather(
        run_charges("2026-12", actor=STAFF, now=DEC1, chunk_size=2),
        run_charges("2026-12", actor=Actor("other"), now=DEC1, chunk_size=2),
    )
    assert first.contracts_charged + second.contracts_charged == 6
    assert 0 in (first.contracts_charged, second.contracts_charged)
    assert len(await charges()) == 6
    for sid, fee in fees.items():
        assert (await row(sid)).balance == await ledger_sum(sid) == -fee


async def test_chunks_cover_every_id_and_report_progress():
    subscribers = [await make_subscriber(fee=1000) for _ in range(5)]
    seen: list[tuple[int, int]] = []
    run = await run_charges("2026-12", actor=STAFF, now=DEC1, chunk_size=2,
                            progress=lambda done, total: seen.append((done, total)))
    assert run.contracts_charged == 5
    span = subscribers[-1].id - subscribers[0].id + 1
    assert seen[-1] == (span, span) and len(seen) == 3


@pytest.mark.parametrize(
    ("period", "connected", "terminated", "fee", "router", "segments"),
    [
        # connected on the 15th of a 31-day month: 17 days
        ("2026-12", dt.date(2026, 12, 15), None, 75000, 0, [(17, 75000)]),
        # terminated on the 10th (inclusive): 10 days
        ("2026-12", dt.date(2026, 1, 1), dt.date(2026, 12, 10), 75000, 0, [(10, 75000)]),
        # February (28 days), 14 days of 499,99 ₽ = 24 999,5 kopecks → rounds half up
        ("2026-02", dt.date(2026, 2, 15), None, 49999, 0, [(14, 49999)]),
        # leap February
        ("2028-02", dt.date(2028, 2, 20), None, 75000, 0, [(10, 75000)]),
        # 30-day month, connected on the last day
        ("2026-11", dt.date(2026, 11, 30), None, 75000, 0, [(1, 75000)]),
        # a full 31-day month costs exactly the fee, with the router rental
        ("2026-12", dt.date(2026, 3, 3), None, 75000, 10000, [(31, 85000)]),
        # router rental is prorated with the fee
        ("2026-12", dt.date(2026, 12, 15), None, 75000, 10000, [(17, 85000)]),
        # connected and terminated inside the month
        ("2026-12", dt.date(2026, 12, 5), dt.date(2026, 12, 20), 33333, 0, [(16, 33333)]),
        # connected and terminated on the same day
        ("2026-12", dt.date(2026, 12, 31), dt.date(2026, 12, 31), 75000, 0, [(1, 75000)]),
    ],
)
async def test_proration_by_days(period, connected, terminated, fee, router, segments):
    tariff = await make_tariff(fee=fee, router_fee=router)
    s = await make_subscriber(tariff=tariff, connected_on=connected, router_rented=bool(router))
    if terminated:
        await Subscriber.update({Subscriber.status: SubscriberStatus.TERMINATED,
                                 Subscriber.terminated_on: terminated}).where(Subscriber.id == s.id)
    p = Month.parse(period)
    now = dt.datetime.combine(p.first_day, dt.time(12), tzinfo=UTC)
    amount = expected(*segments, month_days=p.days)
    assert await compute_charge(s.id, p) == amount
    run = await run_charges(p, actor=STAFF, now=now)
    assert run.total == amount
    entry = (await charges(s.id))[0]
    assert entry["amount"] == -amount and (await row(s.id)).balance == -amount
    days = sum(d for d, _ in segments)
    if days < p.days:
        assert entry["comment"].endswith(f"({days} из {p.days} дн.)")


async def test_half_up_rounding_edges():
    # 14/28 of an odd fee is exactly half a kopeck: rounds up; 1/31 of 100 kopecks is 3.2 → 3.
    tariff = await make_tariff(fee=49999)
    s = await make_subscriber(tariff=tariff, connected_on=dt.date(2026, 2, 15))
    assert await compute_charge(s.id, "2026-02") == 25000
    cheap = await make_subscriber(tariff=await make_tariff(fee=100), connected_on=dt.date(2026, 12, 31))
    assert await compute_charge(cheap.id, "2026-12") == 3


async def test_total_over_many_prorated_contracts_is_exact_to_the_kopeck():
    fees = [75000, 55000, 35000, 49999, 12345]
    expected_total = 0
    for day in range(1, 32):
        fee = fees[day % len(fees)]
        await make_subscriber(fee=fee, connected_on=dt.date(2026, 12, day))
        expected_total += expected((32 - day, fee), month_days=31)
    run = await run_charges("2026-12", actor=STAFF, now=DEC1, chunk_size=7)
    assert run.total == expected_total
    assert -sum(e["amount"] for e in await charges()) == expected_total


async def test_tariff_changed_from_the_first_of_next_month():
    old, new = await make_tariff(fee=75000), await make_tariff(fee=55000)
    s = await make_subscriber(tariff=old)
    await run_charges("2026-12", actor=STAFF, now=DEC1)
    # Booked on 20 December, when December is already charged: from 1 January.
    change = await schedule_tariff_change(s.id, new.id, dt.date(2027, 1, 1), STAFF,
                                          now=dt.datetime(2026, 12, 20, 5, tzinfo=UTC))
    assert change.from_tariff == old.id and change.applied_at is None
    assert (await row(s.id)).tariff == old.id  # not yet
    assert await compute_charge(s.id, "2026-12") == 75000
    jan1 = dt.datetime(2027, 1, 1, 3, tzinfo=UTC)
    run = await run_charges("2027-01", actor=STAFF, now=jan1)
    assert run.tariff_changes_applied == 1 and run.total == 55000
    assert (await row(s.id)).tariff == new.id
    assert [e["amount"] for e in await charges(s.id)] == [-75000, -55000]
    applied = await TariffChange.objects().first()
    assert applied.applied_at is not None
    assert await AuditEntry.exists().where(AuditEntry.action == "subscriber.tariff_changed")


async def test_tariff_change_inside_a_period_is_prorated():
    old, new = await make_tariff(fee=75000, router_fee=10000), await make_tariff(fee=55000, router_fee=5000)
    s = await make_subscriber(tariff=old, router_rented=True)
    nov20 = dt.datetime(2026, 11, 20, 5, tzinfo=UTC)
    await schedule_tariff_change(s.id, new.id, dt.date(2026, 12, 15), STAFF, now=nov20)
    amount = expected((14, 85000), (17, 60000), month_days=31)
    assert await compute_charge(s.id, "2026-12") == amount
    run = await run_charges("2026-12", actor=STAFF, now=DEC1)
    assert run.total == amount
    # The switch itself happens on the date (worker), never changing the amount.
    assert (await row(s.id)).tariff == old.id
    assert await apply_due_tariff_changes(dt.date(2026, 12, 15)) == 1
    assert (await row(s.id)).tariff == new.id
    assert await compute_charge(s.id, "2026-12") == amount
    assert await compute_charge(s.id, "2026-11") == 85000
    assert await compute_charge(s.id, "2027-01") == 60000


async def test_two_changes_in_one_month_and_termination_after_a_change():
    a, b, c = (await make_tariff(fee=31000), await make_tariff(fee=62000),
               await make_tariff(fee=93000))
    s = await make_subscriber(tariff=a)
    nov = dt.datetime(2026, 11, 2, tzinfo=UTC)
    await schedule_tariff_change(s.id, b.id, dt.date(2026, 12, 11), STAFF, now=nov)
    await schedule_tariff_change(s.id, c.id, dt.date(2026, 12, 21), STAFF, now=nov)
    assert await compute_charge(s.id, "2026-12") == expected(
        (10, 31000), (10, 62000), (11, 93000), month_days=31)
    await Subscriber.update({Subscriber.terminated_on: dt.date(2026, 12, 15)}).where(Subscriber.id == s.id)
    assert await compute_charge(s.id, "2026-12") == expected((10, 31000), (5, 62000), month_days=31)


async def test_schedule_tariff_change_refusals():
    old, new, archived = (await make_tariff(fee=1000), await make_tariff(fee=2000),
                          await make_tariff(fee=3000, active=False))
    s = await make_subscriber(tariff=old, connected_on=dt.date(2026, 6, 1))
    nov = dt.datetime(2026, 11, 25, tzinfo=UTC)
    cases = [
        (dict(tariff_id=old.id, effective_from=dt.date(2027, 1, 1)), "уже действует"),
        (dict(tariff_id=archived.id, effective_from=dt.date(2027, 1, 1)), "в архиве"),
        (dict(tariff_id=999_999, effective_from=dt.date(2027, 1, 1)), "не найден"),
        (dict(tariff_id=new.id, effective_from=dt.date(2026, 6, 1)), "после даты подключения"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            await schedule_tariff_change(s.id, actor=STAFF, now=nov, **kwargs)
    await run_charges("2026-12", actor=STAFF, now=DEC1)
    with pytest.raises(ValueError, match=r"за 2026-12 уже начислена.*01\.01\.2027"):
        await schedule_tariff_change(s.id, new.id, dt.date(2026, 12, 15), STAFF, now=nov)
    await schedule_tariff_change(s.id, new.id, dt.date(2027, 2, 1), STAFF, now=nov)
    with pytest.raises(ValueError, match="Уже запланирована"):
        await schedule_tariff_change(s.id, old.id, dt.date(2027, 1, 1), STAFF, now=nov)
    await Subscriber.update({Subscriber.status: SubscriberStatus.TERMINATED,
                             Subscriber.terminated_on: dt.date(2027, 3, 1)}).where(Subscriber.id == s.id)
    with pytest.raises(ValueError, match="расторгнут"):
        await schedule_tariff_change(s.id, old.id, dt.date(2027, 3, 1), STAFF, now=nov)
    assert await TariffChange.count() == 1
    assert await AuditEntry.count().where(AuditEntry.action == "tariff.change_scheduled") == 1


async def test_a_change_dated_today_switches_the_tariff_at_once():
    old, new = await make_tariff(fee=1000), await make_tariff(fee=2000)
    s = await make_subscriber(tariff=old)
    change = await schedule_tariff_change(s.id, new.id, dt.date(2026, 11, 25), STAFF,
                                          now=dt.datetime(2026, 11, 25, 6, tzinfo=UTC))
    assert change.applied_at is not None and (await row(s.id)).tariff == new.id


async def test_termination_settlement_gives_back_unused_days_once():
    s = await make_subscriber(fee=75000)
    await run_charges("2026-12", actor=STAFF, now=DEC1)
    await Subscriber.update({Subscriber.status: SubscriberStatus.TERMINATED,
                             Subscriber.terminated_on: dt.date(2026, 12, 10)}).where(Subscriber.id == s.id)
    due = expected((10, 75000), month_days=31)
    assert await settle_terminated_charges(s.id, actor=STAFF) == 75000 - due
    assert await settle_terminated_charges(s.id, actor=STAFF) == 0
    assert (await row(s.id)).balance == -due == await ledger_sum(s.id)
    assert -sum(e["amount"] for e in await charges(s.id, "2026-12")) == due
    # January is not billable any more.
    run = await run_charges("2027-01", actor=STAFF, now=dt.datetime(2027, 1, 1, 3, tzinfo=UTC))
    assert run.contracts_charged == 0


async def test_termination_settlement_needs_a_terminated_contract():
    s = await make_subscriber()
    with pytest.raises(ValueError, match="не расторгнут"):
        await settle_terminated_charges(s.id, actor=STAFF)


async def test_debtors_are_suspended_and_a_payment_reactivates():
    payer = await make_subscriber(fee=75000)
    await post_entry(payer.id, 75000, EntryKind.PAYMENT, "p-payer")
    debtor = await make_subscriber(fee=75000)
    await post_entry(debtor.id, 70000, EntryKind.PAYMENT, "p-debtor")
    run = await run_charges("2026-12", actor=STAFF, now=DEC1)
    assert run.contracts_suspended == 1
    assert (await row(payer.id)).status == SubscriberStatus.ACTIVE  # exactly zero is fine
    assert (await row(debtor.id)).status == SubscriberStatus.SUSPENDED
    audit = await AuditEntry.objects().where(AuditEntry.action == "subscriber.suspended").first()
    assert audit.object_id == str(debtor.id) and audit.actor_name == "clerk"
    await post_entry(debtor.id, 4999, EntryKind.PAYMENT, "p-debtor-2")
    assert (await row(debtor.id)).status == SubscriberStatus.SUSPENDED
    await post_entry(debtor.id, 1, EntryKind.PAYMENT, "p-debtor-3")
    assert (await row(debtor.id)).status == SubscriberStatus.ACTIVE
    # Re-running the period does not suspend it again.
    again = await run_charges("2026-12", actor=STAFF, now=DEC1)
    assert again.contracts_suspended == 0
    assert (await row(debtor.id)).status == SubscriberStatus.ACTIVE


async def test_debt_threshold_is_configurable(setenv):
    setenv("CENTRA_DEBT_THRESHOLD_KOPECKS", "10000")
    small = await make_subscriber(fee=75000)
    await post_entry(small.id, 65000, EntryKind.PAYMENT, "p-small")  # -100,00 after the charge
    large = await make_subscriber(fee=75000)
    await post_entry(large.id, 64999, EntryKind.PAYMENT, "p-large")  # -100,01
    run = await run_charges("2026-12", actor=STAFF, now=DEC1)
    assert run.contracts_suspended == 1
    assert (await row(small.id)).status == SubscriberStatus.ACTIVE
    assert (await row(large.id)).status == SubscriberStatus.SUSPENDED


async def test_terminated_contract_is_charged_but_never_suspended():
    s = await make_subscriber(fee=75000)
    await Subscriber.update({Subscriber.status: SubscriberStatus.TERMINATED,
                             Subscriber.terminated_on: dt.date(2026, 12, 10)}).where(Subscriber.id == s.id)
    run = await run_charges("2026-12", actor=STAFF, now=DEC1)
    assert run.contracts_charged == 1 and run.contracts_suspended == 0
    assert (await row(s.id)).status == SubscriberStatus.TERMINATED


async def test_terminated_without_a_date_is_not_charged():
    s = await make_subscriber()
    await Subscriber.update({Subscriber.status: SubscriberStatus.TERMINATED}).where(Subscriber.id == s.id)
    assert (await run_charges("2026-12", actor=STAFF, now=DEC1)).contracts_charged == 0


async def test_a_failed_run_is_recorded_and_books_nothing(monkeypatch):
    await make_subscriber()

    async def broken(*_args, **_kwargs):
        raise RuntimeError("disk full")

    # Fails after the charges were inserted: the whole run rolls back.
    monkeypatch.setattr(charge_run, "write_audit", broken)
    with pytest.raises(RuntimeError):
        await run_charges("2026-12", actor=STAFF, now=DEC1)
    assert await LedgerEntry.count() == 0
    failed = await BillingRun.objects().first()
    assert failed.status == RunStatus.FAILED and "disk full" in failed.error


def local_noon(day: int, month: int = 12) -> dt.datetime:
    return dt.datetime(2026, month, day, 5, 0, tzinfo=UTC)  # 12:00 in Novokuznetsk


async def test_a_new_contract_is_not_suspended_during_its_grace(setenv):
    """Issue 24 item 9b: connected on the 15th, charged at once and suspended the same day,
    before its first bill could be paid. Now 10 days of grace (CENTRA_NEW_CONTRACT_GRACE_DAYS)."""
    setenv("CENTRA_NEW_CONTRACT_GRACE_DAYS", "10")
    new = await make_subscriber(fee=75000, connected_on=dt.date(2026, 12, 15))
    old = await make_subscriber(fee=75000)  # connected long ago: no grace
    first = await run_charges("2026-12", actor=STAFF, now=local_noon(15))
    assert first.contracts_charged == 2 and first.contracts_suspended == 1
    assert (await row(new.id)).balance < 0 and (await row(new.id)).status == SubscriberStatus.ACTIVE
    assert (await row(old.id)).status == SubscriberStatus.SUSPENDED
    # The daily run on the 24th: still in grace.
    assert (await run_charges("2026-12", actor=STAFF, now=local_noon(24))).contracts_suspended == 0
    assert (await row(new.id)).status == SubscriberStatus.ACTIVE
    # The 25th: the grace is over and the debt still there.
    last = await run_charges("2026-12", actor=STAFF, now=local_noon(25))
    assert last.contracts_charged == 0 and last.contracts_suspended == 1
    assert (await row(new.id)).status == SubscriberStatus.SUSPENDED
    audit = await AuditEntry.objects().where(
        (AuditEntry.action == "subscriber.suspended") & (AuditEntry.object_id == str(new.id))).first()
    assert "льготный срок" in audit.message
    assert (await run_charges("2026-12", actor=STAFF, now=local_noon(26))).contracts_suspended == 0


async def test_a_new_contract_that_pays_in_its_grace_is_never_suspended(setenv):
    setenv("CENTRA_NEW_CONTRACT_GRACE_DAYS", "10")
    s = await make_subscriber(fee=75000, connected_on=dt.date(2026, 11, 25))
    await run_charges("2026-11", actor=STAFF, now=local_noon(25, 11))
    # The 1 December run books December too, still inside the grace (until 5 December).
    december = await run_charges("2026-12", actor=STAFF, now=DEC1)
    assert december.contracts_charged == 1 and december.contracts_suspended == 0
    await post_entry(s.id, -(await row(s.id)).balance, EntryKind.PAYMENT, "p-first-bill")
    assert (await run_charges("2026-12", actor=STAFF, now=local_noon(6))).contracts_suspended == 0
    assert (await row(s.id)).status == SubscriberStatus.ACTIVE


async def test_grace_zero_suspends_at_the_first_charge(setenv):
    setenv("CENTRA_NEW_CONTRACT_GRACE_DAYS", "0")
    s = await make_subscriber(fee=75000, connected_on=dt.date(2026, 12, 15))
    run = await run_charges("2026-12", actor=STAFF, now=local_noon(15))
    assert run.contracts_suspended == 1 and (await row(s.id)).status == SubscriberStatus.SUSPENDED
