"""A report as CSV or XLSX, and the XLSX writer the raw exports share.

CSV goes through the one writer (``tables.csvfile``).  XLSX cells are typed: money is a
number (roubles, from kopecks through ``Decimal``), dates and times are Excel dates in local
time.  XLSX is written by XlsxWriter in ``constant_memory`` mode into a temporary file that is
then streamed and removed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any

import anyio
import xlsxwriter

from tables.calendar import LOCAL_TZ, as_utc
from tables.csvfile import csv_chunks
from tables.money import format_csv, to_decimal
from tables.month import Month
from tables.reports.filters import Filters
from tables.reports.report import Column, Report

XLSX_MAX_ROWS = 1_048_576
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DATE_FORMAT = "%d.%m.%Y"
DATETIME_FORMAT = "%d.%m.%Y %H:%M"


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
        return Month.parse(value).first_day
    return value


def report_table(report: Report) -> list[list[Any]]:
    """Header, rows and the total row: what every output of a report shows."""
    return [[c.label for c in report.columns], *report.rows,
            *([report.total] if report.total else [])]


# --- reports (small: built in memory, streamed out) -------------------------------------------------

async def report_csv(report: Report) -> AsyncIterator[bytes]:
    """The report's table (header, rows, total) as the page shows it, as CSV."""
    header, *rows = report_table(report)
    cells = ([cell_text(v, c) for v, c in zip(row, report.columns, strict=True)] for row in rows)
    for chunk in csv_chunks([header, *cells]):
        yield chunk


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


def export_filename(slug: str, f: Filters, extension: str, *, period: bool = True) -> str:
    span = f.month_from if f.month_from == f.month_to else f"{f.month_from}_{f.month_to}"
    return f"centra-{slug}-{span}.{extension}" if period else f"centra-{slug}.{extension}"
