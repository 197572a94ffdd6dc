"""The monthly charge run: set-based, once per contract and period, with debt suspension.

The charge run is set-based: one ``INSERT … SELECT … ON CONFLICT (reference) DO
NOTHING`` per chunk of subscriber ids plus one ``UPDATE`` of cached balances
from the rows actually inserted, then one ``UPDATE`` for suspensions, all in one
write transaction.  The reference ``charge:<subscriber>:<YYYY-MM>`` is unique,
so a second (or concurrent) run for the same period books nothing.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from piccolo.apps.user.tables import BaseUser
from piccolo.columns import (
    BigInt,
    ForeignKey,
    Integer,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from db.engine import engine, write_transaction
from settings import get_settings
from tables import messages
from tables.audit import Actor, write_audit
from tables.billing.debt import GRACE_SWEEP_DAYS, debt_threshold, grace_until
from tables.billing.fee import due_cte, period_params
from tables.billing.pauses import apply_due_pauses
from tables.billing.sql import Sql, lock_billing
from tables.billing.tariff_changes import apply_due_tariff_changes
from tables.billing.texts import TEXTS
from tables.calendar import local_date, utcnow
from tables.choices import choices
from tables.money import kopecks
from tables.month import WORKING_YEARS, Month
from tables.subscribers import Subscriber, SubscriberStatus

CHUNK_SIZE = 20_000  # subscriber ids per INSERT … SELECT: progress steps, bounded statement size


class RunStatus(enum.StrEnum):
    DONE = "done"
    FAILED = "failed"


RUN_STATUS_LABELS = {"done": "Выполнено", "failed": "Ошибка"}


class BillingRun(Table, help_text="Запуски начисления абонентской платы: кто, когда, сколько"):
    period = Varchar(length=7, index=True, help_text="Расчётный период (ГГГГ-ММ)")
    status = Varchar(length=10, choices=choices(RunStatus, RUN_STATUS_LABELS), default="done",
                     help_text="Результат")
    started_at = Timestamptz(help_text="Начало")
    finished_at = Timestamptz(help_text="Окончание")
    contracts_charged = Integer(default=0, help_text="Начислено договоров в этом запуске")
    total = kopecks(BigInt(default=0, help_text="Начислено всего, ₽"))
    contracts_suspended = Integer(default=0, help_text="Приостановлено за долг")
    tariff_changes_applied = Integer(default=0, help_text="Применено смен тарифа")
    started_by = Varchar(length=150, help_text="Кто запустил")
    staff = ForeignKey(BaseUser, null=True, default=None, on_delete=OnDelete.set_null,
                       help_text="Сотрудник")
    error = Text(default="", help_text="Ошибка (если запуск не удался)")


_ENTRY_SELECT = """
    SELECT id, -charge, 'charge', :period, 'charge:' || CAST(id AS TEXT) || ':' || :period,
           CASE WHEN paused_days > 0
                THEN :comment || :pause_open || CAST(paused_days AS TEXT) || :days_of
                     || CAST(:days AS TEXT) || :days_close
                WHEN billed_days < :days
                THEN :comment || :days_open || CAST(billed_days AS TEXT) || :days_of
                     || CAST(:days AS TEXT) || :days_close
                ELSE :comment END,
           :now, :by
    FROM due WHERE charge > 0"""


_ENTRY_COLUMNS = "ledger_entry (subscriber, amount, kind, period, reference, comment, created_at, created_by)"


_AUDIT_COLUMNS = ("audit_entry (actor, actor_name, action, object_type, object_id, object_repr, "
                  "message, before, after, created_at)")


async def _charge_chunk(q: Sql, params: dict[str, Any]) -> tuple[int, int, int]:
    """Book the chunk's charges and suspend the contracts they leave in debt.

    Only rows this statement actually inserted move balances; an active contract whose
    balance falls below ``:limit`` with its charge is suspended in the same ``UPDATE``
    (evaluated on the current row, so a payment that commits meanwhile is respected)
    and gets an audit entry.  :returns: (entries inserted, kopecks charged, suspended).
    """
    suspend = ("CASE WHEN subscriber.status = 'active' AND subscriber.balance + {n}.amount < :limit "
               "AND subscriber.connected_on <= :grace_until "
               "THEN 'suspended' ELSE subscriber.status END")
    if q.pg:
        rows = await q.run(
            due_cte(q) + f""",
