"""Staff messages to a segment of subscribers (рассылки): preview, confirm, queue, statistics.

Confirming a broadcast records it with its audit entry (and, from the office page, its
background job) in one transaction; the job (``jobs.broadcasts``) then queues one outbox row per
contract of the segment, :data:`QUEUE_BATCH` contracts per transaction, counting its progress
(100,000 messages are never one request or one transaction). The outbox sends them within the
gateways' rates and after every transactional message (``Notification.priority``), so a mass
send never holds up a payment's SMS. Queueing again after a crash adds only what is missing
(one row per broadcast and contract, ``event_key``). A *service notice* (maintenance, an
outage) goes to everyone in the segment by the channel they chose for account messages; *news*
goes only to those who agreed to it (38-FZ), by the channel they chose for news.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from piccolo.columns import Integer, Text, Timestamptz, Varchar
from piccolo.table import Table

from db.engine import is_sqlite, write_transaction
from providers.sms import sms_segments
from tables.audit import Actor, write_audit
from tables.calendar import utcnow
from tables.choices import choices
from tables.money import format_amount, read_rubles
from tables.notifications import (
    BROADCAST_TOPIC,
    NEWS_TOPIC,
    PRIORITY_BULK,
    Channel,
    MessagePreference,
    Notification,
    one_segment,
    route_for,
)
from tables.subscribers import SUBSCRIBER_STATUS_LABELS

MAX_TEXT = 500
#: Contracts read and queued per transaction by the queueing job.
QUEUE_BATCH = 1000


class BroadcastKind(enum.StrEnum):
    NOTICE = "notice"
    NEWS = "news"


BROADCAST_KIND_LABELS = {
    "notice": "Сервисное сообщение (работы, аварии): всем в выборке",
    "news": "Новости и предложения: только согласившимся",
}


class Broadcast(Table, help_text="Рассылки абонентам: выборка, текст, сколько поставлено в очередь"):
    kind = Varchar(length=10, choices=choices(BroadcastKind, BROADCAST_KIND_LABELS), help_text="Вид")
    segment = Text(help_text="Выборка: кому отправлено")
    text = Text(help_text="Текст рассылки")
    recipients = Integer(default=0, help_text="Поставлено в очередь сообщений")
    created_at = Timestamptz(help_text="Отправлена")
    created_by = Varchar(length=150, help_text="Кто отправил")
    job = Integer(null=True, default=None,
                  help_text="Фоновое задание: ставит сообщения в очередь (номер задания)")

    @property
    def reference(self) -> str:
        return reference_of(self.id)


def reference_of(broadcast_id: int) -> str:
    return f"B-{broadcast_id}"


@dataclass(frozen=True)
class Segment:
    """Who a broadcast goes to; empty fields do not narrow it."""

    town_id: int | None = None
    street: str = ""
    house: str = ""
    tariff_id: int | None = None
    status: str = ""
    debt_above: int | None = None  # kopecks: only contracts owing more than this

    def where(self) -> tuple[str, list[Any]]:
        clauses = ["s.status <> 'terminated'"]
        args: list[Any] = []
        if self.town_id:
            clauses.append("st.town = {}")
            args.append(self.town_id)
        if self.street:
            clauses.append("LOWER(st.name) LIKE {}")
            args.append(f"%{self.street.lower()}%")
        if self.house:
            clauses.append("a.house = {}")
            args.append(self.house)
        if self.tariff_id:
            clauses.append("s.tariff = {}")
            args.append(self.tariff_id)
        if self.status:
            clauses.append("s.status = {}")
            args.append(self.status)
        if self.debt_above is not None:
            clauses.append("s.balance < {}")
            args.append(-self.debt_above)
        return " AND ".join(clauses), args

    def as_dict(self) -> dict[str, Any]:
        """The segment as the job's arguments (JSON)."""
        return asdict(self)

    def label(self, town: str = "", tariff: str = "") -> str:
        parts = [town and f"город {town}", self.street and f"улица «{self.street}»",
                 self.house and f"дом {self.house}", tariff and f"тариф «{tariff}»",
                 self.status and SUBSCRIBER_STATUS_LABELS.get(self.status, self.status).lower(),
                 self.debt_above is not None and f"долг больше {format_amount(self.debt_above)} ₽"]
        return ", ".join(p for p in parts if p) or "все действующие договоры"


