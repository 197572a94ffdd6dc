"""Address directory: towns, streets and buildings/apartments."""

from __future__ import annotations

from piccolo.columns import ForeignKey, OnDelete, Varchar
from piccolo.table import Table


class Town(Table):
    name = Varchar(length=100, unique=True, verbose_name="Город")

    class Meta:
        verbose_name = "Город"

    def __str__(self) -> str:
        return self.name


class Street(Table):
    town = ForeignKey(Town, null=False, on_delete=OnDelete.restrict, verbose_name="Город")
    name = Varchar(length=150, index=True, verbose_name="Улица")

    def __str__(self) -> str:
        return self.name


class Address(Table):
    """One connectable place: a house, or an apartment in it ("" for a private house)."""

    street = ForeignKey(Street, null=False, on_delete=OnDelete.restrict, verbose_name="Улица")
    house = Varchar(length=20, verbose_name="Дом")
    apartment = Varchar(length=20, default="", verbose_name="Квартира",
                        help_text="Пусто для частного дома")


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
