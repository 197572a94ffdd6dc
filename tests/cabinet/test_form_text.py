"""NUL and other control characters from outside are stripped at every entry, the same on
SQLite (which stored them) and PostgreSQL (which refused NUL with a 500)."""

from __future__ import annotations

import ast
import json
import pathlib

from tables.addresses import Town
from tables.content import NewsItem
from tables.ledger import LedgerEntry
from tables.ratings import CabinetRating
from tables.requests.queue import RequestEvent, ServiceRequest
from tables.subscribers import Subscriber
from tables.text import clean_text
from tests.support.factories import make_subscriber
from tests.support.helpers import admin_login, csrf_from, make_staff, sign_in
from tests.support.request_factories import filed, post_form

DIRTY = "Нет\x00 сигнала\x07\x1b\x7f с утра"
CLEAN = "Нет сигнала с утра"


def as_json(value: dict) -> dict:
    """A JSON body as the admin's browser sends it (control characters as ``\\u0000`` escapes)."""
    return {"content": json.dumps(value), "headers": {"Content-Type": "application/json"}}


def test_clean_text_keeps_tabs_and_line_breaks():
    assert clean_text(DIRTY) == CLEAN and clean_text(DIRTY + "\ud800") == CLEAN
    assert clean_text("строка 1\r\nстрока\t2") == "строка 1\r\nстрока\t2"


async def test_invalid_utf8_in_a_form_is_not_a_500(client):
    page = await client.get("/rate")
    body = f"_csrf_token={csrf_from(page.text)}&score=4&comment=%ED%A0%80%FF%00ok".encode()
    response = await client.post("/rate", content=body,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code in (303, 400), response.text
    for row in await CabinetRating.select(CabinetRating.comment):
        assert clean_text(row["comment"]) == row["comment"]
        row["comment"].encode()


async def test_rating_comment(client):
    page = await client.get("/rate")
    response = await client.post("/rate", data={"_csrf_token": csrf_from(page.text), "score": "4",
                                                "comment": DIRTY})
    assert response.status_code == 303, response.text
    assert (await CabinetRating.select(CabinetRating.comment).first())["comment"] == CLEAN


async def test_connection_application(client):
    town = await Town.objects().get_or_create(Town.name == "Новокузнецк")
    response = await post_form(client, "/connect", {
        "name": "Иванова\x00 Мария", "phone": "8 (913) 222-33-44", "town_id": str(town.id),
        "street": "проспект\x00 Бардина", "house": "12", "apartment": "40",
        "contact_time": DIRTY, "consent": "yes"})
    assert response.status_code == 303, response.text
    row = await ServiceRequest.objects().first()
    assert row.applicant_name == "Иванова Мария"
    assert row.address_text == "Новокузнецк, проспект Бардина, д. 12, кв. 40"
    assert "\x00" not in str(row.to_dict())


async def test_request_text_and_message(client):
    subscriber = await make_subscriber()
    await sign_in(client, subscriber.id)
    response = await post_form(client, "/cabinet/requests/new?kind=question", {"text": DIRTY})
    assert response.status_code == 303, response.text
    request = await ServiceRequest.objects().first()
    assert request.text == CLEAN
    message = await post_form(client, f"/cabinet/requests/{request.id}/message", {"message": DIRTY},
                              form_page=f"/cabinet/requests/{request.id}")
    assert message.status_code in (200, 303), message.text
    events = await RequestEvent.select(RequestEvent.message)
    assert events and all("\x00" not in (e["message"] or "") for e in events)
    assert CLEAN in [e["message"] for e in events]


async def test_admin_table_edits(client):
    subscriber = await make_subscriber()
    await make_staff()
    await admin_login(client)
    patched = await client.patch(f"/admin/api/tables/subscriber/{subscriber.id}/",
                                 **as_json({"full_name": "Петров\u0000 Пётр\x1b"}))
    assert patched.status_code == 200, patched.text
    assert (await Subscriber.select(Subscriber.full_name).first())["full_name"] == "Петров Пётр"
    created = await client.post("/admin/api/tables/news_item/", **as_json({
        "title": "Новости\u0000", "body": DIRTY, "kind": "news", "published": True,
        "published_at": "2026-12-01T00:00:00+00:00", "starts_at": None, "ends_at": None}))
    assert created.status_code == 201, created.text
    news = await NewsItem.objects().first()
    assert (news.title, news.body) == ("Новости", CLEAN)


async def test_admin_form(client):
    subscriber = await make_subscriber()
    request = await filed(subscriber.id)
    await make_staff()
    await admin_login(client)
    response = await client.post("/admin/api/forms/ответить-по-заявке/", **as_json({
        "number": request.number, "message": DIRTY}))
    assert response.status_code == 200, response.text
    event = await RequestEvent.objects().where(RequestEvent.author_kind == "staff").first()
    assert event.message == CLEAN


async def test_office_form(client):
    subscriber = await make_subscriber()
    await make_staff()
    await admin_login(client)
    url = f"/office/subscribers/{subscriber.contract_number}/adjustment/confirm"
    page = await client.get(f"/office/subscribers/{subscriber.contract_number}/adjustment")
    response = await client.post(url, data={"amount": "-10", "reason": DIRTY,
                                            "_csrf_token": csrf_from(page.text)})
    assert response.status_code in (302, 303), response.text
    assert (await LedgerEntry.select(LedgerEntry.comment).first())["comment"] == CLEAN


# Where a request body may be read, by file and function: the forms' two readers, the
# payment webhook (it verifies its signature on the raw body) and the admin's role check
# (it reads the names of the fields only; the values go through the admin's hooks).
BODY_READERS = {("cabinet/forms.py", "form_fields"), ("backoffice/office_pages.py", "form_fields"),
                ("cabinet/webhook.py", "payment_webhook"), ("cabinet/agents.py", "_params"),
                ("cabinet/sms_callback.py", "sms_status_callback"),
                # A statement file: its text is cleaned by tables.payments.bank.parse_statement.
                ("backoffice/bank.py", "upload"),
                ("backoffice/roles.py", "_field_validator"), ("backoffice/roles.py", "check_fields")}


def test_every_form_is_read_through_the_cleaning_readers():
    """``request.form()`` (or the body) is read by the two form readers only: any other reader
    would skip the cleaning (the rating form did)."""
    offenders = []
    for path in [*pathlib.Path("cabinet").glob("*.py"), *pathlib.Path("backoffice").rglob("*.py")]:
        tree = ast.parse(path.read_text())
        for function in ast.walk(tree):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(function):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and node.func.attr in {"form", "json", "body", "stream"}
                        and (str(path), function.name) not in BODY_READERS):
                    offenders.append(f"{path}:{node.lineno} in {function.name}")
    assert offenders == []
