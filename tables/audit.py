"""Audit trail of staff and security-relevant actions (shaped like NetBox's ObjectChange)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from piccolo.apps.user.tables import BaseUser
from piccolo.columns import JSON, ForeignKey, OnDelete, Text, Timestamptz, Varchar
from piccolo.table import Table

from tables.db import utcnow


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
    action = Varchar(length=60, index=True, help_text="Действие, например subscriber.suspended")
    object_type = Varchar(length=60, index=True, help_text="Таблица")
    object_id = Varchar(length=40, index=True, help_text="Идентификатор строки")
    object_repr = Varchar(length=200, default="", help_text="Объект")
    message = Text(default="", help_text="Описание")
    before = JSON(default="{}", help_text="Значения до")
    after = JSON(default="{}", help_text="Значения после")
    created_at = Timestamptz(index=True, help_text="Время (UTC)")


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
