"""Network access (issue 32): what FreeRADIUS asks Centra about.

- ``NetworkAccess``: one internet contract's credentials — a PPPoE login and password, or an
  IPoE binding (the subscriber's MAC and/or the switch and port DHCP option 82 reports) — and
  an optional static IP.
- ``Nas``: the routers (NAS) that ask; their RADIUS secret and type decide which attributes a
  reply carries (MikroTik's own, or the generic ones other vendors read).
- ``RadiusSession``: accounting, one row per session (NAS address + Acct-Session-Id), written
  idempotently: a retransmitted Start/Interim/Stop changes nothing.

The decisions themselves (who gets in, at what speed, into which list) are in
``tables.radius``; the HTTP endpoint FreeRADIUS's rlm_rest calls is ``network/``.
"""

from __future__ import annotations

import enum
import secrets

from piccolo.columns import BigInt, Boolean, Date, ForeignKey, Integer, OnDelete, Timestamptz, Varchar
from piccolo.columns.readable import Readable
from piccolo.table import Table

from tables.choices import choices
from tables.subscribers import Subscriber


class AccessKind(enum.StrEnum):
    PPPOE = "pppoe"
    IPOE = "ipoe"


ACCESS_KIND_LABELS = {
    "pppoe": "PPPoE (логин и пароль)",
    "ipoe": "IPoE (привязка к MAC или порту коммутатора)",
}


class NasKind(enum.StrEnum):
    MIKROTIK = "mikrotik"
    GENERIC = "generic"


NAS_KIND_LABELS = {
    "mikrotik": "MikroTik",
    "generic": "Другой (стандартные атрибуты RADIUS)",
}


class NetworkAccess(Table, help_text="Доступ в интернет: логин PPPoE или привязка IPoE, статический IP"):
    subscriber = ForeignKey(Subscriber, null=False, unique=True, on_delete=OnDelete.restrict,
                            help_text="Договор")
    kind = Varchar(length=10, choices=choices(AccessKind, ACCESS_KIND_LABELS), default="pppoe",
                   help_text="Способ подключения")
    # PPPoE: CHAP and MS-CHAP need the password itself on the RADIUS side, so it is kept as
    # typed (never in the audit log: tables.audit.SECRET_FIELDS masks a column named so).
    login = Varchar(length=64, null=True, default=None, unique=True,
                    help_text="Логин PPPoE (пусто для IPoE)")
    password = Varchar(length=64, default="", help_text="Пароль PPPoE")
    mac = Varchar(length=17, null=True, default=None, unique=True,
                  help_text="MAC-адрес абонента (IPoE), вида 00:11:22:33:44:55")
    switch_id = Varchar(length=64, default="",
                        help_text="Коммутатор (IPoE, опция 82: Agent-Remote-Id)")
    switch_port = Varchar(length=64, default="",
                          help_text="Порт коммутатора (IPoE, опция 82: Agent-Circuit-Id)")
    static_ip = Varchar(length=45, null=True, default=None, unique=True,
                        help_text="Статический IP-адрес (пусто — из пула)")

    def __str__(self) -> str:
        return self.login or self.mac or f"{self.switch_id}/{self.switch_port}"

    @classmethod
    def get_readable(cls) -> Readable:
        return Readable(template="%s", columns=[cls.login])


class Nas(Table, help_text="Маршрутизаторы доступа (NAS), которые спрашивают RADIUS"):
    name = Varchar(length=100, help_text="Название")
    address = Varchar(length=45, unique=True, help_text="IP-адрес NAS (NAS-IP-Address и источник CoA)")
    secret = Varchar(length=64, help_text="Общий секрет RADIUS")
    kind = Varchar(length=20, choices=choices(NasKind, NAS_KIND_LABELS), default="mikrotik",
                   help_text="Тип NAS: какие атрибуты отвечать")
    coa_port = Integer(default=3799, help_text="Порт CoA / Disconnect (RFC 5176), обычно 3799")
    restricted_list = Varchar(length=64, default="debtors",
                              help_text="Список для должников (address list MikroTik или Framed-Pool)")
    active = Boolean(default=True, help_text="Принимать запросы от этого NAS")

    def __str__(self) -> str:
        return f"{self.name} ({self.address})"

    @classmethod
    def get_readable(cls) -> Readable:
        return Readable(template="%s (%s)", columns=[cls.name, cls.address])


class RadiusSession(Table, help_text="Сессии доступа (учёт RADIUS). Только чтение."):
    # The NAS's address and its Acct-Session-Id: a retransmission or a second FreeRADIUS finds
    # the same row.
    session_key = Varchar(length=150, unique=True, help_text="Ключ сессии (NAS/Acct-Session-Id)")
    acct_session_id = Varchar(length=100, help_text="Номер сессии на NAS (Acct-Session-Id)")
    nas_address = Varchar(length=45, help_text="Адрес NAS")
    subscriber = ForeignKey(Subscriber, null=True, default=None, on_delete=OnDelete.restrict,
                            index=True, help_text="Договор")
    username = Varchar(length=100, default="", help_text="Логин (User-Name)")
    framed_ip = Varchar(length=45, default="", help_text="IP-адрес абонента")
    calling_station = Varchar(length=64, default="", help_text="MAC абонента (Calling-Station-Id)")
    restricted = Boolean(default=False, help_text="В закрытом списке (долг)")
    started_at = Timestamptz(index=True, help_text="Начало")
    updated_at = Timestamptz(help_text="Последнее обновление")
    stopped_at = Timestamptz(null=True, default=None, help_text="Окончание")
    # From the NAS's side: what it received from the subscriber is the subscriber's upload.
    upload_bytes = BigInt(default=0, help_text="Отправлено абонентом, байт")
    download_bytes = BigInt(default=0, help_text="Получено абонентом, байт")
    terminate_cause = Varchar(length=40, default="", help_text="Причина окончания")


class TrafficDay(Table, help_text="Трафик по дням (из учёта RADIUS). Только чтение."):
    # "<subscriber id>:<YYYY-MM-DD>": one row per contract and local day.
    day_key = Varchar(length=40, unique=True, help_text="Ключ (договор и день)")
    subscriber = ForeignKey(Subscriber, null=False, on_delete=OnDelete.restrict, index=True,
                            help_text="Договор")
    day = Date(help_text="День (по Новокузнецку)")
    upload_bytes = BigInt(default=0, help_text="Отправлено абонентом, байт")
    download_bytes = BigInt(default=0, help_text="Получено абонентом, байт")


def generate_pppoe_password() -> str:
    """Ten characters a subscriber can type into a router: no look-alikes (0/O, 1/l/I)."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "".join(secrets.choice(alphabet) for _ in range(10))


async def regenerate_pppoe_password(subscriber_id: int, *, actor) -> str | None:
    """A new PPPoE password for the contract's login; returns it (shown once) or None when
    the contract has no PPPoE login. The session up now stays up; the router needs the new
    password at its next login."""
    from db.engine import write_transaction
    from tables.audit import write_audit

    password = generate_pppoe_password()
    async with write_transaction():
        rows = await NetworkAccess.update({NetworkAccess.password: password}).where(
            (NetworkAccess.subscriber == subscriber_id) & (NetworkAccess.kind == AccessKind.PPPOE)
            & NetworkAccess.login.is_not_null()).returning(NetworkAccess.id, NetworkAccess.login)
        if not rows:
            return None
        await write_audit(action="network_access.password_regenerated", object_type="network_access",
                          object_id=rows[0]["id"], object_repr=rows[0]["login"], actor=actor)
    return password
