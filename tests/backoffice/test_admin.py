"""Staff work through the mounted Piccolo Admin and its HTTP API."""

from __future__ import annotations

import json

import pytest

from tables.audit import AuditEntry
from tables.ledger import EntryKind, LedgerEntry, post_entry
from tables.subscribers import Subscriber
from tables.tariffs import Tariff
from tests.support.factories import make_subscriber
from tests.support.helpers import admin_login, make_staff


async def test_admin_redirects_to_trailing_slash(client):
    response = await client.get("/admin")
    assert response.status_code in (301, 302, 307, 308)
    assert response.headers["location"].endswith("/admin/")


async def test_login_required(client):
    assert (await client.get("/admin/api/tables/tariff/")).status_code in (401, 403)


async def test_staff_tariff_crud_through_admin_api(client):
    await make_staff()
    await admin_login(client)
    payload = {"name": "Тестовый", "kind": "internet", "monthly_fee": "499,00", "speed_mbps": 200,
               "upload_mbps": 0, "channels": 0, "router_option": True, "router_fee": "0", "active": True,
               "sort_order": 5, "description": ""}
    created = await client.post("/admin/api/tables/tariff/", json=payload)
    assert created.status_code == 201, created.text
    tariff_id = created.json()[0]["id"]
    created_entry = await AuditEntry.objects().where(AuditEntry.action == "tariff.created").first()
    assert created_entry.object_id == str(tariff_id)
    # A change the database refuses (a negative fee breaks a CHECK) leaves no audit entry.
    refused = await client.patch(f"/admin/api/tables/tariff/{tariff_id}/", json={"monthly_fee": "-0,05"})
    assert refused.status_code >= 400
    assert not await AuditEntry.exists().where(AuditEntry.action == "tariff.updated")
    edited = await client.patch(f"/admin/api/tables/tariff/{tariff_id}/", json={"monthly_fee": "529,00"})
    assert edited.status_code == 200, edited.text
    updated = await AuditEntry.objects().where(AuditEntry.action == "tariff.updated").first()
    assert json.loads(updated.before) == {"monthly_fee": 49900}
    assert json.loads(updated.after) == {"monthly_fee": 52900}
    listing = await client.get("/admin/api/tables/tariff/", params={"name": "Тестовый"})
    assert listing.status_code == 200
    # Clerks read and type roubles; the table keeps kopecks.
    assert [r["monthly_fee"] for r in listing.json()["rows"]] == ["529,00"]
    assert (await Tariff.select(Tariff.monthly_fee).where(Tariff.id == tariff_id).first()) == {
        "monthly_fee": 52900}
    deleted = await client.delete(f"/admin/api/tables/tariff/{tariff_id}/")
    assert deleted.status_code == 204
    assert not await Tariff.exists().where(Tariff.id == tariff_id)
    actions = [r["action"] for r in await AuditEntry.select(AuditEntry.action)]
    assert {"tariff.created", "tariff.updated", "tariff.deleted"} <= set(actions)


@pytest.mark.parametrize("table", ["ledger_entry", "payment", "audit_entry", "service_request"])
async def test_money_and_lifecycle_tables_are_read_only(client, table):
    s = await make_subscriber()
    entry, _ = await post_entry(s.id, 100, EntryKind.PAYMENT, "ro-1")
    await make_staff()
    await admin_login(client)
    assert (await client.get(f"/admin/api/tables/{table}/")).status_code == 200
    assert (await client.post(f"/admin/api/tables/{table}/", json={})).status_code >= 400
    assert (await client.patch(f"/admin/api/tables/{table}/{entry.id}/",
                               json={"amount": 1})).status_code >= 400
    assert (await client.delete(f"/admin/api/tables/{table}/{entry.id}/")).status_code >= 400
    assert (await LedgerEntry.select(LedgerEntry.amount).first())["amount"] == 100


async def test_subscriber_balance_cannot_be_edited_directly(client):
    s = await make_subscriber()
    await make_staff()
    await admin_login(client)
    response = await client.patch(f"/admin/api/tables/subscriber/{s.id}/", json={"balance": 10**9})
    assert response.status_code == 405
    assert (await Subscriber.select(Subscriber.balance).first())["balance"] == 0
    ok = await client.patch(f"/admin/api/tables/subscriber/{s.id}/", json={"phone": "+79130000001"})
    assert ok.status_code == 200, ok.text
