"""Bank statement import: parsing (both encodings, malformed files named by line), matching by
contract number or payer, booking once through the ledger, overlapping statements, the queue."""

from __future__ import annotations

import asyncio

import pytest

from tables.audit import Actor
from tables.ledger import LedgerEntry
from tables.payments.bank import (
    BankLine,
    BankStatement,
    StatementError,
    assign_line,
    confirm_statement,
    import_statement,
    parse_statement,
    reject_line,
)
from tables.payments.payment import Payment
from tables.payments.receipts import Receipt
from tables.subscribers import Subscriber, SubscriberStatus
from tests.support.bank import COMPANY_ACCOUNT, document, statement
from tests.support.factories import make_subscriber

CLERK = Actor("clerk")


async def balance(subscriber_id: int) -> int:
    return (await Subscriber.objects().get(Subscriber.id == subscriber_id)).balance


async def states(statement_id: int) -> list[tuple[str, str]]:
    rows = await BankLine.select(BankLine.number, BankLine.state).where(
        BankLine.statement == statement_id).order_by(BankLine.position)
    return [(r["number"], r["state"]) for r in rows]


@pytest.mark.parametrize("encoding", ["cp1251", "utf-8"])
def test_both_encodings_read_the_same(encoding):
    parsed = parse_statement(statement(document("12", "05.12.2026", "1500.50",
                                                "Оплата по договору № 100001 за декабрь"),
                                       encoding=encoding))
    assert parsed.account == COMPANY_ACCOUNT
    doc = parsed.documents[0]
    assert doc.fields["НазначениеПлатежа"] == "Оплата по договору № 100001 за декабрь"
    assert doc.fields["_amount"] == "150050" and doc.fields["_date"] == "2026-12-05"


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda t: t.replace("Сумма=1500.50", "Сумма=15О0.50"), "Строка 36: сумма «15О0.50» не распознана"),
    (lambda t: t.replace("Дата=05.12.2026\r\n", "Дата=35.12.2026\r\n"), "Строка 18: дата «35.12.2026»"),
    (lambda t: t.replace("КонецДокумента\r\n", ""), "не закрыт строкой «КонецДокумента»"),
    (lambda t: t.replace("КонецФайла", ""), "файл оборван — нет строки «КонецФайла»"),
    (lambda t: t.replace("1CClientBankExchange", "Выписка"), "Строка 1: это не выписка"),
    (lambda t: t.replace("Очередность=5", "Очередность 5"), "Строка 30: ожидается «Ключ=значение»"),
    (lambda t: t.replace("Номер=12\r\n", ""), "Строка 33: в документе нет поля «Номер»"),
])
async def test_a_malformed_file_names_the_line_and_stores_nothing(mutate, message):
    good = statement(document("11", "05.12.2026", "100.00", "Договор 100001"),
                     document("12", "05.12.2026", "1500.50", "Договор 100001")).decode("cp1251")
    with pytest.raises(StatementError) as raised:
        await import_statement(mutate(good).encode("cp1251"), file_name="bad.txt", actor=CLERK)
    assert message in str(raised.value)
    assert await BankStatement.count() == 0 and await BankLine.count() == 0


