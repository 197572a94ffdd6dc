"""Staff roles: who in the office may do what in the back office."""

from __future__ import annotations

import enum
from typing import Any

from piccolo.apps.user.tables import BaseUser
from piccolo.columns import ForeignKey, OnDelete, Timestamptz, Varchar
from piccolo.table import Table
from piccolo_api.mfa.authenticator.tables import AuthenticatorSecret

from db.engine import write_transaction
from settings import get_settings
from tables.audit import Actor, write_audit
from tables.calendar import utcnow
from tables.choices import choices


class Role(enum.StrEnum):
    OPERATOR = "operator"
    CASHIER = "cashier"
    MANAGER = "manager"
    ADMINISTRATOR = "administrator"


ROLE_LABELS = {
    "operator": "Оператор",
    "cashier": "Кассир",
    "manager": "Руководитель",
    "administrator": "Администратор",
}

class _StaffHashingRounds:
    """``BaseUser``'s PBKDF2 rounds, asked on every hash: Piccolo's own count (600,000), or
    one round when ``CENTRA_PASSWORD_HASHING`` is the test suite's "test-minimal" (production
    refuses it). Piccolo rehashes at login a password stored with other rounds."""

    def __init__(self, standard: int) -> None:
        self.standard = standard

    def __get__(self, obj: object, owner: type | None = None) -> int:
        return 1 if get_settings().password_hashing == "test-minimal" else self.standard


if not isinstance(BaseUser.__dict__["_pbkdf2_iteration_count"], _StaffHashingRounds):
    BaseUser._pbkdf2_iteration_count = _StaffHashingRounds(BaseUser._pbkdf2_iteration_count)

# Which roles must use an authenticator app is derived from the role matrix
# (backoffice.roles.mfa_required): every role that reads personal data in bulk.


class StaffRole(Table, help_text="Роли сотрудников в админке"):
    user = ForeignKey(BaseUser, null=False, unique=True, on_delete=OnDelete.cascade,
                      help_text="Сотрудник")
    role = Varchar(length=20, choices=choices(Role, ROLE_LABELS), help_text="Роль")
    updated_at = Timestamptz(help_text="Изменено")


async def role_of(user: BaseUser) -> Role | None:
    """A staff member's role; superusers are administrators; no role means no access."""
    if not (user.active and user.admin):
        return None
    if user.superuser:
        return Role.ADMINISTRATOR
    row = await StaffRole.select(StaffRole.role).where(StaffRole.user == user.id).first()
    return Role(row["role"]) if row else None


async def set_role(user_id: int, role: Role | str, *, actor: Actor) -> None:
    role = Role(role)
    async with write_transaction():
        before = await StaffRole.select(StaffRole.role).where(StaffRole.user == user_id).first()
        if before:
            await StaffRole.update({StaffRole.role: role, StaffRole.updated_at: utcnow()}).where(
                StaffRole.user == user_id
            )
        else:
            await StaffRole.insert(StaffRole(user=user_id, role=role, updated_at=utcnow()))
        await write_audit(action="staff.role_set", object_type="piccolo_user", object_id=user_id,
                          actor=actor, before=before or {}, after={"role": role.value})


def mfa_enforced() -> bool:
    settings = get_settings()
    if settings.admin_mfa in {"required", "optional"}:
        return settings.admin_mfa == "required"
    return settings.production


async def user_enrolled(user: Any) -> bool:
    return await AuthenticatorSecret.is_user_enrolled(user.id)
