"""Everything periodic, on the job engine, in Novokuznetsk time.

| task | when (local) | queue / lock |
|---|---|---|
| ``billing.apply_tariff_changes`` | 00:01 daily | billing / lock ``billing`` |
| ``billing.apply_terminations`` | 00:02 daily | billing / lock ``billing`` |
| ``billing.apply_pauses`` | 00:03 daily | billing / lock ``billing`` |
| ``billing.charge`` | 00:05 on the 1st (month), 00:05 other days (new contracts) | billing / ``billing`` |
| ``billing.reverse_promised`` | every 10 minutes | billing / lock ``billing`` |
| ``payments.reconcile`` | every 5 minutes | payments |
| ``messages.send`` | every 15 seconds | messages |
| ``messages.remind`` | 10:00 daily | messages |
| ``messages.maintenance`` | every 10 minutes | messages |
| ``receipts.send`` | every 30 seconds | receipts |
| ``payments.autopay`` | 09:30 daily | payments |
| ``network.coa`` | every 5 seconds | network |
| ``jobs.remove_old_jobs`` | 03:30 daily | housekeeping |

The billing tasks share a lock: they run one at a time, in the order of their ticks (the
tariff switch, the terminations and the pauses before the month's charge). Each tick is deferred once
however many workers run (procrastinate's unique periodic defer); a tick still queued keeps
the next one of the frequent tasks out (``queueing_lock``), so a stopped worker does not come
back to a pile of reconciliations. Every task calls one idempotent domain function: a retry
(``RETRY``) or a second run of a tick changes nothing that the first one did.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from jobs.engine import RETRY, app, local_periodic

logger = logging.getLogger("centra.jobs")

#: One outbox pass (``messages.send``, every 15 s): at most this many messages or seconds.
SEND_PASS_LIMIT = 10_000
SEND_PASS_SECONDS = 14.0

#: The actor of what the scheduler does, in the audit log and on billing runs.
WORKER_NAME = "worker"


def tick_time(timestamp: int) -> dt.datetime:
    """The moment a periodic tick was due (UTC): the billing tasks work as of their tick, so a
    retry an hour later still charges the month and the day it was scheduled for."""
    return dt.datetime.fromtimestamp(timestamp, dt.UTC)


@local_periodic("1 0 * * *", "daily")
@app.task(name="billing.apply_tariff_changes", queue="billing", lock="billing", retry=RETRY)
async def apply_tariff_changes(timestamp: int) -> int:
    """Switch the tariffs booked for this local day (or earlier)."""
    from tables.billing.tariff_changes import apply_due_tariff_changes
    from tables.calendar import local_date

    now = tick_time(timestamp)
    return await apply_due_tariff_changes(local_date(now), now=now)


@local_periodic("2 0 * * *", "daily")
@app.task(name="billing.apply_terminations", queue="billing", lock="billing", retry=RETRY)
async def apply_terminations(timestamp: int) -> int:
    """Terminate the contracts whose scheduled termination date has come."""
    from tables.calendar import local_date
    from tables.requests.termination import apply_due_terminations

    now = tick_time(timestamp)
    return await apply_due_terminations(local_date(now), now=now)


@local_periodic("3 0 * * *", "daily")
@app.task(name="billing.apply_pauses", queue="billing", lock="billing", retry=RETRY)
async def apply_pauses(timestamp: int) -> dict[str, int]:
    """Start the voluntary pauses booked from this local day and end those whose last day has
    passed (each pause claimed once: a retry changes nothing more)."""
    from tables.audit import Actor
    from tables.billing.pauses import apply_due_pauses
    from tables.calendar import local_date

    now = tick_time(timestamp)
    return await apply_due_pauses(local_date(now), now=now, actor=Actor(WORKER_NAME))


@local_periodic("5 0 1 * *", "month-start")
@local_periodic("5 0 2-31 * *", "daily")
@app.task(name="billing.charge", queue="billing", lock="billing", retry=RETRY)
async def charge(timestamp: int) -> dict[str, Any]:
    """Charge the month of the tick: on the 1st every billable contract, later only contracts
    that became billable since (a charged contract is skipped by the charge run itself)."""
    from tables.audit import Actor
    from tables.billing.charge_run import run_charges
    from tables.month import Month

    now = tick_time(timestamp)
    period = Month.current(now)
    run = await run_charges(period, actor=Actor(WORKER_NAME), now=now)
    return {"period": period.iso, "charged": run.contracts_charged}


@local_periodic("*/10 * * * *", "every-10-min")
@app.task(name="billing.reverse_promised", queue="billing", lock="billing",
          queueing_lock="billing.reverse_promised", retry=RETRY)
async def reverse_promised(timestamp: int) -> int:
    """Book the reversal of every promised payment whose time is over."""
    from tables.billing.promised import reverse_expired_promised_payments

    return await reverse_expired_promised_payments(now=tick_time(timestamp))


@local_periodic("*/5 * * * *", "every-5-min")
@app.task(name="payments.reconcile", queue="payments", queueing_lock="payments.reconcile", retry=RETRY)
async def reconcile(timestamp: int) -> dict[str, Any]:
    """Settle open card payments and pending refunds by asking the provider."""
    from tables.payments.reconcile import reconcile as reconcile_payments

    report = await reconcile_payments()
    for mismatch in report.mismatches:
        logger.error("reconciliation: %s", mismatch)
    return {"checked": report.checked, "succeeded": report.succeeded, "failed": report.failed,
            "mismatches": len(report.mismatches)}


@local_periodic("* * * * * */15", "every-15-s")
@app.task(name="messages.send", queue="messages", queueing_lock="messages.send", retry=RETRY)
async def send_messages(timestamp: int) -> dict[str, int]:
    """Send the outbox's due notifications (SMS, e-mail) and collect delivery reports."""
    from tables.notifications import deliver_notifications

    # A pass goes on while there is work (the gateways' rates pace it) until the next tick is
    # due, so a broadcast drains at the gateways' rate, not at one batch per tick.
    return await deliver_notifications(limit=SEND_PASS_LIMIT, budget=SEND_PASS_SECONDS)


