"""Cabinet login, activation, sessions, throttling and CSRF."""

from __future__ import annotations

import datetime as dt

import pytest

from tables.accounts import (
    LOCK_DURATION,
    MAX_FAILED_LOGINS,
    SubscriberSession,
    authenticate,
)
from tables.audit import AuditEntry
from tables.subscribers import Subscriber, SubscriberStatus
from tests.support.factories import make_subscriber
from tests.support.helpers import cabinet_login, concrete_path, csrf_from, unsafe_routes

PASSWORD = "correct-horse-1"


async def login(client, contract: str, password: str = PASSWORD, next_path: str = ""):
    return await cabinet_login(client, contract, password, next_path=next_path)


async def test_login_success_opens_dashboard(client):
    s = await make_subscriber()
    response = await login(client, s.contract_number)
    assert response.status_code == 303 and response.headers["location"] == "/cabinet/"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    page = await client.get("/cabinet/")
    assert page.status_code == 200 and s.contract_number in page.text


async def test_dashboard_requires_login(client):
    response = await client.get("/cabinet/")
    assert response.status_code == 303 and response.headers["location"].startswith("/cabinet/login")


@pytest.mark.parametrize("contract,password", [("999999", PASSWORD), (None, "wrong-password")])
async def test_unknown_contract_and_wrong_password_look_the_same(client, contract, password):
    s = await make_subscriber()
    response = await login(client, contract or s.contract_number, password)
    assert response.status_code == 401
    assert "Неверный номер договора или пароль" in response.text
    assert "centra_session" not in response.headers.get("set-cookie", "")


@pytest.mark.parametrize("contract", ["", "abc", "1" * 13, "1' OR '1'='1", "<script>x</script>"])
async def test_bad_contract_input_gets_a_clear_message(client, contract):
    response = await login(client, contract)
    assert response.status_code == 400
    assert "только цифры" in response.text
    assert "<script>x" not in response.text


async def test_lockout_after_five_failures_and_unlock_after_window():
    s = await make_subscriber()
    start = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)
    for i in range(MAX_FAILED_LOGINS):
        result = await authenticate(s.contract_number, "wrong", now=start + dt.timedelta(seconds=i))
        assert result.subscriber is None
    assert result.locked_until is not None
    # Even the right password is refused during the lock.
    during = await authenticate(s.contract_number, PASSWORD, now=start + dt.timedelta(minutes=5))
    assert during.subscriber is None and during.locked_until is not None
    after = await authenticate(s.contract_number, PASSWORD,
                               now=start + LOCK_DURATION + dt.timedelta(seconds=5))
    assert after.subscriber is not None
    actions = {r["action"] for r in await AuditEntry.select(AuditEntry.action)}
    assert {"subscriber.login_failed", "subscriber.locked", "subscriber.login"} <= actions


async def test_locked_page_says_until_when(client):
    s = await make_subscriber()
    for _ in range(MAX_FAILED_LOGINS):
        response = await login(client, s.contract_number, "wrong")
    assert "заблокирован" in response.text and "после" in response.text


async def test_per_ip_limit_stops_spraying_across_contracts(client):
    for n in range(20):
        await login(client, str(500000 + n), "guess-guess")
    response = await login(client, "500099", "guess-guess")
    assert response.status_code == 429 and "Слишком много попыток" in response.text


async def test_first_login_forces_a_new_password(client):
    s = await make_subscriber(password="onetime42", must_change=True)
    response = await login(client, s.contract_number, "onetime42")
    assert response.headers["location"] == "/cabinet/activate"
    blocked = await client.get("/cabinet/")
    assert blocked.status_code == 303 and blocked.headers["location"] == "/cabinet/activate"
    page = await client.get("/cabinet/activate")
    token = csrf_from(page.text)
    weak = await client.post("/cabinet/activate", data={
        "current_password": "onetime42",
        "new_password": "12345678", "new_password2": "12345678", "_csrf_token": token})
    assert weak.status_code == 400 and "простой" in weak.text
    mismatch = await client.post("/cabinet/activate", data={
        "current_password": "onetime42",
        "new_password": "Sunny-garden-7", "new_password2": "other", "_csrf_token": token})
    assert mismatch.status_code == 400 and "не совпадают" in mismatch.text
    ok = await client.post("/cabinet/activate", data={
        "current_password": "onetime42",
        "new_password": "Sunny-garden-7", "new_password2": "Sunny-garden-7", "_csrf_token": token})
    assert ok.status_code == 303
    assert (await client.get("/cabinet/")).status_code == 200
    row = await Subscriber.select(Subscriber.must_change_password).where(Subscriber.id == s.id).first()
    assert row["must_change_password"] is False


async def test_legacy_digit_password_logs_in_then_must_change(client):
    s = await make_subscriber(password="123456789012")
    response = await login(client, s.contract_number, "123456789012")
    assert response.status_code == 303 and response.headers["location"] == "/cabinet/activate"


