"""Booking a confirmed bank statement in batches, with real OS processes: two bookers at once
book every document once; a booker killed in the middle leaves whole batches booked (entry,
balance, payment, receipt, message together) and the rest waiting, and a new run books the rest."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tables.audit import Actor
from tables.ledger import Credit, LedgerEntry, post_credits
from tables.notifications import Notification
from tables.payments.bank import BankLine, BankStatement, book_statement, import_statement, start_confirmation
from tables.payments.payment import Payment
from tables.payments.receipts import Receipt
from tables.subscribers import Subscriber, SubscriberStatus
from tests.support.bank import document, statement
from tests.support.factories import make_subscriber

BOOKER = Path(__file__).with_name("bank_booker.py")
ROOT = Path(__file__).resolve().parents[2]
CLERK = Actor("clerk")


async def confirmed_statement(documents: int) -> tuple[int, list[Subscriber]]:
    people = [await make_subscriber() for _ in range(5)]
    data = statement(*(document(str(n), "05.12.2026", f"{10 + n % 7}.00",
                                f"Оплата по договору {people[n % 5].contract_number}")
                       for n in range(1, documents + 1)))
    result = await import_statement(data, file_name="big.txt", actor=CLERK)
    assert result.counts == {"matched": documents}
    assert await start_confirmation(result.statement_id, actor=CLERK)
    return result.statement_id, people


def booker(statement_id: int, batch: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(BOOKER), str(statement_id), str(batch)], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


async def whole(statement_id: int, documents: int, people: list[Subscriber]) -> int:
    """Everything booked is booked whole; returns how many lines are booked."""
    booked = await BankLine.select().where(
        (BankLine.statement == statement_id) & (BankLine.state == "booked"))
    assert all(line["payment"] for line in booked)
    assert await LedgerEntry.count() == len(booked) == await Payment.count() == await Receipt.count()
    assert await Notification.count().where(Notification.topic.like("message.payment%")) == len(booked)
    assert await BankLine.count().where(BankLine.state == "matched") == documents - len(booked)
    for person in people:
        paid = sum(line["amount"] for line in booked if line["subscriber"] == person.id)
        assert (await Subscriber.objects().get(Subscriber.id == person.id)).balance == paid
    return len(booked)


async def test_two_bookers_at_once_book_every_document_once():
    statement_id, people = await confirmed_statement(240)
    procs = [booker(statement_id, 10) for _ in range(2)]
    outputs = [await asyncio.to_thread(p.communicate, timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert await whole(statement_id, 240, people) == 240
    assert await BankLine.count().where(BankLine.state == "duplicate") == 0
    assert sum(int(out.split()[0]) for out, _ in outputs) == 240  # the work was shared, not doubled
    st = await BankStatement.objects().get(BankStatement.id == statement_id)
    assert st.status == "confirmed"


async def test_a_booker_killed_midway_leaves_whole_batches_and_a_rerun_books_the_rest():
    statement_id, people = await confirmed_statement(300)
    proc = booker(statement_id, 3)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if await BankLine.count().where(BankLine.state == "booked") >= 30:
            break
        await asyncio.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    await asyncio.to_thread(proc.wait)
    done_before = await whole(statement_id, 300, people)
    assert 30 <= done_before < 300, "the booker was not stopped in the middle"
    assert (await BankStatement.objects().get(BankStatement.id == statement_id)).status == "confirming"

    result = await book_statement(statement_id, actor=CLERK)
    assert result.booked == 300 - done_before
    assert await whole(statement_id, 300, people) == 300
    assert (await BankStatement.objects().get(BankStatement.id == statement_id)).status == "confirmed"


async def test_credits_booked_together_follow_the_rules_of_one_entry():
    """post_credits (set-based) does what post_entry does per credit: the balance, the credit that
    reaches zero re-activates a suspended contract and says so, a reference books once."""
    s = await make_subscriber()
    await Subscriber.update({Subscriber.balance: -500_00,
                             Subscriber.status: SubscriberStatus.SUSPENDED}).where(Subscriber.id == s.id)
    booked = await post_credits([Credit(s.id, 300_00, "t:1"), Credit(s.id, 300_00, "t:2"),
                                 Credit(s.id, 300_00, "t:1")], created_by="clerk")
    assert booked == {"t:1", "t:2"}
    after = await Subscriber.objects().get(Subscriber.id == s.id)
    assert (after.balance, after.status) == (100_00, SubscriberStatus.ACTIVE)
    notes = await Notification.select(Notification.topic, Notification.body).where(
        Notification.subscriber == s.id).order_by(Notification.id)
    assert [n["topic"] for n in notes] == ["message.payment", "message.payment_reactivated"]
    assert "-200" in notes[0]["body"].replace("\u00a0", "").replace(" ", "")
    assert await post_credits([Credit(s.id, 300_00, "t:2")]) == set()
    assert (await Subscriber.objects().get(Subscriber.id == s.id)).balance == 100_00
    assert await LedgerEntry.count() == 2
