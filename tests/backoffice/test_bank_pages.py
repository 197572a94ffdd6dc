"""The office's bank statement pages over HTTP: a cashier uploads a 1CClientBankExchange file
(windows-1251), sees each document's match with its reason, confirms, and resolves the queue.
Loading and booking run as jobs (jobs/bank.py): the pages answer at once and show progress."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from jobs.worker import run_worker
from tables.background import BackgroundJob, JobFileChunk
from tables.ledger import LedgerEntry
from tables.payments.bank import BankLine, BankStatement
from tables.payments.payment import Payment
from tables.subscribers import Subscriber
from tests.support.bank import document, statement
from tests.support.factories import make_subscriber
from tests.support.helpers import admin_login, csrf_from, make_staff

pytestmark = pytest.mark.usefixtures("engine")  # tests/support/outside.py


async def work() -> None:
    """A worker that runs what is queued and stops (as the Procfile's worker would)."""
    await run_worker(queues=["exports"], wait=False, install_signal_handlers=False, name="test-bank")


async def upload(client: httpx.AsyncClient, data: bytes, name: str = "kl_to_1c.txt") -> httpx.Response:
    token = csrf_from((await client.get("/office/bank/")).text)
    return await client.post("/office/bank", data={"_csrf_token": token},
                             files={"file": (name, data, "text/plain")})


async def post_form(client: httpx.AsyncClient, page: str, url: str, data: dict) -> httpx.Response:
    html = (await client.get(page)).text
    return await client.post(url, data={**data, "_csrf_token": csrf_from(html)})


async def test_upload_confirm_and_resolve_the_queue(client):
    a = await make_subscriber(full_name="Смирнов Дмитрий Иванович")
    b = await make_subscriber(full_name="Кузнецова Анна Петровна")
    await make_staff("kassa", role="cashier")
    await admin_login(client, "kassa")
    data = statement(
        document("101", "05.12.2026", "1500.00", f"Оплата по договору {a.contract_number} за декабрь"),
        document("102", "05.12.2026", "700.00", "Оплата за интернет", payer="Некто Неизвестный"),
        document("103", "06.12.2026", "200.00", "Оплата за интернет", payer="Другой Неизвестный"),
    )
    uploaded = await upload(client, data)
    assert uploaded.status_code in (302, 303), uploaded.text
    page_url = uploaded.headers["location"]
    waiting = await client.get(page_url)  # at once: the job reads the file
    assert "Загружается" in waiting.text and "<progress" in waiting.text
    assert 'http-equiv="refresh"' in waiting.text
    await work()
    page = await client.get(page_url)
    assert page.status_code == 200 and 'http-equiv="refresh"' not in page.text
    assert await JobFileChunk.count() == 0  # the uploaded file is not kept once loaded
    assert f"номер договора в назначении платежа: договор {a.contract_number}" in page.text
    assert "в назначении платежа нет номера договора, плательщик не найден" in page.text
    assert await LedgerEntry.count() == 0

    confirmed = await post_form(client, page_url, f"{page_url}/confirm", {})
    assert confirmed.status_code in (302, 303)
    booking = await client.get(confirmed.headers["location"])
    assert "Проводится" in booking.text and "<progress" in booking.text
    assert await LedgerEntry.count() == 0
    await work()
    assert "Выписка проведена" in (await client.get(confirmed.headers["location"])).text
    assert {j.status for j in await BackgroundJob.objects()} == {"done"}
    assert (await Subscriber.objects().get(Subscriber.id == a.id)).balance == 1500_00

    queue = await client.get("/office/bank/queue")
    assert "Неразобранные банковские платежи: 2" in queue.text
    lines = {r["number"]: r["id"] for r in await BankLine.select().where(BankLine.state == "queued")}
    check = await post_form(client, "/office/bank/queue", f"/office/bank/lines/{lines['102']}/assign",
                            {"contract": b.contract_number})
    assert check.status_code == 200 and "+700,00 ₽" in check.text  # shown before it is done
    assert await LedgerEntry.count() == 1
    hidden = dict(re.findall(r'name="(contract|key)" value="([^"]*)"', check.text))
    booked = await client.post(f"/office/bank/lines/{lines['102']}/assign/confirm",
                               data={**hidden, "_csrf_token": csrf_from(check.text)})
    assert booked.status_code in (302, 303)
    assert (await Subscriber.objects().get(Subscriber.id == b.id)).balance == 700_00
    rejected = await post_form(client, "/office/bank/queue", f"/office/bank/lines/{lines['103']}/reject",
                               {"reason": "Платёж другой компании"})
    assert rejected.status_code in (302, 303)
    assert "Очередь пуста" in (await client.get("/office/bank/queue")).text

    again = await upload(client, data)
    await work()
    assert "Уже загружен" in (await client.get(again.headers["location"])).text
    assert await LedgerEntry.count() == 2


async def test_a_malformed_file_gets_a_russian_message_naming_the_line(client):
    await make_staff("kassa", role="cashier")
    await admin_login(client, "kassa")
    text = statement(document("1", "05.12.2026", "10.00", "x")).decode("cp1251")
    bad = await upload(client, text.replace("Сумма=10.00", "Сумма=десять").encode("cp1251"))
    assert bad.status_code in (302, 303)
    await work()
    page = await client.get(bad.headers["location"])
    assert "Выписка не загружена: Строка 19: сумма «десять» не распознана" in page.text
    assert 'http-equiv="refresh"' not in page.text and "Провести выписку" not in page.text
    job = await BackgroundJob.objects().first()
    assert job.status == "failed" and "Строка 19" in job.error  # staff see it in the jobs list too
    foreign = await upload(client, statement(document("1", "05.12.2026", "10.00", "x"),
                                             account="40702810000000000001"))
    await work()
    assert "счёт компании" in (await client.get(foreign.headers["location"])).text
    empty = await upload(client, b"")
    assert empty.status_code == 422
    assert await BankLine.count() == 0 and await LedgerEntry.count() == 0
    assert {s.status for s in await BankStatement.objects()} == {"failed"}


async def test_two_clerks_confirming_at_once_book_once(client):
    """Two confirmations of the same statement sent at the same moment: one booking job, each
    document booked once."""
    s = await make_subscriber()
    await make_staff("kassa", role="cashier")
    await admin_login(client, "kassa")
    data = statement(*(document(str(n), "05.12.2026", "10.00", f"Договор {s.contract_number}")
                       for n in range(1, 31)))
    page_url = (await upload(client, data)).headers["location"]
    await work()
    token = csrf_from((await client.get(page_url)).text)
    answers = await asyncio.gather(*(client.post(f"{page_url}/confirm", data={"_csrf_token": token})
                                     for _ in range(2)))
    assert all(a.status_code in (302, 303) for a in answers)
    assert await BackgroundJob.count().where(BackgroundJob.task_name == "bank.confirm") == 1
    await work()
    assert await LedgerEntry.count() == 30 and await Payment.count() == 30
    assert (await Subscriber.objects().get(Subscriber.id == s.id)).balance == 300_00


async def test_only_cashiers_and_administrators_open_the_bank_pages(client):
    await make_staff("op", role="operator")
    await admin_login(client, "op")
    assert (await client.get("/office/bank/")).status_code == 403
    assert (await client.get("/office/bank/queue")).status_code == 403
