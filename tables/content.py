"""Site content: news and maintenance notices, content pages, site settings."""

from __future__ import annotations

import enum

from piccolo.columns import Boolean, ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.table import Table

from tables.addresses import Address, Street, Town
from tables.db import choices


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
