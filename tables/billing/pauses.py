"""Voluntary pause (добровольная блокировка): a subscriber stops the service for a while.

The rules (issue 29, item 3; settings ``CENTRA_PAUSE_*``):

- from a chosen day (tomorrow at the earliest, at most a year ahead) for ``pause_min_days`` to
  ``pause_max_days`` days (7–90), at most ``pause_days_per_year`` paused days per calendar
  year (90; a pause across New Year counts its days in each year);
- only without debt (balance ≥ 0 and not suspended): a pause is not a way out of a debt, and a
  paused contract is never "suspended for debt" while paused;
- one pause at a time (booked or running); a booked one can be cancelled, a running one ended
  early (from the cabinet or by staff: the day of the end is no longer paused);
- no subscription fee for paused days, ``pause_fee_kopecks`` a month instead (prorated by
  paused days, 0: free). The charge run's SQL does the proration (``tables.billing.fee``:
  ``due_cte`` counts pauses that started); the months already charged in advance are corrected
  when the pause starts (credit) and when it ends early (debit), each once per pause, event and
  month (reference ``pause:<id>:<start|end>:<YYYY-MM>``): the correction is the run's own amount
  for the month computed before and after the change, in the same transaction.

Days are local (Asia/Novokuznetsk): a pause starts at the local midnight of ``starts_on`` and
ends at the midnight after ``ends_on``. The start and the planned end happen in the daily job
(``billing.apply_pauses``, 00:03, and at the start of every charge run), idempotently.
While paused, ``Subscriber.status`` is ``paused``: RADIUS answers with the walled garden (the
cabinet stays reachable to end the pause), the CoA outbox cuts full-speed sessions
(``tables.coa.queue_cut_offs``) and, at the end, the restricted ones (``queue_disconnects``).
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from piccolo.columns import Date, ForeignKey, OnDelete, Timestamptz, Varchar
from piccolo.table import Table

from db.engine import write_transaction
from settings import get_settings
from tables import messages
from tables.audit import Actor, write_audit
from tables.billing.debt import debt_threshold
from tables.billing.fee import compute_charge
from tables.billing.sql import Sql, lock_billing, lock_subscriber
from tables.billing.texts import TEXTS
from tables.calendar import local_date, utcnow
from tables.choices import choices
from tables.coa import queue_disconnects
from tables.ledger import EntryKind, LedgerEntry, post_entry
from tables.money import format_plain
from tables.month import Month
from tables.subscribers import Subscriber, SubscriberStatus


class PauseStatus(enum.StrEnum):
    BOOKED = "booked"
    ACTIVE = "active"
    ENDED = "ended"
    CANCELLED = "cancelled"


PAUSE_STATUS_LABELS = {"booked": "Запланирована", "active": "Действует", "ended": "Окончена",
                       "cancelled": "Отменена"}

#: How far ahead a pause may be booked.
MAX_LEAD_DAYS = 365


class Pause(Table, help_text="Добровольные блокировки: договор приостановлен по заявлению абонента"):
    subscriber = ForeignKey(Subscriber, null=False, on_delete=OnDelete.restrict, index=True,
                            help_text="Договор")
    starts_on = Date(help_text="Первый день блокировки")
    ends_on = Date(help_text="Последний день блокировки (при досрочном окончании — фактический)")
    planned_ends_on = Date(help_text="Последний день блокировки по заявлению")
    status = Varchar(length=10, choices=choices(PauseStatus, PAUSE_STATUS_LABELS), default="booked",
                     index=True, help_text="Состояние")
    booked_at = Timestamptz(help_text="Оформлена")
    booked_by = Varchar(length=150, help_text="Кто оформил")
    ended_at = Timestamptz(null=True, default=None, help_text="Окончена или отменена")
    ended_by = Varchar(length=150, default="", help_text="Кто окончил или отменил")


@dataclass(frozen=True)
class PauseRules:
    min_days: int
    max_days: int
    days_per_year: int
    fee: int  # kopecks a fully paused month


def pause_rules() -> PauseRules:
    s = get_settings()
    return PauseRules(s.pause_min_days, s.pause_max_days, s.pause_days_per_year, s.pause_fee_kopecks)


def _d(day: dt.date) -> str:
    return day.strftime("%d.%m.%Y")


def _as_date(value: dt.date | str) -> dt.date:
    return dt.date.fromisoformat(value[:10]) if isinstance(value, str) else value


def days_in_year(start: dt.date, end: dt.date, year: int) -> int:
    """Days of ``start``..``end`` (inclusive) inside calendar ``year``; 0 for an empty range."""
    lo, hi = max(start, dt.date(year, 1, 1)), min(end, dt.date(year, 12, 31))
    return max(0, (hi - lo).days + 1)


async def used_days(subscriber_id: int, year: int) -> int:
    """Paused days of ``year`` taken or booked (cancelled pauses do not count)."""
    rows = await Pause.select(Pause.starts_on, Pause.ends_on).where(
        (Pause.subscriber == subscriber_id) & (Pause.status != PauseStatus.CANCELLED)
        & (Pause.starts_on <= dt.date(year, 12, 31)) & (Pause.ends_on >= dt.date(year, 1, 1)))
    return sum(days_in_year(_as_date(r["starts_on"]), _as_date(r["ends_on"]), year) for r in rows)


async def current_pause(subscriber_id: int) -> Pause | None:
    """The contract's booked or running pause (there is at most one)."""
    return await Pause.objects().where(
        (Pause.subscriber == subscriber_id)
        & Pause.status.is_in([PauseStatus.BOOKED, PauseStatus.ACTIVE])
    ).order_by(Pause.starts_on).first()


