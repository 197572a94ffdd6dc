"""Maintenance notices reach the subscribers whose address is affected, during their window."""

from __future__ import annotations

import datetime as dt

from tables.addresses import Street, Town
from tables.content import (
    MaintenanceArea,
    NewsItem,
    active_maintenance_for_address,
    maintenance_area_names,
    news_page,
)
from tests.support.factories import make_address

UTC = dt.UTC
NOW = dt.datetime(2026, 12, 10, 12, 0, tzinfo=UTC)


async def works(*, starts: dt.datetime, ends: dt.datetime | None, published: bool = True,
                kind: str = "maintenance", title: str = "Плановые работы", **area) -> NewsItem:
    item = NewsItem(title=title, body="Возможны перерывы", kind=kind, published=published,
                    published_at=starts - dt.timedelta(days=3), starts_at=starts, ends_at=ends)
    await item.save()
    await MaintenanceArea(news=item.id, **area).save()
    return item


def ids(rows: list[dict]) -> list[int]:
    return [r["id"] for r in rows]


async def test_notice_by_street_shown_during_window_only_on_that_street():
    home = await make_address(street="улица Кирова", house="5", apartment="12")
    other_street = await make_address(street="улица Ленина", house="5", apartment="12")
    kirova = await Street.objects().get(Street.name == "улица Кирова")
    item = await works(starts=NOW + dt.timedelta(hours=2), ends=NOW + dt.timedelta(hours=8),
                       street=kirova.id)

    assert ids(await active_maintenance_for_address(home.id, now=NOW)) == [item.id]
    assert await active_maintenance_for_address(other_street.id, now=NOW) == []
    # A little before (within the lead), during, at the very end; not earlier, not after.
    assert ids(await active_maintenance_for_address(home.id, now=NOW - dt.timedelta(hours=21))) == [item.id]
    assert await active_maintenance_for_address(home.id, now=NOW - dt.timedelta(hours=23)) == []
    assert ids(await active_maintenance_for_address(home.id, now=NOW + dt.timedelta(hours=8))) == [item.id]
    assert await active_maintenance_for_address(home.id, now=NOW + dt.timedelta(hours=8, seconds=1)) == []
    # The lead time is a parameter.
    assert await active_maintenance_for_address(home.id, now=NOW, lead=dt.timedelta(hours=1)) == []


async def test_notice_by_town_covers_every_street_of_that_town_only():
    first = await make_address(town="Осинники", street="улица Победы")
    second = await make_address(town="Осинники", street="улица Революции")
    elsewhere = await make_address(town="Новокузнецк", street="улица Победы")
    osinniki = await Town.objects().get(Town.name == "Осинники")
    item = await works(starts=NOW, ends=NOW + dt.timedelta(hours=1), town=osinniki.id)
    assert ids(await active_maintenance_for_address(first.id, now=NOW)) == [item.id]
    assert ids(await active_maintenance_for_address(second.id, now=NOW)) == [item.id]
    assert await active_maintenance_for_address(elsewhere.id, now=NOW) == []


async def test_notice_by_building_covers_its_apartments_not_the_neighbours():
    flat = await make_address(street="проспект Бардина", house="7", apartment="1")
    same_house = await make_address(street="проспект Бардина", house="7", apartment="40")
    next_house = await make_address(street="проспект Бардина", house="9", apartment="1")
    item = await works(starts=NOW, ends=NOW + dt.timedelta(hours=1), address=flat.id)
    assert ids(await active_maintenance_for_address(flat.id, now=NOW)) == [item.id]
    assert ids(await active_maintenance_for_address(same_house.id, now=NOW)) == [item.id]
    assert await active_maintenance_for_address(next_house.id, now=NOW) == []
    assert await maintenance_area_names(item.id) == ["Новокузнецк, проспект Бардина, д. 7"]


async def test_unpublished_plain_news_and_windowless_items_are_not_notices():
    home = await make_address(street="улица Кирова")
    kirova = await Street.objects().get(Street.name == "улица Кирова")
    window = {"starts": NOW, "ends": NOW + dt.timedelta(hours=1), "street": kirova.id}
    await works(published=False, **window)
    await works(kind="news", **window)
    await works(starts=NOW, ends=None, street=kirova.id)
    assert await active_maintenance_for_address(home.id, now=NOW) == []
    assert await active_maintenance_for_address(999999, now=NOW) == []


async def test_notice_scheduled_for_later_publication_waits_for_it():
    home = await make_address(street="улица Кирова")
    kirova = await Street.objects().get(Street.name == "улица Кирова")
    item = await works(starts=NOW + dt.timedelta(hours=2), ends=NOW + dt.timedelta(hours=6),
                       street=kirova.id)
    await NewsItem.update({NewsItem.published_at: NOW + dt.timedelta(hours=1)}).where(
        NewsItem.id == item.id)
    assert await active_maintenance_for_address(home.id, now=NOW) == []
    later = NOW + dt.timedelta(hours=1, minutes=1)
    assert ids(await active_maintenance_for_address(home.id, now=later)) == [item.id]


async def test_one_notice_listed_once_even_when_several_areas_match():
    home = await make_address(street="улица Кирова", house="3")
    kirova = await Street.objects().get(Street.name == "улица Кирова")
    item = await works(starts=NOW, ends=NOW + dt.timedelta(hours=1), street=kirova.id)
    await MaintenanceArea(news=item.id, town=kirova.town).save()
    await MaintenanceArea(news=item.id, address=home.id).save()
    later = await works(starts=NOW + dt.timedelta(hours=3), ends=NOW + dt.timedelta(hours=4),
                        address=home.id, title="Вторые работы")
    rows = await active_maintenance_for_address(home.id, now=NOW)
    assert ids(rows) == [item.id, later.id]
    assert rows[0]["title"] == "Плановые работы" and rows[0]["ends_at"] == NOW + dt.timedelta(hours=1)


async def test_news_pages_are_newest_first_and_bounded():
    for n in range(23):
        await NewsItem(title=f"Новость {n}", body="", published_at=NOW - dt.timedelta(days=n)).save()
    await NewsItem(title="Черновик", body="", published=False, published_at=NOW).save()
    await NewsItem(title="Завтрашняя", body="", published_at=NOW + dt.timedelta(days=1)).save()
    first = await news_page(1, now=NOW)
    assert first.total == 23 and first.pages == 3 and not first.has_previous and first.has_next
    assert [i["title"] for i in first.items][:2] == ["Новость 0", "Новость 1"]
    last = await news_page(3, now=NOW)
    assert [i["title"] for i in last.items] == ["Новость 20", "Новость 21", "Новость 22"]
    assert not last.has_next
    assert await news_page(4, now=NOW) is None
    assert await news_page(0, now=NOW) is None
    # With no news, page 1 still exists (empty).
    empty = await news_page(1, now=NOW - dt.timedelta(days=100))
    assert empty.items == [] and empty.pages == 1
