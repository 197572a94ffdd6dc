"""Outgoing notifications (SMS, e-mail) through an outbox table: the only way out.

Flows queue a row in the same transaction as the change they report, so a
rolled-back change never notifies and a committed one always will; a row keyed by
its event (``event_key``, unique) is queued once however often its cause is
retried. The worker (:func:`deliver_notifications`, called from the worker's tick
and by ``piccolo tables send-notifications``) hands due rows to a :class:`Sender`,
records every attempt in :class:`NotificationAttempt`, and retries what may pass
later with backoff.

Nothing is sent twice: a row is marked ``sending`` (and its attempt recorded) in a
committed transaction *before* the gateway is called. If the worker dies between
the gateway's answer and the commit of the result, the row stays ``sending``; after
:data:`CLAIM_TIMEOUT` it becomes ``unknown`` ("возможно отправлено") for staff to
check, never re-sent. A gateway that took the request but did not answer
(:class:`providers.errors.MaybeSent`) leads to the same state.

Quiet hours: a non-urgent SMS is not sent between 21:00 and 09:00 local time; it
waits for the morning. E-mail goes at any hour.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import importlib
import logging
import sys
import time
from dataclasses import dataclass
from typing import Protocol, TextIO

from piccolo.columns import (
    Boolean,
    ForeignKey,
    Integer,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.readable import Readable
from piccolo.table import Table

from db.engine import is_sqlite, write_transaction
from providers.errors import MaybeSent, PermanentFailure
from providers.sms import sms_segments
from tables.calendar import LOCAL_TZ, utcnow
from tables.choices import choices
from tables.phones import is_mobile
from tables.subscribers import Subscriber

log = logging.getLogger("centra.notifications")

MAX_ATTEMPTS = 5
#: Waits before the 2nd, 3rd, … attempt of a message the gateway did not take.
BACKOFF = (dt.timedelta(minutes=1), dt.timedelta(minutes=5), dt.timedelta(minutes=30),
           dt.timedelta(hours=2))
# A row left ``sending`` this long by a worker that died is no longer being sent.
CLAIM_TIMEOUT = dt.timedelta(minutes=10)
QUIET_FROM = dt.time(21, 0)
QUIET_UNTIL = dt.time(9, 0)
#: How long after sending the gateway is still asked about delivery.
DELIVERY_WATCH = dt.timedelta(days=2)
DEFAULT_SENDER = "tables.notifications:GatewaySender"
#: The topic of staff broadcasts (``tables.broadcasts``).
BROADCAST_TOPIC = "broadcast"
#: News and offers (a broadcast of that kind): optional mail, with an unsubscribe link.
NEWS_TOPIC = "broadcast.news"
BROADCAST_TOPICS = (BROADCAST_TOPIC, NEWS_TOPIC)
#: The order messages leave in (``Notification.priority``): urgent ones (a password reset, a
#: login), then the other transactional ones, then a broadcast's backlog.
PRIORITY_URGENT, PRIORITY_NORMAL, PRIORITY_BULK = 0, 1, 2
#: Messages one worker claims in one transaction and sends a few at a time.
SEND_BATCH = 20
SEND_CONCURRENCY = 8
UNSUBSCRIBE_PURPOSE = "unsubscribe"
#: Messages carrying a one-time code (``tables.codes``): their text is blanked once the message
#: is out of the queue (sent, refused, maybe sent), so staff reading the outbox never see a code.
SECRET_TOPIC_PREFIX = "code."
SECRET_BODY = "Centra: (одноразовый код скрыт после отправки)"


class Channel(enum.StrEnum):
    SMS = "sms"
    EMAIL = "email"


CHANNEL_LABELS = {"sms": "SMS", "email": "E-mail"}


class NotificationStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    UNKNOWN = "unknown"
    SKIPPED = "skipped"


NOTIFICATION_STATUS_LABELS = {
    "pending": "В очереди",
    "sending": "Отправляется",
    "sent": "Отправлено",
    "failed": "Не отправлено",
    "unknown": "Возможно отправлено (проверить)",
    "skipped": "Пропущено: некуда отправить",
}
#: States staff must see on the subscriber card: the message did not (surely) reach the person.
PROBLEM_STATUSES = (NotificationStatus.FAILED, NotificationStatus.UNKNOWN, NotificationStatus.SKIPPED)


class AttemptOutcome(enum.StrEnum):
    STARTED = "started"
    SENT = "sent"
    RETRY = "retry"
    REJECTED = "rejected"
    UNKNOWN = "unknown"
    INTERRUPTED = "interrupted"


ATTEMPT_OUTCOME_LABELS = {
    "started": "Идёт",
    "sent": "Принято шлюзом",
    "retry": "Ошибка, повтор позже",
    "rejected": "Отказ шлюза",
    "unknown": "Шлюз не ответил",
    "interrupted": "Прервана (сбой отправителя)",
}


class Notification(Table, help_text="Исходящие уведомления (SMS, e-mail): очередь отправки"):
    channel = Varchar(length=10, choices=choices(Channel, CHANNEL_LABELS),
                      help_text="Канал (пусто: отправить некуда)")
    recipient = Varchar(length=200, help_text="Телефон или адрес e-mail")
    subscriber = ForeignKey(Subscriber, null=True, default=None, on_delete=OnDelete.restrict,
                            help_text="Договор (если есть)")
    topic = Varchar(length=60, default="", help_text="Повод, например request.replied")
    reference = Varchar(length=60, default="", help_text="К чему относится, например номер заявки")
    # Unique through an index of its own (migration tables_2026_12_07t09_38_50_000000): SQLite cannot
    # add a UNIQUE column.
    event_key = Varchar(length=150, null=True, default=None,
                        help_text="Ключ события: по одному уведомлению на событие")
    urgent = Boolean(default=False, help_text="Срочное: SMS уходит и в тихие часы (21:00–09:00)")
    priority = Integer(default=PRIORITY_NORMAL,
                       help_text="Очерёдность: 0 срочное, 1 по договору, 2 рассылка (уходит последней)")
    subject = Varchar(length=200, default="", help_text="Тема (для e-mail)")
    body = Text(help_text="Текст уведомления")
    status = Varchar(length=10, choices=choices(NotificationStatus, NOTIFICATION_STATUS_LABELS),
                     default="pending", index=True, help_text="Состояние")
    attempts = Integer(default=0, help_text="Попыток отправки")
    next_attempt_at = Timestamptz(null=True, default=None,
                                  help_text="Следующая попытка не раньше (повтор, тихие часы)")
    last_error = Text(default="", help_text="Последняя ошибка или причина пропуска")
    gateway_id = Varchar(length=200, default="", help_text="Номер у шлюза (SMS id или Message-ID)")
    delivery_code = Integer(null=True, default=None, help_text="Код доставки от шлюза")
    delivery_status = Varchar(length=120, default="", help_text="Доставка по отчёту шлюза")
    created_at = Timestamptz(help_text="Поставлено в очередь")
    claimed_at = Timestamptz(null=True, default=None, help_text="Взято в отправку")
    sent_at = Timestamptz(null=True, default=None, help_text="Отправлено")

    @classmethod
    def get_readable(cls) -> Readable:
        return Readable(template="№ %s → %s", columns=[cls.id, cls.recipient])


class NotificationAttempt(Table, help_text="Попытки отправки уведомлений: каждая с итогом и ответом шлюза"):
    notification = ForeignKey(Notification, null=False, on_delete=OnDelete.restrict,
                              help_text="Уведомление")
    number = Integer(help_text="Попытка №")
    started_at = Timestamptz(help_text="Начата")
    finished_at = Timestamptz(null=True, default=None, help_text="Закончена")
    outcome = Varchar(length=12, choices=choices(AttemptOutcome, ATTEMPT_OUTCOME_LABELS),
                      default="started", help_text="Итог")
    detail = Text(default="", help_text="Ответ шлюза или ошибка")


class MessageKind(enum.StrEnum):
    """What a message is about, for the subscriber's choice of channel."""

    ACCOUNT = "account"      # payments, service state, requests, password: cannot be switched off
    REMINDERS = "reminders"  # low balance, promised payment ending: optional
    NEWS = "news"            # marketing: only with consent (38-FZ), with an unsubscribe link
    LOGINS = "logins"        # a login to the cabinet from a new device: off unless asked for


