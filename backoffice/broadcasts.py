"""Staff pages for broadcasts (/office/broadcasts): a segment and a text, a preview of who and
what, a confirmation, then progress. The rules live in ``tables.broadcasts``."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import NotAuthorizedException
from litestar.response import Template

from backoffice.office import (
    OfficeDenied,
    _actor,
    _denied,
    _fields,
    _login_required,
    _page,
    _require,
    office_guard,
)
from tables.addresses import Town
from tables.broadcasts import (
    BROADCAST_KIND_LABELS,
    STAT_LABELS,
    BroadcastKind,
    check_text,
    parse_segment,
    preview_broadcast,
    recent_broadcasts,
    send_broadcast,
)
from tables.notifications import BROADCAST_PER_PASS
from tables.tariffs import Tariff


async def _form(request: Request, *, fields: dict, error: str = "", preview=None, sent=None,
                status_code: int = 200) -> Template:
    towns = await Town.select(Town.id, Town.name).order_by(Town.name)
    tariffs = await Tariff.select(Tariff.id, Tariff.name).where(Tariff.active == True).order_by(  # noqa: E712
        Tariff.name)
    return _page(request, "broadcasts", status_code=status_code, fields=fields, error=error,
                 preview=preview, sent=sent, towns=towns, tariffs=tariffs,
                 kinds=BROADCAST_KIND_LABELS, stat_labels=STAT_LABELS,
                 broadcasts=await recent_broadcasts(), per_minute=BROADCAST_PER_PASS * 4)


def _kind(fields: dict) -> BroadcastKind:
    value = fields.get("kind", "")
    if value not in BROADCAST_KIND_LABELS:
        raise ValueError("Выберите вид рассылки")
    return BroadcastKind(value)


class BroadcastController(Controller):
    path = "/office/broadcasts"
    guards = [office_guard]
    cache_control = CacheControlHeader(no_store=True)
    exception_handlers = {NotAuthorizedException: _login_required, OfficeDenied: _denied}

    @get("/", name="office:broadcasts")
    async def show(self, request: Request) -> Template:
        _require(request, "broadcast")
        return await _form(request, fields={"kind": "notice"})

    @post("/")
    async def check(self, request: Request) -> Template:
        _require(request, "broadcast")
        fields = await _fields(request)
        try:
            preview = await preview_broadcast(parse_segment(fields), fields.get("text", ""),
                                              _kind(fields))
        except ValueError as exc:
            return await _form(request, fields=fields, error=str(exc), status_code=422)
        return await _form(request, fields={**fields, "text": check_text(fields["text"])},
                           preview=preview)

    @post("/confirm")
    async def send(self, request: Request) -> Template:
        _require(request, "broadcast")
        fields = await _fields(request)
        try:
            broadcast = await send_broadcast(parse_segment(fields), fields.get("text", ""),
                                             _kind(fields), actor=_actor(request))
        except ValueError as exc:
            return await _form(request, fields=fields, error=str(exc), status_code=422)
        return await _form(request, fields={"kind": "notice"}, sent=broadcast)
