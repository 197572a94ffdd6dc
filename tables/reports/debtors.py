"""``debtors``: contracts in debt at the end of a day, since when, and how to reach them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tables.addresses import format_address
from tables.calendar import LOCAL_TZ
from tables.reports.filters import Filters, local_midnight_utc, local_today
from tables.reports.report import TOTAL, Chart, Column, Report, Series, spec
from tables.reports.sql import as_int, bucket, fetch, subscriber_scope, timestamp
from tables.subscribers import SUBSCRIBER_STATUS_LABELS

AGING_BUCKETS = ((30, "0–30"), (60, "31–60"), (90, "61–90"), (None, "более 90"))
#: How far back the report first looks for the start of each debt (see below).
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
            rows = await fetch(
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
    joins, where, args = subscriber_scope(f)
    first = await fetch("SELECT MIN(created_at) AS at FROM ledger_entry")
    first_at = timestamp(first[0]["at"]) if first and first[0]["at"] else end
    rows = await fetch(
        "WITH " + _debt_cte(kept_balance=now - end < end - first_at) +
        " SELECT s.id AS sid, s.contract_number, s.full_name, s.phone, s.email, s.status,"
        "  t.name AS tariff, tw.name AS town, st.name AS street, a.house, a.apartment, debt.balance"
        " FROM debt JOIN subscriber s ON s.id = debt.sid"
        " JOIN tariff t ON t.id = s.tariff JOIN address a ON a.id = s.address"
        " JOIN street st ON st.id = a.street JOIN town tw ON tw.id = st.town"
        f"{joins} WHERE 1 = 1{where}",
        end, *args,
    )
    starts = await _debt_starts(end, {r["sid"]: as_int(r["balance"]) for r in rows})
    lines = []
    for r in rows:
        since = timestamp(starts[r["sid"]]).astimezone(LOCAL_TZ).date()
        days = (on - since).days
        lines.append((
            r["contract_number"], r["full_name"], r["town"],
            format_address(r["town"], r["street"], r["house"], r["apartment"]),
            r["phone"], r["email"], r["tariff"],
            SUBSCRIBER_STATUS_LABELS.get(r["status"], r["status"]),
            as_int(r["balance"]), since, days, bucket(days, AGING_BUCKETS),
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


def charts(report: Report, f: Filters) -> list[Chart]:
    aging = debt_aging(report)
    labels = [f"{label} дн." for label, _, _ in aging]
    return [Chart("Долг по срокам", labels, [Series("Долг", [debt for _, _, debt in aging])], money=True),
            Chart("Должников по срокам", labels, [Series("Договоров", [n for _, n, _ in aging])])]


SPEC = spec("debtors", "Должники", "Договоры с отрицательным балансом, срок долга, контакты.",
            debtors_report, "town tariff on", charts=charts)
