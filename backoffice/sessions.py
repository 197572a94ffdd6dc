"""Staff pages beside the admin (``/office``, ``/reports``) know the clerk by the admin's own login."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from piccolo.apps.user.tables import BaseUser
from piccolo_api.session_auth.tables import SessionsBase

ADMIN_COOKIE = "id"  # piccolo_api's session cookie, set by the admin login
#: Longer than any token piccolo_api issues; a longer cookie is not looked up.
MAX_TOKEN = 200


async def staff_account(connection: ASGIConnection) -> BaseUser | None:
    """The active staff user (``admin``) behind the admin session cookie, else ``None``
    (no cookie, an unknown or expired token, an inactive or non-staff user)."""
    token = connection.cookies.get(ADMIN_COOKIE)
    if not token or len(token) > MAX_TOKEN:
        return None
    user_id = await SessionsBase.get_user_id(token)
    if user_id is None:
        return None
    return await BaseUser.objects().where(
        (BaseUser.id == user_id) & (BaseUser.active == True) & (BaseUser.admin == True)  # noqa: E712
    ).first()
