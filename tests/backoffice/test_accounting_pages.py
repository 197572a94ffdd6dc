"""The accounting export in the managers' reports: the page with its channel filter, the 1C file
download (read back by our statement parser), the XLSX job, refusals."""

from __future__ import annotations

import io

import openpyxl
from piccolo.apps.user.tables import BaseUser
from piccolo_api.session_auth.tables import SessionsBase

from jobs.worker import run_worker
from settings import get_settings
from tables.payments.bank import parse_statement
from tables.staff import set_role
from tests.support import report_data
from tests.support.helpers import admin_login, csrf_from, make_staff

OCTOBER = {"from": "2026-10", "to": "2026-10"}


async def _manager(client) -> None:
    from tables.audit import SYSTEM

    rows = await BaseUser(username="accountant", password="pbkdf2_sha256$no-login", active=True, admin=True,
                          email="accountant@centra.test").save()
    await set_role(rows[0]["id"], "manager", actor=SYSTEM)
    client.cookies.set("id", (await SessionsBase.create_session(rows[0]["id"])).token)


async def test_the_page_offers_the_1c_file_and_it_reads_back(client):
    await report_data.build()
    await _manager(client)
    page = await client.get("/reports/accounting", params={**OCTOBER, "channel": "card"})
    assert page.status_code == 200
    assert '<select id="f-channel" name="channel">' in page.text
    assert '<option value="card" selected>' in page.text
    assert "/reports/accounting/export.1c.txt?from=2026-10&amp;to=2026-10&amp;channel=card" in page.text

    response = await client.get("/reports/accounting/export.1c.txt", params={**OCTOBER, "channel": "card"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=windows-1251"
    assert 'filename="centra-1c-2026-10-card.txt"' in response.headers["content-disposition"]
    assert "no-store" in response.headers["cache-control"]
    statement = parse_statement(response.content)
    assert statement.account == get_settings().payee_account
    # October's card payments (report_data): 800.00 on 1 Oct (03:30 local) in the cabinet with
    # 300.00 refunded, 350.00 by quick pay on 3 Oct; the failed one of 4 Oct is no money.
    assert [(d.fields["Номер"], d.fields["Дата"], d.fields["Сумма"], "ДатаСписано" in d.fields)
            for d in statement.documents] == [
        ("27411", "01.10.2026", "800.00", False), ("27412", "01.10.2026", "300.00", True),
        ("27621", "03.10.2026", "350.00", False)]


async def test_refusals(client):
    await report_data.build()
    assert (await client.get("/reports/accounting/export.1c.txt")).status_code == 401
    await make_staff("operator_1c", role="operator")
    await admin_login(client, "operator_1c")
    response = await client.get("/reports/accounting/export.1c.txt", params=OCTOBER)
    assert response.status_code == 403 and "1CClientBankExchange" not in response.text


async def test_bad_filters_get_a_russian_message(client):
    await _manager(client)
    for query in ({"channel": "cash"}, {"from": "2026-13"}, {"town": "москва"}):
        response = await client.get("/reports/accounting/export.1c.txt", params=query)
        assert response.status_code == 400, query
        assert "text/html" in response.headers["content-type"]
        assert "1CClientBankExchange" not in response.text
    response = await client.get("/reports/accounting/export.1c.txt", params={"channel": "cash"})
    assert "Канал оплаты: выберите один из списка" in response.text
    page = await client.get("/reports/accounting", params={"channel": "cash"})
    assert page.status_code == 400 and "Канал оплаты: выберите один из списка" in page.text
    # Only the accounting report has a 1C file.
    assert (await client.get("/reports/payments/export.1c.txt")).status_code == 404


async def test_the_xlsx_job_keeps_the_channel_filter(client, engine):
    await report_data.build()
    await _manager(client)
    page = await client.get("/reports/accounting", params={**OCTOBER, "channel": "card"})
    data = {"_csrf_token": csrf_from(page.text), "kind": "report", "slug": "accounting", "fmt": "xlsx",
            **OCTOBER, "channel": "card"}
    response = await client.post("/reports/jobs", data=data, follow_redirects=False)
    assert response.status_code == 303, response.text
    await run_worker(queues=["exports"], wait=False, install_signal_handlers=False, name="test-worker")
    download = await client.get(f"{response.headers['location']}/file")
    assert download.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(download.content), read_only=True)
    selection = dict(book["Отбор"].iter_rows(values_only=True))
    assert selection["Канал оплаты"] == "Картой (все карточные каналы)"
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    direct = await client.get("/reports/accounting/export.xlsx", params={**OCTOBER, "channel": "card"})
    assert rows == list(openpyxl.load_workbook(io.BytesIO(direct.content), read_only=True)
                        .worksheets[0].iter_rows(values_only=True))
    assert rows[-1][0] == "Итого" and {r[1] for r in rows[1:-1]} <= {
        "Личный кабинет", "Оплата без входа", "Автоплатёж с карты"}
