"""Terminations dated ahead: scheduled at completion, applied by the daily job, money settled once."""

from __future__ import annotations

import datetime as dt

import pytest

from jobs.schedules import apply_terminations as terminations_task
from jobs.schedules import charge as charge_task
from tables.audit import Actor, AuditEntry
from tables.billing.charge_run import run_charges
from tables.calendar import LOCAL_TZ, local_date, utcnow
from tables.commands.terminations import apply_terminations
from tables.ledger import EntryKind, LedgerEntry, ledger_sum, post_entry
from tables.notifications import Notification
from tables.requests.filing import file_request
from tables.requests.queue import ServiceRequest
from tables.requests.termination import apply_due_terminations, complete_termination
from tables.subscribers import Subscriber, SubscriberStatus
from tests.support.factories import make_subscriber
from tests.support.request_factories import filed, staff_actor

BILLING = Actor("billing")


def stamp(moment: dt.datetime) -> int:
    """A periodic tick's timestamp, as the job engine passes it."""
    return int(moment.timestamp())


def local(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> dt.datetime:
    """A moment given in Novokuznetsk time, as the UTC the code is handed."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=LOCAL_TZ).astimezone(dt.UTC)


async def contract(subscriber_id: int) -> Subscriber:
    return await Subscriber.objects().where(Subscriber.id == subscriber_id).first()


async def charges(subscriber_id: int) -> list[dict]:
    return await LedgerEntry.select(LedgerEntry.period, LedgerEntry.amount, LedgerEntry.reference,
                                    LedgerEntry.comment).where(
        (LedgerEntry.subscriber == subscriber_id) & (LedgerEntry.kind == EntryKind.CHARGE)
    ).order_by(LedgerEntry.id)


async def audit_actions(subscriber_id: int) -> list[tuple[str, str, int | None]]:
    rows = await AuditEntry.select(AuditEntry.action, AuditEntry.actor_name, AuditEntry.actor).where(
        (AuditEntry.object_type == "subscriber") & (AuditEntry.object_id == str(subscriber_id))
        & AuditEntry.action.like("subscriber.termin%")).order_by(AuditEntry.id)
    return [(r["action"], r["actor_name"], r["actor"]) for r in rows]


async def terminate(subscriber_id: int, desired: dt.date, *, filed_at: dt.datetime,
                    completed_at: dt.datetime, clerk: Actor | None = None
                    ) -> tuple[ServiceRequest, dt.date]:
    """File a termination for ``desired`` and complete it: the request and the day it takes."""
    request = await filed(subscriber_id, "termination", now=filed_at, desired_date=desired)
    day = await complete_termination(request.id, actor=clerk or await staff_actor(),
                                     now=completed_at)
    return request, day


async def test_termination_later_this_month_is_scheduled_and_settled_once():
    """December charged on the 1st; terminated from 20 December, completed on the 5th."""
    s = await make_subscriber(fee=75000, connected_on=dt.date(2026, 6, 1))
    await run_charges("2026-12", actor=BILLING, now=local(2026, 12, 1, 0, 10))
    await post_entry(s.id, 100000, EntryKind.PAYMENT, "pay-dec")
    clerk = await staff_actor()
    request, day = await terminate(s.id, dt.date(2026, 12, 20), filed_at=local(2026, 12, 5),
                                  completed_at=local(2026, 12, 5, 13), clerk=clerk)
    assert day == dt.date(2026, 12, 20)
    after = await contract(s.id)
    assert after.status == SubscriberStatus.ACTIVE and after.terminated_on == day
    # 20 of 31 days: 750 × 20 / 31 = 483,870… → 483,87 ₽; 266,13 ₽ back at completion.
    assert [(c["period"], c["amount"]) for c in await charges(s.id)] == [
        ("2026-12", -75000), ("2026-12", 26613)]
    assert after.balance == 100000 - 48387 == await ledger_sum(s.id)
    row = await ServiceRequest.objects().where(ServiceRequest.id == request.id).first()
    assert row.status == "done"
    assert row.close_reason == ("Договор будет расторгнут с 20.12.2026. "
                                "До этой даты услуги предоставляются.")
    notice = await Notification.objects().where(Notification.topic == "request.done").first()
    assert "будет расторгнут с 20.12.2026" in notice.body and notice.recipient == s.phone
    assert await audit_actions(s.id) == [("subscriber.termination_scheduled", "clerk",
                                          clerk.staff_id)]

    # Still a working contract: it files requests, and the daily run books nothing new.
    await filed(s.id, "question", now=local(2026, 12, 10))
    rerun = await run_charges("2026-12", actor=BILLING, now=local(2026, 12, 10, 0, 10))
    assert rerun.contracts_charged == 0
    assert await apply_due_terminations(now=local(2026, 12, 19, 23, 59)) == 0
    assert (await contract(s.id)).status == SubscriberStatus.ACTIVE

    # The day begins: terminated by the system, the subscriber told; reruns change nothing.
    assert await apply_due_terminations(now=local(2026, 12, 20, 0, 5)) == 1
    assert await apply_due_terminations(now=local(2026, 12, 20, 0, 15)) == 0
    assert await terminations_task(stamp(local(2026, 12, 20, 0, 2))) == 0
    ended = await contract(s.id)
    assert ended.status == SubscriberStatus.TERMINATED and ended.terminated_on == day
    assert await audit_actions(s.id) == [
        ("subscriber.termination_scheduled", "clerk", clerk.staff_id),
        ("subscriber.terminated", "system", None)]
    told = await Notification.objects().where(Notification.topic == "subscriber.terminated")
    assert len(told) == 1 and told[0].recipient == s.phone
    assert "расторгнут с 20.12.2026" in told[0].body and "Итоговая выписка" in told[0].body
    assert told[0].reference == request.number

    # No later month is charged; the correction was booked exactly once.
    january = await run_charges("2027-01", actor=BILLING, now=local(2027, 1, 1, 0, 10))
    assert january.contracts_charged == 0
    entries = await charges(s.id)
    assert [(c["period"], c["amount"]) for c in entries] == [("2026-12", -75000), ("2026-12", 26613)]
    assert entries[1]["reference"] == f"charge-correction:{s.id}:2026-12"
    assert (await contract(s.id)).balance == await ledger_sum(s.id) == 100000 - 48387
    with pytest.raises(ValueError, match="Договор расторгнут"):
        await filed(s.id, "question", now=local(2026, 12, 21))


async def test_termination_in_the_next_month_is_charged_up_to_the_date_by_the_run():
    """Completed on 10 December for 20 January: December stays whole, January is prorated."""
    s = await make_subscriber(fee=75000, connected_on=dt.date(2026, 6, 1))
    await post_entry(s.id, 200000, EntryKind.PAYMENT, "pay-ahead")
    await run_charges("2026-12", actor=BILLING, now=local(2026, 12, 1, 0, 10))
    await terminate(s.id, dt.date(2027, 1, 20), filed_at=local(2026, 12, 10),
                    completed_at=local(2026, 12, 10, 15))
    assert (await contract(s.id)).status == SubscriberStatus.ACTIVE
    assert [(c["period"], c["amount"]) for c in await charges(s.id)] == [("2026-12", -75000)]

    # The scheduled tasks of 1 January charge 1–20 January only, and terminate nobody yet.
    assert await terminations_task(stamp(local(2027, 1, 1, 0, 2))) == 0
    assert (await charge_task(stamp(local(2027, 1, 1, 0, 5))))["charged"] == 1
    january = (await charges(s.id))[-1]
    assert january["period"] == "2027-01" and january["amount"] == -48387
    assert january["comment"].endswith("(20 из 31 дн.)")
    assert (await contract(s.id)).status == SubscriberStatus.ACTIVE

    assert await terminations_task(stamp(local(2027, 1, 20, 0, 2))) == 1
    assert (await contract(s.id)).status == SubscriberStatus.TERMINATED
    assert (await run_charges("2027-02", actor=BILLING,
                              now=local(2027, 2, 1, 0, 10))).contracts_charged == 0
    assert [(c["period"], c["amount"]) for c in await charges(s.id)] == [
        ("2026-12", -75000), ("2027-01", -48387)]
    assert (await contract(s.id)).balance == await ledger_sum(s.id) == 200000 - 75000 - 48387


async def test_next_month_charged_in_advance_before_completion_is_given_back_once():
    """January was charged on 28 December (in advance, as runs could before the future-period
    check; such rows stay in old ledgers); the termination from 20 January completed on the 29th
    gives the 11 days back at once, and nothing more later."""
    s = await make_subscriber(fee=75000, connected_on=dt.date(2026, 6, 1))
    with pytest.raises(ValueError, match="ещё не наступил"):
        await run_charges("2027-01", actor=BILLING, now=local(2026, 12, 28))
    await post_entry(s.id, -75000, EntryKind.CHARGE, f"charge:{s.id}:2027-01", period="2027-01",
                     created_by=BILLING.name, comment="Абонентская плата за январь 2027")
    await terminate(s.id, dt.date(2027, 1, 20), filed_at=local(2026, 12, 29),
                    completed_at=local(2026, 12, 29, 13))
    assert [(c["period"], c["amount"]) for c in await charges(s.id)] == [
        ("2027-01", -75000), ("2027-01", 26613)]
    await run_charges("2027-01", actor=BILLING, now=local(2027, 1, 1, 0, 10))
    assert await apply_due_terminations(now=local(2027, 1, 20, 0, 10)) == 1
    assert await apply_due_terminations(now=local(2027, 1, 21, 0, 10)) == 0
    assert [(c["period"], c["amount"]) for c in await charges(s.id)] == [
        ("2027-01", -75000), ("2027-01", 26613)]
    assert (await contract(s.id)).balance == await ledger_sum(s.id) == -48387


async def test_termination_dated_today_applies_at_once():
    s = await make_subscriber(fee=75000, connected_on=dt.date(2026, 6, 1))
    clerk = await staff_actor()
    _, day = await terminate(s.id, dt.date(2026, 12, 20), filed_at=local(2026, 12, 5),
                                 completed_at=local(2026, 12, 20, 0, 30), clerk=clerk)
    assert day == dt.date(2026, 12, 20)
    assert (await contract(s.id)).status == SubscriberStatus.TERMINATED
    assert await audit_actions(s.id) == [("subscriber.terminated", "clerk", clerk.staff_id)]
    assert await apply_due_terminations(now=local(2026, 12, 20, 1)) == 0
    assert await Notification.count().where(Notification.topic == "subscriber.terminated") == 0


async def test_a_scheduled_termination_keeps_the_suspension_and_ends_it():
    s = await make_subscriber(fee=75000, connected_on=dt.date(2026, 6, 1))
    await Subscriber.update({Subscriber.status: SubscriberStatus.SUSPENDED}).where(
        Subscriber.id == s.id)
    await terminate(s.id, dt.date(2026, 12, 20), filed_at=local(2026, 12, 5),
                    completed_at=local(2026, 12, 5, 13))
    assert (await contract(s.id)).status == SubscriberStatus.SUSPENDED
    assert await apply_due_terminations(now=local(2026, 12, 20, 0, 5)) == 1
    entry = await AuditEntry.objects().where(AuditEntry.action == "subscriber.terminated").first()
    assert "suspended" in str(entry.before) and entry.actor_name == "system"
    assert (await contract(s.id)).status == SubscriberStatus.TERMINATED


async def test_while_scheduled_no_second_termination_nor_tariff_change():
    s = await make_subscriber(fee=75000, connected_on=dt.date(2026, 6, 1))
    await terminate(s.id, dt.date(2026, 12, 31), filed_at=local(2026, 12, 5),
                    completed_at=local(2026, 12, 5, 13))
    with pytest.raises(ValueError, match=r"будет расторгнут с 31\.12\.2026: повторная заявка"):
        await filed(s.id, "termination", now=local(2026, 12, 6),
                    desired_date=dt.date(2026, 12, 25))
    with pytest.raises(ValueError, match=r"будет расторгнут с 31\.12\.2026: смена тарифа"):
        await file_request(s.id, "tariff_change", tariff_id=s.tariff, now=local(2026, 12, 6))
    assert await ServiceRequest.count().where(ServiceRequest.subscriber == s.id) == 1
    repair = await filed(s.id, "repair", now=local(2026, 12, 6))
    assert repair.status == "new"


async def test_apply_terminations_command(capsys):
    s = await make_subscriber()
    yesterday = local_date(utcnow()) - dt.timedelta(days=1)
    await Subscriber.update({Subscriber.terminated_on: yesterday}).where(Subscriber.id == s.id)
    await apply_terminations()
    assert "Terminations applied: 1" in capsys.readouterr().out
    await apply_terminations()
    assert "Terminations applied: 0" in capsys.readouterr().out
    assert (await contract(s.id)).status == SubscriberStatus.TERMINATED


async def test_churn_counts_a_scheduled_termination_in_the_month_of_its_date():
    from tables.reports import REPORTS, Filters, build_report

    s = await make_subscriber(fee=75000, connected_on=dt.date(2026, 6, 1))
    await terminate(s.id, dt.date(2027, 1, 20), filed_at=local(2026, 12, 10),
                    completed_at=local(2026, 12, 10, 13))

    async def churn(now: dt.datetime, **params: str):
        filters = Filters.parse({"from": "2026-12", "to": "2027-01", **params},
                                today=local_date(now), spec=REPORTS["churn"])
        return await build_report("churn", filters, now)

    for now in (local(2026, 12, 15), local(2027, 1, 25)):  # scheduled, then applied
        if now > local(2027, 1, 20):
            assert await apply_due_terminations(now=now) == 1
        report = await churn(now)
        assert report.rows == [("2026-12", 0, 0, 0), ("2027-01", 0, 1, -1)]
        reasons = await churn(now, group="reason")
        # Counted with its completed request's reason (the label itself: see reports.py).
        assert len(reasons.rows) == 1 and reasons.rows[0][1] == 1
        assert reasons.rows[0][0] != "Без заявки на расторжение"
