"""Manager reports: one plain async function per report, returning columns and rows.

The page, the CSV and XLSX exports and the CLI all call the same function, so
they cannot disagree.  SQL here runs unchanged on SQLite and PostgreSQL except
for the few date expressions built by the ``_sql_*`` helpers; medians and
percentiles are computed in Python.

Money stays integer kopecks in the rows (column kind ``money``); formatting
happens only in templates and exports.  Month and day boundaries are local
time (Asia/Novokuznetsk); timestamps are stored in UTC.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from db.engine import is_sqlite
from tables.calendar import LOCAL_TZ, LOCAL_TZ_NAME, local_date, utcnow
from tables.ledger import EntryKind, LedgerEntry
from tables.payments.payment import PAYMENT_CHANNEL_LABELS, PaymentStatus
from tables.ratings import RATING_LABELS
from tables.requests import REQUEST_KIND_LABELS, REQUEST_TOPIC_LABELS, RequestKind, RequestStatus
from tables.subscribers import SUBSCRIBER_STATUS_LABELS, SubscriberStatus

# SQLite has no time zone database: it shifts by the zone's current offset
# (Novokuznetsk has had no daylight saving since 2014).
_SQLITE_SHIFT = f"'{int(LOCAL_TZ.utcoffset(dt.datetime(2026, 1, 1)).total_seconds() // 3600):+d} hours'"

MAX_MONTHS = 60
#: ``on`` (a report's "as of" day) within these bounds: 9999-12-31 overflowed the day after it.
FIRST_ON = dt.date(2000, 1, 1)
ON_DAYS_AHEAD = 366
AGING_BUCKETS = ((30, "0–30"), (60, "31–60"), (90, "61–90"), (None, "более 90"))
BACKLOG_BUCKETS = ((1, "до 1 дня"), (3, "1–3 дня"), (7, "3–7 дней"), (30, "7–30 дней"),
                   (None, "более 30 дней"))
LATEST_COMMENTS = 100
CARD_BRAND_LABELS = {"visa": "Visa", "mastercard": "Mastercard", "maestro": "Maestro",
                     "mir": "МИР", "": "Без карты"}
NO_REASON = "Причина не указана"
NO_REQUEST = "Без заявки на расторжение"
TOTAL = "Итого"

# Column kinds: text, int, money (kopecks), decimal (Decimal, ``places``), date,
# datetime (aware), month ("YYYY-MM").
KINDS = {"text", "int", "money", "decimal", "date", "datetime", "month"}


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = "text"
    places: int = 0

    def __post_init__(self) -> None:
        assert self.kind in KINDS, self.kind


@dataclass
class Report:
    """What every output shows: a title, columns, rows and an optional total row."""

    slug: str
    title: str
    columns: list[Column]
    rows: list[tuple]
    total: tuple | None = None
    subtitle: str = ""
    notes: list[str] = field(default_factory=list)

    def index(self, key: str) -> int:
        return [c.key for c in self.columns].index(key)

    def values(self, key: str) -> list[Any]:
        i = self.index(key)
        return [row[i] for row in self.rows]

    def as_dicts(self) -> list[dict[str, Any]]:
        keys = [c.key for c in self.columns]
        return [dict(zip(keys, row, strict=True)) for row in self.rows]


# --- filters -------------------------------------------------------------------------------------

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_month(text: str, what: str = "Месяц") -> str:
    value = (text or "").strip()
    match = _MONTH.match(value)
    if not match or not 2000 <= int(match[1]) <= 2100:
        raise ValueError(f"{what}: укажите месяц в виде ГГГГ-ММ, например 2026-11")
    return value


def _parse_id(text: str | None, what: str) -> int | None:
    value = (text or "").strip()
    if not value:
        return None
    if not value.isdigit() or len(value) > 9:
        raise ValueError(f"{what}: неверное значение")
    return int(value)


def month_of(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def add_months(month: str, n: int) -> str:
    year, mon = int(month[:4]), int(month[5:])
    index = year * 12 + mon - 1 + n
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def months_between(first: str, last: str) -> list[str]:
    months, current = [], first
    while current <= last:
        months.append(current)
        current = add_months(current, 1)
    return months


def month_start(month: str) -> dt.date:
    return dt.date(int(month[:4]), int(month[5:]), 1)


def month_end(month: str) -> dt.date:
    return month_start(add_months(month, 1)) - dt.timedelta(days=1)


def local_midnight_utc(day: dt.date) -> dt.datetime:
    """The UTC instant a local calendar day starts."""
    return dt.datetime(day.year, day.month, day.day, tzinfo=LOCAL_TZ).astimezone(dt.UTC)


local_today = local_date


@dataclass(frozen=True)
class Filters:
    """A report's selection, read from the URL (``from``, ``to``, ``town``, ``tariff``,
    ``group``, ``on``) or the CLI (``period``: ``2026-11`` or ``2026-01..2026-06``)."""

    month_from: str
    month_to: str
    town: int | None = None
    tariff: int | None = None
    group: str = ""
    on: dt.date | None = None

    @property
    def start_utc(self) -> dt.datetime:
        return local_midnight_utc(month_start(self.month_from))

    @property
    def end_utc(self) -> dt.datetime:
        """Exclusive end: local midnight after the last day of ``month_to``."""
        return local_midnight_utc(month_start(add_months(self.month_to, 1)))

    @property
    def months(self) -> list[str]:
        return months_between(self.month_from, self.month_to)

    def query(self, spec: ReportSpec | None = None) -> dict[str, str]:
        """The URL query (and CLI options) that reproduce this selection."""
        uses = spec.uses if spec else {"period", "town", "tariff", "group", "on"}
        params: dict[str, str] = {}
        if "period" in uses:
            params["from"], params["to"] = self.month_from, self.month_to
        if "town" in uses and self.town:
            params["town"] = str(self.town)
        if "tariff" in uses and self.tariff:
            params["tariff"] = str(self.tariff)
        if "group" in uses and self.group:
            params["group"] = self.group
        if "on" in uses and self.on:
            params["on"] = self.on.isoformat()
        return params

    @classmethod
    def parse(cls, params: Mapping[str, str], *, today: dt.date,
              spec: ReportSpec | None = None) -> Filters:
        """Validate user input; bad values raise ``ValueError`` with a Russian message."""
        current = month_of(today)
        period = (params.get("period") or "").strip()
        if period:
            first, _, last = period.partition("..")
            month_from = parse_month(first, "Период")
            month_to = parse_month(last, "Период") if last else month_from
        else:
            month_to = parse_month(params["to"], "По месяц") if params.get("to") else current
            month_from = (parse_month(params["from"], "С месяца") if params.get("from")
                          else add_months(month_to, -5))
        if month_from > month_to:
            raise ValueError("Начало периода позже его конца")
        if len(months_between(month_from, month_to)) > MAX_MONTHS:
            raise ValueError(f"Период не может быть длиннее {MAX_MONTHS} месяцев")
        on = None
        if params.get("on"):
            try:
                on = dt.date.fromisoformat(params["on"].strip())
            except ValueError:
                raise ValueError("Дата: укажите её в виде ГГГГ-ММ-ДД") from None
            latest = today + dt.timedelta(days=ON_DAYS_AHEAD)
            if not FIRST_ON <= on <= latest:
                raise ValueError(f"Дата: укажите день с {FIRST_ON:%d.%m.%Y} по {latest:%d.%m.%Y}")
        group = (params.get("group") or "").strip()
        if spec is not None:
            if spec.groups and group not in spec.groups:
                if group:
                    raise ValueError("Неизвестная группировка")
                group = next(iter(spec.groups))
            elif not spec.groups:
                group = ""
        return cls(month_from=month_from, month_to=month_to,
                   town=_parse_id(params.get("town"), "Город"),
                   tariff=_parse_id(params.get("tariff"), "Тариф"),
                   group=group, on=on)


# --- SQL helpers -----------------------------------------------------------------------------------

async def _fetch(sql: str, *args: Any) -> list[dict[str, Any]]:
    """Run a read query; ``?`` marks a parameter (so f-strings need no brace escaping)."""
    return await LedgerEntry.raw(sql.replace("?", "{}"), *args)


def _sql_local_day(expr: str) -> str:
    if is_sqlite():
        return f"strftime('%Y-%m-%d', {expr}, {_SQLITE_SHIFT})"
    return f"to_char({expr} AT TIME ZONE '{LOCAL_TZ_NAME}', 'YYYY-MM-DD')"


def _sql_local_month(expr: str) -> str:
    if is_sqlite():
        return f"strftime('%Y-%m', {expr}, {_SQLITE_SHIFT})"
    return f"to_char({expr} AT TIME ZONE '{LOCAL_TZ_NAME}', 'YYYY-MM')"


def _sql_date_month(expr: str) -> str:
    if is_sqlite():
        return f"strftime('%Y-%m', {expr})"
    return f"to_char({expr}, 'YYYY-MM')"


def _subscriber_scope(f: Filters, alias: str = "s") -> tuple[str, str, list[Any]]:
    """Joins and conditions limiting subscribers to the chosen town and tariff."""
    joins = (f" JOIN address fa ON fa.id = {alias}.address"
             f" JOIN street fs ON fs.id = fa.street") if f.town else ""
    where, args = "", []
    if f.town:
        where += " AND fs.town = ?"
        args.append(f.town)
    if f.tariff:
        where += f" AND {alias}.tariff = ?"
        args.append(f.tariff)
    return joins, where, args


def _in_scope(f: Filters, column: str) -> tuple[str, list[Any]]:
    """``AND <column> IN (the chosen town's and tariff's contracts)``, or nothing unfiltered.

    For reports over ledger and payment rows: a set built once instead of joins from every row
    to its contract, address and street (the foreign keys are NOT NULL, so the rows are the
    same). On SQLite, a year of payments took 3.2 s with the joins and 1.2 s without.
    """
    if not (f.town or f.tariff):
        return "", []
    joins, where, args = _subscriber_scope(f)
    return f" AND {column} IN (SELECT s.id FROM subscriber s{joins} WHERE 1 = 1{where})", args


def _int(value: Any) -> int:
    return int(value or 0)


def _ts(value: Any) -> dt.datetime | None:
    """A timestamp from either driver (SQLite returns text for computed columns)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value


