"""The subscriber's dashboard (the cabinet's home page) and profile."""

from __future__ import annotations

from litestar import Controller, Request, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery
from litestar.response import Template

from cabinet.auth import current_subscriber, staff_viewer
from cabinet.site import site
from tables.accounts import login_history
from tables.calendar import utcnow
from tables.ledger import ENTRY_KIND_LABELS
from tables.statements import dashboard, profile
from tables.subscribers import SUBSCRIBER_STATUS_LABELS, Subscriber
from tables.tariffs import TARIFF_KIND_LABELS

CONTACT_CHANGED = {"phone": "Новый телефон подтверждён и записан в договор.",
                   "email": "Новый адрес электронной почты подтверждён и записан в договор."}
NOTICES = {
    "promised": "Обещанный платёж зачислен на счёт.",
}


async def dashboard_page(request: Request, subscriber: Subscriber, *, changed: bool = False,
                         notice: str | None = None, error: str | None = None,
                         status_code: int = 200) -> Template:
    """The cabinet's home page; the promised-payment action re-renders it with its outcome."""
    view = await dashboard(subscriber, now=utcnow(), news=site().news)
    return Template("cabinet/dashboard.html", status_code=status_code, context={
        "view": view,
        "subscriber": subscriber,
        "status_label": SUBSCRIBER_STATUS_LABELS[subscriber.status],
        "changed": changed,
        "notice": notice,
        "error": error,
        "read_only": bool(staff_viewer(request)),
        "kind_labels": ENTRY_KIND_LABELS,
        "nav": "home",
    })


class DashboardController(Controller):
    path = "/cabinet"
    dependencies = {"subscriber": Provide(current_subscriber)}

    @get("/", name="dashboard")
    async def dashboard(self, request: Request, subscriber: NamedDependency[Subscriber],
                        changed: FromQuery[str | None] = None,
                        promised: FromQuery[str | None] = None) -> Template:
        return await dashboard_page(request, subscriber, changed=bool(changed),
                                    notice=NOTICES["promised"] if promised else None)

    @get("/profile", name="profile")
    async def profile(self, subscriber: NamedDependency[Subscriber],
                      contact: FromQuery[str | None] = None) -> Template:
        return Template("cabinet/profile.html", context={
            "contact_changed": CONTACT_CHANGED.get(contact or ""),
            "profile": await profile(subscriber),
            "logins": await login_history(subscriber.id),
            "status_labels": SUBSCRIBER_STATUS_LABELS,
            "tariff_kinds": TARIFF_KIND_LABELS,
            "nav": "profile",
        })
