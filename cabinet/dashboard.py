"""The subscriber's dashboard (the cabinet's home page) and profile."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import Provide
from litestar.response import Template

from cabinet.auth import current_subscriber
from cabinet.site import site
from tables.accounts import login_history
from tables.db import utcnow
from tables.ledger import ENTRY_KIND_LABELS
from tables.statements import dashboard, profile
from tables.subscribers import SUBSCRIBER_STATUS_LABELS, Subscriber
from tables.tariffs import TARIFF_KIND_LABELS


class DashboardController(Controller):
    path = "/cabinet"
    dependencies = {"subscriber": Provide(current_subscriber)}

    @get("/", name="dashboard")
    async def dashboard(self, subscriber: Subscriber, changed: str | None = None) -> Template:
        view = await dashboard(subscriber, now=utcnow(), news=site().news)
        return Template("cabinet/dashboard.html", context={
            "view": view,
            "subscriber": subscriber,
            "status_label": SUBSCRIBER_STATUS_LABELS[subscriber.status],
            "changed": bool(changed),
            "kind_labels": ENTRY_KIND_LABELS,
            "nav": "home",
        })

    @get("/profile", name="profile")
    async def profile(self, subscriber: Subscriber) -> Template:
        return Template("cabinet/profile.html", context={
            "profile": await profile(subscriber),
            "logins": await login_history(subscriber.id),
            "status_labels": SUBSCRIBER_STATUS_LABELS,
            "tariff_kinds": TARIFF_KIND_LABELS,
            "nav": "profile",
        })