MESSAGE_KIND_LABELS = {
    "account": "Платежи, состояние услуг, заявки, пароль",
    "reminders": "Напоминания: баланс перед списанием, конец обещанного платежа",
    "news": "Новости и предложения Centra",
    "logins": "Вход в личный кабинет с нового устройства",
}
CHANNEL_CHOICES = {
    "auto": "SMS, а без мобильного — e-mail",
    "sms": "SMS",
    "email": "E-mail",
    "none": "Не присылать",
}
#: The choices each kind allows (the first is the default); transactional ones cannot be "none".
KIND_CHANNELS = {
    MessageKind.ACCOUNT: ("auto", "sms", "email"),
    MessageKind.REMINDERS: ("auto", "sms", "email", "none"),
    MessageKind.NEWS: ("none", "sms", "email"),
    MessageKind.LOGINS: ("none", "sms", "email"),
}


class MessagePreference(Table, help_text="Настройки уведомлений абонентов: канал по видам сообщений"):
    subscriber = ForeignKey(Subscriber, null=False, unique=True, on_delete=OnDelete.restrict,
                            help_text="Договор")
    account = Varchar(length=10, default="auto",
                      help_text="Платежи, услуги, заявки: auto, sms или email (отключить нельзя)")
    reminders = Varchar(length=10, default="auto", help_text="Напоминания: auto, sms, email или none")
    news = Varchar(length=10, default="none", help_text="Новости и предложения: none (по умолчанию), "
                                                         "sms или email — только с согласия")
    logins = Varchar(length=10, default="none",
                     help_text="Вход с нового устройства: none (по умолчанию), sms или email")
    news_consent_at = Timestamptz(null=True, default=None,
                                  help_text="Согласие на новости и предложения получено")
    updated_at = Timestamptz(help_text="Изменено")


