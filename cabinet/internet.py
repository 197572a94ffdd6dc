"""The subscriber's connection (issue 32): the PPPoE login or IPoE binding, the session now
(IP, time online, the walled garden) and this month's traffic by day, from RADIUS accounting."""

from __future__ import annotations

import datetime as dt

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.response import Template

from cabinet.auth import current_subscriber, staff_viewer, writable_subscriber
from tables.accounts import subscriber_actor
from tables.calendar import as_utc, utcnow
from tables.month import Month
from tables.network import ACCESS_KIND_LABELS, NetworkAccess, regenerate_pppoe_password
from tables.radius import current_session, traffic_by_day
from tables.subscribers import Subscriber

UNITS = ("Б", "КБ", "МБ", "ГБ", "ТБ")


def format_bytes(count: int) -> str:
    """``1288490188`` → ``"1,2 ГБ"`` (binary steps, one decimal, a Russian comma)."""
    value, unit = float(count), 0
    while value >= 1024 and unit < len(UNITS) - 1:
        value, unit = value / 1024, unit + 1
    text = f"{value:.0f}" if unit == 0 else f"{value:.1f}".replace(".", ",")
    return f"{text}\u00a0{UNITS[unit]}"


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
    async def internet(self, request: Request, subscriber: NamedDependency[Subscriber]) -> Template:
        return await _page(request, subscriber)

    @post("/internet/password", dependencies={"subscriber": Provide(writable_subscriber)},
          status_code=200)
    async def new_password(self, request: Request, subscriber: NamedDependency[Subscriber]) -> Template:
        """A new PPPoE password, shown on this answer only (never stored readable elsewhere
        for the subscriber: the page reloaded shows the login alone)."""
        password = await regenerate_pppoe_password(subscriber.id, actor=subscriber_actor(subscriber))
        return await _page(request, subscriber, new_password=password)


async def _page(request: Request, subscriber: Subscriber, *,
                new_password: str | None = None) -> Template:
    now = utcnow()
    month = Month.of(now)
    access = await NetworkAccess.select(NetworkAccess.kind, NetworkAccess.login,
                                        NetworkAccess.static_ip).where(
        NetworkAccess.subscriber == subscriber.id).first()
    session = await current_session(subscriber.id)
    if session:
        started = as_utc(session["started_at"])
        session = {**session, "started_at": started,
                   "uptime": format_uptime((now - started) / dt.timedelta(seconds=1))}
    days = await traffic_by_day(subscriber.id, month)
    rows = [{"day": d["day"], "down": format_bytes(d["download_bytes"]),
             "up": format_bytes(d["upload_bytes"])} for d in days]
    total = {"down": format_bytes(sum(d["download_bytes"] for d in days)),
             "up": format_bytes(sum(d["upload_bytes"] for d in days))}
    return Template("cabinet/internet.html", context={
        "subscriber": subscriber, "access": access,
        "kind_label": ACCESS_KIND_LABELS.get(access["kind"], "") if access else "",
        "session": session, "month": month, "rows": rows, "total": total, "nav": "tariff",
        "new_password": new_password, "read_only": bool(staff_viewer(request)),
    })
