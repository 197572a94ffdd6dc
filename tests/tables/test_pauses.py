"""Voluntary pause (issue 29, item 3): booking rules, the daily start and end, and the charge of
months with a pause in them, to the kopeck, against an independent Decimal oracle."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from decimal import ROUND_HALF_UP, Decimal

import pytest

from settings import get_settings
from tables.audit import SYSTEM, Actor, AuditEntry
from tables.billing.charge_run import run_charges
from tables.billing.fee import compute_charge
from tables.billing.pauses import Pause, PauseStatus, apply_due_pauses, book_pause, end_pause
from tables.calendar import LOCAL_TZ
from tables.coa import CoaRequest
from tables.ledger import EntryKind, LedgerEntry, ledger_sum, post_entry
from tables.notifications import Notification
from tables.subscribers import Subscriber, SubscriberStatus
from tests.support.factories import make_subscriber, make_tariff

ME = Actor("абонент")


def local(day: dt.date, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=LOCAL_TZ)


def oracle(monthly: int, days_in_month: int, paused: int, pause_fee: int = 0,
           billed: int | None = None) -> int:
    """Σ days × daily rate, rounded once, half up — independent of the SQL."""
    billed = days_in_month if billed is None else billed
    amount = (Decimal(billed - paused) * monthly + Decimal(paused) * pause_fee) / days_in_month
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


async def row(sid: int) -> Subscriber:
    return await Subscriber.objects().where(Subscriber.id == sid).first()


async def charges(sid: int, period: str) -> list[int]:
    rows = await LedgerEntry.select(LedgerEntry.amount).where(
        (LedgerEntry.subscriber == sid) & (LedgerEntry.kind == EntryKind.CHARGE)
        & (LedgerEntry.period == period)).order_by(LedgerEntry.id)
    return [r["amount"] for r in rows]


async def paid_contract(fee: int = 75000, paid: int = 300000, **tariff) -> Subscriber:
    s = await make_subscriber(tariff=await make_tariff(fee=fee, **tariff))
    await post_entry(s.id, paid, EntryKind.PAYMENT, f"pay-{s.id}")
    return s


@pytest.fixture
def pause_fee():
    """Set CENTRA_PAUSE_FEE_KOPECKS for one test."""
    import os

    def set_fee(kopecks: int) -> None:
        os.environ["CENTRA_PAUSE_FEE_KOPECKS"] = str(kopecks)
        get_settings.cache_clear()

    yield set_fee
    os.environ.pop("CENTRA_PAUSE_FEE_KOPECKS", None)
    get_settings.cache_clear()


async def test_a_pause_in_the_middle_of_a_charged_month_is_credited_to_the_kopeck():
    s = await paid_contract(fee=75000)
    await run_charges("2027-03", actor=SYSTEM, now=local(dt.date(2027, 3, 1), 0))
    assert await charges(s.id, "2027-03") == [-75000]
    pause = await book_pause(s.id, dt.date(2027, 3, 10), 14, actor=ME, now=local(dt.date(2027, 3, 5)))
    assert (pause.starts_on, pause.ends_on, pause.status) == (dt.date(2027, 3, 10), dt.date(2027, 3, 23),
                                                              PauseStatus.BOOKED)
    assert await charges(s.id, "2027-03") == [-75000]  # booking books nothing
    assert await apply_due_pauses(dt.date(2027, 3, 9), now=local(dt.date(2027, 3, 9), 0)) == {
        "started": 0, "ended": 0}
    assert await apply_due_pauses(dt.date(2027, 3, 10), now=local(dt.date(2027, 3, 10), 0)) == {
        "started": 1, "ended": 0}
    assert (await row(s.id)).status == SubscriberStatus.PAUSED
    due = oracle(75000, 31, 14)  # 750 ₽ × 17 / 31 = 411,290… → 411,29 ₽
    assert due == 41129
    assert await charges(s.id, "2027-03") == [-75000, 75000 - due]
    assert await compute_charge(s.id, "2027-03") == due
    # The same day again (a retry of the job) and the charge run's own call change nothing.
    assert await apply_due_pauses(dt.date(2027, 3, 10), now=local(dt.date(2027, 3, 10), 1)) == {
        "started": 0, "ended": 0}
    await run_charges("2027-03", actor=SYSTEM, now=local(dt.date(2027, 3, 10), 0))
    assert await charges(s.id, "2027-03") == [-75000, 75000 - due]
    # It ends by itself after its last day; nothing more is booked.
    assert await apply_due_pauses(dt.date(2027, 3, 24), now=local(dt.date(2027, 3, 24), 0)) == {
        "started": 0, "ended": 1}
    s_row = await row(s.id)
    assert s_row.status == SubscriberStatus.ACTIVE
    assert await charges(s.id, "2027-03") == [-75000, 75000 - due]
    assert s_row.balance == await ledger_sum(s.id) == 300000 - due
    actions = [a["action"] for a in await AuditEntry.select(AuditEntry.action).where(
        AuditEntry.object_id == str(s.id)).order_by(AuditEntry.id)]
    assert actions[-3:] == ["subscriber.pause_booked", "subscriber.pause_started", "subscriber.pause_ended"]
    topics = [n["topic"] for n in await Notification.select(Notification.topic).where(
        Notification.subscriber == s.id)]
    assert {"message.pause_booked", "message.pause_started", "message.pause_ended"} <= set(topics)


async def test_a_pause_across_months_with_a_pause_fee_prorates_both_ends(pause_fee):
    pause_fee(10000)  # 100 ₽ a paused month
    s = await paid_contract(fee=75000)
    await run_charges("2027-03", actor=SYSTEM, now=local(dt.date(2027, 3, 1), 0))
    await book_pause(s.id, dt.date(2027, 3, 25), 20, actor=ME, now=local(dt.date(2027, 3, 20)))
    await apply_due_pauses(dt.date(2027, 3, 25), now=local(dt.date(2027, 3, 25), 0))
    march = oracle(75000, 31, 7, 10000)  # 24 days at 750 ₽, 7 at 100 ₽ (25–31 March)
    assert await charges(s.id, "2027-03") == [-75000, 75000 - march]
    # April is charged on the 1st with the pause already in it: 13 paused days (1–13 April).
    await run_charges("2027-04", actor=SYSTEM, now=local(dt.date(2027, 4, 1), 0))
    april = oracle(75000, 30, 13, 10000)
    assert await charges(s.id, "2027-04") == [-april]
    entry = await LedgerEntry.objects().where(LedgerEntry.reference == f"charge:{s.id}:2027-04").first()
    assert entry.comment == "Абонентская плата за апрель 2027 (добровольная блокировка 13 из 30 дн.)"
    # A second run of the month (the daily catch-up, a retry) books nothing more.
    await run_charges("2027-04", actor=SYSTEM, now=local(dt.date(2027, 4, 2), 0))
    assert await charges(s.id, "2027-04") == [-april]
    await apply_due_pauses(dt.date(2027, 4, 14), now=local(dt.date(2027, 4, 14), 0))
    assert (await row(s.id)).balance == 300000 - march - april == await ledger_sum(s.id)


async def test_early_resume_charges_the_days_given_back_and_staff_end_is_audited():
    s = await paid_contract(fee=75000)
    await run_charges("2027-03", actor=SYSTEM, now=local(dt.date(2027, 3, 1), 0))
    await book_pause(s.id, dt.date(2027, 3, 10), 14, actor=ME, now=local(dt.date(2027, 3, 5)))
    await apply_due_pauses(dt.date(2027, 3, 10), now=local(dt.date(2027, 3, 10), 0))
    # Resumed on the 15th at noon: the 15th is no longer paused (paused 10–14 March, 5 days).
    clerk = Actor("clerk", staff_id=None)
    pause = await end_pause(s.id, actor=clerk, now=local(dt.date(2027, 3, 15)))
    assert (pause.status, pause.ends_on) == (PauseStatus.ENDED, dt.date(2027, 3, 14))
    assert await compute_charge(s.id, "2027-03") == oracle(75000, 31, 5)
    assert await charges(s.id, "2027-03") == [
        -75000, 75000 - oracle(75000, 31, 14), oracle(75000, 31, 14) - oracle(75000, 31, 5)]
    assert sum(await charges(s.id, "2027-03")) == -oracle(75000, 31, 5)
    assert (await row(s.id)).status == SubscriberStatus.ACTIVE
    ended = await AuditEntry.objects().where(AuditEntry.action == "subscriber.pause_ended").first()
    assert ended.actor_name == "clerk" and json.loads(ended.after)["ends_on"] == "2027-03-14"
    with pytest.raises(ValueError, match="Действующей или запланированной блокировки нет"):
        await end_pause(s.id, actor=clerk, now=local(dt.date(2027, 3, 15)))
    # The days that were not paused count against the allowance no more.
    assert (await Pause.objects().first()).ends_on == dt.date(2027, 3, 14)


async def test_a_booked_pause_is_cancelled_without_money():
    s = await paid_contract()
    await book_pause(s.id, dt.date(2027, 3, 10), 7, actor=ME, now=local(dt.date(2027, 3, 5)))
    pause = await end_pause(s.id, actor=ME, now=local(dt.date(2027, 3, 6)))
    assert pause.status == PauseStatus.CANCELLED
    assert await apply_due_pauses(dt.date(2027, 3, 10), now=local(dt.date(2027, 3, 10), 0)) == {
        "started": 0, "ended": 0}
    assert (await row(s.id)).status == SubscriberStatus.ACTIVE


async def test_refusals_in_russian():
    s = await paid_contract()
    today = dt.date(2027, 3, 5)
    now = local(today)
    with pytest.raises(ValueError, match=re.escape("не раньше завтрашнего дня (06.03.2027)")):
        await book_pause(s.id, today, 7, actor=ME, now=now)
    with pytest.raises(ValueError, match=re.escape("Срок блокировки — от 7 до 90 дней")):
        await book_pause(s.id, dt.date(2027, 3, 10), 6, actor=ME, now=now)
    with pytest.raises(ValueError, match=re.escape("Срок блокировки — от 7 до 90 дней")):
        await book_pause(s.id, dt.date(2027, 3, 10), 91, actor=ME, now=now)
    await book_pause(s.id, dt.date(2027, 3, 10), 7, actor=ME, now=now)
    with pytest.raises(ValueError, match=re.escape(
            "пересекаются с уже оформленной блокировкой с 10.03.2027 по 16.03.2027")):
        await book_pause(s.id, dt.date(2027, 3, 15), 7, actor=ME, now=now)
    with pytest.raises(ValueError, match="Уже оформлена блокировка"):
        await book_pause(s.id, dt.date(2027, 4, 15), 7, actor=ME, now=now)
    debtor = await make_subscriber()
    await post_entry(debtor.id, -100, EntryKind.CHARGE, f"debt-{debtor.id}", period="2027-03")
    with pytest.raises(ValueError, match="только без долга: пополните счёт на 1 ₽"):
        await book_pause(debtor.id, dt.date(2027, 3, 10), 7, actor=ME, now=now)
    assert await Pause.count() == 1


async def test_yearly_allowance_counts_days_in_each_calendar_year():
    s = await paid_contract(paid=1000000)
    # 60 days in 2027 taken (10 March – 8 May) …
    await book_pause(s.id, dt.date(2027, 3, 10), 60, actor=ME, now=local(dt.date(2027, 3, 5)))
    await apply_due_pauses(dt.date(2027, 3, 10), now=local(dt.date(2027, 3, 10), 0))
    await apply_due_pauses(dt.date(2027, 5, 9), now=local(dt.date(2027, 5, 9), 0))
    # … so 31 more are refused, 30 fit.
    with pytest.raises(ValueError, match=re.escape(
            "В 2027 году можно приостановить договор не больше чем на 90 дн.; осталось 30 дн.")):
        await book_pause(s.id, dt.date(2027, 7, 1), 31, actor=ME, now=local(dt.date(2027, 6, 1)))
    await book_pause(s.id, dt.date(2027, 7, 1), 30, actor=ME, now=local(dt.date(2027, 6, 1)))
    await end_pause(s.id, actor=ME, now=local(dt.date(2027, 6, 2)))  # cancelled: the days come back
    # Across New Year: 10 days in 2027 still fit, 20 in 2028 are a new year's days.
    await book_pause(s.id, dt.date(2027, 12, 22), 30, actor=ME, now=local(dt.date(2027, 12, 1)))


async def test_concurrent_bookings_book_one():
    s = await paid_contract()
    now = local(dt.date(2027, 3, 5))
    results = await asyncio.gather(*(book_pause(s.id, dt.date(2027, 3, 10), 7, actor=ME, now=now)
                                     for _ in range(4)), return_exceptions=True)
    assert sum(isinstance(r, Pause) for r in results) == 1
    assert all(isinstance(r, (Pause, ValueError)) for r in results), results
    assert await Pause.count() == 1


async def test_paused_contract_is_not_suspended_and_the_nas_is_told():
    from tables.network import Nas, RadiusSession

    s = await paid_contract(paid=1000, speed_mbps=100)
    await Nas(name="nas", address="10.0.0.1", secret="x", kind="mikrotik", coa_port=3799,
              restricted_list="debtors").save()
    now = local(dt.date(2027, 3, 5))
    await RadiusSession(session_key="10.0.0.1/1", acct_session_id="1", nas_address="10.0.0.1",
                        subscriber=s.id, username="u", restricted=False, started_at=now,
                        updated_at=now).save()
    await book_pause(s.id, dt.date(2027, 3, 10), 30, actor=ME, now=now)
    await apply_due_pauses(dt.date(2027, 3, 10), now=local(dt.date(2027, 3, 10), 0))
    from tables.coa import queue_cut_offs

    assert await queue_cut_offs() == 1
    assert (await CoaRequest.objects().first()).cause == "paused"
    # The next login gets the walled garden (the cabinet reachable), not the tariff's speed.
    from tables.network import NetworkAccess
    from tables.radius import authorize

    await NetworkAccess(subscriber=s.id, login="paused-login", password="pw").save()
    nas = await Nas.select().where(Nas.address == "10.0.0.1").first()
    decision = await authorize({"User-Name": "paused-login"}, nas)
    assert (decision.outcome, decision.reason) == ("restricted", "Добровольная блокировка")
    assert decision.reply["reply:Mikrotik-Address-List"] == "debtors"
    # April's charge is partly paused and leaves a debt: still paused, not suspended.
    await run_charges("2027-04", actor=SYSTEM, now=local(dt.date(2027, 4, 1), 0))
    assert (await row(s.id)).status == SubscriberStatus.PAUSED and (await row(s.id)).balance < 0
    # At the end the debt shows: suspended (audited), and the restricted session is cut.
    await RadiusSession.update({RadiusSession.restricted: True}, force=True)
    await apply_due_pauses(dt.date(2027, 4, 9), now=local(dt.date(2027, 4, 9), 0))
    assert (await row(s.id)).status == SubscriberStatus.SUSPENDED
    assert await CoaRequest.count().where(CoaRequest.cause == "resumed") == 1