async def message_preferences(subscriber_id: int) -> dict[str, str]:
    """The subscriber's channel per kind (defaults for a subscriber who never chose)."""
    row = await MessagePreference.select(
        MessagePreference.account, MessagePreference.reminders, MessagePreference.news,
        MessagePreference.logins,
    ).where(MessagePreference.subscriber == subscriber_id).first()
    return row or {kind.value: channels[0] for kind, channels in KIND_CHANNELS.items()}


async def save_message_preferences(subscriber_id: int, choices_: dict[str, str], *, actor) -> dict:
    """Store the subscriber's choices (all three kinds) with an audit entry.

    :raises ValueError: with a Russian message for a choice the kind does not allow
        (transactional messages cannot be switched off).
    """
    from tables.audit import write_audit

    chosen = {}
    for kind, allowed in KIND_CHANNELS.items():
        value = (choices_.get(kind.value) or "").strip()
        if value not in allowed:
            if kind == MessageKind.ACCOUNT and value == "none":
                raise ValueError("Сообщения о платежах, состоянии услуг и заявках отключить нельзя: "
                                 "выберите SMS или e-mail.")
            raise ValueError(f"Выберите, как присылать: {MESSAGE_KIND_LABELS[kind].lower()}.")
        chosen[kind.value] = value
    now = utcnow()
    async with write_transaction():
        before = await message_preferences(subscriber_id)
        old = await MessagePreference.select(MessagePreference.news_consent_at).where(
            MessagePreference.subscriber == subscriber_id).first()
        # Consent to news is the moment it was first given; switching news off withdraws it.
        consent = None
        if chosen["news"] != "none":
            consent = (old or {}).get("news_consent_at") if before["news"] != "none" else None
            consent = consent or now
        values = {MessagePreference.account: chosen["account"],
                  MessagePreference.reminders: chosen["reminders"],
                  MessagePreference.news: chosen["news"], MessagePreference.logins: chosen["logins"],
                  MessagePreference.news_consent_at: consent,
                  MessagePreference.updated_at: now}
        if old is None:
            await MessagePreference.insert(MessagePreference(
                subscriber=subscriber_id, updated_at=now, news_consent_at=consent, **chosen))
        else:
            await MessagePreference.update(values).where(MessagePreference.subscriber == subscriber_id)
        if before != chosen:
            await write_audit(action="subscriber.message_preferences", object_type="subscriber",
                              object_id=subscriber_id, actor=actor, before=before, after=chosen)
    return chosen


# --- where to send ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Route:
    """Where a message to someone goes, or why nowhere (``channel`` is None)."""

    channel: Channel | None
    recipient: str
    reason: str = ""


def route_for(phone: str | None, email: str | None, preferred: str = "auto") -> Route:
    """SMS to a mobile number, else e-mail, else nowhere with the reason staff will read.

    A landline or 8-800 number never gets an SMS (``tables.phones.is_mobile``). With
    ``preferred="email"`` e-mail comes first; a preferred channel that is missing falls back.
    """
    if preferred == "email" and email:
        return Route(Channel.EMAIL, email)
    if phone and is_mobile(phone):
        return Route(Channel.SMS, phone)
    if email:
        return Route(Channel.EMAIL, email)
    if phone:
        return Route(None, phone, f"телефон {phone} не мобильный (SMS не дойдёт), e-mail не указан")
    return Route(None, "", "не указаны ни мобильный телефон, ни e-mail")


def contact_for(phone: str, email: str) -> tuple[Channel, str] | None:
    """Where to reach someone: SMS to a mobile phone, else e-mail, else nowhere."""
    route = route_for(phone, email)
    return (route.channel, route.recipient) if route.channel else None


# --- queueing ---------------------------------------------------------------------------------
async def enqueue(*, channel: Channel | str | None, recipient: str, body: str, subject: str = "",
                  subscriber_id: int | None = None, topic: str = "", reference: str = "",
                  event_key: str | None = None, urgent: bool = False,
                  skipped_reason: str = "") -> Notification | None:
    """Queue one notification; call it inside the transaction of the change it reports.

    With ``event_key`` a second call for the same event queues nothing and returns None.
    Without a channel the row is stored as skipped with ``skipped_reason`` (staff see why).
    """
    async with write_transaction():
        row = Notification(
            channel=Channel(channel) if channel else "", recipient=recipient[:200], body=body,
            subject=subject[:200], subscriber=subscriber_id, topic=topic[:60],
            reference=reference[:60], event_key=event_key[:150] if event_key else None,
            urgent=urgent, priority=PRIORITY_URGENT if urgent else PRIORITY_NORMAL, created_at=utcnow(),
            status=NotificationStatus.PENDING if channel else NotificationStatus.SKIPPED,
            last_error="" if channel else (skipped_reason or "некуда отправить"),
        )
        query = Notification.insert(row)
        if event_key:
            query = query.on_conflict(target=Notification.event_key, action="DO NOTHING")
        inserted = await query.returning(Notification.id)
    if not inserted:
        return None
    row.id = inserted[0]["id"]
    row._exists_in_db = True
    return row


