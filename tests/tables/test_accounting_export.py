"""The accounting export: the 1CClientBankExchange file read back by our own statement parser,
every document checked, and its totals equal to the payments report for the same selection."""

from __future__ import annotations

import datetime as dt

import pytest

from settings import get_settings
from tables.payments.bank import parse_statement
from tables.reports import REPORTS, Filters, build_report
from tables.reports.accounting import DayLine, accounting_onec, day_lines, onec_bytes
from tests.support.factories import make_address, make_subscriber
from tests.support.report_data import NOW, local, payment

CREATED = dt.datetime(2026, 12, 7, 3, 4, 5, tzinfo=dt.UTC)  # 10:04:05 in Novokuznetsk


def filters(**params: str) -> Filters:
    return Filters.parse(params, today=NOW.date(), spec=REPORTS["accounting"])


@pytest.fixture
async def mixed() -> dict:
    """November payments over every channel, in two towns; refunds in full and in part; a failed
    and a pending payment (no money); payments just outside the month in local time."""
    a = await make_subscriber(address=await make_address(town="Новокузнецк"))
    b = await make_subscriber(address=await make_address(town="Осинники", street="улица Ленина"))
    # 5 November: card (cabinet) twice, one refunded in full; quick pay; cash; agent; bank; autopay
    await payment(a, 100050, "cabinet", local(11, 5, 10), brand="visa")
    await payment(b, 50000, "cabinet", local(11, 5, 11), brand="mir", status="refunded", refunded=50000)
    await payment(a, 30001, "quick_pay", local(11, 5, 12), brand="mastercard")
    await payment(b, 150000, "office", local(11, 5, 13))
    await payment(a, 70099, "agent", local(11, 5, 14))
    await payment(b, 120000, "bank", local(11, 5, 15))
    await payment(a, 75000, "autopay", local(11, 5, 16), brand="visa", refunded=25000)
    # 1 November 03:30 local is 31 October in UTC: it belongs to 1 November
    await payment(a, 20000, "office", local(11, 1, 3, 30))
    # 30 November 23:59 local; 1 December 00:10 local is outside (30 November in UTC)
    await payment(b, 40000, "bank", local(11, 30, 23, 59))
    await payment(b, 99999, "bank", local(12, 1, 0, 10))
    # 31 October 23:50 local (outside) and no money: failed, created
    await payment(a, 11111, "office", local(10, 31, 23, 50))
    await payment(a, 22222, "cabinet", local(11, 6), status="failed")
    await payment(a, 33333, "cabinet", local(11, 7), status="created")
    return {"a": a, "b": b}


def doc_summary(doc) -> tuple:
    fields = doc.fields
    incoming = "ДатаПоступило" in fields
    return (fields["Номер"], fields["Дата"], fields["Сумма"], "in" if incoming else "out")


