"""``/cabinet/slip``: the payment slip of the logged-in contract, for printing, with the bank QR
code (GOST R 56042-2014) that bank apps scan (``tables.payments.slip``)."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery
from litestar.response import Template

from cabinet.auth import current_subscriber
from settings import get_settings
from tables.calendar import local_date, utcnow
from tables.month import Month
from tables.payments.slip import payment_slip
from tables.subscribers import Subscriber


class SlipController(Controller):
    path = "/cabinet"
    dependencies = {"subscriber": Provide(current_subscriber)}

    @get("/slip", name="slip")
    async def slip(self, subscriber: NamedDependency[Subscriber],
                   period: FromQuery[str | None] = None) -> Template:
        current = Month.current(utcnow())
        error = ""
        month = current
        if period:
            message = f"Месяц указывается как ГГГГ-ММ, с {(current - 12).dotted} по {(current + 2).dotted}"
            try:
                month = Month.parse(period, message=message)
                if not current - 12 <= month <= current + 2:
                    raise ValueError(message)
            except ValueError as exc:
                month, error = current, str(exc)
        slip = await payment_slip(subscriber, month, get_settings(), today=local_date(utcnow()))
        return Template("cabinet/slip.html", status_code=400 if error else 200,
                        context={"subscriber": subscriber, "slip": slip, "error": error})
