"""Exports read back (csv module, openpyxl) equal the report and the ledger they come from."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from tables.ledger import LedgerEntry
from tables.reports import REPORTS, Column, Filters, Report, build_report
from tables.reports.exports import XlsxWriter, cell_text, report_csv, report_table, write_report_xlsx
from tables.reports.raw import raw_csv, raw_rows, write_raw_xlsx
from tables.subscribers import Subscriber
from tests.support import report_data
from tests.support.report_data import NOW

RAW_TIME = "%Y-%m-%d %H:%M:%S"  # raw exports: ISO local time, as the database writes it


async def collect(chunks) -> bytes:
    return b"".join([chunk async for chunk in chunks])


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM, so Excel reads Cyrillic"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


def xlsx_as_text(path: Path, columns: list[Column],
                 datetime_format: str = "%d.%m.%Y %H:%M") -> list[list[str]]:
    """Typed XLSX cells turned into the CSV's text with the same formatter."""
    sheet = openpyxl.load_workbook(path, read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    out = [[str(v) for v in rows[0]]]
    for row in rows[1:]:
        cells = []
        for value, column in zip(row, columns, strict=True):
            if value is None:
                cells.append("")
            elif isinstance(value, str) and column.kind != "text":
                cells.append(value)  # the total row's label
            elif column.kind == "money":
                assert isinstance(value, (int, float)), value
                cells.append(cell_text(int((Decimal(str(value)) * 100).to_integral_value()), column))
            elif column.kind in ("int", "decimal"):
                assert isinstance(value, (int, float)), value
                cells.append(cell_text(Decimal(str(value)), column))
            elif column.kind in ("date", "month"):
                assert isinstance(value, dt.datetime), value
                cells.append(value.strftime("%d.%m.%Y") if column.kind == "date"
                             else value.strftime("%Y-%m"))
            elif column.kind == "datetime":
                assert isinstance(value, dt.datetime), value
                cells.append(value.strftime(datetime_format))
            else:
                cells.append(cell_text(value, column))
        out.append(cells)
    return out


def expected_text(report: Report) -> list[list[str]]:
    return [[c.label for c in report.columns]] + [
        [cell_text(v, c) for v, c in zip(row, report.columns, strict=True)]
        for row in report_table(report)[1:]]


CASES = [(slug, group) for slug, spec in REPORTS.items() for group in (list(spec.groups) or [""])]


@pytest.mark.parametrize(("slug", "group"), CASES)
async def test_report_csv_and_xlsx_read_back_equal_the_report(tmp_path, slug, group):
    await report_data.build()
    filters = Filters.parse({"from": "2026-08", "to": "2026-11", "group": group}, today=NOW.date(),
                            spec=REPORTS[slug])
    report = await build_report(slug, filters, NOW)
    expected = expected_text(report)
    assert len(expected) > 1
    assert read_csv(await collect(report_csv(report))) == expected
    path = tmp_path / "r.xlsx"
    write_report_xlsx(report, str(path), [("Отчёт", report.title)])
    assert xlsx_as_text(path, report.columns) == expected


async def test_money_and_dates_are_typed_in_xlsx(tmp_path):
    columns = [Column("m", "Сумма", "money"), Column("d", "День", "date"), Column("t", "Текст")]
    report = Report("x", "x", columns, [(-50, dt.date(2026, 11, 5), "=1+2"), (123456789, None, "ok")])
    path = tmp_path / "x.xlsx"
    write_report_xlsx(report, str(path))
    sheet = openpyxl.load_workbook(path).worksheets[0]
    assert sheet["A2"].value == -0.5 and sheet["A2"].number_format == "#,##0.00"
    assert sheet["A3"].value == 1234567.89
    assert sheet["B2"].value == dt.datetime(2026, 11, 5) and sheet["B2"].is_date
    assert sheet["C2"].value == "=1+2" and sheet["C2"].data_type == "s"  # a string, never a formula
    rows = read_csv(await collect(report_csv(report)))
    assert rows[1] == ["-0,50", "05.11.2026", "'=1+2"]  # formula-looking text is neutralised in CSV
    assert rows[2] == ["1234567,89", "", "ok"]
    assert cell_text("+79131234567", columns[2]) == "+79131234567"


async def test_raw_ledger_csv_and_xlsx_equal_the_ledger(tmp_path):
    data = await report_data.build()
    await LedgerEntry.insert(LedgerEntry(subscriber=data.s[5].id, amount=-5, kind="adjustment",
                                         reference="tricky", comment='кавычки "и"; точка с запятой\nстрока',
                                         created_at=report_data.local(10, 31, 23, 59)))
    filters = Filters.parse({"from": "2026-10", "to": "2026-10"}, today=NOW.date())
    entries = await LedgerEntry.select(LedgerEntry.id).where(
        (LedgerEntry.created_at >= filters.start_utc) & (LedgerEntry.created_at < filters.end_utc)
    ).order_by(LedgerEntry.id)
    rows = read_csv(await collect(raw_csv("ledger", filters)))
    assert rows[0][:5] == ["№ проводки", "Время", "Договор", "Вид", "Сумма, ₽"]
    assert [int(r[0]) for r in rows[1:]] == [e["id"] for e in entries]
    tricky = rows[-1]
    assert tricky[1] == "2026-10-31 23:59:00" and tricky[3] == "Корректировка" and tricky[4] == "-0,05"
    assert tricky[7] == 'кавычки "и"; точка с запятой\nстрока'
    refund = next(r for r in rows if r[3] == "Возврат")
    assert refund[4] == "-300,00" and refund[2] == data.s[1].contract_number
    # The typed rows written to XLSX read back as the same text.
    path = tmp_path / "ledger.xlsx"
    assert await write_raw_xlsx("ledger", filters, str(path), [("Период", "2026-10")]) == len(rows) - 1
    from tables.reports.raw import RAW_EXPORTS

    assert xlsx_as_text(path, RAW_EXPORTS["ledger"].report_columns, RAW_TIME) == rows
    # Town and tariff limit the raw rows too.
    town = Filters.parse({"from": "2026-10", "to": "2026-10", "town": str(data.os)}, today=NOW.date())
    contracts = {r[2] for r in read_csv(await collect(raw_csv("ledger", town)))[1:]}
    assert contracts == {data.s[2].contract_number, data.s[4].contract_number}


async def test_raw_payment_list(tmp_path):
    data = await report_data.build()
    filters = Filters.parse({"from": "2026-10", "to": "2026-10"}, today=NOW.date())
    rows = read_csv(await collect(raw_csv("payment-list", filters)))
    assert [(r[2], r[3], r[4], r[5], r[7], r[8]) for r in rows[1:]] == [
        (data.s[1].contract_number, "Оплачен", "Личный кабинет", "visa", "800,00", "300,00"),
        (data.s[2].contract_number, "Оплачен", "Оплата без входа", "mastercard", "350,00", "0,00"),
        (data.s[2].contract_number, "Не прошёл", "Личный кабинет", "visa", "500,00", "0,00"),
    ]
    path = tmp_path / "p.xlsx"
    await write_raw_xlsx("payment-list", filters, str(path))
    from tables.reports.raw import RAW_EXPORTS

    assert xlsx_as_text(path, RAW_EXPORTS["payment-list"].report_columns, RAW_TIME) == rows


async def test_raw_exports_read_contracts_the_same_with_or_without_the_lookup(tmp_path, monkeypatch):
    """PostgreSQL reads contract numbers from a per-query array, or joins past _LOOKUP_MAX_ID."""
    import tables.reports.raw as raw

    data = await report_data.build()
    # a gap in the ids below the largest (the array is filled up to it); FKs cascade
    top = max(data.s.values(), key=lambda s: s.id)
    await Subscriber.raw("UPDATE subscriber SET id = id + 10 WHERE id = {}", top.id)
    await LedgerEntry.insert(LedgerEntry(subscriber=top.id + 10, amount=-100, kind="adjustment",
                                         reference="gap", created_at=report_data.local(10, 15)))
    cases = [("ledger", {"from": "2026-08", "to": "2026-11"}),
             ("ledger", {"from": "2026-10", "to": "2026-10", "town": str(data.os)}),
             ("payment-list", {"from": "2026-08", "to": "2026-11", "tariff": str(data.base_tariff)})]
    looked_up = []
    for slug, params in cases:
        filters = Filters.parse(params, today=NOW.date())
        csv_rows = read_csv(await collect(raw_csv(slug, filters)))
        typed = [row async for batch in raw_rows(slug, filters) for row in batch]
        assert len(csv_rows) > 1 and len(typed) == len(csv_rows) - 1
        assert {r[2] for r in csv_rows[1:]} <= {s.contract_number for s in data.s.values()}
        assert [r[2] for r in typed] == [r[2] for r in csv_rows[1:]]
        looked_up.append((csv_rows, typed))
    assert top.contract_number in {r[2] for r in looked_up[0][0][1:]}
    monkeypatch.setattr(raw, "_LOOKUP_MAX_ID", 0)
    for (slug, params), expected in zip(cases, looked_up, strict=True):
        filters = Filters.parse(params, today=NOW.date())
        joined = (read_csv(await collect(raw_csv(slug, filters))),
                  [row async for batch in raw_rows(slug, filters) for row in batch])
        assert joined == expected


async def test_raw_rows_come_in_batches(monkeypatch):
    import tables.reports.raw as raw

    await report_data.build()
    monkeypatch.setattr(raw, "BATCH", 4)
    filters = Filters.parse({"from": "2026-08", "to": "2026-11"}, today=NOW.date())
    batches = [batch async for batch in raw_rows("ledger", filters)]
    assert all(len(b) <= 4 for b in batches) and len(batches) > 2
    assert sum(len(b) for b in batches) == await LedgerEntry.count()
    rows = read_csv(await collect(raw_csv("ledger", filters)))
    assert len(rows) == 1 + await LedgerEntry.count()


def test_xlsx_continues_on_a_new_sheet_past_the_row_limit(tmp_path, monkeypatch):
    import tables.reports.exports as exports

    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 3)
    path = tmp_path / "big.xlsx"
    writer = XlsxWriter(str(path), [Column("n", "N", "int")], "Журнал")
    writer.write_raw([(i,) for i in range(5)])
    writer.close()
    book = openpyxl.load_workbook(path, read_only=True)
    sheets = [[r[0] for r in ws.iter_rows(values_only=True)] for ws in book.worksheets]
    assert sheets == [["N", 0, 1], ["N", 2, 3], ["N", 4]]


