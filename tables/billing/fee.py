"""What a contract pays a month: the one monthly-fee rule, and its proration in the charge run's SQL.

The rule (:func:`tariff_fee`, :func:`monthly_fee`): a month costs the tariff's fee plus the
router rent when the contract rents a router, at the tariff the next charge (the 1st of
next month, local) will follow — a booked tariff change effective by then counts, and so
does the router rent it books (``TariffChange.router_rented``: start or end it; empty: as is).  The
dashboard's advice and forecast, the top-up page's suggested amount, the promised payment
and the office card all read it from here; the charge run's SQL writes the same sum
(:func:`fee_sql`).

Proration (see ``docs/billing.md``): a contract pays for the days of the
month it was connected, from ``connected_on`` (or the 1st) to ``terminated_on``
(inclusive, or the last day), at the daily rate of the tariff in effect each
day.  The month's amount is ``Σ days × (monthly_fee + router_fee if rented) /
days_in_month``, rounded **once per contract and period to whole kopecks, half
up**, in integer arithmetic: ``(2 × num + days) // (2 × days)``.  A full month
therefore costs exactly the monthly fee.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from settings import get_settings
from tables.billing.sql import Sql
from tables.month import Month
from tables.subscribers import Subscriber
from tables.tariffs import Tariff


def tariff_fee(tariff: Tariff | Mapping[str, Any] | None, router_rented: bool) -> int:
    """A month at a tariff: its fee plus the router rent when the contract rents a router.

    >>> tariff_fee({"monthly_fee": 65000, "router_fee": 15000}, True)
    80000
    """
    if tariff is None:
        return 0
    get = tariff.get if isinstance(tariff, Mapping) else lambda key: getattr(tariff, key)
    return int(get("monthly_fee") or 0) + (int(get("router_fee") or 0) if router_rented else 0)


def fee_sql(tariff: str, subscriber: str, router: str | None = None) -> str:
    """:func:`tariff_fee` in SQL, for the charge run (``tariff`` and ``subscriber`` are aliases;
    ``router`` an expression for the router flag, by default the contract's)."""
    return (f"({tariff}.monthly_fee + CASE WHEN {router or f'{subscriber}.router_rented'} "
            f"THEN {tariff}.router_fee ELSE 0 END)")


def next_fee_sql(subscriber: str, tariff: str, on: str = ":charge_on") -> str:
    """:attr:`MonthlyFee.next` in SQL, for set-based passes over many contracts: the fee at the
    tariff of the latest booked change not yet switched to that is effective by ``on`` (the next
    charge's date), with the router rent it books (if it says), else at the contract's ``tariff``."""
    router = f"COALESCE(nc.router_rented, {subscriber}.router_rented)"
    return (f"COALESCE((SELECT {fee_sql('nt', subscriber, router)} FROM tariff_change nc"
            f" JOIN tariff nt ON nt.id = nc.tariff WHERE nc.subscriber = {subscriber}.id"
            f" AND nc.applied_at IS NULL AND nc.effective_from <= {on}"
            f" ORDER BY nc.effective_from DESC LIMIT 1), {fee_sql(tariff, subscriber)})")


@dataclass(frozen=True)
class MonthlyFee:
    """What a contract pays a month, now and at the next charge.

    ``next`` is the figure every page shows and suggests: the fee of a full month from
    ``next_charge_on`` on, at the tariff the charge run will follow then.
    """

    tariff: dict[str, Any] | None  # the contract's tariff now: id, name, monthly_fee, router_fee
    current: int  # kopecks a month at that tariff, router rent included
    next: int  # kopecks the next charge books for a full month
    next_charge_on: dt.date
    change: dict[str, Any] | None = None  # the booked change it follows: name, fee, from


# The contract's tariff and the latest booked change not yet switched to that takes effect
# by the next charge (if any), in one read: the dashboard asks on every view.
_FEE_SQL = (
    "SELECT t.id, t.name, t.monthly_fee, t.router_fee, c.effective_from AS next_from,"
    " c.router_rented AS next_router,"
    " n.id AS next_id, n.name AS next_name, n.monthly_fee AS next_monthly_fee,"
    " n.router_fee AS next_router_fee"
    " FROM tariff t LEFT JOIN tariff_change c ON c.id = ("
    "   SELECT x.id FROM tariff_change x WHERE x.subscriber = {} AND x.applied_at IS NULL"
    "   AND x.effective_from <= {} ORDER BY x.effective_from DESC LIMIT 1)"
    " LEFT JOIN tariff n ON n.id = c.tariff"
    " WHERE t.id = {}"
)


def _date(value: dt.date | str) -> dt.date:
    if isinstance(value, str):  # SQLite hands a joined date back as text
        return dt.date.fromisoformat(value[:10])
    return value


async def monthly_fee(subscriber: Subscriber, *, today: dt.date) -> MonthlyFee:
    """The monthly fee of a contract on ``today`` (local): the one rule, one query.

    >>> fee = await monthly_fee(subscriber, today=local_date(utcnow()))
    >>> fee.current, fee.next  # 650 ₽ + 150 ₽ router; a 750 ₽ tariff booked from the 1st
    (80000, 90000)
    """
    return await monthly_fee_for(subscriber.id, subscriber.tariff, bool(subscriber.router_rented),
                                 today=today, terminated_on=subscriber.terminated_on)


async def monthly_fee_for(subscriber_id: int, tariff_id: int | None, router_rented: bool, *,
                          today: dt.date, terminated_on: dt.date | str | None = None) -> MonthlyFee:
    """:func:`monthly_fee` for a contract read as a row (id, tariff id, router flag, end date).

    A contract that ends before the next charge has no next month to pay (``next`` is 0).
    """
    next_charge_on = Month.of(today).next.first_day
    rows = await Tariff.raw(_FEE_SQL, subscriber_id, next_charge_on, tariff_id) if tariff_id else []
    if not rows:
        return MonthlyFee(None, 0, 0, next_charge_on)
    row = rows[0]
    tariff = {key: row[key] for key in ("id", "name", "monthly_fee", "router_fee")}
    current = tariff_fee(tariff, router_rented)
    if terminated_on is not None and _date(terminated_on) < next_charge_on:
        return MonthlyFee(tariff, current, 0, next_charge_on)
    if row["next_id"] is None:
        return MonthlyFee(tariff, current, current, next_charge_on)
    # A change may also start or end the router rent (the cabinet's tariff change books both).
    next_router = router_rented if row["next_router"] is None else bool(row["next_router"])
    fee = tariff_fee({"monthly_fee": row["next_monthly_fee"], "router_fee": row["next_router_fee"]},
                     next_router)
    change = {"name": row["next_name"], "fee": fee, "from": _date(row["next_from"]),
              "router_rented": next_router}
    return MonthlyFee(tariff, current, fee, next_charge_on, change)


#: Pause rows the charge counts: a booked pause costs nothing until it starts (the run on the
#: 1st charges the month in full and the start books the credit), an ended one counts up to the
#: day it really ended (``ends_on`` is moved back by an early end).
PAUSE_COUNTED = "('active', 'ended')"


def _end_day(q: Sql, s: str) -> str:
    """The last billed day of the period for contract alias ``s`` (``terminated_on`` or the end)."""
    return (f"CASE WHEN {s}.terminated_on IS NULL OR {s}.terminated_on > :last THEN :days "
            f"ELSE {q.day(f'{s}.terminated_on')} END")


def _paused_days(q: Sql, s: str, from_day: str, to_day: str) -> str:
    """Paused days of contract alias ``s`` between the period's days ``from_day``..``to_day``
    (inclusive; SQL expressions), over its counted pauses: an indexed look-up per contract."""
    lo = q.greatest(f"CASE WHEN p.starts_on < :first THEN 1 ELSE {q.day('p.starts_on')} END", from_day)
    hi = q.least(f"CASE WHEN p.ends_on > :last THEN :days ELSE {q.day('p.ends_on')} END", to_day)
    # SUM is NUMERIC on PostgreSQL: cast back, or the charge's integer division turns decimal.
    return (f"COALESCE((SELECT CAST(SUM(CASE WHEN {hi} >= {lo} THEN {hi} - {lo} + 1 ELSE 0 END) AS BIGINT)"
            f" FROM pause p WHERE p.subscriber = {s}.id AND p.status IN {PAUSE_COUNTED}"
            f" AND p.starts_on <= :last AND p.ends_on >= :first AND p.ends_on >= p.starts_on), 0)")


def due_cte(q: Sql) -> str:
    """``WITH … due(id, charge, billed_days, paused_days)`` for subscribers ``:lo``..``:hi``.

    Parameters: ``:first``, ``:last``, ``:days`` (days in the month), ``:lo``, ``:hi``,
    ``:pause_fee`` (a paused month's fee).
    The start tariff is the ``from_tariff`` of the first change inside the period,
    else the tariff of the latest earlier change, else the contract's tariff; each
    change inside the period then moves the daily fee from its day to the end, except on
    paused days.  A paused day (a started pause, ``tables.billing.pauses``) costs the pause
    fee's daily rate instead of the tariff's; the month is still rounded once.
    """
    day = q.day
    end = _end_day(q, "s")
    start = f"CASE WHEN s.connected_on < :first THEN 1 ELSE {day('s.connected_on')} END"
    return f"""
WITH steps AS (
    SELECT s.id,
           -- SUM(bigint) is NUMERIC on PostgreSQL, so cast back for the integer division below
           CAST(SUM(({end} - {day('c.effective_from')} + 1
                     - {_paused_days(q, 's', day('c.effective_from'), end)})
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
           {start} AS d0,
           {end} AS d1,
           {_paused_days(q, 's', start, end)} AS paused,
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
    SELECT b.id, b.d1 - b.d0 + 1 AS billed_days, b.paused AS paused_days,
           (2 * ((b.d1 - b.d0 + 1 - b.paused) * {fee_sql('t', 'b')} + COALESCE(st.delta, 0)
                 + b.paused * :pause_fee) + :days)
               / (2 * :days) AS charge
    FROM billable b
    JOIN tariff t ON t.id = b.tariff
    LEFT JOIN steps st ON st.id = b.id
)"""


def period_params(period: Month) -> dict[str, Any]:
    return {"first": period.first_day, "last": period.last_day, "days": period.days,
            "pause_fee": get_settings().pause_fee_kopecks}


async def compute_charge(subscriber_id: int, period: Month | str) -> int:
    """What the charge run books (or booked) for one contract and period, in kopecks (≥ 0).

    The same SQL as the run, restricted to one id: for previews and recalculation.
    """
    period = Month.parse(period)
    q = Sql()
    rows = await q.run(due_cte(q) + "\nSELECT charge FROM due",
                       lo=subscriber_id, hi=subscriber_id, **period_params(period))
    return int(rows[0]["charge"]) if rows else 0
