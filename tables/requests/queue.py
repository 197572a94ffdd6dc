"""The request queue every kind shares: the tables, kinds and states, and the staff's handling.

States: ``new`` → ``in_progress`` → ``done`` | ``rejected``; a subscriber may
cancel while ``new``. Every change goes through one function that checks
the transition, writes a :class:`RequestEvent` (the timeline the subscriber
reads, minus internal notes), an audit entry and any notification, all in one
write transaction. The building blocks here (:func:`claim`, :func:`finish`,
:func:`add_event`, …) are what the workflow modules of this package compose;
the kinds' own steps live there. See ``docs/requests.md``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import secrets

from piccolo.apps.user.tables import BaseUser
from piccolo.columns import Boolean, Date, ForeignKey, OnDelete, Text, Timestamptz, Varchar
from piccolo.columns.readable import Readable
from piccolo.table import Table

from db.engine import is_unique_violation, write_transaction
from tables.addresses import Address, Town
from tables.audit import Actor, write_audit
from tables.calendar import utcnow
from tables.choices import choices
from tables.notifications import enqueue, route_for
from tables.subscribers import Subscriber, SubscriberStatus
from tables.tariffs import Tariff


class RequestKind(enum.StrEnum):
    CONNECTION = "connection"
    REPAIR = "repair"
    SERVICE = "service"
    TARIFF_CHANGE = "tariff_change"
    TERMINATION = "termination"
    QUESTION = "question"
    BALANCE_REFUND = "balance_refund"


REQUEST_KIND_LABELS = {
    "connection": "Заявка на подключение",
    "repair": "Неисправность",
    "service": "Услуга",
    "tariff_change": "Смена тарифа",
    "termination": "Расторжение договора",
    "question": "Вопрос в поддержку",
    "balance_refund": "Возврат остатка",
}


class RequestStatus(enum.StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


REQUEST_STATUS_LABELS = {
    "new": "Новая",
    "in_progress": "В работе",
    "done": "Выполнена",
    "rejected": "Отклонена",
    "cancelled": "Отменена абонентом",
}


class RequestTopic(enum.StrEnum):
    NONE = ""
    NO_INTERNET = "no_internet"
    NO_TV = "no_tv"
    SLOW = "slow"
    ROUTER_INSTALL = "router_install"
    RELOCATION = "relocation"
    MOVING = "moving"
    PRICE = "price"
    QUALITY = "quality"
    OTHER_PROVIDER = "other_provider"
    OTHER = "other"


REQUEST_TOPIC_LABELS = {
    "": "—",
    "no_internet": "Нет интернета",
    "no_tv": "Нет изображения на ТВ",
    "slow": "Низкая скорость",
    "router_install": "Установка роутера",
    "relocation": "Перенос подключения на другой адрес",
    "moving": "Переезд",
    "price": "Высокая цена",
    "quality": "Качество услуг",
    "other_provider": "Переход к другому провайдеру",
    "other": "Другое",
}


class AuthorKind(enum.StrEnum):
    SUBSCRIBER = "subscriber"
    APPLICANT = "applicant"
    STAFF = "staff"
    SYSTEM = "system"


AUTHOR_KIND_LABELS = {"subscriber": "Абонент", "applicant": "Заявитель", "staff": "Сотрудник",
                      "system": "Система"}

OPEN_STATUSES = (RequestStatus.NEW, RequestStatus.IN_PROGRESS)
CLOSED_STATUSES = (RequestStatus.DONE, RequestStatus.REJECTED, RequestStatus.CANCELLED)

# Kinds finished by their own action, not by a plain "done".
COMPLETING_ACTIONS = {
    "tariff_change": "«Выполнить смену тарифа»",
    "termination": "«Выполнить расторжение»",
    "connection": "«Оформить договор по заявке»",
    "balance_refund": "«Выплатить остаток»",
}

MAX_TEXT = 2000
MAX_MESSAGE = 4000
NUMBER_PREFIX = "Z-"

MESSAGES = {
    "not_found": "Заявка не найдена.",
    "no_contract": "Договор не найден.",
    "terminated": "Договор расторгнут: новые заявки и сообщения недоступны.",
    "text_long": f"Текст слишком длинный: не больше {MAX_TEXT} символов.",
    "message_empty": "Напишите сообщение.",
    "message_long": f"Сообщение слишком длинное: не больше {MAX_MESSAGE} символов.",
    "contact_long": "Слишком длинное поле «Удобное время»: не больше 100 символов.",
    "tariff_unavailable": "Этот тариф недоступен для подключения.",
    "open_same": "По этому договору уже есть открытая заявка «{kind}» № {number}. "
                 "Дождитесь её выполнения или отмените её.",
    "open_race": "Такая заявка уже подана и ещё не выполнена.",
    "closed": "Заявка {number} уже закрыта ({status}): действие невозможно.",
    "changed": "Заявку только что изменил другой сотрудник. Обновите страницу и повторите.",
    "cancel_not_new": "Заявка {number} уже в работе: отменить её нельзя, напишите сообщение в заявке.",
    "reason_needed": "Укажите причину отказа.",
    "reason_long": "Причина слишком длинная: не больше 1000 символов.",
    "wrong_kind": "Заявка {number} — «{kind}»: это действие к ней не относится.",
    "use_action": "Заявку «{kind}» закрывает действие {action}.",
    "assignee": "Сотрудник не найден или не имеет доступа к офису.",
    "already_assigned": "Заявка {number} уже в работе у этого сотрудника.",
}

# Notification texts (the outbox adds nothing but the channel).
NOTIFY = {
    "taken": "заявка {number} принята в работу.",
    "replied": "ответ по заявке {number}: {message}",
    "done": "заявка {number} выполнена. {reason}",
    "rejected": "заявка {number} отклонена. Причина: {reason}",
}


class RequestNotFound(ValueError):
    """No such request, or not one the caller may see: both answer the same."""


class ServiceRequest(Table, help_text="Заявки: абонентов и на подключение"):
    number = Varchar(length=20, unique=True, help_text="Номер заявки")
    kind = Varchar(length=20, choices=choices(RequestKind, REQUEST_KIND_LABELS), index=True,
                   help_text="Вид заявки")
    status = Varchar(length=20, choices=choices(RequestStatus, REQUEST_STATUS_LABELS),
                     default="new", index=True, help_text="Состояние")
    subscriber = ForeignKey(Subscriber, null=True, default=None, on_delete=OnDelete.restrict,
                            help_text="Договор (пусто для заявки на подключение)")
    contract_number = Varchar(length=12, default="", index=True,
                              help_text="Номер договора (на момент подачи, для поиска)")
    topic = Varchar(length=50, default="", choices=choices(RequestTopic, REQUEST_TOPIC_LABELS),
                    help_text="Тема: вид неисправности, услуги или причина расторжения")
    text = Text(default="", help_text="Текст заявки")
    requested_tariff = ForeignKey(Tariff, null=True, default=None, on_delete=OnDelete.restrict,
                                  help_text="Желаемый тариф")
    wants_router = Boolean(default=False,
                           help_text="С роутером: аренда роутера по тарифу (заявка на подключение)")
    desired_date = Date(null=True, default=None, help_text="Желаемая дата")
    applicant_name = Varchar(length=200, default="", help_text="Имя заявителя или абонента")
    applicant_phone = Varchar(length=20, default="", help_text="Телефон, +7XXXXXXXXXX")
    town = ForeignKey(Town, null=True, default=None, on_delete=OnDelete.restrict,
                      help_text="Город")
    street_name = Varchar(length=150, default="", help_text="Улица (заявка на подключение)")
    house = Varchar(length=20, default="", help_text="Дом (заявка на подключение)")
    apartment = Varchar(length=20, default="", help_text="Квартира (заявка на подключение)")
    address = ForeignKey(Address, null=True, default=None, on_delete=OnDelete.restrict,
                         help_text="Адрес из справочника")
    address_text = Varchar(length=300, default="", help_text="Адрес одной строкой (для поиска)")
    contact_time = Varchar(length=100, default="", help_text="Удобное время для связи")
    assignee = ForeignKey(BaseUser, null=True, default=None, on_delete=OnDelete.set_null,
                          help_text="Исполнитель")
    close_reason = Text(default="", help_text="Итог: результат или причина отказа")
    converted_subscriber = ForeignKey(Subscriber, null=True, default=None,
                                      on_delete=OnDelete.restrict,
                                      help_text="Оформленный договор (по заявке на подключение)")
    created_at = Timestamptz(help_text="Создана")
    updated_at = Timestamptz(help_text="Изменена")
    closed_at = Timestamptz(null=True, default=None, help_text="Закрыта")

    @classmethod
    def get_readable(cls) -> Readable:
        return Readable(template="%s", columns=[cls.number])


class RequestEvent(Table, help_text="История заявки: смены состояния, ответы, внутренние заметки"):
    service_request = ForeignKey(ServiceRequest, null=False, on_delete=OnDelete.restrict,
                                 help_text="Заявка")
    author_name = Varchar(length=150, help_text="Автор")
    author_kind = Varchar(length=12, choices=choices(AuthorKind, AUTHOR_KIND_LABELS),
                          default="staff", help_text="Кто автор")
    staff = ForeignKey(BaseUser, null=True, default=None, on_delete=OnDelete.set_null,
                       help_text="Сотрудник")
    status_from = Varchar(length=20, default="", help_text="Было")
    status_to = Varchar(length=20, default="", help_text="Стало")
    message = Text(default="", help_text="Сообщение")
    internal = Boolean(default=False, help_text="Внутренняя заметка (абонент не видит)")
    created_at = Timestamptz(help_text="Время")


@dataclasses.dataclass(frozen=True)
class Filing:
    """A subscriber's request form, checked and cleaned (what :func:`insert_numbered` will store)."""

    kind: str
    topic: str = ""
    text: str = ""
    tariff_id: int | None = None
    desired_date: dt.date | None = None
    contact_time: str = ""
    confirmed: bool = False