async def test_export_command_writes_files(tmp_path, capsys):
    from tables.commands.export import run_export

    await report_data.build()
    csv_path, xlsx_path = tmp_path / "p.csv", tmp_path / "p.xlsx"
    assert await run_export("payments", period="2026-10", fmt="csv", output=str(csv_path), now=NOW) == 1
    assert read_csv(csv_path.read_bytes())[1] == ["2026-10", "2", "1150,00", "800,00", "350,00", "0,00",
                                                  "0,00", "0,00", "0,00", "300,00", "850,00"]
    assert await run_export("payments", period="2026-10", fmt="xlsx", output=str(xlsx_path),
                            now=NOW) == 1
    sheet = openpyxl.load_workbook(xlsx_path).worksheets[0]
    assert sheet["C2"].value == 1150 and sheet["A2"].value == dt.datetime(2026, 10, 1)
    ledger = tmp_path / "ledger.xlsx"
    assert await run_export("ledger", period="2026-08..2026-11", fmt="xlsx", output=str(ledger),
                            now=NOW) == await LedgerEntry.count()
    assert await run_export("debtors", fmt="csv", output="-", now=NOW) == 4
    printed = read_csv(capsys.readouterr().out.encode("utf-8"))  # stdout carries the CSV only
    assert printed[0][0] == "Договор" and len(printed) == 1 + 4 + 1
    for bad in (dict(report="nope"), dict(report="payments", fmt="pdf"),
                dict(report="payments", period="2026-13"), dict(report="payments", fmt="xlsx")):
        with pytest.raises(ValueError):
            await run_export(**bad)