def parse_segment(fields: dict[str, str]) -> Segment:
    """A segment from the staff form's text fields (Russian message on bad input)."""
    def _id(name: str) -> int | None:
        value = (fields.get(name) or "").strip()
        if not value:
            return None
        if not value.isdigit() or not 0 < int(value) < 2**31:
            raise ValueError("Выберите значение из списка")
        return int(value)

    status = (fields.get("status") or "").strip()
    if status and status not in ("active", "suspended", "paused"):
        raise ValueError("Состояние договора: действует, приостановлен или добровольная блокировка")
    debt_text = (fields.get("debt_above") or "").strip()
    debt = None
    if debt_text:
        try:
            debt = read_rubles(debt_text)
        except ValueError:
            debt = None
        if debt is None or debt < 0:
            raise ValueError("Долг указывается в рублях, например 500 или 1 500,50")
    return Segment(town_id=_id("town"), street=(fields.get("street") or "").strip()[:100],
                   house=(fields.get("house") or "").strip()[:20], tariff_id=_id("tariff"),
                   status=status, debt_above=debt)


def check_text(text: str) -> str:
    text = " ".join((text or "").split())
    if len(text) < 5:
        raise ValueError("Напишите текст рассылки (не короче 5 символов)")
    if len(text) > MAX_TEXT:
        raise ValueError(f"Текст рассылки — не длиннее {MAX_TEXT} символов")
    return text


_SELECT = """
SELECT s.id, s.phone, s.email, p.account, p.news
FROM subscriber s
JOIN address a ON a.id = s.address
JOIN street st ON st.id = a.street
LEFT JOIN message_preference p ON p.subscriber = s.id
WHERE {where}{after}
ORDER BY s.id{limit}
"""
_COUNT = """
SELECT COUNT(*) AS n FROM subscriber s
JOIN address a ON a.id = s.address
JOIN street st ON st.id = a.street
WHERE {where}
"""


@dataclass(frozen=True)
class Recipient:
    subscriber_id: int
    channel: str
    recipient: str
    reason: str


def _route(row: dict, kind: BroadcastKind) -> Recipient | None:
    preferred = (row["news"] or "none") if kind == BroadcastKind.NEWS else (row["account"] or "auto")
    if preferred == "none":
        return None  # news without consent
    route = route_for(row["phone"], row["email"], preferred)
    return Recipient(row["id"], route.channel or "", route.recipient, route.reason)


async def _recipients(segment: Segment, kind: BroadcastKind) -> list[Recipient]:
    where, args = segment.where()
    rows = await MessagePreference.raw(_SELECT.format(where=where, after="", limit=""), *args)
    return [r for r in (_route(row, kind) for row in rows) if r is not None]


async def segment_size(segment: Segment) -> int:
    """Contracts in the segment (before consent to news is looked at)."""
    where, args = segment.where()
    rows = await MessagePreference.raw(_COUNT.format(where=where), *args)
    return int(rows[0]["n"])


@dataclass(frozen=True)
class BroadcastPreview:
    segment_label: str
    contracts: int
    by_sms: int
    by_email: int
    unreachable: int
    sms_text: str
    sms_segments: int
    email_text: str


async def _names(segment: Segment) -> tuple[str, str]:
    town = tariff = ""
    if segment.town_id:
        rows = await Broadcast.raw("SELECT name FROM town WHERE id = {}", segment.town_id)
        town = rows[0]["name"] if rows else "?"
    if segment.tariff_id:
        rows = await Broadcast.raw("SELECT name FROM tariff WHERE id = {}", segment.tariff_id)
        tariff = rows[0]["name"] if rows else "?"
    return town, tariff


