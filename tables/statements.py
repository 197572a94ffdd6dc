"""What the cabinet reads about a contract: monthly statements, dashboard, profile.

Read-only: nothing here changes data.

Statement rule: an entry belongs to the calendar month of its ``created_at`` in the
provider's local time (Asia/Novokuznetsk). ``created_at`` never changes (the ledger is
append-only) and is never in the future, so a past month's statement never changes
afterwards, ``opening(m + 1) == closing(m)`` and the current month's closing balance is
the contract's balance. ``LedgerEntry.period`` (the month a charge or a payment is *for*)
is shown beside the entry but does not move it to another month.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field

from tables.addresses import Address, format_address
from tables.billing.fee import monthly_fee, tariff_fee
from tables.billing.forecast import Forecast, forecast
from tables.billing.pauses import pause_upcoming
from tables.billing.promised import PromisedPaymentOffer, promised_offer_for
from tables.calendar import as_utc, local_date
from tables.content import MAINTENANCE_LEAD, NewsItem, NewsKind, active_maintenance_for_address
from tables.ledger import LedgerEntry, entry_label
from tables.month import Month
from tables.requests.queue import REQUEST_KIND_LABELS, REQUEST_STATUS_LABELS, RequestStatus, ServiceRequest
from tables.subscribers import Subscriber, SubscriberStatus, mask_email, mask_name, mask_phone
from tables.tariffs import Tariff

#: The longest range one statement download may span.
MAX_RANGE_MONTHS = 36
#: Maintenance starting within this time ahead is announced on the dashboard.
#: The earliest month anyone may ask a statement for.
EARLIEST_MONTH = Month(2000, 1)

MESSAGES = {
    "period_format": "Месяц указывается в виде ГГГГ-ММ, например 2026-11.",
    "period_future": "Выписка за будущий месяц ещё не сформирована.",
    "period_early": "Выписка доступна начиная с {first}.",
    "range_order": "Начало периода должно быть не позже конца.",
    "range_long": f"Можно выгрузить не больше {MAX_RANGE_MONTHS} месяцев за один раз.",
}

OPEN_REQUEST_STATUSES = (RequestStatus.NEW, RequestStatus.IN_PROGRESS)


# --- months (tables.month.Month; stored and shown periods stay "YYYY-MM" text) -------------

def _month(period: str | None) -> Month:
    """A month typed or picked by the subscriber, refused in the statement's words."""
    return Month.parse(period, message=MESSAGES["period_format"])


def check_period(period: str, *, first: str, current: str) -> None:
    """Refuse months outside ``first``..``current`` with a clear message."""
    if _month(period) > _month(current):
        raise ValueError(MESSAGES["period_future"])
    if _month(period) < _month(first):
        raise ValueError(MESSAGES["period_early"].format(first=_month(first).dotted))


def parse_range(start: str | None, end: str | None, *, first: str,
                current: str) -> tuple[str, str]:
    """Validate a ``from``/``to`` pair of months; a missing end is the current month
    and a missing start equals the end.

    :raises ValueError: with a message for the subscriber.
    """
    last = str(_month(end)) if (end or "").strip() else current
    begin = str(_month(start)) if (start or "").strip() else last
    if _month(begin) > _month(last):
        raise ValueError(MESSAGES["range_order"])
    if _month(begin).months_until(_month(last)) > MAX_RANGE_MONTHS:
        raise ValueError(MESSAGES["range_long"])
    check_period(last, first=first, current=current)
    check_period(begin, first=first, current=current)
    return begin, last


# --- statements ---------------------------------------------------------------------------

@dataclass(frozen=True)
class StatementLine:
    id: int
    created_at: dt.datetime
    kind: str
    amount: int
    period: str | None
    comment: str
    balance_after: int

    @property
    def label(self) -> str:
        """The entry's description (credit wording for a credit, e.g. the termination's give-back)."""
        return entry_label(self.kind, self.amount)


