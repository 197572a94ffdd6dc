"""Tariff change requests: filed from the cabinet, done by booking the new tariff for next month."""

from __future__ import annotations

import datetime as dt

from db.engine import write_transaction
from tables.audit import Actor
from tables.billing.tariff_changes import schedule_tariff_change
from tables.calendar import local_date, utcnow
from tables.month import Month
from tables.requests.queue import (
    MESSAGES as QUEUE_MESSAGES,
)
from tables.requests.queue import (
    OPEN_STATUSES,
    Filing,
    RequestKind,
    RequestStatus,
    ServiceRequest,
    claim,
    date_text,
    finish,
    open_request,
    refuse_second_open,
)
from tables.tariffs import Tariff

MESSAGES = {
    "tariff_needed": "Выберите новый тариф.",
    "tariff_same": "Этот тариф уже подключён.",
    "open_termination": "Открыта заявка на расторжение договора № {number}: смена тарифа недоступна.",
    "scheduled_tariff": "Договор будет расторгнут с {date}: смена тарифа недоступна.",
}
NOTIFY_CHANGED = "по заявке {number} тариф «{tariff}» действует с {date}."

def next_period_start(day: dt.date) -> dt.date:
    """The first day of the month after ``day``: when a tariff change takes effect."""
    return Month.of(day).next.first_day


async def check_filing(contract: dict, filing: Filing) -> None:
    """The contract may ask for this tariff: it is offered, not the current one, and no
    termination is open or booked. One open change at a time (also a partial unique index).

    :raises ValueError: with a Russian message for the form.
    """
    if contract["terminated_on"] is not None:
        # A scheduled termination still counts as the contract's one termination.
        raise ValueError(MESSAGES["scheduled_tariff"].format(date=date_text(contract["terminated_on"])))
    if filing.tariff_id is None:
        raise ValueError(MESSAGES["tariff_needed"])
    tariff = await Tariff.select(Tariff.id, Tariff.active).where(Tariff.id == filing.tariff_id).first()
    if tariff is None or not tariff["active"]:
        raise ValueError(QUEUE_MESSAGES["tariff_unavailable"])
    if filing.tariff_id == contract["tariff"]:
        raise ValueError(MESSAGES["tariff_same"])
    termination = await open_request(contract["id"], RequestKind.TERMINATION)
    if termination:
        raise ValueError(MESSAGES["open_termination"].format(number=termination["number"]))
    await refuse_second_open(contract["id"], RequestKind.TARIFF_CHANGE)


async def complete_tariff_change(request_id: int, *, actor: Actor,
                                 now: dt.datetime | None = None) -> dt.date:
    """Done: the requested tariff applies from the next billing period.

    The change is recorded on the contract as a scheduled ``TariffChange``; the
    current month stays on the old fee. Returns the date it takes effect.
    """
    now = now or utcnow()
    effective_from = next_period_start(local_date(now))
    async with write_transaction():
        row = await claim(request_id, allowed=OPEN_STATUSES, now=now,
                          kinds=(RequestKind.TARIFF_CHANGE,))
        tariff = await Tariff.select(Tariff.name).where(Tariff.id == row["requested_tariff"]).first()
        if tariff is None:
            raise ValueError(QUEUE_MESSAGES["tariff_unavailable"])
        await schedule_tariff_change(row["subscriber"], row["requested_tariff"], effective_from,
                                     actor=actor, now=now)
        reason = f"Новый тариф «{tariff['name']}» действует с {date_text(effective_from)}."
        await ServiceRequest.update({ServiceRequest.status: RequestStatus.DONE,
                                     ServiceRequest.closed_at: now,
                                     ServiceRequest.close_reason: reason}).where(
            ServiceRequest.id == request_id)
        await finish(row, RequestStatus.DONE, reason, actor, now, notify_text=NOTIFY_CHANGED.format(
            number=row["number"], tariff=tariff["name"], date=date_text(effective_from)))
    return effective_from