async def test_the_file_reads_back_document_by_document(mixed):
    settings = get_settings()
    data = await accounting_onec(filters(**{"from": "2026-11", "to": "2026-11"}), settings, CREATED)
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # windows-1251, not UTF-8
    text = data.decode("cp1251")
    assert text.startswith("1CClientBankExchange\r\nВерсияФормата=1.03\r\nКодировка=Windows\r\n")
    assert text.endswith("КонецФайла\r\n") and "\n" not in text.replace("\r\n", "")
    assert "ДатаСоздания=07.12.2026\r\nВремяСоздания=10:04:05" in text
    assert "ВсегоПоступило=6551.50\r\nВсегоСписано=750.00\r\n" in text

    statement = parse_statement(data)
    assert statement.account == settings.payee_account
    assert (statement.date_from, statement.date_to) == (dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    # Numbers: day of the year, channel (1 cabinet … 6 autopay), 1 in / 2 out
    assert [doc_summary(d) for d in statement.documents] == [
        ("30531", "01.11.2026", "200.00", "in"),
        ("30911", "05.11.2026", "1500.50", "in"),
        ("30912", "05.11.2026", "500.00", "out"),
        ("30921", "05.11.2026", "300.01", "in"),
        ("30931", "05.11.2026", "1500.00", "in"),
        ("30941", "05.11.2026", "700.99", "in"),
        ("30951", "05.11.2026", "1200.00", "in"),
        ("30961", "05.11.2026", "750.00", "in"),
        ("30962", "05.11.2026", "250.00", "out"),
        ("33451", "30.11.2026", "400.00", "in"),
    ]
    cash = statement.documents[0].fields
    assert cash["ПолучательСчет"] == settings.payee_account and cash["ПолучательИНН"] == settings.payee_inn
    assert cash["ПолучательБИК"] == settings.payee_bic and cash["ДатаПоступило"] == "01.11.2026"
    assert cash["Плательщик"] == "Абоненты (физические лица), Касса офиса"
    assert cash["НазначениеПлатежа"] == ("Оплата услуг связи абонентами за 01.11.2026, Касса офиса: "
                                          "платежей 1. Без НДС")
    refund = statement.documents[2].fields
    assert refund["ПлательщикСчет"] == settings.payee_account and refund["ДатаСписано"] == "05.11.2026"
    assert refund["ПолучательСчет"] == "" and "платежей с возвратом 1" in refund["НазначениеПлатежа"]
    assert "платежей 2" in statement.documents[1].fields["НазначениеПлатежа"]
    # Sums in the file are the documents' sums
    incoming = sum(int(d.fields["_amount"]) for d in statement.documents if "ДатаПоступило" in d.fields)
    outgoing = sum(int(d.fields["_amount"]) for d in statement.documents if "ДатаСписано" in d.fields)
    assert (incoming, outgoing) == (655150, 75000)


@pytest.mark.parametrize("params", [
    {"from": "2026-11", "to": "2026-11"},
    {"from": "2026-10", "to": "2026-12"},
    {"from": "2026-11", "to": "2026-11", "channel": "card"},
    {"from": "2026-11", "to": "2026-11", "channel": "bank"},
    {"from": "2026-11", "to": "2026-11", "channel": "autopay"},
    {"from": "2026-11", "to": "2026-12", "town": "TOWN"},
])
async def test_totals_equal_the_payments_report(mixed, params):
    if params.get("town"):
        params = {**params, "town": str(await _town_id("Осинники"))}
    f = filters(**params)
    report = await build_report("payments", Filters.parse({**params, "group": "channel"}, today=NOW.date(),
                                                          spec=REPORTS["payments"]), NOW)
    _, count, amount, *_, refunded, net = report.total
    accounting = await build_report("accounting", f, NOW)
    assert accounting.total[2:] == (count, amount, accounting.total[4], refunded, net)
    assert amount > 0
    statement = parse_statement(await accounting_onec(f, get_settings(), CREATED))
    incoming = sum(int(d.fields["_amount"]) for d in statement.documents if "ДатаПоступило" in d.fields)
    outgoing = sum(int(d.fields["_amount"]) for d in statement.documents if "ДатаСписано" in d.fields)
    assert (incoming, outgoing, incoming - outgoing) == (amount, refunded, net)
    counted = sum(int(d.fields["НазначениеПлатежа"].rsplit("платежей ", 1)[1].split(".")[0])
                  for d in statement.documents if "ДатаПоступило" in d.fields)
    assert counted == count


async def _town_id(name: str) -> int:
    from tables.addresses import Town

    return (await Town.select(Town.id).where(Town.name == name).first())["id"]


async def test_channel_filter_keeps_only_its_channels(mixed):
    lines = await day_lines(filters(**{"from": "2026-11", "to": "2026-11", "channel": "card"}))
    assert {x.channel for x in lines} == {"cabinet", "quick_pay", "autopay"}
    lines = await day_lines(filters(**{"from": "2026-11", "to": "2026-11", "channel": "office"}))
    assert [(x.day, x.count, x.amount) for x in lines] == [(dt.date(2026, 11, 1), 1, 20000),
                                                           (dt.date(2026, 11, 5), 1, 150000)]


async def test_an_empty_period_is_a_valid_file_without_documents(mixed):
    f = filters(**{"from": "2025-01", "to": "2025-02"})
    data = await accounting_onec(f, get_settings(), CREATED)
    statement = parse_statement(data)
    assert statement.documents == []
    assert (statement.date_from, statement.date_to) == (dt.date(2025, 1, 1), dt.date(2025, 2, 28))
    assert "ВсегоПоступило=0.00\r\nВсегоСписано=0.00" in data.decode("cp1251")
    report = await build_report("accounting", f, NOW)
    assert report.rows == [] and report.total[2:] == (0, 0, 0, 0, 0)


async def test_an_empty_database():
    statement = parse_statement(await accounting_onec(filters(), get_settings(), CREATED))
    assert statement.documents == []


def test_a_payee_name_outside_windows_1251_does_not_break_the_file():
    settings = get_settings().model_copy(update={"payee_name": "ООО «Центра» ✓\nвторая строка"})
    line = DayLine(dt.date(2026, 11, 5), "office", 1, 1000, 0, 0)
    (doc,) = parse_statement(onec_bytes([line], filters(), settings, CREATED)).documents
    assert doc.fields["Получатель"] == "ООО «Центра» ? вторая строка"


@pytest.mark.parametrize(("params", "message"), [
    ({"channel": "cash"}, "Канал оплаты: выберите один из списка"),
    ({"from": "2026-13"}, "С месяца: укажите месяц в виде ГГГГ-ММ, например 2026-11"),
    ({"from": "2026-11", "to": "2026-01"}, "Начало периода позже его конца"),
    ({"town": "москва"}, "Город: неверное значение"),
])
def test_bad_filters_are_refused_in_russian(params, message):
    with pytest.raises(ValueError, match=message):
        filters(**params)


async def test_the_cli_writes_the_same_file(mixed, tmp_path):
    from tables.commands.export import run_export

    output = tmp_path / "1c.txt"
    lines = await run_export("accounting", period="2026-11", fmt="1c", output=str(output),
                             channel="card", now=CREATED)
    assert lines == 3  # 5 Nov: cabinet, quick pay, autopay
    f = filters(**{"from": "2026-11", "to": "2026-11", "channel": "card"})
    assert output.read_bytes() == await accounting_onec(f, get_settings(), CREATED)
    with pytest.raises(ValueError, match="Формат 1c — только для отчёта accounting"):
        await run_export("payments", period="2026-11", fmt="1c", output=str(output))
    with pytest.raises(ValueError, match="Для 1c укажите файл"):
        await run_export("accounting", period="2026-11", fmt="1c")


async def test_our_own_export_is_refused_as_a_bank_statement(mixed):
    """The file names our account as the receiver, so every document would look incoming and
    land in the clerk's queue: the upload refuses it by its sender instead."""
    from tables.payments.bank import StatementError, check_statement, opener_of

    settings = get_settings()
    data = await accounting_onec(filters(**{"from": "2026-11", "to": "2026-11"}), settings, CREATED)
    with pytest.raises(StatementError, match="выгрузка Centra для бухгалтерии"):
        await check_statement(opener_of(data), settings.payee_account)
