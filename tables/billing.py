"""Billing: the monthly charge run, proration, debt suspension, tariff changes, promised payments.

The charge run is set-based: one ``INSERT … SELECT … ON CONFLICT (reference) DO
NOTHING`` per chunk of subscriber ids plus one ``UPDATE`` of cached balances
from the rows actually inserted, then one ``UPDATE`` for suspensions, all in one
write transaction.  The reference ``charge:<subscriber>:<YYYY-MM>`` is unique,
so a second (or concurrent) run for the same period books nothing.

Proration (see ``docs/billing.md``): a contract pays for the days of the
month it was connected, from ``connected_on`` (or the 1st) to ``terminated_on``
(inclusive, or the last day), at the daily rate of the tariff in effect each
day.  The month's amount is ``Σ days × (monthly_fee + router_fee if rented) /
days_in_month``, rounded **once per contract and period to whole kopecks, half
up**, in integer arithmetic: ``(2 × num + days) // (2 × days)``.  A full month
therefore costs exactly the monthly fee.
"""

from __future__ import annotations

import calendar
import datetime as dt
import enum
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from piccolo.apps.user.tables import BaseUser
from piccolo.columns import (
    BigInt,
    Date,
    ForeignKey,
    Integer,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from db.engine import engine, is_sqlite, write_transaction
from settings import get_settings
from tables.audit import SYSTEM, Actor, write_audit
from tables.calendar import LOCAL_TZ, local_date, utcnow
from tables.choices import choices
from tables.ledger import EntryKind, LedgerEntry, post_entry
from tables.money import format_plain, kopecks
from tables.subscribers import Subscriber, SubscriberStatus
from tables.tariffs import Tariff

CHUNK_SIZE = 20_000  # subscriber ids per INSERT … SELECT: progress steps, bounded statement size
PROMISED_DAYS = 3
# pg_advisory_xact_lock key ("centra" in ASCII): serialises charge runs and tariff scheduling.
BILLING_LOCK_KEY = 0x63656E747261

MONTHS = ["январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август",
          "сентябрь", "октябрь", "ноябрь", "декабрь"]

# User-facing texts (Russian), kept together for translation.
TEXTS = {
    "period_format": "Период указывается как ГГГГ-ММ, например 2026-12",
    "period_future": ("Период {period} ещё не наступил: начислить можно только за текущий месяц "
                      "({current}) или прошедшие"),
    "charge_comment": "Абонентская плата за {month}",
    # A prorated charge's comment ends with " (17 из 31 дн.)", assembled in SQL.
    "charge_days_open": " (",
    "charge_days_of": " из ",
    "charge_days_close": " дн.)",
    "tariff_applied": "Смена тарифа вступила в силу",
    "correction_comment": "Перерасчёт абонентской платы за {month}: расторжение с {date}",
    "suspended_message": "Приостановлен за долг после начисления за {period}",
    "suspended_after_promised": "Приостановлен за долг после окончания обещанного платежа",
    "suspended_after_grace": "Приостановлен за долг: льготный срок после подключения ({days} дн.) истёк",
    "not_found": "Договор не найден",
    "tariff_not_found": "Тариф не найден",
    "tariff_archived": "Тариф «{name}» в архиве: на него нельзя перейти",
    "tariff_same": "Этот тариф уже действует на договоре с {date}",
    "tariff_terminated": "Договор расторгнут: смена тарифа невозможна",
    "tariff_after_termination": "Смена тарифа позже даты расторжения ({date}) невозможна",
    "tariff_before_connection": "Смена тарифа возможна только после даты подключения ({date})",
    "tariff_order": "Уже запланирована смена тарифа с {date}: новая может действовать только позже",
    "tariff_charged": ("Абонентская плата за {period} уже начислена: "
                       "смену тарифа можно назначить с {date}"),
    "not_terminated": "Договор не расторгнут: перерасчёт не нужен",
    "promised_available": "Можно взять до {max} ₽ на {days} дня",
    "promised_terminated": "Обещанный платёж недоступен для расторгнутого договора",
    "promised_terminating": "Обещанный платёж недоступен: договор расторгается с {date}",
    "promised_active": "Обещанный платёж уже действует до {until}",
    "promised_used": "Обещанный платёж в этом месяце уже был ({date}); следующий — с 1-го числа",
    "promised_no_fee": "У договора нет абонентской платы: обещанный платёж не предусмотрен",
    "promised_amount": "Сумма обещанного платежа — от 1 до {max} ₽",
    # A suspended contract comes back at a balance of 0 or more (post_entry): a promised payment
    # smaller than the debt would leave it suspended, so it is refused with what does restore it.
    "promised_debt_too_large": ("Обещанный платёж не вернёт доступ: долг {debt} ₽ больше, чем можно "
                                "взять ({max} ₽). Чтобы восстановить доступ, пополните счёт на "
                                "{debt} ₽ — или на {rest} ₽, а затем возьмите обещанный платёж."),
    "promised_below_debt": ("Обещанный платёж на эту сумму не вернёт доступ: долг {debt} ₽. "
                            "Возьмите не меньше {debt} ₽ (можно до {max} ₽)."),
    "promised_comment": "Обещанный платёж до {until}",
    "promised_reversal_comment": "Окончание обещанного платежа от {date}",
}


# ---------------------------------------------------------------------------
# Periods and local time


def _local_text(moment: dt.datetime) -> str:
    return moment.astimezone(LOCAL_TZ).strftime("%d.%m.%Y %H:%M")


@dataclass(frozen=True, order=True)
class Period:
    """A billing month."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Period:
        """``"2026-12"`` → ``Period(2026, 12)``; anything else raises ``ValueError``."""
        match = re.fullmatch(r"(\d{4})-(\d{2})", (text or "").strip())
        if not match or not 1 <= int(match[2]) <= 12 or not 2000 <= int(match[1]) <= 2100:
            raise ValueError(TEXTS["period_format"])
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def of(cls, day: dt.date) -> Period:
        return cls(day.year, day.month)

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def days(self) -> int:
        return calendar.monthrange(self.year, self.month)[1]

    @property
    def first(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def last(self) -> dt.date:
        return dt.date(self.year, self.month, self.days)

    @property
    def next(self) -> Period:
        return Period(self.year + self.month // 12, self.month % 12 + 1)

    @property
    def title(self) -> str:
        """Russian name for ledger comments: "декабрь 2026"."""
        return f"{MONTHS[self.month - 1]} {self.year}"

    def __str__(self) -> str:
        return self.label


def current_period(now: dt.datetime | None = None) -> Period:
    return Period.of(local_date(now or utcnow()))


def debt_threshold() -> int:
    """Kopecks of debt tolerated before suspension (``CENTRA_DEBT_THRESHOLD_KOPECKS``)."""
    return get_settings().debt_threshold_kopecks


def grace_until(today: dt.date) -> dt.date:
    """The latest connection date whose grace is over on ``today`` (local).

    A contract connected on day D is not suspended for debt before D +
    ``CENTRA_NEW_CONTRACT_GRACE_DAYS``: its first bill is booked at once (charged in
    advance) but must be payable before the service stops.
    """
    return today - dt.timedelta(days=get_settings().new_contract_grace_days)


# How long after its grace a contract is still looked at by the grace-end sweep: the daily run
# suspends it on the first day after the grace; the window only covers missed days.
GRACE_SWEEP_DAYS = 31


# ---------------------------------------------------------------------------
# Tables


class RunStatus(enum.StrEnum):
    DONE = "done"
    FAILED = "failed"


RUN_STATUS_LABELS = {"done": "Выполнено", "failed": "Ошибка"}


class BillingRun(Table, help_text="Запуски начисления абонентской платы: кто, когда, сколько"):
    period = Varchar(length=7, index=True, help_text="Расчётный период (ГГГГ-ММ)")
    status = Varchar(length=10, choices=choices(RunStatus, RUN_STATUS_LABELS), default="done",
                     help_text="Результат")
    started_at = Timestamptz(help_text="Начало")
    finished_at = Timestamptz(help_text="Окончание")
    contracts_charged = Integer(default=0, help_text="Начислено договоров в этом запуске")
    total = kopecks(BigInt(default=0, help_text="Начислено всего, ₽"))
    contracts_suspended = Integer(default=0, help_text="Приостановлено за долг")
    tariff_changes_applied = Integer(default=0, help_text="Применено смен тарифа")
    started_by = Varchar(length=150, help_text="Кто запустил")
    staff = ForeignKey(BaseUser, null=True, default=None, on_delete=OnDelete.set_null,
                       help_text="Сотрудник")
    error = Text(default="", help_text="Ошибка (если запуск не удался)")


class TariffChange(Table, help_text="Смены тарифа с даты: цепочка по договору, применяются на границе"):
    subscriber = ForeignKey(Subscriber, null=False, on_delete=OnDelete.restrict,
                            help_text="Договор")
    from_tariff = ForeignKey(Tariff, null=False, on_delete=OnDelete.restrict,
                             help_text="Прежний тариф")
    tariff = ForeignKey(Tariff, null=False, on_delete=OnDelete.restrict, help_text="Новый тариф")
    effective_from = Date(help_text="Действует с даты (включительно)")
    applied_at = Timestamptz(null=True, default=None,
                             help_text="Когда тариф договора переключён")
    comment = Text(default="", help_text="Основание, например номер заявки")
    created_at = Timestamptz(help_text="Назначена")
    created_by = Varchar(length=150, help_text="Кто назначил")


class PromisedPayment(Table, help_text="Обещанные платежи: кредит на 3 дня, не чаще раза в месяц"):
    subscriber = ForeignKey(Subscriber, null=False, on_delete=OnDelete.restrict,
                            help_text="Договор")
    amount = kopecks(BigInt(help_text="Сумма, ₽"))
    period = Varchar(length=7, help_text="Месяц предоставления (ГГГГ-ММ, один в месяц)")
    granted_at = Timestamptz(help_text="Предоставлен")
    expires_at = Timestamptz(help_text="Действует до")
    reversed_at = Timestamptz(null=True, default=None, help_text="Списан обратно")
    created_by = Varchar(length=150, default="subscriber", help_text="Кто оформил")


# ---------------------------------------------------------------------------
# SQL shared by both engines (PostgreSQL and SQLite differ in a few fragments)


class _Sql:
    """Renders ``:name`` parameters for the current engine with the casts it needs."""

    def __init__(self) -> None:
        self.pg = not is_sqlite()

    def day(self, expr: str) -> str:
        """Day of month of a DATE column as an integer."""
        if self.pg:
            return f"CAST(EXTRACT(DAY FROM {expr}) AS INTEGER)"
        return f"CAST(strftime('%d', {expr}) AS INTEGER)"

    @property
    def json_object(self) -> str:
        return "json_build_object" if self.pg else "json_object"

    def bind(self, template: str, **params: Any) -> tuple[str, list[Any]]:
        args: list[Any] = []

        def placeholder(match: re.Match[str]) -> str:
            value = params[match[1]]
            args.append(value)
            if isinstance(value, dt.datetime):
                return "CAST({} AS TIMESTAMPTZ)" if self.pg else "{}"
            if isinstance(value, dt.date):
                return "CAST({} AS DATE)" if self.pg else "{}"
            if isinstance(value, bool):
                raise TypeError("bind booleans as literals")
            if isinstance(value, int) or value is None:
                return "CAST({} AS BIGINT)"
            return "CAST({} AS TEXT)"

        return re.sub(r"(?<![:\w]):([a-z_]+)\b", placeholder, template), args

    async def run(self, template: str, **params: Any) -> list[dict[str, Any]]:
        sql, args = self.bind(template, **params)
        return await LedgerEntry.raw(sql, *args)


def _fee(tariff: str, subscriber: str) -> str:
    return (f"({tariff}.monthly_fee + CASE WHEN {subscriber}.router_rented "
            f"THEN {tariff}.router_fee ELSE 0 END)")


def _due_cte(q: _Sql) -> str:
    """``WITH … due(id, charge, billed_days)`` for subscribers ``:lo``..``:hi`` in a period.

    Parameters: ``:first``, ``:last``, ``:days`` (days in the month), ``:lo``, ``:hi``.
    The start tariff is the ``from_tariff`` of the first change inside the period,
    else the tariff of the latest earlier change, else the contract's tariff; each
    change inside the period then moves the daily fee from its day to the end.
    """
    day = q.day
    return f"""
WITH steps AS (
    SELECT s.id,
           -- SUM(bigint) is NUMERIC on PostgreSQL, so cast back for the integer division below
           CAST(SUM((CASE WHEN s.terminated_on IS NULL OR s.terminated_on > :last THEN :days
                          ELSE {day('s.terminated_on')} END
                     - {day('c.effective_from')} + 1)
                    * ({_fee('tn', 's')} - {_fee('tp', 's')})) AS BIGINT) AS delta
    FROM tariff_change c
    JOIN subscriber s ON s.id = c.subscriber
    JOIN tariff tn ON tn.id = c.tariff
    JOIN tariff tp ON tp.id = c.from_tariff
    WHERE c.subscriber BETWEEN :lo AND :hi
      AND c.effective_from > :first AND c.effective_from <= :last
      AND (s.terminated_on IS NULL OR s.terminated_on >= c.effective_from)
    GROUP BY s.id
),
billable AS (
    SELECT s.id, s.router_rented,
           CASE WHEN s.connected_on < :first THEN 1 ELSE {day('s.connected_on')} END AS d0,
           CASE WHEN s.terminated_on IS NULL OR s.terminated_on > :last THEN :days
                ELSE {day('s.terminated_on')} END AS d1,
           COALESCE((SELECT c.from_tariff FROM tariff_change c
                     WHERE c.subscriber = s.id AND c.effective_from > :first
                     ORDER BY c.effective_from LIMIT 1),
                    (SELECT c.tariff FROM tariff_change c
                     WHERE c.subscriber = s.id AND c.effective_from <= :first
                     ORDER BY c.effective_from DESC LIMIT 1),
                    s.tariff) AS tariff
    FROM subscriber s
    WHERE s.id BETWEEN :lo AND :hi
      AND s.connected_on <= :last
      AND (s.terminated_on IS NULL OR s.terminated_on >= :first)
      AND (s.status <> 'terminated' OR s.terminated_on IS NOT NULL)
),
due AS (
    SELECT b.id, b.d1 - b.d0 + 1 AS billed_days,
           (2 * ((b.d1 - b.d0 + 1) * {_fee('t', 'b')} + COALESCE(st.delta, 0)) + :days)
               / (2 * :days) AS charge
    FROM billable b
    JOIN tariff t ON t.id = b.tariff
    LEFT JOIN steps st ON st.id = b.id
)"""


_ENTRY_SELECT = """
    SELECT id, -charge, 'charge', :period, 'charge:' || CAST(id AS TEXT) || ':' || :period,
           CASE WHEN billed_days < :days
                THEN :comment || :days_open || CAST(billed_days AS TEXT) || :days_of
                     || CAST(:days AS TEXT) || :days_close
                ELSE :comment END,
           :now, :by
    FROM due WHERE charge > 0"""

_ENTRY_COLUMNS = "ledger_entry (subscriber, amount, kind, period, reference, comment, created_at, created_by)"


def _period_params(period: Period) -> dict[str, Any]:
    return {"first": period.first, "last": period.last, "days": period.days}


_AUDIT_COLUMNS = ("audit_entry (actor, actor_name, action, object_type, object_id, object_repr, "
                  "message, before, after, created_at)")


async def _charge_chunk(q: _Sql, params: dict[str, Any]) -> tuple[int, int, int]:
    """Book the chunk's charges and suspend the contracts they leave in debt.

    Only rows this statement actually inserted move balances; an active contract whose
    balance falls below ``:limit`` with its charge is suspended in the same ``UPDATE``
    (evaluated on the current row, so a payment that commits meanwhile is respected)
    and gets an audit entry.  :returns: (entries inserted, kopecks charged, suspended).
    """
    suspend = ("CASE WHEN subscriber.status = 'active' AND subscriber.balance + {n}.amount < :limit "
               "AND subscriber.connected_on <= :grace_until "
               "THEN 'suspended' ELSE subscriber.status END")
    if q.pg:
        rows = await q.run(
            _due_cte(q) + f""",
ins AS (
    INSERT INTO {_ENTRY_COLUMNS}{_ENTRY_SELECT}
    ON CONFLICT (reference) DO NOTHING
    RETURNING subscriber, amount
),
upd AS (
    UPDATE subscriber SET balance = subscriber.balance + ins.amount, status = {suspend.format(n="ins")}
    FROM ins JOIN subscriber AS old ON old.id = ins.subscriber
    WHERE subscriber.id = ins.subscriber
    RETURNING subscriber.id, subscriber.contract_number, subscriber.balance, subscriber.status,
              old.status AS old_status, old.balance AS old_balance
),
suspended AS (
    INSERT INTO {_AUDIT_COLUMNS}
    SELECT :actor_id, :actor_name, 'subscriber.suspended', 'subscriber', CAST(id AS TEXT),
           contract_number, :message, json_build_object('status', old_status, 'balance', old_balance),
           json_build_object('status', status, 'balance', balance), :now
    FROM upd WHERE status = 'suspended' AND old_status = 'active'
    RETURNING 1
)
SELECT (SELECT COUNT(*) FROM ins) AS n, (SELECT COALESCE(SUM(-amount), 0) FROM ins) AS total,
       (SELECT COUNT(*) FROM suspended) AS suspended""",
            **params,
        )
        return int(rows[0]["n"]), int(rows[0]["total"]), int(rows[0]["suspended"])
    # SQLite has no data-modifying CTEs; inside BEGIN IMMEDIATE nobody else writes,
    # so the rows this statement inserted are exactly those above the previous max id.
    before = await q.run("SELECT COALESCE(MAX(id), 0) AS m FROM ledger_entry")
    params = {**params, "after_id": int(before[0]["m"])}
    await q.run(
        _due_cte(q) + f"\nINSERT INTO {_ENTRY_COLUMNS}{_ENTRY_SELECT}\n"
        "ON CONFLICT (reference) DO NOTHING",
        **params,
    )
    new = "(SELECT subscriber, amount FROM ledger_entry WHERE id > :after_id) AS n"
    suspended = await q.run(
        f"INSERT INTO {_AUDIT_COLUMNS} "
        "SELECT :actor_id, :actor_name, 'subscriber.suspended', 'subscriber', CAST(s.id AS TEXT), "
        "s.contract_number, :message, json_object('status', s.status, 'balance', s.balance), "
        "json_object('status', 'suspended', 'balance', s.balance + n.amount), :now "
        # CROSS JOIN keeps the few new rows in the outer loop (SQLite would rather scan
        # the active subscribers and probe the ledger for each).
        f"FROM {new} CROSS JOIN subscriber s "
        "WHERE s.id = n.subscriber AND s.status = 'active' AND s.balance + n.amount < :limit "
        "AND s.connected_on <= :grace_until RETURNING id",
        **params,
    )
    await q.run(
        f"UPDATE subscriber SET balance = subscriber.balance + n.amount, status = {suspend.format(n='n')} "
        f"FROM {new} WHERE subscriber.id = n.subscriber",
        **params,
    )
    rows = await q.run(
        "SELECT COUNT(*) AS n, COALESCE(SUM(-amount), 0) AS total FROM ledger_entry "
        "WHERE id > :after_id", **params,
    )
    return int(rows[0]["n"]), int(rows[0]["total"]), len(suspended)


async def compute_charge(subscriber_id: int, period: Period | str) -> int:
    """What the charge run books (or booked) for one contract and period, in kopecks (≥ 0).

    The same SQL as the run, restricted to one id: for previews and recalculation.
    """
    period = Period.parse(period) if isinstance(period, str) else period
    q = _Sql()
    rows = await q.run(_due_cte(q) + "\nSELECT charge FROM due",
                       lo=subscriber_id, hi=subscriber_id, **_period_params(period))
    return int(rows[0]["charge"]) if rows else 0


async def _lock_billing(q: _Sql) -> None:
    """Serialise charge runs and tariff scheduling on PostgreSQL (SQLite: BEGIN IMMEDIATE does)."""
    if q.pg:
        await q.run("SELECT pg_advisory_xact_lock(:key)", key=BILLING_LOCK_KEY)


async def _lock_subscriber(subscriber_id: int) -> Subscriber | None:
    query = Subscriber.objects().where(Subscriber.id == subscriber_id)
    if not is_sqlite():
        query = query.lock_rows()
    return await query.first()


def _audit_insert_select(q: _Sql, *, action: str, select_from: str, object_repr: str,
                         before: str, after: str) -> str:
    """``INSERT INTO audit_entry … SELECT`` for set-based changes (one entry per row)."""
    return f"""
INSERT INTO audit_entry (actor, actor_name, action, object_type, object_id, object_repr,
                         message, before, after, created_at)
SELECT :actor_id, :actor_name, '{action}', 'subscriber', CAST(s.id AS TEXT), {object_repr},
       :message, {q.json_object}({before}), {q.json_object}({after}), :now
{select_from}"""


# ---------------------------------------------------------------------------
# Tariff changes


async def schedule_tariff_change(
    subscriber_id: int,
    tariff_id: int,
    effective_from: dt.date,
    actor: Actor,
    *,
    comment: str = "",
    now: dt.datetime | None = None,
) -> TariffChange:
    """Book a tariff change from a date (called when staff complete a tariff-change request).

    Changes of a contract form a chain in date order, each remembering the tariff it
    replaces, so any period can be (re)computed.  The new tariff is billed from
    ``effective_from`` (inclusive); a period already charged cannot change.
    ``Subscriber.tariff`` switches when the date comes (at once if it has).

    >>> await schedule_tariff_change(sub.id, tariff.id, dt.date(2027, 1, 1), staff_actor)

    :raises ValueError: with a Russian message when the change is not possible.
    """
    now = now or utcnow()
    q = _Sql()
    async with write_transaction():
        await _lock_billing(q)
        subscriber = await _lock_subscriber(subscriber_id)
        if subscriber is None:
            raise ValueError(TEXTS["not_found"])
        if subscriber.status == SubscriberStatus.TERMINATED:
            raise ValueError(TEXTS["tariff_terminated"])
        if subscriber.terminated_on is not None and effective_from > subscriber.terminated_on:
            raise ValueError(TEXTS["tariff_after_termination"].format(
                date=subscriber.terminated_on.strftime("%d.%m.%Y")))
        if effective_from <= subscriber.connected_on:
            raise ValueError(TEXTS["tariff_before_connection"].format(
                date=subscriber.connected_on.strftime("%d.%m.%Y")))
        tariff = await Tariff.objects().where(Tariff.id == tariff_id).first()
        if tariff is None:
            raise ValueError(TEXTS["tariff_not_found"])
        if not tariff.active:
            raise ValueError(TEXTS["tariff_archived"].format(name=tariff.name))
        latest = await (TariffChange.objects().where(TariffChange.subscriber == subscriber_id)
                        .order_by(TariffChange.effective_from, ascending=False).first())
        if latest is not None and effective_from <= latest.effective_from:
            raise ValueError(TEXTS["tariff_order"].format(
                date=latest.effective_from.strftime("%d.%m.%Y")))
        from_tariff = latest.tariff if latest is not None else subscriber.tariff
        if from_tariff == tariff_id:
            since = latest.effective_from if latest is not None else subscriber.connected_on
            raise ValueError(TEXTS["tariff_same"].format(date=since.strftime("%d.%m.%Y")))
        period = Period.of(effective_from)
        charged = await LedgerEntry.select(LedgerEntry.period).where(
            (LedgerEntry.subscriber == subscriber_id) & (LedgerEntry.kind == EntryKind.CHARGE)
            & (LedgerEntry.period >= period.label)
        ).order_by(LedgerEntry.period, ascending=False).first()
        if charged is not None:
            last_charged = Period.parse(charged["period"])
            raise ValueError(TEXTS["tariff_charged"].format(
                period=period.label if last_charged == period else last_charged.label,
                date=last_charged.next.first.strftime("%d.%m.%Y")))
        change = TariffChange(subscriber=subscriber_id, from_tariff=from_tariff, tariff=tariff_id,
                              effective_from=effective_from, comment=comment.strip(),
                              created_at=now, created_by=actor.name)
        await change.save()
        await write_audit(action="tariff.change_scheduled", object_type="subscriber",
                          object_id=subscriber_id, object_repr=subscriber.contract_number,
                          actor=actor, message=comment.strip(),
                          before={"tariff": from_tariff},
                          after={"tariff": tariff_id, "effective_from": effective_from.isoformat()})
        if effective_from <= local_date(now):
            await apply_due_tariff_changes(local_date(now), now=now)
            change.applied_at = now
    return change


async def apply_due_tariff_changes(on: dt.date, *, now: dt.datetime | None = None) -> int:
    """Switch ``Subscriber.tariff`` to the latest change effective on or before ``on``.

    Set-based and idempotent; the charge run calls it for the period's 1st day and the
    worker daily.  Billing itself reads the change chain, so the timing of this switch
    never changes an amount.  :returns: the number of changes applied.
    """
    now = now or utcnow()
    q = _Sql()
    due = "FROM tariff_change c WHERE c.effective_from <= :on AND c.applied_at IS NULL"
    async with write_transaction():
        count = await q.run(f"SELECT COUNT(*) AS n {due}", on=on)
        if not int(count[0]["n"]):
            return 0
        await q.run(
            _audit_insert_select(
                q, action="subscriber.tariff_changed", object_repr="s.contract_number",
                select_from="FROM tariff_change c JOIN subscriber s ON s.id = c.subscriber\n"
                            "WHERE c.effective_from <= :on AND c.applied_at IS NULL",
                before="'tariff', c.from_tariff",
                after="'tariff', c.tariff, 'effective_from', CAST(c.effective_from AS TEXT)"),
            on=on, actor_id=None, actor_name=SYSTEM.name, now=now,
            message=TEXTS["tariff_applied"],
        )
        await q.run(
            "UPDATE subscriber SET tariff = ("
            " SELECT c.tariff FROM tariff_change c"
            " WHERE c.subscriber = subscriber.id AND c.effective_from <= :on AND c.applied_at IS NULL"
            " ORDER BY c.effective_from DESC LIMIT 1) "
            f"WHERE id IN (SELECT c.subscriber {due})",
            on=on,
        )
        await q.run(f"UPDATE tariff_change SET applied_at = :now WHERE id IN (SELECT c.id {due})",
                    on=on, now=now)
    return int(count[0]["n"])


# ---------------------------------------------------------------------------
# The charge run


ProgressCallback = Callable[[int, int], Any]


def _finished(started: dt.datetime, clock: float) -> dt.datetime:
    return started + dt.timedelta(seconds=time.monotonic() - clock)


def check_chargeable(period: Period | str, now: dt.datetime | None = None) -> Period:
    """Refuse a period after the current local month (charging January on 7 December
    would bill everyone, suspend debtors and switch booked tariffs weeks early).

    :raises ValueError: with a Russian message for a malformed or future period.
    """
    period = Period.parse(period) if isinstance(period, str) else period
    current = current_period(now)
    if period > current:
        raise ValueError(TEXTS["period_future"].format(period=period.label, current=current.label))
    return period


@dataclass(frozen=True)
class ChargePreview:
    """What :func:`run_charges` would do for a period now; nothing is written."""

    period: Period
    contracts: int  # contracts that would get a charge
    total: int  # kopecks
    suspensions: int  # active contracts the charge would take below the debt limit
    tariff_changes: int  # booked changes the run would switch on
    already_charged: int  # contracts charged for the period before (skipped)


async def preview_charges(period: Period | str | None = None, *,
                          now: dt.datetime | None = None) -> ChargePreview:
    """Preview a charge run with the run's own SQL, read-only (for the clerk to confirm).

    >>> p = await preview_charges("2026-12")
    >>> p.contracts, p.total, p.suspensions, p.tariff_changes
    """
    now = now or utcnow()
    period = check_chargeable(current_period(now) if period is None else period, now)
    q = _Sql()
    bounds = await q.run("SELECT MIN(id) AS lo, MAX(id) AS hi FROM subscriber")
    lo, hi = bounds[0]["lo"], bounds[0]["hi"]
    contracts = total = suspensions = charged_before = 0
    if lo is not None:
        rows = await q.run(
            _due_cte(q) + """
SELECT COUNT(*) AS n, COALESCE(SUM(d.charge), 0) AS total,
       COALESCE(SUM(CASE WHEN s.status = 'active' AND s.balance - d.charge < :limit
                         THEN 1 ELSE 0 END), 0) AS suspended
FROM due d JOIN subscriber s ON s.id = d.id
WHERE d.charge > 0 AND NOT EXISTS (
    SELECT 1 FROM ledger_entry e WHERE e.reference = 'charge:' || CAST(d.id AS TEXT) || ':' || :period)""",
            lo=lo, hi=hi, period=period.label, limit=-debt_threshold(), **_period_params(period))
        contracts, total, suspensions = (int(rows[0]["n"]), int(rows[0]["total"]),
                                         int(rows[0]["suspended"]))
        done = await q.run("SELECT COUNT(*) AS n FROM ledger_entry WHERE kind = 'charge' "
                           "AND period = :period AND reference LIKE 'charge:%'", period=period.label)
        charged_before = int(done[0]["n"])
    changes = await q.run("SELECT COUNT(*) AS n FROM tariff_change "
                          "WHERE effective_from <= :on AND applied_at IS NULL", on=period.first)
    return ChargePreview(period=period, contracts=contracts, total=total, suspensions=suspensions,
                         tariff_changes=int(changes[0]["n"]), already_charged=charged_before)


async def run_charges(
    period: Period | str | None = None,
    *,
    actor: Actor,
    now: dt.datetime | None = None,
    progress: ProgressCallback | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> BillingRun:
    """Charge the monthly fee for ``period`` to every billable contract, once.

    Billable: connected on or before the period's last day and not terminated before
    its first (suspended contracts owe and are charged).  Safe to re-run and to run
    concurrently: a contract already charged for the period is skipped, so a later run
    only picks up contracts that became billable since (e.g. connected mid-month).
    An active contract whose balance falls below ``-CENTRA_DEBT_THRESHOLD_KOPECKS``
    with this charge is suspended (and audited) in the same statement — unless it was
    connected less than ``CENTRA_NEW_CONTRACT_GRACE_DAYS`` ago; a later run suspends
    it when that grace is over and the debt still there.  The run is
    recorded in :class:`BillingRun` (a failed one too) and audited.

    :param period: ``"YYYY-MM"``; the current (local) month when omitted; a later month
        is refused (:func:`check_chargeable`).
    :param now: the clock (injected in tests); entries and the run record carry it.
    :param progress: called with (subscriber ids done, ids total) after each chunk.

    >>> run = await run_charges("2026-12", actor=Actor("admin", staff_id=1))
    >>> run.contracts_charged, run.total, run.contracts_suspended
    """
    started = now or utcnow()
    clock = time.monotonic()
    now = started
    if period is None:
        period = current_period(now)
    elif isinstance(period, str):
        period = Period.parse(period)
    check_chargeable(period, now)
    q = _Sql()
    try:
        async with write_transaction():
            await _lock_billing(q)
            applied = await apply_due_tariff_changes(period.first, now=now)
            bounds = await q.run("SELECT MIN(id) AS lo, MAX(id) AS hi FROM subscriber")
            lo, hi = bounds[0]["lo"], bounds[0]["hi"]
            charged = total = suspended = 0
            if lo is not None:
                span = hi - lo + 1
                base = {**_period_params(period), "period": period.label, "now": now,
                        "by": actor.name[:150], "limit": -debt_threshold(),
                        "grace_until": grace_until(local_date(now)),
                        "actor_id": actor.staff_id, "actor_name": actor.name[:150],
                        "message": TEXTS["suspended_message"].format(period=period.label),
                        "comment": TEXTS["charge_comment"].format(month=period.title),
                        "days_open": TEXTS["charge_days_open"], "days_of": TEXTS["charge_days_of"],
                        "days_close": TEXTS["charge_days_close"]}
                for start in range(lo, hi + 1, chunk_size):
                    end = min(start + chunk_size - 1, hi)
                    n, kopecks, debtors = await _charge_chunk(q, {**base, "lo": start, "hi": end})
                    charged, total, suspended = charged + n, total + kopecks, suspended + debtors
                    if progress is not None:
                        progress(end - lo + 1, span)
                suspended += await _suspend_after_grace(q, now=now, actor=actor)
            run = BillingRun(period=period.label, status=RunStatus.DONE, started_at=started,
                             finished_at=_finished(started, clock), contracts_charged=charged, total=total,
                             contracts_suspended=suspended, tariff_changes_applied=applied,
                             started_by=actor.name[:150], staff=actor.staff_id)
            await run.save()
            await write_audit(action="billing.charged", object_type="billing_run",
                              object_id=run.id, object_repr=period.label, actor=actor,
                              after={"period": period.label, "charged": charged, "total": total,
                                     "suspended": suspended, "tariff_changes": applied})
        return run
    except Exception as exc:
        if engine().current_transaction.get() is None:  # not inside a caller's transaction
            await BillingRun(period=period.label, status=RunStatus.FAILED, started_at=started,
                             finished_at=_finished(started, clock), started_by=actor.name[:150],
                             staff=actor.staff_id, error=repr(exc)[:2000]).save()
        raise


async def _suspend_after_grace(q: _Sql, *, now: dt.datetime, actor: Actor) -> int:
    """Suspend the new contracts still in debt whose grace after connection has just ended.

    Their charges were booked during the grace without suspending them; nothing else would
    look at them again before next month's charge. In the caller's transaction.
    """
    days = get_settings().new_contract_grace_days
    if days <= 0:
        return 0
    until = grace_until(local_date(now))
    rows = await q.run(
        "SELECT id, contract_number, balance FROM subscriber WHERE status = 'active' "
        "AND balance < :limit AND connected_on <= :until AND connected_on > :since",
        limit=-debt_threshold(), until=until, since=until - dt.timedelta(days=GRACE_SWEEP_DAYS),
    )
    suspended = 0
    for row in rows:
        done = await Subscriber.update({Subscriber.status: SubscriberStatus.SUSPENDED}).where(
            (Subscriber.id == row["id"]) & (Subscriber.status == SubscriberStatus.ACTIVE)
        ).returning(Subscriber.id)
        if done:
            suspended += 1
            await write_audit(action="subscriber.suspended", object_type="subscriber",
                              object_id=row["id"], object_repr=row["contract_number"], actor=actor,
                              message=TEXTS["suspended_after_grace"].format(days=days),
                              before={"status": "active", "balance": row["balance"]},
                              after={"status": "suspended", "balance": row["balance"]})
    return suspended


async def settle_terminated_charges(subscriber_id: int, *, actor: Actor) -> int:
    """Give back what was charged in advance for days after ``terminated_on``.

    For the termination workflow: the run charges the current month on the 1st, so a
    contract terminated on the 10th was charged in full.  Every charged period from
    the termination month on is recomputed with the run's own SQL and the excess
    credited once (reference ``charge-correction:<id>:<period>``).  Idempotent.

    :returns: kopecks credited by this call.
    """
    credited = 0
    async with write_transaction():
        subscriber = await _lock_subscriber(subscriber_id)
        if subscriber is None:
            raise ValueError(TEXTS["not_found"])
        if subscriber.terminated_on is None:
            raise ValueError(TEXTS["not_terminated"])
        first = Period.of(subscriber.terminated_on).label
        rows = await LedgerEntry.raw(
            "SELECT period, SUM(amount) AS amount FROM ledger_entry "
            "WHERE subscriber = {} AND kind = 'charge' AND period >= {} GROUP BY period",
            subscriber_id, first,
        )
        for row in rows:
            period = Period.parse(row["period"])
            excess = -int(row["amount"]) - await compute_charge(subscriber_id, period)
            if excess <= 0:
                continue
            await post_entry(
                subscriber_id, excess, EntryKind.CHARGE, f"charge-correction:{subscriber_id}:{period}",
                period=period.label, created_by=actor.name,
                comment=TEXTS["correction_comment"].format(
                    month=period.title, date=subscriber.terminated_on.strftime("%d.%m.%Y")),
            )
            credited += excess
        if credited:
            await write_audit(action="billing.termination_settled", object_type="subscriber",
                              object_id=subscriber_id, object_repr=subscriber.contract_number,
                              actor=actor, after={"credited": credited,
                                                  "terminated_on": subscriber.terminated_on.isoformat()})
    return credited


# ---------------------------------------------------------------------------
# Promised payments (обещанный платёж)


@dataclass(frozen=True)
class PromisedPaymentOffer:
    """What the cabinet shows: whether a promised payment can be taken now, and why not."""

    available: bool
    max_amount: int  # kopecks
    reason: str  # Russian: the offer when available, the refusal otherwise
    expires_at: dt.datetime | None = None  # when one taken now would end
    active: PromisedPayment | None = None  # the one running now, if any


async def _monthly_fee(subscriber: Subscriber) -> int:
    tariff = await Tariff.select(Tariff.monthly_fee, Tariff.router_fee).where(
        Tariff.id == subscriber.tariff).first()
    if tariff is None:
        return 0
    return tariff["monthly_fee"] + (tariff["router_fee"] if subscriber.router_rented else 0)


_PROMISED_SQL = (
    "SELECT id, subscriber, amount, period, granted_at, expires_at, reversed_at, created_by"
    " FROM promised_payment WHERE subscriber = {} AND (reversed_at IS NULL OR period = {})"
    " ORDER BY id DESC"
)


async def _offer(subscriber: Subscriber | None, now: dt.datetime, *,
                 fee: int | None = None) -> PromisedPaymentOffer:
    if subscriber is None:
        return PromisedPaymentOffer(False, 0, TEXTS["not_found"])
    if subscriber.status == SubscriberStatus.TERMINATED:
        return PromisedPaymentOffer(False, 0, TEXTS["promised_terminated"])
    if subscriber.terminated_on is not None:
        # Its reversal could fall after the contract has ended.
        return PromisedPaymentOffer(False, 0, TEXTS["promised_terminating"].format(
            date=subscriber.terminated_on.strftime("%d.%m.%Y")))
    period = current_period(now).label
    # The running one and this month's one in one read (the dashboard asks on every view).
    rows = [PromisedPayment(_exists_in_db=True, **row)
            for row in await PromisedPayment.raw(_PROMISED_SQL, subscriber.id, period)]
    active = next((row for row in rows if row.reversed_at is None), None)
    if active is not None:
        return PromisedPaymentOffer(False, 0, TEXTS["promised_active"].format(
            until=_local_text(active.expires_at)), active=active)
    used = next((row for row in rows if row.period == period), None)
    if used is not None:
        return PromisedPaymentOffer(False, 0, TEXTS["promised_used"].format(
            date=used.granted_at.astimezone(LOCAL_TZ).strftime("%d.%m.%Y")))
    if fee is None:
        fee = await _monthly_fee(subscriber)
    if fee <= 0:
        return PromisedPaymentOffer(False, 0, TEXTS["promised_no_fee"])
    if subscriber.status == SubscriberStatus.SUSPENDED and subscriber.balance + fee < 0:
        debt = -subscriber.balance
        return PromisedPaymentOffer(False, 0, TEXTS["promised_debt_too_large"].format(
            debt=format_plain(debt), max=format_plain(fee), rest=format_plain(debt - fee)))
    return PromisedPaymentOffer(
        True, fee, TEXTS["promised_available"].format(max=format_plain(fee), days=PROMISED_DAYS),
        expires_at=now + dt.timedelta(days=PROMISED_DAYS),
    )


async def promised_payment_offer(subscriber_id: int, *, now: dt.datetime | None = None
                                 ) -> PromisedPaymentOffer:
    """Whether the subscriber may take a promised payment now, up to how much, and why not.

    Rules: up to one monthly fee (tariff + router rental), for 3 days, once per calendar
    month (local time), one at a time, never for a terminated (or terminating) contract,
    and for a suspended contract only when it restores service (the debt is at most one
    fee); otherwise the reason says how much to pay.

    >>> offer = await promised_payment_offer(subscriber.id, now=utcnow())
    >>> offer.available, offer.max_amount, offer.reason
    (True, 75000, 'Можно взять до 750 ₽ на 3 дня')
    """
    now = now or utcnow()
    subscriber = await Subscriber.objects().where(Subscriber.id == subscriber_id).first()
    return await _offer(subscriber, now)


async def promised_offer_for(subscriber: Subscriber, *, fee: int,
                             now: dt.datetime) -> PromisedPaymentOffer:
    """``promised_payment_offer`` for a contract and monthly fee the caller has already read."""
    return await _offer(subscriber, now, fee=fee)


async def grant_promised_payment(
    subscriber_id: int,
    *,
    now: dt.datetime | None = None,
    amount: int | None = None,
    actor: Actor | None = None,
) -> PromisedPayment:
    """Credit a promised payment now (reversed automatically after 3 days).

    A credit that brings a suspended contract to ≥ 0 re-activates it (``post_entry``).

    >>> promised = await grant_promised_payment(subscriber.id, now=utcnow())
    >>> promised.amount, promised.expires_at  # the full monthly fee by default

    :param amount: kopecks, 1 … one monthly fee; the full fee when omitted.
    :raises ValueError: with the Russian reason when not available.
    """
    now = now or utcnow()
    async with write_transaction():
        subscriber = await _lock_subscriber(subscriber_id)
        offer = await _offer(subscriber, now)
        if not offer.available or subscriber is None:
            raise ValueError(offer.reason)
        amount = offer.max_amount if amount is None else amount
        if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount <= offer.max_amount:
            raise ValueError(TEXTS["promised_amount"].format(max=format_plain(offer.max_amount)))
        if subscriber.status == SubscriberStatus.SUSPENDED and subscriber.balance + amount < 0:
            raise ValueError(TEXTS["promised_below_debt"].format(
                debt=format_plain(-subscriber.balance), max=format_plain(offer.max_amount)))
        actor = actor or Actor(f"subscriber:{subscriber.contract_number}")
        expires = now + dt.timedelta(days=PROMISED_DAYS)
        promised = PromisedPayment(subscriber=subscriber_id, amount=amount,
                                   period=current_period(now).label, granted_at=now,
                                   expires_at=expires, created_by=actor.name[:150])
        await promised.save()
        _, balance = await post_entry(subscriber_id, amount, EntryKind.PROMISED,
                                      f"promised:{promised.id}", created_by=actor.name,
                                      comment=TEXTS["promised_comment"].format(until=_local_text(expires)))
        await write_audit(action="promised.granted", object_type="subscriber",
                          object_id=subscriber_id, object_repr=subscriber.contract_number,
                          actor=actor, after={"promised_payment": promised.id, "amount": amount,
                                              "expires_at": expires.isoformat(), "balance": balance})
    return promised


async def reverse_expired_promised_payments(*, now: dt.datetime | None = None,
                                            batch_size: int = 500) -> int:
    """Book the reversal of every promised payment whose 3 days are over.

    Each reversal is its own transaction (claimed by setting ``reversed_at``, and its
    ledger reference ``promised:<id>:reversal`` is unique), so overlapping runs are
    harmless.  A contract left below the debt threshold is suspended again.

    :returns: the number reversed.
    """
    now = now or utcnow()
    limit = -debt_threshold()
    reversed_count = 0
    while True:
        due = await PromisedPayment.select(PromisedPayment.id).where(
            PromisedPayment.reversed_at.is_null() & (PromisedPayment.expires_at <= now)
        ).order_by(PromisedPayment.id).limit(batch_size)
        if not due:
            return reversed_count
        for row in due:
            async with write_transaction():
                claimed = await PromisedPayment.update({PromisedPayment.reversed_at: now}).where(
                    (PromisedPayment.id == row["id"]) & PromisedPayment.reversed_at.is_null()
                ).returning(PromisedPayment.subscriber, PromisedPayment.amount,
                            PromisedPayment.granted_at)
                if not claimed:
                    continue
                sid, amount = claimed[0]["subscriber"], claimed[0]["amount"]
                _, balance = await post_entry(
                    sid, -amount, EntryKind.PROMISED, f"promised:{row['id']}:reversal",
                    comment=TEXTS["promised_reversal_comment"].format(
                        date=claimed[0]["granted_at"].astimezone(LOCAL_TZ).strftime("%d.%m.%Y")),
                )
                await write_audit(action="promised.reversed", object_type="subscriber",
                                  object_id=sid, actor=SYSTEM,
                                  after={"promised_payment": row["id"], "balance": balance})
                if balance < limit:
                    suspended = await Subscriber.update(
                        {Subscriber.status: SubscriberStatus.SUSPENDED}
                    ).where((Subscriber.id == sid) & (Subscriber.status == SubscriberStatus.ACTIVE)
                            ).returning(Subscriber.id)
                    if suspended:
                        await write_audit(action="subscriber.suspended", object_type="subscriber",
                                          object_id=sid, actor=SYSTEM,
                                          message=TEXTS["suspended_after_promised"],
                                          before={"status": "active"},
                                          after={"status": "suspended", "balance": balance})
                reversed_count += 1