def _date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _ratio(numerator: int, denominator: int, places: int = 2) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(Decimal(1).scaleb(-places),
                                                                ROUND_HALF_UP)


def percentile(values: list[int], q: float) -> Decimal | None:
    """Linear interpolation between closest ranks (the median for ``q=0.5``).

    >>> percentile([1, 2, 3, 4], 0.5)
    Decimal('2.5')
    """
    if not values:
        return None
    ordered = sorted(values)
    position = (Decimal(len(ordered)) - 1) * Decimal(str(q))
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    fraction = position - lower
    return Decimal(ordered[lower]) + (Decimal(ordered[upper]) - Decimal(ordered[lower])) * fraction


def _hours(microseconds: Decimal | None) -> Decimal | None:
    if microseconds is None:
        return None
    return (microseconds / Decimal(3_600_000_000)).quantize(Decimal("0.1"), ROUND_HALF_UP)


def _micros(delta: dt.timedelta) -> int:
    return delta // dt.timedelta(microseconds=1)


def _bucket(days: int, buckets: tuple[tuple[int | None, str], ...]) -> str:
    for limit, label in buckets:
        if limit is None or days <= limit:
            return label
    raise AssertionError("unreachable")


# --- reports ---------------------------------------------------------------------------------------

PAYMENT_GROUPS = {"month": "по месяцам", "day": "по дням", "channel": "по каналам",
                  "brand": "по платёжным системам"}
