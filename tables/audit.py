"""Audit trail of staff and security-relevant actions (shaped like NetBox's ObjectChange)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from piccolo.apps.user.tables import BaseUser
from piccolo.columns import JSON, ForeignKey, OnDelete, Text, Timestamptz, Varchar
from piccolo.table import Table

from tables.calendar import utcnow


@dataclass(frozen=True)
class Actor:
    """Who does something: a staff user, the subscriber, or the system."""

    name: str
    staff_id: int | None = None


SYSTEM = Actor("system")

# Never written into an audit entry in clear.
SECRET_FIELDS = {"password", "password_hash", "secret", "token", "client_secret"}


class AuditEntry(Table, help_text="Журнал действий: кто, когда и что изменил. Только чтение."):
    actor = ForeignKey(BaseUser, null=True, default=None, on_delete=OnDelete.set_null,
                       help_text="Сотрудник")
    actor_name = Varchar(length=150, help_text="Кто (имя на момент действия)")
    action = Varchar(length=60, index=True, help_text="Действие (код вида subscriber.suspended)")
    object_type = Varchar(length=60, index=True, help_text="Таблица")
    object_id = Varchar(length=40, index=True, help_text="Идентификатор строки")
    object_repr = Varchar(length=200, default="", help_text="Объект")
    message = Text(default="", help_text="Описание")
    before = JSON(default="{}", help_text="Значения до")
    after = JSON(default="{}", help_text="Значения после")
    created_at = Timestamptz(index=True, help_text="Время")


#: How the admin shows ``AuditEntry.action`` (the codes stay ``area.verb`` in the table).
ACTION_LABELS = {
    "staff.login": "Вход сотрудника",
    "staff.login_failed": "Неудачный вход сотрудника",
    "staff.role_set": "Роль сотрудника изменена",
    "subscriber.created": "Договор заключён",
    "subscriber.login": "Вход в кабинет",
    "subscriber.login_failed": "Неверный пароль в кабинете",
    "subscriber.locked": "Вход в кабинет заблокирован",
    "subscriber.password_changed": "Пароль изменён абонентом",
    "network_access.password_regenerated": "Новый пароль PPPoE выдан в кабинете",
    "network_access.disconnected": "Сессия доступа разорвана из офиса",
    "subscriber.message_preferences": "Изменены настройки уведомлений",
    "autopay.card_saved": "Сохранена карта для автоплатежа",
    "autopay.settings": "Изменены настройки автоплатежа",
    "autopay.card_removed": "Удалена карта автоплатежа",
    "subscriber.password_reset": "Пароль сброшен в офисе",
    "subscriber.recovery_requested": "Запрошен код восстановления пароля",
    "subscriber.password_recovered": "Пароль восстановлен по коду",
    "subscriber.contacts_changed": "Контакты изменены абонентом",
    "subscriber.viewed_by_staff": "Кабинет просмотрен сотрудником",
    "subscriber.suspended": "Договор приостановлен за долг",
    "subscriber.tariff_changed": "Тариф договора сменён",
    "subscriber.termination_scheduled": "Расторжение назначено",
    "subscriber.terminated": "Договор расторгнут",
    "tariff.change_scheduled": "Смена тарифа назначена",
    "tariff.change_cancelled": "Смена тарифа отменена",
    "subscriber.pause_booked": "Добровольная блокировка оформлена",
    "subscriber.pause_started": "Добровольная блокировка началась",
    "subscriber.pause_ended": "Добровольная блокировка окончена",
    "subscriber.pause_cancelled": "Добровольная блокировка отменена",
    "ledger.adjusted": "Корректировка баланса",
    "billing.charged": "Начисление абонентской платы",
    "billing.termination_settled": "Расчёт при расторжении",
    "payment.office_booked": "Оплата в кассе",
    "payment.succeeded": "Платёж прошёл",
    "payment.failed": "Платёж не прошёл",
    "payment.amount_mismatch": "Сумма платежа не совпала",
    "payment.refund_requested": "Возврат запрошен",
    "payment.refunded": "Платёж возвращён",
    "payment.refund_failed": "Возврат не выполнен",
    "payment.refund_reversed": "Возврат отменён провайдером",
    "promised.granted": "Обещанный платёж предоставлен",
    "promised.reversed": "Обещанный платёж списан",
    "request.filed": "Заявка подана",
    "request.application_filed": "Заявка на подключение подана",
    "request.subscriber_message": "Сообщение абонента по заявке",
    "request.cancelled": "Заявка отменена абонентом",
    "request.assigned": "Заявка взята в работу",
    "request.replied": "Ответ по заявке",
    "request.noted": "Внутренняя заметка по заявке",
    "request.done": "Заявка выполнена",
    "request.rejected": "Заявка отклонена",
}
#: Direct admin edits are audited as ``<table>.created|updated|deleted``.
EDIT_VERB_LABELS = {"created": "добавлена запись", "updated": "изменена запись",
                    "deleted": "удалена запись"}


def action_label(action: str, table_titles: dict[str, str] | None = None) -> str:
    """«request.done» → «Заявка выполнена»; «tariff.updated» → «Тарифы: изменена запись»."""
    if action in ACTION_LABELS:
        return ACTION_LABELS[action]
    area, _, verb = action.rpartition(".")
    if verb in EDIT_VERB_LABELS and area:
        return f"{(table_titles or {}).get(area, area)}: {EDIT_VERB_LABELS[verb]}"
    return action


def _mask(values: dict[str, Any] | None) -> str:
    values = values or {}
    clean = {k: ("***" if k in SECRET_FIELDS else v) for k, v in values.items()}
    return json.dumps(clean, ensure_ascii=False, default=str)


async def write_audit(
    *,
    action: str,
    object_type: str,
    object_id: Any,
    actor: Actor,
    object_repr: str = "",
    message: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> int:
    """Append an audit entry; call inside the same transaction as the change. Returns its id."""
    rows = await AuditEntry.insert(
        AuditEntry(
            actor=actor.staff_id,
            actor_name=actor.name[:150],
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            object_repr=object_repr[:200],
            message=message,
            before=_mask(before),
            after=_mask(after),
            created_at=utcnow(),
        )
    ).returning(AuditEntry.id)
    return int(rows[0]["id"])


# A contract's own entries and those of its payments and requests (audited under their own
# object type); by table name, so this module needs neither.
_CONTRACT_HISTORY_SQL = """
    SELECT created_at, actor_name, action, message, before, after FROM audit_entry
    WHERE (object_type = 'subscriber' AND object_id = {})
       OR (object_type = 'payment' AND object_id IN (
               SELECT CAST(id AS VARCHAR(40)) FROM payment WHERE subscriber = {}))
       OR (object_type = 'service_request' AND object_id IN (
               SELECT CAST(id AS VARCHAR(40)) FROM service_request WHERE subscriber = {}))
    ORDER BY id DESC LIMIT {}
"""


async def contract_history(subscriber_id: int, limit: int = 50) -> list[dict[str, Any]]:
    """What happened to a contract, its payments and its requests, newest first."""
    return await AuditEntry.raw(_CONTRACT_HISTORY_SQL, str(subscriber_id), subscriber_id,
                                subscriber_id, limit)
