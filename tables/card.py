"""Read models of the staff subscriber card and the staff landing page (no writes).

The card gathers what a clerk needs about one contract on one screen; the search finds
contracts by number, phone, surname or address from partial, case-insensitive input.
SQLite's ``LIKE``/``LOWER`` fold ASCII only, so a Cyrillic word is matched in the three
spellings people and the directory use (lower, Capitalised, UPPER) on both engines.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from db.engine import write_transaction
from tables.addresses import format_address
from tables.audit import action_label, contract_history
from tables.billing.fee import monthly_fee_for
from tables.billing.forecast import forecast
from tables.billing.pauses import PAUSE_STATUS_LABELS, Pause, PauseStatus, pause_upcoming
from tables.billing.promised import PromisedPayment
from tables.calendar import LOCAL_TZ, as_utc, local_date, utcnow
from tables.month import Month
from tables.notifications import CHANNEL_LABELS, NOTIFICATION_STATUS_LABELS, problem_notifications
from tables.payments.autopay import autopay_summary
from tables.payments.payment import PAYMENT_CHANNEL_LABELS, PAYMENT_STATUS_LABELS, Payment
from tables.requests.queue import (
    REQUEST_KIND_LABELS,
    REQUEST_STATUS_LABELS,
    REQUEST_TOPIC_LABELS,
    RequestEvent,
    ServiceRequest,
)
from tables.statements import statement_range
from tables.subscribers import SUBSCRIBER_STATUS_LABELS, Subscriber

SEARCH_LIMIT = 50
#: Areas of a contract's history, for actions without a label of their own («Абонент: изменена запись»).
HISTORY_AREAS = {"subscriber": "Абонент", "payment": "Платёж", "service_request": "Заявка"}
OPEN_STATUSES = ("new", "in_progress")


def initials(full_name: str) -> str:
    """"Смирнов Дмитрий Иванович" → "Смирнов Д. И." (how a clerk reads a contract out)."""
    parts = (full_name or "").split()
    if not parts:
        return ""
    return " ".join([parts[0], *(p[0] + "." for p in parts[1:3])])


def contract_label(number: str, full_name: str) -> str:
    """"договор 100004, Смирнов Д. И." — who a confirmation is about."""
    return f"договор {number}, {initials(full_name)}"


def _spellings(word: str) -> list[str]:
    low = word.lower()
    return list(dict.fromkeys([low, low[:1].upper() + low[1:], low.upper(), word]))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_SEARCH_SELECT = """
SELECT s.id, s.contract_number, s.full_name, s.phone, s.status, s.balance,
       t.name AS town, st.name AS street, a.house, a.apartment, tr.name AS tariff
