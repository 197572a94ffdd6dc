"""Staff work the request queue through the admin: forms, filters, attribution."""

from __future__ import annotations

import datetime as dt
import itertools
import re

import httpx
import pytest

from backoffice.tables import TABLE_CONFIGS
from cabinet.limits import counters
from tables.audit import AuditEntry
from tables.billing.tariff_changes import TariffChange
from tables.calendar import utcnow
from tables.requests.queue import RequestEvent, ServiceRequest, take_request
from tables.subscribers import Subscriber
from tests.support.factories import make_subscriber, make_tariff
from tests.support.helpers import admin_login, make_staff, row_counts
from tests.support.request_factories import application, cabinet_login, filed, staff_actor

FORMS = "/admin/api/forms"


_addresses = itertools.count(1)


@pytest.fixture
async def clerk_client(app):
    """A logged-in clerk from an address of its own: the admin's login limit
    (20 per 5 minutes per address, in memory) lives as long as the session's app."""
    n = next(_addresses)
    transport = httpx.ASGITransport(app=app, client=(f"10.77.{n // 250}.{n % 250 + 1}", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        await make_staff()
        await admin_login(client)
        await counters().reset()
        yield client


async def submit(client, slug: str, data: dict):
    return await client.post(f"{FORMS}/{slug}/", json=data)


async def _row(request_id: int) -> dict:
    return await ServiceRequest.select().where(ServiceRequest.id == request_id).first()


async def test_request_forms_are_listed_in_their_group(clerk_client):
    response = await clerk_client.get(f"{FORMS}/grouped/")
    assert response.status_code == 200, response.text
    names = {f["name"] for f in response.json()["grouped"]["Заявки"]}
    assert names == {"Взять заявку в работу", "Ответить по заявке", "Закрыть заявку как выполненную",
                     "Отклонить заявку", "Выполнить смену тарифа", "Выполнить расторжение",
                     "Оформить договор по заявке", "Заявка на возврат остатка", "Выплатить остаток"}


async def test_take_reply_note_and_close_are_attributed_to_the_clerk(clerk_client):
    s = await make_subscriber()
    request = await filed(s.id, "repair", now=utcnow())
    number = request.number.lower().replace("z-00000", "z-")  # staff may type it short
    steps = [
        ("взять-заявку-в-работу", {"number": number}, "в работе"),
        ("ответить-по-заявке", {"number": number, "message": "Мастер будет в 15:00"}, "отправлен"),
        ("ответить-по-заявке", {"number": number, "message": "долг 200 ₽", "internal": True},
         "не видит"),
        ("закрыть-заявку-как-выполненную", {"number": number, "result": "Заменён кабель"},
         "выполнена"),
    ]
    for slug, data, answer in steps:
        response = await submit(clerk_client, slug, data)
        assert response.status_code == 200, response.text
        assert answer in response.json()["custom_form_success"]
    row = await _row(request.id)
    assert row["status"] == "done" and row["close_reason"] == "Заменён кабель"
    staff_events = await RequestEvent.select().where(RequestEvent.author_kind == "staff")
    assert {e["author_name"] for e in staff_events} == {"clerk"}
    assert {e["staff"] for e in staff_events} == {row["assignee"]}
    audit = await AuditEntry.select(AuditEntry.action, AuditEntry.actor_name).where(
        AuditEntry.object_type == "service_request").order_by(AuditEntry.id)
    assert [(a["action"], a["actor_name"]) for a in audit][1:] == [
        ("request.assigned", "clerk"), ("request.replied", "clerk"), ("request.noted", "clerk"),
        ("request.done", "clerk")]


async def test_assign_to_another_clerk_by_login(clerk_client):
    master = await make_staff("master")
    s = await make_subscriber()
    request = await filed(s.id, "service", now=utcnow())
    unknown = await submit(clerk_client, "взять-заявку-в-работу",
                           {"number": request.number, "assignee": "nobody"})
    assert unknown.status_code == 422 and "не найден" in unknown.json()["custom_form_error"]
    ok = await submit(clerk_client, "взять-заявку-в-работу",
                      {"number": request.number, "assignee": "master"})
    assert ok.status_code == 200
    assert (await _row(request.id))["assignee"] == master.id


ACTIONS_ON_CLOSED = [
    ("взять-заявку-в-работу", {}),
    ("ответить-по-заявке", {"message": "ещё"}),
    ("ответить-по-заявке", {"message": "заметка", "internal": True}),
    ("закрыть-заявку-как-выполненную", {}),
    ("отклонить-заявку", {"reason": "повтор"}),
    ("выполнить-смену-тарифа", {}),
    ("выполнить-расторжение", {}),
    ("оформить-договор-по-заявке", {}),
]


@pytest.mark.parametrize("slug,extra", ACTIONS_ON_CLOSED)
async def test_any_action_on_a_closed_request_is_a_clear_error_and_changes_nothing(
        clerk_client, slug, extra):
    s = await make_subscriber()
    new = await make_tariff()
    kind = {"выполнить-смену-тарифа": "tariff_change", "выполнить-расторжение": "termination"}.get(
        slug, "question")
    request = await filed(s.id, kind, now=utcnow(), **({"tariff_id": new.id}
                                                       if kind == "tariff_change" else {}))
    if slug == "оформить-договор-по-заявке":
        request = await application(now=utcnow())
    rejected = await submit(clerk_client, "отклонить-заявку",
                            {"number": request.number, "reason": "дубль"})
    assert rejected.status_code == 200, rejected.text
    before_counts, before_row = await row_counts(), await _row(request.id)
    response = await submit(clerk_client, slug, {"number": request.number, **extra})
    assert response.status_code == 422
    assert response.json()["custom_form_error"] == (
        f"Заявка {request.number} уже закрыта (отклонена): действие невозможно.")
    assert await row_counts() == before_counts
    assert await _row(request.id) == before_row


async def test_unknown_number_and_missing_reason(clerk_client):
    missing = await submit(clerk_client, "ответить-по-заявке", {"number": "Z-000404", "message": "x"})
    assert missing.status_code == 422 and "не найдена" in missing.json()["custom_form_error"]
    no_reason = await submit(clerk_client, "отклонить-заявку", {"number": "Z-000001", "reason": ""})
    assert no_reason.status_code == 422


async def test_complete_tariff_change_form(clerk_client):
    s = await make_subscriber()
    new = await make_tariff("Новый")
    request = await filed(s.id, "tariff_change", now=utcnow(), tariff_id=new.id)
    response = await submit(clerk_client, "выполнить-смену-тарифа", {"number": request.number})
    assert response.status_code == 200, response.text
    assert "текущий месяц — по прежнему тарифу" in response.json()["custom_form_success"]
    change = await TariffChange.objects().first()
    assert change.tariff == new.id and change.effective_from.day == 1
    assert change.effective_from > dt.date.today() - dt.timedelta(days=1)
    wrong = await filed(s.id, "repair", now=utcnow())
    refused = await submit(clerk_client, "выполнить-смену-тарифа", {"number": wrong.number})
    assert refused.status_code == 422 and "не относится" in refused.json()["custom_form_error"]


async def test_complete_termination_form_and_cabinet_sees_it_at_once(clerk_client, app):
    s = await make_subscriber()
    request = await filed(s.id, "termination", now=utcnow())
    day = (await _row(request.id))["desired_date"]
    response = await submit(clerk_client, "выполнить-расторжение", {"number": request.number})
    assert response.status_code == 200, response.text
    assert f"будет расторгнут с {day:%d.%m.%Y}" in response.json()["custom_form_success"]
    contract = await Subscriber.objects().where(Subscriber.id == s.id).first()
    # The desired date is ahead: scheduled, the contract works until then.
    assert contract.status == "active" and contract.terminated_on == day
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://testserver") as cabinet:
        await cabinet_login(cabinet, s.contract_number)
        page = await cabinet.get(f"/cabinet/requests/{request.id}")
        assert "Выполнена" in page.text and f"{day:%d.%m.%Y}" in page.text
        assert f"Договор будет расторгнут с {day:%d.%m.%Y}." in (await cabinet.get("/cabinet/")).text
        assert (await cabinet.get(f"/cabinet/requests/{request.id}/statement")).status_code == 200


async def test_convert_form_prints_a_one_time_password_that_logs_in(clerk_client, app):
    tariff = await make_tariff()
    request = await application(tariff_id=tariff.id, now=utcnow())
    response = await submit(clerk_client, "оформить-договор-по-заявке", {"number": request.number})
    assert response.status_code == 200, response.text
    message = response.json()["custom_form_success"]
    match = re.search(r"договор № (\d+)\. Одноразовый пароль для входа: (\S+) ", message)
    assert match, message
    contract, one_time = match.groups()
    row = await _row(request.id)
    assert row["status"] == "done" and row["converted_subscriber"] is not None
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://testserver") as cabinet:
        login = await cabinet_login(cabinet, contract, one_time)
        assert login.status_code == 303 and login.headers["location"] == "/cabinet/activate"
    again = await submit(clerk_client, "оформить-договор-по-заявке", {"number": request.number})
    assert again.status_code == 422 and "уже закрыта" in again.json()["custom_form_error"]
    assert await Subscriber.count() == 1


async def test_queue_filters_search_and_ordering(clerk_client):
    clerk = await staff_actor("dispatcher")
    first = await make_subscriber(phone="+79130001111")
    second = await make_subscriber(phone="+79130002222")
    early = await filed(first.id, "repair", now=utcnow() - dt.timedelta(days=3))
    late = await filed(second.id, "question", now=utcnow())
    await take_request(late.id, actor=clerk)
    connection = await application(now=utcnow() - dt.timedelta(days=1))

    async def numbers(**params) -> list[str]:
        response = await clerk_client.get("/admin/api/tables/service_request/",
                                           params={"__page_size": 50, **params})
        assert response.status_code == 200, response.text
        return [r["number"] for r in response.json()["rows"]]

    # The UI sends the TableConfig's order (newest first); a click on the column flips it.
    config = next(c for c in TABLE_CONFIGS if c.table_class is ServiceRequest)
    assert [(o.column._meta.name, o.ascending) for o in config.order_by] == [("created_at", False)]
    assert await numbers(__order="-created_at") == [late.number, connection.number, early.number]
    assert await numbers(__order="created_at") == [early.number, connection.number, late.number]
    assert await numbers(kind="repair") == [early.number]
    assert await numbers(status="in_progress") == [late.number]
    assert await numbers(assignee=clerk.staff_id) == [late.number]
    assert await numbers(contract_number=second.contract_number) == [late.number]
    assert await numbers(applicant_phone="0001111") == [early.number]
    assert await numbers(applicant_phone="5551234") == [connection.number]
    assert await numbers(address_text="Победы") == [connection.number]
    town = (await _row(connection.id))["town"]
    assert await numbers(town=town) == [connection.number]
    cutoff = (utcnow() - dt.timedelta(days=2)).isoformat()
    assert await numbers(created_at=cutoff, created_at__operator="lt") == [early.number]


@pytest.mark.parametrize("table", ["service_request", "request_event", "notification"])
async def test_request_tables_are_read_only_in_the_admin(clerk_client, table):
    s = await make_subscriber()
    await filed(s.id, "question", now=utcnow())
    await take_request(1, actor=await staff_actor("other"))
    before = await row_counts()
    assert (await clerk_client.get(f"/admin/api/tables/{table}/")).status_code == 200
    assert (await clerk_client.post(f"/admin/api/tables/{table}/", json={})).status_code >= 400
    assert (await clerk_client.patch(f"/admin/api/tables/{table}/1/",
                                     json={"status": "done"})).status_code >= 400
    assert (await clerk_client.delete(f"/admin/api/tables/{table}/1/")).status_code >= 400
    assert await row_counts() == before
