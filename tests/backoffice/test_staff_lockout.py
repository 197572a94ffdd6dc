"""Staff accounts lock like subscribers' (issue 24, item 7): five wrong passwords, then 15
minutes during which even the right one is refused; attempts are counted before the check."""

from __future__ import annotations

import asyncio

import httpx
from piccolo_api.mfa.authenticator.tables import AuthenticatorSecret

from backoffice.mfa import mfa_provider
from backoffice.ui import LOGIN_FAILED_RU
from tables.audit import AuditEntry
from tables.staff_logins import MAX_FAILED_LOGINS, StaffLoginLock
from tests.support.helpers import STAFF_PASSWORD, make_staff
from tests.support.live_server import live_server


async def _post(client: httpx.AsyncClient, username: str, password: str, **extra) -> httpx.Response:
    if not client.cookies.get("csrftoken"):
        await client.get("/admin/")
    return await client.post("/admin/public/login/", json={"username": username, "password": password,
                                                           **extra},
                             headers={"X-CSRFToken": client.cookies.get("csrftoken")})


async def test_five_wrong_passwords_lock_the_staff_account(client):
    user = await make_staff("clerk")
    for _ in range(MAX_FAILED_LOGINS):
        assert (await _post(client, "clerk", "wrong-password")).status_code == 401
    refused = await _post(client, "clerk", STAFF_PASSWORD)
    assert refused.status_code == 401 and "id" not in refused.cookies
    assert "заблокирован" in refused.json()["detail"]
    lock = await StaffLoginLock.objects().get(StaffLoginLock.user == user.id)
    assert lock.locked_until is not None
    actions = [r["action"] for r in await AuditEntry.select(AuditEntry.action).order_by(AuditEntry.id)]
    assert actions.count("staff.locked") == 1 and "staff.login" not in actions


async def test_a_right_password_ends_the_series_and_other_accounts_are_not_touched(client):
    await make_staff("clerk")
    await make_staff("cashier")
    for _ in range(MAX_FAILED_LOGINS - 1):
        await _post(client, "clerk", "wrong-password")
    assert (await _post(client, "clerk", STAFF_PASSWORD)).status_code == 200
    client.cookies.delete("id")
    for _ in range(MAX_FAILED_LOGINS - 1):
        await _post(client, "clerk", "wrong-password")
    assert (await _post(client, "clerk", STAFF_PASSWORD)).status_code == 200
    client.cookies.delete("id")
    assert (await _post(client, "cashier", STAFF_PASSWORD)).status_code == 200


async def test_asking_for_the_code_does_not_count_but_wrong_codes_do(client, setenv):
    setenv("CENTRA_ADMIN_MFA", "required")
    user = await make_staff("boss")
    await AuthenticatorSecret.create_new(user.id, mfa_provider().encryption_provider)
    for _ in range(MAX_FAILED_LOGINS + 2):
        asked = await _post(client, "boss", STAFF_PASSWORD)
        assert asked.status_code == 401 and "MFA code required" in asked.text
    for _ in range(MAX_FAILED_LOGINS):
        await _post(client, "boss", STAFF_PASSWORD, mfa_code="000000")
    lock = await StaffLoginLock.objects().get(StaffLoginLock.user == user.id)
    assert lock.locked_until is not None


async def test_a_nul_in_the_login_is_cleaned_like_every_other_entry(client):
    """PostgreSQL refuses NUL in the username query: a 500 before the login was cleaned."""
    await make_staff("clerk")
    assert (await _post(client, "cl\x00erk", STAFF_PASSWORD)).status_code == 200
    client.cookies.delete("id")
    wrong = await _post(client, "nobody\x00", "x\x00")
    assert wrong.status_code == 401
    form = await client.post("/admin/public/login/", content=b"username=cl%00erk&password=x",
                             headers={"X-CSRFToken": client.cookies.get("csrftoken"),
                                      "Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code < 500
    entries = await AuditEntry.select(AuditEntry.object_repr).where(AuditEntry.action == "staff.login")
    assert [e["object_repr"] for e in entries] == ["clerk"]


async def test_the_admin_login_screen_says_it_in_russian(client):
    page = await client.get("/admin/")
    src = next(p.split('"', 1)[0] for p in page.text.split('src="')[1:] if "/index-" in p.split('"', 1)[0])
    bundle = await client.get("/admin/" + src.removeprefix("./"))
    assert bundle.status_code == 200
    assert "Problem logging in" not in bundle.text
    assert bundle.text.count(LOGIN_FAILED_RU) == 1


async def test_a_parallel_burst_verifies_at_most_the_lockout():
    """Real parallel requests against a running server: 40 wrong passwords at once, then the right
    one. (The right one fired inside the burst may legitimately win one of the first five counted
    attempts on PostgreSQL, where the order of parallel logins is the pool's.)"""
    user = await make_staff("clerk")
    with live_server({"CENTRA_ADMIN_LOGIN_LIMIT": "100000"}) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=900,
                                     limits=httpx.Limits(max_connections=50)) as client:
            await client.get("/admin/")
            responses = await asyncio.gather(*(_post(client, "clerk", f"wrong-{n}") for n in range(40)))
            real = await _post(client, "clerk", STAFF_PASSWORD)
    statuses = [r.status_code for r in responses]
    verified = await AuditEntry.count().where(
        AuditEntry.action.is_in(["staff.login", "staff.login_failed"])
        & AuditEntry.message.not_like("%status=423%"))
    lock = await StaffLoginLock.objects().get(StaffLoginLock.user == user.id)
    print(f"\nstaff burst: verified={verified} locked_until={lock.locked_until} real={real.status_code}")
    assert 500 not in statuses
    assert verified <= MAX_FAILED_LOGINS
    assert lock.locked_until is not None
    assert real.status_code == 401 and "id" not in real.cookies