FROM subscriber s
JOIN address a ON a.id = s.address
JOIN street st ON st.id = a.street
JOIN town t ON t.id = st.town
JOIN tariff tr ON tr.id = s.tariff
"""


def _word_clause(word: str, columns: list[str], args: list[Any]) -> str:
    alternatives = []
    for spelling in _spellings(word):
        for column in columns:
            args.append(f"%{_escape_like(spelling)}%")
            alternatives.append(f"{column} LIKE {{}} ESCAPE '\\'")
    return "(" + " OR ".join(alternatives) + ")"


async def search_subscribers(query: str, limit: int = SEARCH_LIMIT) -> list[dict[str, Any]]:
    """Contracts matching a clerk's input, by contract number first.

    Digits alone match the contract number or the phone (``8 913…`` as ``+7913…``);
    words match the surname/name or the street (and town); a number next to words is the
    house, a second one the flat: ``"ленина 10 5"``, ``"смирн"``, ``"100004"``, ``"913 123"``.
    """
    text = " ".join((query or "").replace(",", " ").replace("ё", "е").replace("Ё", "Е").split())[:100]
    if not text:
        return []
    args: list[Any] = []
    digits = re.sub(r"[\s()+\-]", "", text)
    if digits.isdigit():
        phone = "7" + digits[1:] if len(digits) == 11 and digits[0] == "8" else digits
        args = [f"%{digits}%", f"%{phone}%"]
        where = "s.contract_number LIKE {} OR s.phone LIKE {}"
    else:
        tokens = re.findall(r"[^\s\-/.]+", text)
        words = [t for t in tokens if not any(c.isdigit() for c in t)]
        numbers = [t for t in tokens if any(c.isdigit() for c in t)]
        parts = []
        if not numbers:
            parts.append(" AND ".join(_word_clause(w, ["s.full_name"], args) for w in words))
        place = [_word_clause(w, ["st.name", "t.name"], args) for w in words]
        if numbers:
            args.append(numbers[0].lower())
            place.append("LOWER(a.house) = {}")
        if len(numbers) > 1:
            args.append(numbers[1].lower())
            place.append("LOWER(a.apartment) = {}")
        parts.append(" AND ".join(place))
        where = " OR ".join(f"({p})" for p in parts if p)
    args.append(limit)
    rows = await Subscriber.raw(
        _SEARCH_SELECT + f"WHERE {where}\nORDER BY s.contract_number LIMIT {{}}", *args)
    for row in rows:
        row["address"] = format_address(row["town"], row["street"], row["house"], row["apartment"])
        row["status_label"] = SUBSCRIBER_STATUS_LABELS.get(row["status"], row["status"])
        row["label"] = contract_label(row["contract_number"], row["full_name"])
    return rows


@dataclass
class SubscriberCard:
    """Everything on the card; plain dicts so the template reads them directly."""

    subscriber: dict[str, Any]
    label: str
    address: str
    tariff: dict[str, Any]
    fee: int
    booked_change: dict[str, Any] | None
    forecast: Any
    statements: list[Any]
    payments: list[dict[str, Any]]
    requests: list[dict[str, Any]]
    promised: list[dict[str, Any]]
    history: list[dict[str, Any]]
    #: Messages that did not (surely) reach the subscriber: failed, maybe sent, nowhere to send.
    undelivered: list[dict[str, Any]] = field(default_factory=list)
    #: The saved card and autopay settings with the latest charges (None: no card saved).
    autopay: dict[str, Any] | None = None
    #: Voluntary pauses, latest first (the booked or running one, if any, is ``pauses[0]``).
    pauses: list[dict[str, Any]] = field(default_factory=list)


async def subscriber_card(contract_number: str, *, now: dt.datetime | None = None,
                          statement_months: int = 3) -> SubscriberCard | None:
    """The card of one contract (``None`` when the number is unknown)."""
    now = now or utcnow()
    number = (contract_number or "").strip()
    if not number.isdigit() or len(number) > 12:
        return None
    rows = await Subscriber.raw(
        _SEARCH_SELECT.replace("tr.name AS tariff", "tr.name AS tariff, tr.monthly_fee, tr.router_fee, "
                               "s.email, s.router_rented, s.connected_on, s.terminated_on, s.address "
                               "AS address_id, s.tariff AS tariff_id, s.must_change_password, "
                               "s.locked_until, s.created_at")
        + "WHERE s.contract_number = {}", number)
    if not rows:
        return None
    s = rows[0]
    s["status_label"] = SUBSCRIBER_STATUS_LABELS.get(s["status"], s["status"])
    change = await Subscriber.raw(
        "SELECT c.effective_from, c.comment, c.created_by, t.name, t.monthly_fee FROM tariff_change c "
        "JOIN tariff t ON t.id = c.tariff WHERE c.subscriber = {} AND c.applied_at IS NULL "
        "ORDER BY c.effective_from LIMIT 1", s["id"])
    today = local_date(now)
    fee = await monthly_fee_for(s["id"], s["tariff_id"], bool(s["router_rented"]), today=today,
                                terminated_on=s["terminated_on"])
    current = Month.of(today)
    statements = await statement_range(s["id"], str(current - (statement_months - 1)), str(current))
    payments = await Payment.select(
        Payment.id, Payment.amount, Payment.refunded_amount, Payment.status, Payment.channel,
        Payment.period, Payment.created_at, Payment.created_by, Payment.card_brand, Payment.card_last4,
        Payment.provider_intent_id,
    ).where(Payment.subscriber == s["id"]).order_by(Payment.id, ascending=False).limit(20)
    for p in payments:
        p["status_label"] = PAYMENT_STATUS_LABELS.get(p["status"], p["status"])
        p["channel_label"] = PAYMENT_CHANNEL_LABELS.get(p["channel"], p["channel"])
        p["refundable"] = refundable(p)
    requests = await ServiceRequest.select(
        ServiceRequest.id, ServiceRequest.number, ServiceRequest.kind, ServiceRequest.status,
        ServiceRequest.topic, ServiceRequest.text, ServiceRequest.created_at, ServiceRequest.close_reason,
    ).where(ServiceRequest.subscriber == s["id"]).order_by(ServiceRequest.id, ascending=False).limit(20)
    events: dict[int, list[dict[str, Any]]] = {r["id"]: [] for r in requests}
    if requests:
        for event in await RequestEvent.select(
            RequestEvent.service_request, RequestEvent.author_name, RequestEvent.status_from,
            RequestEvent.status_to, RequestEvent.message, RequestEvent.internal, RequestEvent.created_at,
        ).where(RequestEvent.service_request.is_in(list(events))).order_by(RequestEvent.id):
            event["status_label"] = REQUEST_STATUS_LABELS.get(event["status_to"], "")
            events[event["service_request"]].append(event)
    for r in requests:
        r["kind_label"] = REQUEST_KIND_LABELS.get(r["kind"], r["kind"])
        r["status_label"] = REQUEST_STATUS_LABELS.get(r["status"], r["status"])
        r["topic_label"] = REQUEST_TOPIC_LABELS.get(r["topic"], "") if r["topic"] else ""
        r["events"] = events[r["id"]]
    promised = await PromisedPayment.select().where(PromisedPayment.subscriber == s["id"]).order_by(
        PromisedPayment.id, ascending=False).limit(12)
    upcoming = change[0] if change else None
    history = await contract_history(s["id"], limit=30)
    undelivered = await problem_notifications(s["id"])
    for n in undelivered:
        n["status_label"] = NOTIFICATION_STATUS_LABELS.get(n["status"], n["status"])
        n["channel_label"] = CHANNEL_LABELS.get(n["channel"], "—")
    for h in history:
        h["action_label"] = action_label(h["action"], HISTORY_AREAS)
    return SubscriberCard(
        subscriber=s, label=contract_label(s["contract_number"], s["full_name"]),
        address=format_address(s["town"], s["street"], s["house"], s["apartment"]),
        tariff={"id": s["tariff_id"], "name": s["tariff"], "monthly_fee": s["monthly_fee"]},
        fee=fee.current, booked_change=upcoming,
        forecast=forecast(s["balance"], fee.next, today, await pause_upcoming(s["id"], fee.next, today)),
        statements=list(reversed(statements)), payments=payments, requests=requests,
        promised=promised, history=history, undelivered=undelivered,
        autopay=await autopay_summary(s["id"]),
        pauses=await _pauses(s["id"]),
    )


async def _pauses(subscriber_id: int) -> list[dict[str, Any]]:
    rows = await Pause.select(Pause.id, Pause.starts_on, Pause.ends_on, Pause.planned_ends_on,
                              Pause.status, Pause.booked_by, Pause.ended_by).where(
        Pause.subscriber == subscriber_id).order_by(Pause.starts_on, ascending=False).limit(6)
    for row in rows:
        row["status_label"] = PAUSE_STATUS_LABELS.get(row["status"], row["status"])
        row["open"] = row["status"] in (PauseStatus.BOOKED, PauseStatus.ACTIVE)
    return rows


def refundable(payment: dict[str, Any]) -> int:
    """Kopecks still refundable to the card (0 for cash, unpaid or fully refunded payments)."""
    if payment["channel"] == "office" or not payment.get("provider_intent_id"):
        return 0
    if payment["status"] != "succeeded":
        return 0
    return max(0, payment["amount"] - payment["refunded_amount"])


async def payment_for_refund(payment_id: int) -> dict[str, Any] | None:
    """A payment with its contract, for the refund confirmation."""
    rows = await Payment.raw(
        "SELECT p.id, p.amount, p.refunded_amount, p.status, p.channel, p.provider_intent_id, "
        "p.created_at, p.card_brand, p.card_last4, s.contract_number, s.full_name, s.id AS subscriber_id "
        "FROM payment p JOIN subscriber s ON s.id = p.subscriber WHERE p.id = {}", payment_id)
    if not rows:
        return None
    row = rows[0]
    row["refundable"] = refundable(row)
    row["label"] = contract_label(row["contract_number"], row["full_name"])
    return row


async def receipt(payment_id: int) -> dict[str, Any] | None:
    """What the printed receipt of an office payment shows."""
    rows = await Payment.raw(
        "SELECT p.id, p.amount, p.period, p.created_at, p.created_by, p.channel, p.status, "
        "s.contract_number, s.full_name, s.balance, t.name AS town, st.name AS street, a.house, "
        "a.apartment FROM payment p JOIN subscriber s ON s.id = p.subscriber "
        "JOIN address a ON a.id = s.address JOIN street st ON st.id = a.street "
        "JOIN town t ON t.id = st.town WHERE p.id = {} AND p.channel = 'office'", payment_id)
    if not rows:
        return None
    row = rows[0]
    row["address"] = format_address(row["town"], row["street"], row["house"], row["apartment"])
    row["label"] = contract_label(row["contract_number"], row["full_name"])
    return row


class _DryRun(Exception):
    """Raised to roll a dry run back."""


async def dry_run(work: Any) -> Any:
    """Run domain functions inside one transaction and roll it back: the exact outcome,
    nothing written (domain functions' own transactions nest into this one)."""
    result: list[Any] = []
    try:
        async with write_transaction():
            result.append(await work())
            raise _DryRun
    except _DryRun:
        pass
    return result[0]


@dataclass(frozen=True)
class OfficeToday:
    """The staff landing page's figures."""

    payments_count: int
    payments_total: int
    queues: list[dict[str, Any]]
    applications: int
    debtors: int
    day_start: dt.datetime


async def office_today(now: dt.datetime | None = None) -> OfficeToday:
    """Today's (local) credited payments, open requests per queue with the oldest wait,
    new connection applications and active contracts in debt."""
    now = now or utcnow()
    start = dt.datetime.combine(local_date(now), dt.time(), tzinfo=LOCAL_TZ).astimezone(dt.UTC)
    paid = await Payment.raw(
        "SELECT COUNT(*) AS n, COALESCE(SUM(amount), 0) AS total FROM payment "
        "WHERE status IN ('succeeded', 'refunded') AND created_at >= {}", start)
    queues = await ServiceRequest.raw(
        "SELECT kind, COUNT(*) AS n, MIN(created_at) AS oldest FROM service_request "
        "WHERE status IN ({}, {}) GROUP BY kind ORDER BY kind", *OPEN_STATUSES)
    for q in queues:
        q["oldest"] = oldest = as_utc(q["oldest"])  # SQLite hands aggregates back as text
        q["waiting"] = now - oldest
        q["label"] = REQUEST_KIND_LABELS.get(q["kind"], q["kind"])
    apps = await ServiceRequest.raw(
        "SELECT COUNT(*) AS n FROM service_request WHERE kind = 'connection' AND status = 'new'")
    debtors = await Subscriber.raw(
        "SELECT COUNT(*) AS n FROM subscriber WHERE balance < 0 AND status <> 'terminated'")
    return OfficeToday(payments_count=int(paid[0]["n"]), payments_total=int(paid[0]["total"]),
                       queues=queues, applications=int(apps[0]["n"]), debtors=int(debtors[0]["n"]),
                       day_start=start)


def waiting_text(delta: dt.timedelta) -> str:
    """A wait as a clerk says it: "2 дн. 3 ч", "5 ч 10 мин", "12 мин"."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} дн. {hours} ч"
    if hours:
        return f"{hours} ч {mins} мин"
    return f"{mins} мин"


async def search_addresses(query: str, limit: int = 30) -> list[dict[str, Any]]:
    """Directory addresses matching "ленина 10 5" (street or town words, then house, flat),
    each with the contract already living there, if any."""
    text = " ".join((query or "").replace(",", " ").replace("ё", "е").replace("Ё", "Е").split())[:100]
    tokens = re.findall(r"[^\s\-/.]+", text)
    words = [t for t in tokens if not any(c.isdigit() for c in t)]
    numbers = [t for t in tokens if any(c.isdigit() for c in t)]
    if not words:
        return []
    args: list[Any] = []
    where = [_word_clause(w, ["st.name", "t.name"], args) for w in words]
    if numbers:
        args.append(numbers[0].lower())
        where.append("LOWER(a.house) = {}")
    if len(numbers) > 1:
        args.append(numbers[1].lower())
        where.append("LOWER(a.apartment) = {}")
    args.append(limit)
    rows = await Subscriber.raw(
        "SELECT a.id, t.name AS town, st.name AS street, a.house, a.apartment, "
        "(SELECT MIN(s.contract_number) FROM subscriber s WHERE s.address = a.id "
        " AND s.status <> 'terminated') AS occupied_by "
        "FROM address a JOIN street st ON st.id = a.street JOIN town t ON t.id = st.town "
        f"WHERE {' AND '.join(where)} ORDER BY t.name, st.name, a.house, a.apartment LIMIT {{}}", *args)
    for row in rows:
        row["label"] = format_address(row["town"], row["street"], row["house"], row["apartment"])
    return rows


async def address_label(address_id: int) -> str | None:
    rows = await Subscriber.raw(
        "SELECT t.name AS town, st.name AS street, a.house, a.apartment FROM address a "
        "JOIN street st ON st.id = a.street JOIN town t ON t.id = st.town WHERE a.id = {}", address_id)
    return format_address(**rows[0]) if rows else None


async def active_tariffs() -> list[dict[str, Any]]:
    """Tariffs a new contract may take, by name (archived ones are not offered)."""
    return await Subscriber.raw(
        "SELECT id, name, monthly_fee FROM tariff WHERE active = {} ORDER BY monthly_fee, name", True)
