"""Subscriber accounts: login with throttling, sessions, password changes."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

from piccolo.columns import Varchar
from piccolo_api.session_auth.tables import SessionsBase

from db.engine import write_transaction
from tables import messages
from tables.audit import Actor, write_audit
from tables.calendar import naive_utc, utcnow
from tables.passwords import (
    generate_one_time_password,
    hash_password,
    is_legacy_password,
    needs_rehash,
    password_problem,
    verify_password,
)
from tables.subscribers import Subscriber, SubscriberStatus, find_by_contract

MAX_FAILED_LOGINS = 5
LOCK_DURATION = dt.timedelta(minutes=15)
SESSION_IDLE = dt.timedelta(minutes=30)
SESSION_ABSOLUTE = dt.timedelta(hours=12)

LOGIN_FAILED = "Неверный номер договора или пароль."
TOO_MANY_ATTEMPTS = "Слишком много неверных попыток ввести пароль. Попробуйте через 15 минут."


class SubscriberSession(SessionsBase, tablename="subscriber_session",
                        help_text="Сеансы входа абонентов в личный кабинет"):
    """Server-side cabinet sessions (piccolo_api's table: naive UTC datetimes)."""

    ip = Varchar(length=64, default="", help_text="IP-адрес входа")
    viewer = Varchar(length=150, default="",
                     help_text="Сотрудник, открывший кабинет для просмотра (пусто — сам абонент)")


VIEW_LINK_TTL = dt.timedelta(minutes=10)
VIEW_SESSION = dt.timedelta(minutes=30)


@dataclass(frozen=True)
class SessionInfo:
    subscriber_id: int
    viewer: str = ""  # a staff member's name when this is a read-only staff view
    # The contract itself, read in the same query as the session (one round trip per page).
    subscriber: Subscriber | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class LoginResult:
    subscriber: Subscriber | None = None
    error: str | None = None
    locked_until: dt.datetime | None = None


def subscriber_actor(subscriber: Subscriber) -> Actor:
    return Actor(name=f"абонент {subscriber.contract_number}")


async def _reserve_attempt(subscriber_id: int, now: dt.datetime) -> int | None:
    """Count one login attempt on the contract *before* its password is checked.

    Returns the attempt's number in the current series, or None when the contract is
    locked. The attempt that reaches ``MAX_FAILED_LOGINS`` sets the lock in the same
    transaction, so parallel attempts can never verify more than ``MAX_FAILED_LOGINS``
    passwords: they wait on the row (PostgreSQL) or the write lock (SQLite) and then
    see the new count. A success resets the series (``_login_succeeded``).
    """
    async with write_transaction():
        # A lock that has run out starts a new series (as does a full count without a lock,
        # which only a manual edit leaves behind).
        await Subscriber.update({Subscriber.failed_logins: 0, Subscriber.locked_until: None}).where(
            (Subscriber.id == subscriber_id)
            & ((Subscriber.locked_until <= now)
               | (Subscriber.locked_until.is_null() & (Subscriber.failed_logins >= MAX_FAILED_LOGINS)))
        )
        rows = await Subscriber.update(
            {Subscriber.failed_logins: Subscriber.failed_logins + 1}
        ).where(
            (Subscriber.id == subscriber_id) & Subscriber.locked_until.is_null()
            & (Subscriber.failed_logins < MAX_FAILED_LOGINS)
        ).returning(Subscriber.failed_logins)
        if not rows:
            return None
        attempt = rows[0]["failed_logins"]
        if attempt >= MAX_FAILED_LOGINS:
            await Subscriber.update({Subscriber.locked_until: now + LOCK_DURATION}).where(
                Subscriber.id == subscriber_id
            )
        return attempt


async def authenticate(contract_number: str, password: str, *, now: dt.datetime | None = None,
                       ip: str = "", trusted_device: bool = False) -> LoginResult:
    """Check a login; count failures and lock the contract after ``MAX_FAILED_LOGINS``.

    Every attempt is counted before the password is verified and given back on success, so a
    burst of parallel guesses verifies at most ``MAX_FAILED_LOGINS`` of them. Unknown contracts
    and wrong passwords give the same answer and cost the same argon2 verification. A correct
    password during a lock is refused, except from a ``trusted_device`` (one this contract
    logged in from before; the caller counts that device's failures on its own, so they neither
    lock the contract nor are limited by its lock).
    """
    now = now or utcnow()
    subscriber = await find_by_contract(contract_number)
    if len(password) > 256:
        password = password[:256]  # bounded hashing cost; such a password can't match anyway
    if subscriber is None:
        await verify_password(None, password)
        return LoginResult(error=LOGIN_FAILED)
    attempt = None
    if not trusted_device:
        attempt = await _reserve_attempt(subscriber.id, now)
        if attempt is None:
            locked = await Subscriber.select(Subscriber.locked_until).where(
                Subscriber.id == subscriber.id).first()
            return LoginResult(error=LOGIN_FAILED,
                               locked_until=(locked or {}).get("locked_until") or now + LOCK_DURATION)
    if not await verify_password(subscriber.password_hash, password):
        locked_now = attempt is not None and attempt >= MAX_FAILED_LOGINS
        await write_audit(
            action="subscriber.locked" if locked_now else "subscriber.login_failed",
            object_type="subscriber", object_id=subscriber.id,
            object_repr=subscriber.contract_number, actor=subscriber_actor(subscriber),
            message=f"ip={ip}" + (" trusted-device" if trusted_device else ""),
        )
        return LoginResult(error=LOGIN_FAILED,
                           locked_until=now + LOCK_DURATION if locked_now else None)
    changes: dict = {}
    if attempt is not None:
        # This attempt succeeded: the series of failures ends (a lock set by a parallel wrong
        # attempt that counted after this one started ends with it). A trusted device going
        # through a lock leaves it in place for everyone else.
        changes = {Subscriber.failed_logins: 0, Subscriber.locked_until: None}
    if is_legacy_password(password):
        changes[Subscriber.must_change_password] = True
        subscriber.must_change_password = True
    if needs_rehash(subscriber.password_hash):
        changes[Subscriber.password_hash] = await hash_password(password)
    async with write_transaction():
        if changes:
            await Subscriber.update(changes).where(Subscriber.id == subscriber.id)
        await write_audit(action="subscriber.login", object_type="subscriber",
                          object_id=subscriber.id, object_repr=subscriber.contract_number,
                          actor=subscriber_actor(subscriber),
                          message=f"ip={ip}" + (" trusted-device" if trusted_device else ""))
    return LoginResult(subscriber=subscriber)


async def start_session(subscriber_id: int, *, now: dt.datetime | None = None, ip: str = "",
                        replaces: str | None = None, new_device: bool = False) -> str:
    """A fresh session token (never reuse one the client presented: fixation).

    :param new_device: the login came from a device the cabinet does not know: the subscriber
        is told, if they asked for it (``tables.messages.new_device_login``).
    """
    moment = now or utcnow()
    now = naive_utc(moment)
    async with write_transaction():
        if replaces:
            await SubscriberSession.delete().where(SubscriberSession.token == replaces)
        session = await SubscriberSession.create_session(
            subscriber_id, expiry_date=now + SESSION_IDLE, max_expiry_date=now + SESSION_ABSOLUTE
        )
        if ip:
            await SubscriberSession.update({SubscriberSession.ip: ip[:64]}).where(
                SubscriberSession.id == session.id
            )
        if new_device:
            await messages.new_device_login(subscriber_id, session.id, moment)
    return session.token


# The session and its contract in one query: every cabinet page needs both.
_SESSION_WITH_SUBSCRIBER = (
    "SELECT s.id AS session_id, s.expiry_date AS session_expiry, "
    "s.max_expiry_date AS session_max_expiry, s.viewer AS session_viewer, sub.* "
    "FROM subscriber_session s JOIN subscriber sub ON sub.id = s.user_id WHERE s.token = {}"
)
_SUBSCRIBER_COLUMNS = frozenset(c._meta.db_column_name for c in Subscriber._meta.columns)


def _subscriber_from(row: dict) -> Subscriber:
    """A ``Subscriber`` as ``Subscriber.objects()`` would build it from a joined row."""
    subscriber = Subscriber(_ignore_missing=True,
                            **{k: v for k, v in row.items() if k in _SUBSCRIBER_COLUMNS})
    subscriber._exists_in_db = True
    return subscriber


async def session_info(token: str | None, *, now: dt.datetime | None = None) -> SessionInfo | None:
    """Who is behind a session token, with the contract; idle expiry slides, the absolute
    limit does not. A session whose contract is gone counts as no session."""
    if not token or len(token) > 100 or token.startswith(VIEW_LINK_PREFIX):
        return None
    rows = await SubscriberSession.raw(_SESSION_WITH_SUBSCRIBER, token)
    row = rows[0] if rows else None
    moment = naive_utc(now or utcnow())
    if row is None or row["session_expiry"] <= moment or row["session_max_expiry"] <= moment:
        return None
    if row["session_expiry"] - moment < SESSION_IDLE / 2:  # slide, but don't write on every request
        await SubscriberSession.update({
            SubscriberSession.expiry_date: min(moment + SESSION_IDLE, row["session_max_expiry"])
        }).where(SubscriberSession.id == row["session_id"])
    return SessionInfo(subscriber_id=row["id"], viewer=row["session_viewer"] or "",
                       subscriber=_subscriber_from(row))


async def session_subscriber_id(token: str | None) -> int | None:
    info = await session_info(token)
    return info.subscriber_id if info else None


#: A staff-view link is stored only as this prefix plus the link's SHA-256: the link itself
#: (in the clerk's screen, the browser history, access logs) is never a session token, and the
#: stored key never matches a cookie (``session_info`` refuses the prefix).
VIEW_LINK_PREFIX = "link:"


def _view_link_key(link_token: str) -> str:
    return VIEW_LINK_PREFIX + hashlib.sha256(link_token.encode()).hexdigest()


async def start_staff_view(subscriber_id: int, *, actor: Actor, now: dt.datetime | None = None) -> str:
    """A short-lived link token for a staff member's read-only view of a cabinet (audited)."""
    moment = naive_utc(now or utcnow())
    subscriber = await Subscriber.objects().where(Subscriber.id == subscriber_id).first()
    if subscriber is None:
        raise ValueError("Договор не найден")
    async with write_transaction():
        session = await SubscriberSession.create_session(
            subscriber_id, expiry_date=moment + VIEW_LINK_TTL, max_expiry_date=moment + VIEW_LINK_TTL
        )
        await SubscriberSession.update({SubscriberSession.viewer: actor.name[:150],
                                        SubscriberSession.token: _view_link_key(session.token)}).where(
            SubscriberSession.id == session.id
        )
        await write_audit(action="subscriber.viewed_by_staff", object_type="subscriber",
                          object_id=subscriber_id, object_repr=subscriber.contract_number,
                          actor=actor, message="Просмотр кабинета сотрудником")
    return session.token


async def redeem_staff_view(link_token: str, *, now: dt.datetime | None = None) -> str | None:
    """Exchange a view link for a fresh view session: the link works once (one ``DELETE …
    RETURNING`` wins when it is opened twice at once) and never as a session itself."""
    if not link_token or len(link_token) > 100:
        return None
    moment = naive_utc(now or utcnow())
    async with write_transaction():
        links = await SubscriberSession.delete().where(
            (SubscriberSession.token == _view_link_key(link_token))
            & (SubscriberSession.expiry_date > moment)
            & (SubscriberSession.viewer != "")
        ).returning(SubscriberSession.user_id, SubscriberSession.viewer)
        if not links:
            return None
        session = await SubscriberSession.create_session(
            links[0]["user_id"], expiry_date=moment + VIEW_SESSION, max_expiry_date=moment + VIEW_SESSION
        )
        await SubscriberSession.update({SubscriberSession.viewer: links[0]["viewer"]}).where(
            SubscriberSession.id == session.id
        )
    return session.token


async def end_session(token: str | None) -> None:
    if token:
        await SubscriberSession.remove_session(token)


async def change_password(subscriber_id: int, new_password: str, *, current_password: str | None,
                          keep_session: str | None = None) -> None:
    """Set a new password, checking ``current_password`` (counted like a login attempt) when given.

    All other sessions of the account end; the caller then rotates its own.
    """
    subscriber = await Subscriber.objects().where(Subscriber.id == subscriber_id).first()
    if subscriber is None:
        raise ValueError("Договор не найден")
    if subscriber.status == SubscriberStatus.TERMINATED and not subscriber.must_change_password:
        # A terminated contract still logs in to read its final statement; a forced change
        # (one-time or legacy password) must stay possible or it is locked out for good.
        raise ValueError("Договор расторгнут: смена пароля недоступна.")
    if current_password is not None:
        # Counted like a login: a session alone must not allow guessing the password.
        attempt = await _reserve_attempt(subscriber_id, utcnow())
        if attempt is None:
            raise ValueError(TOO_MANY_ATTEMPTS)
        if not await verify_password(subscriber.password_hash, current_password[:256]):
            await write_audit(
                action="subscriber.locked" if attempt >= MAX_FAILED_LOGINS else "subscriber.login_failed",
                object_type="subscriber", object_id=subscriber_id,
                object_repr=subscriber.contract_number, actor=subscriber_actor(subscriber),
                message="password change")
            raise ValueError("Текущий пароль указан неверно.")
    problem = password_problem(new_password, contract_number=subscriber.contract_number)
    if problem:
        raise ValueError(problem)
    if await verify_password(subscriber.password_hash, new_password):
        raise ValueError("Новый пароль должен отличаться от прежнего.")
    password_hash = await hash_password(new_password)
    async with write_transaction():
        await Subscriber.update({Subscriber.password_hash: password_hash,
                                 Subscriber.must_change_password: False,
                                 Subscriber.failed_logins: 0, Subscriber.locked_until: None}).where(
            Subscriber.id == subscriber_id
        )
        others = SubscriberSession.delete().where(SubscriberSession.user_id == subscriber_id)
        if keep_session:
            others = others.where(SubscriberSession.token != keep_session)
        await others
        await write_audit(action="subscriber.password_changed", object_type="subscriber",
                          object_id=subscriber_id, object_repr=subscriber.contract_number,
                          actor=subscriber_actor(subscriber))


LOGIN_HISTORY_ACTIONS = {
    "subscriber.login": "Вход в кабинет",
    "subscriber.login_failed": "Неверный пароль",
    "subscriber.locked": "Вход заблокирован после неверных попыток",
    "subscriber.password_changed": "Пароль изменён",
    "subscriber.password_reset": "Пароль сброшен в офисе",
    "subscriber.password_recovered": "Пароль восстановлен по коду",
    "subscriber.contacts_changed": "Контакты изменены",
    "subscriber.viewed_by_staff": "Кабинет просмотрен сотрудником",
}


async def login_history(subscriber_id: int, limit: int = 15) -> list[dict]:
    """Logins, failures, password changes and staff views of this cabinet, newest first."""
    from tables.audit import AuditEntry

    rows = await (
        AuditEntry.select(AuditEntry.created_at, AuditEntry.action, AuditEntry.actor_name)
        .where((AuditEntry.object_type == "subscriber")
               & (AuditEntry.object_id == str(subscriber_id))
               & AuditEntry.action.is_in(list(LOGIN_HISTORY_ACTIONS)))
        .order_by(AuditEntry.id, ascending=False)
        .limit(limit)
    )
    return [{"at": r["created_at"], "what": LOGIN_HISTORY_ACTIONS[r["action"]],
             "staff": r["actor_name"] if r["action"] == "subscriber.viewed_by_staff" else ""}
            for r in rows]


async def reset_password(subscriber_id: int, *, actor: Actor) -> str:
    """Issue a new one-time password (shown once); the next login must change it."""
    one_time = generate_one_time_password()
    password_hash = await hash_password(one_time)
    async with write_transaction():
        rows = await Subscriber.update({
            Subscriber.password_hash: password_hash,
            Subscriber.must_change_password: True,
            Subscriber.failed_logins: 0,
            Subscriber.locked_until: None,
        }).where(Subscriber.id == subscriber_id).returning(Subscriber.id)
        if not rows:
            raise ValueError("Договор не найден")
        # Whoever was logged in (perhaps the reason for the reset) is logged out: otherwise an
        # old session would reach the forced password change and set a password of its own.
        await SubscriberSession.delete().where(SubscriberSession.user_id == subscriber_id)
        audit_id = await write_audit(action="subscriber.password_reset", object_type="subscriber",
                                     object_id=subscriber_id, actor=actor)
        await messages.password_reset(subscriber_id, audit_id)
    return one_time
