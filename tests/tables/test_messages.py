"""Each event queues exactly one message, in Russian, one SMS segment — also when its cause
runs again (a replayed payment, a second charge run, a reminder pass every tick)."""

from __future__ import annotations

import datetime as dt

import pytest

from providers.sms import sms_segments
from tables.accounts import reset_password
from tables.audit import Actor
from tables.billing.charge_run import run_charges
from tables.billing.promised import grant_promised_payment, reverse_expired_promised_payments
from tables.billing.reminders import remind_low_balances, remind_promised_ending
from tables.billing.tariff_changes import apply_due_tariff_changes, schedule_tariff_change
from tables.calendar import LOCAL_TZ
from tables.ledger import DuplicateEntryError, EntryKind, post_entry
from tables.messages import TEXTS
from tables.notifications import Notification, notify_subscriber
from tables.payments.office import book_office_payment
from tables.subscribers import Subscriber, SubscriberStatus
from tests.support.factories import make_subscriber, make_tariff

CLERK = Actor("clerk")


async def messages(subscriber_id: int) -> list[dict]:
    return await Notification.select(
        Notification.topic, Notification.body, Notification.channel, Notification.event_key,
        Notification.urgent, Notification.status,
    ).where(Notification.subscriber == subscriber_id).order_by(Notification.id)


def local(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=LOCAL_TZ)


@pytest.mark.parametrize("kind", sorted(TEXTS))
def test_every_text_fits_one_sms_segment_with_large_values(kind):
    values = {"amount": "99999,99", "balance": "-99999,99", "debt": "99999,99", "fee": "9999,99",
              "date": "31.12", "until": "31.12 23:59", "tariff": "Интернет 100",
              "window": "с 31.12 23:00 до 01.01 06:00", "at": "31.12 23:59",
              "link": "centra.example/cabinet/pay"}
    text = "Centra: " + TEXTS[kind].format(**values)
    assert sms_segments(text) == 1, (len(text), text)


async def test_a_long_sms_is_cut_to_one_segment_and_an_email_is_not():
    by_sms = await make_subscriber(phone="+79131234567")
    by_mail = await make_subscriber(phone="", email="a@example.ru")
    for s in (by_sms, by_mail):
        await notify_subscriber(s.id, topic="t", text="очень " * 30, event_key=f"long:{s.id}")
    [sms], [mail] = await messages(by_sms.id), await messages(by_mail.id)
    assert sms_segments(sms["body"]) == 1 and sms["body"].endswith("…")
    assert mail["body"] == "Centra: " + "очень " * 30


async def test_a_payment_is_told_once_whatever_replays_it():
    s = await make_subscriber()
    await post_entry(s.id, 150050, EntryKind.PAYMENT, "pi_test_1")
    with pytest.raises(DuplicateEntryError):
        await post_entry(s.id, 150050, EntryKind.PAYMENT, "pi_test_1")
    for _ in range(2):  # the office's double click: one key, one payment, one message
        await book_office_payment(s.id, 50000, actor=CLERK, key="confirm-key-1")
    rows = await messages(s.id)
    assert [r["body"] for r in rows] == ["Centra: платёж 1500,50 ₽ зачислен, баланс 1500,50 ₽",
                                        "Centra: платёж 500 ₽ зачислен, баланс 2000,50 ₽"]
    assert all(r["channel"] == "sms" and not r["urgent"] for r in rows)
    await post_entry(s.id, -100, EntryKind.CHARGE, "charge-x")
    await post_entry(s.id, 100, EntryKind.ADJUSTMENT, "adj-x")
    assert len(await messages(s.id)) == 2  # charges and adjustments are not payments


async def test_a_landline_never_gets_an_sms_and_staff_see_why():
    s = await make_subscriber(phone="+73843712345", email="")
    await post_entry(s.id, 1000, EntryKind.PAYMENT, "pi_landline")
    [row] = await messages(s.id)
    assert row["channel"] == "" and row["status"] == "skipped"


