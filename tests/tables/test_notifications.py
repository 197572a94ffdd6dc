"""The notification outbox: queued with the change, sent through real gateways in process."""

from __future__ import annotations

import asyncio
import datetime as dt
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from providers.email import SmtpConfig
from providers.mail_catcher import MailCatcher
from providers.sms_sandbox import SANDBOX_API_ID, SmsSandbox
from providers.stripe_sandbox import free_port
from settings import get_settings
from tables.audit import SYSTEM
from tables.calendar import LOCAL_TZ
from tables.notifications import (
    BACKOFF,
    CLAIM_TIMEOUT,
    MAX_ATTEMPTS,
    ConsoleSender,
    GatewaySender,
    MessageKind,
    Notification,
    NotificationAttempt,
    OutgoingMessage,
    SubscriberMessage,
    deliver_notifications,
    enqueue,
    load_sender,
    notify_subscriber,
    notify_subscribers,
    problem_notifications,
    quiet_until,
    route_for,
    save_message_preferences,
    send_pending,
)
from tables.phones import is_mobile, normalize_phone
from tables.requests.queue import reply
from tests.support.factories import make_subscriber
from tests.support.request_factories import filed, staff_actor

#: 12:00 in Novokuznetsk: outside the quiet hours.
NOON = dt.datetime(2026, 12, 7, 12, 0, tzinfo=LOCAL_TZ)


class RecordingSender:
    def __init__(self, fail_for: set[str] = frozenset()) -> None:
        self.sent: list[OutgoingMessage] = []
        self.fail_for = fail_for

    async def send(self, message: OutgoingMessage) -> None:
        if message.recipient in self.fail_for:
            raise ConnectionError("gateway down")
        self.sent.append(message)




@pytest.fixture
def mailbox():
    server = MailCatcher().start()
    yield server
    server.stop()


def gateway_sender(gateway: SmsSandbox | None = None, mailbox: MailCatcher | None = None,
                   **extra) -> GatewaySender:
    settings = get_settings().replace(
        smtp_host="127.0.0.1" if mailbox else "", smtp_port=mailbox.port if mailbox else 0,
        smtp_security="none", sms_api_id=SANDBOX_API_ID if gateway else "",
        sms_api_url=gateway.base_url if gateway else "", sms_sender="Centra", **extra)
    sender = GatewaySender(settings, console=ConsoleSender(io.StringIO()))
    if sender.sms is not None:
        sender.sms.http.timeout = 1.0
    return sender


async def test_a_staff_reply_reaches_the_subscriber_through_the_console_sender():
    s = await make_subscriber(phone="+79137654321")
    request = await filed(s.id, "question")
    await reply(request.id, "Да, можно", actor=await staff_actor())
    stream = io.StringIO()
    report = await send_pending(ConsoleSender(stream), now=NOON)
    assert (report.sent, report.retried, report.failed) == (1, 0, 0)
    assert "[sms → +79137654321]" in stream.getvalue() and "Да, можно" in stream.getvalue()
    row = await Notification.objects().first()
    assert row.status == "sent" and row.sent_at is not None and row.attempts == 1
    assert (await send_pending(ConsoleSender(stream), now=NOON)).sent == 0  # never sent twice
    [attempt] = await NotificationAttempt.select()
    assert attempt["outcome"] == "sent" and attempt["number"] == 1 and attempt["finished_at"]


async def test_email_when_there_is_no_mobile_and_a_visible_reason_when_neither():
    with_email = await make_subscriber(phone="", email="a@example.ru")
    landline_and_email = await make_subscriber(phone="+73843712345", email="b@example.ru")
    landline_only = await make_subscriber(phone="+73843712345", email="")
    nobody = await make_subscriber(phone="", email="")
    clerk = await staff_actor()
    for s in (with_email, landline_and_email, landline_only, nobody):
        await reply((await filed(s.id, "question")).id, "Ответ", actor=clerk)
    rows = await Notification.select(Notification.channel, Notification.recipient,
                                     Notification.status, Notification.last_error
                                     ).order_by(Notification.id)
    assert [(r["channel"], r["recipient"], r["status"]) for r in rows] == [
        ("email", "a@example.ru", "pending"), ("email", "b@example.ru", "pending"),
        ("", "+73843712345", "skipped"), ("", "", "skipped")]
    assert "не мобильный" in rows[2]["last_error"] and "ни мобильный" in rows[3]["last_error"]
    assert [r["status"] for r in await problem_notifications(landline_only.id)] == ["skipped"]
    assert (await send_pending(RecordingSender(), now=NOON)).sent == 2  # skipped rows stay


