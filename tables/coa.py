"""Telling the NAS at once (RFC 5176): an outbox of Disconnect-Requests (issue 32, step 3).

When a contract's access changes — a payment lifts a suspension (``tables.ledger.post_entry``)
— a row per open session is queued in the same transaction, keyed by cause and session, so a
retried cause queues nothing more. A contract suspended or terminated by any path (the charge
run is set-based SQL) is found by the tick itself: an open full-speed session of a contract that
is no longer active (``queue_cut_offs``). The worker's ``network.coa`` tick (every 5 s) sends them:
the NAS cuts the session, the subscriber's router logs in again at once and FreeRADIUS answers
from the contract's new state (speed instead of the walled garden). Every attempt's outcome
is kept on the row; no answer is retried with growing waits, then given up.

A Disconnect rather than a CoA changing attributes in place: a MikroTik adds a session to an
address list only at login, so lifting the walled garden needs a new login anyway.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging

from piccolo.columns import ForeignKey, Integer, OnDelete, Timestamptz, Varchar
from piccolo.table import Table

from db.engine import write_transaction
from providers import radius_coa
from tables.calendar import utcnow
from tables.choices import choices
from tables.network import Nas, RadiusSession
from tables.subscribers import Subscriber

log = logging.getLogger("centra.coa")

#: Waits after the 1st, 2nd, … unanswered attempt; then the request is given up.
RETRY_WAITS = (5, 15, 60, 300)


class CoaStatus(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


COA_STATUS_LABELS = {"pending": "Ждёт отправки", "done": "Выполнен", "failed": "Не выполнен"}


class CoaRequest(Table, help_text="Команды NAS (RFC 5176): разрыв сессии при смене состояния"):
    event_key = Varchar(length=200, unique=True, help_text="Ключ события (причина и сессия)")
    session = ForeignKey(RadiusSession, null=True, default=None, on_delete=OnDelete.set_null,
                         help_text="Сессия")
    subscriber = ForeignKey(Subscriber, null=True, default=None, on_delete=OnDelete.restrict,
                            help_text="Договор")
    nas_address = Varchar(length=45, help_text="Адрес NAS")
    acct_session_id = Varchar(length=100, help_text="Номер сессии на NAS (Acct-Session-Id)")
    username = Varchar(length=100, default="", help_text="Логин (User-Name)")
    cause = Varchar(length=40, help_text="Причина (reactivated: оплата сняла приостановку; "
                    "suspended, terminated: доступ закрыт)")
    status = Varchar(length=10, choices=choices(CoaStatus, COA_STATUS_LABELS), default="pending",
                     index=True, help_text="Состояние")
    attempts = Integer(default=0, help_text="Попыток")
    next_attempt_at = Timestamptz(help_text="Следующая попытка")
    last_result = Varchar(length=200, default="", help_text="Ответ NAS или ошибка")
    created_at = Timestamptz(help_text="Создан")
    finished_at = Timestamptz(null=True, default=None, help_text="Завершён")


async def queue_disconnects(subscriber_id: int, cause: str, reference: str) -> int:
    """Queue a Disconnect-Request for each open session of the contract; returns how many.

    Call inside the cause's transaction; ``reference`` names the cause's event (a ledger
    reference), so the same event never queues twice.
    """
    sessions = await RadiusSession.select(
        RadiusSession.id, RadiusSession.nas_address, RadiusSession.acct_session_id,
        RadiusSession.username, RadiusSession.session_key,
    ).where((RadiusSession.subscriber == subscriber_id) & RadiusSession.stopped_at.is_null())
    now = utcnow()
    queued = 0
    for row in sessions:
        inserted = await CoaRequest.insert(CoaRequest(
            event_key=f"{cause}:{reference}:{row['session_key']}"[:200], session=row["id"],
            subscriber=subscriber_id, nas_address=row["nas_address"],
            acct_session_id=row["acct_session_id"], username=row["username"], cause=cause,
            next_attempt_at=now, created_at=now,
        )).on_conflict(target=CoaRequest.event_key, action="DO NOTHING").returning(CoaRequest.id)
        queued += len(inserted)
    return queued


async def queue_cut_offs(now: dt.datetime | None = None) -> int:
    """Queue a Disconnect-Request for every open full-speed session whose contract is no longer
    active (suspended by the charge run, the grace sweep or a promised payment's reversal, or
    terminated), however it got there; returns how many were queued.

    The session was let in at full speed (``restricted`` false); cut, the router logs in again
    and gets the walled garden, or a Reject. Keyed by the state and the session: once each.
    """
    rows = await RadiusSession.select(
        RadiusSession.id, RadiusSession.nas_address, RadiusSession.acct_session_id,
        RadiusSession.username, RadiusSession.session_key, RadiusSession.subscriber,
        RadiusSession.subscriber.status.as_alias("state"),
    ).where(RadiusSession.stopped_at.is_null() & RadiusSession.restricted.eq(False)
            & (RadiusSession.subscriber.status != "active"))
    now = now or utcnow()
    queued = 0
    for row in rows:
        inserted = await CoaRequest.insert(CoaRequest(
            event_key=f"{row['state']}:{row['session_key']}"[:200], session=row["id"],
            subscriber=row["subscriber"], nas_address=row["nas_address"],
            acct_session_id=row["acct_session_id"], username=row["username"], cause=row["state"],
            next_attempt_at=now, created_at=now,
        )).on_conflict(target=CoaRequest.event_key, action="DO NOTHING").returning(CoaRequest.id)
        queued += len(inserted)
    return queued


async def _attempt(row: dict, nas: dict | None) -> tuple[str, str]:
    """One attempt: (new status, what happened)."""
    if nas is None:
        return CoaStatus.FAILED, "NAS нет в таблице"
    attrs: dict[str, str | int] = {"Acct-Session-Id": row["acct_session_id"]}
    if row["username"]:
        attrs["User-Name"] = row["username"]
    try:
        answer = await radius_coa.send(nas["address"], nas["coa_port"], nas["secret"],
                                       radius_coa.DISCONNECT_REQUEST, attrs)
    except (radius_coa.CoaError, OSError) as exc:
        return CoaStatus.PENDING, f"нет ответа: {exc}"
    if answer.acked:
        return CoaStatus.DONE, "Disconnect-ACK"
    cause = answer.error_cause
    if cause == 503:  # Session Context Not Found: it is already gone, which is what we wanted
        return CoaStatus.DONE, "Disconnect-NAK 503: сессии уже нет"
    return CoaStatus.FAILED, f"Disconnect-NAK {cause or ''}".strip()


async def deliver_coa(now: dt.datetime | None = None) -> dict[str, int]:
    """Send the due requests (the worker's ``network.coa``); counts by outcome."""
    now = now or utcnow()
    await queue_cut_offs(now)
    due = await CoaRequest.select().where(
        (CoaRequest.status == CoaStatus.PENDING) & (CoaRequest.next_attempt_at <= now)
    ).order_by(CoaRequest.id).limit(200)
    counts = {"done": 0, "failed": 0, "retry": 0}
    for row in due:
        nas = await Nas.select(Nas.address, Nas.secret, Nas.coa_port).where(
            (Nas.address == row["nas_address"]) & (Nas.active.eq(True))).first()
        status, result = await _attempt(row, nas)
        attempts = row["attempts"] + 1
        values: dict = {CoaRequest.attempts: attempts, CoaRequest.last_result: result[:200]}
        if status == CoaStatus.PENDING and attempts > len(RETRY_WAITS):
            status, result = CoaStatus.FAILED, result
        if status == CoaStatus.PENDING:
            values[CoaRequest.next_attempt_at] = utcnow() + dt.timedelta(seconds=RETRY_WAITS[attempts - 1])
            counts["retry"] += 1
        else:
            values[CoaRequest.finished_at] = utcnow()
            counts["done" if status == CoaStatus.DONE else "failed"] += 1
            if status == CoaStatus.FAILED:
                log.warning("CoA %s to %s given up: %s", row["id"], row["nas_address"], result)
        values[CoaRequest.status] = status
        async with write_transaction():
            await CoaRequest.update(values).where(CoaRequest.id == row["id"])
    return counts
