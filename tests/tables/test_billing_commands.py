"""The CLI commands and the worker's scheduling pass."""

from __future__ import annotations

import datetime as dt

import pytest

from tables.billing.charge_run import BillingRun
from tables.billing.promised import grant_promised_payment
from tables.billing.tariff_changes import schedule_tariff_change
from tables.calendar import utcnow
from tables.commands.charge import charge, reverse_promised
from tables.commands.worker import tick
from tables.ledger import EntryKind, LedgerEntry
from tables.month import Month
from tables.subscribers import Subscriber
from tests.factories import make_subscriber, make_tariff


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


async def test_worker_charges_once_a_day_and_does_the_housekeeping():
    old, new = await make_tariff(fee=1000), await make_tariff(fee=2000)
    s = await make_subscriber(tariff=old, connected_on=dt.date(2026, 6, 1))
    await grant_promised_payment(s.id, now=dt.datetime(2026, 12, 20, tzinfo=dt.UTC))
    await schedule_tariff_change(s.id, new.id, dt.date(2027, 1, 1), _actor(),
                                 now=dt.datetime(2026, 12, 20, tzinfo=dt.UTC))
    # 1 January 2027, 00:10 in Novokuznetsk.
    jan1 = dt.datetime(2026, 12, 31, 17, 10, tzinfo=dt.UTC)
    first = await tick(jan1)
    billing = {k: v for k, v in first.items() if not k.startswith("notifications_")}
    assert billing == {"promised_reversed": 1, "tariff_changes_applied": 1, "terminations_applied": 0,
                       "charged": 1, "runs": 1}
    assert (await Subscriber.objects().first()).tariff == new.id
    charge_entry = await LedgerEntry.objects().where(LedgerEntry.kind == EntryKind.CHARGE).first()
    assert charge_entry.period == "2027-01" and charge_entry.amount == -2000
    # Later the same day: nothing to do. Next day: a run that picks up new contracts only.
    assert (await tick(jan1 + dt.timedelta(hours=3)))["runs"] == 0
    await make_subscriber(fee=3100, connected_on=dt.date(2027, 1, 2))
    second = await tick(jan1 + dt.timedelta(days=1))
    assert second["runs"] == 1 and second["charged"] == 1
    assert await LedgerEntry.count().where(LedgerEntry.kind == EntryKind.CHARGE) == 2


def _actor():
    from tables.audit import Actor

    return Actor("clerk")
