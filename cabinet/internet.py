"""The subscriber's connection (issue 32): the PPPoE login or IPoE binding, the session now
(IP, time online, the walled garden) and the traffic from RADIUS accounting: a chosen month by
day and the last twelve months, as charts with tables (``web.traffic``)."""

from __future__ import annotations

import datetime as dt

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery
from litestar.response import Template

from cabinet.auth import current_subscriber, staff_viewer, writable_subscriber
from tables.accounts import subscriber_actor
from tables.calendar import as_utc, utcnow
from tables.network import ACCESS_KIND_LABELS, NetworkAccess, regenerate_pppoe_password
from tables.radius import current_session
from tables.subscribers import Subscriber
from web.traffic import traffic_view


def format_uptime(seconds: float) -> str:
    minutes = max(0, int(seconds)) // 60
    days, hours, minutes = minutes // 1440, minutes // 60 % 24, minutes % 60
    if days:
        return f"{days} дн. {hours} ч"
    return f"{hours} ч {minutes} мин" if hours else f"{minutes} мин"


class InternetController(Controller):
    path = "/cabinet"
    dependencies = {"subscriber": Provide(current_subscriber)}

    @get("/internet", name="internet")
    async def internet(self, request: Request, subscriber: NamedDependency[Subscriber],
                       month: FromQuery[str | None] = None) -> Template:
        """``?month=2026-11`` chooses the month shown by day (one of the last twelve)."""
        return await _page(request, subscriber, month=month)

    @post("/internet/password", dependencies={"subscriber": Provide(writable_subscriber)},
          status_code=200)
    async def new_password(self, request: Request, subscriber: NamedDependency[Subscriber]) -> Template:
        """A new PPPoE password, shown on this answer only (never stored readable elsewhere
        for the subscriber: the page reloaded shows the login alone)."""
        password = await regenerate_pppoe_password(subscriber.id, actor=subscriber_actor(subscriber))
        return await _page(request, subscriber, new_password=password)


async def _page(request: Request, subscriber: Subscriber, *, month: str | None = None,
                new_password: str | None = None) -> Template:
    now = utcnow()
    access = await NetworkAccess.select(NetworkAccess.kind, NetworkAccess.login,
                                        NetworkAccess.static_ip).where(
        NetworkAccess.subscriber == subscriber.id).first()
    session = await current_session(subscriber.id)
    if session:
        started = as_utc(session["started_at"])
        session = {**session, "started_at": started,
                   "uptime": format_uptime((now - started) / dt.timedelta(seconds=1))}
    traffic = await traffic_view(subscriber.id, month, now)
    return Template("cabinet/internet.html", status_code=400 if traffic.error else 200, context={
        "subscriber": subscriber, "access": access,
        "kind_label": ACCESS_KIND_LABELS.get(access["kind"], "") if access else "",
        "session": session, "traffic": traffic, "traffic_action": "/cabinet/internet",
        "nav": "tariff", "new_password": new_password, "read_only": bool(staff_viewer(request)),
    })
