"""The subscriber's autopay: the saved card, when and how much to charge, off, remove.

The rules live in ``tables.payments.autopay``; this controller shows them and calls
``save_settings`` / ``remove_card``. A card is saved from the card page of a top-up
(«Сохранить карту для автоплатежа»).
"""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery
from litestar.response import Redirect, Response, Template

from cabinet.auth import current_subscriber, writable_subscriber
from cabinet.forms import form_fields
from tables.billing.fee import monthly_fee
from tables.calendar import local_date, utcnow
from tables.money import format_amount
from tables.month import Month
from tables.payments.autopay import (
    AMOUNT_MODE_LABELS,
    CHARGE_STATUS_LABELS,
    DAYS_BEFORE,
    autopay_summary,
    card_expires_before,
    remove_card,
    save_settings,
)
from tables.subscribers import Subscriber

DONE = {"saved": "Настройки автоплатежа сохранены.", "removed": "Карта удалена, автоплатёж выключен."}


async def _page(subscriber: Subscriber, *, fields: dict | None = None, error: str | None = None,
                done: str = "", status_code: int = 200) -> Template:
    row = await autopay_summary(subscriber.id)
    today = local_date(utcnow())
    fee = await monthly_fee(subscriber, today=today)
    values = fields or ({} if row is None else {
        "enabled": "1" if row["enabled"] else "", "days_before": str(row["days_before"]),
        "amount_mode": row["amount_mode"],
        "monthly_limit": format_amount(row["monthly_limit"], group="") if row["monthly_limit"] else "",
    })
    return Template("payments/autopay.html", status_code=status_code, context={
        "subscriber": subscriber, "a": row, "values": values, "error": error, "done": DONE.get(done, ""),
        "days": list(DAYS_BEFORE), "modes": AMOUNT_MODE_LABELS, "charge_labels": CHARGE_STATUS_LABELS,
        "fee": fee, "expired": bool(row) and card_expires_before(row, Month.of(today).next),
        "nav": "payments",
    })


class AutopayController(Controller):
    path = "/cabinet/autopay"

    @get("/", name="autopay", dependencies={"subscriber": Provide(current_subscriber)})
    async def show(self, subscriber: NamedDependency[Subscriber], done: FromQuery[str] = "") -> Template:
        return await _page(subscriber, done=done)

    @post("/", dependencies={"subscriber": Provide(writable_subscriber)})
    async def save(self, request: Request, subscriber: NamedDependency[Subscriber]) -> Response:
        fields = await form_fields(request)
        try:
            await save_settings(subscriber.id, enabled=bool(fields.get("enabled")),
                                days_before=fields.get("days_before", ""),
                                amount_mode=fields.get("amount_mode", ""),
                                monthly_limit=fields.get("monthly_limit", ""))
        except ValueError as exc:
            return await _page(subscriber, fields=fields, error=str(exc), status_code=400)
        return Redirect("/cabinet/autopay?done=saved", status_code=303)

    @post("/remove", dependencies={"subscriber": Provide(writable_subscriber)})
    async def remove(self, subscriber: NamedDependency[Subscriber]) -> Response:
        await remove_card(subscriber.id)
        return Redirect("/cabinet/autopay?done=removed", status_code=303)
