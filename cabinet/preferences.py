"""The subscriber's message settings: which channel for which kind of message.

The rules (what may be switched off, consent to news) live in ``tables.notifications``;
this controller shows the choices and calls ``save_message_preferences``.
"""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery
from litestar.response import Redirect, Response, Template

from cabinet.auth import current_subscriber, writable_subscriber
from cabinet.forms import form_fields
from tables.accounts import subscriber_actor
from tables.notifications import (
    CHANNEL_CHOICES,
    KIND_CHANNELS,
    MESSAGE_KIND_LABELS,
    message_preferences,
    save_message_preferences,
)
from tables.phones import is_mobile
from tables.subscribers import Subscriber


async def _page(subscriber: Subscriber, chosen: dict[str, str], *, error: str | None = None,
                saved: bool = False, status_code: int = 200) -> Template:
    kinds = [{"name": kind.value, "label": MESSAGE_KIND_LABELS[kind.value],
              "choices": [(value, CHANNEL_CHOICES[value]) for value in allowed],
              "value": chosen.get(kind.value, allowed[0])}
             for kind, allowed in KIND_CHANNELS.items()]
    return Template("cabinet/notifications.html", status_code=status_code, context={
        "kinds": kinds, "error": error, "saved": saved, "nav": "profile",
        "has_mobile": is_mobile(subscriber.phone), "has_email": bool(subscriber.email),
    })


class PreferencesController(Controller):
    path = "/cabinet/notifications"

    @get("/", name="message_preferences", dependencies={"subscriber": Provide(current_subscriber)})
    async def show(self, subscriber: NamedDependency[Subscriber],
                   saved: FromQuery[bool] = False) -> Template:
        return await _page(subscriber, await message_preferences(subscriber.id), saved=saved)

    @post("/", dependencies={"subscriber": Provide(writable_subscriber)})
    async def save(self, request: Request, subscriber: NamedDependency[Subscriber]) -> Response:
        fields = await form_fields(request)
        try:
            await save_message_preferences(subscriber.id, fields, actor=subscriber_actor(subscriber))
        except ValueError as exc:
            return await _page(subscriber, fields, error=str(exc), status_code=400)
        return Redirect("/cabinet/notifications?saved=1", status_code=303)
