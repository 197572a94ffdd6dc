"""Site content: news and maintenance notices, content pages, site settings."""

from __future__ import annotations

import datetime as dt
import enum
import math
from dataclasses import dataclass
from typing import Any

from piccolo.columns import Boolean, ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.columns.combination import Combinable
from piccolo.table import Table

from tables.addresses import Address, Street, Town, format_address
from tables.calendar import as_utc
from tables.choices import choices


class NewsKind(enum.StrEnum):
    NEWS = "news"
    MAINTENANCE = "maintenance"


NEWS_KIND_LABELS = {"news": "Новость", "maintenance": "Плановые работы"}


class NewsItem(Table, help_text="Новости и плановые работы"):
    title = Varchar(length=200, help_text="Заголовок")
    body = Text(help_text="Текст (Markdown)")
    kind = Varchar(length=20, choices=choices(NewsKind, NEWS_KIND_LABELS), default="news",
                   help_text="Вид")
    published = Boolean(default=True, help_text="Опубликовано")
    published_at = Timestamptz(help_text="Дата публикации")
    starts_at = Timestamptz(null=True, default=None, help_text="Начало работ")
    ends_at = Timestamptz(null=True, default=None, help_text="Окончание работ")


WINDOW_ORDER_MESSAGE = "Окончание работ должно быть позже начала."


def check_work_window(starts_at: dt.datetime | None, ends_at: dt.datetime | None) -> None:
    """A window that ends before it starts would never be shown: refuse it when it is saved.

    :raises ValueError: with the Russian message for the clerk.
    """
    if starts_at is not None and ends_at is not None and as_utc(ends_at) <= as_utc(starts_at):
        raise ValueError(WINDOW_ORDER_MESSAGE)


#: Publication dates and work windows lie within this many years of today: a typo such as
#: 9999-12-31 would otherwise sit on the public pages for ever (and overflow when the
#: page turns it into local time).
NEWS_DATE_YEARS = 5
NEWS_DATE_LABELS = {"published_at": "Дата публикации", "starts_at": "Начало работ",
                    "ends_at": "Окончание работ"}
NEWS_DATE_MESSAGE = "{what}: укажите дату с {low} по {high}."


def check_news_dates(values: dict[str, Any], *, now: dt.datetime) -> None:
    """Refuse a news item's dates outside ``now`` ± :data:`NEWS_DATE_YEARS` years, and a
    work window that ends before it starts.

    :param values: ``published_at``/``starts_at``/``ends_at`` (any of them; ``None`` is
        "not set"), as the admin saves them.
    :raises ValueError: with the Russian message for the clerk.

    >>> check_news_dates({"ends_at": dt.datetime(9999, 12, 31, tzinfo=dt.UTC)}, now=now)
    ValueError: Окончание работ: укажите дату с 07.12.2021 по 07.12.2031.
    """
    low_day, high_day = _years_from(now, -NEWS_DATE_YEARS), _years_from(now, NEWS_DATE_YEARS)
    low = dt.datetime.combine(low_day, dt.time(), dt.UTC)
    high = dt.datetime.combine(high_day, dt.time(), dt.UTC)
    for key, what in NEWS_DATE_LABELS.items():
        moment = values.get(key)
        if moment is None:
            continue
        if not isinstance(moment, dt.datetime) or not low <= as_utc(moment) <= high:
            raise ValueError(NEWS_DATE_MESSAGE.format(
                what=what, low=low_day.strftime("%d.%m.%Y"), high=high_day.strftime("%d.%m.%Y")))
    check_work_window(values.get("starts_at"), values.get("ends_at"))


def _years_from(now: dt.datetime, years: int) -> dt.date:
    day = now.date()
    return day.replace(year=day.year + years, day=28 if (day.month, day.day) == (2, 29) else day.day)


class MaintenanceArea(Table, help_text="Где идут плановые работы: город, улица или дом"):
    news = ForeignKey(NewsItem, null=False, on_delete=OnDelete.cascade, help_text="Работы")
    town = ForeignKey(Town, null=True, default=None, on_delete=OnDelete.cascade, help_text="Город")
    street = ForeignKey(Street, null=True, default=None, on_delete=OnDelete.cascade,
                        help_text="Улица")
    address = ForeignKey(Address, null=True, default=None, on_delete=OnDelete.cascade,
                         help_text="Дом/адрес")


class Page(Table, help_text="Страницы сайта: договор-оферта, правила оплаты и возврата, FAQ, контакты"):
    slug = Varchar(length=60, unique=True, help_text="Адрес страницы: /pages/<slug>")
    title = Varchar(length=200, help_text="Заголовок")
    body = Text(help_text="Текст (Markdown; HTML не выводится как есть)")
    published = Boolean(default=True, help_text="Опубликована")
    in_footer = Boolean(default=True, help_text="Ссылка в подвале сайта")
    sort_order = Integer(default=0, help_text="Порядок")