def _months(first: dt.date, last: dt.date) -> list[Month]:
    months, month = [], Month.of(first)
    while month.first_day <= last:
        months.append(month)
        month = month.next
    return months


async def _charged(subscriber_id: int, months: list[Month]) -> list[Month]:
    """The months among ``months`` the charge run has already charged to the contract."""
    refs = [f"charge:{subscriber_id}:{m.iso}" for m in months]
    rows = await LedgerEntry.select(LedgerEntry.period).where(LedgerEntry.reference.is_in(refs))
    done = {r["period"] for r in rows}
    return [m for m in months if m.iso in done]


async def _amounts(subscriber_id: int, months: list[Month]) -> dict[Month, int]:
    return {m: await compute_charge(subscriber_id, m) for m in months}


async def _correct(subscriber_id: int, pause_id: int, event: str, before: dict[Month, int],
                   comment: str, actor: Actor) -> int:
    """Book the difference the change made to months already charged; returns kopecks credited
    (negative: debited). In the caller's transaction, after the change."""
    total = 0
    for month, was in before.items():
        diff = was - await compute_charge(subscriber_id, month)
        if diff:
            await post_entry(subscriber_id, diff, EntryKind.CHARGE, f"pause:{pause_id}:{event}:{month.iso}",
                             period=month.iso, created_by=actor.name[:150],
                             comment=comment.format(month=month.title))
            total += diff
    return total


def _repr(pause: Pause | dict) -> dict:
    get = pause.get if isinstance(pause, dict) else lambda k: getattr(pause, k)
    return {"pause": get("id"), "starts_on": str(_as_date(get("starts_on"))),
            "ends_on": str(_as_date(get("ends_on"))), "status": get("status")}


def _check_request(starts_on: dt.date, days: int, today: dt.date) -> dt.date:
    """The request's own rules (length, first day); returns the last paused day."""
    rules = pause_rules()
    if not isinstance(days, int) or not rules.min_days <= days <= rules.max_days:
        raise ValueError(TEXTS["pause_length"].format(min=rules.min_days, max=rules.max_days))
    tomorrow = today + dt.timedelta(days=1)
    if starts_on < tomorrow:
        raise ValueError(TEXTS["pause_start_past"].format(date=_d(tomorrow)))
    if starts_on > today + dt.timedelta(days=MAX_LEAD_DAYS):
        raise ValueError(TEXTS["pause_start_far"].format(date=_d(today + dt.timedelta(days=MAX_LEAD_DAYS))))
    return starts_on + dt.timedelta(days=days - 1)