async def test_debt_suspends_once_per_run_and_a_payment_brings_service_back_in_one_message():
    s = await make_subscriber(fee=75000, connected_on=dt.date(2026, 6, 1))
    now = local(2026, 12, 1, 10, 0)
    await run_charges("2026-12", actor=CLERK, now=now)
    await run_charges("2026-12", actor=CLERK, now=now + dt.timedelta(hours=1))
    assert (await Subscriber.objects().get(Subscriber.id == s.id)).status == SubscriberStatus.SUSPENDED
    await post_entry(s.id, 100000, EntryKind.PAYMENT, "pi_back")
    assert [r["body"] for r in await messages(s.id)] == [
        "Centra: услуги приостановлены, долг 750 ₽. Пополните счёт",
        "Centra: платёж 1000 ₽ принят, услуги включены. Баланс 250 ₽"]


async def test_promised_payment_granted_ending_tomorrow_and_reversed_into_debt():
    s = await make_subscriber(fee=75000, connected_on=dt.date(2026, 6, 1))
    await post_entry(s.id, -1000, EntryKind.CHARGE, "charge-small")
    granted = local(2026, 12, 10, 12, 0)
    promised = await grant_promised_payment(s.id, now=granted)
    for hour in (10, 11):  # the worker's ticks on the day before it ends
        assert await remind_promised_ending(now=local(2026, 12, 12, hour, 0)) == (hour == 10)
    assert await remind_promised_ending(now=local(2026, 12, 11, 10, 0)) == 0
    await reverse_expired_promised_payments(now=promised.expires_at + dt.timedelta(minutes=1))
    await reverse_expired_promised_payments(now=promised.expires_at + dt.timedelta(minutes=2))
    bodies = [r["body"] for r in await messages(s.id)]
    assert bodies == ["Centra: обещанный платёж 750 ₽ до 13.12 12:00",
                      "Centra: обещанный платёж 750 ₽ кончается завтра. Пополните счёт",
                      "Centra: услуги приостановлены, долг 10 ₽. Пополните счёт"]


async def test_low_balance_is_told_n_days_before_the_charge_once_per_period(setenv):
    setenv("CENTRA_BALANCE_REMINDER_DAYS", "3")
    poor = await make_subscriber(fee=75000)
    rich = await make_subscriber(fee=75000)
    await post_entry(rich.id, 75000, EntryKind.PAYMENT, "pi_rich")
    await post_entry(poor.id, 20000, EntryKind.PAYMENT, "pi_poor")
    assert await remind_low_balances(now=local(2026, 12, 28, 9, 0)) == 0  # 4 days before
    assert await remind_low_balances(now=local(2026, 12, 29, 9, 0)) == 1
    assert await remind_low_balances(now=local(2026, 12, 30, 9, 0)) == 0
    assert [r["body"] for r in await messages(poor.id)][-1] == (
        "Centra: 01.01 спишем 750 ₽, на счёте 200 ₽. Пополните счёт")
    assert len(await messages(rich.id)) == 1  # only the payment
    assert await remind_low_balances(now=local(2027, 1, 29, 9, 0)) == 1  # the next period


async def test_low_balance_counts_router_rent_and_a_tariff_change_booked_for_the_1st():
    # 650 ₽ + 150 ₽ router now, 750 ₽ + 150 ₽ from 1 January: 850 ₽ does not pay January.
    now_tariff = await make_tariff(fee=65000, router_fee=15000, router_option=True)
    later = await make_tariff(fee=75000, router_fee=15000, router_option=True)
    s = await make_subscriber(tariff=now_tariff, router_rented=True, connected_on=dt.date(2026, 6, 1))
    await schedule_tariff_change(s.id, later.id, dt.date(2027, 1, 1), CLERK, now=local(2026, 12, 20, 12))
    await post_entry(s.id, 85000, EntryKind.PAYMENT, "pi_850")
    assert await remind_low_balances(now=local(2026, 12, 29, 9, 0)) == 1
    assert [r["body"] for r in await messages(s.id)][-1] == (
        "Centra: 01.01 спишем 900 ₽, на счёте 850 ₽. Пополните счёт")


