"""Service requests (applications, repairs, tariff changes, terminations) and their workflow.

States: ``new`` → ``in_progress`` → ``done`` | ``rejected``; a subscriber may
cancel while ``new``. Every change goes through one function here that checks
the transition, writes a :class:`RequestEvent` (the timeline the subscriber
reads, minus internal notes), an audit entry and any notification, all in one
write transaction. See ``docs/requests.md``.
"""

from __future__ import annotations

import datetime as dt
import enum
import secrets

from piccolo.apps.user.tables import BaseUser
from piccolo.columns import Boolean, Date, ForeignKey, OnDelete, Text, Timestamptz, Varchar
from piccolo.columns.readable import Readable
from piccolo.table import Table

from db.engine import is_sqlite, is_unique_violation, write_transaction
from tables.addresses import Address, Street, Town, format_address, normalise
from tables.audit import SYSTEM, Actor, write_audit
from tables.billing.tariff_changes import schedule_tariff_change
from tables.billing.termination import settle_terminated_charges
from tables.calendar import local_date, utcnow
from tables.choices import choices
from tables.ledger import EntryKind, LedgerEntry, post_entry
from tables.money import format_plain
from tables.notifications import enqueue, route_for
from tables.phones import normalize_phone
from tables.subscribers import Subscriber, SubscriberStatus, create_subscriber
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

# Topics a subscriber chooses from, per kind (termination: the reason).
KIND_TOPICS: dict[str, tuple[str, ...]] = {
    "repair": ("no_internet", "no_tv", "slow", "other"),
    "service": ("router_install", "relocation", "other"),
    "termination": ("moving", "price", "quality", "other_provider", "other"),
}
# Topics whose form needs a description.
TOPICS_NEEDING_TEXT = {"other", "relocation"}


class AuthorKind(enum.StrEnum):
    SUBSCRIBER = "subscriber"
    APPLICANT = "applicant"
    STAFF = "staff"
    SYSTEM = "system"


AUTHOR_KIND_LABELS = {"subscriber": "Абонент", "applicant": "Заявитель", "staff": "Сотрудник",
                      "system": "Система"}

OPEN_STATUSES = (RequestStatus.NEW, RequestStatus.IN_PROGRESS)
CLOSED_STATUSES = (RequestStatus.DONE, RequestStatus.REJECTED, RequestStatus.CANCELLED)
SUBSCRIBER_KINDS = (RequestKind.REPAIR, RequestKind.SERVICE, RequestKind.TARIFF_CHANGE,
                    RequestKind.TERMINATION, RequestKind.QUESTION)
# At most one open request of these kinds per contract (also a partial unique index).
SINGLE_OPEN_KINDS = (RequestKind.TARIFF_CHANGE, RequestKind.TERMINATION)
# Kinds finished by their own action, not by a plain "done".
COMPLETING_ACTIONS = {
    "tariff_change": "«Выполнить смену тарифа»",
    "termination": "«Выполнить расторжение»",
    "connection": "«Оформить договор по заявке»",
    "balance_refund": "«Выплатить остаток»",
}

MAX_TEXT = 2000
MAX_MESSAGE = 4000
MAX_TERMINATION_AHEAD = dt.timedelta(days=180)
NUMBER_PREFIX = "Z-"

