"""Dates and months out of any sane range: refused at entry, and a row that slipped in earlier
(put here straight through the ORM) never turns a page into a 500 for everyone."""

from __future__ import annotations

import datetime as dt

import pytest

from tables.addresses import Town
from tables.audit import Actor, AuditEntry
from tables.calendar import utcnow
from tables.content import MaintenanceArea, NewsItem
from tables.ledger import LedgerEntry, post_entry
from tables.payments.office import book_office_payment
from tables.payments.payment import Payment
from tests.support.factories import make_subscriber
from tests.support.helpers import admin_login, csrf_from, make_staff, sign_in

FAR_END = dt.datetime(9999, 12, 31, 23, 59, tzinfo=dt.UTC)  # local time would be year 10000


async def test_news_with_a_window_at_the_end_of_the_calendar_still_shows(client):
    subscriber = await make_subscriber()
    town = await Town.select(Town.id).first()
    now = utcnow()
    item = NewsItem(title="Вечные работы", body="Текст", kind="maintenance", published=True,
                    published_at=now - dt.timedelta(days=1), starts_at=now - dt.timedelta(hours=1),
                    ends_at=FAR_END)
    await item.save()
    await MaintenanceArea(news=item.id, town=town["id"]).save()
    await sign_in(client, subscriber.id)
    for url in ("/", "/news", f"/news/{item.id}", "/cabinet/"):
        page = await client.get(url)
        assert page.status_code == 200, url
        assert "Вечные работы" in page.text, url


async def test_a_payment_for_month_0000_01_leaves_statement_and_history_readable(client):
    subscriber = await make_subscriber()
    now = utcnow()
    await Payment(subscriber=subscriber.id, amount=10000, status="succeeded", channel="office",
                  period="0000-01", created_at=now, updated_at=now).save()
    await post_entry(subscriber.id, 10000, "payment", "payment:legacy", period="0000-01",
                     comment="Оплата в кассе офиса")
    await sign_in(client, subscriber.id)
    for url in ("/cabinet/", "/cabinet/statement", "/cabinet/statement/print", "/cabinet/statement.csv",
                "/cabinet/payments"):
        page = await client.get(url)
        assert page.status_code == 200, url
    assert "0000-01" in (await client.get("/cabinet/payments")).text


@pytest.mark.parametrize("period", ["0000-01", "9999-12", "2000-01", "2026-13", "26-01", "январь"])
async def test_office_payment_for_an_absurd_month_is_refused(client, period):
    subscriber = await make_subscriber()
    await make_staff()
    await admin_login(client)
    page = f"/office/subscribers/{subscriber.contract_number}/payment"
    token = csrf_from((await client.get(page)).text)
    for url in (page, f"{page}/confirm"):  # the confirmation step too, sent by hand
        response = await client.post(url, data={"amount": "100", "period": period, "key": "k" * 32,
                                                "_csrf_token": token})
        assert response.status_code == 422, (url, response.text)
        assert "Выберите месяц из списка" in response.text, url
    # The domain function refuses it whoever calls it.
    with pytest.raises(ValueError, match="месяц"):
        await book_office_payment(subscriber.id, 10000, period=period, actor=Actor(name="clerk"))
    assert await Payment.count() == 0 and await LedgerEntry.count() == 0


async def test_office_payment_for_a_recent_month_is_booked(client):
    subscriber = await make_subscriber()
    today = utcnow().astimezone(dt.timezone(dt.timedelta(hours=7))).date()
    last_month = (today.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    await book_office_payment(subscriber.id, 10000, period=last_month, actor=Actor(name="clerk"))
    assert (await Payment.select(Payment.period).first())["period"] == last_month


@pytest.mark.parametrize("field,value", [
    ("ends_at", "9999-12-31T23:59:00+00:00"),
    ("starts_at", "0001-01-01T00:00:00+00:00"),
    ("published_at", "2200-01-01T00:00:00+00:00"),
    ("published_at", "1900-01-01T00:00:00+00:00"),
])
async def test_admin_refuses_news_dates_years_away(client, field, value):
    now = utcnow()
    fields = {"title": "Работы", "body": "", "kind": "maintenance", "published": True,
              "published_at": now.isoformat(), "starts_at": now.isoformat(),
              "ends_at": (now + dt.timedelta(hours=3)).isoformat()}
    await make_staff()
    await admin_login(client)
    refused = await client.post("/admin/api/tables/news_item/", json={**fields, field: value})
    assert refused.status_code == 400 and "укажите дату с" in refused.text, refused.text
    assert await NewsItem.count() == 0

    created = await client.post("/admin/api/tables/news_item/", json=fields)
    assert created.status_code == 201, created.text
    item = await NewsItem.objects().first()
    audits = await AuditEntry.count()
    patched = await client.patch(f"/admin/api/tables/news_item/{item.id}/", json={field: value})
    assert patched.status_code == 400 and "укажите дату с" in patched.text, patched.text
    stored = await NewsItem.objects().get(NewsItem.id == item.id)
    assert getattr(stored, field) == getattr(item, field)
    assert await AuditEntry.count() == audits


@pytest.mark.parametrize("on", ["9999-12-31", "0001-01-01", "1999-12-31"])
async def test_debtors_report_on_a_day_out_of_range_is_a_message(client, on):
    await make_subscriber()
    await make_staff(role="manager")
    await admin_login(client)
    page = await client.get("/reports/debtors", params={"on": on})
    assert page.status_code == 400 and "Дата: укажите день с" in page.text
    assert (await client.get("/reports/debtors/export.csv", params={"on": on})).status_code == 400