ins AS (
    INSERT INTO {_ENTRY_COLUMNS}{_ENTRY_SELECT}
    ON CONFLICT (reference) DO NOTHING
    RETURNING subscriber, amount
),
upd AS (
    UPDATE subscriber SET balance = subscriber.balance + ins.amount, status = {suspend.format(n="ins")}
    FROM ins JOIN subscriber AS old ON old.id = ins.subscriber
    WHERE subscriber.id = ins.subscriber
    RETURNING subscriber.id, subscriber.contract_number, subscriber.balance, subscriber.status,
              old.status AS old_status, old.balance AS old_balance
),
suspended AS (
    INSERT INTO {_AUDIT_COLUMNS}
    SELECT :actor_id, :actor_name, 'subscriber.suspended', 'subscriber', CAST(id AS TEXT),
           contract_number, :message, json_build_object('status', old_status, 'balance', old_balance),
           json_build_object('status', status, 'balance', balance), :now
    FROM upd WHERE status = 'suspended' AND old_status = 'active'
    RETURNING 1
)
SELECT (SELECT COUNT(*) FROM ins) AS n, (SELECT COALESCE(SUM(-amount), 0) FROM ins) AS total,
       (SELECT COUNT(*) FROM suspended) AS suspended""",
            **params,
        )
        return int(rows[0]["n"]), int(rows[0]["total"]), int(rows[0]["suspended"])
    # SQLite has no data-modifying CTEs; inside BEGIN IMMEDIATE nobody else writes,
    # so the rows this statement inserted are exactly those above the previous max id.
    before = await q.run("SELECT COALESCE(MAX(id), 0) AS m FROM ledger_entry")
    params = {**params, "after_id": int(before[0]["m"])}
    await q.run(
        due_cte(q) + f"\nINSERT INTO {_ENTRY_COLUMNS}{_ENTRY_SELECT}\n"
        "ON CONFLICT (reference) DO NOTHING",
        **params,
    )
    new = "(SELECT subscriber, amount FROM ledger_entry WHERE id > :after_id) AS n"
    suspended = await q.run(
        f"INSERT INTO {_AUDIT_COLUMNS} "
        "SELECT :actor_id, :actor_name, 'subscriber.suspended', 'subscriber', CAST(s.id AS TEXT), "
        "s.contract_number, :message, json_object('status', s.status, 'balance', s.balance), "
        "json_object('status', 'suspended', 'balance', s.balance + n.amount), :now "
        # CROSS JOIN keeps the few new rows in the outer loop (SQLite would rather scan
        # the active subscribers and probe the ledger for each).
        f"FROM {new} CROSS JOIN subscriber s "
        "WHERE s.id = n.subscriber AND s.status = 'active' AND s.balance + n.amount < :limit "
        "AND s.connected_on <= :grace_until RETURNING id",
        **params,
    )
    await q.run(
        f"UPDATE subscriber SET balance = subscriber.balance + n.amount, status = {suspend.format(n='n')} "
        f"FROM {new} WHERE subscriber.id = n.subscriber",
        **params,
    )
    rows = await q.run(
        "SELECT COUNT(*) AS n, COALESCE(SUM(-amount), 0) AS total FROM ledger_entry "
        "WHERE id > :after_id", **params,
    )
    return int(rows[0]["n"]), int(rows[0]["total"]), len(suspended)


ProgressCallback = Callable[[int, int], Any]


def _finished(started: dt.datetime, clock: float) -> dt.datetime:
    return started + dt.timedelta(seconds=time.monotonic() - clock)


def parse_period(text: str | Month) -> Month:
    """A billing month typed by staff (``2026-12``, ``12.2026``, ``декабрь 2026``), 2000–2100.

    :raises ValueError: with the billing's Russian message.
    """
    return Month.parse(text, message=TEXTS["period_format"], years=WORKING_YEARS)


def check_chargeable(period: Month | str, now: dt.datetime | None = None) -> Month:
    """Refuse a period after the current local month (charging January on 7 December
    would bill everyone, suspend debtors and switch booked tariffs weeks early).

    :raises ValueError: with a Russian message for a malformed or future period.
    """
    period = parse_period(period)
    current = Month.current(now)
    if period > current:
        raise ValueError(TEXTS["period_future"].format(period=period, current=current))
    return period


@dataclass(frozen=True)
class ChargePreview:
    """What :func:`run_charges` would do for a period now; nothing is written."""

    period: Month
    contracts: int  # contracts that would get a charge
    total: int  # kopecks
    suspensions: int  # active contracts the charge would take below the debt limit
    tariff_changes: int  # booked changes the run would switch on
    already_charged: int  # contracts charged for the period before (skipped)


async def preview_charges(period: Month | str | None = None, *,
                          now: dt.datetime | None = None) -> ChargePreview:
    """Preview a charge run with the run's own SQL, read-only (for the clerk to confirm).

    >>> p = await preview_charges("2026-12")
    >>> p.contracts, p.total, p.suspensions, p.tariff_changes
    """
    now = now or utcnow()
    period = check_chargeable(Month.current(now) if period is None else period, now)
    q = Sql()
    bounds = await q.run("SELECT MIN(id) AS lo, MAX(id) AS hi FROM subscriber")
    lo, hi = bounds[0]["lo"], bounds[0]["hi"]
    contracts = total = suspensions = charged_before = 0
    if lo is not None:
        rows = await q.run(
            due_cte(q) + """
