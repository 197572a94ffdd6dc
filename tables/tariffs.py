"""Tariff plans."""

from __future__ import annotations

import enum

from piccolo.columns import BigInt, Boolean, Integer, Text, Varchar
from piccolo.columns.readable import Readable
from piccolo.table import Table

from tables.choices import choices
from tables.money import kopecks


class TariffKind(enum.StrEnum):
    INTERNET_TV = "internet_tv"
    TV = "tv"
    INTERNET = "internet"


TARIFF_KIND_LABELS = {
    "internet_tv": "Интернет + ТВ",
    "tv": "Кабельное ТВ",
    "internet": "Интернет",
}


class Tariff(Table, help_text="Тарифы. Архивный тариф (не активен) остаётся у действующих договоров."):
    name = Varchar(length=100, unique=True, help_text="Название тарифа")
    kind = Varchar(length=20, choices=choices(TariffKind, TARIFF_KIND_LABELS),
                   default="internet_tv", help_text="Вид услуги")
    monthly_fee = kopecks(BigInt(help_text="Абонентская плата в месяц, ₽"))
    speed_mbps = Integer(default=0, help_text="Скорость, Мбит/с (0 — без интернета)")
    upload_mbps = Integer(default=0, help_text="Исходящая скорость, Мбит/с (0 — как входящая)")
    channels = Integer(default=0, help_text="Число ТВ-каналов (0 — без ТВ)")
    router_option = Boolean(default=False, help_text="Можно заказать роутер")
    router_fee = kopecks(BigInt(default=0, help_text="Аренда роутера в месяц, ₽"))
    active = Boolean(default=True, help_text="Доступен для подключения")
    sort_order = Integer(default=0, help_text="Порядок на сайте")
    description = Text(default="", help_text="Описание для сайта")

    def __str__(self) -> str:
        return self.name

    @classmethod
    def get_readable(cls) -> Readable:
        """Tariffs are known by name."""
        return Readable(template="%s", columns=[cls.name])
