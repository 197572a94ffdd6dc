"""Reminders the worker queues before money runs out: a balance that will not cover the
coming charge, and a promised payment that ends tomorrow. Each once (keyed by contract and
period, or by the promised payment); a pass finds only those not yet told."""

from __future__ import annotations

import datetime as dt

from settings import get_settings
from tables import messages
from tables.billing.fee import next_fee_sql
from tables.billing.promised import PromisedPayment
from tables.billing.sql import Sql
from tables.calendar import LOCAL_TZ, local_date, utcnow
from tables.month import Month


async def remind_low_balances(*, now: dt.datetime | None = None) -> int:
    """``CENTRA_BALANCE_REMINDER_DAYS`` days before the 1st, tell every active contract whose
    balance is below next month's fee (:func:`tables.billing.fee.next_fee_sql`: a tariff change
    booked by the 1st counts), once per period. :returns: how many were queued."""
    now = now or utcnow()
    today = local_date(now)
    period = Month.of(today).next
    charge_on = period.first_day
    if (charge_on - today).days > get_settings().balance_reminder_days:
        return 0
    q = Sql()
    rows = await q.run(
        f"SELECT s.id, s.balance, {next_fee_sql('s', 't')} AS fee FROM subscriber s "
        "JOIN tariff t ON t.id = s.tariff "
        "LEFT JOIN notification n ON n.event_key = 'low_balance:' || CAST(s.id AS TEXT) || :suffix "
        "WHERE s.status = 'active' AND (s.terminated_on IS NULL OR s.terminated_on > :charge_on) "
        f"AND s.balance < {next_fee_sql('s', 't')} AND n.id IS NULL ORDER BY s.id",
        suffix=f":{period.iso}", charge_on=charge_on)
    queued = 0
    for row in rows:
        queued += await messages.low_balance(row["id"], fee=int(row["fee"]), balance=int(row["balance"]),
                                             charge_on=charge_on, period=period.iso)
    return queued


async def remind_promised_ending(*, now: dt.datetime | None = None) -> int:
    """Tell the holders of promised payments that end tomorrow (local day). :returns: queued."""
    now = now or utcnow()
    tomorrow = local_date(now) + dt.timedelta(days=1)
    start = dt.datetime.combine(tomorrow, dt.time(), tzinfo=LOCAL_TZ)
    rows = await PromisedPayment.select(
        PromisedPayment.id, PromisedPayment.subscriber, PromisedPayment.amount
    ).where(PromisedPayment.reversed_at.is_null() & (PromisedPayment.expires_at >= start)
            & (PromisedPayment.expires_at < start + dt.timedelta(days=1)))
    queued = 0
    for row in rows:
        queued += await messages.promised_ending(row["subscriber"], row["id"], row["amount"])
    return queued
