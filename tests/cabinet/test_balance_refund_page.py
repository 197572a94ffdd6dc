"""Issue 24 item 9d in the cabinet: a terminated contract, read-only otherwise, may ask for its
leftover balance back; its final statement reads the pro-rata give-back as a credit (9c)."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

from cabinet.auth import SESSION_COOKIE
from tables.accounts import redeem_staff_view, start_staff_view
from tables.audit import Actor
from tables.billing.charge_run import run_charges
from tables.ledger import EntryKind, post_entry
from tables.requests.balance_refund import complete_balance_refund
from tables.requests.queue import ServiceRequest
from tables.requests.termination import complete_termination
from tests.support.factories import make_subscriber
from tests.support.helpers import row_counts
from tests.support.request_factories import cabinet_login, filed, post_form, staff_actor


def local_noon(day: int) -> dt.datetime:
    return dt.datetime(2026, 12, day, 5, 0, tzinfo=dt.UTC)


def text_of(html: str) -> str:
    return re.sub(r"[ \t\r\n]+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


async def terminated_and_logged_in(client):
    s = await make_subscriber(fee=75000)
    await post_entry(s.id, 100000, EntryKind.PAYMENT, "pay-ahead")
    await run_charges("2026-12", actor=Actor("billing"), now=local_noon(1))
    termination = await filed(s.id, "termination", now=local_noon(5), desired_date=dt.date(2026, 12, 10))
    await complete_termination(termination.id, actor=await staff_actor(), now=local_noon(10))
    response = await cabinet_login(client, s.contract_number)
    assert response.status_code == 303
    return s, termination


async def test_terminated_contract_asks_for_its_leftover_from_the_cabinet(client):
    s, termination = await terminated_and_logged_in(client)
    statement = text_of((await client.get(f"/cabinet/requests/{termination.id}/statement")).text)
    assert "Возврат абонентской платы Перерасчёт абонентской платы за декабрь 2026" in statement
    assert "Списание абонентской платы Перерасчёт" not in statement
    assert "Вернуть остаток" in statement
    listing = await client.get("/cabinet/requests")
    assert 'href="/cabinet/requests/refund"' in listing.text
    form = await client.get("/cabinet/requests/refund")
    assert form.status_code == 200 and "758,06" in form.text  # 1000 − 750 + 21 days of 31 back

    empty = await post_form(client, "/cabinet/requests/refund", {"details": " "})
    assert empty.status_code == 400 and "куда перечислить" in text_of(empty.text)
    filed_response = await post_form(client, "/cabinet/requests/refund",
                                     {"details": "Карта 2202 2000 0000 0001, Петров П. П."})
    assert filed_response.status_code == 303
    request = await ServiceRequest.objects().where(ServiceRequest.kind == "balance_refund").first()
    assert filed_response.headers["location"] == f"/cabinet/requests/{request.id}?filed=1"
    assert request.text.startswith("Карта 2202") and request.subscriber == s.id
    again = await client.get("/cabinet/requests/refund")
    assert f"{request.number}" in again.text and "<textarea" not in again.text
    # Everything else stays read-only.
    assert (await client.get("/cabinet/requests/new?kind=question")).status_code == 403

    await complete_balance_refund(request.id, actor=await staff_actor("cashier"))
    page = text_of((await client.get(f"/cabinet/requests/{request.id}")).text)
    assert "Выполнена" in page and "выплачен" in page
    final = text_of((await client.get(f"/cabinet/requests/{termination.id}/statement")).text)
    assert "Баланс: 0,00" in final and "Возврат остатка по заявке" in final


async def test_an_active_contract_has_nothing_to_refund_and_a_staff_view_cannot_file(client):
    active = await make_subscriber()
    await post_entry(active.id, 5000, EntryKind.PAYMENT, "pay-active")
    assert (await cabinet_login(client, active.contract_number)).status_code == 303
    page = await client.get("/cabinet/requests/refund")
    assert page.status_code == 200 and "после расторжения" in page.text and "<textarea" not in page.text
    before = await row_counts()
    refused = await post_form(client, "/cabinet/requests/refund", {"details": "на карту"})
    assert refused.status_code == 400 and "после расторжения" in text_of(refused.text)
    assert await row_counts() == before

    client.cookies.clear()
    s, _termination = await terminated_and_logged_in(client)
    client.cookies.clear()
    link = await start_staff_view(s.id, actor=Actor("staff:clerk"))
    client.cookies.set(SESSION_COOKIE, await redeem_staff_view(link))
    assert (await client.get("/cabinet/requests/refund")).status_code == 200
    before = await row_counts()
    response = await post_form(client, "/cabinet/requests/refund", {"details": "на карту"})
    assert response.status_code == 403
    assert await row_counts() == before
