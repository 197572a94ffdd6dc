"""Build the Piccolo Admin ASGI app once, with roles, MFA, limits and login auditing."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlencode

from piccolo.apps.user.tables import BaseUser
from piccolo_admin.endpoints import TableConfig, create_admin
from piccolo_admin.translations.data import ENGLISH, RUSSIAN
from starlette.types import Message, Receive, Scope, Send

from backoffice.crud import admin_crud_class
from backoffice.forms import FORMS
from backoffice.limits import admin_login_limit
from backoffice.mfa import mfa_provider
from backoffice.roles import SIDEBAR_LINKS, secure_forms, secure_tables
from backoffice.tables import TABLE_CONFIGS, editable
from backoffice.ui import localise
from settings import Settings
from tables.audit import Actor, write_audit
from tables.calendar import LOCAL_TZ
from tables.staff import StaffRole
from tables.staff_logins import reserve_staff_login, staff_locked_until, staff_login_finished
from tables.text import clean_text, clean_values

STAFF_TABLES = [
    TableConfig(BaseUser, menu_group="Система",
                visible_columns=[BaseUser.id, BaseUser.username, BaseUser.email, BaseUser.active,
                                 BaseUser.admin, BaseUser.superuser, BaseUser.last_login]),
    # Role changes are privilege changes: audited like every other admin edit.
    editable(StaffRole, menu_group="Система"),
]


class AuditedAdmin:
    """Records staff logins and failed logins, which piccolo_api does not audit."""

    LOGIN_PATH = "/public/login/"

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].endswith(
            self.LOGIN_PATH
        ):
            await self.app(scope, receive, send)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        body = _clean_body(body)
        username = _username(body)
        user = await BaseUser.select(BaseUser.id).where(BaseUser.username == username).first()
        # Counted before piccolo_api checks the password (tables/staff_logins.py).
        attempt = await reserve_staff_login(user["id"]) if user else None
        if user and attempt is None:
            await _audit_login(body, 423, scope, ok=False)
            await _refuse_locked(send, user["id"])
            return
        status: dict[str, int] = {}
        answer = bytearray()
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                # Success is a new session cookie, not the status: piccolo_api answers a wrong
                # password with 200 when the form asks for HTML.
                status["session"] = int(any(
                    name.lower() == b"set-cookie" and value.startswith(SESSION_COOKIE_PREFIX)
                    and not value.startswith(SESSION_COOKIE_PREFIX + b";")
                    for name, value in message.get("headers", [])))
            elif message["type"] == "http.response.body" and len(answer) < 2048:
                answer.extend(message.get("body", b"")[:2048])
            await send(message)

        await self.app(scope, replay, capture)
        ok = bool(status.get("session"))
        if user and attempt is not None:
            # "MFA code required" answers a right password: that attempt is given back, so only
            # wrong passwords and wrong codes count.
            partial = status.get("code") == 401 and b"MFA code required" in answer
            await staff_login_finished(user["id"], attempt, username=username,
                                       outcome="ok" if ok else "partial" if partial else "failed")
        await _audit_login(body, status.get("code", 500), scope, ok=ok)


# piccolo_api's session_login sets the admin session in the cookie "id".
SESSION_COOKIE_PREFIX = b"id="


def _clean_body(body: bytes) -> bytes:
    """The login form without NUL and other unstorable characters (tables/text.py), as every
    other entry: PostgreSQL refuses NUL in the username query (a 500, here and in piccolo_api)."""
    text = body.decode(errors="replace")
    if clean_text(text) == text and "\\u00" not in text and "%00" not in text:
        return body
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        fields = parse_qsl(text, keep_blank_values=True)
        return urlencode([(clean_text(k), clean_text(v)) for k, v in fields]).encode()
    return json.dumps(clean_values(data)).encode()


def _username(body: bytes) -> str:
    try:
        return str(json.loads(body or b"{}").get("username", ""))[:100]
    except (ValueError, AttributeError):
        from urllib.parse import parse_qs

        return parse_qs(body.decode(errors="replace")).get("username", [""])[0][:100]


async def _refuse_locked(send: Send, user_id: int) -> None:
    until = await staff_locked_until(user_id)
    detail = "Вход заблокирован после неверных попыток" + (
        f" до {until.astimezone(LOCAL_TZ):%H:%M} (время Новокузнецка)." if until else ".")
    body = json.dumps({"detail": detail}, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": 401,
                "headers": [(b"content-type", b"application/json; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _audit_login(body: bytes, status: int, scope: Scope, *, ok: bool) -> None:
    username = _username(body)
    client = scope.get("client") or ("", 0)
    user = await BaseUser.select(BaseUser.id).where(BaseUser.username == username).first()
    await write_audit(
        action="staff.login" if ok else "staff.login_failed",
        object_type="piccolo_user", object_id=user["id"] if user else "-",
        object_repr=username.replace("\n", " "),
        actor=Actor(name=username.replace("\n", " ") or "?", staff_id=user["id"] if (ok and user) else None),
        message=f"ip={client[0]} status={status}",
    )


def create_backoffice(settings: Settings) -> Any:
    with admin_crud_class():  # list pages that don't read the whole ledger (backoffice/crud.py)
        admin = _create_admin(settings)
    # Russian names, local time and a role-aware sidebar in the admin's own screens.
    localise(admin, [config.table_class for config in [*TABLE_CONFIGS, *STAFF_TABLES]])
    return AuditedAdmin(admin)


def _create_admin(settings: Settings) -> Any:
    return create_admin(
        tables=secure_tables([*TABLE_CONFIGS, *STAFF_TABLES]),
        forms=secure_forms(FORMS),
        site_name="Centra — офис",
        translations=[RUSSIAN, ENGLISH],
        default_language_code="ru",
        production=settings.production,
        allowed_hosts=list(settings.allowed_hosts),
        auto_include_related=False,
        rate_limit_provider=admin_login_limit(),
        mfa_providers=[mfa_provider()],
        # Cut to the role's by backoffice.ui.RoleMenu (office pages the role may use).
        sidebar_links={name: url for name, (url, _page) in SIDEBAR_LINKS.items()},
    )