# --------------------------------------------------------------------------- building blocks


def format_number(request_id: int) -> str:
    return f"{NUMBER_PREFIX}{request_id:06d}"


def parse_number(text: str | None) -> str | None:
    """Canonical request number from what staff type: ``Z-000123``, ``z-123``, ``123``."""
    value = (text or "").strip().upper().replace(" ", "")
    if value.startswith(NUMBER_PREFIX):
        value = value[len(NUMBER_PREFIX):]
    if not value.isdigit() or len(value) > 12:
        return None
    return format_number(int(value))


def date_text(day: dt.date) -> str:
    return day.strftime("%d.%m.%Y")


def _closed_message(row: dict) -> str:
    return MESSAGES["closed"].format(number=row["number"],
                                     status=REQUEST_STATUS_LABELS[row["status"]].lower())


async def insert_numbered(request: ServiceRequest, *, conflict_message: str) -> ServiceRequest:
    """Insert and number a request.

    The number is derived from the row id, which both engines hand out
    atomically: concurrent filings never compute the same number, so there is
    nothing to retry. A placeholder satisfies the unique column meanwhile.
    """
    request.number = f"tmp-{secrets.token_hex(8)}"
    try:
        await request.save()
    except Exception as exc:
        if is_unique_violation(exc):
            # Lost a race against a partial unique index on open requests.
            raise ValueError(conflict_message) from exc
        raise
    request.number = format_number(request.id)
    await ServiceRequest.update({ServiceRequest.number: request.number}).where(
        ServiceRequest.id == request.id
    )
    return request


