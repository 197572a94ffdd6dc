"""A small prepared dataset for the report tests; the expected figures are worked out by hand
in the tests next to each assertion.

Times are given in local time (Asia/Novokuznetsk, UTC+7) and stored in UTC, so a
payment at 03:30 local on 1 October is 30 September in UTC: it must count in October.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from piccolo.apps.user.tables import BaseUser

from tables.addresses import Town
from tables.ledger import LedgerEntry, recompute_balance
from tables.payments.payment import Payment
from tables.ratings import CabinetRating
from tables.requests.queue import RequestEvent, ServiceRequest
from tables.subscribers import Subscriber
from tests.support.factories import make_address, make_tariff

TZ = ZoneInfo("Asia/Novokuznetsk")
NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)  # 19:00 local
_ref = itertools.count(1)


def local(month: int, day: int, hour: int = 12, minute: int = 0, year: int = 2026) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=TZ)


@dataclass
class Dataset:
    nk: int
    os: int
    max_tariff: int
    base_tariff: int
    s: dict[int, Subscriber]


async def entry(subscriber: Subscriber, amount: int, kind: str, when: dt.datetime,
                period: str | None = None) -> None:
    await LedgerEntry.insert(LedgerEntry(subscriber=subscriber.id, amount=amount, kind=kind,
                                         period=period, reference=f"test:{next(_ref)}",
                                         created_at=when))


async def payment(subscriber: Subscriber, amount: int, channel: str, when: dt.datetime, *,
                  brand: str = "", status: str = "succeeded", refunded: int = 0) -> None:
    await Payment(subscriber=subscriber.id, amount=amount, channel=channel, card_brand=brand,
                  status=status, refunded_amount=refunded, created_at=when, updated_at=when).save()


async def request(number: str, kind: str, created: dt.datetime, *, subscriber: Subscriber | None = None,
                  status: str = "new", closed: dt.datetime | None = None, topic: str = "",
                  town: int | None = None,
                  events: tuple[tuple[dt.datetime, int | None, bool], ...] = ()) -> None:
    row = ServiceRequest(number=number, kind=kind, status=status,
                         subscriber=subscriber.id if subscriber else None, topic=topic, town=town,
                         created_at=created, updated_at=closed or created, closed_at=closed)
    await row.save()
    for when, staff, internal in events:
        await RequestEvent(service_request=row.id, author_name="x", staff=staff, internal=internal,
                           message="ответ", created_at=when).save()


async def build() -> Dataset:
    """Six contracts in two towns on two tariffs, with money, requests and ratings."""
    maximum = await make_tariff("Максимум", fee=75000)
    base = await make_tariff("Базовый", fee=35000)

    async def sub(town: str, tariff, connected: dt.date, *, status: str = "active",
                  terminated: dt.date | None = None, year_name: str = "") -> Subscriber:
        # Rows built directly: the password hashing of create_subscriber is not under test here.
        address = await make_address(town=town, street="улица Ленина")
        s = Subscriber(contract_number=str(100000 + next(_ref)), full_name=f"Абонент {year_name}",
                       phone="+79131234567", address=address.id, tariff=tariff.id, status=status,
                       connected_on=connected, terminated_on=terminated, created_at=NOW)
        await s.save()
        return s

    s1 = await sub("Новокузнецк", maximum, dt.date(2026, 1, 1), year_name="Один")
    s2 = await sub("Осинники", base, dt.date(2026, 9, 15), year_name="Два")
    s3 = await sub("Новокузнецк", base, dt.date(2026, 3, 10), status="terminated",
                   terminated=dt.date(2026, 10, 20), year_name="Три")
    s4 = await sub("Осинники", maximum, dt.date(2026, 10, 5), status="suspended", year_name="Четыре")
    s5 = await sub("Новокузнецк", maximum, dt.date(2025, 12, 1), year_name="Пять")
    s6 = await sub("Новокузнецк", maximum, dt.date(2026, 2, 1), status="terminated",
                   terminated=dt.date(2026, 11, 5), year_name="Шесть")

    # s1: debt starts again on 10 October (the refund takes the balance below zero).
    await entry(s1, -75000, "charge", local(9, 1, 10), "2026-09")
    await entry(s1, 75000, "payment", local(9, 5))
    await entry(s1, -75000, "charge", local(10, 1, 3), "2026-10")
    await entry(s1, 80000, "payment", local(10, 1, 3, 30))
    await entry(s1, -30000, "refund", local(10, 10))
    await entry(s1, -75000, "charge", local(11, 1, 3), "2026-11")
    # s2
    await entry(s2, -35000, "charge", local(10, 1, 10), "2026-10")
    await entry(s2, 35000, "payment", local(10, 3))
    await entry(s2, -35000, "charge", local(11, 1, 10), "2026-11")
    # s3: never paid
    for month in (8, 9, 10):
        await entry(s3, -35000, "charge", local(month, 1, 10), f"2026-{month:02d}")
    # s4: a promised payment given and taken back, then an adjustment
    await entry(s4, -75000, "charge", local(10, 5, 10), "2026-10")
    await entry(s4, 75000, "promised", local(10, 6))
    await entry(s4, -75000, "promised", local(10, 9))
    await entry(s4, -75000, "charge", local(11, 1, 10), "2026-11")
    await entry(s4, 10000, "adjustment", local(11, 2))
    # s5: in credit
    await entry(s5, -75000, "charge", local(11, 1, 10), "2026-11")
    await entry(s5, 100000, "payment", local(11, 2))
    for s in (s1, s2, s3, s4, s5):
        await recompute_balance(s.id)

    await payment(s1, 75000, "office", local(9, 5))
    await payment(s1, 80000, "cabinet", local(10, 1, 3, 30), brand="visa", refunded=30000)
    await payment(s2, 35000, "quick_pay", local(10, 3), brand="mastercard")
    await payment(s5, 100000, "office", local(11, 2))
    await payment(s2, 50000, "cabinet", local(10, 4), brand="visa", status="failed")

    manager = BaseUser(username="manager", password="pbkdf2_sha256$no-login", active=True, admin=True,
                       email="manager@centra.test")
    await manager.save()
    staff = manager.id
    os_id = (await Town.select(Town.id).where(Town.name == "Осинники").first())["id"]
    nk_id = (await Town.select(Town.id).where(Town.name == "Новокузнецк").first())["id"]
    await request("R1", "repair", local(11, 2, 10), subscriber=s1, status="done", closed=local(11, 3, 10),
                  events=((local(11, 2, 11), staff, True), (local(11, 2, 12), staff, False)))
    await request("R2", "repair", local(11, 5, 10), subscriber=s2, status="done", closed=local(11, 6, 16),
                  events=((local(11, 5, 10, 30), None, False), (local(11, 5, 14), staff, False)))
    await request("R3", "repair", local(11, 10, 10), subscriber=s4, status="in_progress",
                  events=((local(11, 10, 11), staff, False),))
    await request("R4", "question", local(11, 12, 9), subscriber=s1)
    await request("R5", "connection", local(11, 15, 8), town=os_id,
                  events=((local(11, 15, 18), staff, False),))
    await request("R7", "question", NOW - dt.timedelta(hours=2), subscriber=s5)
    await request("R6", "repair", local(10, 20), subscriber=s1, status="done", closed=local(10, 21),
                  events=((local(10, 20, 13), staff, False),))
    await request("T1", "termination", local(9, 15), subscriber=s3, status="rejected",
                  closed=local(9, 16), topic="price")
    await request("T2", "termination", local(10, 1), subscriber=s3, status="done",
                  closed=local(10, 20), topic="moving")

    for score, comment, when, who in ((5, "", local(10, 7), s1), (4, "Всё понятно", local(10, 5), s4),
                                      (4, "", local(10, 8), None), (1, "Не нашёл историю платежей",
                                                                    local(11, 3), None),
                                      (5, "", local(11, 4), s2)):
        await CabinetRating(subscriber=who.id if who else None, score=score, comment=comment,
                            period=f"{when.year}-{when.month:02d}", created_at=when).save()
    return Dataset(nk=nk_id, os=os_id, max_tariff=maximum.id, base_tariff=base.id,
                   s={1: s1, 2: s2, 3: s3, 4: s4, 5: s5, 6: s6})
