"""The quick-pay search by address: spelling, ambiguity, and the kept directory."""

from __future__ import annotations

import gc

from tables import addresses
from tables.addresses import Street, Town
from tables.payments.quick_pay import find_payable_contract
from tests.support.factories import make_address, make_subscriber


async def _town_id(name: str = "Новокузнецк") -> int:
    return (await Town.select(Town.id).where(Town.name == name).first())["id"]


async def test_spelling_of_case_yo_and_spaces_does_not_matter():
    home = await make_address(street="улица Семёнова", house="12А", apartment="7")
    subscriber = await make_subscriber(address=home, full_name="Сидоров Иван Петрович")
    town = await _town_id()
    for street, house in (("улица Семёнова", "12А"), ("  УЛИЦА   семенова ", " 12а "),
                          ("Семенова", "12а")):
        found = await find_payable_contract(town_id=town, street=street, house=house, apartment="7")
        assert found is not None and found.id == subscriber.id, (street, house)
        assert found.name == "Сидоров И. П." and "кв." not in found.address
    assert await find_payable_contract(town_id=town, street="Семенова", house="12б",
                                       apartment="7") is None


async def test_a_short_street_name_that_fits_two_streets_finds_nothing():
    first = await make_address(street="улица Кирова", house="1", apartment="1")
    second = await make_address(street="переулок Кирова", house="1", apartment="1")
    await make_subscriber(address=first)
    other = await make_subscriber(address=second)
    town = await _town_id()
    assert await find_payable_contract(town_id=town, street="Кирова", house="1", apartment="1") is None
    found = await find_payable_contract(town_id=town, street="переулок кирова", house="1",
                                        apartment="1")
    assert found is not None and found.id == other.id


async def test_the_directory_is_reread_after_its_time(setenv):
    home = await make_address(street="улица Ленина", house="3", apartment="1")
    await make_subscriber(address=home)
    town = await _town_id()
    assert await find_payable_contract(town_id=town, street="Ленина", house="3", apartment="1")
    street = (await Street.select(Street.id).where(Street.name == "улица Ленина").first())["id"]
    assert street in addresses._places  # kept for the next searches
    # Strings and ints only: the collector never walks the kept directory.
    assert not gc.is_tracked(addresses._places[street][1])
    assert not gc.is_tracked(addresses._streets[town][1])

    # An address a clerk adds later is found once the kept copy is older than its time.
    new = await make_subscriber(address=await make_address(street="улица Ленина", house="3",
                                                           apartment="2"))
    setenv("CENTRA_SITE_CACHE_SECONDS", "0")
    found = await find_payable_contract(town_id=town, street="Ленина", house="3", apartment="2")
    assert found is not None and found.id == new.id


async def test_unknown_towns_are_not_kept():
    assert await find_payable_contract(town_id=987654, street="Ленина", house="1", apartment="") is None
    assert 987654 not in addresses._streets