async def preview_broadcast(segment: Segment, text: str, kind: BroadcastKind | str) -> BroadcastPreview:
    """What a broadcast would do: how many contracts, by which channel, the text as it arrives."""
    kind = BroadcastKind(kind)
    text = check_text(text)
    recipients = await _recipients(segment, kind)
    sms = one_segment(f"Centra: {text}")
    return BroadcastPreview(
        segment_label=segment.label(*(await _names(segment))), contracts=len(recipients),
        by_sms=sum(r.channel == Channel.SMS for r in recipients),
        by_email=sum(r.channel == Channel.EMAIL for r in recipients),
        unreachable=sum(not r.channel for r in recipients),
        sms_text=sms, sms_segments=sms_segments(sms), email_text=f"Centra: {text}",
    )


async def create_broadcast(segment: Segment, text: str, kind: BroadcastKind | str, *, actor: Actor,
                           job_task: str = "", job_arguments: dict[str, Any] | None = None
                           ) -> Broadcast:
    """Record a confirmed broadcast and its audit entry (and, with ``job_task``, the background
    job that will queue its messages), in one transaction. Queues nothing yet.

    :raises ValueError: (Russian) bad text, or nobody in the segment.
    """
    from tables.background import create_job

    kind = BroadcastKind(kind)
    text = check_text(text)
    label = segment.label(*(await _names(segment)))
    contracts = await segment_size(segment)
    if not contracts:
        raise ValueError("В выборке нет ни одного договора, которому можно отправить сообщение")
    async with write_transaction():
        broadcast = Broadcast(kind=kind, segment=label, text=text, recipients=0,
                              created_at=utcnow(), created_by=actor.name[:150])
        await broadcast.save()
        if job_task:
            broadcast.job = await create_job(
                f"Рассылка {reference_of(broadcast.id)}: постановка сообщений в очередь", job_task,
                {"broadcast_id": broadcast.id, **(job_arguments or {})}, actor=actor)
            await Broadcast.update({Broadcast.job: broadcast.job}).where(Broadcast.id == broadcast.id)
        await write_audit(action="broadcast.sent", object_type="broadcast", object_id=broadcast.id,
                          object_repr=reference_of(broadcast.id), actor=actor, message=text,
                          after={"kind": kind.value, "segment": label, "contracts": contracts})
    return broadcast


_INSERT_COLUMNS = ("channel", "recipient", "subscriber", "topic", "reference", "subject", "priority",
                   "body", "status", "last_error", "created_at", "event_key", "urgent", "attempts",
                   "gateway_id", "delivery_status")
#: Values given per row; the last four columns are the same for every row of a broadcast.
_INSERT_VALUES = 12
_INSERT_ROW = "(" + ", ".join(["{}"] * _INSERT_VALUES) + ", FALSE, 0, '', '')"