async def test_session_id_changes_at_login_and_logout_ends_it(client):
    s = await make_subscriber()
    await login(client, s.contract_number)
    first = client.cookies.get("centra_session")
    await login(client, s.contract_number)
    second = client.cookies.get("centra_session")
    assert first and second and first != second
    assert not await SubscriberSession.exists().where(SubscriberSession.token == first)
    page = await client.get("/cabinet/")
    await client.post("/cabinet/logout", data={"_csrf_token": csrf_from(page.text)})
    assert not await SubscriberSession.exists().where(SubscriberSession.token == second)
    client.cookies.set("centra_session", second)  # a stolen copy of the cookie is dead too
    assert (await client.get("/cabinet/")).status_code == 303


async def test_idle_session_expires(client):
    s = await make_subscriber()
    await login(client, s.contract_number)
    past = dt.datetime.now() - dt.timedelta(minutes=1)
    await SubscriberSession.update({SubscriberSession.expiry_date: past}, force=True)
    assert (await client.get("/cabinet/")).status_code == 303


async def test_password_change_needs_current_and_ends_other_sessions(client, app):
    import httpx

    s = await make_subscriber()
    other = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    await login(other, s.contract_number)
    await login(client, s.contract_number)
    page = await client.get("/cabinet/password")
    token = csrf_from(page.text)
    wrong = await client.post("/cabinet/password", data={
        "current_password": "nope", "new_password": "Quiet-river-42", "new_password2": "Quiet-river-42",
        "_csrf_token": token})
    assert wrong.status_code == 400 and "Текущий пароль" in wrong.text
    ok = await client.post("/cabinet/password", data={
        "current_password": PASSWORD, "new_password": "Quiet-river-42",
        "new_password2": "Quiet-river-42", "_csrf_token": token})
    assert ok.status_code == 303
    assert (await client.get("/cabinet/")).status_code == 200
    assert (await other.get("/cabinet/")).status_code == 303
    await other.aclose()


async def test_terminated_contract_can_still_log_in(client):
    s = await make_subscriber()
    await Subscriber.update({Subscriber.status: SubscriberStatus.TERMINATED}).where(Subscriber.id == s.id)
    response = await login(client, s.contract_number)
    assert response.status_code == 303
    assert (await client.get("/cabinet/")).status_code == 200


async def test_terminated_contract_with_a_one_time_password_can_still_get_in(client):
    """Forced to change its password (staff reset, legacy password), it must be able to."""
    s = await make_subscriber(must_change=True)
    await Subscriber.update({Subscriber.status: SubscriberStatus.TERMINATED}).where(Subscriber.id == s.id)
    await login(client, s.contract_number)
    page = await client.get("/cabinet/activate")
    changed = await client.post("/cabinet/activate", data={
        "current_password": "correct-horse-1",
        "new_password": "Quiet-river-42", "new_password2": "Quiet-river-42",
        "_csrf_token": csrf_from(page.text)})
    assert changed.status_code == 303
    assert (await client.get("/cabinet/statement")).status_code == 200


async def test_staff_password_reset_ends_every_session_of_the_contract(client):
    from tables.accounts import reset_password
    from tables.audit import Actor

    s = await make_subscriber()
    await login(client, s.contract_number)
    assert (await client.get("/cabinet/")).status_code == 200
    one_time = await reset_password(s.id, actor=Actor("clerk", None))
    # The old session can neither read nor reach the forced change to set its own password.
    assert (await client.get("/cabinet/")).headers["location"].startswith("/cabinet/login")
    assert (await client.get("/cabinet/activate")).status_code in (302, 303)
    assert await SubscriberSession.count() == 0
    assert (await login(client, s.contract_number, one_time)).headers["location"] == "/cabinet/activate"


async def test_open_redirect_is_refused(client):
    s = await make_subscriber()
    response = await login(client, s.contract_number, next_path="//evil.example/")
    assert response.headers["location"] == "/cabinet/"


async def test_every_post_without_csrf_token_is_refused(client, app):
    s = await make_subscriber()
    await login(client, s.contract_number)
    routes = unsafe_routes(app)
    assert "/cabinet/login" in routes and "/cabinet/logout" in routes
    before = await AuditEntry.count()
    for path in routes:
        # Path parameters need values of their type, or routing answers 404 before CSRF runs.
        concrete = concrete_path(path)
        response = await client.post(concrete, data={"x": "1"})
        assert response.status_code == 403, path
        # A token that is not this browser's (stale, forged or another visitor's) neither.
        response = await client.post(concrete, data={"x": "1", "_csrf_token": "f" * 64})
        assert response.status_code == 403, path
    assert await AuditEntry.count() == before
    assert await SubscriberSession.count() == 1