def one_segment(text: str) -> str:
    """The text cut to one SMS segment (with an ellipsis) when it is longer."""
    if sms_segments(text) == 1:
        return text
    limit = 70 if sms_segments(text + "я") > 1 and not text.isascii() else 160
    return text[: limit - 1].rstrip() + "…"


async def notify_subscriber(subscriber_id: int, *, topic: str, text: str, event_key: str,
                            subject: str = "", reference: str = "", urgent: bool = False,
                            kind: MessageKind | str = MessageKind.ACCOUNT) -> Notification | None:
    """Queue a message to a contract's holder, once per ``event_key``, in the caller's transaction.

    The subscriber's channel for ``kind`` is honoured (``MessagePreference``); an optional kind
    switched off queues nothing.

    :param text: the message without the signature; SMS texts are kept to one segment.
    :returns: the queued row, or None when this event was already queued (or is not wanted).
    """
    person = await Subscriber.select(Subscriber.phone, Subscriber.email,
                                     Subscriber.contract_number).where(
        Subscriber.id == subscriber_id).first()
    if person is None:
        return None
    preferred = (await message_preferences(subscriber_id))[MessageKind(kind).value]
    if preferred == "none":
        return None
    route = route_for(person["phone"], person["email"], preferred)
    body = f"Centra: {text}"
    if route.channel == Channel.SMS:
        body = one_segment(body)
    return await enqueue(
        channel=route.channel, recipient=route.recipient, body=body,
        subject=subject or f"Договор № {person['contract_number']}", subscriber_id=subscriber_id,
        topic=topic, reference=reference or person["contract_number"], event_key=event_key,
        urgent=urgent, skipped_reason=route.reason,
    )


@dataclass(frozen=True)
class SubscriberMessage:
    """One contract's message for :func:`notify_subscribers`."""

    subscriber_id: int
    text: str
    event_key: str


#: Contracts per round trip of :func:`notify_subscribers` (13 parameters a row stay far below
#: both engines' limits on bound parameters).
NOTIFY_BATCH = 1000


async def notify_subscribers(messages: list[SubscriberMessage], *, topic: str, subject: str = "",
                             urgent: bool = False,
                             kind: MessageKind | str = MessageKind.ACCOUNT) -> int:
    """:func:`notify_subscriber` for many contracts at once, in the caller's transaction: the
    same routing, preferences, signature and once-per-``event_key``, in three statements per
    :data:`NOTIFY_BATCH` contracts instead of three per contract (the charge run suspends
    thousands of contracts on the 1st inside its transaction).

    :returns: how many messages were queued (an event queued before counts nothing).
    """
    queued = 0
    kind = MessageKind(kind).value
    default = {k.value: channels[0] for k, channels in KIND_CHANNELS.items()}[kind]
    for start in range(0, len(messages), NOTIFY_BATCH):
        batch = messages[start:start + NOTIFY_BATCH]
        ids = list({m.subscriber_id for m in batch})
        people = {row["id"]: row for row in await Subscriber.select(
            Subscriber.id, Subscriber.phone, Subscriber.email, Subscriber.contract_number,
        ).where(Subscriber.id.is_in(ids))}
        chosen = {row["subscriber"]: row[kind] for row in await MessagePreference.select(
            MessagePreference.subscriber, getattr(MessagePreference, kind),
        ).where(MessagePreference.subscriber.is_in(ids))}
        rows, now = [], utcnow()
        for message in batch:
            person = people.get(message.subscriber_id)
            preferred = chosen.get(message.subscriber_id, default)
            if person is None or preferred == "none":
                continue
            route = route_for(person["phone"], person["email"], preferred)
            body = f"Centra: {message.text}"
            if route.channel == Channel.SMS:
                body = one_segment(body)
            rows.append(Notification(
                channel=route.channel or "", recipient=route.recipient[:200], body=body,
                subject=(subject or f"Договор № {person['contract_number']}")[:200],
                subscriber=message.subscriber_id, topic=topic[:60], reference=person["contract_number"][:60],
                event_key=message.event_key[:150], urgent=urgent, created_at=now,
                priority=PRIORITY_URGENT if urgent else PRIORITY_NORMAL,
                status=NotificationStatus.PENDING if route.channel else NotificationStatus.SKIPPED,
                last_error="" if route.channel else (route.reason or "некуда отправить"),
            ))
        if rows:
            async with write_transaction():
                queued += len(await Notification.insert(*rows).on_conflict(
                    target=Notification.event_key, action="DO NOTHING").returning(Notification.id))
    return queued


# --- senders ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class OutgoingMessage:
    id: int
    channel: str
    recipient: str
    subject: str
    body: str
    key: str = ""
    unsubscribe_url: str = ""


@dataclass(frozen=True)
class SendResult:
    """What the gateway said when it took the message."""

    gateway_id: str = ""
    status: str = ""


