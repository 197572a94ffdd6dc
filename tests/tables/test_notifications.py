"""The notification outbox: queued with the change, sent by a pluggable sender."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tables.notifications import (
    CLAIM_TIMEOUT,
    MAX_ATTEMPTS,
    ConsoleSender,
    Notification,
    OutgoingMessage,
    enqueue,
    load_sender,
    send_pending,
)
from tables.phones import normalize_phone
from tables.requests import reply
from tests.factories import make_subscriber
from tests.request_factories import filed, staff_actor


class RecordingSender:
    def __init__(self, fail_for: set[str] = frozenset()) -> None:
        self.sent: list[OutgoingMessage] = []
        self.fail_for = fail_for

    async def send(self, message: OutgoingMessage) -> None:
        if message.recipient in self.fail_for:
            raise ConnectionError("gateway down")
        self.sent.append(message)


async def test_a_staff_reply_reaches_the_subscriber_through_the_console_sender():
    s = await make_subscriber(phone="+79137654321")
    request = await filed(s.id, "question")
    await reply(request.id, "Да, можно", actor=await staff_actor())
    stream = io.StringIO()
    report = await send_pending(ConsoleSender(stream))
    assert (report.sent, report.retried, report.failed) == (1, 0, 0)
    assert "[sms → +79137654321]" in stream.getvalue() and "Да, можно" in stream.getvalue()
    row = await Notification.objects().first()
    assert row.status == "sent" and row.sent_at is not None and row.attempts == 1
    assert (await send_pending(ConsoleSender(stream))).sent == 0  # never sent twice


async def test_email_when_there_is_no_phone_and_nothing_when_neither():
    with_email = await make_subscriber(phone="", email="a@example.ru")
    nobody = await make_subscriber(phone="", email="")
    clerk = await staff_actor()
    for s in (with_email, nobody):
        await reply((await filed(s.id, "question")).id, "Ответ", actor=clerk)
    rows = await Notification.select(Notification.channel, Notification.recipient)
    assert rows == [{"channel": "email", "recipient": "a@example.ru"}]


async def test_failures_are_retried_then_given_up_and_the_batch_goes_on():
    await enqueue(channel="sms", recipient="+79130000001", body="первое")
    await enqueue(channel="sms", recipient="+79130000002", body="второе")
    sender = RecordingSender(fail_for={"+79130000001"})
    first = await send_pending(sender)
    assert (first.sent, first.retried, first.failed) == (1, 1, 0)
    for _ in range(MAX_ATTEMPTS - 1):
        await send_pending(sender)
    failed = await Notification.objects().where(Notification.recipient == "+79130000001").first()
    assert failed.status == "failed" and failed.attempts == MAX_ATTEMPTS
    assert "gateway down" in failed.last_error
    assert [m.body for m in sender.sent] == ["второе"]


async def test_a_row_left_sending_by_a_dead_worker_is_picked_up_later():
    row = await enqueue(channel="sms", recipient="+79130000003", body="x")
    now = dt.datetime(2026, 11, 15, tzinfo=dt.UTC)
    await Notification.update({Notification.status: "sending", Notification.claimed_at: now}).where(
        Notification.id == row.id)
    sender = RecordingSender()
    assert (await send_pending(sender, now=now + dt.timedelta(minutes=1))).sent == 0
    assert (await send_pending(sender, now=now + CLAIM_TIMEOUT + dt.timedelta(seconds=1))).sent == 1


async def test_rolled_back_change_queues_nothing():
    s = await make_subscriber()
    request = await filed(s.id, "question")
    clerk = await staff_actor()
    with pytest.raises(ValueError):
        await reply(request.id, "x" * 5000, actor=clerk)
    from tables.requests import close_request

    await close_request(request.id, actor=clerk, done=False, reason="дубль")
    with pytest.raises(ValueError):
        await reply(request.id, "поздно", actor=clerk)
    assert [n["topic"] for n in await Notification.select(Notification.topic)] == ["request.rejected"]


def test_sender_is_pluggable_by_dotted_path():
    assert isinstance(load_sender(None), ConsoleSender)
    assert isinstance(load_sender("tables.notifications:ConsoleSender"), ConsoleSender)
    with pytest.raises(ModuleNotFoundError):
        load_sender("no.such.module:Sender")


async def test_cli_command_sends_the_queue(capsys):
    from tables.commands.notifications import send_notifications

    await enqueue(channel="sms", recipient="+79130000004", body="из очереди")
    await send_notifications(limit=10)
    out = capsys.readouterr().out
    assert "из очереди" in out and "Sent: 1" in out


@pytest.mark.parametrize("text,expected", [
    ("+7 913 123-45-67", "+79131234567"),
    ("8 (913) 123-45-67", "+79131234567"),
    ("89131234567", "+79131234567"),
    ("79131234567", "+79131234567"),
    ("9131234567", "+79131234567"),
    ("8-384-371-23-45", "+73843712345"),
    ("123-45", None),
    ("+1 202 555 0100", None),
    ("+8 913 123 45 67", None),
    ("+9131234567", None),
    ("8 (113) 123-45-67", None),
    ("913123456a", None),
    ("", None),
    ("+7 913 123 45 67 89", None),
])
def test_phone_normalisation(text, expected):
    assert normalize_phone(text) == expected


@given(st.text(alphabet="0123456789 +-()", max_size=25))
def test_normalised_phones_are_canonical_and_stable(text):
    result = normalize_phone(text)
    if result is not None:
        assert len(result) == 12 and result.startswith("+7") and result[2:].isdigit()
        assert normalize_phone(result) == result
