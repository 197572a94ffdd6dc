"""Staff messages to a segment of subscribers (рассылки): preview, confirm, queue, statistics.

A broadcast queues one outbox row per contract of its segment in one transaction (with its
audit entry); the outbox sends them at a throttled pace, after the transactional messages of
each pass (``tables.notifications.BROADCAST_PER_PASS``), so a mass send never holds up a
payment's SMS. A *service notice* (maintenance, an outage) goes to everyone in the segment
by the channel they chose for account messages; *news* goes only to those who agreed to it
(38-FZ), by the channel they chose for news.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from piccolo.columns import Integer, Text, Timestamptz, Varchar
from piccolo.table import Table

from db.engine import write_transaction
from providers.sms import sms_segments
from tables.audit import Actor, write_audit
from tables.calendar import utcnow
from tables.choices import choices
from tables.money import format_amount, read_rubles
from tables.notifications import (
    BROADCAST_TOPIC,
    NEWS_TOPIC,
    Channel,
    MessagePreference,
    Notification,
    NotificationStatus,
    one_segment,
    route_for,
)
from tables.subscribers import SUBSCRIBER_STATUS_LABELS

MAX_TEXT = 500
INSERT_BATCH = 500


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
    if status and status not in ("active", "suspended"):
        raise ValueError("Состояние договора: действует или приостановлен")
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
WHERE {where}
ORDER BY s.id
"""


@dataclass(frozen=True)
class Recipient:
    subscriber_id: int
    channel: str
    recipient: str
    reason: str


async def _recipients(segment: Segment, kind: BroadcastKind) -> list[Recipient]:
    where, args = segment.where()
    rows = await MessagePreference.raw(_SELECT.format(where=where), *args)
    found = []
    for row in rows:
        preferred = (row["news"] or "none") if kind == BroadcastKind.NEWS else (row["account"] or "auto")
        if preferred == "none":
            continue  # news without consent
        route = route_for(row["phone"], row["email"], preferred)
        found.append(Recipient(row["id"], route.channel or "", route.recipient, route.reason))
    return found


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


async def send_broadcast(segment: Segment, text: str, kind: BroadcastKind | str, *,
                         actor: Actor) -> Broadcast:
    """Queue the broadcast's messages (one per contract) and audit it, in one transaction."""
    kind = BroadcastKind(kind)
    text = check_text(text)
    label = segment.label(*(await _names(segment)))
    now = utcnow()
    async with write_transaction():
        recipients = await _recipients(segment, kind)
        if not recipients:
            raise ValueError("В выборке нет ни одного договора, которому можно отправить сообщение")
        broadcast = Broadcast(kind=kind, segment=label, text=text, recipients=len(recipients),
                              created_at=now, created_by=actor.name[:150])
        await broadcast.save()
        reference = reference_of(broadcast.id)
        subject = "Новости Centra" if kind == BroadcastKind.NEWS else "Сообщение Centra"
        rows = [Notification(
            channel=r.channel, recipient=r.recipient[:200], subscriber=r.subscriber_id,
            topic=NEWS_TOPIC if kind == BroadcastKind.NEWS else BROADCAST_TOPIC,
            reference=reference, subject=subject,
            body=one_segment(f"Centra: {text}") if r.channel == Channel.SMS else f"Centra: {text}",
            status=NotificationStatus.PENDING if r.channel else NotificationStatus.SKIPPED,
            last_error=r.reason, created_at=now,
            event_key=f"broadcast:{broadcast.id}:{r.subscriber_id}",
        ) for r in recipients]
        for start in range(0, len(rows), INSERT_BATCH):
            await Notification.insert(*rows[start:start + INSERT_BATCH])
        await write_audit(action="broadcast.sent", object_type="broadcast", object_id=broadcast.id,
                          object_repr=reference, actor=actor, message=text,
                          after={"kind": kind.value, "segment": label, "recipients": len(recipients)})
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
