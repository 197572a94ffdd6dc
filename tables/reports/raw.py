"""Raw exports: every ledger entry or payment of a period, as CSV or XLSX, streamed.

Memory stays flat however many rows: the raw exports never hold more than one batch.  On
PostgreSQL the raw CSV is produced by ``COPY (...) TO STDOUT`` with the formatting done in SQL;
on SQLite a ``sqlite3`` cursor in a worker thread formats in SQL too and ``csv`` writes batches.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio

from db.engine import engine, is_sqlite
from db.replica import dollar_params
from tables.calendar import LOCAL_TZ_NAME
from tables.csvfile import (
    BOM,
    DELIMITER,
    SQLITE_SAFE_TEXT,
    csv_writer,
    safe_text,
    safe_text_sql,
)
from tables.ledger import ENTRY_KIND_LABELS
from tables.money import to_decimal
from tables.payments.payment import PAYMENT_CHANNEL_LABELS, PAYMENT_STATUS_LABELS
from tables.reports.exports import XlsxWriter, stream_file, temp_xlsx_path
from tables.reports.filters import Filters
from tables.reports.report import Column
from tables.reports.sql import SQLITE_SHIFT, subscriber_scope

BATCH = 5000


@dataclass(frozen=True)
class RawColumn:
    label: str
    kind: str
    expr: str
    labels: bool = False  # our own labels (_labels_case): no formula guard needed


def _labels_case(expr: str, labels: dict[str, str]) -> str:
    whens = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in labels.items())
    return f"CASE {expr} {whens} ELSE {expr} END"


# The subscriber's contract number in a raw export: a join on SQLite, a lookup on PostgreSQL.
CONTRACT = "s.contract_number"

# PostgreSQL: contract numbers in an array indexed by subscriber id, built once per query
# (an InitPlan, so from the query's own snapshot) and read per row in O(1) because ``name``
# is a fixed-width type (text[] elements would be walked from the start).  A million rows:
# ~0.03 s instead of ~0.17 s for the memoized nested-loop join the planner picks to keep
# ``ORDER BY id`` (a hash join would need a sort of all rows).  The array takes 64 bytes per
# id up to the largest (gaps filled), so past _LOOKUP_MAX_ID the export joins instead.
_LOOKUP_MAX_ID = 1_000_000
_PG_CONTRACTS = (
    "(SELECT array_agg(coalesce(s.contract_number::name, '') ORDER BY g.id)"
    " FROM generate_series(1, (SELECT max(id) FROM subscriber)) g(id)"
    " LEFT JOIN subscriber s ON s.id = g.id)"
)


async def _pg_lookup_fits(connection: Any) -> bool:
    """Whether the contract lookup array stays small (ids are serial, so normally yes)."""
    return await connection.fetchval("SELECT coalesce(max(id), 0) FROM subscriber") <= _LOOKUP_MAX_ID


@dataclass(frozen=True)
class RawExport:
    slug: str
    title: str
    columns: tuple[RawColumn, ...]
    table: str  # ``ledger_entry le``
    subscriber: str  # the row's subscriber id, ``le.subscriber``
    time_column: str
    order_by: str

    @property
    def report_columns(self) -> list[Column]:
        return [Column(f"c{i}", c.label, c.kind) for i, c in enumerate(self.columns)]

    def sql(self, f: Filters, *, formatted: bool, lookup: bool = False) -> tuple[str, list[Any]]:
        """The export's query; ``lookup``: contract numbers from _PG_CONTRACTS (PostgreSQL only)."""
        joins, where, args = subscriber_scope(f)
        if lookup and not is_sqlite():
            source, contract = self.table, f"{_PG_CONTRACTS}[{self.subscriber}]"
            if where:  # town/tariff as a semi-join: the rows themselves need no join
                where = f" AND {self.subscriber} IN (SELECT s.id FROM subscriber s{joins} WHERE TRUE{where})"
        else:
            source = f"{self.table} JOIN subscriber s ON s.id = {self.subscriber}{joins}"
            contract = CONTRACT
        exprs = [contract if c.expr == CONTRACT else _csv_expr(c) if formatted else _typed_expr(c)
                 for c in self.columns]
        sql = (f"SELECT {', '.join(exprs)} FROM {source}"
               f" WHERE {self.time_column} >= ? AND {self.time_column} < ?{where}"
               f" ORDER BY {self.order_by}")
        return sql, [f.start_utc, f.end_utc, *args]


def _typed_expr(column: RawColumn) -> str:
    """Timestamps in local time to the second, by the database (naive, or text on SQLite)."""
    if column.kind == "datetime":
        if is_sqlite():
            return f"datetime({column.expr}, {SQLITE_SHIFT})"
        # the export connection's session time zone is local (see _pg_connection): a cast
        # is much cheaper per row than AT TIME ZONE or to_char
        return f"{column.expr}::timestamp(0)"
    return column.expr


def _identity(value: Any) -> Any:
    return value


def _local_datetime(value: Any) -> dt.datetime:
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else value