SELECT COUNT(*) AS n, COALESCE(SUM(d.charge), 0) AS total,
       COALESCE(SUM(CASE WHEN s.status = 'active' AND s.balance - d.charge < :limit
                         THEN 1 ELSE 0 END), 0) AS suspended
FROM due d JOIN subscriber s ON s.id = d.id
WHERE d.charge > 0 AND NOT EXISTS (
    SELECT 1 FROM ledger_entry e WHERE e.reference = 'charge:' || CAST(d.id AS TEXT) || ':' || :period)""",
            lo=lo, hi=hi, period=period.iso, limit=-debt_threshold(), **period_params(period))
        contracts, total, suspensions = (int(rows[0]["n"]), int(rows[0]["total"]),
                                         int(rows[0]["suspended"]))
        done = await q.run("SELECT COUNT(*) AS n FROM ledger_entry WHERE kind = 'charge' "
                           "AND period = :period AND reference LIKE 'charge:%'", period=period.iso)
        charged_before = int(done[0]["n"])
    changes = await q.run("SELECT COUNT(*) AS n FROM tariff_change "
                          "WHERE effective_from <= :on AND applied_at IS NULL", on=period.first_day)
    return ChargePreview(period=period, contracts=contracts, total=total, suspensions=suspensions,
                         tariff_changes=int(changes[0]["n"]), already_charged=charged_before)


async def run_charges(
    period: Month | str | None = None,
    *,
    actor: Actor,
    now: dt.datetime | None = None,
    progress: ProgressCallback | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> BillingRun:
    """Charge the monthly fee for ``period`` to every billable contract, once.

    Billable: connected on or before the period's last day and not terminated before
    its first (suspended contracts owe and are charged).  Safe to re-run and to run
    concurrently: a contract already charged for the period is skipped, so a later run
    only picks up contracts that became billable since (e.g. connected mid-month).
    An active contract whose balance falls below ``-CENTRA_DEBT_THRESHOLD_KOPECKS``
    with this charge is suspended (and audited) in the same statement — unless it was
    connected less than ``CENTRA_NEW_CONTRACT_GRACE_DAYS`` ago; a later run suspends
    it when that grace is over and the debt still there.  The run is
    recorded in :class:`BillingRun` (a failed one too) and audited.

    :param period: ``"YYYY-MM"``; the current (local) month when omitted; a later month
        is refused (:func:`check_chargeable`).
    :param now: the clock (injected in tests); entries and the run record carry it.
    :param progress: called with (subscriber ids done, ids total) after each chunk.

    >>> run = await run_charges("2026-12", actor=Actor("admin", staff_id=1))
    >>> run.contracts_charged, run.total, run.contracts_suspended
    """
    started = now or utcnow()
    clock = time.monotonic()
    now = started
    period = check_chargeable(Month.current(now) if period is None else period, now)
    q = Sql()
    try:
        async with write_transaction():
            await lock_billing(q)
            applied = await apply_due_tariff_changes(period.first_day, now=now)
            # Pauses due by today start first, so the month's charge already leaves their days out.
            await apply_due_pauses(local_date(now), now=now, actor=actor)
            bounds = await q.run("SELECT MIN(id) AS lo, MAX(id) AS hi FROM subscriber")
            audit_before = (await q.run("SELECT COALESCE(MAX(id), 0) AS m FROM audit_entry"))[0]["m"]
            lo, hi = bounds[0]["lo"], bounds[0]["hi"]
            charged = total = suspended = 0
            if lo is not None:
                span = hi - lo + 1
                base = {**period_params(period), "period": period.iso, "now": now,
                        "by": actor.name[:150], "limit": -debt_threshold(),
                        "grace_until": grace_until(local_date(now)),
                        "actor_id": actor.staff_id, "actor_name": actor.name[:150],
                        "message": TEXTS["suspended_message"].format(period=period.iso),
                        "comment": TEXTS["charge_comment"].format(month=period.title),
                        "days_open": TEXTS["charge_days_open"], "days_of": TEXTS["charge_days_of"],
                        "days_close": TEXTS["charge_days_close"],
                        "pause_open": TEXTS["charge_pause_open"]}
                for start in range(lo, hi + 1, chunk_size):
                    end = min(start + chunk_size - 1, hi)
                    n, kopecks, debtors = await _charge_chunk(q, {**base, "lo": start, "hi": end})
                    charged, total, suspended = charged + n, total + kopecks, suspended + debtors
                    if progress is not None:
                        progress(end - lo + 1, span)
                suspended += await _suspend_after_grace(q, now=now, actor=actor)
                await _tell_suspended(q, after_audit_id=int(audit_before))
            run = BillingRun(period=period.iso, status=RunStatus.DONE, started_at=started,
                             finished_at=_finished(started, clock), contracts_charged=charged, total=total,
                             contracts_suspended=suspended, tariff_changes_applied=applied,
                             started_by=actor.name[:150], staff=actor.staff_id)
            await run.save()
            await write_audit(action="billing.charged", object_type="billing_run",
                              object_id=run.id, object_repr=period.iso, actor=actor,
                              after={"period": period.iso, "charged": charged, "total": total,
                                     "suspended": suspended, "tariff_changes": applied})
        return run
    except Exception as exc:
        if engine().current_transaction.get() is None:  # not inside a caller's transaction
            await BillingRun(period=period.iso, status=RunStatus.FAILED, started_at=started,
                             finished_at=_finished(started, clock), started_by=actor.name[:150],
                             staff=actor.staff_id, error=repr(exc)[:2000]).save()
        raise


async def _tell_suspended(q: Sql, *, after_audit_id: int) -> None:
    """Queue the message of every suspension this run made (its audit entries are the record;
    the charge itself is set-based). In the run's transaction."""
    # The balance is the one the audit entry recorded: a join to subscriber on CAST(s.id AS TEXT)
    # could use no index, and SQLite scanned the contracts per entry (15.7 s of a 21 s run at
    # 25,000 contracts, bench/billing.py); the audit rows alone are a primary-key range.
    rows = await q.run(
        "SELECT id, object_id, after FROM audit_entry "
        "WHERE id > :after AND action = 'subscriber.suspended' AND object_type = 'subscriber' "
        "ORDER BY id", after=after_audit_id)
    await messages.suspended_many([(int(row["object_id"]), int(_json(row["after"])["balance"]), row["id"])
                                   for row in rows])


