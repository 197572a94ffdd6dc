"""Staff broadcasts: the preview's count is the segment, the send queues exactly that many,
news reach only those who agreed, and a mass send never holds up a payment's message."""

from __future__ import annotations

import datetime as dt
import json

from tables.addresses import Town
from tables.audit import Actor, AuditEntry
from tables.broadcasts import Segment, broadcast_stats, preview_broadcast, send_broadcast
from tables.calendar import LOCAL_TZ
from tables.ledger import EntryKind, post_entry
from tables.notifications import (
    BROADCAST_PER_PASS,
    MessagePreference,
    Notification,
    enqueue,
    send_pending,
)
from tests.support.factories import make_address, make_subscriber
from tests.support.helpers import admin_login, csrf_from, make_staff

NOON = dt.datetime(2026, 12, 7, 12, 0, tzinfo=LOCAL_TZ)
CLERK = Actor("manager", staff_id=None)


async def _town_of_three():
    """Three contracts on Ленина 5 in Осинники (one owing 800 ₽, one with a landline only),
    one elsewhere."""
    lenina = [await make_address(town="Осинники", street="улица Ленина", house="5") for _ in range(3)]
    a = await make_subscriber(address=lenina[0], phone="+79130000001")
    b = await make_subscriber(address=lenina[1], phone="+73843712345", email="")
    c = await make_subscriber(address=lenina[2], phone="", email="c@example.ru")
    await post_entry(c.id, -80000, EntryKind.CHARGE, "debt-c")
    await make_subscriber(address=await make_address(town="Новокузнецк"), phone="+79130000009")
    return a, b, c


async def test_the_count_previewed_is_the_count_queued_and_audited():
    a, b, c = await _town_of_three()
    town = await Town.objects().get(Town.name == "Осинники")
    segment = Segment(town_id=town.id, street="ленина", house="5")
    preview = await preview_broadcast(segment, "Завтра с 10:00 до 12:00 работы на линии", "notice")
    assert (preview.contracts, preview.by_sms, preview.by_email, preview.unreachable) == (3, 1, 1, 1)
    assert preview.segment_label == "город Осинники, улица «ленина», дом 5"
    assert preview.sms_text == "Centra: Завтра с 10:00 до 12:00 работы на линии"
    broadcast = await send_broadcast(segment, "Завтра с 10:00 до 12:00 работы на линии", "notice",
                                     actor=CLERK)
    rows = await Notification.select(Notification.subscriber, Notification.channel,
                                     Notification.status).where(
        Notification.reference == broadcast.reference).order_by(Notification.subscriber)
    assert [(r["subscriber"], r["channel"], r["status"]) for r in rows] == [
        (a.id, "sms", "pending"), (b.id, "", "skipped"), (c.id, "email", "pending")]
    assert broadcast.recipients == 3
    audit = await AuditEntry.objects().get(AuditEntry.action == "broadcast.sent")
    after = audit.after if isinstance(audit.after, dict) else json.loads(audit.after)
    assert after["recipients"] == 3
    debtors = await preview_broadcast(Segment(debt_above=50000), "Погасите долг, пожалуйста", "notice")
    assert debtors.contracts == 1


async def test_news_reach_only_those_who_agreed():
    a, _b, _c = await _town_of_three()
    await MessagePreference.insert(MessagePreference(subscriber=a.id, news="sms", updated_at=NOON,
                                                     news_consent_at=NOON))
    preview = await preview_broadcast(Segment(), "Новый тариф «Турбо» уже доступен", "news")
    assert preview.contracts == 1


async def test_a_mass_send_is_throttled_and_never_ahead_of_a_payment_message():
    subscribers = [await make_subscriber(phone=f"+7913000{i:04d}") for i in range(BROADCAST_PER_PASS + 20)]
    broadcast = await send_broadcast(Segment(), "Плановые работы ночью", "notice", actor=CLERK)
    await enqueue(channel="sms", recipient="+79139999999", body="Centra: платёж зачислен")

    class Recorder:
        sent: list[str] = []

        async def send(self, message):
            self.sent.append(message.recipient)

    sender = Recorder()
    report = await send_pending(sender, now=NOON)
    assert sender.sent[0] == "+79139999999" and report.sent == BROADCAST_PER_PASS + 1
    stats = await broadcast_stats(broadcast.id)
    assert (stats["sent"], stats["queued"]) == (BROADCAST_PER_PASS, len(subscribers) - BROADCAST_PER_PASS)
    await send_pending(sender, now=NOON)
    assert (await broadcast_stats(broadcast.id))["sent"] == len(subscribers)


async def test_the_office_page_previews_then_sends_for_a_manager_only(client):
    await _town_of_three()
    await make_staff("op", role="operator")
    await admin_login(client, "op")
    assert (await client.get("/office/broadcasts")).status_code == 403
    client.cookies.clear()
    await make_staff("boss", role="manager")
    await admin_login(client, "boss")
    page = await client.get("/office/broadcasts")
    assert page.status_code == 200 and "Рассылок ещё не было" in page.text
    form = {"kind": "notice", "street": "Ленина", "text": "Отключение света 10.12 с 9 до 12",
            "_csrf_token": csrf_from(page.text)}
    bad = await client.post("/office/broadcasts", data={**form, "debt_above": "много"})
    assert bad.status_code == 422 and "рубл" in bad.text
    preview = await client.post("/office/broadcasts", data=form)
    assert preview.status_code == 200 and "договоров 3" in preview.text
    done = await client.post("/office/broadcasts/confirm",
                             data={**form, "_csrf_token": csrf_from(preview.text)})
    assert done.status_code == 200 and "сообщений — 3" in done.text
    assert "Отключение света" in done.text  # the progress table
    assert await Notification.count().where(Notification.topic == "broadcast") == 3