MESSAGES = {
    "not_found": "Заявка не найдена.",
    "no_contract": "Договор не найден.",
    "kind": "Такой вид заявки подать нельзя.",
    "terminated": "Договор расторгнут: новые заявки и сообщения недоступны.",
    "topic": "Выберите вариант из списка.",
    "text_needed": "Опишите подробнее, что нужно сделать.",
    "text_long": f"Текст слишком длинный: не больше {MAX_TEXT} символов.",
    "message_empty": "Напишите сообщение.",
    "message_long": f"Сообщение слишком длинное: не больше {MAX_MESSAGE} символов.",
    "contact_long": "Слишком длинное поле «Удобное время»: не больше 100 символов.",
    "question_empty": "Напишите ваш вопрос.",
    "tariff_needed": "Выберите новый тариф.",
    "tariff_unavailable": "Этот тариф недоступен для подключения.",
    "tariff_same": "Этот тариф уже подключён.",
    "date_past": "Дата не может быть в прошлом.",
    "date_needed": "Укажите желаемую дату расторжения.",
    "date_far": "Дата расторжения — не позже чем через 180 дней.",
    "confirm": "Подтвердите, что понимаете последствия расторжения договора.",
    "open_same": "По этому договору уже есть открытая заявка «{kind}» № {number}. "
                 "Дождитесь её выполнения или отмените её.",
    "open_race": "Такая заявка уже подана и ещё не выполнена.",
    "open_termination": "Открыта заявка на расторжение договора № {number}: смена тарифа недоступна.",
    "closed": "Заявка {number} уже закрыта ({status}): действие невозможно.",
    "changed": "Заявку только что изменил другой сотрудник. Обновите страницу и повторите.",
    "cancel_not_new": "Заявка {number} уже в работе: отменить её нельзя, напишите сообщение в заявке.",
    "reason_needed": "Укажите причину отказа.",
    "reason_long": "Причина слишком длинная: не больше 1000 символов.",
    "wrong_kind": "Заявка {number} — «{kind}»: это действие к ней не относится.",
    "use_action": "Заявку «{kind}» закрывает действие {action}.",
    "assignee": "Сотрудник не найден или не имеет доступа к офису.",
    "already_assigned": "Заявка {number} уже в работе у этого сотрудника.",
    "termination_before_request": "Дата расторжения не может быть раньше даты заявки ({date}).",
    "already_terminated": "Договор № {contract} уже расторгнут.",
    "already_scheduled": "Расторжение договора № {contract} уже назначено с {date}.",
    "scheduled_termination": "Договор будет расторгнут с {date}: повторная заявка на расторжение "
                             "не нужна.",
    "scheduled_tariff": "Договор будет расторгнут с {date}: смена тарифа недоступна.",
    "name": "Укажите имя: от 2 до 200 символов.",
    "phone": "Укажите номер телефона с кодом, например +7 913 123-45-67.",
    "town": "Выберите город из списка.",
    "street": "Укажите улицу.",
    "house": "Укажите номер дома.",
    "address_long": "Слишком длинный адрес.",
    "consent": "Отметьте согласие на обработку персональных данных: без него мы не сможем "
               "связаться с вами по заявке.",
    "duplicate_application": "С этого номера телефона уже подана заявка на подключение — "
                             "мы позвоним вам в ближайшее время.",
    "application_tariff": "Укажите тариф для договора.",
    "address_missing": "Адрес не найден в справочнике.",
    "refund_not_terminated": "Вернуть остаток можно после расторжения договора. Пока договор "
                             "действует, остаток идёт в оплату услуг.",
    "refund_nothing": "На счёте договора № {contract} нет остатка: возвращать нечего.",
    "refund_details": "Укажите, куда перечислить деньги (реквизиты счёта или карты), или "
                      "напишите «получу в кассе».",
    "refund_open": "Заявка на возврат остатка № {number} уже подана: дождитесь её выполнения.",
    "refund_done": "Остаток {amount} ₽ выплачен: проводка в журнале, баланс договора — 0.",
}