def _json(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str | bytes) else value


async def _suspend_after_grace(q: Sql, *, now: dt.datetime, actor: Actor) -> int:
    """Suspend the new contracts still in debt whose grace after connection has just ended.

    Their charges were booked during the grace without suspending them; nothing else would
    look at them again before next month's charge. In the caller's transaction.
    """
    days = get_settings().new_contract_grace_days
    if days <= 0:
        return 0
    until = grace_until(local_date(now))
    rows = await q.run(
        "SELECT id, contract_number, balance FROM subscriber WHERE status = 'active' "
        "AND balance < :limit AND connected_on <= :until AND connected_on > :since",
        limit=-debt_threshold(), until=until, since=until - dt.timedelta(days=GRACE_SWEEP_DAYS),
    )
    suspended = 0
    for row in rows:
        done = await Subscriber.update({Subscriber.status: SubscriberStatus.SUSPENDED}).where(
            (Subscriber.id == row["id"]) & (Subscriber.status == SubscriberStatus.ACTIVE)
        ).returning(Subscriber.id)
        if done:
            suspended += 1
            await write_audit(action="subscriber.suspended", object_type="subscriber",
                              object_id=row["id"], object_repr=row["contract_number"], actor=actor,
                              message=TEXTS["suspended_after_grace"].format(days=days),
                              before={"status": "active", "balance": row["balance"]},
                              after={"status": "suspended", "balance": row["balance"]})
    return suspended