async def add_event(request_id: int, *, actor: Actor, author_kind: AuthorKind, now: dt.datetime,
                    status_from: str = "", status_to: str = "", message: str = "",
                    internal: bool = False) -> None:
    await RequestEvent.insert(RequestEvent(
        service_request=request_id, author_name=actor.name[:150], author_kind=author_kind,
        staff=actor.staff_id, status_from=status_from, status_to=status_to, message=message,
        internal=internal, created_at=now,
    ))


async def audit_request(row: dict, action: str, actor: Actor, *, before: dict | None = None,
                        after: dict | None = None, message: str = "") -> None:
    await write_audit(action=action, object_type="service_request", object_id=row["id"],
                      object_repr=row["number"], actor=actor, before=before, after=after,
                      message=message)


async def notify_filer(row: dict, topic: str, text: str) -> None:
    """Queue a message to whoever filed the request (in the caller's transaction)."""
    if row["subscriber"]:
        person = await Subscriber.select(Subscriber.phone, Subscriber.email).where(
            Subscriber.id == row["subscriber"]
        ).first()
        route = route_for(person["phone"], person["email"]) if person else None
    else:  # an applicant without a contract: SMS to a mobile number only
        route = route_for(row["applicant_phone"], "") if row["applicant_phone"] else None
    if route is None:
        return
    await enqueue(channel=route.channel, recipient=route.recipient, body=f"Centra: {text}",
                  subject=f"Заявка {row['number']}", subscriber_id=row["subscriber"],
                  topic=topic, reference=row["number"], skipped_reason=route.reason)


