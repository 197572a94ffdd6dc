"""The session and its contract come from one query; the contract must equal the ORM's."""

from __future__ import annotations

import datetime as dt

from tables.accounts import SESSION_IDLE, SubscriberSession, session_info, start_session
from tables.subscribers import Subscriber
from tests.support.factories import make_subscriber

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


async def test_session_brings_the_same_subscriber_as_the_orm():
    s = await make_subscriber(full_name="Сидорова Анна Ивановна", router_rented=True)
    await Subscriber.update({Subscriber.balance: -12345, Subscriber.terminated_on: dt.date(2026, 11, 2),
                             Subscriber.locked_until: NOW}).where(Subscriber.id == s.id)
    token = await start_session(s.id, now=NOW)
    info = await session_info(token, now=NOW + dt.timedelta(minutes=1))
    expected = await Subscriber.objects().where(Subscriber.id == s.id).first()
    assert info is not None and info.subscriber_id == s.id and info.viewer == ""
    got = info.subscriber
    for column in Subscriber._meta.columns:
        name = column._meta.name
        assert getattr(got, name) == getattr(expected, name), name
        assert type(getattr(got, name)) is type(getattr(expected, name)), name
    assert got._exists_in_db
    got.full_name = "Сидорова Анна"
    await got.save([Subscriber.full_name])  # a usable row object, as objects() returns
    assert (await Subscriber.objects().where(Subscriber.id == s.id).first()).full_name == "Сидорова Анна"


async def test_expired_unknown_and_orphaned_sessions_give_nothing():
    s = await make_subscriber()
    token = await start_session(s.id, now=NOW)
    assert await session_info(token, now=NOW + SESSION_IDLE + dt.timedelta(seconds=1)) is None
    assert await session_info("no-such-token", now=NOW) is None
    assert await session_info(None, now=NOW) is None
    other = await make_subscriber()
    orphan = await start_session(other.id, now=NOW)
    await SubscriberSession.update({SubscriberSession.user_id: 10**9}).where(
        SubscriberSession.token == orphan)
    assert await session_info(orphan, now=NOW) is None


async def test_idle_expiry_slides_only_past_half_time():
    s = await make_subscriber()
    token = await start_session(s.id, now=NOW)

    async def expiry() -> dt.datetime:
        row = await SubscriberSession.select(SubscriberSession.expiry_date).where(
            SubscriberSession.token == token).first()
        return row["expiry_date"]

    first = await expiry()
    await session_info(token, now=NOW + dt.timedelta(minutes=5))
    assert await expiry() == first
    await session_info(token, now=NOW + dt.timedelta(minutes=20))
    assert await expiry() == (NOW + dt.timedelta(minutes=20) + SESSION_IDLE).replace(tzinfo=None)
