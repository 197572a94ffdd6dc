"""Voluntary pause (добровольная блокировка, issue 29, item 3): the subscriber pauses the service
from a chosen day, sees what it does to the coming charges, and ends it early. The rules live in
``tables.billing.pauses``; this controller parses the form and shows the answer."""

from __future__ import annotations

import datetime as dt

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery
from litestar.response import Redirect, Response, Template

from cabinet.auth import current_subscriber, staff_viewer, writable_subscriber
from cabinet.forms import form_fields
from tables.accounts import subscriber_actor
from tables.billing.fee import monthly_fee
from tables.billing.forecast import forecast
from tables.billing.pauses import (
    MAX_LEAD_DAYS,
    PauseStatus,
    book_pause,
    check_pause,
    current_pause,
    end_pause,
    pause_effect,
    pause_rules,
    used_days,
)
from tables.calendar import local_date, utcnow
from tables.month import Month
from tables.subscribers import Subscriber, SubscriberStatus

NOTICES = {"booked": "Блокировка оформлена.", "ended": "Блокировка окончена: услуги снова подключены.",
           "cancelled": "Запланированная блокировка отменена."}
MESSAGES = {"date": "Укажите дату начала как ДД.ММ.ГГГГ.", "days": "Укажите срок блокировки числом дней."}


def _parse_date(text: str) -> dt.date:
    text = text.strip()
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(MESSAGES["date"])


def _parse_days(text: str) -> int:
    text = text.strip()
    if not text.isdigit() or len(text) > 4:
        raise ValueError(MESSAGES["days"])
    return int(text)


async def _page(request: Request, subscriber: Subscriber, *, error: str | None = None,
                notice: str | None = None, values: dict | None = None, preview: dict | None = None,
                status_code: int = 200) -> Template:
    today = local_date(utcnow())
    rules = pause_rules()
    pause = await current_pause(subscriber.id)
    fee = await monthly_fee(subscriber, today=today)
    effects, outlook = [], None
    if pause is not None:
        current = Month.of(today)
        effects = [e for e in pause_effect(pause.starts_on, pause.ends_on, fee.next) if e.month >= current]
        upcoming = {e.month: e.with_pause for e in effects if e.month > current}
        outlook = forecast(subscriber.balance, fee.next, today, upcoming)
    tomorrow = today + dt.timedelta(days=1)
    return Template("cabinet/pause.html", status_code=status_code, context={
        "subscriber": subscriber, "rules": rules, "pause": pause, "effects": effects,
        "outlook": outlook, "running": pause is not None and pause.status == PauseStatus.ACTIVE,
        "used": await used_days(subscriber.id, today.year), "year": today.year,
        "tomorrow": tomorrow, "latest": today + dt.timedelta(days=MAX_LEAD_DAYS),
        "values": values or {"starts_on": tomorrow.isoformat(), "days": str(rules.min_days)},
        "error": error, "notice": notice, "read_only": bool(staff_viewer(request)), "preview": preview,
        "closing": subscriber.terminated_on is not None,
        "in_debt": subscriber.status == SubscriberStatus.SUSPENDED or subscriber.balance < 0,
        "nav": "tariff",
    })


class PauseController(Controller):
    path = "/cabinet/pause"

    @get("/", dependencies={"subscriber": Provide(current_subscriber)}, name="pause")
    async def page(self, request: Request, subscriber: NamedDependency[Subscriber],
                   done: FromQuery[str | None] = None) -> Template:
        return await _page(request, subscriber, notice=NOTICES.get(done or ""))

    @post("/preview", dependencies={"subscriber": Provide(writable_subscriber)})
    async def preview(self, request: Request, subscriber: NamedDependency[Subscriber]) -> Template:
        """What the pause does to the coming charges and the forecast: checked, nothing booked."""
        fields = await form_fields(request)
        values = {"starts_on": fields.get("starts_on", "")[:20], "days": fields.get("days", "")[:10]}
        try:
            starts_on, days = _parse_date(values["starts_on"]), _parse_days(values["days"])
            ends_on = await check_pause(subscriber, starts_on, days)
        except ValueError as exc:
            return await _page(request, subscriber, error=str(exc), values=values, status_code=400)
        today = local_date(utcnow())
        fee = await monthly_fee(subscriber, today=today)
        current = Month.of(today)
        effects = [e for e in pause_effect(starts_on, ends_on, fee.next) if e.month >= current]
        upcoming = {e.month: e.with_pause for e in effects if e.month > current}
        preview = {"starts_on": starts_on, "ends_on": ends_on, "days": days, "effects": effects,
                   "before": forecast(subscriber.balance, fee.next, today),
                   "after": forecast(subscriber.balance, fee.next, today, upcoming),
                   "values": {"starts_on": starts_on.isoformat(), "days": str(days)}}
        return await _page(request, subscriber, values=values, preview=preview)

    @post("/book", dependencies={"subscriber": Provide(writable_subscriber)})
    async def book(self, request: Request, subscriber: NamedDependency[Subscriber]) -> Response:
        fields = await form_fields(request)
        values = {"starts_on": fields.get("starts_on", "")[:20], "days": fields.get("days", "")[:10]}
        try:
            await book_pause(subscriber.id, _parse_date(values["starts_on"]), _parse_days(values["days"]),
                             actor=subscriber_actor(subscriber))
        except ValueError as exc:
            return await _page(request, subscriber, error=str(exc), values=values, status_code=400)
        return Redirect("/cabinet/pause/?done=booked", status_code=303)

    @post("/end", dependencies={"subscriber": Provide(writable_subscriber)})
    async def end(self, request: Request, subscriber: NamedDependency[Subscriber]) -> Response:
        try:
            pause = await end_pause(subscriber.id, actor=subscriber_actor(subscriber))
        except ValueError as exc:
            return await _page(request, subscriber, error=str(exc), status_code=400)
        done = "cancelled" if pause.status == PauseStatus.CANCELLED else "ended"
        return Redirect(f"/cabinet/pause/?done={done}", status_code=303)
