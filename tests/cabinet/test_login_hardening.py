"""Login hardening (issue 24): trusted devices through a lock, the forced change asking for the old
password, ratings before activation, and a dead Redis degrading instead of failing."""

from __future__ import annotations

import logging

import httpx
import pytest

from cabinet.devices import DEVICE_COOKIE, device_cookie
from tables.accounts import MAX_FAILED_LOGINS
from tables.ratings import CabinetRating
from tables.requests.queue import ServiceRequest
from tables.subscribers import Subscriber
from tests.support.factories import make_subscriber
from tests.support.helpers import admin_login, cabinet_login, csrf_from, make_staff, sign_in
from tests.support.request_factories import post_form

PASSWORD = "correct-horse-1"


async def _lock(app, contract: str) -> None:
    """Someone else, without any device cookie, locks the contract."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://testserver") as attacker:
        for _ in range(MAX_FAILED_LOGINS):
            assert (await cabinet_login(attacker, contract, "guess-guess")).status_code == 401
        refused = await cabinet_login(attacker, contract, PASSWORD)
        assert refused.status_code == 401 and "заблокирован" in refused.text


async def _logout(client: httpx.AsyncClient) -> None:
    page = await client.get("/cabinet/")
    await client.post("/cabinet/logout", data={"_csrf_token": csrf_from(page.text)})


async def _state(subscriber_id: int) -> dict:
    return await Subscriber.select(Subscriber.failed_logins, Subscriber.locked_until).where(
        Subscriber.id == subscriber_id).first()


async def test_the_owner_gets_in_through_a_lock_from_a_known_device(app, client):
    s = await make_subscriber(password=PASSWORD)
    first = await cabinet_login(client, s.contract_number, PASSWORD)
    assert first.status_code == 303 and client.cookies.get(DEVICE_COOKIE)
    await _logout(client)
    await _lock(app, s.contract_number)
    again = await cabinet_login(client, s.contract_number, PASSWORD)
    assert again.status_code == 303 and again.headers["location"] == "/cabinet/"
    # The lock stays for everyone else.
    assert (await _state(s.id))["locked_until"] is not None


async def test_a_known_device_cannot_guess_and_its_failures_do_not_lock(app, client):
    s = await make_subscriber(password=PASSWORD)
    assert (await cabinet_login(client, s.contract_number, PASSWORD)).status_code == 303
    for _ in range(MAX_FAILED_LOGINS):
        assert (await cabinet_login(client, s.contract_number, "typo-typo")).status_code == 401
    # Counted on the device, not on the contract.
    assert (await _state(s.id)) == {"failed_logins": 0, "locked_until": None}
    await _lock(app, s.contract_number)
    # The device has used up its own attempts: through the lock it is now like any other browser.
    assert (await cabinet_login(client, s.contract_number, PASSWORD)).status_code == 401


async def test_a_device_cookie_of_another_contract_or_forged_does_not_pass_a_lock(app, client):
    s = await make_subscriber(password=PASSWORD)
    other = await make_subscriber(password=PASSWORD, phone="+79130000001")
    await _lock(app, s.contract_number)
    client.cookies.set(DEVICE_COOKIE, device_cookie(other.contract_number).value, path="/cabinet")
    assert (await cabinet_login(client, s.contract_number, PASSWORD)).status_code == 401
    forged = device_cookie(s.contract_number).value[:-1] + "0"
    client.cookies.set(DEVICE_COOKIE, forged, path="/cabinet")
    response = await cabinet_login(client, s.contract_number, PASSWORD)
    assert response.status_code == 401 and "заблокирован" in response.text


async def test_the_forced_change_asks_for_the_old_password_and_counts_wrong_ones(client):
    s = await make_subscriber(password="123456789012")  # a legacy all-digit password
    assert (await cabinet_login(client, s.contract_number, "123456789012")).headers["location"] == \
        "/cabinet/activate"
    page = await client.get("/cabinet/activate")
    assert 'name="current_password"' in page.text
    new = {"new_password": "Quiet-river-42", "new_password2": "Quiet-river-42",
           "_csrf_token": csrf_from(page.text)}
    missing = await client.post("/cabinet/activate", data=new)
    assert missing.status_code == 400 and "неверно" in missing.text
    for _ in range(MAX_FAILED_LOGINS - 1):
        wrong = await client.post("/cabinet/activate", data={**new, "current_password": "123456789013"})
        assert wrong.status_code == 400
    assert (await _state(s.id))["locked_until"] is not None
    # Locked now: even the right old password does not complete the change.
    locked = await client.post("/cabinet/activate", data={**new, "current_password": "123456789012"})
    assert locked.status_code == 400 and "Слишком много" in locked.text
    row = await Subscriber.select(Subscriber.must_change_password).where(Subscriber.id == s.id).first()
    assert row["must_change_password"] is True


async def test_the_forced_change_with_the_old_password_completes(client):
    s = await make_subscriber(password="123456789012")
    await cabinet_login(client, s.contract_number, "123456789012")
    page = await client.get("/cabinet/activate")
    done = await client.post("/cabinet/activate", data={
        "current_password": "123456789012", "new_password": "Quiet-river-42",
        "new_password2": "Quiet-river-42", "_csrf_token": csrf_from(page.text)})
    assert done.status_code == 303
    assert (await client.get("/cabinet/")).status_code == 200


async def test_a_subscriber_on_a_one_time_password_cannot_rate(client):
    s = await make_subscriber(must_change=True)
    await sign_in(client, s.id)
    page = await client.get("/rate")
    response = await client.post("/rate", data={"_csrf_token": csrf_from(page.text), "score": "5"})
    assert response.status_code == 303 and response.headers["location"] == "/cabinet/activate"
    assert await CabinetRating.count() == 0


# --- A dead Redis ----------------------------------------------------------------

@pytest.fixture
def dead_redis(setenv, monkeypatch):
    """REDIS_URL names a port nothing listens on; the limiter is built anew from it."""
    from cabinet import limits
    from tests.support.live_server import free_port

    setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    monkeypatch.setattr(limits, "_counters", None)
    from app import create_app

    return create_app()


async def test_a_dead_redis_degrades_every_limited_form_instead_of_failing(dead_redis, caplog):
    from tables.addresses import Town

    caplog.set_level(logging.WARNING, logger="centra.limits")
    s = await make_subscriber(password=PASSWORD)
    await make_staff()
    town = await Town.objects().get_or_create(Town.name == "Новокузнецк")
    transport = httpx.ASGITransport(app=dead_redis)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        assert (await cabinet_login(client, s.contract_number, "guess-guess")).status_code == 401
        assert (await cabinet_login(client, s.contract_number, PASSWORD)).status_code == 303
        health = await client.get("/healthz")
        assert health.status_code == 200 and health.text.startswith("degraded:")
        assert "Redis" in health.text
        found = await post_form(client, "/pay/find", {"contract_number": s.contract_number},
                                form_page="/pay/")
        assert found.status_code == 200
        await _logout(client)
        rated = await post_form(client, "/rate", {"score": "4"})
        assert rated.status_code == 303 and await CabinetRating.count() == 1
        applied = await post_form(client, "/connect/", {
            "name": "Иванова Мария", "phone": "8 (913) 222-33-44", "town_id": str(town.id),
            "street": "проспект Бардина", "house": "12", "apartment": "40",
            "contact_time": "после 18:00", "consent": "yes"}, form_page="/connect")
        assert applied.status_code == 303 and await ServiceRequest.count() == 1
        await admin_login(client)  # asserts a 200 from the staff login
    assert any("Redis is unreachable" in r.getMessage() for r in caplog.records)


async def test_healthz_says_ok_when_redis_answers(setenv, monkeypatch, client):
    from cabinet import limits
    from tests.support.live_server import redis_up

    if not redis_up():
        pytest.skip("no Redis server on 127.0.0.1:6379")
    setenv("REDIS_URL", "redis://127.0.0.1:6379/12")
    monkeypatch.setattr(limits, "_counters", None)
    response = await client.get("/healthz")
    assert response.status_code == 200 and response.text == "ok"
