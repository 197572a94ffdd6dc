"""The public connection application form (no login).

Spam protection: a per-IP limit on stored applications, a honeypot field that
people never see, and one open application per phone (in the domain). The
confirmation page shows only the number carried in a signed token, so it can
neither be guessed for someone else's application nor reveal anything but the
number itself.
"""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Response, Template

from cabinet.forms import form_fields
from cabinet.limits import PUBLIC_FORM_PER_IP, client_ip, reserve
from cabinet.public import active_tariffs
from cabinet.signing import sign, unsign
from tables.addresses import Street, Town
from tables.requests.connection import file_connection_application as file_application
from tables.requests.queue import parse_number

HONEYPOT = "website"
MESSAGES = {
    "too_many": "С вашего адреса отправлено слишком много заявок. Попробуйте через час "
                "или позвоните нам.",
    "bad_choice": "Выберите значение из списка.",
}


def sign_number(number: str) -> str:
    return sign("connect", number)


def number_from_token(token: str) -> str | None:
    number = unsign("connect", token)
    return number if number is not None and parse_number(number) == number else None


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
    async def form(self, tariff: FromQuery[str | None] = None) -> Template:
        return await _form(values={"tariff_id": (tariff or "").strip()[:9]})

    @post("/")
    async def submit(self, request: Request) -> Response:
        fields = await form_fields(request)
        # Counted before storing (parallel posts cannot all pass a look-then-count check);
        # given back when the form is refused for bad input.
        attempt = await reserve(PUBLIC_FORM_PER_IP, client_ip(request))
        if not attempt.allowed:
            return await _form(values=fields, error=MESSAGES["too_many"], status_code=429)
        if fields.get(HONEYPOT):
            # A bot: it stays counted and gets an answer like a success, storing nothing.
            return Template("public/connect_done.html", context={"number": None})
        try:
            created = await file_application(
                name=fields.get("name", ""), phone=fields.get("phone", ""),
                town_id=_optional_id(fields.get("town_id", "")),
                street=fields.get("street", ""), house=fields.get("house", ""),
                apartment=fields.get("apartment", ""),
                tariff_id=_optional_id(fields.get("tariff_id", "")),
                contact_time=fields.get("contact_time", ""), comment=fields.get("comment", ""),
                consent=fields.get("consent") == "yes", router=fields.get("router") == "yes",
            )
        except ValueError as exc:
            await attempt.release()
            return await _form(values=fields, error=str(exc), status_code=400)
        return Redirect(f"/connect/done/{sign_number(created.number)}", status_code=303)

    @get("/done/{token:str}")
    async def done(self, token: FromPath[str]) -> Template:
        number = number_from_token(token[:60])
        if number is None:
            raise NotFoundException()
        return Template("public/connect_done.html", context={"number": number})