async def claim(request_id: int, *, allowed: tuple[str, ...], now: dt.datetime,
                changes: dict | None = None, kinds: tuple[str, ...] | None = None,
                subscriber_id: int | None = None, busy_message: str | None = None) -> dict:
    """Load a request and apply ``changes`` only while its status is still allowed.

    The conditional UPDATE makes two clerks acting at once safe on both engines
    (on PostgreSQL it also locks the row until the transaction ends).
    """
    query = ServiceRequest.select().where(ServiceRequest.id == request_id)
    if subscriber_id is not None:
        query = query.where(ServiceRequest.subscriber == subscriber_id)
    row = await query.first()
    if row is None:
        raise RequestNotFound(MESSAGES["not_found"])
    if kinds is not None and row["kind"] not in kinds:
        raise ValueError(MESSAGES["wrong_kind"].format(number=row["number"],
                                                       kind=REQUEST_KIND_LABELS[row["kind"]]))
    if row["status"] not in allowed:
        if busy_message and row["status"] in OPEN_STATUSES:
            raise ValueError(busy_message.format(number=row["number"]))
        raise ValueError(_closed_message(row))
    values = {ServiceRequest.updated_at: now, **(changes or {})}
    updated = await ServiceRequest.update(values).where(
        (ServiceRequest.id == request_id) & (ServiceRequest.status == row["status"])
    ).returning(ServiceRequest.id)
    if not updated:
        raise ValueError(MESSAGES["changed"])
    return row


def subscriber_actor(contract_number: str) -> Actor:
    return Actor(name=f"абонент {contract_number}")


def checked_text(text: str | None, limit: int = MAX_TEXT, message: str = "text_long") -> str:
    value = (text or "").strip()
    if len(value) > limit:
        raise ValueError(MESSAGES[message])
    return value


async def contract_row(subscriber_id: int) -> dict:
    row = await Subscriber.select(
        Subscriber.id, Subscriber.contract_number, Subscriber.full_name, Subscriber.phone,
        Subscriber.status, Subscriber.tariff, Subscriber.terminated_on,
        Subscriber.address.id.as_alias("address_id"),
        Subscriber.address.house.as_alias("house"),
        Subscriber.address.apartment.as_alias("apartment"),
        Subscriber.address.street.name.as_alias("street"),
        Subscriber.address.street.town.id.as_alias("town_id"),
        Subscriber.address.street.town.name.as_alias("town"),
    ).where(Subscriber.id == subscriber_id).first()
    if row is None:
        raise ValueError(MESSAGES["no_contract"])
    return row


async def open_request(subscriber_id: int, kind: str) -> dict | None:
    """The contract's open request of ``kind`` (id, number and the filer's text), if any."""
    return await ServiceRequest.select(ServiceRequest.id, ServiceRequest.number, ServiceRequest.text).where(
        (ServiceRequest.subscriber == subscriber_id) & (ServiceRequest.kind == kind)
        & ServiceRequest.status.is_in(list(OPEN_STATUSES))
    ).first()


async def refuse_second_open(subscriber_id: int, kind: str) -> None:
    """At most one open request of ``kind`` per contract (also a partial unique index)."""
    existing = await open_request(subscriber_id, kind)
    if existing:
        raise ValueError(MESSAGES["open_same"].format(kind=REQUEST_KIND_LABELS[kind],
                                                      number=existing["number"]))


async def finish(row: dict, status: RequestStatus, reason: str, actor: Actor,
                 now: dt.datetime, *, notify_text: str | None = None) -> None:
    """The closing event, notification and audit of a request ``claim`` has just closed."""
    await add_event(row["id"], actor=actor, author_kind=AuthorKind.STAFF, now=now,
                    status_from=row["status"], status_to=status, message=reason)
    if notify_text is None:
        notify_text = NOTIFY["done" if status == RequestStatus.DONE else "rejected"].format(
            number=row["number"], reason=reason).strip()
    await notify_filer(row, f"request.{status}", notify_text)
    await audit_request(row, "request.done" if status == RequestStatus.DONE else "request.rejected", actor,
                        before={"status": row["status"]}, after={"status": status, "reason": reason})


