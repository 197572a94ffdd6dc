"""Service requests (applications, repairs, tariff changes, terminations) and their events."""

from __future__ import annotations

import enum

from piccolo.apps.user.tables import BaseUser
from piccolo.columns import Boolean, Date, ForeignKey, OnDelete, Text, Timestamptz, Varchar
from piccolo.table import Table

from tables.addresses import Town
from tables.db import choices
from tables.subscribers import Subscriber
from tables.tariffs import Tariff


class RequestKind(enum.StrEnum):
    CONNECTION = "connection"
    REPAIR = "repair"
    SERVICE = "service"
    TARIFF_CHANGE = "tariff_change"
    TERMINATION = "termination"
    QUESTION = "question"


REQUEST_KIND_LABELS = {
    "connection": "Заявка на подключение",
    "repair": "Неисправность",
    "service": "Услуга",
    "tariff_change": "Смена тарифа",
    "termination": "Расторжение договора",
    "question": "Вопрос в поддержку",
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


class ServiceRequest(Table, help_text="Заявки абонентов и заявки на подключение"):
    number = Varchar(length=20, unique=True, help_text="Номер заявки")
    kind = Varchar(length=20, choices=choices(RequestKind, REQUEST_KIND_LABELS), index=True,
                   help_text="Вид заявки")
    status = Varchar(length=20, choices=choices(RequestStatus, REQUEST_STATUS_LABELS),
                     default="new", index=True, help_text="Состояние")
    subscriber = ForeignKey(Subscriber, null=True, default=None, on_delete=OnDelete.restrict,
                            help_text="Договор (пусто для заявки на подключение)")
    topic = Varchar(length=50, default="", help_text="Тема: вид неисправности или услуги")
    text = Text(default="", help_text="Текст заявки")
    requested_tariff = ForeignKey(Tariff, null=True, default=None, on_delete=OnDelete.restrict,
                                  help_text="Желаемый тариф")
    desired_date = Date(null=True, default=None, help_text="Желаемая дата")
    applicant_name = Varchar(length=200, default="", help_text="Имя заявителя (подключение)")
    applicant_phone = Varchar(length=20, default="", help_text="Телефон заявителя")
    town = ForeignKey(Town, null=True, default=None, on_delete=OnDelete.restrict,
                      help_text="Город")
    address_text = Varchar(length=300, default="", help_text="Адрес заявителя")
    contact_time = Varchar(length=100, default="", help_text="Удобное время для связи")
    assignee = ForeignKey(BaseUser, null=True, default=None, on_delete=OnDelete.set_null,
                          help_text="Исполнитель")
    created_at = Timestamptz(help_text="Создана (UTC)")
    updated_at = Timestamptz(help_text="Изменена (UTC)")
    closed_at = Timestamptz(null=True, default=None, help_text="Закрыта (UTC)")


class RequestEvent(Table, help_text="История заявки: смены состояния, ответы, внутренние заметки"):
    service_request = ForeignKey(ServiceRequest, null=False, on_delete=OnDelete.restrict,
                         help_text="Заявка")
    author_name = Varchar(length=150, help_text="Автор")
    staff = ForeignKey(BaseUser, null=True, default=None, on_delete=OnDelete.set_null,
                       help_text="Сотрудник")
    status_from = Varchar(length=20, default="", help_text="Было")
    status_to = Varchar(length=20, default="", help_text="Стало")
    message = Text(default="", help_text="Сообщение")
    internal = Boolean(default=False, help_text="Внутренняя заметка (абонент не видит)")
    created_at = Timestamptz(help_text="Время (UTC)")
