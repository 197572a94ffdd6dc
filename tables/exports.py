"""Exports of reports and of the raw ledger/payments: CSV and XLSX, streamed.

CSV is UTF-8 with a BOM (Excel then reads Cyrillic), ``;`` as the delimiter and
a decimal comma, as Excel expects with Russian regional settings.  XLSX cells are
typed: money is a number (roubles, from kopecks through ``Decimal``), dates and
times are Excel dates in local time.

Memory stays flat however many rows: the raw exports never hold more than one
batch.  On PostgreSQL the raw CSV is produced by ``COPY (...) TO STDOUT`` with
the formatting done in SQL; on SQLite a ``sqlite3`` cursor in a worker thread
formats in SQL too and ``csv`` writes batches.  XLSX is written by XlsxWriter in
``constant_memory`` mode into a temporary file that is then streamed and removed.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import os
import re
import sqlite3
import tempfile
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import xlsxwriter

from db.engine import engine, is_sqlite
from tables.calendar import as_utc
from tables.ledger import ENTRY_KIND_LABELS
from tables.money import format_csv, to_decimal
from tables.payments.payment import PAYMENT_CHANNEL_LABELS, PAYMENT_STATUS_LABELS
from tables.reports import LOCAL_TZ, LOCAL_TZ_NAME, Column, Filters, Report, _subscriber_scope

BOM = "\ufeff"
DELIMITER = ";"
BATCH = 5000
XLSX_MAX_ROWS = 1_048_576
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DATE_FORMAT = "%d.%m.%Y"
DATETIME_FORMAT = "%d.%m.%Y %H:%M"
_SQLITE_SHIFT = f"'{int(LOCAL_TZ.utcoffset(dt.datetime(2026, 1, 1)).total_seconds() // 3600):+d} hours'"

# The formula guard of every CSV the system writes: a text cell starting like a formula
# (``=HYPERLINK(…)`` typed into a rating) gets a leading apostrophe, so a spreadsheet shows
# it instead of evaluating it; numbers, amounts and phone numbers ("-1234,56",
# "+7 (913) 123-45-67") stay as they are.  One rule, written three ways from these two
# constants: :func:`safe_text` (Python), :func:`safe_text_sql` (raw exports the database
# formats) and the patch of Piccolo Admin's own export (``backoffice/admin_csv.py``).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# The same regex in Python, PostgreSQL and JS; ``{0,1}``, not ``?``: a ``?`` in export SQL is
# a bind parameter.
# Digit groups may be split by a (narrow) no-break space, as "-1\u00a0000,00" in the admin.
PLAIN_NUMBER = "^[+-]{0,1}[0-9 \u00a0\u202f(),-]*[0-9][0-9 \u00a0\u202f(),-]*$"
_PLAIN_NUMBER = re.compile(PLAIN_NUMBER)
#: SQLite has no regex: the rare cell that starts like a formula goes to safe_text.
SQLITE_SAFE_TEXT = "centra_safe_text"


class SafeCsvWriter:
    """``csv.writer`` whose text cells all go through :func:`safe_text`."""

    def __init__(self, buffer: io.StringIO, *, delimiter: str, lineterminator: str) -> None:
        self._writer = csv.writer(buffer, delimiter=delimiter, lineterminator=lineterminator)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([safe_text(v) if isinstance(v, str) else v for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(buffer: io.StringIO, *, delimiter: str = DELIMITER,
               lineterminator: str = "\r\n") -> SafeCsvWriter:
    """The writer of every CSV the system writes (formula-guarded).

    Lines end in CRLF (RFC 4180, as Excel writes them): Python's csv quotes a cell holding a
    carriage return only when the line terminator has one, and an unquoted one starts a new
    row in a spreadsheet (``x\r=HYPERLINK(…)`` would then slip past the guard).
    """
    return SafeCsvWriter(buffer, delimiter=delimiter, lineterminator=lineterminator)


def safe_text(value: str) -> str:
    """``value`` as a spreadsheet shows it and never evaluates it (see :data:`FORMULA_START`).

    >>> safe_text('=HYPERLINK("http://x","y")'), safe_text("-1234,56")
    ('\'=HYPERLINK("http://x","y")', '-1234,56')
    """
    if value.startswith(FORMULA_START) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def safe_text_sql(expr: str) -> str:
    """SQL giving :func:`safe_text` of a text expression, for the exports the database formats."""
    # The first character's code point: an integer comparison, cheaper per row than a substring.
    starts = ", ".join(str(ord(c)) for c in FORMULA_START)
    if is_sqlite():
        return (f"CASE WHEN unicode({expr}) IN ({starts})"
                f" THEN {SQLITE_SAFE_TEXT}({expr}) ELSE {expr} END")
    return (f"CASE WHEN ascii({expr}) IN ({starts}) AND {expr} !~ '{PLAIN_NUMBER}'"
            f" THEN '''' || {expr} ELSE {expr} END")


def cell_text(value: Any, column: Column) -> str:
    """A cell as CSV text; the page shows the same value (numbers grouped, ₽ added)."""
    if value is None:
        return ""
    kind = column.kind
    if isinstance(value, str) and kind not in ("text", "month"):
        return value  # a label such as "Итого" in a typed column
    if kind == "money":
        return format_csv(value)
    if kind == "int":
        return str(int(value))
    if kind == "decimal":
        return f"{value:.{column.places}f}".replace(".", ",")
    if kind == "date":
        return value.strftime(DATE_FORMAT)
    if kind == "datetime":
        return value.astimezone(LOCAL_TZ).strftime(DATETIME_FORMAT)
    if kind == "month":
        return str(value)
    return str(value)  # the writer guards it, as every text cell (safe_text)


def xlsx_value(value: Any, column: Column) -> Any:
    """A cell as a typed XLSX value (None stays empty)."""
    if value is None:
        return None
    kind = column.kind
    if kind == "money":
        return to_decimal(value)
    if kind == "datetime":
        return as_utc(value).astimezone(LOCAL_TZ).replace(tzinfo=None)
    if kind == "date" and isinstance(value, str):
        return dt.date.fromisoformat(value)
    if kind == "month":
        return dt.date(int(value[:4]), int(value[5:7]), 1)
    return value


def report_table(report: Report) -> list[list[Any]]:
    """Header, rows and the total row: what every output of a report shows."""
    return [[c.label for c in report.columns], *report.rows,
            *([report.total] if report.total else [])]


# --- reports (small: built in memory, streamed out) -------------------------------------------------

async def report_csv(report: Report) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv_writer(buffer)
    buffer.write(BOM)
    writer.writerow([c.label for c in report.columns])
    rows = [*report.rows, *([report.total] if report.total else [])]
    for start in range(0, len(rows), 1000):
        for row in rows[start:start + 1000]:
            writer.writerow([cell_text(v, c) for v, c in zip(row, report.columns, strict=True)])
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


class XlsxWriter:
    """One typed table in a workbook written in constant memory; new sheet past Excel's row limit."""

    def __init__(self, path: str, columns: Sequence[Column], title: str) -> None:
        self.path, self.columns, self.title = path, list(columns), title[:31]
        self.book = xlsxwriter.Workbook(path, {
            "constant_memory": True,
            "tmpdir": os.path.dirname(path) or None,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        })
        self.header = self.book.add_format({"bold": True, "text_wrap": True, "valign": "top"})
        self.bold = self.book.add_format({"bold": True})
        formats = {
            "money": self.book.add_format({"num_format": "#,##0.00"}),
            "int": self.book.add_format({"num_format": "0"}),
            "date": self.book.add_format({"num_format": "dd.mm.yyyy"}),
            "datetime": self.book.add_format({"num_format": "dd.mm.yyyy hh:mm"}),
            "month": self.book.add_format({"num_format": "yyyy-mm"}),
        }
        self.formats = [formats.get(c.kind) or (
            self.book.add_format({"num_format": "0." + "0" * c.places if c.places else "0"})
            if c.kind == "decimal" else None) for c in self.columns]
        self.sheets = 0
        self._new_sheet()

    def _new_sheet(self) -> None:
        self.sheets += 1
        name = self.title if self.sheets == 1 else f"{self.title[:26]} ({self.sheets})"
        self.sheet = sheet = self.book.add_worksheet(name)
        methods = {"money": sheet.write_number, "int": sheet.write_number, "decimal": sheet.write_number,
                   "date": sheet.write_datetime, "datetime": sheet.write_datetime,
                   "month": sheet.write_datetime}
        self.plan = [(methods.get(c.kind, sheet.write_string), f) for c, f in
                     zip(self.columns, self.formats, strict=True)]
        for i, column in enumerate(self.columns):
            width = {"money": 14, "int": 10, "decimal": 12, "date": 11, "datetime": 16,
                     "month": 9}.get(column.kind, 24)
            sheet.set_column(i, i, max(width, min(len(column.label), 30)))
            sheet.write_string(0, i, column.label, self.header)
        sheet.freeze_panes(1, 0)
        self.row = 1

    def write(self, values: Sequence[Any], *, bold: bool = False) -> None:
        """Write one row of already typed values (see :func:`xlsx_value`)."""
        if self.row >= XLSX_MAX_ROWS:
            self._new_sheet()
        row, plan = self.row, self.plan
        for i, value in enumerate(values):
            if value is None:
                continue
            if isinstance(value, str) and (bold or self.columns[i].kind != "text"):
                # a label such as "Итого" in a typed column of the total row
                self.sheet.write_string(row, i, value, self.bold if bold else None)
            else:
                method, fmt = plan[i]
                method(row, i, value, fmt)
        self.row += 1

    def write_raw(self, rows: Iterable[Sequence[Any]]) -> None:
        columns = self.columns
        for row in rows:
            self.write([xlsx_value(v, c) for v, c in zip(row, columns, strict=True)])

    def write_fast(self, rows: Iterable[Sequence[Any]], converters: Sequence[Callable[[Any], Any]]) -> None:
        """Rows of a raw export: per-column converters chosen once, not per cell."""
        write = self.write
        for row in rows:
            write([v if v is None else f(v) for v, f in zip(row, converters, strict=True)])

    def close(self, parameters: Sequence[tuple[str, str]] = ()) -> None:
        if parameters:
            sheet = self.book.add_worksheet("Отбор")
            sheet.set_column(0, 1, 30)
            for i, (name, value) in enumerate(parameters):
                sheet.write_string(i, 0, name, self.bold)
                sheet.write_string(i, 1, value)
        self.book.close()