@dataclass
class MonthStatement:
    """One month of a contract's ledger; ``closing == opening + credits + debits``."""

    period: str
    opening: int
    lines: list[StatementLine] = field(default_factory=list)

    @property
    def credits(self) -> int:
        return sum(line.amount for line in self.lines if line.amount > 0)

    @property
    def debits(self) -> int:
        """The month's charges and other debits (a negative number or 0)."""
        return sum(line.amount for line in self.lines if line.amount < 0)

    @property
    def closing(self) -> int:
        return self.opening + self.credits + self.debits


# The statement's ledger reads as fixed SQL: they run on every page view, and building them
# through the query builder cost more than running them (docs/performance.md). The sum before
# a month is read on its own when the summary's opening is not the month shown (terminated
# contracts) and for the CSV and print ranges.
_SUMMARY_SQL = (
    "SELECT MIN(created_at) AS first, MAX(created_at) AS last,"
    " SUM(CASE WHEN created_at < {} THEN amount ELSE 0 END) AS opening"
    " FROM ledger_entry WHERE subscriber = {}"
)
_SUM_BEFORE_SQL = "SELECT SUM(amount) AS total FROM ledger_entry WHERE subscriber = {} AND created_at < {}"
_ROWS_SQL = (
    "SELECT id, created_at, kind, amount, period, comment FROM ledger_entry"
    " WHERE subscriber = {} AND created_at >= {} AND created_at < {}"
    " ORDER BY created_at, id"
)


@dataclass(frozen=True)
class LedgerSummary:
    """A contract's first and last entry and its balance before a moment (one read)."""

    first: dt.datetime | None
    last: dt.datetime | None
    opening: int


async def _sum_before(subscriber_id: int, moment: dt.datetime) -> int:
    rows = await LedgerEntry.raw(_SUM_BEFORE_SQL, subscriber_id, moment)
    return int(rows[0]["total"] or 0) if rows else 0


async def ledger_summary(subscriber_id: int, before: dt.datetime) -> LedgerSummary:
    rows = await LedgerEntry.raw(_SUMMARY_SQL, before, subscriber_id)
    row = rows[0] if rows else {}
    return LedgerSummary(first=_as_datetime(row.get("first")), last=_as_datetime(row.get("last")),
                         opening=int(row.get("opening") or 0))


def _build_months(first: str, last: str, opening: int, rows: list[dict]) -> list[MonthStatement]:
    months = {str(m): MonthStatement(period=str(m), opening=0) for m in Month.range(first, last)}
    by_month: dict[str, list[dict]] = {p: [] for p in months}
    for row in rows:
        by_month[str(Month.of(row["created_at"]))].append(row)
    running = opening
    for period, statement in months.items():
        statement.opening = running
        for row in by_month[period]:
            running += int(row["amount"])
            statement.lines.append(StatementLine(
                id=row["id"], created_at=row["created_at"], kind=row["kind"],
                amount=int(row["amount"]), period=row["period"], comment=row["comment"] or "",
                balance_after=running,
            ))
    return list(months.values())


async def statement_range(subscriber_id: int, first: str, last: str, *,
                          opening: int | None = None) -> list[MonthStatement]:
    """Month-by-month statements for ``first``..``last`` (two queries whatever the length).

    No read transaction is needed for the opening sum and the rows to agree: the ledger is
    append-only and an entry's ``created_at`` is the moment it was written, so an entry
    committed between the two reads falls after ``start`` and is in the rows only.

    :param opening: the balance before ``first`` when the caller has already read it.
    """
    if Month.parse(first) > Month.parse(last):
        return []
    start, _ = Month.parse(first).utc_bounds()
    _, end = Month.parse(last).utc_bounds()
    if opening is None:
        opening = await _sum_before(subscriber_id, start)
    rows = await LedgerEntry.raw(_ROWS_SQL, subscriber_id, start, end)
    return _build_months(first, last, opening, rows)


async def monthly_statement(subscriber_id: int, period: str, *,
                            opening: int | None = None) -> MonthStatement:
    """One month: opening balance, every entry with the balance after it, closing balance."""
    return (await statement_range(subscriber_id, period, period, opening=opening))[0]


