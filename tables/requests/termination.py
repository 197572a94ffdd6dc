"""Termination requests: filed from the cabinet with a date, done at once or booked for that date.

A booked termination is applied by the daily job (:func:`apply_due_terminations`); a terminated
contract keeps its :func:`final_statement` readable in the cabinet.
"""

from __future__ import annotations

import datetime as dt

from db.engine import is_sqlite, write_transaction
from tables.audit import SYSTEM, Actor, write_audit
from tables.billing.termination import settle_terminated_charges
from tables.calendar import local_date, utcnow
from tables.ledger import LedgerEntry
from tables.notifications import enqueue, route_for
from tables.requests.queue import (
    OPEN_STATUSES,
    Filing,
    RequestKind,
    RequestStatus,
    ServiceRequest,
    claim,
    contract_row,
    date_text,
    finish,
    notify_filer,
    refuse_second_open,
)
from tables.subscribers import Subscriber, SubscriberStatus

MAX_TERMINATION_AHEAD = dt.timedelta(days=180)

MESSAGES = {
    "date_needed": "Укажите желаемую дату расторжения.",
    "date_far": "Дата расторжения — не позже чем через 180 дней.",
    "confirm": "Подтвердите, что понимаете последствия расторжения договора.",
    "termination_before_request": "Дата расторжения не может быть раньше даты заявки ({date}).",
    "already_terminated": "Договор № {contract} уже расторгнут.",
    "already_scheduled": "Расторжение договора № {contract} уже назначено с {date}.",
    "scheduled_termination": "Договор будет расторгнут с {date}: повторная заявка на расторжение "
                             "не нужна.",
}
NOTIFY = {
    "terminated": "договор № {contract} расторгнут с {date}. Итоговая выписка — в личном кабинете.",
    "termination_scheduled": "договор № {contract} будет расторгнут с {date}. До этой даты услуги "
                             "предоставляются.",
}


def check_form(filing: Filing, today: dt.date) -> None:
    """A date no later than :data:`MAX_TERMINATION_AHEAD`, and the consequences confirmed.

    :raises ValueError: with a Russian message for the form.
    """
    if filing.desired_date is None:
        raise ValueError(MESSAGES["date_needed"])
    if filing.desired_date > today + MAX_TERMINATION_AHEAD:
        raise ValueError(MESSAGES["date_far"])
    if not filing.confirmed:
        raise ValueError(MESSAGES["confirm"])


async def check_filing(contract: dict, filing: Filing) -> None:
    """One termination per contract: none booked, none open (also a partial unique index).

    :raises ValueError: with a Russian message for the form.
    """
    if contract["terminated_on"] is not None:
        # A scheduled termination still counts as the contract's one termination.
        raise ValueError(MESSAGES["scheduled_termination"].format(
            date=date_text(contract["terminated_on"])))
    await refuse_second_open(contract["id"], RequestKind.TERMINATION)


def _termination_day(row: dict, terminated_on: dt.date | None, now: dt.datetime) -> dt.date:
    """The date asked for (by staff, else in the request, else today), never before the filing."""
    filed_on = local_date(row["created_at"])
    day = terminated_on or row["desired_date"] or local_date(now)
    if day < filed_on:
        if terminated_on is not None:
            raise ValueError(MESSAGES["termination_before_request"].format(
                date=date_text(filed_on)))
        day = filed_on
    return day


async def complete_termination(request_id: int, *, actor: Actor,
                               terminated_on: dt.date | None = None,
                               now: dt.datetime | None = None) -> dt.date:
    """Done: the contract ends on the desired date (or today, or ``terminated_on``).

    The date is never before the day the request was filed. A date today or earlier
    terminates the contract at once; a later one only schedules it: ``terminated_on``
    is set and the status stays until that local day begins (:func:`apply_due_terminations`),
    because the services run and are paid for until then. Billing never charges days
    after the date either way, and what was charged in advance for them is given back
    here, once. Returns the termination date.
    """
    now = now or utcnow()
    async with write_transaction():
        row = await claim(request_id, allowed=OPEN_STATUSES, now=now,
                          kinds=(RequestKind.TERMINATION,))
        day = _termination_day(row, terminated_on, now)
        contract = await contract_row(row["subscriber"])
        if contract["status"] == SubscriberStatus.TERMINATED:
            raise ValueError(MESSAGES["already_terminated"].format(
                contract=contract["contract_number"]))
        if contract["terminated_on"] is not None:
            raise ValueError(MESSAGES["already_scheduled"].format(
                contract=contract["contract_number"], date=date_text(contract["terminated_on"])))
        scheduled = day > local_date(now)
        status = contract["status"] if scheduled else SubscriberStatus.TERMINATED
        # Scheduled: the status is left alone (not rewritten from the value read above), so a
        # suspension or re-activation committed meanwhile by billing is not undone.
        changes = {Subscriber.terminated_on: day}
        if not scheduled:
            changes[Subscriber.status] = status
        await Subscriber.update(changes).where(Subscriber.id == row["subscriber"])
        # Charged in advance on the 1st: give back the days after the termination date now,
        # so the balance is right from today. Later runs charge only up to the date, so the
        # day the status changes books nothing.
        await settle_terminated_charges(row["subscriber"], actor=actor)
        await write_audit(action="subscriber.termination_scheduled" if scheduled
                          else "subscriber.terminated", object_type="subscriber",
                          object_id=row["subscriber"], object_repr=contract["contract_number"],
                          actor=actor, message=f"по заявке {row['number']}",
                          before={"status": contract["status"]},
                          after={"status": status, "terminated_on": day.isoformat()})
        if scheduled:
            reason = (f"Договор будет расторгнут с {date_text(day)}. "
                      "До этой даты услуги предоставляются.")
            notify = NOTIFY["termination_scheduled"]
        else:
            reason = f"Договор расторгнут с {date_text(day)}."
            notify = NOTIFY["terminated"]
        await ServiceRequest.update({ServiceRequest.status: RequestStatus.DONE,
                                     ServiceRequest.closed_at: now,
                                     ServiceRequest.close_reason: reason}).where(
            ServiceRequest.id == request_id)
        await finish(row, RequestStatus.DONE, reason, actor, now, notify_text=notify.format(
            contract=contract["contract_number"], date=date_text(day)))
    return day