_PAID = (PaymentStatus.SUCCEEDED.value, PaymentStatus.REFUNDED.value)


async def payments_report(f: Filters, now: dt.datetime) -> Report:
    """Received card and office payments (status succeeded or refunded) by their creation time.

    Refunds are attributed to the refunded payment (its ``refunded_amount``); the
    ``billing`` report shows refunds by the time the money went back.
    """
    group = f.group or "month"
    key_sql = {"day": _sql_local_day("p.created_at"), "month": _sql_local_month("p.created_at"),
               "channel": "p.channel", "brand": "p.card_brand"}[group]
    scope, args = _in_scope(f, "p.subscriber")
    rows = await _fetch(
        f"SELECT {key_sql} AS k, p.channel AS channel, COUNT(*) AS n, SUM(p.amount) AS amount,"
        f" SUM(p.refunded_amount) AS refunded FROM payment p"
        f" WHERE p.status IN ('{_PAID[0]}', '{_PAID[1]}') AND p.created_at >= ? AND p.created_at < ?"
        f"{scope} GROUP BY {key_sql}, p.channel",
        f.start_utc, f.end_utc, *args,
    )
    channels = list(PAYMENT_CHANNEL_LABELS)
    time_based = group in ("day", "month")
    if group == "day":
        first, last = month_start(f.month_from), month_end(f.month_to)
        keys: list[Any] = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
        key_col = Column("key", "День", "date")
    elif group == "month":
        keys = f.months
        key_col = Column("key", "Месяц", "month")
    elif group == "channel":
        keys = channels
        key_col = Column("key", "Канал оплаты")
    else:
        keys = sorted({r["k"] or "" for r in rows}, key=lambda b: (b == "", b))
        key_col = Column("key", "Платёжная система")
    sums: dict[Any, dict[str, int]] = {k: {"n": 0, "amount": 0, "refunded": 0,
                                           **{c: 0 for c in channels}} for k in keys}
    for r in rows:
        k = dt.date.fromisoformat(r["k"]) if group == "day" else (r["k"] or "")
        bucket = sums[k]
        bucket["n"] += _int(r["n"])
        bucket["amount"] += _int(r["amount"])
        bucket["refunded"] += _int(r["refunded"])
        if r["channel"] in bucket:
            bucket[r["channel"]] += _int(r["amount"])
    columns = [key_col, Column("count", "Платежей", "int"), Column("amount", "Оплачено", "money")]
    if time_based:
        columns += [Column(c, PAYMENT_CHANNEL_LABELS[c], "money") for c in channels]
    columns += [Column("refunded", "Возвращено", "money"), Column("net", "Итого за вычетом возвратов",
                                                                   "money")]

    def line(label: Any, b: dict[str, int]) -> tuple:
        cells = [label, b["n"], b["amount"]]
        if time_based:
            cells += [b[c] for c in channels]
        return (*cells, b["refunded"], b["amount"] - b["refunded"])

    def shown(k: Any) -> Any:
        if group == "channel":
            return PAYMENT_CHANNEL_LABELS.get(k, k)
        if group == "brand":
            return CARD_BRAND_LABELS.get(k, k)
        return k

    total = {key: sum(b[key] for b in sums.values()) for key in ("n", "amount", "refunded", *channels)}
    return Report("payments", "Платежи", columns, [line(shown(k), sums[k]) for k in keys],
                  total=line(TOTAL, total), subtitle=PAYMENT_GROUPS[group])


