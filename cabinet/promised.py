"""The promised payment (обещанный платёж): the subscriber takes a 3-day credit from the dashboard.

The rules (amount, once a month, never for a terminated contract) live in
``tables.billing.promised``; this controller only calls ``grant_promised_payment`` and
shows its answer on the dashboard.
"""

from __future__ import annotations

from litestar import Controller, Request, post
from litestar.di import NamedDependency, Provide
from litestar.response import Redirect, Response

from cabinet.auth import writable_subscriber
from cabinet.dashboard import dashboard_page
from tables.billing.promised import grant_promised_payment
from tables.calendar import utcnow
from tables.subscribers import Subscriber


class PromisedPaymentController(Controller):
    path = "/cabinet/promised"
    dependencies = {"subscriber": Provide(writable_subscriber)}

    @post("/", name="promised_payment")
    async def take(self, request: Request, subscriber: NamedDependency[Subscriber]) -> Response:
        try:
            await grant_promised_payment(subscriber.id, now=utcnow())
        except ValueError as exc:
            return await dashboard_page(request, subscriber, error=str(exc), status_code=409)
        return Redirect("/cabinet/?promised=1", status_code=303)