async def apply_due_terminations(on: dt.date | None = None, *,
                                 now: dt.datetime | None = None) -> int:
    """Terminate contracts whose scheduled termination date has come (daily job).

    ``terminated_on <= on`` and not yet terminated: the status becomes ``terminated``
    with an audit entry by the system and the same notification as an immediate
    termination. Money is not touched (settled when the termination was completed).
    Each contract is its own transaction and re-checked inside it, so reruns and
    overlapping runs change nothing twice.

    :param on: the local day (default: today in the provider's time zone).
    :returns: the number of contracts terminated by this call.
    """
    now = now or utcnow()
    on = on or local_date(now)
    due = await Subscriber.select(Subscriber.id).where(
        Subscriber.terminated_on.is_not_null() & (Subscriber.terminated_on <= on)
        & (Subscriber.status != SubscriberStatus.TERMINATED)
    ).order_by(Subscriber.id)
    applied = 0
    for candidate in due:
        async with write_transaction():
            query = Subscriber.select(Subscriber.id, Subscriber.contract_number, Subscriber.status,
                                      Subscriber.terminated_on).where(
                Subscriber.id == candidate["id"])
            if not is_sqlite():
                query = query.lock_rows()
            contract = await query.first()
            if (contract is None or contract["status"] == SubscriberStatus.TERMINATED
                    or contract["terminated_on"] is None or contract["terminated_on"] > on):
                continue
            await Subscriber.update({Subscriber.status: SubscriberStatus.TERMINATED}).where(
                Subscriber.id == contract["id"])
            request = await ServiceRequest.select().where(
                (ServiceRequest.subscriber == contract["id"])
                & (ServiceRequest.kind == RequestKind.TERMINATION)
                & (ServiceRequest.status == RequestStatus.DONE)
            ).order_by(ServiceRequest.closed_at, ascending=False).order_by(
                ServiceRequest.id, ascending=False).first()
            await write_audit(action="subscriber.terminated", object_type="subscriber",
                              object_id=contract["id"], object_repr=contract["contract_number"],
                              actor=SYSTEM,
                              message=f"по заявке {request['number']}" if request else "",
                              before={"status": contract["status"]},
                              after={"status": SubscriberStatus.TERMINATED,
                                     "terminated_on": contract["terminated_on"].isoformat()})
            text = NOTIFY["terminated"].format(contract=contract["contract_number"],
                                               date=date_text(contract["terminated_on"]))
            if request is not None:
                await notify_filer(request, "subscriber.terminated", text)
            else:
                await _notify_contract(contract["id"], contract["contract_number"],
                                       "subscriber.terminated", text)
            applied += 1
    return applied

async def _notify_contract(subscriber_id: int, contract_number: str, topic: str,
                           text: str) -> None:
    """Queue a message to a contract with no request to refer to."""
    person = await Subscriber.select(Subscriber.phone, Subscriber.email).where(
        Subscriber.id == subscriber_id).first()
    if person is not None:
        route = route_for(person["phone"], person["email"])
        await enqueue(channel=route.channel, recipient=route.recipient, body=f"Centra: {text}",
                      subject=f"Договор № {contract_number}", subscriber_id=subscriber_id,
                      topic=topic, reference=contract_number, skipped_reason=route.reason)


async def final_statement(subscriber_id: int) -> dict:
    """What a terminated contract ends with: totals by kind, the entries and the balance."""
    subscriber = await Subscriber.select(
        Subscriber.contract_number, Subscriber.full_name, Subscriber.connected_on,
        Subscriber.terminated_on, Subscriber.balance, Subscriber.status,
    ).where(Subscriber.id == subscriber_id).first()
    totals = await LedgerEntry.raw(
        "SELECT kind, COALESCE(SUM(amount), 0) AS total FROM ledger_entry "
        "WHERE subscriber = {} GROUP BY kind ORDER BY kind", subscriber_id)
    entries = await LedgerEntry.select(
        LedgerEntry.created_at, LedgerEntry.kind, LedgerEntry.amount, LedgerEntry.period,
        LedgerEntry.comment,
    ).where(LedgerEntry.subscriber == subscriber_id).order_by(
        LedgerEntry.created_at).order_by(LedgerEntry.id)
    return {"subscriber": subscriber,
            "totals": {r["kind"]: int(r["total"]) for r in totals},
            "entries": entries}