async def billing_report(f: Filters, now: dt.datetime) -> Report:
    """Charged vs paid per month: charges by their billing period, money movements by time.

    Two index ranges, not one expression over every row (an entry's month depends on its
    kind, so no index served it): charges by ``(period, id)``, the rest by ``created_at``.
    """
    scope, args = _in_scope(f, "subscriber")
    kinds = (EntryKind.CHARGE, EntryKind.PAYMENT, EntryKind.REFUND, EntryKind.ADJUSTMENT)
    charge, month = EntryKind.CHARGE.value, _sql_local_month("created_at")
    listed = ", ".join(repr(k.value) for k in kinds)
    rows = await _fetch(
        f"SELECT kind, period AS m, SUM(amount) AS total FROM ledger_entry"
        f" WHERE kind = '{charge}' AND period BETWEEN ? AND ?{scope} GROUP BY kind, period"
        " UNION ALL"
        f" SELECT kind, {month} AS m, SUM(amount) AS total FROM ledger_entry"
        f" WHERE created_at >= ? AND created_at < ? AND kind IN ({listed})"
        f" AND (kind <> '{charge}' OR period IS NULL){scope} GROUP BY kind, {month}",
        f.month_from, f.month_to, *args, f.start_utc, f.end_utc, *args,
    )
    sums = {m: dict.fromkeys(kinds, 0) for m in f.months}
    for r in rows:
        sums[r["m"]][EntryKind(r["kind"])] += _int(r["total"])

    def line(label: str, s: dict[EntryKind, int]) -> tuple:
        charged, paid = -s[EntryKind.CHARGE], s[EntryKind.PAYMENT]
        refunded = -s[EntryKind.REFUND]
        return (label, charged, paid, refunded, s[EntryKind.ADJUSTMENT], paid - refunded - charged)

    total = {k: sum(s[k] for s in sums.values()) for k in kinds}
    columns = [Column("month", "Месяц", "month"), Column("charged", "Начислено", "money"),
               Column("paid", "Оплачено", "money"), Column("refunded", "Возвраты", "money"),
               Column("adjusted", "Корректировки", "money"),
               Column("difference", "Разница (оплачено − возвраты − начислено)", "money")]
    return Report("billing", "Начисления и оплаты", columns,
                  [line(m, sums[m]) for m in f.months], total=line(TOTAL, total))


#: How far back the debtors report first looks for the start of each debt (see below).
DEBT_LOOKBACK = dt.timedelta(days=400)
_CHUNK = 500


def _debt_cte(kept_balance: bool) -> str:
    """``debt(sid, balance)``: contracts in debt at the parameter ``end`` and that balance.

    Near the present it is the kept balance less what was booked from ``end`` on (post_entry
    moves the balance with every entry, in one transaction): a few recent rows instead of a
    sum over the whole ledger. Far in the past, the sum of what came before reads less.
    """
    if kept_balance:
        return ("later AS (SELECT subscriber AS sid, SUM(amount) AS after FROM ledger_entry"
                " WHERE created_at >= ? GROUP BY subscriber),"
                " debt AS (SELECT s.id AS sid, s.balance - COALESCE(later.after, 0) AS balance"
                " FROM subscriber s LEFT JOIN later ON later.sid = s.id"
                " WHERE s.balance - COALESCE(later.after, 0) < 0)")
    return ("debt AS (SELECT subscriber AS sid, SUM(amount) AS balance FROM ledger_entry"
            " WHERE created_at < ? GROUP BY subscriber HAVING SUM(amount) < 0)")


async def _debt_starts(end: dt.datetime, balances: dict[int, int]) -> dict[int, Any]:
    """When each contract (id → balance at ``end``, below zero) went into debt.

    Running balances are walked back from the balance at ``end``: after an entry it was that
    balance less every later entry, before it that less the entry itself; the debt started at
    the last entry that took it from zero or above to below zero. The last ``DEBT_LOOKBACK``
    is read first (most debts are recent); only contracts whose debt is older get their whole
    history read (the report read every debtor's whole history: 6-8 s on PostgreSQL).
    """
    since: dict[int, Any] = {}
    pending = list(balances)
    for lower in (end - DEBT_LOOKBACK, dt.datetime(1970, 1, 1, tzinfo=dt.UTC)):
        for i in range(0, len(pending), _CHUNK):
            chunk = pending[i:i + _CHUNK]
            values = ", ".join(["(CAST(? AS INTEGER), CAST(? AS BIGINT))"] * len(chunk))
            rows = await _fetch(
                f"WITH debt(sid, balance) AS (VALUES {values}), run AS ("
                " SELECT le.subscriber AS sid, le.created_at AS at, le.amount AS amount,"
                "  debt.balance - COALESCE(SUM(le.amount) OVER w, 0) AS running"
                " FROM debt JOIN ledger_entry le ON le.subscriber = debt.sid"
                " WHERE le.created_at < ? AND le.created_at >= ?"
                " WINDOW w AS (PARTITION BY le.subscriber ORDER BY le.created_at DESC, le.id DESC"
                "  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING))"
                " SELECT sid, MAX(at) AS since FROM run WHERE running < 0 AND running - amount >= 0"
                " GROUP BY sid",
                *[v for sid in chunk for v in (sid, balances[sid])], end, lower,
            )
            since.update((r["sid"], r["since"]) for r in rows)
        pending = [sid for sid in pending if sid not in since]
        if not pending:
            break
    return since


