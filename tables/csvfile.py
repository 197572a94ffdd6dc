"""CSV as Russian Excel opens it, the one writer of every CSV the system writes: UTF-8 with a BOM
(Excel then reads Cyrillic), ``;`` as the delimiter, a decimal comma, CRLF lines, and the
formula guard on every text cell.

Reports, the raw exports' header, the cabinet's statement and the office's ratings download
all write through :func:`csv_writer` (rows as they go) or :func:`csv_bytes` (a whole file).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from db.engine import is_sqlite

BOM = "\ufeff"
DELIMITER = ";"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"

# The formula guard of every CSV the system writes: a text cell starting like a formula
# (``=HYPERLINK(…)`` typed into a rating) gets a leading apostrophe, so a spreadsheet shows
# it instead of evaluating it; numbers, amounts and phone numbers ("-1234,56",
# "+7 (913) 123-45-67") stay as they are.  One rule, written three ways from these two
# constants: :func:`safe_text` (Python), :func:`safe_text_sql` (raw exports the database
# formats) and the patch of Piccolo Admin's own export (``backoffice/ui.py``, ``BUNDLE_PATCHES``).
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


def csv_chunks(rows: Iterable[Sequence[Any]], *, rows_per_chunk: int = 1000) -> Iterator[bytes]:
    """A whole CSV file (BOM first), encoded a few rows at a time."""
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv_writer(buffer)
    for i, row in enumerate(rows, 1):
        writer.writerow(row)
        if i % rows_per_chunk == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


def csv_bytes(rows: Iterable[Sequence[Any]]) -> bytes:
    """A whole CSV file as bytes (a download built in memory)."""
    return b"".join(csv_chunks(rows))
