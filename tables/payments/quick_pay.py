"""Quick pay: finding a contract without a login, showing only what a visitor may see."""

from __future__ import annotations

from dataclasses import dataclass

from tables.addresses import (
    AMBIGUOUS,
    addresses_on_street,
    matching_streets,
    normalise,
    place_key,
    streets_in_town,
)
from tables.subscribers import Subscriber, SubscriberStatus, mask_name


@dataclass(frozen=True)
class PayableContract:
    """A contract found without a login, as the visitor may see it."""

    id: int
    name: str  # surname and initials
    address: str  # town, street and house: never the apartment


# The contract with what a visitor may see of it, in one read (the search runs for anyone,
# so it is fixed SQL rather than built per request).
_CONTRACT_SQL = (
    "SELECT s.id, s.full_name, s.status, s.balance, a.house, st.name AS street, t.name AS town"
    " FROM subscriber s LEFT JOIN address a ON a.id = s.address"
    " LEFT JOIN street st ON st.id = a.street LEFT JOIN town t ON t.id = st.town WHERE "
)


_BY_NUMBER_SQL = _CONTRACT_SQL + "s.contract_number = {}"


_BY_ADDRESS_SQL = _CONTRACT_SQL + "s.address = {}"


_BY_ID_SQL = _CONTRACT_SQL + "s.id = {}"


def _shown(row: dict) -> PayableContract:
    address = f"{row['town']}, {row['street']}, д. {row['house']}" if row["house"] is not None else ""
    return PayableContract(id=row["id"], name=mask_name(row["full_name"]), address=address)


def _payable(rows: list[dict]) -> PayableContract | None:
    # Terminated contracts are found only while they still owe money.
    usable = [r for r in rows if r["status"] != SubscriberStatus.TERMINATED or r["balance"] < 0]
    return _shown(usable[0]) if len(usable) == 1 else None


async def find_payable_contract(*, contract_number: str = "", town_id: int | None = None,
                                street: str = "", house: str = "",
                                apartment: str = "") -> PayableContract | None:
    """One contract by its number, or by town + street + house (+ apartment); else ``None``.

    Anything ambiguous (two contracts at the address, a street name matching
    several streets) is "not found": the visitor is asked for the number.
    """
    number = (contract_number or "").strip().replace(" ", "")
    if number:
        if not number.isdigit() or len(number) > 12:
            return None
        return _payable(await Subscriber.raw(_BY_NUMBER_SQL, number))
    house, apartment, wanted = normalise(house), normalise(apartment), normalise(street)
    if not town_id or not wanted or not house or len(house) > 20 or len(apartment) > 20:
        return None
    street_ids = matching_streets(await streets_in_town(town_id), wanted)
    if len(street_ids) != 1 or street_ids[0] == AMBIGUOUS:
        return None
    places = await addresses_on_street(street_ids[0])
    address_id = places.get(place_key(house, apartment), AMBIGUOUS)
    if address_id == AMBIGUOUS:
        return None
    return _payable(await Subscriber.raw(_BY_ADDRESS_SQL, address_id))


async def contract_to_pay(subscriber_id: int) -> PayableContract | None:
    """The contract a quick-pay ticket names, as the visitor saw it when it was found."""
    rows = await Subscriber.raw(_BY_ID_SQL, subscriber_id)
    return _shown(rows[0]) if rows else None
