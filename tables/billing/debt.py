"""When debt suspends a contract: the tolerated debt and the grace after connection."""

from __future__ import annotations

import datetime as dt

from settings import get_settings


def debt_threshold() -> int:
    """Kopecks of debt tolerated before suspension (``CENTRA_DEBT_THRESHOLD_KOPECKS``)."""
    return get_settings().debt_threshold_kopecks


def grace_until(today: dt.date) -> dt.date:
    """The latest connection date whose grace is over on ``today`` (local).

    A contract connected on day D is not suspended for debt before D +
    ``CENTRA_NEW_CONTRACT_GRACE_DAYS``: its first bill is booked at once (charged in
    advance) but must be payable before the service stops.
    """
    return today - dt.timedelta(days=get_settings().new_contract_grace_days)


# How long after its grace a contract is still looked at by the grace-end sweep: the daily run
# suspends it on the first day after the grace; the window only covers missed days.
GRACE_SWEEP_DAYS = 31