@pytest.mark.parametrize("phone,mobile", [
    ("+79131234567", True), ("+79501234567", True), ("+73843712345", False),
    ("+78001234567", False), ("+74951234567", False), ("", False), ("мусор", False),
])
def test_only_mobile_numbers_take_sms(phone, mobile):
    assert is_mobile(phone) is mobile
    assert (route_for(phone, "").channel == "sms") is mobile


async def test_gateway_errors_are_retried_with_backoff_then_given_up_without_duplicates(gateway):
    await enqueue(channel="sms", recipient="+79130000001", body="первое")
    await enqueue(channel="sms", recipient="+79130000002", body="второе")
    sender = gateway_sender(gateway)
    gateway.busy_next = 1  # "220: service temporarily unavailable" for one (the two go at once)
    first = await send_pending(sender, now=NOON)
    assert (first.sent, first.retried, first.failed) == (1, 1, 0)
    busy = await Notification.objects().where(Notification.status == "pending").first()
    other = "+79130000002" if busy.recipient == "+79130000001" else "+79130000001"
    assert busy.next_attempt_at == NOON + BACKOFF[0]
    assert (await send_pending(sender, now=NOON)).sent == 0  # not due yet
    gateway.http_error_next = 100  # HTTP 503 from now on
    moment = NOON
    for waited in BACKOFF:
        moment += waited
        await send_pending(sender, now=moment)
    await sender.aclose()
    failed = await Notification.objects().where(Notification.id == busy.id).first()
    assert failed.status == "failed" and failed.attempts == MAX_ATTEMPTS
    assert "503" in failed.last_error
    attempts = await NotificationAttempt.select(NotificationAttempt.outcome).where(
        NotificationAttempt.notification == failed.id)
    assert [a["outcome"] for a in attempts] == ["retry"] * MAX_ATTEMPTS
    assert gateway.sent_to(busy.recipient) == [] and len(gateway.sent_to(other)) == 1


async def test_a_refusal_is_final_at_once(gateway):
    gateway.reject("+79130000003")
    row = await enqueue(channel="sms", recipient="+79130000003", body="x")
    sender = gateway_sender(gateway)
    report = await send_pending(sender, now=NOON)
    await sender.aclose()
    assert report.failed == 1
    row = await Notification.objects().get(Notification.id == row.id)
    assert row.status == "failed" and row.attempts == 1 and "207" in row.last_error


async def test_no_answer_from_the_gateway_is_never_sent_again(gateway):
    row = await enqueue(channel="sms", recipient="+79130000004", body="x")
    gateway.slow_next = 1
    sender = gateway_sender(gateway)
    assert (await send_pending(sender, now=NOON)).unknown == 1
    for later in (BACKOFF[-1], CLAIM_TIMEOUT * 10):
        assert (await send_pending(sender, now=NOON + later)).sent == 0
    await sender.aclose()
    row = await Notification.objects().get(Notification.id == row.id)
    assert row.status == "unknown" and "могло уйти" in row.last_error
    assert len(gateway.sent_to("+79130000004")) == 1


class CrashAfterSending:
    """The worker dies after the gateway took the message, before the result is committed."""

    def __init__(self, inner) -> None:
        self.inner = inner

    async def send(self, message):
        await self.inner.send(message)
        raise asyncio.CancelledError