async def test_a_tariff_change_booked_ahead_is_told_when_it_starts_once():
    old, new = await make_tariff(name="Старт", fee=50000), await make_tariff(name="Турбо", fee=90000)
    s = await make_subscriber(tariff=old, connected_on=dt.date(2026, 6, 1))
    await schedule_tariff_change(s.id, new.id, dt.date(2027, 1, 1), CLERK, now=local(2026, 12, 20, 12))
    for _ in range(2):
        await apply_due_tariff_changes(dt.date(2027, 1, 1), now=local(2027, 1, 1, 0, 10))
    assert [r["body"] for r in await messages(s.id)] == [
        "Centra: с 01.01 ваш тариф «Турбо», 900 ₽ в месяц"]


async def test_a_password_reset_by_staff_is_urgent():
    s = await make_subscriber()
    await reset_password(s.id, actor=CLERK)
    [row] = await messages(s.id)
    assert row["urgent"] and "пароль кабинета сброшен" in row["body"]


async def test_the_daily_reminder_job_queues_each_reminder_once(setenv):
    from jobs.schedules import remind

    setenv("CENTRA_BALANCE_REMINDER_DAYS", "3")
    s = await make_subscriber(fee=75000)
    tick = int(local(2026, 12, 30, 10, 0).timestamp())
    assert await remind(tick) == {"low_balance": 1, "promised_ending": 0}
    assert await remind(tick) == {"low_balance": 0, "promised_ending": 0}  # a retry of the tick
    assert [r["topic"] for r in await messages(s.id)] == ["message.low_balance"]


async def test_maintenance_is_told_at_publication_and_the_evening_before_to_the_building_only():
    from tables.content import MaintenanceArea, NewsItem
    from tables.maintenance_notices import notify_maintenance
    from tests.support.factories import make_address

    house = await make_address(street="улица Кирова", house="5", apartment="1")
    flat = await make_address(street="улица Кирова", house="5", apartment="2")
    neighbour = await make_address(street="улица Кирова", house="7")
    inside = [await make_subscriber(address=a) for a in (house, flat)]
    outside = await make_subscriber(address=neighbour)
    starts, ends = local(2026, 12, 10, 10, 0), local(2026, 12, 10, 12, 0)
    item = NewsItem(title="Работы", body="x", kind="maintenance", published=True,
                    published_at=local(2026, 12, 7, 12, 0), starts_at=starts, ends_at=ends)
    await item.save()
    await MaintenanceArea(news=item.id, address=house.id).save()
    assert await notify_maintenance(now=local(2026, 12, 7, 11, 0)) == {"published": 0, "evening": 0}
    assert await notify_maintenance(now=local(2026, 12, 7, 12, 10)) == {"published": 2, "evening": 0}
    assert await notify_maintenance(now=local(2026, 12, 8, 12, 0)) == {"published": 0, "evening": 0}
    assert await notify_maintenance(now=local(2026, 12, 9, 18, 0)) == {"published": 0, "evening": 2}
    assert await notify_maintenance(now=local(2026, 12, 9, 20, 0)) == {"published": 0, "evening": 0}
    assert await notify_maintenance(now=local(2026, 12, 10, 10, 30)) == {"published": 0, "evening": 0}
    for s in inside:
        assert [r["body"] for r in await messages(s.id)] == [
            "Centra: 10.12 с 10:00 до 12:00 плановые работы, возможны перебои",
            "Centra: завтра с 10:00 до 12:00 плановые работы, возможны перебои"]
    assert await messages(outside.id) == []