class SiteSetting(Table, help_text="Настройки сайта (телефон горячей линии и т. п.)"):
    key = Varchar(length=60, unique=True, help_text="Ключ")
    value = Varchar(length=300, help_text="Значение")


HOTLINE_KEY = "hotline_phone"
DEFAULT_HOTLINE = "+7 (3843) 00-00-00"


async def get_setting(key: str, default: str = "") -> str:
    row = await SiteSetting.select(SiteSetting.value).where(SiteSetting.key == key).first()
    return row["value"] if row else default


# --- News -------------------------------------------------------------------

NEWS_PER_PAGE = 10


@dataclass(frozen=True)
class NewsPage:
    """One page of the public news list."""

    items: list[dict[str, Any]]
    page: int
    pages: int
    total: int

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def _visible_news(now: dt.datetime) -> Combinable:
    # A future ``published_at`` schedules an item: it stays hidden until then.
    return (NewsItem.published == True) & (NewsItem.published_at <= now)  # noqa: E712


async def news_page(page: int, *, now: dt.datetime, per_page: int = NEWS_PER_PAGE) -> NewsPage | None:
    """Published news, newest first, ``per_page`` to a page.

    :param page: 1-based page number.
    :returns: the page, or ``None`` when it is past the last one (page 1 always
        exists, empty when there is no news).
    """
    total = await NewsItem.count().where(_visible_news(now))
    pages = max(1, math.ceil(total / per_page))
    if page < 1 or page > pages:
        return None
    items = await (
        NewsItem.select()
        .where(_visible_news(now))
        .order_by(NewsItem.published_at, ascending=False)
        .order_by(NewsItem.id, ascending=False)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return NewsPage(items=items, page=page, pages=pages, total=total)


async def published_news_item(news_id: int, *, now: dt.datetime) -> dict[str, Any] | None:
    """One published item with, for maintenance, the affected area as text."""
    item = await NewsItem.select().where((NewsItem.id == news_id) & _visible_news(now)).first()
    if item is None:
        return None
    item["areas"] = await maintenance_area_names(news_id) if item["kind"] == NewsKind.MAINTENANCE else []
    return item


async def maintenance_area_names(news_id: int) -> list[str]:
    """Readable names of the towns, streets and buildings a maintenance item affects."""
    rows = await MaintenanceArea.select(
        MaintenanceArea.town.name.as_alias("town_name"),
        MaintenanceArea.street.name.as_alias("street_name"),
        MaintenanceArea.street.town.name.as_alias("street_town"),
        MaintenanceArea.address.house.as_alias("house"),
        MaintenanceArea.address.street.name.as_alias("house_street"),
        MaintenanceArea.address.street.town.name.as_alias("house_town"),
    ).where(MaintenanceArea.news == news_id).order_by(MaintenanceArea.id)
    names: list[str] = []
    for row in rows:
        if row["house"] is not None:
            name = format_address(row["house_town"], row["house_street"], row["house"])
        elif row["street_name"] is not None:
            name = f"{row['street_town']}, {row['street_name']}"
        elif row["town_name"] is not None:
            name = row["town_name"]
        else:
            continue
        if name not in names:
            names.append(name)
    return names


# --- Maintenance notices on the dashboard -------------------------------------

MAINTENANCE_LEAD = dt.timedelta(hours=24)


# One query (it runs on every dashboard): the notices whose area names the address's town,
# its street, or any address in the same building.
_MAINTENANCE_FOR_ADDRESS = """
    SELECT DISTINCT n.id AS id, n.title AS title, n.body AS body,
           n.starts_at AS starts_at, n.ends_at AS ends_at
    FROM address me
    JOIN street st ON st.id = me.street
    JOIN maintenance_area a ON a.town = st.town OR a.street = me.street
         OR a.address IN (SELECT b.id FROM address b WHERE b.street = me.street AND b.house = me.house)
    JOIN news_item n ON n.id = a.news
    WHERE me.id = {} AND n.published = true AND n.kind = {}
      AND n.starts_at <= {} AND n.ends_at >= {} AND n.published_at <= {}
    ORDER BY n.starts_at
"""


async def active_maintenance_for_address(
    address_id: int, *, now: dt.datetime, lead: dt.timedelta = MAINTENANCE_LEAD
) -> list[dict[str, Any]]:
    """Published maintenance notices affecting an address, to show on its dashboard.

    An area matches the address when it names the address's town, its street,
    or its building (an area address matches every apartment of the same
    house: works are done per building, and the directory holds apartments).
    A notice is shown from ``starts_at - lead`` until ``ends_at``; notices
    without both ends of the window are not shown.

    :param now: the current time (aware), injected so tests can move it.
    :returns: dicts with ``id``, ``title``, ``body``, ``starts_at``,
        ``ends_at``, soonest first; empty for an unknown address.

    >>> await active_maintenance_for_address(subscriber.address, now=utcnow())
    """
    return await MaintenanceArea.raw(
        _MAINTENANCE_FOR_ADDRESS, address_id, NewsKind.MAINTENANCE.value, now + lead, now, now
    )
