"""Bursts of parallel requests against a running server (uvicorn subprocess) cannot get past the
limits: every attempt is counted before it is checked (issue 24, item 1).

Each test runs against a server keeping its limits in process and against one keeping them in
Redis; the database is the session's engine (SQLite, or PostgreSQL with ``CENTRA_TEST_PG``).
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from cabinet.limits import PUBLIC_FORM_PER_IP
from tables.accounts import MAX_FAILED_LOGINS
from tables.addresses import Town
from tables.audit import AuditEntry
from tables.requests.queue import ServiceRequest
from tables.subscribers import Subscriber
from tests.support.factories import make_subscriber
from tests.support.live_server import csrf_client, live_server, redis_up

REDIS_DB = 13
BURST = 150
REAL_AT = 82  # the owner's own login, in the middle of the burst
PASSWORD = "correct-horse-1"
VERIFIED_ACTIONS = ["subscriber.login", "subscriber.login_failed", "subscriber.locked"]


@pytest.fixture(params=["memory", "redis"])
def server(request):
    # Passwords at production's full argon2 cost (the suite hashes at the minimal one): the
    # slow check is what parallel guesses race against.
    env = {"CENTRA_PASSWORD_HASHING": "standard"}
    if request.param == "redis":
        if not redis_up():
            pytest.skip("no Redis server on 127.0.0.1:6379")
        import redis

        redis.Redis(db=REDIS_DB).flushdb()
        env["REDIS_URL"] = f"redis://127.0.0.1:6379/{REDIS_DB}"
    with live_server(env) as base_url:
        yield base_url
    if request.param == "redis":
        redis.Redis(db=REDIS_DB).flushdb()


async def test_a_login_burst_verifies_at_most_the_lockout_and_locks(server, setenv):
    setenv("CENTRA_PASSWORD_HASHING", "standard")
    subscriber = await make_subscriber(password=PASSWORD)
    client, token = await csrf_client(server, "/cabinet/login")
    passwords = [f"wrong-guess-{n}" for n in range(BURST)]
    passwords[REAL_AT] = PASSWORD
    try:
        responses = await asyncio.gather(*(
            client.post("/cabinet/login", data={"contract_number": subscriber.contract_number,
                                                "password": p, "_csrf_token": token})
            for p in passwords))
    finally:
        await client.aclose()
    statuses = [r.status_code for r in responses]
    verified = await AuditEntry.count().where(
        (AuditEntry.object_id == str(subscriber.id)) & AuditEntry.action.is_in(VERIFIED_ACTIONS))
    row = await Subscriber.objects().get(Subscriber.id == subscriber.id)
    print(f"\nlogin burst: verified={verified} failed_logins={row.failed_logins} "
          f"locked_until={row.locked_until} real={statuses[REAL_AT]} "
          f"statuses={ {s: statuses.count(s) for s in set(statuses)} }")
    assert 500 not in statuses
    assert verified <= MAX_FAILED_LOGINS
    assert row.locked_until is not None
    assert row.locked_until > dt.datetime.now(dt.UTC)
    assert statuses[REAL_AT] != 303  # the real password came after the lock


async def test_parallel_connection_applications_store_exactly_the_limit(server):
    town = await Town.objects().get_or_create(Town.name == "Новокузнецк")
    client, token = await csrf_client(server, "/connect")
    posts = 30
    try:
        responses = await asyncio.gather(*(
            client.post("/connect/", data={
                "name": "Иванова Мария", "phone": f"8 (913) 222-{n:02d}-44", "town_id": str(town.id),
                "street": "проспект Бардина", "house": "12", "apartment": str(n + 1),
                "contact_time": "после 18:00", "consent": "yes", "_csrf_token": token})
            for n in range(posts)))
    finally:
        await client.aclose()
    statuses = [r.status_code for r in responses]
    stored = await ServiceRequest.count()
    print(f"\nconnection burst: stored={stored} statuses={ {s: statuses.count(s) for s in set(statuses)} }")
    assert 500 not in statuses
    assert stored == PUBLIC_FORM_PER_IP.max_hits
    assert statuses.count(303) == PUBLIC_FORM_PER_IP.max_hits