async def debtors_report(f: Filters, now: dt.datetime) -> Report:
    """Contracts whose ledger sum is negative at the end of day ``on`` (default today).

    Debt start is the last time the running ledger sum went from zero or above
    to below zero; days in debt count from that local date.  The contract state
    shown is the current one (state history is not kept).
    """
    on = f.on or local_today(now)
    end = local_midnight_utc(on + dt.timedelta(days=1))
    joins, where, args = _subscriber_scope(f)
    first = await _fetch("SELECT MIN(created_at) AS at FROM ledger_entry")
    first_at = _ts(first[0]["at"]) if first and first[0]["at"] else end
    rows = await _fetch(
        "WITH " + _debt_cte(kept_balance=now - end < end - first_at) +
        " SELECT s.id AS sid, s.contract_number, s.full_name, s.phone, s.email, s.status,"
        "  t.name AS tariff, tw.name AS town, st.name AS street, a.house, a.apartment, debt.balance"
        " FROM debt JOIN subscriber s ON s.id = debt.sid"
        " JOIN tariff t ON t.id = s.tariff JOIN address a ON a.id = s.address"
        " JOIN street st ON st.id = a.street JOIN town tw ON tw.id = st.town"
        f"{joins} WHERE 1 = 1{where}",
        end, *args,
    )
    starts = await _debt_starts(end, {r["sid"]: _int(r["balance"]) for r in rows})
    from tables.addresses import format_address

    lines = []
    for r in rows:
        since = _ts(starts[r["sid"]]).astimezone(LOCAL_TZ).date()
        days = (on - since).days
        lines.append((
            r["contract_number"], r["full_name"], r["town"],
            format_address(r["town"], r["street"], r["house"], r["apartment"]),
            r["phone"], r["email"], r["tariff"],
            SUBSCRIBER_STATUS_LABELS.get(r["status"], r["status"]),
            _int(r["balance"]), since, days, _bucket(days, AGING_BUCKETS),
        ))
    lines.sort(key=lambda line: (-line[10], line[8], line[0]))
    columns = [Column("contract", "Договор"), Column("name", "ФИО"), Column("town", "Город"),
               Column("address", "Адрес"), Column("phone", "Телефон"), Column("email", "Эл. почта"),
               Column("tariff", "Тариф"), Column("status", "Состояние сейчас"),
               Column("balance", "Баланс", "money"), Column("since", "В долгу с", "date"),
               Column("days", "Дней в долгу", "int"), Column("bucket", "Срок долга, дней")]
    total = (TOTAL, f"{len(lines)} договоров", None, None, None, None, None, None,
             sum(line[8] for line in lines), None, None, None)
    return Report("debtors", "Должники", columns, lines, total=total,
                  subtitle=f"на конец дня {on.strftime('%d.%m.%Y')}")


def debt_aging(report: Report) -> list[tuple[str, int, int]]:
    """(bucket, contracts, debt in kopecks) for each aging bucket of a debtors report."""
    buckets = {label: [0, 0] for _, label in AGING_BUCKETS}
    for row in report.as_dicts():
        buckets[row["bucket"]][0] += 1
        buckets[row["bucket"]][1] += -row["balance"]
    return [(label, n, debt) for label, (n, debt) in buckets.items()]


async def arpu_report(f: Filters, now: dt.datetime) -> Report:
    """Contracts in service during each month, charges for the month and their ratio.

    In service: connected on or before the month's last day and not terminated
    before its first day (suspended contracts count: suspension history is not kept).
    """
    joins, where, args = _subscriber_scope(f)
    scope, scope_args = _in_scope(f, "le.subscriber")
    charges = await _fetch(
        f"SELECT le.period AS m, -SUM(le.amount) AS charged FROM ledger_entry le"
        f" WHERE le.kind = '{EntryKind.CHARGE.value}' AND le.period BETWEEN ? AND ?{scope}"
        f" GROUP BY le.period",
        f.month_from, f.month_to, *scope_args,
    )
    charged = {r["m"]: _int(r["charged"]) for r in charges}
    # Every month's count in one pass over the contracts (was a query per month).
    in_service = ", ".join(
        f"SUM(CASE WHEN s.connected_on <= ? AND (s.terminated_on IS NULL OR s.terminated_on >= ?)"
        f" THEN 1 ELSE 0 END) AS n{i}" for i in range(len(f.months)))
    counted = (await _fetch(
        f"SELECT {in_service} FROM subscriber s{joins} WHERE 1 = 1{where}",
        *[d for m in f.months for d in (month_end(m), month_start(m))], *args,
    ))[0]
    lines = []
    for i, m in enumerate(f.months):
        n = _int(counted[f"n{i}"])
        revenue = charged.get(m, 0)
        arpu = _ratio(revenue, n, 0)
        lines.append((m, n, revenue, int(arpu) if arpu is not None else None))
    columns = [Column("month", "Месяц", "month"),
               Column("subscribers", "Абонентов в обслуживании", "int"),
               Column("charged", "Начислено", "money"), Column("arpu", "ARPU", "money")]
    return Report("arpu", "ARPU и абоненты", columns, lines)


