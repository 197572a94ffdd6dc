"""What Piccolo Admin's screens read from our CRUD API (backoffice/crud.py, backoffice/ui.py):
titles, roubles, local time, readable links, the edit page's whole-row saves, Russian refusals
and the role-aware sidebar. The browser battery (tests/e2e/test_e2e_admin.py) clicks the same."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from backoffice.admin import STAFF_TABLES
from backoffice.labels import has_cyrillic
from backoffice.tables import TABLE_CONFIGS
from tables.audit import Actor, AuditEntry
from tables.ledger import LedgerEntry, post_adjustment, post_entry
from tables.subscribers import Subscriber
from tables.tariffs import Tariff
from tests.support.factories import make_address, make_subscriber
from tests.support.helpers import admin_login, make_staff

CONFIGS = [*TABLE_CONFIGS, *STAFF_TABLES]
RUBLES = re.compile(r"^-?\d{1,3}([\u00a0 ]\d{3})*,\d{2}$")


async def _as(client, role: str = "administrator") -> None:
    await make_staff(f"staff_{role}", role=role)
    await admin_login(client, f"staff_{role}")


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.table_class._meta.tablename)
async def test_every_table_schema_has_russian_titles_and_a_drawable_list(client, config):
    await _as(client)
    name = config.table_class._meta.tablename
    response = await client.get(f"/admin/api/tables/{name}/schema/")
    assert response.status_code == 200, response.text
    schema = response.json()
    properties, extra = schema["properties"], schema["extra"]
    # Piccolo Admin reads the type of every listed column: one without a property (other
    # than the link column, drawn first) left /admin/#/subscriber blank.
    for column in extra["visible_column_names"]:
        assert column in properties or column == extra["link_column_name"], (name, column)
    untitled = {n: p.get("title") for n, p in properties.items() if not has_cyrillic(p.get("title") or "")}
    assert not untitled, (name, untitled)
    assert has_cyrillic(extra["table_title"]), name
    assert all(has_cyrillic(t) for t in extra["column_titles"].values()), name


async def test_money_is_shown_and_typed_in_roubles(client):
    await _as(client)
    tariff = Tariff(name="Гигабит", monthly_fee=150050, router_fee=0)
    await tariff.save()
    listing = (await client.get("/admin/api/tables/tariff/", params={"name": "Гигабит"})).json()
    assert listing["rows"][0]["monthly_fee"] == "1\u00a0500,50"
    assert RUBLES.match(listing["rows"][0]["router_fee"])
    schema = (await client.get("/admin/api/tables/tariff/schema/")).json()
    assert schema["properties"]["monthly_fee"]["title"] == "Абонентская плата в месяц, ₽"
    edit = (await client.get(f"/admin/api/tables/tariff/{tariff.id}/")).json()
    assert edit["monthly_fee"] == "1500,50"
    saved = await client.patch(f"/admin/api/tables/tariff/{tariff.id}/", json={"monthly_fee": "1 600,5"})
    assert saved.status_code == 200, saved.text
    assert (await Tariff.select(Tariff.monthly_fee).where(Tariff.id == tariff.id).first()) == {
        "monthly_fee": 160050}
    wrong = await client.patch(f"/admin/api/tables/tariff/{tariff.id}/", json={"monthly_fee": "16,005"})
    assert wrong.status_code == 422 and wrong.headers["content-type"].startswith("text/plain")
    assert "Абонентская плата в месяц, ₽" in wrong.text and "1 500,00" in wrong.text
    # A filter is typed in roubles too.
    found = await client.get("/admin/api/tables/tariff/", params={"monthly_fee": "1600,50"})
    assert found.status_code == 200, found.text
    found = found.json()
    assert [r["name"] for r in found["rows"]] == ["Гигабит"]


async def test_times_are_listed_in_novokuznetsk_time(client):
    s = await make_subscriber()
    entry, _ = await post_entry(s.id, 100000, "payment", "ui-time-1")
    await LedgerEntry.update({LedgerEntry.created_at: dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.UTC)}).where(
        LedgerEntry.id == entry.id)
    await _as(client)
    rows = (await client.get("/admin/api/tables/ledger_entry/", params={"__readable": "true"})).json()["rows"]
    assert rows[0]["created_at"] == "07.12.2026 10:00"
    assert rows[0]["amount"] == "1\u00a0000,00"


async def test_links_read_as_contract_surname_initials_address_and_tariff(client):
    address = await make_address(street="улица Кирова", house="5", apartment="")
    s = await make_subscriber(full_name="Смирнов Дмитрий Иванович", address=address)
    await post_entry(s.id, 140050, "payment", "ui-link-1")
    await _as(client)
    rows = (await client.get("/admin/api/tables/subscriber/", params={"__readable": "true"})).json()["rows"]
    assert rows[0]["address_readable"] == "улица Кирова, д. 5"
    assert rows[0]["tariff_readable"].startswith("Тариф")
    assert rows[0]["balance"] == "1\u00a0400,50"
    entries = (await client.get("/admin/api/tables/ledger_entry/", params={"__readable": "true"})).json()
    assert entries["rows"][0]["subscriber_readable"] == f"{s.contract_number} Смирнов Д. И."
    # The picker searches by what it shows, Cyrillic in any case.
    picked = (await client.get("/admin/api/tables/subscriber/ids/", params={"search": "смирнов"})).json()
    assert picked == {str(s.id): f"{s.contract_number} Смирнов Д. И."}


async def test_audit_actions_are_listed_in_russian(client):
    s = await make_subscriber()
    await _as(client)
    rows = (await client.get("/admin/api/tables/audit_entry/",
                             params={"object_id": str(s.id), "object_type": "subscriber"})).json()["rows"]
    assert [r["action"] for r in rows] == ["Договор заключён"]
    assert await AuditEntry.exists().where(AuditEntry.action == "subscriber.created")


def _whole_row(row: dict) -> dict:
    """What the admin's edit page sends: every field, as form text (nulls as null)."""
    form = {}
    for name, value in row.items():
        if name == "id" or name.endswith("_readable"):
            continue
        form[name] = None if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    return form


