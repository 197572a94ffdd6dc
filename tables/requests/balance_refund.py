"""Balance refund requests ("Возврат остатка"): a terminated contract's leftover money paid back."""

from __future__ import annotations

import datetime as dt

from db.engine import is_sqlite, write_transaction
from tables.addresses import format_address
from tables.audit import Actor, write_audit
from tables.calendar import utcnow
from tables.ledger import EntryKind, post_entry
from tables.money import format_plain
from tables.requests.queue import (
    MESSAGES as QUEUE_MESSAGES,
)
from tables.requests.queue import (
    OPEN_STATUSES,
    AuthorKind,
    RequestKind,
    RequestStatus,
    ServiceRequest,
    add_event,
    checked_text,
    claim,
    contract_row,
    finish,
    insert_numbered,
    open_request,
    subscriber_actor,
)
from tables.subscribers import Subscriber, SubscriberStatus

MESSAGES = {
    "refund_not_terminated": "Вернуть остаток можно после расторжения договора. Пока договор "
                             "действует, остаток идёт в оплату услуг.",
    "refund_nothing": "На счёте договора № {contract} нет остатка: возвращать нечего.",
    "refund_details": "Укажите, куда перечислить деньги (реквизиты счёта или карты), или "
                      "напишите «получу в кассе».",
    "refund_open": "Заявка на возврат остатка № {number} уже подана: дождитесь её выполнения.",
    "refund_done": "Остаток {amount} ₽ выплачен: проводка в журнале, баланс договора — 0.",
}
NOTIFY_REFUNDED = "по заявке {number} остаток {amount} ₽ по договору № {contract} выплачен."


async def file_balance_refund(subscriber_id: int, details: str, *, actor: Actor | None = None,
                              now: dt.datetime | None = None) -> ServiceRequest:
    """Ask for the leftover balance of a terminated contract back ("Возврат остатка").

    Filed by the subscriber from the cabinet — the one thing a terminated contract may
    still do there — or by staff on their behalf (``actor``). One open at a time (also a
    partial unique index). The money moves only when staff complete it
    (:func:`complete_balance_refund`).

    :param details: where the money goes (bank or card details, or "at the office").
    :raises ValueError: not terminated, nothing to return, no details, one already open.
    """
    now = now or utcnow()
    details = checked_text(details)
    if not details:
        raise ValueError(MESSAGES["refund_details"])
    async with write_transaction():
        contract = await contract_row(subscriber_id)
        if contract["status"] != SubscriberStatus.TERMINATED:
            raise ValueError(MESSAGES["refund_not_terminated"])
        balance = (await Subscriber.select(Subscriber.balance).where(
            Subscriber.id == subscriber_id).first())["balance"]
        if balance <= 0:
            raise ValueError(MESSAGES["refund_nothing"].format(contract=contract["contract_number"]))
        existing = await open_request(subscriber_id, RequestKind.BALANCE_REFUND)
        if existing:
            raise ValueError(MESSAGES["refund_open"].format(number=existing["number"]))
        request = await insert_numbered(ServiceRequest(
            kind=RequestKind.BALANCE_REFUND, subscriber=subscriber_id,
            contract_number=contract["contract_number"], text=details,
            applicant_name=contract["full_name"], applicant_phone=contract["phone"],
            town=contract["town_id"],
            address_text=format_address(contract["town"], contract["street"], contract["house"],
                                                contract["apartment"]),
            created_at=now, updated_at=now,
        ), conflict_message=QUEUE_MESSAGES["open_race"])
        by_staff = actor is not None
        actor = actor or subscriber_actor(contract["contract_number"])
        await add_event(request.id, actor=actor, now=now, status_to=RequestStatus.NEW, message=details,
                        author_kind=AuthorKind.STAFF if by_staff else AuthorKind.SUBSCRIBER)
        await write_audit(action="request.filed", object_type="service_request",
                          object_id=request.id, object_repr=request.number, actor=actor,
                          after={"kind": RequestKind.BALANCE_REFUND, "balance": balance,
                                 "on_behalf": by_staff})
    return request


async def complete_balance_refund(request_id: int, *, actor: Actor,
                                  now: dt.datetime | None = None) -> int:
    """Pay the leftover balance back: one ``refund`` ledger entry takes the balance to zero.

    One transaction: the request moves to done with a conditional UPDATE (two clerks at
    once: one wins, the other gets "changed"), the contract row is locked, the entry's
    reference ``balance-refund:<request id>`` is unique, and the request, the contract and
    the audit all change together — so the money goes out exactly once.

    :returns: kopecks paid out.
    :raises ValueError: wrong kind, closed, or nothing left to return (the request stays open).
    """
    now = now or utcnow()
    async with write_transaction():
        row = await claim(request_id, allowed=OPEN_STATUSES, now=now,
                          kinds=(RequestKind.BALANCE_REFUND,))
        query = Subscriber.select(Subscriber.balance, Subscriber.contract_number,
                                  Subscriber.status).where(Subscriber.id == row["subscriber"])
        contract = await (query if is_sqlite() else query.lock_rows()).first()
        amount = contract["balance"]
        if amount <= 0:
            raise ValueError(MESSAGES["refund_nothing"].format(contract=contract["contract_number"]))
        _, balance = await post_entry(
            row["subscriber"], -amount, EntryKind.REFUND, f"balance-refund:{request_id}",
            created_by=actor.name, comment=f"Возврат остатка по заявке {row['number']}",
        )
        reason = MESSAGES["refund_done"].format(amount=format_plain(amount))
        await ServiceRequest.update({ServiceRequest.status: RequestStatus.DONE,
                                     ServiceRequest.closed_at: now,
                                     ServiceRequest.close_reason: reason}).where(
            ServiceRequest.id == request_id)
        await write_audit(action="subscriber.balance_refunded", object_type="subscriber",
                          object_id=row["subscriber"], object_repr=contract["contract_number"],
                          actor=actor, message=f"по заявке {row['number']}",
                          before={"balance": amount}, after={"balance": balance, "refunded": amount})
        await finish(row, RequestStatus.DONE, reason, actor, now, notify_text=NOTIFY_REFUNDED.format(
            number=row["number"], amount=format_plain(amount), contract=contract["contract_number"]))
    return amount
