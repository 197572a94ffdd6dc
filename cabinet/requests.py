"""The subscriber's requests: file one, follow its timeline, write, cancel."""

from __future__ import annotations

import datetime as dt

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException
from litestar.params import FromQuery
from litestar.response import Redirect, Response, Template

from cabinet.auth import current_subscriber, writable_subscriber
from cabinet.forms import form_fields
from cabinet.public import active_tariffs
from tables.billing.fee import tariff_fee
from tables.calendar import local_date, utcnow
from tables.ledger import ENTRY_KIND_LABELS, entry_label
from tables.requests.balance_refund import file_balance_refund
from tables.requests.filing import KIND_TOPICS, SUBSCRIBER_KINDS, file_request
from tables.requests.queue import (
    OPEN_STATUSES,
    REQUEST_KIND_LABELS,
    REQUEST_STATUS_LABELS,
    REQUEST_TOPIC_LABELS,
    RequestKind,
    RequestNotFound,
    RequestStatus,
    add_subscriber_message,
    cancel_request,
    open_kinds,
    open_request,
    public_timeline,
    subscriber_request,
    subscriber_requests,
)
from tables.requests.tariff_change import next_period_start
from tables.requests.termination import final_statement
from tables.subscribers import Subscriber, SubscriberStatus
from web.errors import RowId

MESSAGES = {
    "bad_date": "Дата указана неверно: выберите её в календаре или введите как 25.12.2026.",
    "bad_tariff": "Выберите тариф из списка.",
    "filed": "Заявка {number} принята. Ответ появится на этой странице.",
    "sent": "Сообщение отправлено.",
    "cancelled": "Заявка отменена.",
}

# Kinds shown as "new request" links, in this order, with a one-line hint.
KIND_HINTS = {
    "repair": "Нет интернета или изображения на ТВ, низкая скорость",
    "service": "Установка роутера, перенос подключения, другое",
    "tariff_change": "Новый тариф действует с 1-го числа следующего месяца",
    "termination": "Отключение услуг и расторжение договора",
    "question": "Любой вопрос в службу поддержки",
}


def _parse_date(value: str) -> dt.date | None:
    value = value.strip()
    if not value:
        return None
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return dt.datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise ValueError(MESSAGES["bad_date"])