def _as_datetime(value: dt.datetime | str | None) -> dt.datetime | None:
    # SQLite hands aggregates back untyped: the stored UTC text.
    return None if value is None else as_utc(value)


@dataclass(frozen=True)
class StatementMonths:
    """Which months a contract's statement can show, and the one shown by default."""

    first: str
    current: str
    default: str

    @property
    def choices(self) -> list[str]:
        """Newest first, for the month selector."""
        return list(_month_range(self.first, self.current))


@functools.lru_cache(maxsize=1024)
def _month_range(first: str, current: str) -> tuple[str, ...]:
    # A page asks for it five times (three pickers, two checks) and most contracts share it.
    return tuple(str(m) for m in reversed(Month.range(first, current)))


def _months_from_span(subscriber: Subscriber, first_entry: dt.datetime | None,
                      last_entry: dt.datetime | None, now: dt.datetime) -> StatementMonths:
    current = Month.of(now)
    candidates = [Month.of(subscriber.connected_on)] if subscriber.connected_on else []
    if first_entry:
        candidates.append(Month.of(first_entry))
    first = max(EARLIEST_MONTH, min([*candidates, current]))
    default = current
    if subscriber.terminated_on:
        finals = [Month.of(subscriber.terminated_on)]
        if last_entry:
            finals.append(Month.of(last_entry))
        default = min(max(finals), current)
    return StatementMonths(first=str(min(first, current)), current=str(current),
                           default=str(max(default, first)))


async def statement_months(subscriber: Subscriber, *, now: dt.datetime) -> StatementMonths:
    """From the contract's first month (connection or first entry) to this month.

    The default is the current month; for a terminated contract the final one (the month
    of termination, or a later month with entries such as a refund of the remainder).
    """
    # The summary's opening balance is not needed here; its one read gives the first and last entry.
    summary = await ledger_summary(subscriber.id, now)
    return _months_from_span(subscriber, summary.first, summary.last, now)


@dataclass(frozen=True)
class StatementView:
    """The statement page: which months exist, the month shown, and why not the one asked."""

    months: StatementMonths
    statement: MonthStatement
    error: str | None = None


async def statement_view(subscriber: Subscriber, requested: str | None, *,
                         now: dt.datetime) -> StatementView:
    """The month ``requested`` (``None``: the default month), or the default with a message.

    Two ledger reads in the usual case: the summary (first/last entry and the balance
    before the month asked for) and the month's rows.
    """
    current = guess = Month.of(now)
    asked = bool(requested and requested.strip())
    error = None
    if asked:
        try:
            guess = _month(requested)
        except ValueError as exc:
            error = str(exc)
    # The opening balance is read for the month asked for, kept within the months that exist
    # (a month like 9999-12 has no next month to bound it; it is refused just below).
    probe = min(max(guess, EARLIEST_MONTH), current)
    summary = await ledger_summary(subscriber.id, probe.utc_bounds()[0])
    months = _months_from_span(subscriber, summary.first, summary.last, now)
    chosen = months.default
    if asked and error is None:
        try:
            check_period(str(guess), first=months.first, current=months.current)
            chosen = str(guess)
        except ValueError as exc:
            error = str(exc)
    opening = summary.opening if chosen == str(probe) else None
    return StatementView(months, await monthly_statement(subscriber.id, chosen, opening=opening),
                         error)


# --- dashboard ----------------------------------------------------------------------------

# The dashboard's reads as fixed SQL, like the statement's: it is the most viewed page.
_OPEN_REQUESTS_SQL = (
    "SELECT id, number, kind, status, created_at FROM service_request"
    " WHERE subscriber = {} AND status IN ({}, {}) ORDER BY created_at DESC"
)
async def open_requests(subscriber_id: int) -> list[dict]:
    rows = await ServiceRequest.raw(_OPEN_REQUESTS_SQL, subscriber_id,
                                    *(status.value for status in OPEN_REQUEST_STATUSES))
    for row in rows:
        row["status_label"] = REQUEST_STATUS_LABELS.get(row["status"], row["status"])
        row["kind_label"] = REQUEST_KIND_LABELS.get(row["kind"], row["kind"])
    return rows