# --------------------------------------------------------------------------- the subscriber's side


async def add_subscriber_message(request_id: int, subscriber_id: int, text: str, *,
                                 now: dt.datetime | None = None) -> None:
    """The subscriber writes in their own open request."""
    now = now or utcnow()
    message = checked_text(text, MAX_MESSAGE, "message_long")
    if not message:
        raise ValueError(MESSAGES["message_empty"])
    async with write_transaction():
        contract = await contract_row(subscriber_id)
        if contract["status"] == SubscriberStatus.TERMINATED:
            raise ValueError(MESSAGES["terminated"])
        row = await claim(request_id, allowed=OPEN_STATUSES, now=now, subscriber_id=subscriber_id)
        actor = subscriber_actor(contract["contract_number"])
        await add_event(request_id, actor=actor, author_kind=AuthorKind.SUBSCRIBER, now=now,
                        message=message)
        await audit_request(row, "request.subscriber_message", actor)


async def cancel_request(request_id: int, subscriber_id: int, *,
                         now: dt.datetime | None = None) -> None:
    """The subscriber withdraws a request nobody has taken yet."""
    now = now or utcnow()
    async with write_transaction():
        contract = await contract_row(subscriber_id)
        row = await claim(request_id, allowed=(RequestStatus.NEW,), now=now,
                          subscriber_id=subscriber_id,
                          changes={ServiceRequest.status: RequestStatus.CANCELLED,
                                   ServiceRequest.closed_at: now},
                          busy_message=MESSAGES["cancel_not_new"])
        actor = subscriber_actor(contract["contract_number"])
        await add_event(request_id, actor=actor, author_kind=AuthorKind.SUBSCRIBER, now=now,
                        status_from=row["status"], status_to=RequestStatus.CANCELLED,
                        message="Заявка отменена абонентом")
        await audit_request(row, "request.cancelled", actor, before={"status": row["status"]},
                            after={"status": RequestStatus.CANCELLED})


# --------------------------------------------------------------------------- staff side


async def staff_id_by_username(username: str) -> int | None:
    row = await BaseUser.select(BaseUser.id).where(BaseUser.username == username.strip()).first()
    return row["id"] if row else None


async def request_id_by_number(text: str) -> int:
    """The id behind a number staff typed; a clear error when there is none."""
    number = parse_number(text)
    row = None
    if number:
        row = await ServiceRequest.select(ServiceRequest.id).where(
            ServiceRequest.number == number
        ).first()
    if row is None:
        raise RequestNotFound(f"Заявка {text.strip()[:20]} не найдена.")
    return row["id"]


async def take_request(request_id: int, *, actor: Actor, assignee_id: int | None = None,
                       now: dt.datetime | None = None) -> None:
    """Take a request into work, or hand it to another clerk (``assignee_id``)."""
    now = now or utcnow()
    assignee_id = assignee_id or actor.staff_id
    async with write_transaction():
        staff = await BaseUser.select(BaseUser.id, BaseUser.username, BaseUser.active,
                                      BaseUser.admin).where(BaseUser.id == (assignee_id or 0)).first()
        if staff is None or not staff["active"] or not staff["admin"]:
            raise ValueError(MESSAGES["assignee"])
        current = await ServiceRequest.select(ServiceRequest.status, ServiceRequest.assignee,
                                              ServiceRequest.number).where(
            ServiceRequest.id == request_id).first()
        if (current and current["status"] == RequestStatus.IN_PROGRESS
                and current["assignee"] == staff["id"]):
            raise ValueError(MESSAGES["already_assigned"].format(number=current["number"]))
        row = await claim(request_id, allowed=OPEN_STATUSES, now=now,
                          changes={ServiceRequest.status: RequestStatus.IN_PROGRESS,
                                   ServiceRequest.assignee: staff["id"]})
        if row["status"] == RequestStatus.NEW:
            await add_event(request_id, actor=actor, author_kind=AuthorKind.STAFF, now=now,
                            status_from=row["status"], status_to=RequestStatus.IN_PROGRESS,
                            message="Заявка принята в работу")
            await notify_filer(row, "request.taken", NOTIFY["taken"].format(number=row["number"]))
        await add_event(request_id, actor=actor, author_kind=AuthorKind.STAFF, now=now, internal=True,
                        message=f"Исполнитель: {staff['username']}")
        await audit_request(row, "request.assigned", actor,
                            before={"status": row["status"], "assignee": row["assignee"]},
                            after={"status": RequestStatus.IN_PROGRESS, "assignee": staff["id"]})