async def test_a_crash_between_send_and_commit_sends_nothing_twice(gateway):
    row = await enqueue(channel="sms", recipient="+79130000005", body="x")
    sender = gateway_sender(gateway)
    with pytest.raises(asyncio.CancelledError):
        await send_pending(CrashAfterSending(sender), now=NOON)
    assert (await Notification.objects().get(Notification.id == row.id)).status == "sending"
    assert (await send_pending(sender, now=NOON + dt.timedelta(minutes=1))).sent == 0
    report = await send_pending(sender, now=NOON + CLAIM_TIMEOUT + dt.timedelta(seconds=1))
    await sender.aclose()
    assert (report.sent, report.unknown) == (0, 1)
    assert len(gateway.sent_to("+79130000005")) == 1
    [attempt] = await NotificationAttempt.select().where(NotificationAttempt.notification == row.id)
    assert attempt["outcome"] == "interrupted"


async def test_quiet_hours_hold_ordinary_sms_until_nine_but_not_email_or_urgent(gateway, mailbox):
    late = dt.datetime(2026, 12, 7, 22, 30, tzinfo=LOCAL_TZ)
    assert quiet_until(late) == dt.datetime(2026, 12, 8, 9, 0, tzinfo=LOCAL_TZ)
    assert quiet_until(late.replace(hour=8, minute=59)) == late.replace(hour=9, minute=0)
    assert quiet_until(late.replace(hour=9, minute=0)) is None
    ordinary = await enqueue(channel="sms", recipient="+79130000006", body="платёж")
    await enqueue(channel="sms", recipient="+79130000007", body="пароль", urgent=True)
    await enqueue(channel="email", recipient="c@example.ru", body="письмо", subject="Тема")
    sender = gateway_sender(gateway, mailbox)
    report = await send_pending(sender, now=late)
    assert (report.sent, report.deferred) == (2, 1)
    held = await Notification.objects().get(Notification.id == ordinary.id)
    assert held.status == "pending" and held.attempts == 0
    assert held.next_attempt_at == dt.datetime(2026, 12, 8, 9, 0, tzinfo=LOCAL_TZ)
    assert (await send_pending(sender, now=late.replace(day=8, hour=8, minute=59))).sent == 0
    assert (await send_pending(sender, now=late.replace(day=8, hour=9, minute=1))).sent == 1
    await sender.aclose()
    assert [len(gateway.sent_to(p)) for p in ("+79130000006", "+79130000007")] == [1, 1]
    assert [m["Subject"] for m in mailbox.messages] == ["Тема"]


async def test_email_goes_over_smtp_well_formed(mailbox):
    s = await make_subscriber(phone="", email="ivanova@example.ru")
    await notify_subscriber(s.id, topic="test", text="Платёж зачислен.", event_key="t:1")
    sender = gateway_sender(mailbox=mailbox)
    assert (await send_pending(sender, now=NOON)).sent == 1
    [letter] = mailbox.messages
    assert letter["To"] == "ivanova@example.ru" and letter["Subject"].startswith("Договор №")
    assert "Centra: Платёж зачислен." in letter.get_body(("plain",)).get_content()
    row = await Notification.objects().first()
    assert row.gateway_id == letter["Message-ID"]


async def test_one_message_per_event_key():
    s = await make_subscriber()
    first = await notify_subscriber(s.id, topic="t", text="раз", event_key="event:1")
    again = await notify_subscriber(s.id, topic="t", text="два", event_key="event:1")
    assert first is not None and again is None
    assert [r["body"] for r in await Notification.select(Notification.body)] == ["Centra: раз"]


@pytest.mark.parametrize("kind", [MessageKind.ACCOUNT, MessageKind.REMINDERS])
async def test_many_at_once_queue_what_one_at_a_time_would(kind):
    everyone = [await make_subscriber(phone="+79131234567", email="a@example.ru"),
                await make_subscriber(phone="", email="b@example.ru"),
                await make_subscriber(phone="+73843712345", email=""),
                await make_subscriber(phone="", email="")]
    chooser = await make_subscriber(phone="+79131234568", email="c@example.ru")
    await save_message_preferences(chooser.id, {"account": "email", "reminders": "none", "news": "none",
                                                "logins": "none"}, actor=SYSTEM)
    everyone.append(chooser)
    long_text = "очень длинный текст сообщения, " * 4
    for s in everyone:
        await notify_subscriber(s.id, topic="t", text=long_text, event_key=f"one:{s.id}", kind=kind)
    batch = [SubscriberMessage(s.id, long_text, f"many:{s.id}") for s in everyone]
    queued = await notify_subscribers(batch, topic="t", kind=kind)
    again = await notify_subscribers(batch, topic="t", kind=kind)

    columns = [c for c in Notification._meta.columns
               if c._meta.name not in ("id", "event_key", "created_at")]
    rows = await Notification.select(*columns, Notification.event_key).order_by(Notification.id)
    def made(prefix: str) -> list[dict]:
        return [{k: v for k, v in r.items() if k != "event_key"} for r in rows
                if r["event_key"].startswith(prefix)]

    one, many = made("one:"), made("many:")
    assert many == one and queued == len(one) and again == 0
    assert len(one) == (5 if kind == MessageKind.ACCOUNT else 4)  # the chooser said no reminders


