"""Staff see the cabinet's ratings and edit maintenance areas in the admin."""

from __future__ import annotations

import datetime as dt

from tables.addresses import Street
from tables.calendar import utcnow
from tables.content import MaintenanceArea, NewsItem, active_maintenance_for_address
from tables.ratings import CabinetRating, rate_cabinet, rating_period
from tests.support.factories import make_address, make_subscriber
from tests.support.helpers import admin_login, make_staff

REPORT = "/admin/api/forms/оценки-кабинета/"


async def test_ratings_report_shows_distribution_and_comments(client):
    now = utcnow()
    subscriber = await make_subscriber()
    await rate_cabinet(5, "Удобно платить", subscriber_id=subscriber.id, now=now)
    await rate_cabinet(5, "", now=now)
    await rate_cabinet(2, "Не нашёл историю", now=now)
    await rate_cabinet(3, '=HYPERLINK("http://evil.example","x")', now=now)  # anonymous, public
    await make_staff()
    await admin_login(client)
    response = await client.post(REPORT, json={"period": ""})
    assert response.status_code == 200, response.text
    message = response.json()["custom_form_success"]
    assert "оценок 4" in message and "средняя 3,8" in message
    assert "Лучше не бывает — 2" in message and "Не очень удобно — 1" in message
    assert "Не удобно — 0" in message
    assert "«Удобно платить» (5)" in message and "«Не нашёл историю» (2)" in message

    csv = await client.post(REPORT, json={"period": rating_period(now), "download": True})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    text = csv.content.decode("utf-8-sig")
    assert "Не нашёл историю" in text and f";{subscriber.id};" in text and "аноним" in text
    # A comment from the public site is text in the clerk's spreadsheet, never a formula.
    assert "'=HYPERLINK" in text and ";=HYPERLINK" not in text

    bad = await client.post(REPORT, json={"period": "ноябрь"})
    assert bad.status_code == 422 and "ГГГГ-ММ" in bad.text
    empty = await client.post(REPORT, json={"period": "2001-01"})
    assert "нет" in empty.json()["custom_form_success"]


async def test_ratings_are_read_only_in_the_admin(client):
    rating = await rate_cabinet(3, "", now=utcnow())
    await make_staff()
    await admin_login(client)
    assert (await client.get("/admin/api/tables/cabinet_rating/")).status_code == 200
    assert (await client.patch(f"/admin/api/tables/cabinet_rating/{rating.id}/",
                               json={"score": 5})).status_code >= 400
    assert (await client.delete(f"/admin/api/tables/cabinet_rating/{rating.id}/")).status_code >= 400
    assert (await CabinetRating.objects().get(CabinetRating.id == rating.id)).score == 3


async def test_staff_add_an_affected_street_and_the_notice_reaches_it(client):
    now = utcnow()
    home = await make_address(street="улица Победы", house="4")
    street = await Street.objects().get(Street.name == "улица Победы")
    item = NewsItem(title="Работы", body="", kind="maintenance", published_at=now,
                    starts_at=now, ends_at=now + dt.timedelta(hours=3))
    await item.save()
    assert await active_maintenance_for_address(home.id, now=now) == []
    await make_staff()
    await admin_login(client)
    created = await client.post("/admin/api/tables/maintenance_area/",
                                json={"news": item.id, "town": None, "street": street.id,
                                      "address": None})
    assert created.status_code == 201, created.text
    assert await MaintenanceArea.count() == 1
    assert [r["id"] for r in await active_maintenance_for_address(home.id, now=now)] == [item.id]


async def test_a_work_window_ending_before_it_starts_is_refused(client):
    from tables.audit import AuditEntry

    starts = dt.datetime(2026, 12, 1, 3, 0, tzinfo=dt.UTC)
    await make_staff()
    await admin_login(client)
    audits = await AuditEntry.count()
    bad = await client.post("/admin/api/tables/news_item/", json={
        "title": "Работы", "body": "", "kind": "maintenance", "published": True,
        "published_at": starts.isoformat(), "starts_at": starts.isoformat(),
        "ends_at": (starts - dt.timedelta(hours=1)).isoformat()})
    assert bad.status_code == 400 and "Окончание работ должно быть позже начала" in bad.text
    assert await NewsItem.count() == 0 and await AuditEntry.count() == audits

    good = await client.post("/admin/api/tables/news_item/", json={
        "title": "Работы", "body": "", "kind": "maintenance", "published": True,
        "published_at": starts.isoformat(), "starts_at": starts.isoformat(),
        "ends_at": (starts + dt.timedelta(hours=3)).isoformat()})
    assert good.status_code == 201, good.text
    item = await NewsItem.objects().first()
    audits = await AuditEntry.count()
    # Only one end changed: checked against the stored other end.
    early = (starts - dt.timedelta(minutes=5)).isoformat()
    refused = await client.patch(f"/admin/api/tables/news_item/{item.id}/", json={"ends_at": early})
    assert refused.status_code == 400 and "Окончание работ должно быть позже начала" in refused.text
    late = (starts + dt.timedelta(hours=4)).isoformat()
    refused = await client.patch(f"/admin/api/tables/news_item/{item.id}/", json={"starts_at": late})
    assert refused.status_code == 400
    stored = await NewsItem.objects().get(NewsItem.id == item.id)
    assert (stored.starts_at, stored.ends_at) == (item.starts_at, item.ends_at)
    assert await AuditEntry.count() == audits
    moved = await client.patch(f"/admin/api/tables/news_item/{item.id}/", json={"ends_at": late})
    assert moved.status_code == 200, moved.text
    assert (await NewsItem.objects().get(NewsItem.id == item.id)).ends_at == starts + dt.timedelta(hours=4)