async def _check_contract(subscriber: Subscriber | None, starts_on: dt.date, ends_on: dt.date) -> None:
    """The contract's rules: not ending, no debt, no other pause, the yearly allowance."""
    rules = pause_rules()
    if subscriber is None:
        raise ValueError(TEXTS["not_found"])
    if subscriber.status == SubscriberStatus.TERMINATED or subscriber.terminated_on is not None:
        raise ValueError(TEXTS["pause_terminated"])
    if subscriber.status == SubscriberStatus.SUSPENDED or subscriber.balance < 0:
        raise ValueError(TEXTS["pause_debt"].format(debt=format_plain(max(0, -subscriber.balance))))
    existing = await current_pause(subscriber.id)
    if existing is not None:
        key = ("pause_overlap" if existing.starts_on <= ends_on and existing.ends_on >= starts_on
               else "pause_one_at_a_time")
        raise ValueError(TEXTS[key].format(start=_d(existing.starts_on), end=_d(existing.ends_on)))
    for year in range(starts_on.year, ends_on.year + 1):
        used = await used_days(subscriber.id, year)
        if used + days_in_year(starts_on, ends_on, year) > rules.days_per_year:
            raise ValueError(TEXTS["pause_year_limit"].format(
                year=year, limit=rules.days_per_year, left=max(0, rules.days_per_year - used)))


async def check_pause(subscriber: Subscriber, starts_on: dt.date, days: int, *,
                      now: dt.datetime | None = None) -> dt.date:
    """Every rule :func:`book_pause` applies, without booking (the cabinet's preview); returns
    the last paused day. :raises ValueError: the same Russian messages."""
    ends_on = _check_request(starts_on, days, local_date(now or utcnow()))
    await _check_contract(subscriber, starts_on, ends_on)
    return ends_on


async def book_pause(subscriber_id: int, starts_on: dt.date, days: int, *, actor: Actor,
                     now: dt.datetime | None = None) -> Pause:
    """Book a pause of ``days`` days from ``starts_on`` (local). It starts in the daily job.

    Concurrent bookings for one contract book one (the billing lock on PostgreSQL, the write
    lock on SQLite; the checks run after it).

    :raises ValueError: with a Russian message: terminated or terminating contract, a debt,
        a start not after today or more than a year ahead, a length outside the rules, an
        overlap or a second pause, more than the yearly allowance.

    >>> await book_pause(s.id, dt.date(2026, 12, 10), 14, actor=subscriber_actor(s))
    """
    now = now or utcnow()
    ends_on = _check_request(starts_on, days, local_date(now))
    async with write_transaction():
        await lock_billing(Sql())
        subscriber = await lock_subscriber(subscriber_id)
        await _check_contract(subscriber, starts_on, ends_on)
        pause = Pause(subscriber=subscriber_id, starts_on=starts_on, ends_on=ends_on,
                      planned_ends_on=ends_on, status=PauseStatus.BOOKED, booked_at=now,
                      booked_by=actor.name[:150])
        await pause.save()
        await write_audit(action="subscriber.pause_booked", object_type="subscriber",
                          object_id=subscriber_id, object_repr=subscriber.contract_number,
                          actor=actor, after=_repr(pause),
                          message=f"Добровольная блокировка с {_d(starts_on)} по {_d(ends_on)}")
        await messages.pause_booked(subscriber_id, pause.id, starts_on, ends_on)
    return pause