async def test_operator_saves_the_whole_edit_page_with_a_new_phone(client):
    s = await make_subscriber()
    await post_entry(s.id, 50000, "payment", "ui-edit-1")
    await _as(client, "operator")
    url = f"/admin/api/tables/subscriber/{s.id}/"
    row = (await client.get(url, params={"__readable": "true"})).json()
    assert "password_hash" not in row  # never a field of the form
    form = _whole_row(row) | {"password_hash": ""}  # an older page sent the empty secret too
    saved = await client.patch(url, json=form | {"phone": "+79130000042"})
    assert saved.status_code == 200, saved.text
    stored = await Subscriber.select().where(Subscriber.id == s.id).first()
    assert stored["phone"] == "+79130000042"
    assert stored["balance"] == 50000 and stored["password_hash"] == s.password_hash
    entry = await AuditEntry.objects().where(AuditEntry.action == "subscriber.updated").first()
    assert entry is not None and '"phone"' in entry.after and "balance" not in entry.after
    # A field the role may not change: refused in Russian, naming it as the page does.
    refused = await client.patch(url, json=form | {"router_rented": "true"})
    assert refused.status_code == 403 and refused.headers["content-type"].startswith("text/plain")
    assert "«Арендует роутер»" in refused.text
    unchanged = await client.patch(url, json=form | {"phone": "+79130000042"})
    assert unchanged.status_code == 400 and "Нет изменений" in unchanged.text


async def test_administrator_saves_the_edit_page_but_not_protected_columns(client):
    s = await make_subscriber()
    await _as(client)
    url = f"/admin/api/tables/subscriber/{s.id}/"
    form = _whole_row((await client.get(url)).json())
    saved = await client.patch(url, json=form | {"email": "new@example.org"})
    assert saved.status_code == 200, saved.text
    refused = await client.patch(url, json=form | {"balance": "100,00"})
    assert refused.status_code == 405 and "«Баланс, ₽»" in refused.text
    assert (await Subscriber.select(Subscriber.balance, Subscriber.email).first()) == {
        "balance": 0, "email": "new@example.org"}


async def test_refusals_reach_the_screen_as_russian_text(client):
    s = await make_subscriber()
    await _as(client, "operator")
    for response in (
        await client.post("/admin/api/tables/tariff/", json={"name": "x"}),  # not the role's
        await client.get("/admin/api/tables/audit_entry/"),
        await client.patch(f"/admin/api/tables/subscriber/{s.id}/", json={"failed_logins": "много"}),
        await client.get("/admin/api/tables/subscriber/999999/"),
    ):
        assert response.status_code >= 400
        assert response.headers["content-type"].startswith("text/plain"), response.text
        assert has_cyrillic(response.text) and not response.text.startswith("{"), response.text


