"""``piccolo tables send-notifications``: hand queued notifications to the sender."""

from __future__ import annotations

import asyncio

from tables.notifications import deliver_notifications


async def send_notifications(limit: int = 100, every: int = 0) -> None:
    """Send due notifications (SMS, e-mail) through the configured sender and collect
    delivery reports.

    Idempotent and safe to run from cron on several machines at once: each row
    is claimed before it is sent, and never sent twice.

    :param limit: how many to send in one pass.
    :param every: repeat every this many seconds (0: one pass and exit).
    """
    while True:
        report = await deliver_notifications(limit=limit)
        if every <= 0 or any(report.values()):
            print(f"Sent: {report['sent']}, to retry: {report['retried']}, failed: {report['failed']}, "
                  f"maybe sent: {report['unknown']}, waiting for the morning: {report['deferred']}, "
                  f"delivery reports: {report['delivery_reports']}.", flush=True)
        if every <= 0:
            return
        await asyncio.sleep(every)