async def subscribers_report(f: Filters, now: dt.datetime) -> Report:
    """Contracts in service now (active or suspended) per tariff (rows) and town (columns)."""
    joins, where, args = _subscriber_scope(f)
    rows = await _fetch(
        "SELECT t.id AS tariff_id, t.name AS tariff, tw.id AS town_id, COUNT(*) AS n"
        " FROM subscriber s JOIN tariff t ON t.id = s.tariff JOIN address a ON a.id = s.address"
        f" JOIN street st ON st.id = a.street JOIN town tw ON tw.id = st.town{joins}"
        f" WHERE s.status <> '{SubscriberStatus.TERMINATED.value}'{where}"
        " GROUP BY t.id, t.name, tw.id",
        *args,
    )
    town_sql, town_args = "SELECT id, name FROM town", []
    if f.town:
        town_sql, town_args = town_sql + " WHERE id = ?", [f.town]
    towns = await _fetch(town_sql + " ORDER BY name", *town_args)
    tariffs: dict[int, str] = {}
    counts: dict[tuple[int, int], int] = {}
    for r in rows:
        tariffs[r["tariff_id"]] = r["tariff"]
        counts[(r["tariff_id"], r["town_id"])] = _int(r["n"])
    lines = []
    for tariff_id, name in sorted(tariffs.items(), key=lambda item: item[1]):
        cells = [counts.get((tariff_id, t["id"]), 0) for t in towns]
        lines.append((name, *cells, sum(cells)))
    columns = [Column("tariff", "Тариф"),
               *[Column(f"town_{t['id']}", t["name"], "int") for t in towns],
               Column("total", "Всего", "int")]
    total = (TOTAL, *[sum(line[i] for line in lines) for i in range(1, len(columns))])
    return Report("subscribers", "Абоненты по тарифам и городам", columns, lines, total=total,
                  subtitle="договоры в обслуживании (активные и приостановленные) сейчас")


CHURN_GROUPS = {"month": "по месяцам", "reason": "по причинам расторжения"}


async def churn_report(f: Filters, now: dt.datetime) -> Report:
    """Connections and terminations by month, or terminations by reason.

    The reason is the topic (else "not given") of the contract's last completed
    termination request.
    """
    joins, where, args = _subscriber_scope(f)
    first, last = month_start(f.month_from), month_end(f.month_to)
    if (f.group or "month") == "reason":
        rows = await _fetch(
            "SELECT (SELECT COALESCE(r.topic, '') || '|' FROM service_request r"
            f"  WHERE r.subscriber = s.id AND r.kind = '{RequestKind.TERMINATION.value}'"
            f"  AND r.status = '{RequestStatus.DONE.value}'"
            "  ORDER BY r.closed_at DESC, r.id DESC LIMIT 1) AS reason"
            f" FROM subscriber s{joins} WHERE s.terminated_on BETWEEN ? AND ?{where}",
            first, last, *args,
        )
        counts: dict[str, int] = {}
        for r in rows:
            if r["reason"] is None:
                label = NO_REQUEST
            else:
                topic = r["reason"][:-1].strip()
                label = REQUEST_TOPIC_LABELS.get(topic, topic) or NO_REASON
            counts[label] = counts.get(label, 0) + 1
        ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        n = sum(counts.values())
        lines = [(label, count, _ratio(count * 100, n, 1)) for label, count in ordered]
        columns = [Column("reason", "Причина"), Column("terminations", "Расторжений", "int"),
                   Column("share", "Доля, %", "decimal", 1)]
        return Report("churn", "Отток", columns, lines,
                      total=(TOTAL, n, Decimal("100.0") if n else None),
                      subtitle=CHURN_GROUPS["reason"])
    per_month = {m: [0, 0] for m in f.months}
    for i, column in enumerate(("connected_on", "terminated_on")):
        rows = await _fetch(
            f"SELECT {_sql_date_month('s.' + column)} AS m, COUNT(*) AS n FROM subscriber s{joins}"
            f" WHERE s.{column} BETWEEN ? AND ?{where} GROUP BY {_sql_date_month('s.' + column)}",
            first, last, *args,
        )
        for r in rows:
            per_month[r["m"]][i] += _int(r["n"])
    lines = [(m, c, t, c - t) for m, (c, t) in per_month.items()]
    columns = [Column("month", "Месяц", "month"), Column("connected", "Подключено", "int"),
               Column("terminated", "Расторгнуто", "int"), Column("net", "Прирост", "int")]
    total = (TOTAL, *[sum(line[i] for line in lines) for i in (1, 2, 3)])
    return Report("churn", "Отток", columns, lines, total=total, subtitle=CHURN_GROUPS["month"])


