"""Per-account lockout of staff logins, like the subscribers' (tables/accounts.py).

Piccolo's ``BaseUser`` has no failure counter: 40 wrong passwords and then the right one got in.
The admin login wrapper (backoffice/admin.py) counts each attempt here *before* piccolo_api
checks the password, so parallel guesses verify at most ``MAX_FAILED_LOGINS`` passwords, and
locks the account for ``LOCK_DURATION``.
"""

from __future__ import annotations

import datetime as dt

from piccolo.apps.user.tables import BaseUser
from piccolo.columns import ForeignKey, Integer, OnDelete, Timestamptz
from piccolo.table import Table

from db.engine import write_transaction
from tables.audit import Actor, write_audit
from tables.calendar import utcnow

MAX_FAILED_LOGINS = 5
LOCK_DURATION = dt.timedelta(minutes=15)


class StaffLoginLock(Table, tablename="staff_login_lock",
                     help_text="Неудачные входы сотрудников и блокировка входа"):
    user = ForeignKey(BaseUser, unique=True, on_delete=OnDelete.cascade, help_text="Сотрудник")
    failed_logins = Integer(default=0, help_text="Неудачных входов подряд")
    locked_until = Timestamptz(null=True, default=None, help_text="Вход заблокирован до")


async def reserve_staff_login(user_id: int, *, now: dt.datetime | None = None) -> int | None:
    """Count one login attempt of a staff account before its password is checked.

    Returns the attempt's number in the current series, or None while the account is locked;
    the attempt reaching ``MAX_FAILED_LOGINS`` sets the lock in the same transaction.
    """
    now = now or utcnow()
    async with write_transaction():
        await StaffLoginLock.insert(StaffLoginLock(user=user_id)).on_conflict(
            target=StaffLoginLock.user, action="DO NOTHING")
        await StaffLoginLock.update(
            {StaffLoginLock.failed_logins: 0, StaffLoginLock.locked_until: None}
        ).where((StaffLoginLock.user == user_id) & (StaffLoginLock.locked_until <= now))
        rows = await StaffLoginLock.update(
            {StaffLoginLock.failed_logins: StaffLoginLock.failed_logins + 1}
        ).where(
            (StaffLoginLock.user == user_id) & StaffLoginLock.locked_until.is_null()
            & (StaffLoginLock.failed_logins < MAX_FAILED_LOGINS)
        ).returning(StaffLoginLock.failed_logins)
        if not rows:
            return None
        attempt = rows[0]["failed_logins"]
        if attempt >= MAX_FAILED_LOGINS:
            await StaffLoginLock.update({StaffLoginLock.locked_until: now + LOCK_DURATION}).where(
                StaffLoginLock.user == user_id)
        return attempt


async def staff_login_finished(user_id: int, attempt: int, *, outcome: str, username: str,
                               now: dt.datetime | None = None) -> None:
    """Settle a counted attempt: ``"ok"`` ends the series; ``"partial"`` (right password, the
    second factor still to come) gives this one attempt back, so that the MFA code's own
    failures keep counting; ``"failed"`` keeps it and audits the lock it may have set."""
    now = now or utcnow()
    async with write_transaction():
        if outcome == "ok":
            await StaffLoginLock.update({StaffLoginLock.failed_logins: 0,
                                         StaffLoginLock.locked_until: None}).where(
                StaffLoginLock.user == user_id)
        elif outcome == "partial":
            changes: dict = {StaffLoginLock.failed_logins: StaffLoginLock.failed_logins - 1}
            if attempt >= MAX_FAILED_LOGINS:
                changes[StaffLoginLock.locked_until] = None  # the lock this attempt set
            await StaffLoginLock.update(changes).where(
                (StaffLoginLock.user == user_id) & (StaffLoginLock.failed_logins > 0))
        elif attempt >= MAX_FAILED_LOGINS:
            await write_audit(action="staff.locked", object_type="piccolo_user", object_id=user_id,
                              object_repr=username, actor=Actor(name=username or "?"),
                              message=f"Вход заблокирован до {now + LOCK_DURATION:%Y-%m-%d %H:%M} UTC "
                                      f"после {MAX_FAILED_LOGINS} неверных попыток")


async def staff_locked_until(user_id: int) -> dt.datetime | None:
    row = await StaffLoginLock.select(StaffLoginLock.locked_until).where(
        StaffLoginLock.user == user_id).first()
    return row["locked_until"] if row else None