def raw_converters(columns: Sequence[RawColumn]) -> list[Callable[[Any], Any]]:
    return [to_decimal if c.kind == "money" else _local_datetime if c.kind == "datetime"
            else _identity for c in columns]


def _csv_expr(column: RawColumn) -> str:
    """The SQL that formats a column as text: money as :func:`tables.money.format_csv` does, timestamps
    as ISO local time to the second (``2026-11-05 14:30:00``, the cheapest form for the
    database to produce; Excel reads it as a date and time)."""
    x = column.expr
    if column.kind == "money":
        # integer arithmetic and text: on PostgreSQL ~40% cheaper per row than
        # replace((x * 0.01)::text, '.', ','), which goes through numeric
        sign_rub = f"CASE WHEN {x} < 0 THEN '-' ELSE '' END || (abs({x}) / 100) || ','"
        if is_sqlite():
            return f"{sign_rub} || substr('0' || (abs({x}) % 100), -2)"
        return f"{sign_rub} || lpad((abs({x}) % 100)::text, 2, '0')"
    if column.kind == "datetime":
        return _typed_expr(column)
    if column.kind == "text" and not column.labels:
        return safe_text_sql(x)
    return x


# Short labels keep a million-row CSV small (the cabinet's labels are longer).
LEDGER_KIND_EXPORT_LABELS = {"payment": "Платёж", "charge": "Начисление", "refund": "Возврат",
                             "adjustment": "Корректировка", "promised": "Обещанный платёж"}
assert set(LEDGER_KIND_EXPORT_LABELS) == set(ENTRY_KIND_LABELS)

RAW_EXPORTS: dict[str, RawExport] = {r.slug: r for r in [
    RawExport(
        "ledger", "Журнал проводок",
        (RawColumn("№ проводки", "int", "le.id"), RawColumn("Время", "datetime", "le.created_at"),
         RawColumn("Договор", "text", CONTRACT),
         RawColumn("Вид", "text", _labels_case("le.kind", LEDGER_KIND_EXPORT_LABELS), labels=True),
         RawColumn("Сумма, ₽", "money", "le.amount"), RawColumn("Период", "text", "le.period"),
         RawColumn("Ссылка", "text", "le.reference"), RawColumn("Комментарий", "text", "le.comment"),
         RawColumn("Кто провёл", "text", "le.created_by")),
        "ledger_entry le", "le.subscriber", "le.created_at", "le.id",
    ),
    RawExport(
        "payment-list", "Список платежей",
        (RawColumn("№ платежа", "int", "p.id"), RawColumn("Создан", "datetime", "p.created_at"),
         RawColumn("Договор", "text", CONTRACT),
         RawColumn("Состояние", "text", _labels_case("p.status", PAYMENT_STATUS_LABELS), labels=True),
         RawColumn("Канал", "text", _labels_case("p.channel", PAYMENT_CHANNEL_LABELS), labels=True),
         RawColumn("Платёжная система", "text", "p.card_brand"),
         RawColumn("Карта, последние цифры", "text", "p.card_last4"),
         RawColumn("Сумма, ₽", "money", "p.amount"),
         RawColumn("Возвращено, ₽", "money", "p.refunded_amount"),
         RawColumn("За месяц", "text", "p.period"),
         RawColumn("Платёж у провайдера", "text", "p.provider_intent_id")),
        "payment p", "p.subscriber", "p.created_at", "p.id",
    ),
]}


@contextlib.asynccontextmanager
async def _pg_connection() -> AsyncIterator[Any]:
    """A connection whose session time zone is local (the pool resets it on release): on the
    read replica when one is configured and usable (``db.replica``), else on the primary."""
    from db.replica import replica

    standby = replica()
    if standby is not None and await standby.usable():
        async with standby.connection(time_zone=LOCAL_TZ_NAME) as connection:
            yield connection
        return
    db = engine()
    pool = getattr(db, "pool", None)
    if pool is not None:
        async with pool.acquire() as connection:
            await connection.execute(f"SET TIME ZONE '{LOCAL_TZ_NAME}'")
            yield connection
        return
    connection = await db.get_new_connection()
    try:
        await connection.execute(f"SET TIME ZONE '{LOCAL_TZ_NAME}'")
        yield connection
    finally:
        await connection.close()


def _sqlite_args(args: Sequence[Any]) -> list[Any]:
    """Bind values as Piccolo stores them (timestamps as UTC text)."""
    out = []
    for value in args:
        if isinstance(value, dt.datetime):
            value = str(value.astimezone(dt.UTC)) if value.tzinfo else str(value)
        out.append(value)
    return out


def _sqlite_safe_text(value: Any) -> Any:
    return safe_text(value) if isinstance(value, str) else value