@local_periodic("* * * * * */5", "every-5-s")
@app.task(name="network.coa", queue="network", queueing_lock="network.coa", lock="network.coa",
          retry=RETRY)
async def send_coa(timestamp: int) -> dict[str, int]:
    """Send the NAS commands due (Disconnect-Request when a payment lifts a suspension,
    docs/network.md): the subscriber's speed comes back within seconds, not at the next login."""
    from tables.coa import deliver_coa

    return await deliver_coa()


@local_periodic("0 10 * * *", "daily")
@app.task(name="messages.remind", queue="messages", retry=RETRY)
async def remind(timestamp: int) -> dict[str, int]:
    """Queue the day's reminders: a balance that will not cover the coming charge (the last
    ``CENTRA_BALANCE_REMINDER_DAYS`` days of the month, once per period) and promised payments
    ending tomorrow. At 10:00, outside the quiet hours; each reminder is keyed, so a retry or a
    second run of the tick queues nothing more."""
    from tables.billing.reminders import remind_low_balances, remind_promised_ending

    now = tick_time(timestamp)
    return {"low_balance": await remind_low_balances(now=now),
            "promised_ending": await remind_promised_ending(now=now)}


@local_periodic("*/10 * * * *", "every-10-min")
@app.task(name="messages.maintenance", queue="messages", queueing_lock="messages.maintenance",
          retry=RETRY)
async def maintenance(timestamp: int) -> dict[str, int]:
    """Tell the subscribers of the affected addresses about published maintenance works (and
    again the evening before); each message keyed by notice and contract."""
    from tables.maintenance_notices import notify_maintenance

    return await notify_maintenance(now=tick_time(timestamp))


@local_periodic("* * * * * */30", "every-30-s")
@app.task(name="receipts.send", queue="receipts", queueing_lock="receipts.send", retry=RETRY)
async def send_receipts(timestamp: int) -> dict[str, int]:
    """Send due fiscal receipts to the online cash register and collect their fiscal data
    (nothing without the register's settings)."""
    from tables.payments.receipts import fiscalize_receipts

    return await fiscalize_receipts()


@local_periodic("30 9 * * *", "daily")
@app.task(name="payments.autopay", queue="payments", queueing_lock="payments.autopay", retry=RETRY)
async def autopay(timestamp: int) -> dict[str, int]:
    """Charge the saved cards of contracts whose chosen day before the 1st has come (once per
    contract, month and attempt; after the quiet hours, so a failure's message goes at once)."""
    from tables.payments.autopay import run_autopay

    return await run_autopay(now=tick_time(timestamp))


#: Finished jobs stay this long in the queue's tables, then are removed: succeeded ones two days
#: (the outbox alone makes 5,760 a day), failed ones two weeks.
KEEP_SUCCEEDED_HOURS = 48
KEEP_FAILED_HOURS = 24 * 14


@local_periodic("30 3 * * *", "daily")
@app.task(name="jobs.remove_old_jobs", queue="housekeeping", retry=RETRY)
async def remove_old_jobs(timestamp: int) -> None:
    """Delete old finished jobs from the queue's tables."""
    await app.job_manager.delete_old_jobs(nb_hours=KEEP_SUCCEEDED_HOURS)
    await app.job_manager.delete_old_jobs(nb_hours=KEEP_FAILED_HOURS, include_failed=True,
                                          include_cancelled=True, include_aborted=True)