def _request_scope(f: Filters) -> tuple[str, str, list[Any]]:
    """Town: the subscriber's, else the applicant's; tariff: current, else the requested one."""
    joins = (" LEFT JOIN subscriber s ON s.id = r.subscriber"
             " LEFT JOIN address a ON a.id = s.address LEFT JOIN street st ON st.id = a.street")
    where, args = "", []
    if f.town:
        where += " AND COALESCE(st.town, r.town) = ?"
        args.append(f.town)
    if f.tariff:
        where += " AND COALESCE(s.tariff, r.requested_tariff) = ?"
        args.append(f.tariff)
    return joins, where, args


async def requests_report(f: Filters, now: dt.datetime) -> Report:
    """Requests created in the period by kind: volume, time to the first staff reply and to close.

    The first reply is the first non-internal event written by staff; times are
    in hours; percentiles interpolate linearly between ranks.
    """
    joins, where, args = _request_scope(f)
    rows = await _fetch(
        "SELECT r.kind, r.created_at, r.closed_at,"
        " (SELECT MIN(e.created_at) FROM request_event e WHERE e.service_request = r.id"
        "  AND e.staff IS NOT NULL AND NOT e.internal) AS replied_at"
        f" FROM service_request r{joins} WHERE r.created_at >= ? AND r.created_at < ?{where}",
        f.start_utc, f.end_utc, *args,
    )
    kinds = list(REQUEST_KIND_LABELS)
    stats: dict[str, dict[str, list[int]]] = {k: {"all": [], "reply": [], "close": []}
                                              for k in [*kinds, "*"]}
    for r in rows:
        created = _ts(r["created_at"])
        replied, closed = _ts(r["replied_at"]), _ts(r["closed_at"])
        for key in (r["kind"], "*"):
            bucket = stats.setdefault(key, {"all": [], "reply": [], "close": []})
            bucket["all"].append(1)
            if replied is not None:
                bucket["reply"].append(_micros(replied - created))
            if closed is not None:
                bucket["close"].append(_micros(closed - created))

    def line(label: str, s: dict[str, list[int]]) -> tuple:
        return (label, len(s["all"]), len(s["close"]), len(s["all"]) - len(s["reply"]),
                _hours(percentile(s["reply"], 0.5)), _hours(percentile(s["reply"], 0.9)),
                _hours(percentile(s["close"], 0.5)), _hours(percentile(s["close"], 0.9)))

    lines = [line(REQUEST_KIND_LABELS.get(k, k), stats[k]) for k in stats if k != "*"]
    columns = [Column("kind", "Вид заявки"), Column("created", "Создано", "int"),
               Column("closed", "Закрыто", "int"), Column("unanswered", "Без ответа", "int"),
               Column("reply_median", "Первый ответ: медиана, ч", "decimal", 1),
               Column("reply_p90", "Первый ответ: 90%, ч", "decimal", 1),
               Column("close_median", "Закрытие: медиана, ч", "decimal", 1),
               Column("close_p90", "Закрытие: 90%, ч", "decimal", 1)]
    return Report("requests", "Обработка заявок", columns, lines, total=line(TOTAL, stats["*"]))


async def backlog_report(f: Filters, now: dt.datetime) -> Report:
    """Open requests (new or in progress) right now by age and kind."""
    joins, where, args = _request_scope(f)
    rows = await _fetch(
        f"SELECT r.kind, r.created_at FROM service_request r{joins}"
        f" WHERE r.status IN ('{RequestStatus.NEW.value}', '{RequestStatus.IN_PROGRESS.value}'){where}",
        *args,
    )
    kinds = list(REQUEST_KIND_LABELS)
    counts = {label: dict.fromkeys(kinds, 0) for _, label in BACKLOG_BUCKETS}
    for r in rows:
        age = now - _ts(r["created_at"])
        days = age.days + (1 if age % dt.timedelta(days=1) else 0)  # started days
        counts[_bucket(days, BACKLOG_BUCKETS)][r["kind"]] += 1
    lines = [(label, *[c[k] for k in kinds], sum(c.values())) for label, c in counts.items()]
    columns = [Column("age", "Возраст заявки"),
               *[Column(k, REQUEST_KIND_LABELS[k], "int") for k in kinds],
               Column("total", "Всего", "int")]
    total = (TOTAL, *[sum(line[i] for line in lines) for i in range(1, len(columns))])
    return Report("backlog", "Открытые заявки по возрасту", columns, lines, total=total,
                  subtitle="новые и в работе сейчас")


