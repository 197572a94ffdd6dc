"""Subscriber authentication for cabinet controllers.

``before_request`` resolves the session cookie into ``scope["subscriber_id"]`` and
``scope["subscriber"]`` (one query) for every page (the header shows who is logged
in); cabinet handlers take a ``subscriber`` dependency that redirects to the login
page, or to the forced password change while a one-time password is still in use.
"""

from __future__ import annotations

from urllib.parse import quote

from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.exceptions import HTTPException
from litestar.response import Redirect

from settings import get_settings
from tables.accounts import SESSION_ABSOLUTE, session_info
from tables.subscribers import Subscriber, SubscriberStatus
from web.errors import UserFacingError

SESSION_COOKIE = "centra_session"


class LoginRequired(HTTPException):
    status_code = 401

    def __init__(self, next_path: str = "/cabinet/") -> None:
        super().__init__(detail="login required")
        self.next_path = next_path


class PasswordChangeRequired(HTTPException):
    status_code = 403


class ContractClosed(UserFacingError):
    status_code = 403


def session_token(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE)


async def resolve_session(request: Request) -> None:
    """Attach the logged-in subscriber (and its id) to the request scope, if any."""
    token = session_token(request)
    if token and "subscriber_id" not in request.scope:
        info = await session_info(token)
        request.scope["subscriber_id"] = info.subscriber_id if info else None  # type: ignore[typeddict-unknown-key]
        request.scope["viewer"] = info.viewer if info else ""  # type: ignore[typeddict-unknown-key]
        request.scope["subscriber"] = info.subscriber if info else None  # type: ignore[typeddict-unknown-key]


#: What a staff view of the cabinet may still send: leaving it.
STAFF_VIEW_ACTIONS = frozenset({"/cabinet/logout"})


def refuse_staff_view_actions(request: Request) -> None:
    """A staff view reads only: every unsafe request of such a session is refused here, in one
    place, so a new form cannot forget it (paying, rating, requests alike)."""
    if (request.scope.get("viewer") and request.method not in ("GET", "HEAD", "OPTIONS")  # type: ignore[misc]
            and request.url.path not in STAFF_VIEW_ACTIONS):
        raise ContractClosed(detail="Режим просмотра сотрудником: действия недоступны.")


async def _load(request: Request) -> Subscriber:
    await resolve_session(request)
    subscriber = request.scope.get("subscriber")  # type: ignore[misc]
    subscriber_id = request.scope.get("subscriber_id")  # type: ignore[misc]
    if subscriber is None and subscriber_id:  # the id was set without the row (tests, other middleware)
        subscriber = await Subscriber.objects().where(Subscriber.id == subscriber_id).first()
    if subscriber is None:
        raise LoginRequired(next_path=request.url.path)
    return subscriber


async def any_subscriber(request: Request) -> Subscriber:
    """The logged-in subscriber, even one who still has to replace a one-time password."""
    return await _load(request)


async def current_subscriber(request: Request) -> Subscriber:
    """The logged-in subscriber; nothing is reachable before a one-time password is replaced."""
    subscriber = await _load(request)
    if subscriber.must_change_password:
        raise PasswordChangeRequired()
    return subscriber


def staff_viewer(request: Request) -> str:
    """The staff member's name when this is a read-only staff view of the cabinet."""
    return request.scope.get("viewer") or ""  # type: ignore[return-value]


async def writable_subscriber(request: Request) -> Subscriber:
    """As ``current_subscriber``, for actions: a terminated contract and a staff view are read-only.

    A termination dated ahead keeps the status until its day, so until then the
    subscriber keeps every action (the services still run and are paid for).
    """
    subscriber = await current_subscriber(request)
    if staff_viewer(request):
        raise ContractClosed(detail="Режим просмотра сотрудником: действия недоступны.")
    if subscriber.status == SubscriberStatus.TERMINATED:
        raise ContractClosed(detail="Договор расторгнут: доступен только просмотр.")
    return subscriber


def session_cookie(token: str) -> Cookie:
    return Cookie(key=SESSION_COOKIE, value=token, path="/", httponly=True, samesite="lax",
                  secure=get_settings().production,
                  max_age=int(SESSION_ABSOLUTE.total_seconds()))


def expired_session_cookie() -> Cookie:
    return Cookie(key=SESSION_COOKIE, value="", path="/", httponly=True, samesite="lax",
                  secure=get_settings().production, max_age=0)


def safe_next(path: str | None) -> str:
    """Only local cabinet paths: never an open redirect."""
    if path and path.startswith("/cabinet/") and "//" not in path and "\\" not in path:
        return path
    return "/cabinet/"


def login_required_handler(request: Request, exc: LoginRequired) -> Response:
    if request.method != "GET":
        return Redirect("/cabinet/login", status_code=303)
    return Redirect(f"/cabinet/login?next={quote(safe_next(exc.next_path))}", status_code=303)


def password_change_handler(request: Request, exc: PasswordChangeRequired) -> Response:
    return Redirect("/cabinet/activate", status_code=303)


AUTH_EXCEPTION_HANDLERS = {
    LoginRequired: login_required_handler,
    PasswordChangeRequired: password_change_handler,
}
