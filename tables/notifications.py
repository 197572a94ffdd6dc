"""Outgoing notifications (SMS, e-mail) through an outbox table.

Flows enqueue a row in the same transaction as the change they report, so a
rolled-back change never notifies and a committed one always will. A separate
job (``piccolo tables send_notifications``) hands pending rows to a
:class:`Sender`; the default one prints to the console. An SMS or e-mail
gateway is another class with the same ``send`` method, named in
``CENTRA_NOTIFICATION_SENDER`` — the flows do not change.
"""

from __future__ import annotations

import datetime as dt
import enum
import importlib
import logging
import sys
from dataclasses import dataclass
from typing import Protocol, TextIO

from piccolo.columns import ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.table import Table

from db.engine import write_transaction
from tables.calendar import utcnow
from tables.choices import choices
from tables.subscribers import Subscriber

log = logging.getLogger("centra.notifications")

MAX_ATTEMPTS = 5
# A row claimed by a worker that then died is retried after this long.
CLAIM_TIMEOUT = dt.timedelta(minutes=10)
DEFAULT_SENDER = "tables.notifications:ConsoleSender"


class Channel(enum.StrEnum):
    SMS = "sms"
    EMAIL = "email"


CHANNEL_LABELS = {"sms": "SMS", "email": "E-mail"}


class NotificationStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


NOTIFICATION_STATUS_LABELS = {
    "pending": "В очереди",
    "sending": "Отправляется",
    "sent": "Отправлено",
    "failed": "Не отправлено",
}


class Notification(Table, help_text="Исходящие уведомления (SMS, e-mail): очередь отправки"):
    channel = Varchar(length=10, choices=choices(Channel, CHANNEL_LABELS), help_text="Канал")
    recipient = Varchar(length=200, help_text="Телефон или адрес e-mail")
    subscriber = ForeignKey(Subscriber, null=True, default=None, on_delete=OnDelete.restrict,
                            help_text="Договор (если есть)")
    topic = Varchar(length=60, default="", help_text="Повод, например request.replied")
    reference = Varchar(length=60, default="", help_text="К чему относится, например номер заявки")
    subject = Varchar(length=200, default="", help_text="Тема (для e-mail)")
    body = Text(help_text="Текст уведомления")
    status = Varchar(length=10, choices=choices(NotificationStatus, NOTIFICATION_STATUS_LABELS),
                     default="pending", index=True, help_text="Состояние")
    attempts = Integer(default=0, help_text="Попыток отправки")
    last_error = Text(default="", help_text="Последняя ошибка")
    created_at = Timestamptz(help_text="Поставлено в очередь")
    claimed_at = Timestamptz(null=True, default=None, help_text="Взято в отправку")
    sent_at = Timestamptz(null=True, default=None, help_text="Отправлено")


def contact_for(phone: str, email: str) -> tuple[Channel, str] | None:
    """Where to reach someone: SMS when a phone is known, else e-mail, else nowhere."""
    if phone:
        return Channel.SMS, phone
    if email:
        return Channel.EMAIL, email
    return None


async def enqueue(*, channel: Channel | str, recipient: str, body: str, subject: str = "",
                  subscriber_id: int | None = None, topic: str = "",
                  reference: str = "") -> Notification:
    """Queue one notification; call it inside the transaction of the change it reports."""
    async with write_transaction():
        row = Notification(channel=Channel(channel), recipient=recipient[:200], body=body,
                           subject=subject[:200], subscriber=subscriber_id, topic=topic[:60],
                           reference=reference[:60], created_at=utcnow())
        await row.save()
    return row


@dataclass(frozen=True)
class OutgoingMessage:
    id: int
    channel: str
    recipient: str
    subject: str
    body: str


class Sender(Protocol):
    """Delivers one message or raises; the outbox retries what raised."""

    async def send(self, message: OutgoingMessage) -> None: ...


class ConsoleSender:
    """The default sender: writes each message to the console (and the log)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    async def send(self, message: OutgoingMessage) -> None:
        line = f"[{message.channel} → {message.recipient}] {message.subject} {message.body}".rstrip()
        log.info("notification %s: %s", message.id, line)
        print(line, file=self.stream or sys.stdout, flush=True)


def load_sender(path: str | None = None) -> Sender:
    """Instantiate the sender named ``module:Class`` (default: the console sender)."""
    module_name, _, attr = (path or DEFAULT_SENDER).partition(":")
    factory = getattr(importlib.import_module(module_name), attr or "Sender")
    return factory()


@dataclass(frozen=True)
class SendReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0


async def _claim(row_id: int, now: dt.datetime) -> dict | None:
    """Take one row for sending; two workers never take the same row."""
    stale = now - CLAIM_TIMEOUT
    async with write_transaction():
        rows = await Notification.update(
            {Notification.status: NotificationStatus.SENDING, Notification.claimed_at: now,
             Notification.attempts: Notification.attempts + 1}
        ).where(
            (Notification.id == row_id)
            & ((Notification.status == NotificationStatus.PENDING)
               | ((Notification.status == NotificationStatus.SENDING)
                  & (Notification.claimed_at < stale)))
        ).returning(*Notification.all_columns())
    return rows[0] if rows else None


async def send_pending(sender: Sender | None = None, *, limit: int = 100,
                       now: dt.datetime | None = None) -> SendReport:
    """Send up to ``limit`` queued notifications, oldest first. Safe to run concurrently."""
    sender = sender or load_sender(_configured_sender())
    now = now or utcnow()
    stale = now - CLAIM_TIMEOUT
    candidates = await Notification.select(Notification.id).where(
        (Notification.status == NotificationStatus.PENDING)
        | ((Notification.status == NotificationStatus.SENDING) & (Notification.claimed_at < stale))
    ).order_by(Notification.id).limit(limit)
    sent = retried = failed = 0
    for candidate in candidates:
        row = await _claim(candidate["id"], now)
        if row is None:
            continue
        message = OutgoingMessage(id=row["id"], channel=row["channel"], recipient=row["recipient"],
                                  subject=row["subject"], body=row["body"])
        try:
            await sender.send(message)
        except Exception as exc:  # any gateway failure is recorded, the batch goes on
            give_up = row["attempts"] >= MAX_ATTEMPTS
            status = NotificationStatus.FAILED if give_up else NotificationStatus.PENDING
            await Notification.update({Notification.status: status,
                                       Notification.last_error: f"{type(exc).__name__}: {exc}"[:1000]}
                                      ).where(Notification.id == row["id"])
            failed += give_up
            retried += not give_up
            log.warning("notification %s not sent: %s", row["id"], exc)
            continue
        await Notification.update({Notification.status: NotificationStatus.SENT,
                                   Notification.sent_at: utcnow(), Notification.last_error: ""}
                                  ).where(Notification.id == row["id"])
        sent += 1
    return SendReport(sent=sent, retried=retried, failed=failed)


def _configured_sender() -> str:
    from settings import get_settings

    return get_settings().notification_sender