async def _start(pause: dict, *, now: dt.datetime, actor: Actor) -> bool:
    """Start one booked pause (in its own transaction); False when someone else did."""
    async with write_transaction():
        await lock_billing(Sql())
        subscriber = await lock_subscriber(pause["subscriber"])
        starts_on, ends_on = _as_date(pause["starts_on"]), _as_date(pause["ends_on"])
        if subscriber is None or subscriber.status == SubscriberStatus.TERMINATED:
            done = await Pause.update({Pause.status: PauseStatus.CANCELLED, Pause.ended_at: now,
                                       Pause.ended_by: actor.name[:150]}).where(
                (Pause.id == pause["id"]) & (Pause.status == PauseStatus.BOOKED)).returning(Pause.id)
            return bool(done)
        charged = await _charged(subscriber.id, _months(starts_on, ends_on))
        before = await _amounts(subscriber.id, charged)
        done = await Pause.update({Pause.status: PauseStatus.ACTIVE}).where(
            (Pause.id == pause["id"]) & (Pause.status == PauseStatus.BOOKED)).returning(Pause.id)
        if not done:
            return False
        await Subscriber.update({Subscriber.status: SubscriberStatus.PAUSED}).where(
            (Subscriber.id == subscriber.id)
            & Subscriber.status.is_in([SubscriberStatus.ACTIVE, SubscriberStatus.SUSPENDED]))
        credited = await _correct(subscriber.id, pause["id"], "start", before,
                                  TEXTS["pause_comment_start"].replace("{start}", _d(starts_on))
                                  .replace("{end}", _d(ends_on)), actor)
        await write_audit(action="subscriber.pause_started", object_type="subscriber",
                          object_id=subscriber.id, object_repr=subscriber.contract_number, actor=actor,
                          before={"status": subscriber.status},
                          after={**_repr({**pause, "status": "active"}), "status": "paused",
                                 "credited": credited})
        await messages.pause_started(subscriber.id, pause["id"], ends_on)
    return True


async def _finish(pause_id: int, *, actor: Actor, now: dt.datetime, early: bool) -> Pause:
    """End a running pause (``early``: from today, else after its planned last day) or cancel a
    booked one. In its own transaction, with the correction of months already charged."""
    today = local_date(now)
    async with write_transaction():
        await lock_billing(Sql())
        pause = await Pause.objects().where(Pause.id == pause_id).first()
        if pause is None:
            raise ValueError(TEXTS["pause_not_found"])
        subscriber = await lock_subscriber(pause.subscriber)
        pause = await Pause.objects().where(Pause.id == pause_id).first()  # re-read under the lock
        if pause.status == PauseStatus.BOOKED and early:
            await Pause.update({Pause.status: PauseStatus.CANCELLED, Pause.ended_at: now,
                                Pause.ended_by: actor.name[:150]}).where(Pause.id == pause.id)
            await write_audit(action="subscriber.pause_cancelled", object_type="subscriber",
                              object_id=subscriber.id, object_repr=subscriber.contract_number,
                              actor=actor, before=_repr(pause), after={**_repr(pause), "status": "cancelled"})
            await messages.pause_ended(subscriber.id, pause.id, cancelled=True)
            pause.status = PauseStatus.CANCELLED
            return pause
        if pause.status != PauseStatus.ACTIVE:
            raise ValueError(TEXTS["pause_none"])
        ends_on = min(pause.ends_on, today - dt.timedelta(days=1)) if early else pause.ends_on
        charged = await _charged(subscriber.id, _months(pause.starts_on, pause.ends_on))
        before = await _amounts(subscriber.id, charged)
        await Pause.update({Pause.status: PauseStatus.ENDED, Pause.ends_on: ends_on, Pause.ended_at: now,
                            Pause.ended_by: actor.name[:150]}).where(Pause.id == pause.id)
        moved = await _correct(subscriber.id, pause.id, "end", before,
                               TEXTS["pause_comment_end"].replace("{date}", _d(today)), actor)
        balance = (await Subscriber.select(Subscriber.balance).where(
            Subscriber.id == subscriber.id).first())["balance"]
        state = (SubscriberStatus.ACTIVE if balance >= -debt_threshold() else SubscriberStatus.SUSPENDED)
        back = await Subscriber.update({Subscriber.status: state}).where(
            (Subscriber.id == subscriber.id) & (Subscriber.status == SubscriberStatus.PAUSED)
        ).returning(Subscriber.id)
        after = {**_repr(pause), "status": "ended", "ends_on": str(ends_on), "debited": -moved}
        await write_audit(action="subscriber.pause_ended", object_type="subscriber",
                          object_id=subscriber.id, object_repr=subscriber.contract_number, actor=actor,
                          before=_repr(pause), after=after,
                          message="Досрочно" if early else "По окончании срока")
        if back:
            # The walled garden is lifted: the NAS cuts the restricted session, the router logs in again.
            await queue_disconnects(subscriber.id, "resumed", f"pause:{pause.id}")
            if state == SubscriberStatus.SUSPENDED:
                audit_id = await write_audit(
                    action="subscriber.suspended", object_type="subscriber", object_id=subscriber.id,
                    object_repr=subscriber.contract_number, actor=actor, message=TEXTS["pause_suspended"],
                    before={"status": "paused", "balance": balance},
                    after={"status": "suspended", "balance": balance})
                await messages.suspended(subscriber.id, balance, audit_id)
            else:
                await messages.pause_ended(subscriber.id, pause.id)
        pause.status, pause.ends_on = PauseStatus.ENDED, ends_on
        return pause


