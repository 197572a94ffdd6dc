"""The cabinet's message settings: a channel per kind, transactional ones always on, news opt-in."""

from __future__ import annotations

import datetime as dt

from tables.audit import AuditEntry
from tables.billing.reminders import remind_low_balances
from tables.calendar import LOCAL_TZ
from tables.ledger import EntryKind, post_entry
from tables.notifications import MessagePreference, Notification
from tests.support.factories import make_subscriber
from tests.support.helpers import csrf_from
from tests.support.request_factories import cabinet_login, post_form


async def _channels(subscriber_id: int) -> list[tuple[str, str]]:
    return [(r["topic"], r["channel"]) for r in await Notification.select(
        Notification.topic, Notification.channel).where(Notification.subscriber == subscriber_id
                                                        ).order_by(Notification.id)]


async def test_the_page_shows_the_defaults_and_saves_a_choice(client, setenv):
    s = await make_subscriber(phone="+79131234567", email="p@example.ru")
    await cabinet_login(client, s.contract_number)
    page = await client.get("/cabinet/notifications")
    assert page.status_code == 200 and "Эти сообщения отключить нельзя" in page.text
    assert 'name="news" value="none" required checked' in page.text
    saved = await post_form(client, "/cabinet/notifications",
                            {"account": "email", "reminders": "none", "news": "email",
                             "logins": "none"})
    assert saved.status_code == 303 and saved.headers["location"] == "/cabinet/notifications?saved=1"
    assert "Настройки сохранены" in (await client.get("/cabinet/notifications?saved=1")).text
    row = await MessagePreference.objects().get(MessagePreference.subscriber == s.id)
    assert (row.account, row.reminders, row.news) == ("email", "none", "email")
    assert row.news_consent_at is not None
    assert await AuditEntry.count().where(AuditEntry.action == "subscriber.message_preferences") == 1
    # honoured: account messages by e-mail although a mobile is known, no reminders at all
    setenv("CENTRA_BALANCE_REMINDER_DAYS", "3")
    await post_entry(s.id, 100, EntryKind.PAYMENT, "pi_pref")
    assert await remind_low_balances(now=dt.datetime(2026, 12, 30, 10, tzinfo=LOCAL_TZ)) == 0
    assert await _channels(s.id) == [("message.payment", "email")]


async def test_transactional_messages_cannot_be_switched_off(client):
    s = await make_subscriber()
    await cabinet_login(client, s.contract_number)
    refused = await post_form(client, "/cabinet/notifications",
                              {"account": "none", "reminders": "auto", "news": "none",
                               "logins": "none"})
    assert refused.status_code == 400 and "отключить нельзя" in refused.text
    bad = await post_form(client, "/cabinet/notifications",
                          {"account": "auto", "reminders": "pigeon", "news": "none",
                           "logins": "none"})
    assert bad.status_code == 400 and "Выберите, как присылать" in bad.text
    assert await MessagePreference.count() == 0


async def test_news_consent_is_kept_from_its_first_time_and_withdrawn_with_news_off(client):
    s = await make_subscriber()
    await cabinet_login(client, s.contract_number)
    await post_form(client, "/cabinet/notifications", {"account": "auto", "reminders": "auto",
                                                       "news": "sms", "logins": "none"})
    first = (await MessagePreference.objects().first()).news_consent_at
    await post_form(client, "/cabinet/notifications", {"account": "sms", "reminders": "auto",
                                                       "news": "email", "logins": "none"})
    assert (await MessagePreference.objects().first()).news_consent_at == first
    await post_form(client, "/cabinet/notifications", {"account": "sms", "reminders": "auto",
                                                       "news": "none", "logins": "none"})
    assert (await MessagePreference.objects().first()).news_consent_at is None


async def test_a_login_from_a_new_device_is_told_only_to_who_asked_and_not_from_a_known_one(client):
    s = await make_subscriber(phone="+79131234567")
    await cabinet_login(client, s.contract_number)
    assert await _channels(s.id) == []  # off by default
    await post_form(client, "/cabinet/notifications", {"account": "auto", "reminders": "auto",
                                                       "news": "none", "logins": "sms"})
    await client.post("/cabinet/logout", data={"_csrf_token": csrf_from(
        (await client.get("/cabinet/")).text)})
    await cabinet_login(client, s.contract_number)  # this browser is now a known device
    assert await _channels(s.id) == []
    client.cookies.clear()  # another browser
    await cabinet_login(client, s.contract_number)
    [row] = await Notification.select(Notification.body, Notification.urgent).where(
        Notification.subscriber == s.id)
    assert row["urgent"] and row["body"].startswith("Centra: новый вход в кабинет ")


async def test_news_mail_carries_a_working_unsubscribe_link_and_a_forged_one_is_refused(client):
    from providers.mail_catcher import MailCatcher
    from settings import get_settings
    from tables.audit import Actor
    from tables.broadcasts import Segment, send_broadcast
    from tables.notifications import ConsoleSender, GatewaySender, send_pending, unsubscribe_token

    s = await make_subscriber(phone="", email="news@example.ru")
    other = await make_subscriber(phone="", email="other@example.ru")
    for who in (s, other):
        await MessagePreference.insert(MessagePreference(
            subscriber=who.id, news="email", updated_at=dt.datetime.now(dt.UTC),
            news_consent_at=dt.datetime.now(dt.UTC)))
    await send_broadcast(Segment(), "Новый тариф «Турбо»", "news", actor=Actor("boss"))
    await send_broadcast(Segment(), "Работы на линии 10.12", "notice", actor=Actor("boss"))
    mailbox = MailCatcher().start()
    try:
        sender = GatewaySender(get_settings().replace(
            smtp_host="127.0.0.1", smtp_port=mailbox.port, smtp_security="none"), console=ConsoleSender())
        await send_pending(sender, now=dt.datetime(2026, 12, 7, 12, tzinfo=LOCAL_TZ))
        letters = {(m["To"], m["Subject"]): m for m in mailbox.messages}
    finally:
        mailbox.stop()
    news = letters[("news@example.ru", "Новости Centra")]
    notice = letters[("news@example.ru", "Сообщение Centra")]
    assert "List-Unsubscribe" not in notice  # a service notice is not optional mail
    link = str(news["List-Unsubscribe"]).strip().strip("<>")
    assert link.endswith(f"/unsubscribe/{unsubscribe_token(s.id)}") and link in news.get_body(
        ("plain",)).get_content()
    path = link[link.index("/unsubscribe/"):]
    page = await client.get(path)
    assert page.status_code == 200 and "Отписаться" in page.text
    done = await client.post(path, data={"_csrf_token": csrf_from(page.text)})
    assert done.status_code == 200 and "больше не придут" in done.text
    rows = {r["subscriber"]: r["news"] for r in await MessagePreference.select(
        MessagePreference.subscriber, MessagePreference.news)}
    assert rows == {s.id: "none", other.id: "email"}
    forged = f"/unsubscribe/{other.id}.{'0' * 24}"
    assert (await client.get(forged)).status_code == 404
    refused = await client.post(forged, data={"_csrf_token": csrf_from(page.text)})
    assert refused.status_code == 404 and rows[other.id] == "email"