async def test_delivery_reports_are_polled_and_a_final_failure_is_shown(gateway):
    ok = await enqueue(channel="sms", recipient="+79130000008", body="x")
    lost = await enqueue(channel="sms", recipient="+79130000009", body="y")
    sender = gateway_sender(gateway)
    done = await deliver_notifications(sender=sender, now=NOON)
    assert done["sent"] == 2 and done["delivery_reports"] == 2  # "in the operator's queue"
    gateway.deliver(gateway.sent_to("+79130000008")[0].sms_id, 103)
    gateway.deliver(gateway.sent_to("+79130000009")[0].sms_id, 106)
    assert (await deliver_notifications(sender=sender, now=NOON))["delivery_reports"] == 2
    assert (await deliver_notifications(sender=sender, now=NOON))["delivery_reports"] == 0
    await sender.aclose()
    ok = await Notification.objects().get(Notification.id == ok.id)
    lost = await Notification.objects().get(Notification.id == lost.id)
    assert (ok.status, ok.delivery_code, ok.delivery_status) == ("sent", 103, "доставлено")
    assert lost.status == "failed" and "сбой в телефоне" in lost.last_error


def test_sender_is_pluggable_by_dotted_path():
    assert isinstance(load_sender(None), GatewaySender)
    assert isinstance(load_sender("tables.notifications:ConsoleSender"), ConsoleSender)
    with pytest.raises(ModuleNotFoundError):
        load_sender("no.such.module:Sender")


async def test_cli_command_sends_the_queue(capsys, setenv):
    from tables.commands.notifications import send_notifications

    setenv("CENTRA_NOTIFICATION_SENDER", "tables.notifications:ConsoleSender")
    await enqueue(channel="email", recipient="d@example.ru", body="из очереди")
    await send_notifications(limit=10)
    out = capsys.readouterr().out
    assert "из очереди" in out and "Sent: 1" in out


async def test_an_unreachable_smtp_server_is_retried():
    await enqueue(channel="email", recipient="e@example.ru", body="x")
    sender = gateway_sender()
    sender.smtp = SmtpConfig(host="127.0.0.1", port=free_port(), security="none", timeout=3)
    report = await send_pending(sender, now=NOON)
    assert report.retried == 1


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


async def test_delivery_reports_by_the_gateways_callback(client, gateway):
    from tables.notifications import sms_callback_key, sms_callback_url

    row = await enqueue(channel="sms", recipient="+79130000010", body="x")
    sender = gateway_sender(gateway)
    await send_pending(sender, now=NOON)
    await sender.aclose()
    sms_id = gateway.sent_to("+79130000010")[0].sms_id
    url = sms_callback_url()
    assert url.endswith(f"/notifications/sms-status/{sms_callback_key()}")
    path = url[url.index("/notifications/"):]
    report = {"data[0]": f"sms_status\n{sms_id}\n103\n1765000000", "data[1]": "sms_status\nnope\n103\n1"}
    assert (await client.post("/notifications/sms-status/" + "0" * 24, data=report)).status_code == 404
    answer = await client.post(path, data=report)  # no CSRF token: the key is the credential
    assert answer.status_code == 200 and answer.text == "100"
    row = await Notification.objects().get(Notification.id == row.id)
    assert (row.delivery_code, row.delivery_status) == (103, "доставлено")
