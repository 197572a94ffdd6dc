"""Small factories for test rows."""

from __future__ import annotations

import datetime as dt
import itertools

from tables.addresses import Address, Street, Town
from tables.subscribers import Subscriber, create_subscriber
from tables.tariffs import Tariff

_seq = itertools.count(1)


async def make_address(town: str = "Новокузнецк", street: str = "улица Кирова",
                       house: str = "1", apartment: str | None = None) -> Address:
    town_row = await Town.objects().get_or_create(Town.name == town)
    street_row = await Street.objects().get_or_create(
        (Street.town == town_row.id) & (Street.name == street), defaults={Street.town: town_row.id}
    )
    address = Address(street=street_row.id, house=house,
                      apartment=apartment if apartment is not None else str(next(_seq)))
    await address.save()
    return address


async def make_tariff(name: str | None = None, fee: int = 75000, **kwargs) -> Tariff:
    tariff = Tariff(name=name or f"Тариф {next(_seq)}", monthly_fee=fee, **kwargs)
    await tariff.save()
    return tariff


async def make_subscriber(*, password: str = "correct-horse-1", fee: int = 75000,
                          must_change: bool = False, tariff: Tariff | None = None,
                          address: Address | None = None,
                          connected_on: dt.date | None = None, **kwargs) -> Subscriber:
    tariff = tariff or await make_tariff(fee=fee)
    address = address or await make_address()
    subscriber, _ = await create_subscriber(
        full_name=kwargs.pop("full_name", "Петров Пётр Петрович"), address_id=address.id,
        tariff_id=tariff.id, password=password, connected_on=connected_on or dt.date(2026, 1, 1),
        phone=kwargs.pop("phone", "+79131234567"), **kwargs,
    )
    if not must_change:
        await Subscriber.update({Subscriber.must_change_password: False}).where(
            Subscriber.id == subscriber.id
        )
        subscriber.must_change_password = False
    return subscriber


async def post_at(subscriber_id: int, amount: int, when: dt.datetime, *, kind: str = "payment",
                  period: str | None = None, comment: str = "") -> int:
    """Post a ledger entry as if it had been booked at ``when`` (tests prepare history)."""
    import uuid

    from tables.ledger import LedgerEntry, post_entry

    entry, _ = await post_entry(subscriber_id, amount, kind, f"test:{uuid.uuid4()}", period=period,
                                comment=comment)
    await LedgerEntry.update({LedgerEntry.created_at: when}).where(LedgerEntry.id == entry.id)
    return entry.id
