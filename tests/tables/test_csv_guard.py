"""One formula guard for every CSV the system writes: public text such as a rating comment
``=HYPERLINK("http://x","y")`` reaches a clerk's spreadsheet as text, never as a formula."""

from __future__ import annotations

import csv
import io

import pytest

from tables.addresses import Town
from tables.calendar import utcnow
from tables.csvfile import safe_text
from tables.ledger import LedgerEntry
from tables.ratings import CabinetRating
from tables.reports import Filters, build_report
from tables.reports.exports import report_csv
from tables.reports.raw import raw_csv
from tests.support.factories import make_address, make_subscriber

FORMULA = '=HYPERLINK("http://x","y")'
SAFE = "'" + FORMULA
# What the guard changes and what it leaves (amounts and phone numbers stay numbers).
CASES = {
    FORMULA: SAFE, "@SUM(A1)": "'@SUM(A1)", "+cmd|' /C calc'!A0": "'+cmd|' /C calc'!A0",
    "-2+3": "'-2+3", "\tTAB": "'\tTAB", "\r=1": "'\r=1", "-": "'-", "=": "'=",
    "-1234,56": "-1234,56", "+7 (913) 123-45-67": "+7 (913) 123-45-67", "-5": "-5",
    "обычный текст": "обычный текст",
    "-1\u00a0000,00": "-1\u00a0000,00", "-12\u202f345,67": "-12\u202f345,67",
    "'=уже": "'=уже", "": "", "a=b": "a=b",
}


def read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))


async def collect(chunks) -> bytes:
    return b"".join([chunk async for chunk in chunks])


def test_safe_text_cases():
    assert {value: safe_text(value) for value in CASES} == CASES


async def test_raw_ledger_csv_guards_comment_and_author_as_python_does():
    """PostgreSQL formats this export in SQL (COPY) and SQLite in its query too: the same rule."""
    subscriber = await make_subscriber()
    now = utcnow()
    for n, value in enumerate(CASES):
        await LedgerEntry.insert(LedgerEntry(subscriber=subscriber.id, amount=100, kind="adjustment",
                                             reference=f"guard:{n}", comment=value, created_by=value,
                                             created_at=now))
    today = now.date()
    filters = Filters.parse({"from": today.strftime("%Y-%m"), "to": today.strftime("%Y-%m")}, today=today)
    rows = read_csv(await collect(raw_csv("ledger", filters)))
    header, body = rows[0], rows[1:]
    comment, author = header.index("Комментарий"), header.index("Кто провёл")
    assert [r[comment] for r in body] == list(CASES.values())
    assert [r[author] for r in body] == list(CASES.values())
    assert all(r[header.index("Сумма, ₽")] == "1,00" for r in body)


async def test_subscribers_report_header_guards_town_names():
    town = await Town(name=FORMULA).save()
    await make_subscriber(address=await make_address(town=FORMULA))
    assert town
    report = await build_report("subscribers", Filters.parse({}, today=utcnow().date()))
    header = read_csv(await collect(report_csv(report)))[0]
    assert SAFE in header and FORMULA not in header


async def test_comments_report_csv_guards_the_rating_comment():
    await CabinetRating(score=1, comment=FORMULA, period=utcnow().strftime("%Y-%m"),
                        created_at=utcnow()).save()
    today = utcnow().date()
    report = await build_report("comments", Filters.parse({}, today=today))
    cells = [cell for row in read_csv(await collect(report_csv(report))) for cell in row]
    assert SAFE in cells and FORMULA not in cells


@pytest.mark.parametrize("value", [FORMULA])
async def test_statement_csv_guards_every_cell(value):
    from cabinet.exports import statement_csv
    from tables.statements import monthly_statement

    subscriber = await make_subscriber()
    await LedgerEntry.insert(LedgerEntry(subscriber=subscriber.id, amount=100, kind="adjustment",
                                         reference="guard", comment=value, created_at=utcnow()))
    month = await monthly_statement(subscriber.id, utcnow().strftime("%Y-%m"))
    rows = read_csv(statement_csv([month], value))  # a formula even in the title row's cell
    assert not any(cell.startswith(("=", "+", "@")) for row in rows for cell in row), rows
