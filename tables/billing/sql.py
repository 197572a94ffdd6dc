"""SQL shared by the billing modules on both engines, and the locks they take."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from db.engine import is_sqlite
from tables.ledger import LedgerEntry
from tables.subscribers import Subscriber

# pg_advisory_xact_lock key ("centra" in ASCII): serialises charge runs and tariff scheduling.
BILLING_LOCK_KEY = 0x63656E747261


class Sql:
    """Renders ``:name`` parameters for the current engine with the casts it needs."""

    def __init__(self) -> None:
        self.pg = not is_sqlite()

    def day(self, expr: str) -> str:
        """Day of month of a DATE column as an integer."""
        if self.pg:
            return f"CAST(EXTRACT(DAY FROM {expr}) AS INTEGER)"
        return f"CAST(strftime('%d', {expr}) AS INTEGER)"

    def greatest(self, a: str, b: str) -> str:
        return f"GREATEST({a}, {b})" if self.pg else f"MAX({a}, {b})"

    def least(self, a: str, b: str) -> str:
        return f"LEAST({a}, {b})" if self.pg else f"MIN({a}, {b})"

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


async def lock_billing(q: Sql) -> None:
    """Serialise charge runs and tariff scheduling on PostgreSQL (SQLite: BEGIN IMMEDIATE does)."""
    if q.pg:
        await q.run("SELECT pg_advisory_xact_lock(:key)", key=BILLING_LOCK_KEY)


async def lock_subscriber(subscriber_id: int) -> Subscriber | None:
    query = Subscriber.objects().where(Subscriber.id == subscriber_id)
    if not is_sqlite():
        query = query.lock_rows()
    return await query.first()


def audit_insert_select(q: Sql, *, action: str, select_from: str, object_repr: str,
                         before: str, after: str) -> str:
    """``INSERT INTO audit_entry … SELECT`` for set-based changes (one entry per row)."""
    return f"""
INSERT INTO audit_entry (actor, actor_name, action, object_type, object_id, object_repr,
                         message, before, after, created_at)
SELECT :actor_id, :actor_name, '{action}', 'subscriber', CAST(s.id AS TEXT), {object_repr},
       :message, {q.json_object}({before}), {q.json_object}({after}), :now
{select_from}"""