@pytest.mark.parametrize(("role", "shown", "hidden", "forms", "no_forms", "links"), [
    ("operator", {"subscriber", "street"}, {"audit_entry", "payment_refund", "staff_role"},
     {"Взять заявку в работу"}, {"Итоги по платежам", "Выплатить остаток"},
     {"Офис: сегодня и поиск абонента": "/office/", "Новый договор": "/office/contracts/new",
      "Квитанции по улице и дому": "/office/slips", "Сайт и кабинет": "/"}),
    ("cashier", {"payment_refund", "subscriber"}, {"audit_entry", "notification"},
     {"Выплатить остаток"}, {"Взять заявку в работу"},
     {"Офис: сегодня и поиск абонента": "/office/", "Сверка с агентами": "/office/agents",
      "Банковские выписки": "/office/bank/", "Квитанции по улице и дому": "/office/slips",
      "Сайт и кабинет": "/"}),
    ("manager", {"audit_entry", "piccolo_user"}, set(), {"Итоги по платежам"}, {"Выплатить остаток"},
     {"Офис: сегодня и поиск абонента": "/office/", "Рассылка абонентам": "/office/broadcasts",
      "Сверка с агентами": "/office/agents", "Отчёты": "/reports/", "Сайт и кабинет": "/"}),
    ("administrator", {"audit_entry", "subscriber"}, set(), {"Выплатить остаток"}, set(),
     {"Офис: сегодня и поиск абонента": "/office/", "Новый договор": "/office/contracts/new",
      "Начисление абонентской платы": "/office/charge", "Рассылка абонентам": "/office/broadcasts",
      "Сверка с агентами": "/office/agents", "Банковские выписки": "/office/bank/",
      "Квитанции по улице и дому": "/office/slips", "Отчёты": "/reports/", "Сайт и кабинет": "/"}),
])
async def test_sidebar_lists_only_what_the_role_may_open(client, role, shown, hidden, forms, no_forms,
                                                         links):
    await _as(client, role)
    grouped = (await client.get("/admin/api/tables/grouped/")).json()
    tables = {n for items in grouped["grouped"].values() for n in items} | set(grouped["ungrouped"])
    assert shown <= tables and not hidden & tables, tables
    assert set((await client.get("/admin/api/tables/")).json()) == tables
    form_names = {f["name"] for f in (await client.get("/admin/api/forms/")).json()}
    grouped_forms = (await client.get("/admin/api/forms/grouped/")).json()
    assert {f["name"] for items in grouped_forms["grouped"].values() for f in items} | {
        f["name"] for f in grouped_forms["ungrouped"]} == form_names
    assert forms <= form_names and not no_forms & form_names, form_names
    # The office pages that replaced the typed-id forms, for the roles that may use them.
    assert (await client.get("/admin/api/links/")).json() == links


async def test_the_admin_page_loads_the_patched_bundle_and_novokuznetsk_time(client):
    page = (await client.get("/admin/")).text
    assert '<html lang="ru">' in page and "./centra/admin.js" in page and 'src="./assets/' not in page
    script = await client.get("/admin/centra/admin.js/")  # the mount hands paths with a slash
    assert script.status_code == 200 and "Asia/Novokuznetsk" in script.text
    assert '"subscriber": "Абоненты"' in script.text
    bundle_name = re.search(r"\./centra/(index-[\w-]+\.js)", page).group(1)
    bundle = (await client.get(f"/admin/centra/{bundle_name}")).text
    assert "The form has errors." not in bundle and "window.centraTitle(" in bundle


async def test_cells_that_name_a_contract_carry_its_card(client):
    """``schema.extra.card_links``: the bundle draws these cells as links to the office's card
    (backoffice/ui.py); the browser test clicks one (tests/e2e/test_e2e_admin.py)."""
    s = await make_subscriber(full_name="Смирнов Дмитрий Иванович")
    await post_entry(s.id, 10000, "payment", "ui-card-1")
    await post_adjustment(s.id, -500, "проверка ссылки", actor=Actor(name="проверка"))
    await _as(client, "manager")

    async def links(table: str) -> dict:
        return (await client.get(f"/admin/api/tables/{table}/schema/")).json()["extra"]["card_links"]

    for table in ("ledger_entry", "payment", "promised_payment", "tariff_change", "cabinet_rating"):
        assert (await links(table))["subscriber"] == {"from": "subscriber_readable"}, table
    assert await links("subscriber") == {"contract_number": {"from": "contract_number"}}
    assert (await links("service_request"))["contract_number"] == {"from": "subscriber_readable"}
    assert await links("audit_entry") == {
        "object_repr": {"from": "object_repr", "if": {"object_type": "subscriber"}}}
    assert await links("tariff") == {}
    # The number the link takes is where the named field starts.
    entries = (await client.get("/admin/api/tables/ledger_entry/", params={"__readable": "true"})).json()
    assert entries["rows"][0]["subscriber_readable"].split(" ")[0] == s.contract_number
    # An audit entry about a contract written with its id only lists the contract's number.
    audit = (await client.get("/admin/api/tables/audit_entry/", params={
        "object_type": "subscriber", "action": "ledger.adjusted"})).json()["rows"]
    assert [r["object_repr"] for r in audit] == [s.contract_number]
    assert (await AuditEntry.select(AuditEntry.object_repr).where(
        AuditEntry.action == "ledger.adjusted").first())["object_repr"] == ""


@pytest.mark.parametrize(("role", "table", "can_add"), [
    ("administrator", "subscriber", False),  # contracts come from /office/contracts/new
    ("operator", "subscriber", False),
    ("administrator", "ledger_entry", False),  # read-only for everyone
    ("administrator", "tariff", True),
    ("operator", "tariff", False),  # the operator only reads tariffs
    ("operator", "street", True),
])
async def test_add_row_is_offered_only_where_the_role_may_add(client, role, table, can_add):
    await _as(client, role)
    schema = (await client.get(f"/admin/api/tables/{table}/schema/")).json()
    assert schema["extra"]["can_add"] is can_add
