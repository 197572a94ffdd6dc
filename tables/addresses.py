"""Address directory: towns, streets and buildings/apartments."""

from __future__ import annotations

import time

from piccolo.columns import ForeignKey, OnDelete, Varchar
from piccolo.columns.readable import Readable
from piccolo.table import Table

from settings import get_settings


def cache_seconds() -> float:
    """How long pages may show (and the quick-pay search may use) directory and site data read
    earlier (``CENTRA_SITE_CACHE_SECONDS``; the browser tests set 0: their one server process
    outlives each test's rows)."""
    return get_settings().site_cache_seconds


class Town(Table, help_text="Города обслуживания"):
    name = Varchar(length=100, unique=True, verbose_name="Город", help_text="Город")

    class Meta:
        verbose_name = "Город"

    def __str__(self) -> str:
        return self.name

    @classmethod
    def get_readable(cls) -> Readable:
        """How the admin names a town (links and pickers)."""
        return Readable(template="%s", columns=[cls.name])


class Street(Table, help_text="Улицы (справочник адресов)"):
    town = ForeignKey(Town, null=False, on_delete=OnDelete.restrict, verbose_name="Город",
                      help_text="Город")
    name = Varchar(length=150, index=True, verbose_name="Улица", help_text="Улица")

    def __str__(self) -> str:
        return self.name

    @classmethod
    def get_readable(cls) -> Readable:
        """Street and town: «улица Ленина (Осинники)»."""
        return Readable(template="%s (%s)", columns=[cls.name, cls.town._.name])


class Address(Table, help_text="Адреса: дома и квартиры, куда можно подключиться"):
    """One connectable place: a house, or an apartment in it ("" for a private house)."""

    street = ForeignKey(Street, null=False, on_delete=OnDelete.restrict, verbose_name="Улица",
                        help_text="Улица")
    house = Varchar(length=20, verbose_name="Дом", help_text="Дом")
    apartment = Varchar(length=20, default="", verbose_name="Квартира",
                        help_text="Квартира (пусто для частного дома)")

    @classmethod
    def get_readable(cls) -> Readable:
        """Street, house and flat: «улица Кирова, д. 5, кв. 12»."""
        return Readable(template="%s, д. %s, кв. %s", columns=[cls.street._.name, cls.house, cls.apartment])


def format_address(town: str, street: str, house: str, apartment: str = "", *,
                   hide_apartment: bool = False) -> str:
    """Human-readable address in the usual Russian order.

    >>> format_address("Новокузнецк", "ул. Ленина", "1", "5")
    'Новокузнецк, ул. Ленина, д. 1, кв. 5'
    """
    text = f"{town}, {street}, д. {house}"
    if apartment:
        text += ", кв. **" if hide_apartment else f", кв. {apartment}"
    return text


def normalise(text: str | None) -> str:
    """What a visitor's spelling and the directory's must agree on: case, «ё», spaces."""
    return " ".join((text or "").casefold().replace("ё", "е").split())


# --- the directory as the quick-pay search reads it ------------------------------------------
# A search by address compares normalised names, which no index of the stored text can do:
# a street's few hundred addresses used to be read and normalised on every search. They are
# kept here per town and per street for ``cache_seconds()`` (a clerk's new address is found within
# that time); only the contract itself is read per search.
# The kept maps hold only strings and ints (``AMBIGUOUS`` where a name or an address is not
# unique), so the garbage collector does not track them: ~100,000 addresses kept as tuples and
# lists made full collections walk them all, and searches stalled behind them.

AMBIGUOUS = 0
_streets: dict[int, tuple[float, dict[str, int]]] = {}
_places: dict[int, tuple[float, dict[str, int]]] = {}


def unique_ids(pairs: list[tuple[str, int]]) -> dict[str, int]:
    """Id by key, ``AMBIGUOUS`` for a key that names several rows."""
    ids: dict[str, int] = {}
    for key, row_id in pairs:
        ids[key] = AMBIGUOUS if key in ids else row_id
    return ids


def place_key(house: str, apartment: str) -> str:
    """The key of a normalised (house, apartment) in ``addresses_on_street``."""
    return f"{house}\n{apartment}"


def matching_streets(streets: dict[str, int], wanted: str) -> list[int]:
    """Street ids a normalised name names: the exact name, else the streets it is a whole word
    of ("Кирова" finds "улица Кирова")."""
    if wanted in streets:
        return [streets[wanted]]
    return [sid for name, sid in streets.items()
            if wanted in name.split() or name.endswith(" " + wanted)]


def fresh(kept: dict[int, tuple[float, dict[str, int]]], key: int) -> dict[str, int] | None:
    """The map kept under ``key`` (with the time it was read) while younger than ``cache_seconds()``."""
    hit = kept.get(key)
    return hit[1] if hit and time.monotonic() - hit[0] < cache_seconds() else None


async def streets_in_town(town_id: int) -> dict[str, int]:
    """Street id by normalised name in the town (``AMBIGUOUS`` for a name several streets share)."""
    if (cached := fresh(_streets, town_id)) is not None:
        return cached
    rows = await Street.raw("SELECT id, name FROM street WHERE town = {}", town_id)
    streets = unique_ids([(normalise(r["name"]), r["id"]) for r in rows])
    if streets:  # an unknown town id (anyone can send one) is not kept
        _streets[town_id] = (time.monotonic(), streets)
    return streets


async def addresses_on_street(street_id: int) -> dict[str, int]:
    """Address id by ``place_key`` of the normalised house and apartment (or ``AMBIGUOUS``)."""
    if (cached := fresh(_places, street_id)) is not None:
        return cached
    rows = await Address.raw("SELECT id, house, apartment FROM address WHERE street = {}",
                             street_id)
    places = unique_ids([(place_key(normalise(r["house"]), normalise(r["apartment"])), r["id"])
                          for r in rows])
    _places[street_id] = (time.monotonic(), places)  # street ids come from streets_in_town
    return places


def forget_directory() -> None:
    """Drop what is kept (tests: each starts on an empty database)."""
    _streets.clear()
    _places.clear()
