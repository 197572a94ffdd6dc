"""``piccolo tables worker``: the Procfile's scheduler for billing (instead of cron lines).

Every ``interval`` seconds: reverse expired promised payments, apply due tariff
changes and due (scheduled) terminations, once a local day charge the current
month, then send due notifications and collect delivery reports.  The first run of a
month is the charge on the 1st; later daily runs only pick
up contracts that became billable since (connected mid-month), because a charged
contract is skipped.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

logger = logging.getLogger("centra.worker")

WORKER_NAME = "worker"


async def tick(now: dt.datetime | None = None) -> dict[str, int]:
    """One pass of the scheduler; returns what it did (for logs and tests)."""
    from tables.audit import Actor
    from tables.billing.charge_run import BillingRun, RunStatus, run_charges
    from tables.billing.promised import reverse_expired_promised_payments
    from tables.billing.tariff_changes import apply_due_tariff_changes
    from tables.calendar import LOCAL_TZ, local_date, utcnow
    from tables.month import Month
    from tables.notifications import deliver_notifications
    from tables.requests.termination import apply_due_terminations

    now = now or utcnow()
    done: dict[str, int] = {
        "promised_reversed": await reverse_expired_promised_payments(now=now),
        "tariff_changes_applied": await apply_due_tariff_changes(local_date(now), now=now),
        "terminations_applied": await apply_due_terminations(local_date(now), now=now),
        "charged": 0,
        "runs": 0,
    }
    period = Month.current(now)
    today = local_date(now)
    midnight = dt.datetime.combine(today, dt.time(), tzinfo=LOCAL_TZ)
    ran_today = await BillingRun.exists().where(
        (BillingRun.period == period.iso) & (BillingRun.status == RunStatus.DONE)
        & (BillingRun.started_at >= midnight)
    )
    if not ran_today:
        run = await run_charges(period, actor=Actor(WORKER_NAME), now=now)
        done["charged"], done["runs"] = run.contracts_charged, 1
    # Last, so the messages the passes above queued (suspensions, tariffs…) go out in this tick.
    delivered = await deliver_notifications(now=now)
    done.update({f"notifications_{name}": count for name, count in delivered.items()})
    return done


async def worker(interval: int = 600, once: bool = False) -> None:
    """Run the billing scheduler (Procfile ``worker:``); cron users run the commands instead.

    :param interval: seconds between passes.
    :param once: one pass and exit.
    """
    from piccolo.engine.postgres import PostgresEngine

    from db.engine import engine

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    db = engine()
    if isinstance(db, PostgresEngine):
        await db.start_connection_pool()
    try:
        while True:
            try:
                logger.info("billing pass: %s", await tick())
            except Exception:  # keep the scheduler alive; a failed run is recorded
                logger.exception("billing pass failed")
            if once:
                return
            await asyncio.sleep(interval)
    finally:
        if isinstance(db, PostgresEngine):
            await db.close_connection_pool()