async def _sqlite_batches(sql: str, args: Sequence[Any],
                          convert: Callable[[list[tuple]], Any]) -> AsyncIterator[Any]:
    """Fetch in a worker thread, one batch at a time, converting each batch there too."""
    connection = sqlite3.connect(engine().path, check_same_thread=False)
    connection.create_function(SQLITE_SAFE_TEXT, 1, _sqlite_safe_text, deterministic=True)
    try:
        cursor = await anyio.to_thread.run_sync(connection.execute, sql, _sqlite_args(args))

        def next_batch() -> Any:
            rows = cursor.fetchmany(BATCH)
            return convert(rows) if rows else None

        while (batch := await anyio.to_thread.run_sync(next_batch)) is not None:
            yield batch
    finally:
        connection.close()


def _csv_chunk(rows: list[tuple]) -> bytes:
    buffer = io.StringIO()
    # Text columns come formula-guarded from the query (safe_text_sql): a million rows would
    # pay for the Python guard twice over.  CRLF: see csv_writer.
    csv.writer(buffer, delimiter=DELIMITER, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _header(columns: Sequence[Column]) -> bytes:
    buffer = io.StringIO()
    buffer.write(BOM)
    # PostgreSQL's COPY ends its lines in LF (and quotes a carriage return itself).
    csv_writer(buffer, lineterminator="\r\n" if is_sqlite() else "\n").writerow([c.label for c in columns])
    return buffer.getvalue().encode("utf-8")


async def raw_csv(slug: str, f: Filters) -> AsyncIterator[bytes]:
    """The raw rows of a period as CSV, formatted by the database, streamed in chunks."""
    export = RAW_EXPORTS[slug]
    yield _header(export.report_columns)
    if is_sqlite():
        async for chunk in _sqlite_batches(*export.sql(f, formatted=True), _csv_chunk):
            yield chunk
        return
    async for chunk in _pg_copy(export, f):
        yield chunk


async def _pg_copy(export: RawExport, f: Filters) -> AsyncIterator[bytes]:
    """``COPY (query) TO STDOUT`` chunks; a small queue gives back-pressure.

    A consumer that stops early (the client went away) leaves the COPY half
    read: that connection is closed, not returned to the pool, so the server
    abandons the query and releases its locks.
    """
    import asyncio

    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=16)
    done = object()
    async with _pg_connection() as connection:
        sql, args = export.sql(f, formatted=True, lookup=await _pg_lookup_fits(connection))

        async def sink(chunk: bytes) -> None:
            await queue.put(bytes(chunk))  # asyncpg hands over a reused buffer

        async def run() -> None:
            try:
                await connection.copy_from_query(dollar_params(sql), *args, output=sink, format="csv",
                                                 delimiter=DELIMITER)
            except Exception as exc:
                await queue.put(exc)
            else:
                await queue.put(done)

        task = asyncio.create_task(run())
        finished = False
        try:
            while (item := await queue.get()) is not done:
                if isinstance(item, Exception):
                    raise item
                yield item
            finished = True
        finally:
            if not finished:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
                connection.terminate()


async def raw_rows(slug: str, f: Filters) -> AsyncIterator[list[tuple]]:
    """The raw rows of a period, in batches; timestamps already in local time (see ``_typed_expr``)."""
    export = RAW_EXPORTS[slug]
    if is_sqlite():
        async for batch in _sqlite_batches(*export.sql(f, formatted=False), lambda rows: rows):
            yield batch
        return
    async with _pg_connection() as connection, connection.transaction(readonly=True):
        sql, args = export.sql(f, formatted=False, lookup=await _pg_lookup_fits(connection))
        cursor = await connection.cursor(dollar_params(sql), *args)
        while batch := await cursor.fetch(BATCH):
            yield [tuple(r) for r in batch]


async def write_raw_xlsx(slug: str, f: Filters, path: str,
                         parameters: Sequence[tuple[str, str]] = ()) -> int:
    """Write the raw rows of a period into an XLSX file; returns the number of rows."""
    export = RAW_EXPORTS[slug]
    writer = XlsxWriter(path, export.report_columns, export.title)
    converters = raw_converters(export.columns)
    count = 0
    async for batch in raw_rows(slug, f):
        await anyio.to_thread.run_sync(writer.write_fast, batch, converters)
        count += len(batch)
    await anyio.to_thread.run_sync(writer.close, parameters)
    return count


async def raw_xlsx(slug: str, f: Filters, parameters: Sequence[tuple[str, str]] = ()) -> AsyncIterator[bytes]:
    path = temp_xlsx_path()
    try:
        await write_raw_xlsx(slug, f, path, parameters)
    except BaseException:
        os.unlink(path)
        raise
    async for data in stream_file(path):
        yield data


async def raw_count(slug: str, f: Filters) -> int:
    """How many rows the raw export of a period has (the progress bar's total)."""
    export = RAW_EXPORTS[slug]
    sql, args = export.sql(f, formatted=False)
    sql = f"SELECT count(*) FROM ({sql}) AS counted"
    if is_sqlite():
        connection = sqlite3.connect(engine().path, check_same_thread=False)
        try:
            row = await anyio.to_thread.run_sync(
                lambda: connection.execute(sql, _sqlite_args(args)).fetchone())
        finally:
            connection.close()
        return int(row[0])
    async with _pg_connection() as connection:
        return int(await connection.fetchval(dollar_params(sql), *args))
