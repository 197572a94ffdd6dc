"""Subscribers: one row per contract."""

from __future__ import annotations

import datetime as dt
import enum

from piccolo.columns import (
    BigInt,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    OnDelete,
    Timestamptz,
    Varchar,
)
from piccolo.columns.readable import Readable
from piccolo.table import Table

from db.engine import is_sqlite, write_transaction
from tables.addresses import Address
from tables.audit import SYSTEM, Actor, write_audit
from tables.calendar import local_date, utcnow
from tables.choices import choices
from tables.money import kopecks
from tables.passwords import generate_one_time_password, hash_password
from tables.tariffs import Tariff


class SubscriberStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    #: A voluntary pause (tables.billing.pauses): no access, no subscription fee; not a debt.
    PAUSED = "paused"
    TERMINATED = "terminated"


SUBSCRIBER_STATUS_LABELS = {
    "active": "Активен",
    "suspended": "Приостановлен за долг",
    "paused": "Добровольная блокировка",
    "terminated": "Расторгнут",
}

FIRST_CONTRACT_NUMBER = 100001


class Subscriber(Table, help_text="Абоненты (договоры). Баланс меняется только проводками."):
    contract_number = Varchar(length=12, unique=True, help_text="Номер договора (цифры)")
    full_name = Varchar(length=200, help_text="ФИО абонента")
    phone = Varchar(length=20, default="", help_text="Телефон, +7XXXXXXXXXX")
    email = Varchar(length=200, default="", help_text="Электронная почта")
    address = ForeignKey(Address, null=False, on_delete=OnDelete.restrict,
                         help_text="Адрес подключения")
    tariff = ForeignKey(Tariff, null=False, on_delete=OnDelete.restrict, help_text="Тариф")
    router_rented = Boolean(default=False, help_text="Арендует роутер")
    status = Varchar(length=20, choices=choices(SubscriberStatus, SUBSCRIBER_STATUS_LABELS),
                     default="active", index=True, help_text="Состояние договора")
    connected_on = Date(help_text="Дата подключения")
    terminated_on = Date(null=True, default=None, help_text="Дата расторжения")
    password_hash = Varchar(length=200, default="", secret=True, help_text="Хэш пароля (argon2)")
    must_change_password = Boolean(default=True, help_text="Сменить пароль при входе")
    failed_logins = Integer(default=0, help_text="Неудачных входов подряд")
    locked_until = Timestamptz(null=True, default=None, help_text="Вход заблокирован до")
    balance = kopecks(BigInt(default=0, help_text="Баланс, ₽ (сумма проводок)"))
    created_at = Timestamptz(help_text="Создан")

    def __str__(self) -> str:
        return f"{self.contract_number} {self.full_name}"

    @classmethod
    def get_readable(cls) -> Readable:
        """Contract number and name (the admin shortens it to initials)."""
        return Readable(template="%s %s", columns=[cls.contract_number, cls.full_name])


def mask_name(full_name: str) -> str:
    """Surname and initials only: "Иванов Иван Петрович" → "Иванов И. П."."""
    parts = full_name.split()
    if not parts:
        return ""
    return " ".join([parts[0], *(f"{p[0]}." for p in parts[1:3])])


def mask_phone(phone: str) -> str:
    """Keep the country code and the last two digits: "+7 *** ***-**-45"."""
    digits = "".join(c for c in phone if c.isdigit())
    if len(digits) < 4:
        return "***"
    return f"+{digits[0]} *** ***-**-{digits[-2:]}"


def mask_email(email: str) -> str:
    """First letter of the mailbox and the domain: "ivanov@mail.ru" → "i*****@mail.ru"."""
    local, at, domain = (email or "").strip().partition("@")
    if not at or not local:
        return "***" if email else ""
    return f"{local[0]}{'*' * max(3, len(local) - 1)}@{domain}"


# pg_advisory_xact_lock key ("number" in ASCII): one contract numbering at a time.
NUMBERING_LOCK_KEY = 0x6E756D626572


async def next_contract_number() -> str:
    """The next free contract number (digits, sequential from 100001).

    Call inside ``write_transaction()``: SQLite's immediate transaction already admits one
    writer; on PostgreSQL two clerks creating contracts at once would read the same maximum,
    so the numbering is serialised until the transaction ends.
    """
    if not is_sqlite():
        await Subscriber.raw("SELECT pg_advisory_xact_lock({})", NUMBERING_LOCK_KEY)
    rows = await Subscriber.raw("SELECT MAX(CAST(contract_number AS BIGINT)) AS n FROM subscriber")
    current = rows[0]["n"] if rows and rows[0]["n"] is not None else FIRST_CONTRACT_NUMBER - 1
    return str(int(current) + 1)


async def create_subscriber(
    *,
    full_name: str,
    address_id: int,
    tariff_id: int,
    phone: str = "",
    email: str = "",
    connected_on: dt.date | None = None,
    router_rented: bool = False,
    contract_number: str | None = None,
    password: str | None = None,
    actor: Actor = SYSTEM,
) -> tuple[Subscriber, str]:
    """Create a contract with a one-time password; returns it with the password.

    The password is shown once, for printing; only its hash is stored and the
    first login must replace it.
    """
    if not full_name.strip():
        raise ValueError("Укажите ФИО абонента")
    if not await Address.exists().where(Address.id == address_id):
        raise ValueError(f"Адрес с ID {address_id} не найден в справочнике")
    if not await Tariff.exists().where(Tariff.id == tariff_id):
        raise ValueError(f"Тариф с ID {tariff_id} не найден")
    one_time = password or generate_one_time_password()
    password_hash = await hash_password(one_time)
    async with write_transaction():
        number = contract_number or await next_contract_number()
        subscriber = Subscriber(
            contract_number=number,
            full_name=full_name.strip(),
            phone=phone,
            email=email,
            address=address_id,
            tariff=tariff_id,
            router_rented=router_rented,
            connected_on=connected_on or local_date(utcnow()),  # the provider's day, not the server's
            password_hash=password_hash,
            must_change_password=True,
            created_at=utcnow(),
        )
        await subscriber.save()
        await write_audit(action="subscriber.created", object_type="subscriber",
                          object_id=subscriber.id, object_repr=number, actor=actor,
                          after={"contract_number": number, "tariff": tariff_id,
                                 "address": address_id})
    return subscriber, one_time


async def find_by_contract(contract_number: str) -> Subscriber | None:
    number = (contract_number or "").strip()
    if not number.isdigit() or len(number) > 12:
        return None
    return await Subscriber.objects().where(Subscriber.contract_number == number).first()


async def require_subscriber(contract_number: str) -> Subscriber:
    subscriber = await find_by_contract(contract_number)
    if subscriber is None:
        raise ValueError(f"Договор № {contract_number} не найден")
    return subscriber
