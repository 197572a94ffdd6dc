"""The subscriber's dashboard (the cabinet's home page)."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import Provide
from litestar.response import Template

from cabinet.auth import current_subscriber
from tables.subscribers import SUBSCRIBER_STATUS_LABELS, Subscriber
from tables.tariffs import Tariff


class DashboardController(Controller):
    path = "/cabinet"
    dependencies = {"subscriber": Provide(current_subscriber)}

    @get("/", name="dashboard")
    async def dashboard(self, subscriber: Subscriber, changed: str | None = None) -> Template:
        tariff = await Tariff.objects().where(Tariff.id == subscriber.tariff).first()
        return Template("cabinet/dashboard.html", context={
            "subscriber": subscriber,
            "tariff": tariff,
            "status_label": SUBSCRIBER_STATUS_LABELS[subscriber.status],
            "changed": bool(changed),
        })