# Notification texts (the outbox adds nothing but the channel).
NOTIFY = {
    "taken": "заявка {number} принята в работу.",
    "replied": "ответ по заявке {number}: {message}",
    "done": "заявка {number} выполнена. {reason}",
    "rejected": "заявка {number} отклонена. Причина: {reason}",
    "tariff_changed": "по заявке {number} тариф «{tariff}» действует с {date}.",
    "terminated": "договор № {contract} расторгнут с {date}. Итоговая выписка — в личном кабинете.",
    "termination_scheduled": "договор № {contract} будет расторгнут с {date}. До этой даты услуги "
                             "предоставляются.",
    "converted": "по заявке {number} оформлен договор № {contract}. Добро пожаловать в Centra!",
    "refunded": "по заявке {number} остаток {amount} ₽ по договору № {contract} выплачен.",
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


# --------------------------------------------------------------------------- helpers


def next_period_start(day: dt.date) -> dt.date:
    """The first day of the month after ``day``: when a tariff change takes effect."""
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


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


def _date_text(day: dt.date) -> str:
    return day.strftime("%d.%m.%Y")


def _closed_message(row: dict) -> str:
    return MESSAGES["closed"].format(number=row["number"],
                                     status=REQUEST_STATUS_LABELS[row["status"]].lower())


async def _notify_contract(subscriber_id: int, contract_number: str, topic: str,
                           text: str) -> None:
    """Queue a message to a contract with no request to refer to."""
    person = await Subscriber.select(Subscriber.phone, Subscriber.email).where(
        Subscriber.id == subscriber_id).first()
    if person is not None:
        route = route_for(person["phone"], person["email"])
        await enqueue(channel=route.channel, recipient=route.recipient, body=f"Centra: {text}",
                      subject=f"Договор № {contract_number}", subscriber_id=subscriber_id,
                      topic=topic, reference=contract_number, skipped_reason=route.reason)


async def _insert(request: ServiceRequest, *, conflict_message: str) -> ServiceRequest:
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


async def _event(request_id: int, *, actor: Actor, author_kind: AuthorKind, now: dt.datetime,
                 status_from: str = "", status_to: str = "", message: str = "",
                 internal: bool = False) -> None:
    await RequestEvent.insert(RequestEvent(
        service_request=request_id, author_name=actor.name[:150], author_kind=author_kind,
        staff=actor.staff_id, status_from=status_from, status_to=status_to, message=message,
        internal=internal, created_at=now,
    ))


async def _audit(row: dict, action: str, actor: Actor, *, before: dict | None = None,
                 after: dict | None = None, message: str = "") -> None:
    await write_audit(action=action, object_type="service_request", object_id=row["id"],
                      object_repr=row["number"], actor=actor, before=before, after=after,
                      message=message)


async def _notify(row: dict, topic: str, text: str) -> None:
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


async def _claim(request_id: int, *, allowed: tuple[str, ...], now: dt.datetime,
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


def _subscriber_actor(contract_number: str) -> Actor:
    return Actor(name=f"абонент {contract_number}")


def _clean_text(text: str | None, limit: int = MAX_TEXT, message: str = "text_long") -> str:
    value = (text or "").strip()
    if len(value) > limit:
        raise ValueError(MESSAGES[message])
    return value


# --------------------------------------------------------------------------- subscriber side


async def _contract(subscriber_id: int) -> dict:
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
    """The contract's open request of ``kind`` (id and number), if any."""
    return await ServiceRequest.select(ServiceRequest.id, ServiceRequest.number).where(
        (ServiceRequest.subscriber == subscriber_id) & (ServiceRequest.kind == kind)
        & ServiceRequest.status.is_in(list(OPEN_STATUSES))
    ).first()


async def file_request(
    subscriber_id: int,
    kind: str,
    *,
    topic: str = "",
    text: str = "",
    tariff_id: int | None = None,
    desired_date: dt.date | None = None,
    contact_time: str = "",
    confirmed: bool = False,
    now: dt.datetime | None = None,
) -> ServiceRequest:
    """A subscriber files a request from the cabinet.

    :param kind: one of :data:`SUBSCRIBER_KINDS`.
    :param topic: for repair/service the problem or service, for termination the reason.
    :param confirmed: termination only — the subscriber confirmed that charging stops.
    :raises ValueError: with a Russian message for the form.
    """
    now = now or utcnow()
    today = local_date(now)
    if kind not in SUBSCRIBER_KINDS:
        raise ValueError(MESSAGES["kind"])
    text = _clean_text(text)
    contact_time = _clean_text(contact_time, 100, "contact_long")
    topic = (topic or "").strip()
    allowed_topics = KIND_TOPICS.get(kind, ())
    if allowed_topics and topic not in allowed_topics:
        raise ValueError(MESSAGES["topic"])
    if not allowed_topics:
        topic = ""
    if topic in TOPICS_NEEDING_TEXT and not text:
        raise ValueError(MESSAGES["text_needed"])
    if kind == RequestKind.QUESTION and not text:
        raise ValueError(MESSAGES["question_empty"])
    if kind not in (RequestKind.SERVICE, RequestKind.TERMINATION):
        desired_date = None
    if desired_date is not None and desired_date < today:
        raise ValueError(MESSAGES["date_past"])
    if kind == RequestKind.TERMINATION:
        if desired_date is None:
            raise ValueError(MESSAGES["date_needed"])
        if desired_date > today + MAX_TERMINATION_AHEAD:
            raise ValueError(MESSAGES["date_far"])
        if not confirmed:
            raise ValueError(MESSAGES["confirm"])
    if kind != RequestKind.TARIFF_CHANGE:
        tariff_id = None

    async with write_transaction():
        contract = await _contract(subscriber_id)
        if contract["status"] == SubscriberStatus.TERMINATED:
            raise ValueError(MESSAGES["terminated"])
        if contract["terminated_on"] is not None and kind in SINGLE_OPEN_KINDS:
            # A scheduled termination still counts as the contract's one termination.
            raise ValueError(MESSAGES["scheduled_termination" if kind == RequestKind.TERMINATION
                                      else "scheduled_tariff"].format(
                date=_date_text(contract["terminated_on"])))
        if kind == RequestKind.TARIFF_CHANGE:
            if tariff_id is None:
                raise ValueError(MESSAGES["tariff_needed"])
            tariff = await Tariff.select(Tariff.id, Tariff.active).where(Tariff.id == tariff_id).first()
            if tariff is None or not tariff["active"]:
                raise ValueError(MESSAGES["tariff_unavailable"])
            if tariff_id == contract["tariff"]:
                raise ValueError(MESSAGES["tariff_same"])
            termination = await open_request(subscriber_id, RequestKind.TERMINATION)
            if termination:
                raise ValueError(MESSAGES["open_termination"].format(number=termination["number"]))
        if kind in SINGLE_OPEN_KINDS:
            existing = await open_request(subscriber_id, kind)
            if existing:
                raise ValueError(MESSAGES["open_same"].format(kind=REQUEST_KIND_LABELS[kind],
                                                              number=existing["number"]))
        request = await _insert(ServiceRequest(
            kind=kind, subscriber=subscriber_id, contract_number=contract["contract_number"],
            topic=topic, text=text, requested_tariff=tariff_id, desired_date=desired_date,
            applicant_name=contract["full_name"], applicant_phone=contract["phone"],
            town=contract["town_id"],
            address_text=format_address(contract["town"], contract["street"], contract["house"],
                                        contract["apartment"]),
            contact_time=contact_time, created_at=now, updated_at=now,
        ), conflict_message=MESSAGES["open_race"])
        actor = _subscriber_actor(contract["contract_number"])
        await _event(request.id, actor=actor, author_kind=AuthorKind.SUBSCRIBER, now=now,
                     status_to=RequestStatus.NEW, message=text)
        await write_audit(action="request.filed", object_type="service_request",
                          object_id=request.id, object_repr=request.number, actor=actor,
                          after={"kind": kind, "topic": topic, "tariff": tariff_id,
                                 "desired_date": desired_date})
    return request


async def add_subscriber_message(request_id: int, subscriber_id: int, text: str, *,
                                 now: dt.datetime | None = None) -> None:
    """The subscriber writes in their own open request."""
    now = now or utcnow()
    message = _clean_text(text, MAX_MESSAGE, "message_long")
    if not message:
        raise ValueError(MESSAGES["message_empty"])
    async with write_transaction():
        contract = await _contract(subscriber_id)
        if contract["status"] == SubscriberStatus.TERMINATED:
            raise ValueError(MESSAGES["terminated"])
        row = await _claim(request_id, allowed=OPEN_STATUSES, now=now, subscriber_id=subscriber_id)
        actor = _subscriber_actor(contract["contract_number"])
        await _event(request_id, actor=actor, author_kind=AuthorKind.SUBSCRIBER, now=now,
                     message=message)
        await _audit(row, "request.subscriber_message", actor)


async def cancel_request(request_id: int, subscriber_id: int, *,
                         now: dt.datetime | None = None) -> None:
    """The subscriber withdraws a request nobody has taken yet."""
    now = now or utcnow()
    async with write_transaction():
        contract = await _contract(subscriber_id)
        row = await _claim(request_id, allowed=(RequestStatus.NEW,), now=now,
                           subscriber_id=subscriber_id,
                           changes={ServiceRequest.status: RequestStatus.CANCELLED,
                                    ServiceRequest.closed_at: now},
                           busy_message=MESSAGES["cancel_not_new"])
        actor = _subscriber_actor(contract["contract_number"])
        await _event(request_id, actor=actor, author_kind=AuthorKind.SUBSCRIBER, now=now,
                     status_from=row["status"], status_to=RequestStatus.CANCELLED,
                     message="Заявка отменена абонентом")
        await _audit(row, "request.cancelled", actor, before={"status": row["status"]},
                     after={"status": RequestStatus.CANCELLED})


# --------------------------------------------------------------------------- public side


async def file_connection_application(
    *,
    name: str,
    phone: str,
    town_id: int | None,
    street: str,
    house: str,
    apartment: str = "",
    tariff_id: int | None = None,
    contact_time: str = "",
    comment: str = "",
    consent: bool = False,
    now: dt.datetime | None = None,
) -> ServiceRequest:
    """A visitor of the public site applies for a connection (no login).

    The phone is stored as ``+7XXXXXXXXXX``; one open application per phone. The
    address is linked to the directory when it is already there. No SMS is sent
    to the typed number: an unverified number must not make us send messages.
    """
    now = now or utcnow()
    name = " ".join((name or "").split())
    if not 2 <= len(name) <= 200:
        raise ValueError(MESSAGES["name"])
    if not consent:
        raise ValueError(MESSAGES["consent"])
    normalized = normalize_phone(phone)
    if normalized is None:
        raise ValueError(MESSAGES["phone"])
    street = " ".join((street or "").split())
    house = (house or "").strip()
    apartment = (apartment or "").strip()
    if not street:
        raise ValueError(MESSAGES["street"])
    if not house:
        raise ValueError(MESSAGES["house"])
    if len(street) > 150 or len(house) > 20 or len(apartment) > 20:
        raise ValueError(MESSAGES["address_long"])
    contact_time = _clean_text(contact_time, 100, "contact_long")
    comment = _clean_text(comment)
    async with write_transaction():
        town = await Town.select(Town.id, Town.name).where(Town.id == (town_id or 0)).first()
        if town is None:
            raise ValueError(MESSAGES["town"])
        if tariff_id is not None:
            tariff = await Tariff.select(Tariff.active).where(Tariff.id == tariff_id).first()
            if tariff is None or not tariff["active"]:
                raise ValueError(MESSAGES["tariff_unavailable"])
        duplicate = await ServiceRequest.exists().where(
            (ServiceRequest.kind == RequestKind.CONNECTION)
            & (ServiceRequest.applicant_phone == normalized)
            & ServiceRequest.status.is_in(list(OPEN_STATUSES))
        )
        if duplicate:
            raise ValueError(MESSAGES["duplicate_application"])
        address_id = await _directory_address(town["id"], street, house, apartment)
        request = await _insert(ServiceRequest(
            kind=RequestKind.CONNECTION, applicant_name=name, applicant_phone=normalized,
            town=town["id"], street_name=street, house=house, apartment=apartment,
            address=address_id, address_text=format_address(town["name"], street, house, apartment),
            requested_tariff=tariff_id, contact_time=contact_time, text=comment,
            created_at=now, updated_at=now,
        ), conflict_message=MESSAGES["duplicate_application"])
        actor = Actor(name=f"заявитель {name}")
        await _event(request.id, actor=actor, author_kind=AuthorKind.APPLICANT, now=now,
                     status_to=RequestStatus.NEW, message=comment)
        await write_audit(action="request.application_filed", object_type="service_request",
                          object_id=request.id, object_repr=request.number, actor=actor,
                          after={"town": town["id"], "tariff": tariff_id, "address": address_id})
    return request


async def _find_street(town_id: int, street: str) -> int | None:
    # SQLite's lower() folds ASCII only, so Cyrillic names are compared here. Not through the
    # quick-pay search's cache: a filed application must see an address added a second ago.
    key = normalise(street)
    rows = await Street.select(Street.id, Street.name).where(Street.town == town_id)
    return next((r["id"] for r in rows if normalise(r["name"]) == key), None)


async def _directory_address(town_id: int, street: str, house: str, apartment: str) -> int | None:
    street_id = await _find_street(town_id, street)
    if street_id is None:
        return None
    rows = await Address.select(Address.id, Address.house, Address.apartment).where(
        Address.street == street_id
    )
    house_key, apartment_key = normalise(house), normalise(apartment)
    return next((r["id"] for r in rows if normalise(r["house"]) == house_key
                 and normalise(r["apartment"]) == apartment_key), None)


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
        row = await _claim(request_id, allowed=OPEN_STATUSES, now=now,
                           changes={ServiceRequest.status: RequestStatus.IN_PROGRESS,
                                    ServiceRequest.assignee: staff["id"]})
        if row["status"] == RequestStatus.NEW:
            await _event(request_id, actor=actor, author_kind=AuthorKind.STAFF, now=now,
                         status_from=row["status"], status_to=RequestStatus.IN_PROGRESS,
                         message="Заявка принята в работу")
            await _notify(row, "request.taken", NOTIFY["taken"].format(number=row["number"]))
        await _event(request_id, actor=actor, author_kind=AuthorKind.STAFF, now=now, internal=True,
                     message=f"Исполнитель: {staff['username']}")
        await _audit(row, "request.assigned", actor,
                     before={"status": row["status"], "assignee": row["assignee"]},
                     after={"status": RequestStatus.IN_PROGRESS, "assignee": staff["id"]})


async def reply(request_id: int, message: str, *, actor: Actor, internal: bool = False,
                now: dt.datetime | None = None) -> None:
    """A staff answer the subscriber reads (or, with ``internal``, a note only staff see)."""
    now = now or utcnow()
    message = _clean_text(message, MAX_MESSAGE, "message_long")
    if not message:
        raise ValueError(MESSAGES["message_empty"])
    async with write_transaction():
        row = await _claim(request_id, allowed=OPEN_STATUSES, now=now)
        await _event(request_id, actor=actor, author_kind=AuthorKind.STAFF, now=now,
                     message=message, internal=internal)
        if not internal:
            await _notify(row, "request.replied",
                          NOTIFY["replied"].format(number=row["number"], message=message))
        await _audit(row, "request.noted" if internal else "request.replied", actor, message=message)


async def close_request(request_id: int, *, actor: Actor, done: bool, reason: str = "",
                        now: dt.datetime | None = None) -> None:
    """Close as done (the work is finished) or rejected (``reason`` required).

    Tariff changes, terminations and connection applications are done only by
    their own actions, which change the contract too; they may be rejected here.
    """
    now = now or utcnow()
    reason = _clean_text(reason, 1000, "reason_long")
    if not done and not reason:
        raise ValueError(MESSAGES["reason_needed"])
    status = RequestStatus.DONE if done else RequestStatus.REJECTED
    async with write_transaction():
        row = await _claim(request_id, allowed=OPEN_STATUSES, now=now,
                           changes={ServiceRequest.status: status, ServiceRequest.closed_at: now,
                                    ServiceRequest.close_reason: reason})
        if done and row["kind"] in COMPLETING_ACTIONS:
            raise ValueError(MESSAGES["use_action"].format(kind=REQUEST_KIND_LABELS[row["kind"]],
                                                           action=COMPLETING_ACTIONS[row["kind"]]))
        await _finish(row, status, reason, actor, now)


async def _finish(row: dict, status: RequestStatus, reason: str, actor: Actor,
                  now: dt.datetime, *, notify_text: str | None = None) -> None:
    await _event(row["id"], actor=actor, author_kind=AuthorKind.STAFF, now=now,
                 status_from=row["status"], status_to=status, message=reason)
    if notify_text is None:
        notify_text = NOTIFY["done" if status == RequestStatus.DONE else "rejected"].format(
            number=row["number"], reason=reason).strip()
    await _notify(row, f"request.{status}", notify_text)
    await _audit(row, "request.done" if status == RequestStatus.DONE else "request.rejected", actor,
                 before={"status": row["status"]}, after={"status": status, "reason": reason})


async def complete_tariff_change(request_id: int, *, actor: Actor,
                                 now: dt.datetime | None = None) -> dt.date:
    """Done: the requested tariff applies from the next billing period.

    The change is recorded on the contract as a scheduled ``TariffChange``; the
    current month stays on the old fee. Returns the date it takes effect.
    """
    now = now or utcnow()
    effective_from = next_period_start(local_date(now))
    async with write_transaction():
        row = await _claim(request_id, allowed=OPEN_STATUSES, now=now,
                           kinds=(RequestKind.TARIFF_CHANGE,))
        tariff = await Tariff.select(Tariff.name).where(Tariff.id == row["requested_tariff"]).first()
        if tariff is None:
            raise ValueError(MESSAGES["tariff_unavailable"])
        await schedule_tariff_change(row["subscriber"], row["requested_tariff"], effective_from,
                                     actor=actor, now=now)
        reason = f"Новый тариф «{tariff['name']}» действует с {_date_text(effective_from)}."
        await ServiceRequest.update({ServiceRequest.status: RequestStatus.DONE,
                                     ServiceRequest.closed_at: now,
                                     ServiceRequest.close_reason: reason}).where(
            ServiceRequest.id == request_id)
        await _finish(row, RequestStatus.DONE, reason, actor, now, notify_text=NOTIFY[
            "tariff_changed"].format(number=row["number"], tariff=tariff["name"],
                                     date=_date_text(effective_from)))
    return effective_from


async def complete_termination(request_id: int, *, actor: Actor,
                               terminated_on: dt.date | None = None,
                               now: dt.datetime | None = None) -> dt.date:
    """Done: the contract ends on the desired date (or today, or ``terminated_on``).

    The date is never before the day the request was filed. A date today or earlier
    terminates the contract at once; a later one only schedules it: ``terminated_on``
    is set and the status stays until that local day begins (:func:`apply_due_terminations`),
    because the services run and are paid for until then. Billing never charges days
    after the date either way, and what was charged in advance for them is given back
    here, once. Returns the termination date.
    """
    now = now or utcnow()
    async with write_transaction():
        row = await _claim(request_id, allowed=OPEN_STATUSES, now=now,
                           kinds=(RequestKind.TERMINATION,))
        filed_on = local_date(row["created_at"])
        day = terminated_on or row["desired_date"] or local_date(now)
        if day < filed_on:
            if terminated_on is not None:
                raise ValueError(MESSAGES["termination_before_request"].format(
                    date=_date_text(filed_on)))
            day = filed_on
        contract = await _contract(row["subscriber"])
        if contract["status"] == SubscriberStatus.TERMINATED:
            raise ValueError(MESSAGES["already_terminated"].format(
                contract=contract["contract_number"]))
        if contract["terminated_on"] is not None:
            raise ValueError(MESSAGES["already_scheduled"].format(
                contract=contract["contract_number"], date=_date_text(contract["terminated_on"])))
        scheduled = day > local_date(now)
        status = contract["status"] if scheduled else SubscriberStatus.TERMINATED
        # Scheduled: the status is left alone (not rewritten from the value read above), so a
        # suspension or re-activation committed meanwhile by billing is not undone.
        changes = {Subscriber.terminated_on: day}
        if not scheduled:
            changes[Subscriber.status] = status
        await Subscriber.update(changes).where(Subscriber.id == row["subscriber"])
        # Charged in advance on the 1st: give back the days after the termination date now,
        # so the balance is right from today. Later runs charge only up to the date, so the
        # day the status changes books nothing.
        await settle_terminated_charges(row["subscriber"], actor=actor)
        await write_audit(action="subscriber.termination_scheduled" if scheduled
                          else "subscriber.terminated", object_type="subscriber",
                          object_id=row["subscriber"], object_repr=contract["contract_number"],
                          actor=actor, message=f"по заявке {row['number']}",
                          before={"status": contract["status"]},
                          after={"status": status, "terminated_on": day.isoformat()})
        if scheduled:
            reason = (f"Договор будет расторгнут с {_date_text(day)}. "
                      "До этой даты услуги предоставляются.")
            notify = NOTIFY["termination_scheduled"]
        else:
            reason = f"Договор расторгнут с {_date_text(day)}."
            notify = NOTIFY["terminated"]
        await ServiceRequest.update({ServiceRequest.status: RequestStatus.DONE,
                                     ServiceRequest.closed_at: now,
                                     ServiceRequest.close_reason: reason}).where(
            ServiceRequest.id == request_id)
        await _finish(row, RequestStatus.DONE, reason, actor, now, notify_text=notify.format(
            contract=contract["contract_number"], date=_date_text(day)))
    return day


async def file_balance_refund(subscriber_id: int, details: str, *, actor: Actor | None = None,
                              now: dt.datetime | None = None) -> ServiceRequest:
    """Ask for the leftover balance of a terminated contract back ("Возврат остатка").

    Filed by the subscriber from the cabinet — the one thing a terminated contract may
    still do there — or by staff on their behalf (``actor``). One open at a time (also a
    partial unique index). The money moves only when staff complete it
    (:func:`complete_balance_refund`).

    :param details: where the money goes (bank or card details, or "at the office").
    :raises ValueError: not terminated, nothing to return, no details, one already open.
    """
    now = now or utcnow()
    details = _clean_text(details)
    if not details:
        raise ValueError(MESSAGES["refund_details"])
    async with write_transaction():
        contract = await _contract(subscriber_id)
        if contract["status"] != SubscriberStatus.TERMINATED:
            raise ValueError(MESSAGES["refund_not_terminated"])
        balance = (await Subscriber.select(Subscriber.balance).where(
            Subscriber.id == subscriber_id).first())["balance"]
        if balance <= 0:
            raise ValueError(MESSAGES["refund_nothing"].format(contract=contract["contract_number"]))
        existing = await open_request(subscriber_id, RequestKind.BALANCE_REFUND)
        if existing:
            raise ValueError(MESSAGES["refund_open"].format(number=existing["number"]))
        request = await _insert(ServiceRequest(
            kind=RequestKind.BALANCE_REFUND, subscriber=subscriber_id,
            contract_number=contract["contract_number"], text=details,
            applicant_name=contract["full_name"], applicant_phone=contract["phone"],
            town=contract["town_id"],
            address_text=format_address(contract["town"], contract["street"], contract["house"],
                                        contract["apartment"]),
            created_at=now, updated_at=now,
        ), conflict_message=MESSAGES["open_race"])
        by_staff = actor is not None
        actor = actor or _subscriber_actor(contract["contract_number"])
        await _event(request.id, actor=actor, now=now, status_to=RequestStatus.NEW, message=details,
                     author_kind=AuthorKind.STAFF if by_staff else AuthorKind.SUBSCRIBER)
        await write_audit(action="request.filed", object_type="service_request",
                          object_id=request.id, object_repr=request.number, actor=actor,
                          after={"kind": RequestKind.BALANCE_REFUND, "balance": balance,
                                 "on_behalf": by_staff})
    return request


async def complete_balance_refund(request_id: int, *, actor: Actor,
                                  now: dt.datetime | None = None) -> int:
    """Pay the leftover balance back: one ``refund`` ledger entry takes the balance to zero.

    One transaction: the request moves to done with a conditional UPDATE (two clerks at
    once: one wins, the other gets "changed"), the contract row is locked, the entry's
    reference ``balance-refund:<request id>`` is unique, and the request, the contract and
    the audit all change together — so the money goes out exactly once.

    :returns: kopecks paid out.
    :raises ValueError: wrong kind, closed, or nothing left to return (the request stays open).
    """
    now = now or utcnow()
    async with write_transaction():
        row = await _claim(request_id, allowed=OPEN_STATUSES, now=now,
                           kinds=(RequestKind.BALANCE_REFUND,))
        query = Subscriber.select(Subscriber.balance, Subscriber.contract_number,
                                  Subscriber.status).where(Subscriber.id == row["subscriber"])
        contract = await (query if is_sqlite() else query.lock_rows()).first()
        amount = contract["balance"]
        if amount <= 0:
            raise ValueError(MESSAGES["refund_nothing"].format(contract=contract["contract_number"]))
        _, balance = await post_entry(
            row["subscriber"], -amount, EntryKind.REFUND, f"balance-refund:{request_id}",
            created_by=actor.name, comment=f"Возврат остатка по заявке {row['number']}",
        )
        reason = MESSAGES["refund_done"].format(amount=format_plain(amount))
        await ServiceRequest.update({ServiceRequest.status: RequestStatus.DONE,
                                     ServiceRequest.closed_at: now,
                                     ServiceRequest.close_reason: reason}).where(
            ServiceRequest.id == request_id)
        await write_audit(action="subscriber.balance_refunded", object_type="subscriber",
                          object_id=row["subscriber"], object_repr=contract["contract_number"],
                          actor=actor, message=f"по заявке {row['number']}",
                          before={"balance": amount}, after={"balance": balance, "refunded": amount})
        await _finish(row, RequestStatus.DONE, reason, actor, now, notify_text=NOTIFY["refunded"].format(
            number=row["number"], amount=format_plain(amount), contract=contract["contract_number"]))
    return amount


async def apply_due_terminations(on: dt.date | None = None, *,
                                 now: dt.datetime | None = None) -> int:
    """Terminate contracts whose scheduled termination date has come (daily job).

    ``terminated_on <= on`` and not yet terminated: the status becomes ``terminated``
    with an audit entry by the system and the same notification as an immediate
    termination. Money is not touched (settled when the termination was completed).
    Each contract is its own transaction and re-checked inside it, so reruns and
    overlapping runs change nothing twice.

    :param on: the local day (default: today in the provider's time zone).
    :returns: the number of contracts terminated by this call.
    """
    now = now or utcnow()
    on = on or local_date(now)
    due = await Subscriber.select(Subscriber.id).where(
        Subscriber.terminated_on.is_not_null() & (Subscriber.terminated_on <= on)
        & (Subscriber.status != SubscriberStatus.TERMINATED)
    ).order_by(Subscriber.id)
    applied = 0
    for candidate in due:
        async with write_transaction():
            query = Subscriber.select(Subscriber.id, Subscriber.contract_number, Subscriber.status,
                                      Subscriber.terminated_on).where(
                Subscriber.id == candidate["id"])
            if not is_sqlite():
                query = query.lock_rows()
            contract = await query.first()
            if (contract is None or contract["status"] == SubscriberStatus.TERMINATED
                    or contract["terminated_on"] is None or contract["terminated_on"] > on):
                continue
            await Subscriber.update({Subscriber.status: SubscriberStatus.TERMINATED}).where(
                Subscriber.id == contract["id"])
            request = await ServiceRequest.select().where(
                (ServiceRequest.subscriber == contract["id"])
                & (ServiceRequest.kind == RequestKind.TERMINATION)
                & (ServiceRequest.status == RequestStatus.DONE)
            ).order_by(ServiceRequest.closed_at, ascending=False).order_by(
                ServiceRequest.id, ascending=False).first()
            await write_audit(action="subscriber.terminated", object_type="subscriber",
                              object_id=contract["id"], object_repr=contract["contract_number"],
                              actor=SYSTEM,
                              message=f"по заявке {request['number']}" if request else "",
                              before={"status": contract["status"]},
                              after={"status": SubscriberStatus.TERMINATED,
                                     "terminated_on": contract["terminated_on"].isoformat()})
            text = NOTIFY["terminated"].format(contract=contract["contract_number"],
                                               date=_date_text(contract["terminated_on"]))
            if request is not None:
                await _notify(request, "subscriber.terminated", text)
            else:
                await _notify_contract(contract["id"], contract["contract_number"],
                                       "subscriber.terminated", text)
            applied += 1
    return applied


async def convert_application(
    request_id: int,
    *,
    actor: Actor,
    full_name: str = "",
    tariff_id: int | None = None,
    address_id: int | None = None,
    connected_on: dt.date | None = None,
    now: dt.datetime | None = None,
) -> tuple[Subscriber, str]:
    """Done: sign a contract for a connection application.

    Creates the subscriber with a new contract number and a one-time password
    (returned once, for printing; the first login must replace it) and links
    the application to it. The address is the one given, else the directory
    address of the application, else it is added to the directory.
    """
    now = now or utcnow()
    async with write_transaction():
        row = await _claim(request_id, allowed=OPEN_STATUSES, now=now,
                           kinds=(RequestKind.CONNECTION,))
        tariff_id = tariff_id or row["requested_tariff"]
        if not tariff_id:
            raise ValueError(MESSAGES["application_tariff"])
        tariff = await Tariff.select(Tariff.id).where(Tariff.id == tariff_id).first()
        if tariff is None:
            raise ValueError(MESSAGES["tariff_unavailable"])
        address_id = address_id or row["address"] or await _add_to_directory(row)
        if not await Address.exists().where(Address.id == address_id):
            raise ValueError(MESSAGES["address_missing"])
        name = " ".join((full_name or row["applicant_name"]).split())
        if not 2 <= len(name) <= 200:
            raise ValueError(MESSAGES["name"])
        subscriber, one_time = await create_subscriber(
            full_name=name, address_id=address_id, tariff_id=tariff_id,
            phone=row["applicant_phone"], connected_on=connected_on or local_date(now), actor=actor,
        )
        reason = f"Оформлен договор № {subscriber.contract_number}."
        await ServiceRequest.update({
            ServiceRequest.status: RequestStatus.DONE, ServiceRequest.closed_at: now,
            ServiceRequest.close_reason: reason, ServiceRequest.converted_subscriber: subscriber.id,
            ServiceRequest.address: address_id, ServiceRequest.contract_number:
                subscriber.contract_number,
        }).where(ServiceRequest.id == request_id)
        await _finish(row, RequestStatus.DONE, reason, actor, now, notify_text=NOTIFY[
            "converted"].format(number=row["number"], contract=subscriber.contract_number))
    return subscriber, one_time


async def _add_to_directory(row: dict) -> int:
    """The application's address as a directory entry (created if missing)."""
    if not row["town"] or not row["street_name"] or not row["house"]:
        raise ValueError(MESSAGES["address_missing"])
    street_id = await _find_street(row["town"], row["street_name"])
    if street_id is None:
        street = Street(town=row["town"], name=row["street_name"])
        await street.save()
        street_id = street.id
    address_id = await _directory_address(row["town"], row["street_name"], row["house"],
                                          row["apartment"])
    if address_id is None:
        address = Address(street=street_id, house=row["house"], apartment=row["apartment"])
        await address.save()
        address_id = address.id
    return address_id


# --------------------------------------------------------------------------- reading


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


async def final_statement(subscriber_id: int) -> dict:
    """What a terminated contract ends with: totals by kind, the entries and the balance."""
    subscriber = await Subscriber.select(
        Subscriber.contract_number, Subscriber.full_name, Subscriber.connected_on,
        Subscriber.terminated_on, Subscriber.balance, Subscriber.status,
    ).where(Subscriber.id == subscriber_id).first()
    totals = await LedgerEntry.raw(
        "SELECT kind, COALESCE(SUM(amount), 0) AS total FROM ledger_entry "
        "WHERE subscriber = {} GROUP BY kind ORDER BY kind", subscriber_id)
    entries = await LedgerEntry.select(
        LedgerEntry.created_at, LedgerEntry.kind, LedgerEntry.amount, LedgerEntry.period,
        LedgerEntry.comment,
    ).where(LedgerEntry.subscriber == subscriber_id).order_by(
        LedgerEntry.created_at).order_by(LedgerEntry.id)
    return {"subscriber": subscriber,
            "totals": {r["kind"]: int(r["total"]) for r in totals},
            "entries": entries}
