"""``piccolo tables send-notifications``: hand queued notifications to the sender."""

from __future__ import annotations

from tables.notifications import send_pending


async def send_notifications(limit: int = 100) -> None:
    """Send up to ``limit`` queued notifications (SMS, e-mail) through the configured sender.

    Idempotent and safe to run from cron on several machines at once: each row
    is claimed before it is sent.

    :param limit: how many to send in this run.
    """
    report = await send_pending(limit=limit)
    print(f"Sent: {report.sent}, to retry: {report.retried}, failed: {report.failed}.")
