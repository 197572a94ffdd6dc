"""Helpers shared by tests."""

from __future__ import annotations

import re

import httpx
from litestar import Litestar
from piccolo.apps.user.tables import BaseUser


def engine_name() -> str:
    from piccolo.engine.postgres import PostgresEngine

    from piccolo_conf import DB

    return "postgres" if isinstance(DB, PostgresEngine) else "sqlite"


def app_tables() -> list:
    """Every table of every registered app, parents before children."""
    from piccolo.apps.migrations.auto.migration_manager import sort_table_classes
    from piccolo.conf.apps import Finder

    tables = [t for t in Finder().get_table_classes() if t._meta.tablename != "migration"]
    return sort_table_classes(tables)


async def row_counts() -> dict[str, int]:
    return {t._meta.tablename: await t.count() for t in app_tables()}


STAFF_PASSWORD = "staff-password-1"


async def make_staff(username: str = "clerk", *, superuser: bool = False,
                     role: str | None = "administrator") -> BaseUser:
    """A staff user with admin access and a role (administrator unless told otherwise)."""
    from tables.audit import SYSTEM
    from tables.staff import set_role

    user = await BaseUser.create_user(username=username, password=STAFF_PASSWORD, active=True,
                                      admin=True, superuser=superuser, email=f"{username}@centra.test")
    if role:
        await set_role(user.id, role, actor=SYSTEM)
    return user


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


async def cabinet_login(client: httpx.AsyncClient, contract_number: str, password: str, *,
                        next_path: str = "") -> httpx.Response:
    """Log in through the real form: the page's CSRF token, the argon2 check, the redirect."""
    page = await client.get("/cabinet/login")
    data = {"contract_number": contract_number, "password": password,
            "_csrf_token": csrf_from(page.text)}
    if next_path:
        data["next"] = next_path
    return await client.post("/cabinet/login", data=data)


async def sign_in(client: httpx.AsyncClient, subscriber_id: int) -> None:
    """Give the client a cabinet session without the (slow, argon2) login form."""
    from cabinet.auth import SESSION_COOKIE
    from tables.accounts import start_session

    client.cookies.set(SESSION_COOKIE, await start_session(subscriber_id))


#: Routes excluded from CSRF on purpose (app.py's CSRFConfig), each guarded otherwise.
SIGNED_ROUTES = ("/payments/webhook", "/payments/agents/{agent:str}",
                 "/notifications/sms-status/{key:str}")


def unsafe_routes(app: Litestar) -> list[str]:
    """The site's state-changing routes (not the admin's, the static files, the webhook, the
    payment agents' endpoint or FreeRADIUS's: those are signed, address-bound or key-bound instead
    of CSRF tokens)."""
    paths = []
    for route in app.routes:
        methods = getattr(route, "methods", set())
        if route.path.startswith(("/admin", "/static", "/radius/")) or route.path in SIGNED_ROUTES:
            continue
        if methods & {"POST", "PUT", "PATCH", "DELETE"}:
            paths.append(route.path)
    return paths


def concrete_path(path: str) -> str:
    """A route's path with its parameters filled in (ids as 1), so routing reaches the handler."""
    return re.sub(r"\{\w+:int\}", "1", path).replace("{", "").replace("}", "").replace(":str", "")
