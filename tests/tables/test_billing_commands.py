"""The CLI commands and the scheduled billing tasks (jobs/schedules.py) run for a given tick."""

from __future__ import annotations

import datetime as dt

import pytest

from jobs.schedules import apply_tariff_changes, apply_terminations
from jobs.schedules import charge as charge_task
from jobs.schedules import reverse_promised as reversals_task
from tables.billing.charge_run import BillingRun
from tables.billing.promised import grant_promised_payment
from tables.billing.tariff_changes import schedule_tariff_change
from tables.calendar import utcnow
from tables.commands.charge import charge, reverse_promised
from tables.ledger import EntryKind, LedgerEntry
from tables.month import Month
from tables.subscribers import Subscriber
from tests.support.factories import make_subscriber, make_tariff


async def test_charge_command_prints_a_summary(capsys):
    await make_subscriber(fee=75000)
    await make_subscriber(fee=55000)
    period = Month.current().iso
    await charge(period=period, by="cron")
    out = capsys.readouterr().out
    assert f"Charge run {period}" in out and "1300" in out and "contracts charged" in out
    run = await BillingRun.objects().first()
    assert run.started_by == "cron" and run.contracts_charged == 2


async def test_charge_command_rejects_a_bad_period(capsys):
    with pytest.raises(SystemExit) as exit_info:
        await charge(period="2026-13")
    assert exit_info.value.code == 1
    assert "ГГГГ-ММ" in capsys.readouterr().out
    assert await BillingRun.count() == 0


async def test_reverse_promised_command(capsys):
    s = await make_subscriber()
    await grant_promised_payment(s.id, now=utcnow() - dt.timedelta(days=4))
    await reverse_promised()
    assert "reversed: 1" in capsys.readouterr().out


async def test_the_scheduled_tasks_of_the_1st_charge_the_month_and_do_the_housekeeping():
    old, new = await make_tariff(fee=1000), await make_tariff(fee=2000)
    s = await make_subscriber(tariff=old, connected_on=dt.date(2026, 6, 1))
    await grant_promised_payment(s.id, now=dt.datetime(2026, 12, 20, tzinfo=dt.UTC))
    await schedule_tariff_change(s.id, new.id, dt.date(2027, 1, 1), _actor(),
                                 now=dt.datetime(2026, 12, 20, tzinfo=dt.UTC))
    # The ticks of 1 January 2027 in Novokuznetsk (00:00 local = 17:00 UTC the day before),
    # in the order of their schedules: reversals, tariff switch (00:01), terminations (00:02),
    # the month's charge (00:05).
    jan1 = dt.datetime(2026, 12, 31, 17, 0, tzinfo=dt.UTC)

    def at(minute: int, day: int = 0) -> int:
        return int((jan1 + dt.timedelta(days=day, minutes=minute)).timestamp())

    assert await reversals_task(at(0)) == 1
    assert await apply_tariff_changes(at(1)) == 1
    assert await apply_terminations(at(2)) == 0
    assert await charge_task(at(5)) == {"period": "2027-01", "charged": 1}
    assert (await Subscriber.objects().first()).tariff == new.id
    charge_entry = await LedgerEntry.objects().where(LedgerEntry.kind == EntryKind.CHARGE).first()
    assert charge_entry.period == "2027-01" and charge_entry.amount == -2000
    # The same tick again (a retry, a second worker): nothing more is booked.
    assert await charge_task(at(5)) == {"period": "2027-01", "charged": 0}
    assert await reversals_task(at(0)) == 0
    # Next day's tick picks up contracts that became billable since, and only them.
    await make_subscriber(fee=3100, connected_on=dt.date(2027, 1, 2))
    assert await charge_task(at(5, day=1)) == {"period": "2027-01", "charged": 1}
    assert await LedgerEntry.count().where(LedgerEntry.kind == EntryKind.CHARGE) == 2


def _actor():
    from tables.audit import Actor

    return Actor("clerk")
