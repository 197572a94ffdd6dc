"""One-time confirmation codes sent by SMS or e-mail: password recovery and new contacts.

A code is 6 digits, lives 10 minutes and allows 3 tries. Only its HMAC (keyed by
``CENTRA_SECRET_KEY`` and the row's own salt) is stored, so neither the table nor a
database dump gives the code away. Every try is counted *before* the code is compared
(one ``UPDATE … attempts = attempts + 1 … RETURNING``), so a burst of parallel guesses
compares at most :data:`MAX_TRIES` of them on either engine. A new code for the same
contract and purpose retires the previous one. The message carrying a code goes
through the outbox (``tables.notifications``); its body is blanked there once sent.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from piccolo.columns import ForeignKey, Integer, OnDelete, Timestamptz, Varchar
from piccolo.table import Table

from db.engine import is_sqlite, write_transaction
from tables.calendar import utcnow
from tables.choices import choices
from tables.notifications import SECRET_TOPIC_PREFIX
from tables.subscribers import Subscriber

CODE_DIGITS = 6
CODE_TTL = dt.timedelta(minutes=10)
MAX_TRIES = 3
#: Topics of outbox messages that carry a code (their body is blanked after sending).
CODE_TOPIC_PREFIX = SECRET_TOPIC_PREFIX


class CodePurpose(enum.StrEnum):
    PASSWORD = "password"
    PHONE = "phone"
    EMAIL = "email"


CODE_PURPOSE_LABELS = {"password": "Восстановление пароля", "phone": "Новый телефон",
                       "email": "Новая электронная почта"}


class ConfirmationCode(Table, help_text="Одноразовые коды подтверждения (хранится только хэш)"):
    subscriber = ForeignKey(Subscriber, null=False, on_delete=OnDelete.cascade, help_text="Договор")
    purpose = Varchar(length=10, choices=choices(CodePurpose, CODE_PURPOSE_LABELS),
                      help_text="Для чего")
    target = Varchar(length=200, help_text="Куда отправлен: телефон или e-mail")
    salt = Varchar(length=32, help_text="Соль хэша")
    code_hash = Varchar(length=64, secret=True, help_text="HMAC кода")
    tries = Integer(default=0, help_text="Попыток ввода")
    created_at = Timestamptz(help_text="Выдан")
    expires_at = Timestamptz(help_text="Действует до")
    used_at = Timestamptz(null=True, default=None,
                          help_text="Использован или заменён новым (пусто: действует)")


def _digest(salt: str, code: str) -> str:
    from settings import get_settings

    key = get_settings().secret_key.get_secret_value().encode()
    return hmac.new(key, f"code:{salt}:{code}".encode(), hashlib.sha256).hexdigest()


def new_code() -> str:
    return f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"


async def issue_code(subscriber_id: int, purpose: CodePurpose, target: str, *,
                     now: dt.datetime | None = None) -> tuple[int, str]:
    """Store a fresh code (hashed) for this contract and purpose; returns (row id, the code).

    Call inside the transaction that queues its message. Earlier live codes of the same
    contract and purpose stop working.
    """
    now = now or utcnow()
    code, salt = new_code(), secrets.token_hex(8)
    async with write_transaction():
        await retire_codes(subscriber_id, purpose, now=now)
        rows = await ConfirmationCode.insert(ConfirmationCode(
            subscriber=subscriber_id, purpose=purpose, target=target[:200], salt=salt,
            code_hash=_digest(salt, code), created_at=now, expires_at=now + CODE_TTL,
        )).returning(ConfirmationCode.id)
    return rows[0]["id"], code


async def retire_codes(subscriber_id: int, purpose: CodePurpose, *, now: dt.datetime | None = None) -> None:
    """End the contract's live codes of this purpose, holding the contract's row until the
    caller's transaction ends. A request that sends no code runs it too (with id 0), so both
    paths do alike."""
    if not is_sqlite():  # SQLite's immediate transaction already admits one writer
        # Codes of one contract are issued one at a time: two requests at once would
        # otherwise each retire the codes before the other's and leave two live.
        await Subscriber.raw("SELECT id FROM subscriber WHERE id = {} FOR UPDATE", subscriber_id)
    await ConfirmationCode.update({ConfirmationCode.used_at: now or utcnow()}).where(
        (ConfirmationCode.subscriber == subscriber_id) & (ConfirmationCode.purpose == purpose)
        & ConfirmationCode.used_at.is_null())


@dataclass(frozen=True)
class CodeCheck:
    """The outcome of one try: ``ok`` with the code's target, else ``tries_left`` (0: ask anew)."""

    ok: bool
    target: str = ""
    tries_left: int = 0


async def check_code(subscriber_id: int, purpose: CodePurpose, code: str, *,
                     now: dt.datetime | None = None) -> CodeCheck:
    """Count one try on the contract's live code, then compare; a right code is used up at once.

    Call inside the transaction of what the code allows, so a code is spent exactly when its
    change commits.
    """
    now = now or utcnow()
    code = (code or "").strip()
    async with write_transaction():
        # Only the newest code counts (there is one live code; this holds even if there were two).
        latest = ConfirmationCode.select(ConfirmationCode.id).where(
            (ConfirmationCode.subscriber == subscriber_id) & (ConfirmationCode.purpose == purpose)
        ).order_by(ConfirmationCode.id, ascending=False).limit(1)
        rows = await ConfirmationCode.update(
            {ConfirmationCode.tries: ConfirmationCode.tries + 1}
        ).where(
            ConfirmationCode.id.is_in(latest)
            & ConfirmationCode.used_at.is_null() & (ConfirmationCode.expires_at > now)
            & (ConfirmationCode.tries < MAX_TRIES)
        ).returning(ConfirmationCode.id, ConfirmationCode.salt, ConfirmationCode.code_hash,
                    ConfirmationCode.tries, ConfirmationCode.target)
        if not rows:
            return CodeCheck(ok=False)
        row = rows[0]
        right = (len(code) == CODE_DIGITS and code.isdigit()
                 and hmac.compare_digest(_digest(row["salt"], code), row["code_hash"]))
        if not right:
            if row["tries"] >= MAX_TRIES:
                await ConfirmationCode.update({ConfirmationCode.used_at: now}).where(
                    ConfirmationCode.id == row["id"])
            return CodeCheck(ok=False, tries_left=MAX_TRIES - row["tries"])
        spent = await ConfirmationCode.update({ConfirmationCode.used_at: now}).where(
            (ConfirmationCode.id == row["id"]) & ConfirmationCode.used_at.is_null()
        ).returning(ConfirmationCode.id)
        return CodeCheck(ok=bool(spent), target=row["target"])


async def live_code_target(subscriber_id: int, purpose: CodePurpose, *,
                           now: dt.datetime | None = None) -> str | None:
    """Where the contract's live code of this purpose went, or None (no live code)."""
    now = now or utcnow()
    row = await ConfirmationCode.select(ConfirmationCode.target).where(
        (ConfirmationCode.subscriber == subscriber_id) & (ConfirmationCode.purpose == purpose)
        & ConfirmationCode.used_at.is_null() & (ConfirmationCode.expires_at > now)
        & (ConfirmationCode.tries < MAX_TRIES)
    ).order_by(ConfirmationCode.id, ascending=False).first()
    return row["target"] if row else None