async def maintenance_for(subscriber: Subscriber, now: dt.datetime, *,
                          lead: dt.timedelta = MAINTENANCE_LEAD) -> list[dict]:
    """Maintenance affecting the subscriber's building, street or town, now or within ``lead``."""
    return await active_maintenance_for_address(subscriber.address, now=now, lead=lead)


async def latest_news(now: dt.datetime, limit: int = 3) -> list[dict]:
    return await (
        NewsItem.select(NewsItem.id, NewsItem.title, NewsItem.published_at)
        .where((NewsItem.kind == NewsKind.NEWS) & (NewsItem.published == True)  # noqa: E712
               & (NewsItem.published_at <= now))
        .order_by(NewsItem.published_at, ascending=False)
        .limit(limit)
    )


@dataclass(frozen=True)
class Dashboard:
    subscriber: Subscriber
    tariff: dict | None
    fee: int
    forecast: Forecast
    requests: list[dict]
    maintenance: list[dict]
    news: list[dict]
    final_statement: MonthStatement | None = None
    promised: PromisedPaymentOffer | None = None  # the promised-payment offer, or why not
    upcoming_tariff: dict | None = None  # a booked tariff change applying by the next charge


async def dashboard(subscriber: Subscriber, *, now: dt.datetime,
                    news: list[dict] | None = None) -> Dashboard:
    """Everything the cabinet's home page shows, for the logged-in contract only.

    :param news: the latest news when the caller keeps them (the same for everyone);
        read here otherwise.
    """
    today = local_date(now)
    fee = await monthly_fee(subscriber, today=today)
    final = None
    # Only once it has ended: a termination scheduled for later leaves a working contract.
    if subscriber.status == SubscriberStatus.TERMINATED:
        months = await statement_months(subscriber, now=now)
        final = await monthly_statement(subscriber.id, months.default)
    return Dashboard(
        subscriber=subscriber,
        tariff=fee.tariff,
        fee=fee.current,
        # The next charge is at the new tariff's fee when a booked change applies by then.
        # ... and less in the months a voluntary pause covers.
        forecast=forecast(subscriber.balance, fee.next, today,
                          await pause_upcoming(subscriber.id, fee.next, today)),
        upcoming_tariff=fee.change,
        requests=await open_requests(subscriber.id),
        maintenance=await maintenance_for(subscriber, now),
        news=news if news is not None else await latest_news(now),
        final_statement=final,
        promised=await promised_offer_for(subscriber, fee=fee.next, now=now),
    )


# --- profile ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Profile:
    """The contract as the cabinet shows it: personal data masked."""

    contract_number: str
    name: str
    phone: str
    email: str
    address: str
    tariff: dict | None
    router_rented: bool
    fee: int
    status: str
    connected_on: dt.date | None
    terminated_on: dt.date | None


async def profile(subscriber: Subscriber) -> Profile:
    """Initials instead of the full name, hidden phone digits, no apartment number."""
    place = await (
        Address.select(Address.house, Address.apartment,
                       Address.street.name.as_alias("street"),
                       Address.street.town.name.as_alias("town"))
        .where(Address.id == subscriber.address)
        .first()
    )
    tariff = await (
        Tariff.select(Tariff.id, Tariff.name, Tariff.kind, Tariff.monthly_fee, Tariff.router_fee,
                      Tariff.speed_mbps, Tariff.channels)
        .where(Tariff.id == subscriber.tariff)
        .first()
    )
    address = ""
    if place:
        address = format_address(place["town"], place["street"], place["house"],
                                 place["apartment"] or "", hide_apartment=True)
    return Profile(
        contract_number=subscriber.contract_number,
        name=mask_name(subscriber.full_name),
        phone=mask_phone(subscriber.phone or "") if subscriber.phone else "",
        email=mask_email(subscriber.email or ""),
        address=address,
        tariff=tariff,
        router_rented=bool(subscriber.router_rented),
        fee=tariff_fee(tariff, subscriber.router_rented),
        status=subscriber.status,
        connected_on=subscriber.connected_on,
        terminated_on=subscriber.terminated_on,
    )