async def queue_broadcast_messages(broadcast_id: int, segment: Segment,
                                   progress: Callable[[int], Awaitable[None]] | None = None) -> int:
    """Queue the broadcast's messages, :data:`QUEUE_BATCH` contracts per transaction, in the
    order of contract ids; returns how many messages the broadcast has. Run again after a
    crash, it queues only what is missing.

    :param progress: called with the number of contracts each batch went through.
    """
    broadcast = await Broadcast.select().where(Broadcast.id == broadcast_id).first()
    if broadcast is None:
        raise ValueError("Рассылка не найдена")
    kind = BroadcastKind(broadcast["kind"])
    reference = reference_of(broadcast_id)
    subject = "Новости Centra" if kind == BroadcastKind.NEWS else "Сообщение Centra"
    topic = NEWS_TOPIC if kind == BroadcastKind.NEWS else BROADCAST_TOPIC
    sms_body = one_segment(f"Centra: {broadcast['text']}")
    mail_body = f"Centra: {broadcast['text']}"
    where, args = segment.where()
    query = _SELECT.format(where=where, after=" AND s.id > {}", limit=" LIMIT {}")
    last = 0
    while True:
        contracts = await MessagePreference.raw(query, *args, last, QUEUE_BATCH)
        if not contracts:
            break
        last = contracts[-1]["id"]
        now = utcnow()
        values: list[Any] = []
        for r in (_route(c, kind) for c in contracts):
            if r is not None:
                values += [r.channel, r.recipient[:200], r.subscriber_id, topic, reference, subject,
                           PRIORITY_BULK, sms_body if r.channel == Channel.SMS else mail_body,
                           "pending" if r.channel else "skipped",
                           r.reason, now, f"broadcast:{broadcast_id}:{r.subscriber_id}"]
        async with write_transaction():
            added = []
            if values:
                # A plain multi-row INSERT: building a Notification object per row cost Piccolo
                # about twice the time of everything else in a batch.
                count = len(values) // _INSERT_VALUES
                added = await Notification.raw(
                    f"INSERT INTO notification ({', '.join(_INSERT_COLUMNS)}) VALUES "
                    + ", ".join([_INSERT_ROW] * count)
                    + " ON CONFLICT (event_key) DO NOTHING RETURNING id", *values)
            if added:
                await Broadcast.update({Broadcast.recipients: Broadcast.recipients + len(added)}).where(
                    Broadcast.id == broadcast_id)
        if progress is not None:
            await progress(len(contracts))
        del values, contracts
    if not is_sqlite():
        # 100,000 new rows: fresh statistics, or PostgreSQL's planner (still counting a handful of
        # pending rows) sorts the whole backlog for every claim of 20 (236 ms instead of 1 ms).
        await Notification.raw("ANALYZE notification")
    final = await Broadcast.select(Broadcast.recipients).where(Broadcast.id == broadcast_id).first()
    return final["recipients"]


async def send_broadcast(segment: Segment, text: str, kind: BroadcastKind | str, *,
                         actor: Actor) -> Broadcast:
    """Record a broadcast and queue its messages at once, in this process (scripts, tests); the
    office's page does the queueing as a background job (``jobs.broadcasts``)."""
    broadcast = await create_broadcast(segment, text, kind, actor=actor)
    broadcast.recipients = await queue_broadcast_messages(broadcast.id, segment)
    return broadcast


STAT_LABELS = {
    "queued": "В очереди",
    "sent": "Отправлено",
    "delivered": "Доставлено",
    "failed": "Не доставлено",
    "unknown": "Возможно отправлено",
    "skipped": "Некуда отправить",
}


async def broadcast_stats(broadcast_id: int) -> dict[str, int]:
    """Progress of one broadcast: its messages by state (delivered = the gateway's report)."""
    rows = await Notification.raw(
        "SELECT status, delivery_code, COUNT(*) AS n FROM notification WHERE reference = {} "
        "GROUP BY status, delivery_code", reference_of(broadcast_id))
    stats = dict.fromkeys(STAT_LABELS, 0)
    for row in rows:
        status, n = row["status"], int(row["n"])
        if status in ("pending", "sending"):
            stats["queued"] += n
        elif status == "sent":
            stats["sent"] += n
            stats["delivered"] += n if row["delivery_code"] == 103 else 0
        elif status in stats:
            stats[status] += n
    return stats


async def recent_broadcasts(limit: int = 20) -> list[dict[str, Any]]:
    rows = await Broadcast.select().order_by(Broadcast.id, ascending=False).limit(limit)
    for row in rows:
        row["kind_label"] = BROADCAST_KIND_LABELS.get(row["kind"], row["kind"])
        row["stats"] = await broadcast_stats(row["id"])
    return rows
