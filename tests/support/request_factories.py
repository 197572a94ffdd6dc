"""Helpers for request tests: staff actors, a clock, filed requests."""

from __future__ import annotations

import datetime as dt

from piccolo.apps.user.tables import BaseUser

from tables.addresses import Town
from tables.audit import Actor
from tables.requests.connection import file_connection_application
from tables.requests.filing import file_request
from tables.requests.queue import ServiceRequest

# 12:00 local time (UTC+7) on 15 November 2026: the middle of a billing period.
MID_NOVEMBER = dt.datetime(2026, 11, 15, 5, 0, tzinfo=dt.UTC)


async def staff_actor(username: str = "clerk") -> Actor:
    """A clerk for domain calls; cannot log in (skips the 600,000-round password hash)."""
    user = BaseUser(username=username, password="pbkdf2_sha256$unusable", email=f"{username}@centra.test",
                    active=True, admin=True, superuser=False)
    await user.save()
    return Actor(name=user.username, staff_id=user.id)


async def filed(subscriber_id: int, kind: str = "repair", *, now: dt.datetime = MID_NOVEMBER,
                **fields) -> ServiceRequest:
    """A request of ``kind`` with valid defaults for that kind's form."""
    defaults: dict = {
        "repair": {"topic": "no_internet", "text": "Нет интернета с утра"},
        "service": {"topic": "router_install", "text": ""},
        "question": {"text": "Как подключить второй телевизор?"},
        "termination": {"topic": "moving", "desired_date": now.date() + dt.timedelta(days=10),
                        "confirmed": True},
        "tariff_change": {},
    }[kind]
    return await file_request(subscriber_id, kind, now=now, **{**defaults, **fields})


async def application(*, phone: str = "8 (913) 555-12-34", town: str = "Осинники",
                      street: str = "улица Победы", house: str = "3", apartment: str = "7",
                      tariff_id: int | None = None, now: dt.datetime = MID_NOVEMBER
                      ) -> ServiceRequest:
    town_row = await Town.objects().get_or_create(Town.name == town)
    return await file_connection_application(
        name="Соколова Анна", phone=phone, town_id=town_row.id, street=street, house=house,
        apartment=apartment, tariff_id=tariff_id, contact_time="после 18:00", consent=True, now=now)


async def cabinet_login(client, contract: str, password: str = "correct-horse-1"):
    """Log in through the cabinet's form; returns the login response."""
    from tests.support.helpers import csrf_from

    page = await client.get("/cabinet/login")
    return await client.post("/cabinet/login", data={
        "contract_number": contract, "password": password, "_csrf_token": csrf_from(page.text)})


async def post_form(client, path: str, data: dict, *, form_page: str | None = None):
    """POST a cabinet form with the CSRF token taken from ``form_page`` (default: ``path``)."""
    from tests.support.helpers import csrf_from

    page = await client.get(form_page or path)
    return await client.post(path, data={**data, "_csrf_token": csrf_from(page.text)})