def _parse_id(value: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    if not value.isdigit() or len(value) > 9:
        raise ValueError(MESSAGES["bad_tariff"])
    return int(value)


def _kind_or_404(kind: str | None) -> str:
    if kind not in SUBSCRIBER_KINDS:
        raise NotFoundException()
    return kind


async def _form_page(subscriber: Subscriber, kind: str, *, values: dict | None = None,
                     error: str | None = None, status_code: int = 200) -> Template:
    today = local_date(utcnow())
    tariffs = []
    if kind == RequestKind.TARIFF_CHANGE:
        # The fee as it would be charged: with the router rent when the subscriber rents one.
        tariffs = [{**t, "fee": tariff_fee(t, subscriber.router_rented)}
                   for t in await active_tariffs() if t["id"] != subscriber.tariff]
    existing = await open_request(subscriber.id, kind) if kind in (
        RequestKind.TARIFF_CHANGE, RequestKind.TERMINATION) else None
    blocker = None
    if kind == RequestKind.TARIFF_CHANGE:
        blocker = await open_request(subscriber.id, RequestKind.TERMINATION)
    return Template("requests/new.html", status_code=status_code, context={
        "subscriber": subscriber, "kind": kind, "kind_label": REQUEST_KIND_LABELS[kind],
        "topics": [(t, REQUEST_TOPIC_LABELS[t]) for t in KIND_TOPICS.get(kind, ())],
        "tariffs": tariffs, "effective_from": next_period_start(today), "today": today,
        "existing": existing, "termination": blocker, "values": values or {}, "error": error,
        "scheduled_on": _scheduled_on(subscriber),
    })


async def _refund_page(subscriber: Subscriber, *, values: dict | None = None,
                       error: str | None = None, status_code: int = 200) -> Template:
    return Template("requests/refund.html", status_code=status_code, context={
        "subscriber": subscriber, "values": values or {}, "error": error,
        "terminated": subscriber.status == SubscriberStatus.TERMINATED,
        "existing": await open_request(subscriber.id, RequestKind.BALANCE_REFUND),
    })


def _scheduled_on(subscriber: Subscriber) -> dt.date | None:
    """The date a completed termination takes effect, while it is still ahead."""
    if subscriber.status == SubscriberStatus.TERMINATED:
        return None
    return subscriber.terminated_on


async def _own_request(request_id: int, subscriber: Subscriber) -> dict:
    row = await subscriber_request(request_id, subscriber.id)
    if row is None:
        raise NotFoundException()
    return row


async def _detail_page(row: dict, subscriber: Subscriber, *, error: str | None = None,
                       info: str | None = None, status_code: int = 200) -> Template:
    writable = subscriber.status != SubscriberStatus.TERMINATED
    return Template("requests/detail.html", status_code=status_code, context={
        "subscriber": subscriber, "r": row, "events": await public_timeline(row["id"]),
        "kind_labels": REQUEST_KIND_LABELS, "status_labels": REQUEST_STATUS_LABELS,
        "topic_labels": REQUEST_TOPIC_LABELS,
        "can_write": writable and row["status"] in OPEN_STATUSES,
        "can_cancel": writable and row["status"] == RequestStatus.NEW,
        "effective_from": next_period_start(local_date(utcnow())),
        "error": error, "info": info,
    })


class RequestsController(Controller):
    path = "/cabinet/requests"

    @get("/", name="requests", dependencies={"subscriber": Provide(current_subscriber)})
    async def index(self, subscriber: NamedDependency[Subscriber]) -> Template:
        return Template("requests/list.html", context={
            "subscriber": subscriber, "requests": await subscriber_requests(subscriber.id),
            "open_kinds": await open_kinds(subscriber.id),
            "kind_hints": KIND_HINTS, "kind_labels": REQUEST_KIND_LABELS,
            "status_labels": REQUEST_STATUS_LABELS, "topic_labels": REQUEST_TOPIC_LABELS,
            "writable": subscriber.status != SubscriberStatus.TERMINATED,
            "scheduled_on": _scheduled_on(subscriber),
            "refund_open": await open_request(subscriber.id, RequestKind.BALANCE_REFUND),
        })

    @get("/new", dependencies={"subscriber": Provide(writable_subscriber)})
    async def new_form(self, subscriber: NamedDependency[Subscriber],
                       kind: FromQuery[str | None] = None) -> Template:
        return await _form_page(subscriber, _kind_or_404(kind))

    @post("/new", dependencies={"subscriber": Provide(writable_subscriber)})
    async def new(self, request: Request, subscriber: NamedDependency[Subscriber],
                  kind: FromQuery[str | None] = None) -> Response:
        kind = _kind_or_404(kind)
        fields = await form_fields(request)
        try:
            created = await file_request(
                subscriber.id, kind,
                topic=fields.get("topic", ""), text=fields.get("text", ""),
                tariff_id=_parse_id(fields.get("tariff_id", "")),
                desired_date=_parse_date(fields.get("desired_date", "")),
                contact_time=fields.get("contact_time", ""),
                confirmed=fields.get("confirm") == "yes",
            )
        except ValueError as exc:
            return await _form_page(subscriber, kind, values=fields, error=str(exc),
                                    status_code=400)
        return Redirect(f"/cabinet/requests/{created.id}?filed=1", status_code=303)

    # A terminated contract is read-only, with one exception: asking for its leftover balance.
    @get("/refund", dependencies={"subscriber": Provide(current_subscriber)})
    async def refund_form(self, subscriber: NamedDependency[Subscriber]) -> Template:
        return await _refund_page(subscriber)

    @post("/refund", dependencies={"subscriber": Provide(current_subscriber)})
    async def refund(self, request: Request, subscriber: NamedDependency[Subscriber]) -> Response:
        fields = await form_fields(request)  # a staff view never gets here (refuse_staff_view_actions)
        try:
            created = await file_balance_refund(subscriber.id, fields.get("details", ""))
        except ValueError as exc:
            return await _refund_page(subscriber, values=fields, error=str(exc), status_code=400)
        return Redirect(f"/cabinet/requests/{created.id}?filed=1", status_code=303)

    @get("/{request_id:int}", dependencies={"subscriber": Provide(current_subscriber)})
    async def detail(self, subscriber: NamedDependency[Subscriber], request_id: RowId,
                     filed: FromQuery[str | None] = None, sent: FromQuery[str | None] = None,
                     cancelled: FromQuery[str | None] = None) -> Template:
        row = await _own_request(request_id, subscriber)
        info = (MESSAGES["filed"].format(number=row["number"]) if filed
                else MESSAGES["sent"] if sent else MESSAGES["cancelled"] if cancelled else None)
        return await _detail_page(row, subscriber, info=info)

    @post("/{request_id:int}/message", dependencies={"subscriber": Provide(writable_subscriber)})
    async def message(self, request: Request, subscriber: NamedDependency[Subscriber],
                      request_id: RowId) -> Response:
        row = await _own_request(request_id, subscriber)
        fields = await form_fields(request)
        try:
            await add_subscriber_message(request_id, subscriber.id, fields.get("message", ""))
        except RequestNotFound as exc:
            raise NotFoundException() from exc
        except ValueError as exc:
            return await _detail_page(row, subscriber, error=str(exc), status_code=400)
        return Redirect(f"/cabinet/requests/{request_id}?sent=1", status_code=303)

    @post("/{request_id:int}/cancel", dependencies={"subscriber": Provide(writable_subscriber)})
    async def cancel(self, subscriber: NamedDependency[Subscriber], request_id: RowId) -> Response:
        row = await _own_request(request_id, subscriber)
        try:
            await cancel_request(request_id, subscriber.id)
        except RequestNotFound as exc:
            raise NotFoundException() from exc
        except ValueError as exc:
            return await _detail_page(row, subscriber, error=str(exc), status_code=409)
        return Redirect(f"/cabinet/requests/{request_id}?cancelled=1", status_code=303)

    @get("/{request_id:int}/statement", dependencies={"subscriber": Provide(current_subscriber)})
    async def statement(self, subscriber: NamedDependency[Subscriber], request_id: RowId) -> Template:
        """The final statement of a terminated contract (read-only, printable)."""
        row = await _own_request(request_id, subscriber)
        if row["kind"] != RequestKind.TERMINATION or row["status"] != RequestStatus.DONE:
            raise NotFoundException()
        return Template("requests/statement.html", context={
            "subscriber": subscriber, "r": row, "s": await final_statement(subscriber.id),
            "entry_labels": ENTRY_KIND_LABELS, "entry_label": entry_label,
            "refund_open": await open_request(subscriber.id, RequestKind.BALANCE_REFUND),
        })