def write_report_xlsx(report: Report, path: str, parameters: Sequence[tuple[str, str]] = ()) -> None:
    writer = XlsxWriter(path, report.columns, report.title)
    writer.write_raw(report.rows)
    if report.total:
        writer.write([v if isinstance(v, str) else xlsx_value(v, c)
                      for v, c in zip(report.total, report.columns, strict=True)], bold=True)
    writer.close(parameters)


async def stream_file(path: str, chunk: int = 256 * 1024) -> AsyncIterator[bytes]:
    """Stream a temporary file and remove it afterwards (also when the client goes away)."""
    try:
        handle = await anyio.open_file(path, "rb")
        async with handle:
            while data := await handle.read(chunk):
                yield data
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def temp_xlsx_path() -> str:
    fd, path = tempfile.mkstemp(prefix="centra-export-", suffix=".xlsx")
    os.close(fd)
    return path


async def report_xlsx(report: Report, parameters: Sequence[tuple[str, str]] = ()) -> AsyncIterator[bytes]:
    path = temp_xlsx_path()
    try:
        await anyio.to_thread.run_sync(write_report_xlsx, report, path, parameters)
    except BaseException:
        os.unlink(path)
        raise
    async for data in stream_file(path):
        yield data


# --- raw exports (large: never in memory) --------------------------------------------------------

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
        joins, where, args = _subscriber_scope(f)
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
            return f"datetime({column.expr}, {_SQLITE_SHIFT})"
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


def _dollar_params(sql: str) -> str:
    count = 0

    def number(_match: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return f"${count}"

    return re.sub(r"\?", number, sql)


@contextlib.asynccontextmanager
async def _pg_connection() -> AsyncIterator[Any]:
    """A connection whose session time zone is local (the pool resets it on release)."""
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
                await connection.copy_from_query(_dollar_params(sql), *args, output=sink, format="csv",
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
        cursor = await connection.cursor(_dollar_params(sql), *args)
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


def export_filename(slug: str, f: Filters, extension: str, *, period: bool = True) -> str:
    span = f.month_from if f.month_from == f.month_to else f"{f.month_from}_{f.month_to}"
    return f"centra-{slug}-{span}.{extension}" if period else f"centra-{slug}.{extension}"