async def end_pause(subscriber_id: int, *, actor: Actor, now: dt.datetime | None = None) -> Pause:
    """End the contract's pause now (the subscriber from the cabinet, or staff from the card):
    a running one ends today (today is no longer paused, the months already charged get the
    paused days they lost back as a charge), a booked one is cancelled.

    :raises ValueError: ``Действующей или запланированной блокировки нет`` when there is none.
    """
    pause = await current_pause(subscriber_id)
    if pause is None:
        raise ValueError(TEXTS["pause_none"])
    return await _finish(pause.id, actor=actor, now=now or utcnow(), early=True)


async def apply_due_pauses(today: dt.date, *, now: dt.datetime | None = None,
                           actor: Actor | None = None) -> dict[str, int]:
    """Start the pauses booked from ``today`` or earlier and end those whose last day is past.

    For the daily job (and the charge run, before it charges); idempotent: each pause is
    claimed by a conditional update, so a repeat or a concurrent run changes nothing more.
    """
    now = now or utcnow()
    actor = actor or Actor("system")
    started = ended = 0
    due = await Pause.select(Pause.id, Pause.subscriber, Pause.starts_on, Pause.ends_on).where(
        (Pause.status == PauseStatus.BOOKED) & (Pause.starts_on <= today)).order_by(Pause.id)
    for row in due:
        started += await _start(row, now=now, actor=actor)
    over = await Pause.select(Pause.id).where(
        (Pause.status == PauseStatus.ACTIVE) & (Pause.ends_on < today)).order_by(Pause.id)
    for row in over:
        try:
            await _finish(row["id"], actor=actor, now=now, early=False)
            ended += 1
        except ValueError:  # ended meanwhile by someone else
            pass
    return {"started": started, "ended": ended}


@dataclass(frozen=True)
class MonthEffect:
    month: Month
    paused_days: int
    without: int  # kopecks the month costs without the pause
    with_pause: int  # ... with it


def pause_effect(starts_on: dt.date, ends_on: dt.date, monthly_fee: int) -> list[MonthEffect]:
    """What a pause does to each month it touches at the fee ``monthly_fee`` (the one fee rule
    at today's tariff): the run's proration, for the cabinet's preview and forecast."""
    fee = pause_rules().fee
    effects = []
    for month in _months(starts_on, ends_on):
        paused = days_in_year(max(starts_on, month.first_day), min(ends_on, month.last_day),
                              month.first_day.year)
        num = (month.days - paused) * monthly_fee + paused * fee
        effects.append(MonthEffect(month, paused, monthly_fee,
                                   (2 * num + month.days) // (2 * month.days)))
    return effects


async def pause_upcoming(subscriber_id: int, monthly_fee: int, today: dt.date) -> dict[Month, int]:
    """The coming months' charges a booked or running pause changes (for ``forecast``)."""
    pause = await current_pause(subscriber_id)
    if pause is None:
        return {}
    current = Month.of(today)
    return {e.month: e.with_pause for e in pause_effect(pause.starts_on, pause.ends_on, monthly_fee)
            if e.month > current}