async def ratings_report(f: Filters, now: dt.datetime) -> Report:
    """Cabinet ratings per month (by the rating's month): count, average and distribution."""
    rows = await _fetch(
        "SELECT period AS m, score, COUNT(*) AS n FROM cabinet_rating"
        " WHERE period BETWEEN ? AND ? GROUP BY period, score",
        f.month_from, f.month_to,
    )
    scores = list(RATING_LABELS)
    counts = {m: dict.fromkeys(scores, 0) for m in f.months}
    for r in rows:
        counts[r["m"]][int(r["score"])] += _int(r["n"])

    def line(label: str, c: dict[int, int]) -> tuple:
        n = sum(c.values())
        return (label, n, _ratio(sum(s * k for s, k in c.items()), n), *[c[s] for s in scores])

    total = {s: sum(c[s] for c in counts.values()) for s in scores}
    columns = [Column("month", "Месяц", "month"), Column("count", "Оценок", "int"),
               Column("average", "Средняя оценка", "decimal", 2),
               *[Column(f"score_{s}", f"{s} — {RATING_LABELS[s]}", "int") for s in scores]]
    return Report("ratings", "Оценки кабинета", columns, [line(m, counts[m]) for m in f.months],
                  total=line(TOTAL, total))


async def comments_report(f: Filters, now: dt.datetime) -> Report:
    """The latest rating comments of the period, newest first."""
    rows = await _fetch(
        "SELECT c.created_at, c.period, c.score, c.comment, s.contract_number"
        " FROM cabinet_rating c LEFT JOIN subscriber s ON s.id = c.subscriber"
        " WHERE c.period BETWEEN ? AND ? AND c.comment <> ''"
        f" ORDER BY c.created_at DESC, c.id DESC LIMIT {LATEST_COMMENTS}",
        f.month_from, f.month_to,
    )
    lines = [(_ts(r["created_at"]), r["period"], int(r["score"]),
              RATING_LABELS.get(int(r["score"]), ""), r["comment"], r["contract_number"] or "")
             for r in rows]
    columns = [Column("created_at", "Когда", "datetime"), Column("month", "Месяц", "month"),
               Column("score", "Оценка", "int"), Column("label", "Оценка словами"),
               Column("comment", "Комментарий"), Column("contract", "Договор")]
    return Report("comments", "Комментарии к оценкам", columns, lines,
                  subtitle=f"последние {LATEST_COMMENTS}")


# --- registry --------------------------------------------------------------------------------------

Builder = Callable[[Filters, dt.datetime], Awaitable[Report]]


@dataclass(frozen=True)
class ReportSpec:
    slug: str
    title: str
    description: str
    build: Builder
    uses: frozenset[str]
    groups: Mapping[str, str] = field(default_factory=dict)


def _spec(slug: str, title: str, description: str, build: Builder, uses: str,
          groups: Mapping[str, str] | None = None) -> ReportSpec:
    return ReportSpec(slug, title, description, build, frozenset(uses.split()), groups or {})


REPORTS: dict[str, ReportSpec] = {s.slug: s for s in [
    _spec("payments", "Платежи", "Оплаты по дням или месяцам, каналам и платёжным системам; возвраты.",
          payments_report, "period town tariff group", PAYMENT_GROUPS),
    _spec("billing", "Начисления и оплаты", "Что начислено, что оплачено и разница по месяцам.",
          billing_report, "period town tariff"),
    _spec("debtors", "Должники", "Договоры с отрицательным балансом, срок долга, контакты.",
          debtors_report, "town tariff on"),
    _spec("arpu", "ARPU и абоненты", "Абоненты в обслуживании и средний доход на абонента по месяцам.",
          arpu_report, "period town tariff"),
    _spec("subscribers", "Абоненты по тарифам и городам", "Договоры в обслуживании сейчас.",
          subscribers_report, "town tariff"),
    _spec("churn", "Отток", "Подключения и расторжения по месяцам и причины расторжений.",
          churn_report, "period town tariff group", CHURN_GROUPS),
    _spec("requests", "Обработка заявок", "Заявки по видам: время до первого ответа и до закрытия.",
          requests_report, "period town tariff"),
    _spec("backlog", "Открытые заявки", "Незакрытые заявки по возрасту.",
          backlog_report, "town tariff"),
    _spec("ratings", "Оценки кабинета", "Распределение оценок по месяцам.",
          ratings_report, "period"),
    _spec("comments", "Комментарии к оценкам", "Последние комментарии абонентов к оценкам.",
          comments_report, "period"),
]}


async def build_report(slug: str, filters: Filters, now: dt.datetime | None = None) -> Report:
    """Build a report by its slug; the one entry point for pages, exports and the CLI."""
    spec = REPORTS[slug]
    now = now or utcnow()
    if "on" in spec.uses and filters.on is None:
        filters = replace(filters, on=local_today(now))
    report = await spec.build(filters, now)
    report.title = spec.title
    return report


async def filter_choices() -> dict[str, list[dict[str, Any]]]:
    """Towns and tariffs for the filter form."""
    return {
        "towns": await _fetch("SELECT id, name FROM town ORDER BY name"),
        "tariffs": await _fetch("SELECT id, name FROM tariff ORDER BY sort_order, name"),
    }