@dataclass(frozen=True)
class Delivery:
    """A delivery report: the gateway's code, its text, and whether it is final."""

    code: int
    text: str
    delivered: bool = False
    failed: bool = False


class Sender(Protocol):
    """Delivers one message or raises.

    Raise :class:`providers.errors.PermanentFailure` when it can never go,
    :class:`providers.errors.MaybeSent` when the gateway may have it, anything else to
    have it retried. A sender may also offer ``async delivery(gateway_id) -> Delivery | None``.
    """

    async def send(self, message: OutgoingMessage) -> SendResult | None: ...


class ConsoleSender:
    """Writes each message to the console (and the log): development without gateways."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    async def send(self, message: OutgoingMessage) -> SendResult:
        line = f"[{message.channel} → {message.recipient}] {message.subject} {message.body}".rstrip()
        log.info("notification %s: %s", message.id, line)
        print(line, file=self.stream or sys.stdout, flush=True)
        return SendResult("", "выведено в консоль")


class GatewaySender:
    """E-mail over SMTP and SMS over the HTTP gateway, as configured in settings.

    A channel without its settings (no ``CENTRA_SMTP_HOST`` / ``CENTRA_SMS_API_ID``) goes to
    the console, so a laptop without gateways still shows what would be sent.
    """

    def __init__(self, settings=None, *, console: ConsoleSender | None = None) -> None:
        from providers.email import SmtpConfig
        from providers.sms import SmsConfig, SmsRuClient

        if settings is None:
            from settings import get_settings

            settings = get_settings()
        self.console = console or ConsoleSender()
        self.smtp = SmtpConfig(
            host=settings.smtp_host, port=settings.smtp_port, security=settings.smtp_security,
            username=settings.smtp_username, password=settings.smtp_password.get_secret_value(),
            from_address=settings.mail_from) if settings.smtp_host else None
        api_id = settings.sms_api_id.get_secret_value()
        self.sms = SmsRuClient(SmsConfig(api_id=api_id, base_url=settings.sms_api_url,
                                         sender=settings.sms_sender)) if api_id else None

    async def send(self, message: OutgoingMessage) -> SendResult:
        if message.channel == Channel.EMAIL and self.smtp is not None:
            from providers.email import Letter, send_letter

            message_id = await send_letter(
                Letter(to=message.recipient, subject=message.subject, text=message.body,
                       unsubscribe_url=message.unsubscribe_url, message_key=message.key),
                self.smtp)
            return SendResult(message_id, "принято почтовым сервером")
        if message.channel == Channel.SMS and self.sms is not None:
            from providers.sms import DELIVERY_TEXTS

            accepted = await self.sms.send(message.recipient, message.body)
            return SendResult(accepted.sms_id, DELIVERY_TEXTS.get(accepted.status_code, "принято"))
        return await self.console.send(message)

    async def delivery(self, gateway_id: str) -> Delivery | None:
        if self.sms is None:
            return None
        status = await self.sms.status(gateway_id)
        return Delivery(status.code, status.text, status.delivered, status.failed)

    async def aclose(self) -> None:
        if self.sms is not None:
            await self.sms.aclose()


def load_sender(path: str | None = None) -> Sender:
    """Instantiate the sender named ``module:Class`` (default: :class:`GatewaySender`)."""
    module_name, _, attr = (path or DEFAULT_SENDER).partition(":")
    factory = getattr(importlib.import_module(module_name), attr or "Sender")
    return factory()


# --- the worker -------------------------------------------------------------------------------
@dataclass(frozen=True)
class SendReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    unknown: int = 0
    deferred: int = 0


def quiet_until(now: dt.datetime) -> dt.datetime | None:
    """The end of the quiet hours (09:00 local) when ``now`` falls inside them, else None."""
    local = now.astimezone(LOCAL_TZ)
    if local.time() >= QUIET_FROM:
        day = local.date() + dt.timedelta(days=1)
    elif local.time() < QUIET_UNTIL:
        day = local.date()
    else:
        return None
    return dt.datetime.combine(day, QUIET_UNTIL, tzinfo=LOCAL_TZ)


def _is_due(now: dt.datetime):
    return (Notification.status == NotificationStatus.PENDING) & (
        Notification.next_attempt_at.is_null() | (Notification.next_attempt_at <= now))


async def _abandon_stale(now: dt.datetime) -> int:
    """Rows a dead worker left ``sending``: maybe sent, so never sent again; staff check them."""
    stale = now - CLAIM_TIMEOUT
    async with write_transaction():
        rows = await Notification.update(
            {Notification.status: NotificationStatus.UNKNOWN,
             Notification.last_error: "отправка прервана сбоем: сообщение могло уйти, повторно "
                                      "не отправляется"}
        ).where((Notification.status == NotificationStatus.SENDING)
                & (Notification.claimed_at < stale)).returning(Notification.id)
        ids = [r["id"] for r in rows]
        if ids:
            await NotificationAttempt.update(
                {NotificationAttempt.outcome: AttemptOutcome.INTERRUPTED,
                 NotificationAttempt.finished_at: now}
            ).where(NotificationAttempt.notification.is_in(ids)
                    & (NotificationAttempt.outcome == AttemptOutcome.STARTED))
    return len(ids)


async def _defer_quiet(now: dt.datetime) -> int:
    """In the quiet hours, due non-urgent SMS wait for 09:00 (no attempt used), in one statement."""
    morning = quiet_until(now)
    if morning is None:
        return 0
    async with write_transaction():
        rows = await Notification.update({Notification.next_attempt_at: morning}).where(
            _is_due(now) & (Notification.channel == Channel.SMS) & (Notification.urgent == False)  # noqa: E712
        ).returning(Notification.id)
    return len(rows)


_DUE = ("status = 'pending' AND channel = {} AND (next_attempt_at IS NULL OR next_attempt_at <= {})")


@dataclass
class _Batch:
    """Messages claimed together: (row, attempt id) pairs and the rate slots they hold."""

    rows: list[tuple[dict, int]]
    slots: list[int]
    #: Seconds until a gateway with due messages has a free slot (None: nothing is waiting).
    wait: float | None = None


async def _claim_batch(now: dt.datetime, room: int) -> _Batch:
    """Claim up to ``room`` due messages per gateway, most urgent first, each with a rate slot,
    and record their attempts: committed before any gateway is called."""
    from tables.send_rate import BUSY_POLL, gateway_rate, release_slots, seconds_until_free, take_slots

    night = quiet_until(now) is not None
    skip = "" if is_sqlite() else " FOR UPDATE SKIP LOCKED"
    claimed: list[dict] = []
    slots: list[int] = []
    waits: list[float] = []
    for channel in (Channel.SMS, Channel.EMAIL):
        rate = gateway_rate(channel)
        urgent_only = " AND urgent = {}" if night and channel == Channel.SMS else ""
        args: list = [channel.value, now] + ([True] if urgent_only else [])
        async with write_transaction():
            due = await Notification.raw(
                f"SELECT id FROM notification WHERE {_DUE}{urgent_only} "
                "ORDER BY status, channel, priority, id LIMIT {}", *args, room)
            if not due:
                continue
            wanted, taken = len(due), []
            if rate:
                at = time.time()
                taken = await take_slots(channel, rate, wanted, at=at)
                if not taken:
                    waits.append(await seconds_until_free(channel, rate))
                    continue
                wanted = len(taken)
            # The rows are picked once (a materialised CTE): PostgreSQL may run an ``IN (SELECT …
            # LIMIT n FOR UPDATE SKIP LOCKED)`` again per row and update more than n.
            rows = await Notification.raw(
                f"WITH picked AS MATERIALIZED (SELECT id FROM notification WHERE {_DUE}{urgent_only} "
                f"ORDER BY status, channel, priority, id LIMIT {{}}{skip}) "
                "UPDATE notification SET status = 'sending', claimed_at = {}, attempts = attempts + 1 "
                "WHERE id IN (SELECT id FROM picked) AND status = 'pending' RETURNING *",
                *args, wanted, now)
            if rate and len(rows) < len(taken):
                await release_slots(taken[len(rows):], at=at)
                taken = taken[:len(rows)]
            if not rows:  # another worker claimed them first: look again soon
                waits.append(BUSY_POLL)
            if rows:
                attempts = await NotificationAttempt.insert(*[NotificationAttempt(
                    notification=r["id"], number=r["attempts"], started_at=now) for r in rows]
                ).returning(NotificationAttempt.id, NotificationAttempt.notification)
                attempt_of = {a["notification"]: a["id"] for a in attempts}
                for r in rows:
                    r["attempt_id"] = attempt_of[r["id"]]
            claimed += rows
            slots += taken
    claimed.sort(key=lambda r: (r["priority"], r["id"]))
    return _Batch([(r, r.pop("attempt_id")) for r in claimed], slots,
                  min(waits) if waits else None)


async def send_pending(sender: Sender | None = None, *, limit: int = 100,
                       now: dt.datetime | None = None, budget: float = 0.0) -> SendReport:
    """Send up to ``limit`` due notifications: urgent ones first, then the other transactional
    ones, then broadcasts (oldest first within each), within each gateway's rate
    (``tables.send_rate``). Safe to run in any number of workers at once.

    :param budget: seconds the pass may go on (waiting for a gateway's rate included); 0: until
        ``limit`` or the first wait for a gateway's rate (what is left goes in the next pass).
    """
    own_sender = sender is None
    sender = sender or load_sender(_configured_sender())
    now = now or utcnow()
    unknown = await _abandon_stale(now)
    deferred = await _defer_quiet(now)
    counts = dict.fromkeys(("sent", "retry", "failed", "unknown"), 0)
    deadline = time.monotonic() + budget
    processed = 0
    try:
        while processed < limit:
            batch = await _claim_batch(now, min(SEND_BATCH, limit - processed))
            if batch.rows:
                for outcome in await _send_batch(sender, batch, now):
                    counts[outcome] += 1
                processed += len(batch.rows)
                if budget and time.monotonic() > deadline:
                    break
                continue
            if batch.wait is None or time.monotonic() + batch.wait > deadline:
                break  # nothing due, or the rate allows no more in this pass
            await asyncio.sleep(min(max(batch.wait, 0.005), 0.25))
    finally:
        if own_sender and hasattr(sender, "aclose"):
            await sender.aclose()
    return SendReport(sent=counts["sent"], retried=counts["retry"], failed=counts["failed"],
                      unknown=unknown + counts["unknown"], deferred=deferred)


async def _send_batch(sender: Sender, batch: _Batch, now: dt.datetime) -> list[str]:
    """Send the claimed messages (a few at a time), then record every result and free their
    rate slots in one transaction."""
    from tables.send_rate import slots_done

    gate = asyncio.Semaphore(SEND_CONCURRENCY)

    async def one(row: dict) -> tuple[str, NotificationStatus, AttemptOutcome, str, dict]:
        async with gate:
            return await _send_one(sender, row, now)

    results = await asyncio.gather(*(one(row) for row, _ in batch.rows))
    async with write_transaction():
        for (row, attempt_id), (_, status, outcome, detail, changes) in zip(batch.rows, results,
                                                                            strict=True):
            await _finish(row, attempt_id, status=status, outcome=outcome, detail=detail,
                          changes=changes)
        await slots_done(batch.slots)
    return [r[0] for r in results]


async def _finish(row: dict, attempt_id: int, *, status: NotificationStatus,
                  outcome: AttemptOutcome, detail: str, changes: dict | None = None) -> None:
    changes = dict(changes or {})
    if row["topic"].startswith(SECRET_TOPIC_PREFIX) and status != NotificationStatus.PENDING:
        changes[Notification.body] = SECRET_BODY
    async with write_transaction():
        await Notification.update({Notification.status: status, **changes}).where(
            Notification.id == row["id"])
        await NotificationAttempt.update(
            {NotificationAttempt.outcome: outcome, NotificationAttempt.detail: detail[:1000],
             NotificationAttempt.finished_at: utcnow()}
        ).where(NotificationAttempt.id == attempt_id)


async def _send_one(sender: Sender, row: dict, now: dt.datetime
                    ) -> tuple[str, NotificationStatus, AttemptOutcome, str, dict]:
    """Call the gateway for one claimed message; returns what to record (nothing written here)."""
    unsubscribe = ""
    if row["topic"] == NEWS_TOPIC and row["subscriber"]:
        unsubscribe = unsubscribe_url(row["subscriber"])
    message = OutgoingMessage(id=row["id"], channel=row["channel"], recipient=row["recipient"],
                              subject=row["subject"], body=row["body"],
                              key=f"centra-n{row['id']}", unsubscribe_url=unsubscribe)
    try:
        result = await sender.send(message) or SendResult()
    except PermanentFailure as exc:
        log.warning("notification %s refused: %s", row["id"], exc)
        return ("failed", NotificationStatus.FAILED, AttemptOutcome.REJECTED, str(exc),
                {Notification.last_error: str(exc)[:1000]})
    except MaybeSent as exc:
        text = f"{exc}: сообщение могло уйти, повторно не отправляется"
        log.warning("notification %s maybe sent: %s", row["id"], exc)
        return ("unknown", NotificationStatus.UNKNOWN, AttemptOutcome.UNKNOWN, str(exc),
                {Notification.last_error: text[:1000]})
    except Exception as exc:  # any other gateway failure may pass later; the batch goes on
        give_up = row["attempts"] >= MAX_ATTEMPTS
        error = f"{type(exc).__name__}: {exc}"[:1000]
        changes = {Notification.last_error: error}
        if not give_up:
            changes[Notification.next_attempt_at] = now + BACKOFF[min(row["attempts"], len(BACKOFF)) - 1]
        log.warning("notification %s not sent (attempt %s): %s", row["id"], row["attempts"], exc)
        return ("failed" if give_up else "retry",
                NotificationStatus.FAILED if give_up else NotificationStatus.PENDING,
                AttemptOutcome.RETRY, error, changes)
    return ("sent", NotificationStatus.SENT, AttemptOutcome.SENT,
            " ".join(filter(None, [result.status, result.gateway_id])),
            {Notification.sent_at: utcnow(), Notification.last_error: "",
             Notification.gateway_id: result.gateway_id[:200],
             Notification.delivery_status: result.status[:120]})


async def record_delivery(gateway_id: str, report: Delivery) -> bool:
    """Store a delivery report (from a status poll or the gateway's callback).

    A final failure turns the message into a permanent failure staff see. Returns
    whether a message with that gateway id exists.
    """
    if not gateway_id:
        return False
    changes = {Notification.delivery_code: report.code,
               Notification.delivery_status: report.text[:120]}
    if report.failed:
        changes.update({Notification.status: NotificationStatus.FAILED,
                        Notification.last_error: f"оператор сообщил: {report.text}"[:1000]})
    async with write_transaction():
        rows = await Notification.update(changes).where(
            (Notification.gateway_id == gateway_id) & (Notification.status == NotificationStatus.SENT)
        ).returning(Notification.id)
    return bool(rows)


async def poll_deliveries(sender: Sender, *, now: dt.datetime | None = None,
                          limit: int = 100) -> int:
    """Ask the gateway about SMS sent in the last two days without a final report."""
    delivery = getattr(sender, "delivery", None)
    if delivery is None:
        return 0
    now = now or utcnow()
    rows = await Notification.select(Notification.gateway_id).where(
        (Notification.status == NotificationStatus.SENT) & (Notification.channel == Channel.SMS)
        & (Notification.gateway_id != "") & (Notification.sent_at > now - DELIVERY_WATCH)
        & (Notification.delivery_code.is_null() | (Notification.delivery_code < 103))
    ).order_by(Notification.id).limit(limit)
    changed = 0
    for row in rows:
        try:
            report = await delivery(row["gateway_id"])
        except Exception as exc:  # a poll that fails is asked again next tick
            log.warning("delivery poll for %s failed: %s", row["gateway_id"], exc)
            continue
        if report is not None and report.code >= 100:
            changed += await record_delivery(row["gateway_id"], report)
    return changed


async def deliver_notifications(*, sender: Sender | None = None, limit: int = 100,
                                now: dt.datetime | None = None, budget: float = 0.0) -> dict[str, int]:
    """One pass of the outbox for the worker's tick: send what is due (going on for up to
    ``budget`` seconds while a gateway's rate holds messages back), then collect delivery reports."""
    own_sender = sender is None
    sender = sender or load_sender(_configured_sender())
    try:
        report = await send_pending(sender, limit=limit, now=now, budget=budget)
        polled = await poll_deliveries(sender, now=now)
    finally:
        if own_sender and hasattr(sender, "aclose"):
            await sender.aclose()
    return {"sent": report.sent, "retried": report.retried, "failed": report.failed,
            "unknown": report.unknown, "deferred": report.deferred, "delivery_reports": polled}


async def problem_notifications(subscriber_id: int, *, limit: int = 10) -> list[dict]:
    """A contract's messages that did not (surely) reach the person, newest first (the card)."""
    return await Notification.select(
        Notification.id, Notification.created_at, Notification.channel, Notification.recipient,
        Notification.topic, Notification.body, Notification.status, Notification.last_error,
    ).where((Notification.subscriber == subscriber_id)
            & Notification.status.is_in(list(PROBLEM_STATUSES))
            ).order_by(Notification.id, ascending=False).limit(limit)


# --- unsubscribing from news ------------------------------------------------------------------
def _signature(payload: str, purpose: str = UNSUBSCRIBE_PURPOSE) -> str:
    """The cabinet's signing scheme (``cabinet/signing.py``: HMAC-SHA256 of ``purpose:payload``
    with ``CENTRA_SECRET_KEY``, 24 hex), here because the outbox writes the links."""
    import hashlib
    import hmac

    from settings import get_settings

    key = get_settings().secret_key.get_secret_value().encode()
    return hmac.new(key, f"{purpose}:{payload}".encode(), hashlib.sha256).hexdigest()[:24]


SMS_CALLBACK_PATH = "/notifications/sms-status"


def sms_callback_key() -> str:
    """The secret last segment of the delivery-report URL given to the SMS gateway."""
    return _signature("gateway", purpose="sms-callback")


def sms_callback_url() -> str:
    """Where the gateway posts delivery reports (set it in the gateway's account)."""
    from settings import get_settings

    return f"{get_settings().public_url.rstrip('/')}{SMS_CALLBACK_PATH}/{sms_callback_key()}"


def unsubscribe_token(subscriber_id: int) -> str:
    return f"{subscriber_id}.{_signature(str(subscriber_id))}"


def unsubscribe_url(subscriber_id: int) -> str:
    from settings import get_settings

    return f"{get_settings().public_url.rstrip('/')}/unsubscribe/{unsubscribe_token(subscriber_id)}"


def subscriber_of_unsubscribe_token(token: str) -> int | None:
    import hmac

    payload, _, digest = (token or "").rpartition(".")
    if not payload.isdigit() or len(payload) > 10 or not hmac.compare_digest(_signature(payload), digest):
        return None
    return int(payload)


async def unsubscribe_from_news(token: str) -> bool:
    """Switch news off for the contract a (signed) unsubscribe link names; audited.

    :returns: False for a link that is not ours (changed, cut, forged).
    """
    from tables.audit import SYSTEM

    subscriber_id = subscriber_of_unsubscribe_token(token)
    if subscriber_id is None or not await Subscriber.exists().where(Subscriber.id == subscriber_id):
        return False
    chosen = await message_preferences(subscriber_id)
    if chosen["news"] != "none":
        await save_message_preferences(subscriber_id, {**chosen, "news": "none"}, actor=SYSTEM)
    return True


def _configured_sender() -> str:
    from settings import get_settings

    return get_settings().notification_sender
