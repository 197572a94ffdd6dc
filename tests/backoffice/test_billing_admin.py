"""Staff run the charge from the office page (preview, then confirm); billing tables are
read-only in the admin."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from tables.audit import Actor, AuditEntry
from tables.billing.charge_run import BillingRun, run_charges
from tables.billing.promised import grant_promised_payment
from tables.billing.tariff_changes import schedule_tariff_change
from tables.ledger import EntryKind, LedgerEntry
from tables.month import Month
from tests.support.factories import make_subscriber, make_tariff
from tests.support.helpers import admin_login, csrf_from, make_staff

PAGE = "/office/charge"


async def _charge(client, url: str, period: str):
    """The office's charge page as the browser sends it (with the page's CSRF token)."""
    token = csrf_from((await client.get(PAGE)).text)
    return await client.post(url, data={"period": period, "_csrf_token": token})


async def test_page_defaults_to_the_current_month(client):
    await make_staff()
    await admin_login(client)
    page = await client.get(PAGE)
    assert page.status_code == 200 and f'value="{Month.current().iso}"' in page.text


async def test_page_runs_the_charge_once_with_the_staff_actor(client):
    s = await make_subscriber(fee=75000)
    staff = await make_staff()
    await admin_login(client)
    response = await _charge(client, f"{PAGE}/confirm", Month.current().iso)
    assert response.status_code == 200, response.text
    assert "выполнено: договоров — 1" in response.text
    run = await BillingRun.objects().first()
    assert run.period == Month.current().iso and run.started_by == "clerk" and run.staff == staff.id
    again = await _charge(client, f"{PAGE}/confirm", Month.current().iso)
    assert again.status_code == 200 and "выполнено: договоров — 0" in again.text
    entries = await LedgerEntry.select().where(LedgerEntry.kind == EntryKind.CHARGE)
    assert [e["subscriber"] for e in entries] == [s.id]
    audit = await AuditEntry.objects().where(AuditEntry.action == "billing.charged").first()
    assert audit.actor == staff.id


async def test_page_shows_the_preview_and_charges_nothing_before_the_confirmation(client):
    await make_subscriber(fee=140050)
    await make_staff()
    await admin_login(client)
    response = await _charge(client, PAGE, Month.current().iso)
    assert response.status_code == 200, response.text
    preview = dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]+)</dd>", response.text))
    assert preview["Договоров к начислению"] == "1" and "1\u00a0400,50" in preview["Сумма"]
    assert preview["Будет приостановлено за долг"] == "1"
    assert await LedgerEntry.count() == 0 and await BillingRun.count() == 0


@pytest.mark.parametrize("step", ["", "/confirm"])
async def test_page_refuses_a_month_that_has_not_begun(client, step):
    await make_subscriber()
    await make_staff()
    await admin_login(client)
    future = Month.current().next.iso
    response = await _charge(client, PAGE + step, future)
    assert response.status_code == 422
    assert f"Период {future} ещё не наступил" in response.text
    assert await LedgerEntry.count() == 0 and await BillingRun.count() == 0


@pytest.mark.parametrize("period", ["2026-13", "декабрь", "2199-01"])
@pytest.mark.parametrize("step", ["", "/confirm"])
async def test_page_refuses_a_bad_period(client, period, step):
    await make_subscriber()
    await make_staff()
    await admin_login(client)
    response = await _charge(client, PAGE + step, period)
    assert response.status_code == 422, response.text
    assert await LedgerEntry.count() == 0 and await BillingRun.count() == 0


@pytest.mark.parametrize("table", ["billing_run", "promised_payment", "tariff_change"])
async def test_billing_tables_are_read_only(client, table):
    s = await make_subscriber()
    await grant_promised_payment(s.id)
    await schedule_tariff_change(s.id, (await make_tariff()).id, dt.date(2099, 1, 1), Actor("clerk"))
    await run_charges(actor=Actor("clerk"))
    await make_staff()
    await admin_login(client)
    listing = await client.get(f"/admin/api/tables/{table}/")
    assert listing.status_code == 200 and len(listing.json()["rows"]) == 1
    row_id = listing.json()["rows"][0]["id"]
    before = await client.get(f"/admin/api/tables/{table}/{row_id}/")
    assert (await client.post(f"/admin/api/tables/{table}/", json={})).status_code == 405
    assert (await client.patch(f"/admin/api/tables/{table}/{row_id}/",
                               json={"amount": 1, "period": "2000-01"})).status_code == 405
    assert (await client.delete(f"/admin/api/tables/{table}/{row_id}/")).status_code == 405
    assert (await client.get(f"/admin/api/tables/{table}/{row_id}/")).json() == before.json()
