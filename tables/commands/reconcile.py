"""``piccolo tables reconcile-payments``: settle open card payments by asking the provider."""

from __future__ import annotations


async def reconcile_payments() -> None:
    """Re-read every non-final card payment and pending refund from the provider and settle it.

    Run it from cron (every few minutes is fine): it is idempotent and credits
    through the same once-only path as the webhook.
    """
    from tables.payments.reconcile import reconcile

    report = await reconcile()
    print("\n".join(report.lines()))
