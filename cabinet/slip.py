"""``/cabinet/slip``: the payment slip of the logged-in contract, for printing and as PDF, with the
bank QR code (GOST R 56042-2014) that bank apps scan (``tables.payments.slip``)."""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery
from litestar.response import Template

from cabinet.auth import current_subscriber
from settings import get_settings
from tables.calendar import local_date, utcnow
from tables.month import Month
from tables.payments.slip import Slip, payment_slip, slip_month
from tables.subscribers import Subscriber
from web.slip_pdf import slips_pdf


async def _slip(subscriber: Subscriber, period: str | None) -> tuple[Slip, str]:
    month, error = Month.current(utcnow()), ""
    try:
        month = slip_month(period)
    except ValueError as exc:
        error = str(exc)
    return await payment_slip(subscriber, month, get_settings(), today=local_date(utcnow())), error


class SlipController(Controller):
    path = "/cabinet"
    dependencies = {"subscriber": Provide(current_subscriber)}

    @get("/slip", name="slip")
    async def slip(self, subscriber: NamedDependency[Subscriber],
                   period: FromQuery[str | None] = None) -> Template:
        slip, error = await _slip(subscriber, period)
        return Template("cabinet/slip.html", status_code=400 if error else 200,
                        context={"subscriber": subscriber, "slip": slip, "error": error})

    @get("/slip.pdf", name="slip_pdf")
    async def slip_pdf(self, subscriber: NamedDependency[Subscriber],
                       period: FromQuery[str | None] = None) -> Response:
        """The same slip as a PDF (a bad month: the page with the refusal)."""
        slip, error = await _slip(subscriber, period)
        if error:
            return Template("cabinet/slip.html", status_code=400,
                            context={"subscriber": subscriber, "slip": slip, "error": error})
        return await slips_pdf([slip], title=f"Квитанция {slip.contract} за {slip.month.title}",
                               filename=f"квитанция-{slip.contract}-{slip.month.iso}.pdf")