async def test_matched_ambiguous_unmatched_with_reasons_then_booked_once():
    a = await make_subscriber(full_name="Смирнов Дмитрий Иванович")
    b = await make_subscriber(full_name="Кузнецова Анна Петровна")
    closed = await make_subscriber(full_name="Орлов Олег Олегович")
    await Subscriber.update({Subscriber.status: SubscriberStatus.TERMINATED}).where(
        Subscriber.id == closed.id)
    data = statement(
        document("1", "05.12.2026", "1500.00", f"Оплата по договору {a.contract_number} за декабрь 2026"),
        document("2", "05.12.2026", "700.00", f"л/с {a.contract_number}, {b.contract_number}"),
        document("3", "06.12.2026", "300.00", "Оплата интернета", payer="КУЗНЕЦОВА АННА ПЕТРОВНА"),
        document("4", "06.12.2026", "200.00", "Оплата интернета", payer="Неизвестный Некто"),
        document("5", "06.12.2026", "100.00", f"PersAcc={closed.contract_number}"),
        document("6", "06.12.2026", "999.00", "Возврат поставщику", to="40702810000000099999"),
        document("7", "07.12.2026", "50.00", "Оплата по договору 999999"),
    )
    result = await import_statement(data, file_name="v.txt", actor=CLERK)
    assert result.outgoing == 1
    rows = await BankLine.select().where(BankLine.statement == result.statement_id).order_by(
        BankLine.position)
    got = {r["number"]: (r["state"], r["reason"]) for r in rows}
    assert got["1"] == ("matched", f"номер договора в назначении платежа: договор {a.contract_number}")
    assert got["2"][0] == "ambiguous"
    assert a.contract_number in got["2"][1] and b.contract_number in got["2"][1]
    assert got["3"] == ("matched", f"ФИО плательщика «КУЗНЕЦОВА АННА ПЕТРОВНА»: договор {b.contract_number}")
    assert got["4"][0] == "unmatched"
    assert got["5"][0] == "ambiguous" and "расторгнут" in got["5"][1]
    assert got["7"] == ("unmatched", "в назначении нет номера существующего договора (есть числа: 999999)")
    assert "6" not in got
    assert await LedgerEntry.count() == 0  # nothing booked before the clerk confirms

    done = await confirm_statement(result.statement_id, actor=CLERK)
    assert (done.booked, done.booked_amount, done.queued) == (2, 1800_00, 4)
    assert await balance(a.id) == 1500_00 and await balance(b.id) == 300_00
    assert {p.channel for p in await Payment.objects()} == {"bank"}
    assert await Receipt.count() == 2  # every credited payment gets its fiscal receipt
    again = await confirm_statement(result.statement_id, actor=CLERK)
    assert again.already_confirmed and await LedgerEntry.count() == 2

    # The same documents in an overlapping statement (one new one): only the new one counts.
    overlap = statement(
        document("1", "05.12.2026", "1500.00", f"Оплата по договору {a.contract_number} за декабрь 2026"),
        document("8", "07.12.2026", "400.00", f"Договор {a.contract_number}"),
    )
    second = await import_statement(overlap, file_name="v2.txt", actor=CLERK)
    assert await states(second.statement_id) == [("1", "duplicate"), ("8", "matched")]
    await confirm_statement(second.statement_id, actor=CLERK)
    assert await balance(a.id) == 1900_00 and await LedgerEntry.count() == 3

    # The queue: one line to a contract the clerk picks, one marked not ours.
    queued = {r["number"]: r["id"] for r in await BankLine.select().where(BankLine.state == "queued")}
    assert set(queued) == {"2", "4", "5", "7"}
    await assign_line(queued["2"], b.contract_number, actor=CLERK)
    assert await balance(b.id) == 1000_00
    with pytest.raises(ValueError, match="уже разобран"):
        await assign_line(queued["2"], a.contract_number, actor=CLERK)
    with pytest.raises(ValueError, match="не найден"):
        await assign_line(queued["4"], "999999", actor=CLERK)
    await reject_line(queued["7"], "Чужой платёж, вернуть плательщику", actor=CLERK)
    with pytest.raises(ValueError, match="уже разобран"):
        await reject_line(queued["7"], "ещё раз", actor=CLERK)
    assert await LedgerEntry.count() == 4


async def test_the_same_file_twice_and_two_confirmations_at_once_book_once():
    s = await make_subscriber()
    data = statement(*(document(str(n), "05.12.2026", "10.00", f"Договор {s.contract_number}")
                       for n in range(1, 21)))
    first = await import_statement(data, file_name="a.txt", actor=CLERK)
    second = await import_statement(data, file_name="a.txt", actor=CLERK)
    assert {state for _, state in await states(second.statement_id)} == {"duplicate"}
    await asyncio.gather(*(confirm_statement(first.statement_id, actor=CLERK) for _ in range(5)),
                         confirm_statement(second.statement_id, actor=CLERK))
    assert await LedgerEntry.count() == 20 and await balance(s.id) == 200_00
    assert await Payment.count() == 20


async def test_a_repeated_document_inside_one_file_is_a_duplicate():
    s = await make_subscriber()
    doc = document("1", "05.12.2026", "10.00", f"Договор {s.contract_number}")
    result = await import_statement(statement(doc, doc), file_name="a.txt", actor=CLERK)
    assert await states(result.statement_id) == [("1", "matched"), ("1", "duplicate")]
    await confirm_statement(result.statement_id, actor=CLERK)
    assert await balance(s.id) == 10_00


async def test_another_companys_statement_is_refused():
    with pytest.raises(StatementError, match="счёт компании"):
        await import_statement(statement(document("1", "05.12.2026", "10.00", "x")), file_name="a",
                               actor=CLERK, company_account="40702810000000000001")
    assert await BankStatement.count() == 0
