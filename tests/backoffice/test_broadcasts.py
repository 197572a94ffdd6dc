"""Staff broadcasts: the preview's count is the segment, the send queues exactly that many (in
batches, by a job with progress), news reach only those who agreed, and a mass send never holds
up a payment's message."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

import tables.broadcasts as broadcasts
from jobs.worker import run_worker
from tables.addresses import Town
from tables.audit import Actor, AuditEntry
from tables.background import BackgroundJob
from tables.broadcasts import (
    Broadcast,
    Segment,
    broadcast_stats,
    create_broadcast,
    preview_broadcast,
    queue_broadcast_messages,
    segment_size,
    send_broadcast,
)
from tables.calendar import LOCAL_TZ
from tables.ledger import EntryKind, post_entry
from tables.notifications import (
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
    assert after["contracts"] == 3
    debtors = await preview_broadcast(Segment(debt_above=50000), "Погасите долг, пожалуйста", "notice")
    assert debtors.contracts == 1


async def test_news_reach_only_those_who_agreed():
    a, _b, _c = await _town_of_three()
    await MessagePreference.insert(MessagePreference(subscriber=a.id, news="sms", updated_at=NOON,
                                                     news_consent_at=NOON))
    preview = await preview_broadcast(Segment(), "Новый тариф «Турбо» уже доступен", "news")
    assert preview.contracts == 1


async def test_a_mass_send_never_goes_ahead_of_a_payment_message(setenv):
    setenv("CENTRA_SMS_RATE", "0")  # the order alone (the rate: tests/jobs/test_send_rate.py)
    subscribers = [await make_subscriber(phone=f"+7913000{i:04d}") for i in range(70)]
    broadcast = await send_broadcast(Segment(), "Плановые работы ночью", "notice", actor=CLERK)
    await enqueue(channel="sms", recipient="+79139999999", body="Centra: платёж зачислен")
    await enqueue(channel="email", recipient="a@example.ru", body="Centra: пароль сброшен", urgent=True)

    class Recorder:
        sent: list[str] = []

        async def send(self, message):
            self.sent.append(message.recipient)

    sender = Recorder()
    report = await send_pending(sender, now=NOON, limit=30)
    assert "+79139999999" in sender.sent[:2] and "a@example.ru" in sender.sent[:2]
    assert report.sent == 30
    stats = await broadcast_stats(broadcast.id)
    assert (stats["sent"], stats["queued"]) == (28, len(subscribers) - 28)
    await send_pending(sender, now=NOON)
    assert (await broadcast_stats(broadcast.id))["sent"] == len(subscribers)


async def test_the_mass_send_queues_the_segment_in_batches_once(monkeypatch):
    """As many messages as contracts in the segment, queued a batch per transaction with
    progress; a second run (a retried job) adds nothing."""
    monkeypatch.setattr(broadcasts, "QUEUE_BATCH", 7)
    town = await make_address(town="Осинники")
    inside = [await make_subscriber(address=town, phone=f"+7913200{i:04d}") for i in range(23)]
    await make_subscriber(address=await make_address(town="Новокузнецк"), phone="+79132999999")
    segment = Segment(town_id=(await Town.objects().get(Town.name == "Осинники")).id)
    assert await segment_size(segment) == 23
    broadcast = await create_broadcast(segment, "Работы на линии 10.12", "notice", actor=CLERK)
    assert await Notification.count() == 0  # recorded; nothing queued by the confirmation itself
    steps: list[int] = []

    async def progress(done: int) -> None:
        steps.append(done)

    assert await queue_broadcast_messages(broadcast.id, segment, progress) == 23
    assert steps == [7, 7, 7, 2]
    queued = await Notification.select(Notification.subscriber).where(
        Notification.reference == f"B-{broadcast.id}")
    assert sorted(r["subscriber"] for r in queued) == [s.id for s in inside]
    assert await queue_broadcast_messages(broadcast.id, segment) == 23
    assert await Notification.count() == 23
    row = await Broadcast.objects().get(Broadcast.id == broadcast.id)
    assert row.recipients == 23 and row.job is None




async def _work() -> None:
    """A worker that runs what is queued on the exports' queue (long work people start) and stops."""
    await run_worker(queues=["exports"], wait=False, install_signal_handlers=False,
                     name="test-worker")


async def test_the_office_page_previews_then_sends_for_a_manager_only(client, engine):
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
                             data={**form, "_csrf_token": csrf_from(preview.text)}, follow_redirects=False)
    assert done.status_code == 303
    url = done.headers["location"]
    broadcast_id = int(re.fullmatch(r"/office/broadcasts/(\d+)", url).group(1))
    # The page returned at once: the messages are queued by a job, which has not run yet.
    assert await Notification.count() == 0
    page = await client.get(url)
    assert page.status_code == 200 and 'http-equiv="refresh"' in page.text
    assert "В очереди" in page.text and 'id="job-progress"' in page.text
    assert "Отключение света" in page.text
    await _work()
    assert await Notification.count().where(Notification.topic == "broadcast") == 3
    job = await BackgroundJob.objects().get(BackgroundJob.id == (
        await Broadcast.objects().get(Broadcast.id == broadcast_id)).job)
    assert (job.status, job.progress, job.total) == ("done", 3, 3)
    page = await client.get(url)
    assert "Готово" in page.text and 'value="100"' in page.text
    shown = {k: int(v) for k, v in re.findall(r'data-stat="(\w+)">(\d+)<', page.text)}
    # Two to send (the worker's own outbox tick may have sent them already), the landline's
    # one has nowhere to go.
    assert (shown["queued"] + shown["sent"], shown["skipped"]) == (2, 1), shown
    await AuditEntry.objects().get(AuditEntry.action == "broadcast.sent")
    await send_pending(now=NOON)
    page = await client.get(url)
    assert 'http-equiv="refresh"' not in page.text and "Все сообщения рассылки обработаны" in page.text
    listing = await client.get("/office/broadcasts")
    assert f'href="/office/broadcasts/{broadcast_id}"' in listing.text
    assert (await client.get("/office/broadcasts/999999")).status_code == 404


async def test_paused_contracts_are_a_segment_of_their_own():
    """A voluntary pause is a state staff message about («вы на паузе до …»): the form offers it."""
    from tables.broadcasts import parse_segment
    from tables.subscribers import Subscriber

    a, _b, _c = await _town_of_three()
    await Subscriber.update({Subscriber.status: "paused"}).where(Subscriber.id == a.id)
    segment = parse_segment({"status": "paused"})
    assert await segment_size(segment) == 1
    assert segment.label() == "добровольная блокировка"
    with pytest.raises(ValueError, match="добровольная блокировка"):
        parse_segment({"status": "terminated"})