async def test_an_abandoned_export_frees_the_database(monkeypatch):
    """A client that goes away mid-download leaves no query holding the ledger."""
    import asyncio

    import tables.reports.raw as raw
    from db.engine import engine, is_sqlite

    data = await report_data.build()
    monkeypatch.setattr(raw, "BATCH", 100)
    when = report_data.local(10, 15)
    # enough rows that the export cannot be buffered whole (set-based, like the benchmark)
    series = ("(WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 20000)"
              " SELECT n FROM c) AS g" if is_sqlite() else "generate_series(1, 20000) AS n")
    await LedgerEntry.raw(
        f"INSERT INTO ledger_entry (subscriber, amount, kind, period, reference, comment, created_at,"
        f" created_by) SELECT {{}}, 100, 'adjustment', NULL, 'bulk:' || n, {{}}, {{}}, 'test'"
        f" FROM {series}", data.s[5].id, "x" * 200, when)
    filters = Filters.parse({"from": "2026-10", "to": "2026-10"}, today=NOW.date())
    for stream in (raw_csv("ledger", filters), raw_rows("ledger", filters)):
        first = [await anext(stream), await anext(stream)]
        assert all(first)
        await stream.aclose()
    # Nothing still reads the table: a write and a full count finish promptly.
    await asyncio.wait_for(LedgerEntry.update({LedgerEntry.comment: "y"}).where(
        LedgerEntry.reference == "bulk:1"), 10)
    assert await asyncio.wait_for(LedgerEntry.count(), 10) > 20000
    if not is_sqlite():
        async with engine().transaction():
            await LedgerEntry.raw("LOCK TABLE ledger_entry IN ACCESS EXCLUSIVE MODE NOWAIT")
