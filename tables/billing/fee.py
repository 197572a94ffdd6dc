"""What a contract owes for a month: proration of the tariff's fee (the charge run's SQL).

Proration (see ``docs/billing.md``): a contract pays for the days of the
month it was connected, from ``connected_on`` (or the 1st) to ``terminated_on``
(inclusive, or the last day), at the daily rate of the tariff in effect each
day.  The month's amount is ``Σ days × (monthly_fee + router_fee if rented) /
days_in_month``, rounded **once per contract and period to whole kopecks, half
up**, in integer arithmetic: ``(2 × num + days) // (2 × days)``.  A full month
therefore costs exactly the monthly fee.
"""

from __future__ import annotations

from typing import Any

from tables.billing.sql import Sql
from tables.month import Month


def fee_sql(tariff: str, subscriber: str) -> str:
    return (f"({tariff}.monthly_fee + CASE WHEN {subscriber}.router_rented "
            f"THEN {tariff}.router_fee ELSE 0 END)")


def due_cte(q: Sql) -> str:
    """``WITH … due(id, charge, billed_days)`` for subscribers ``:lo``..``:hi`` in a period.

    Parameters: ``:first``, ``:last``, ``:days`` (days in the month), ``:lo``, ``:hi``.
    The start tariff is the ``from_tariff`` of the first change inside the period,
    else the tariff of the latest earlier change, else the contract's tariff; each
    change inside the period then moves the daily fee from its day to the end.
    """
    day = q.day
    return f"""
WITH steps AS (
    SELECT s.id,
           -- SUM(bigint) is NUMERIC on PostgreSQL, so cast back for the integer division below
           CAST(SUM((CASE WHEN s.terminated_on IS NULL OR s.terminated_on > :last THEN :days
                          ELSE {day('s.terminated_on')} END
                     - {day('c.effective_from')} + 1)
                    * ({fee_sql('tn', 's')} - {fee_sql('tp', 's')})) AS BIGINT) AS delta
    FROM tariff_change c
    JOIN subscriber s ON s.id = c.subscriber
    JOIN tariff tn ON tn.id = c.tariff
    JOIN tariff tp ON tp.id = c.from_tariff
    WHERE c.subscriber BETWEEN :lo AND :hi
      AND c.effective_from > :first AND c.effective_from <= :last
      AND (s.terminated_on IS NULL OR s.terminated_on >= c.effective_from)
    GROUP BY s.id
),
billable AS (
    SELECT s.id, s.router_rented,
           CASE WHEN s.connected_on < :first THEN 1 ELSE {day('s.connected_on')} END AS d0,
           CASE WHEN s.terminated_on IS NULL OR s.terminated_on > :last THEN :days
                ELSE {day('s.terminated_on')} END AS d1,
           COALESCE((SELECT c.from_tariff FROM tariff_change c
                     WHERE c.subscriber = s.id AND c.effective_from > :first
                     ORDER BY c.effective_from LIMIT 1),
                    (SELECT c.tariff FROM tariff_change c
                     WHERE c.subscriber = s.id AND c.effective_from <= :first
                     ORDER BY c.effective_from DESC LIMIT 1),
                    s.tariff) AS tariff
    FROM subscriber s
    WHERE s.id BETWEEN :lo AND :hi
      AND s.connected_on <= :last
      AND (s.terminated_on IS NULL OR s.terminated_on >= :first)
      AND (s.status <> 'terminated' OR s.terminated_on IS NOT NULL)
),
due AS (
    SELECT b.id, b.d1 - b.d0 + 1 AS billed_days,
           (2 * ((b.d1 - b.d0 + 1) * {fee_sql('t', 'b')} + COALESCE(st.delta, 0)) + :days)
               / (2 * :days) AS charge
    FROM billable b
    JOIN tariff t ON t.id = b.tariff
    LEFT JOIN steps st ON st.id = b.id
)"""


def period_params(period: Month) -> dict[str, Any]:
    return {"first": period.first_day, "last": period.last_day, "days": period.days}


async def compute_charge(subscriber_id: int, period: Month | str) -> int:
    """What the charge run books (or booked) for one contract and period, in kopecks (≥ 0).

    The same SQL as the run, restricted to one id: for previews and recalculation.
    """
    period = Month.parse(period)
    q = Sql()
    rows = await q.run(due_cte(q) + "\nSELECT charge FROM due",
                       lo=subscriber_id, hi=subscriber_id, **period_params(period))
    return int(rows[0]["charge"]) if rows else 0
