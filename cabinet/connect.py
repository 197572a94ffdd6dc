"""The public connection application form (no login).

Spam protection: a per-IP limit on stored applications, a honeypot field that
people never see, and one open application per phone (in the domain). The
confirmation page shows only the number carried in a signed token, so it can
neither be guessed for someone else's application nor reveal anything but the
number itself.
"""

from __future__ import annotations

import functools
import hashlib
import hmac

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Redirect, Response, Template

from cabinet.forms import form_fields
from cabinet.limits import PUBLIC_FORM_PER_IP, client_ip, over_limit
from cabinet.public import active_tariffs
from settings import get_settings
from tables.addresses import Street, Town
from tables.requests import file_connection_application as file_application
from tables.requests import parse_number

HONEYPOT = "website"
MESSAGES = {
    "too_many": "С вашего адреса отправлено слишком много заявок. Попробуйте через час "
                "или позвоните нам.",
    "bad_choice": "Выберите значение из списка.",
}


@functools.cache
def _key() -> bytes:
    # Read once per process: without CENTRA_SECRET_KEY each Settings() gets a random one.
    return get_settings().secret_key.encode()


def sign_number(number: str) -> str:
    digest = hmac.new(_key(), f"connect:{number}".encode(), hashlib.sha256).hexdigest()[:24]
    return f"{number}.{digest}"


def number_from_token(token: str) -> str | None:
    number = token.partition(".")[0]
    if parse_number(number) != number:
        return None
    return number if hmac.compare_digest(sign_number(number), token) else None


def _optional_id(value: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    if not value.isdigit() or len(value) > 9:
        raise ValueError(MESSAGES["bad_choice"])
    return int(value)


async def _form(*, values: dict | None = None, error: str | None = None,
                status_code: int = 200) -> Template:
    towns = await Town.select(Town.id, Town.name).order_by(Town.name)
    streets = sorted({r["name"] for r in await Street.select(Street.name)})
    return Template("public/connect.html", status_code=status_code, context={
        "towns": towns, "streets": streets, "tariffs": await active_tariffs(),
        "values": values or {}, "error": error, "honeypot": HONEYPOT,
    })


class ConnectController(Controller):
    path = "/connect"

    @get("/", name="connect")
    async def form(self, tariff: str | None = None) -> Template:
        return await _form(values={"tariff_id": (tariff or "").strip()[:9]})

    @post("/")
    async def submit(self, request: Request) -> Response:
        ip = client_ip(request)
        fields = await form_fields(request)
        if await over_limit(PUBLIC_FORM_PER_IP, ip, peek=True):
            return await _form(values=fields, error=MESSAGES["too_many"], status_code=429)
        if fields.get(HONEYPOT):
            # A bot: count it and answer like a success, storing nothing.
            await over_limit(PUBLIC_FORM_PER_IP, ip)
            return Template("public/connect_done.html", context={"number": None})
        try:
            created = await file_application(
                name=fields.get("name", ""), phone=fields.get("phone", ""),
                town_id=_optional_id(fields.get("town_id", "")),
                street=fields.get("street", ""), house=fields.get("house", ""),
                apartment=fields.get("apartment", ""),
                tariff_id=_optional_id(fields.get("tariff_id", "")),
                contact_time=fields.get("contact_time", ""), comment=fields.get("comment", ""),
                consent=fields.get("consent") == "yes",
            )
        except ValueError as exc:
            return await _form(values=fields, error=str(exc), status_code=400)
        await over_limit(PUBLIC_FORM_PER_IP, ip)
        return Redirect(f"/connect/done/{sign_number(created.number)}", status_code=303)

    @get("/done/{token:str}")
    async def done(self, token: str) -> Template:
        number = number_from_token(token[:60])
        if number is None:
            raise NotFoundException()
        return Template("public/connect_done.html", context={"number": number})
