"""Tariff change without a clerk (issue 29, items 4-5): pick a tariff and the router rent, see
what a month costs from the 1st of next month and what it does to the forecast, confirm; the
change is booked in the billing chain (``tables.billing.tariff_changes``) and can be cancelled
until it applies. Fees come from the one rule (``tables.billing.fee``)."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery
from litestar.response import Redirect, Response, Template

from cabinet.auth import current_subscriber, staff_viewer, writable_subscriber
from cabinet.forms import form_fields
from cabinet.public import active_tariffs
from tables.accounts import subscriber_actor
from tables.billing.fee import monthly_fee, tariff_fee
from tables.billing.forecast import forecast
from tables.billing.tariff_changes import booked_change, cancel_tariff_change, schedule_tariff_change
from tables.calendar import local_date, utcnow
from tables.requests.tariff_change import next_period_start
from tables.subscribers import Subscriber

COMMENT = "Личный кабинет: смена тарифа без заявки"
NOTICES = {"booked": "Смена тарифа запланирована.", "cancelled": "Смена тарифа отменена."}
MESSAGES = {
    "bad_tariff": "Выберите тариф из списка.",
    "no_router": "На этом тарифе роутер в аренду не предлагается.",
    "terminated": "Договор расторгается: смена тарифа недоступна.",
}


def _choice(fields: dict[str, str], tariffs: list[dict]) -> tuple[dict | None, bool, str | None]:
    """(the tariff chosen, router wanted, why not)."""
    chosen = next((t for t in tariffs if str(t["id"]) == fields.get("tariff_id", "").strip()), None)
    router = fields.get("router", "") == "yes"
    if chosen is None:
        return None, router, MESSAGES["bad_tariff"]
    if router and not chosen["router_option"]:
        return chosen, router, MESSAGES["no_router"]
    return chosen, router, None


async def _page(request: Request, subscriber: Subscriber, *, error: str | None = None,
                notice: str | None = None, values: dict | None = None, preview: dict | None = None,
                status_code: int = 200) -> Template:
    today = local_date(utcnow())
    fee = await monthly_fee(subscriber, today=today)
    tariffs = [{**t, "fee": tariff_fee(t, False), "fee_router": tariff_fee(t, True)}
               for t in await active_tariffs()]
    booked = await booked_change(subscriber.id, today=today)
    if booked is not None:
        booked["fee"] = tariff_fee(booked, subscriber.router_rented if booked["router_rented"] is None
                                   else bool(booked["router_rented"]))
        booked["own"] = booked["created_by"] == subscriber_actor(subscriber).name
    return Template("cabinet/tariff.html", status_code=status_code, context={
        "subscriber": subscriber, "fee": fee, "tariffs": tariffs, "booked": booked,
        "effective_from": next_period_start(today), "error": error, "notice": notice,
        "values": values or {"tariff_id": str(subscriber.tariff),
                             "router": "yes" if subscriber.router_rented else ""},
        "preview": preview, "read_only": bool(staff_viewer(request)),
        "closing": subscriber.terminated_on is not None, "nav": "tariff",
    })


class TariffController(Controller):
    path = "/cabinet/tariff"

    @get("/", dependencies={"subscriber": Provide(current_subscriber)}, name="tariff")
    async def form(self, request: Request, subscriber: NamedDependency[Subscriber],
                   booked: FromQuery[str | None] = None,
                   cancelled: FromQuery[str | None] = None) -> Template:
        notice = NOTICES["booked"] if booked else NOTICES["cancelled"] if cancelled else None
        return await _page(request, subscriber, notice=notice)

    @post("/preview", dependencies={"subscriber": Provide(writable_subscriber)})
    async def preview(self, request: Request, subscriber: NamedDependency[Subscriber]) -> Template:
        """What the choice costs from the 1st and how long the balance lasts then: nothing booked yet."""
        fields = await form_fields(request)
        tariffs = await active_tariffs()
        chosen, router, error = _choice(fields, tariffs)
        values = {"tariff_id": fields.get("tariff_id", ""), "router": "yes" if router else ""}
        if error:
            return await _page(request, subscriber, error=error, values=values, status_code=400)
        today = local_date(utcnow())
        now_fee = await monthly_fee(subscriber, today=today)
        new_fee = tariff_fee(chosen, router)
        preview = {
            "tariff": chosen, "router": router, "fee": new_fee,
            "effective_from": next_period_start(today),
            "before": forecast(subscriber.balance, now_fee.next, today),
            "after": forecast(subscriber.balance, new_fee, today),
            "current_fee": now_fee.next,
        }
        return await _page(request, subscriber, values=values, preview=preview)

    @post("/confirm", dependencies={"subscriber": Provide(writable_subscriber)})
    async def confirm(self, request: Request, subscriber: NamedDependency[Subscriber]) -> Response:
        fields = await form_fields(request)
        chosen, router, error = _choice(fields, await active_tariffs())
        values = {"tariff_id": fields.get("tariff_id", ""), "router": "yes" if router else ""}
        if error:
            return await _page(request, subscriber, error=error, values=values, status_code=400)
        try:
            await schedule_tariff_change(
                subscriber.id, chosen["id"], next_period_start(local_date(utcnow())),
                subscriber_actor(subscriber), comment=COMMENT,
                router_rented=router)
        except ValueError as exc:
            return await _page(request, subscriber, error=str(exc), values=values, status_code=400)
        return Redirect("/cabinet/tariff/?booked=1", status_code=303)

    @post("/cancel", dependencies={"subscriber": Provide(writable_subscriber)})
    async def cancel(self, request: Request, subscriber: NamedDependency[Subscriber]) -> Response:
        fields = await form_fields(request)
        change_id = fields.get("change_id", "")
        try:
            if not change_id.isdigit() or len(change_id) > 18:
                raise ValueError("Смена тарифа не найдена.")
            await cancel_tariff_change(subscriber.id, int(change_id), subscriber_actor(subscriber))
        except ValueError as exc:
            return await _page(request, subscriber, error=str(exc), status_code=400)
        return Redirect("/cabinet/tariff/?cancelled=1", status_code=303)