async def reply(request_id: int, message: str, *, actor: Actor, internal: bool = False,
                now: dt.datetime | None = None) -> None:
    """A staff answer the subscriber reads (or, with ``internal``, a note only staff see)."""
    now = now or utcnow()
    message = checked_text(message, MAX_MESSAGE, "message_long")
    if not message:
        raise ValueError(MESSAGES["message_empty"])
    async with write_transaction():
        row = await claim(request_id, allowed=OPEN_STATUSES, now=now)
        await add_event(request_id, actor=actor, author_kind=AuthorKind.STAFF, now=now,
                        message=message, internal=internal)
        if not internal:
            await notify_filer(row, "request.replied",
                               NOTIFY["replied"].format(number=row["number"], message=message))
        await audit_request(row, "request.noted" if internal else "request.replied", actor, message=message)


async def close_request(request_id: int, *, actor: Actor, done: bool, reason: str = "",
                        now: dt.datetime | None = None) -> None:
    """Close as done (the work is finished) or rejected (``reason`` required).

    Tariff changes, terminations and connection applications are done only by
    their own actions, which change the contract too; they may be rejected here.
    """
    now = now or utcnow()
    reason = checked_text(reason, 1000, "reason_long")
    if not done and not reason:
        raise ValueError(MESSAGES["reason_needed"])
    status = RequestStatus.DONE if done else RequestStatus.REJECTED
    async with write_transaction():
        row = await claim(request_id, allowed=OPEN_STATUSES, now=now,
                          changes={ServiceRequest.status: status, ServiceRequest.closed_at: now,
                                   ServiceRequest.close_reason: reason})
        if done and row["kind"] in COMPLETING_ACTIONS:
            raise ValueError(MESSAGES["use_action"].format(kind=REQUEST_KIND_LABELS[row["kind"]],
                                                           action=COMPLETING_ACTIONS[row["kind"]]))
        await finish(row, status, reason, actor, now)


# --------------------------------------------------------------------------- listing


async def subscriber_requests(subscriber_id: int) -> list[dict]:
    """The subscriber's own requests, newest first."""
    return await ServiceRequest.select(
        ServiceRequest.id, ServiceRequest.number, ServiceRequest.kind, ServiceRequest.status,
        ServiceRequest.topic, ServiceRequest.created_at, ServiceRequest.updated_at,
    ).where(ServiceRequest.subscriber == subscriber_id).order_by(
        ServiceRequest.created_at, ascending=False).order_by(ServiceRequest.id, ascending=False)


async def subscriber_request(request_id: int, subscriber_id: int) -> dict | None:
    """One of the subscriber's own requests (``None`` for anyone else's)."""
    return await ServiceRequest.select(
        *ServiceRequest.all_columns(),
        ServiceRequest.requested_tariff.name.as_alias("tariff_name"),
        ServiceRequest.requested_tariff.monthly_fee.as_alias("tariff_fee"),
    ).where((ServiceRequest.id == request_id)
            & (ServiceRequest.subscriber == subscriber_id)).first()


async def public_timeline(request_id: int) -> list[dict]:
    """Events the subscriber may read: never internal notes, never staff names."""
    return await RequestEvent.select(
        RequestEvent.author_kind, RequestEvent.status_from, RequestEvent.status_to,
        RequestEvent.message, RequestEvent.created_at,
    ).where((RequestEvent.service_request == request_id)
            & (RequestEvent.internal == False)  # noqa: E712
            ).order_by(RequestEvent.created_at).order_by(RequestEvent.id)


async def open_kinds(subscriber_id: int) -> set[str]:
    rows = await ServiceRequest.select(ServiceRequest.kind).where(
        (ServiceRequest.subscriber == subscriber_id)
        & ServiceRequest.status.is_in(list(OPEN_STATUSES)))
    return {r["kind"] for r in rows}
