"""Helpers shared by tests."""

from __future__ import annotations

import re

import httpx
from piccolo.apps.user.tables import BaseUser

from tests.conftest import _app_tables


async def row_counts() -> dict[str, int]:
    return {t._meta.tablename: await t.count() for t in _app_tables()}


STAFF_PASSWORD = "staff-password-1"


async def make_staff(username: str = "clerk", *, superuser: bool = False) -> BaseUser:
    return await BaseUser.create_user(username=username, password=STAFF_PASSWORD, active=True,
                                      admin=True, superuser=superuser, email=f"{username}@centra.test")


async def admin_login(client: httpx.AsyncClient, username: str = "clerk",
                      password: str = STAFF_PASSWORD) -> str:
    """Log a staff user in to Piccolo Admin; returns the admin CSRF token for API calls."""
    await client.get("/admin/")
    token = client.cookies.get("csrftoken")
    assert token, "the admin sets its CSRF cookie on the first page"
    response = await client.post("/admin/public/login/", json={"username": username, "password": password},
                                 headers={"X-CSRFToken": token})
    assert response.status_code == 200, response.text
    client.headers["X-CSRFToken"] = token
    return token


def csrf_from(html: str) -> str:
    match = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert match, "the form carries a CSRF token"
    return match.group(1)


async def sign_in(client: httpx.AsyncClient, subscriber_id: int) -> None:
    """Give the client a cabinet session without the (slow, argon2) login form."""
    from cabinet.auth import SESSION_COOKIE
    from tables.accounts import start_session

    client.cookies.set(SESSION_COOKIE, await start_session(subscriber_id))
