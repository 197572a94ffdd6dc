"""The office's page plumbing, shared by its controllers (the card and the clerk's actions in
``backoffice.office``, bank statements, broadcasts, the reports' forms): the staff guard and the
role check, form fields, the Russian refusal pages, money as clerks read it, and an office
template rendered with what the role may do."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException, NotAuthorizedException, NotFoundException
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Template

from backoffice.roles import MFA_MESSAGE, OFFICE_MATRIX, mfa_missing
from backoffice.sessions import staff_account
from db.engine import MAX_ROW_ID
from tables.audit import Actor
from tables.money import format_amount
from tables.staff import Role, role_of
from tables.text import clean_text

MAX_FIELD = 2000


class OfficeDenied(HTTPException):
    """A refusal shown as a Russian page inside the office layout."""

    status_code = 403


def allowed(role: Role, action: str) -> bool:
    return role in OFFICE_MATRIX[action]


async def office_guard(connection: ASGIConnection, _handler: BaseRouteHandler) -> None:
    account = await staff_account(connection)
    if account is None:
        raise NotAuthorizedException("Войдите в офис под учётной записью сотрудника")
    role = await role_of(account)
    if role is None:
        raise OfficeDenied(detail="У вашей учётной записи нет роли в офисе.")
    if await mfa_missing(role, account):
        raise OfficeDenied(detail=MFA_MESSAGE)
    connection.state["staff"] = {"id": account.id, "username": account.username, "role": role}


def login_required(request: Request, exc: NotAuthorizedException) -> Response:
    return Template("office/login.html", status_code=401, context={"next": request.url.path})


def denied(request: Request, exc: OfficeDenied) -> Response:
    return Template("office/message.html", status_code=exc.status_code,
                    context={"title": "Действие недоступно", "message": exc.detail,
                             "staff": request.state.get("staff")})


async def form_fields(request: Request) -> dict[str, str]:
    # Without NUL and other control characters, as every form of the site (tables.text).
    form = await request.form()
    return {clean_text(k): clean_text(v)[:MAX_FIELD].strip() for k, v in form.multi_items()
            if isinstance(v, str)}


def staff_of(request: Request) -> dict[str, Any]:
    return request.state["staff"]


def actor_of(request: Request) -> Actor:
    staff = staff_of(request)
    return Actor(name=staff["username"], staff_id=staff["id"])


def require_action(request: Request, action: str) -> None:
    if not allowed(staff_of(request)["role"], action):
        raise OfficeDenied(detail="Вашей роли это действие недоступно.")


def rubles_text(kopecks: int) -> str:
    """1400050 → "14 000,50 ₽" (plain spaces: the line is read out and copied)."""
    return format_amount(kopecks, group=" ", suffix=" ₽")


def signed_rubles(kopecks: int) -> str:
    """The amount of a confirmation: "+1 400,50 ₽", "-150,00 ₽"."""
    return ("+" if kopecks > 0 else "") + rubles_text(kopecks)


def office_page(request: Request, name: str, status_code: int = 200, **context: Any) -> Template:
    staff = staff_of(request)
    actions = {a for a in OFFICE_MATRIX if allowed(staff["role"], a)}
    return Template(f"office/{name}.html", status_code=status_code,
                    context={"staff": staff, "can": actions, **context})


def row_id(value: int) -> int:
    if not 1 <= value <= MAX_ROW_ID:
        raise NotFoundException()
    return value
