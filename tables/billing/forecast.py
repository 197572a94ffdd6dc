"""How long the money lasts: the balance forecast beside the monthly fee (:mod:`tables.billing.fee`).

Forecast rule: charges are posted on the 1st of each month for that month. With balance
``B`` and monthly fee ``F`` the upcoming charges are paid while ``B`` stays >= 0: ``B // F``
of them. Funds last until the day before the 1st of the first month not covered.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from tables.month import Month

#: Forecasts stop counting after this many months (a huge balance is "years ahead").
FORECAST_HORIZON_MONTHS = 120


def round_up_rubles(kopecks: int) -> int:
    """Up to whole roubles: 10001 → 10100; never negative."""
    return max(0, -(-kopecks // 100) * 100)


@dataclass(frozen=True)
class Forecast:
    """How long the money lasts.

    ``months_covered`` upcoming charges are paid; ``paid_until`` is the last day the
    services are paid for (``None`` when the balance is already negative or nothing is
    charged); ``top_up`` is the suggested payment, in whole roubles, so that the next
    charge is covered (0 when it already is).
    """

    balance: int
    monthly_fee: int
    next_charge_on: dt.date
    months_covered: int | None
    first_unpaid: dt.date | None
    paid_until: dt.date | None
    top_up: int
    beyond_horizon: bool = False
    next_amount: int | None = None  # the next charge when a pause makes it differ from the fee

    @property
    def next_charge_amount(self) -> int:
        """What the next charge books: the monthly fee, or less in a month with a pause."""
        return self.monthly_fee if self.next_amount is None else self.next_amount

    @property
    def in_debt(self) -> bool:
        return self.balance < 0

    @property
    def covers_next_charge(self) -> bool:
        return self.top_up == 0

    @property
    def debt(self) -> int:
        """What must be paid at least to bring the balance back to zero."""
        return max(0, -self.balance)


def forecast(balance: int, monthly_fee: int, today: dt.date,
             upcoming: Mapping[Month, int] | None = None) -> Forecast:
    """Forecast the next charge and how long the balance lasts.

    :param upcoming: charges of coming months that differ from ``monthly_fee`` (a voluntary
        pause: ``tables.billing.pauses.pause_effect``).

    >>> forecast(160000, 75000, dt.date(2026, 11, 25)).paid_until
    datetime.date(2027, 1, 31)
    """
    if upcoming:
        return _forecast_with(balance, monthly_fee, today, dict(upcoming))
    next_month = Month.of(today).next
    next_charge = next_month.first_day
    top_up = round_up_rubles(monthly_fee - balance) if monthly_fee > 0 else round_up_rubles(-balance)
    if monthly_fee <= 0:
        return Forecast(balance, monthly_fee, next_charge, None, None, None, top_up)
    if balance < 0:
        return Forecast(balance, monthly_fee, next_charge, 0, None, None, top_up)
    covered = balance // monthly_fee
    beyond = covered > FORECAST_HORIZON_MONTHS
    first_unpaid = (next_month + min(covered, FORECAST_HORIZON_MONTHS)).first_day
    return Forecast(balance, monthly_fee, next_charge, covered, first_unpaid,
                    first_unpaid - dt.timedelta(days=1), top_up, beyond)


def _forecast_with(balance: int, monthly_fee: int, today: dt.date, upcoming: dict[Month, int]) -> Forecast:
    """:func:`forecast` when some coming months cost another amount (month by month through
    those, then whole fees)."""
    next_month = Month.of(today).next
    next_charge = next_month.first_day
    first = upcoming.get(next_month, monthly_fee)
    top_up = round_up_rubles(first - balance) if first > 0 else round_up_rubles(-balance)
    if monthly_fee <= 0 or balance < 0:
        plain = forecast(balance, monthly_fee, today)
        return Forecast(balance, monthly_fee, next_charge, plain.months_covered, plain.first_unpaid,
                        plain.paid_until, top_up, plain.beyond_horizon, first)
    left, month, covered = balance, next_month, 0
    while month in upcoming and left >= upcoming[month]:
        left -= upcoming[month]
        covered, month = covered + 1, month.next
    beyond = False
    if month not in upcoming:
        extra = left // monthly_fee
        beyond = covered + extra > FORECAST_HORIZON_MONTHS
        covered += extra
        month = month + min(extra, FORECAST_HORIZON_MONTHS)
    first_unpaid = month.first_day
    return Forecast(balance, monthly_fee, next_charge, covered, first_unpaid,
                    first_unpaid - dt.timedelta(days=1), top_up, beyond, first)
