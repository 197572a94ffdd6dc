"""Requests in the cabinet: filing each kind, the timeline, isolation between subscribers."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from tables.calendar import local_date, utcnow
from tables.ledger import EntryKind, post_entry
from tables.requests.connection import convert_application
from tables.requests.queue import RequestEvent, ServiceRequest, reply
from tables.requests.tariff_change import next_period_start
from tables.requests.termination import apply_due_terminations, complete_termination
from tests.support.factories import make_subscriber, make_tariff
from tests.support.helpers import row_counts
from tests.support.request_factories import application, cabinet_login, filed, post_form, staff_actor

TODAY = local_date(utcnow())


async def logged_in(client, **kwargs):
    s = await make_subscriber(**kwargs)
    response = await cabinet_login(client, s.contract_number)
    assert response.status_code == 303, response.text
    return s


def _id_from(location: str) -> int:
    match = re.fullmatch(r"/cabinet/requests/(\d+)\?filed=1", location)
    assert match, location
    return int(match.group(1))


async def test_requests_need_login(client):
    response = await client.get("/cabinet/requests")
    assert response.status_code == 303 and response.headers["location"].startswith("/cabinet/login")


async def test_list_offers_every_kind(client):
    await logged_in(client)
    page = await client.get("/cabinet/requests")
    assert page.status_code == 200 and "Заявок пока нет" in page.text
    for kind in ("repair", "service", "termination", "question"):
        assert f"/cabinet/requests/new?kind={kind}" in page.text
    # A tariff change needs no request now: the subscriber books it (issue 29).
    assert 'href="/cabinet/tariff/"' in page.text


VALID = {
    "repair": {"topic": "no_tv", "text": "Нет сигнала на всех каналах", "contact_time": "вечером"},
    "service": {"topic": "relocation", "text": "Новый адрес: ул. Кирова, 5-12",
                "desired_date": (TODAY + dt.timedelta(days=3)).isoformat()},
    "termination": {"topic": "moving", "desired_date": (TODAY + dt.timedelta(days=7)).strftime("%d.%m.%Y"),
                    "confirm": "yes"},
    "question": {"text": "Можно ли подключить IPTV?"},
}


@pytest.mark.parametrize("kind", sorted(VALID))
async def test_file_each_kind_through_the_form(client, kind):
    s = await logged_in(client)
    form = await client.get(f"/cabinet/requests/new?kind={kind}")
    assert form.status_code == 200 and 'name="_csrf_token"' in form.text
    response = await post_form(client, f"/cabinet/requests/new?kind={kind}", VALID[kind])
    assert response.status_code == 303, response.text
    request_id = _id_from(response.headers["location"])
    row = await ServiceRequest.objects().where(ServiceRequest.id == request_id).first()
    assert row.subscriber == s.id and row.kind == kind and row.status == "new"
    page = await client.get(response.headers["location"])
    assert page.status_code == 200 and f"Заявка {row.number} принята" in page.text
    listing = await client.get("/cabinet/requests")
    assert row.number in listing.text


async def test_tariff_change_form_shows_fee_and_start_month(client):
    await make_tariff("Быстрый", fee=99900)
    await make_tariff("Архивный", fee=1000, active=False)
    s = await logged_in(client)
    page = await client.get("/cabinet/requests/new?kind=tariff_change")
    assert "Быстрый" in page.text and "999,00" in page.text and "Архивный" not in page.text
    start = next_period_start(TODAY)
    from web.formatting import date_ru

    assert date_ru(start) in page.text
    fast = await ServiceRequest.raw("SELECT id FROM tariff WHERE name = 'Быстрый'")
    response = await post_form(client, "/cabinet/requests/new?kind=tariff_change",
                               {"tariff_id": str(fast[0]["id"])})
    assert response.status_code == 303
    detail = await client.get(response.headers["location"])
    assert "«Быстрый»" in detail.text and "999,00" in detail.text
    again = await client.get("/cabinet/requests/new?kind=tariff_change")
    assert "уже есть открытая заявка" in again.text and 'type="radio"' not in again.text
    second = await post_form(client, "/cabinet/requests/new?kind=tariff_change",
                             {"tariff_id": str(fast[0]["id"])})
    assert second.status_code == 400 and "уже есть открытая заявка" in second.text
    assert await ServiceRequest.count().where(ServiceRequest.subscriber == s.id) == 1


@pytest.mark.parametrize("kind,data,message", [
    ("repair", {"text": "без темы"}, "Выберите вариант"),
    ("termination", {"topic": "moving", "desired_date": "31.02.2026", "confirm": "yes"},
     "Дата указана неверно"),
    ("termination", {"topic": "moving", "desired_date": (TODAY + dt.timedelta(days=1)).isoformat()},
     "Подтвердите"),
    ("tariff_change", {"tariff_id": "abc"}, "Выберите тариф из списка"),
    ("tariff_change", {"tariff_id": "999999"}, "недоступен"),
    ("question", {"text": "   "}, "Напишите ваш вопрос"),
])
async def test_bad_input_gets_a_russian_message_and_changes_nothing(client, kind, data, message):
    await logged_in(client)
    before = await row_counts()
    response = await post_form(client, f"/cabinet/requests/new?kind={kind}", data)
    assert response.status_code == 400 and message in response.text
    assert await row_counts() == before


async def test_unknown_kind_is_not_found(client):
    await logged_in(client)
    assert (await client.get("/cabinet/requests/new?kind=connection")).status_code == 404
    assert (await client.get("/cabinet/requests/new")).status_code == 404


async def test_timeline_shows_replies_but_never_internal_notes(client):
    s = await logged_in(client)
    clerk = await staff_actor()
    request = await filed(s.id, "repair", now=utcnow())
    await reply(request.id, "Мастер придёт в четверг", actor=clerk)
    await reply(request.id, "СЕКРЕТНАЯ заметка: проверить долг", actor=clerk, internal=True)
    page = await client.get(f"/cabinet/requests/{request.id}")
    assert "Мастер придёт в четверг" in page.text
    assert "СЕКРЕТНАЯ" not in page.text and "clerk" not in page.text
    sent = await post_form(client, f"/cabinet/requests/{request.id}/message",
                           {"message": "Буду дома после 17:00"},
                           form_page=f"/cabinet/requests/{request.id}")
    assert sent.status_code == 303
    assert "Буду дома после 17:00" in (await client.get(f"/cabinet/requests/{request.id}")).text
    empty = await post_form(client, f"/cabinet/requests/{request.id}/message", {"message": " "},
                            form_page=f"/cabinet/requests/{request.id}")
    assert empty.status_code == 400 and "Напишите сообщение" in empty.text


async def test_cancel_while_new_only(client):
    s = await logged_in(client)
    clerk = await staff_actor()
    first = await filed(s.id, "question", now=utcnow())
    second = await filed(s.id, "question", now=utcnow())
    page = await client.get(f"/cabinet/requests/{first.id}")
    assert "Отменить заявку" in page.text
    response = await post_form(client, f"/cabinet/requests/{first.id}/cancel", {},
                               form_page=f"/cabinet/requests/{first.id}")
    assert response.status_code == 303
    assert "Отменена абонентом" in (await client.get(f"/cabinet/requests/{first.id}")).text
    from tables.requests.queue import take_request

    await take_request(second.id, actor=clerk)
    assert "Отменить заявку" not in (await client.get(f"/cabinet/requests/{second.id}")).text
    refused = await post_form(client, f"/cabinet/requests/{second.id}/cancel", {},
                              form_page=f"/cabinet/requests/{second.id}")
    assert refused.status_code == 409 and "уже в работе" in refused.text
    assert (await ServiceRequest.objects().where(ServiceRequest.id == second.id).first()
            ).status == "in_progress"


def _request_routes(app) -> list[tuple[str, str]]:
    """Every (method, path) of the cabinet that takes a request id."""
    return sorted((method, route.path) for route in app.routes
                  if "{request_id:int}" in route.path
                  for method in getattr(route, "methods", set()) if method in ("GET", "POST"))


async def test_another_subscribers_request_is_invisible_and_untouchable(client, app):
    owner = await make_subscriber()
    request = await filed(owner.id, "termination", now=utcnow())
    clerk = await staff_actor()
    await complete_termination(request.id, actor=clerk)
    mine = await filed((await logged_in(client)).id, "repair", now=utcnow())
    other_open = await filed((await make_subscriber()).id, "repair", now=utcnow())
    routes = _request_routes(app)
    assert len(routes) >= 4, routes  # detail, statement, message, cancel and any new one
    before = await row_counts()
    for target in (request.id, other_open.id, 999999):
        for method, path in routes:
            url = path.replace("{request_id:int}", str(target))
            if method == "GET":
                response = await client.get(url)
            else:
                response = await post_form(client, url, {"message": "чужое"},
                                           form_page="/cabinet/requests")
            assert response.status_code == 404, (method, url)
    own = await client.get(f"/cabinet/requests/{mine.id}")
    assert own.status_code == 200
    listing = await client.get("/cabinet/requests")
    assert mine.number in listing.text and request.number not in listing.text
    assert other_open.number not in listing.text
    assert await row_counts() == before


async def test_terminated_contract_reads_its_final_statement_but_files_nothing(client):
    s = await logged_in(client)
    await post_entry(s.id, -75000, EntryKind.CHARGE, f"charge:{s.id}:2026-10", period="2026-10")
    await post_entry(s.id, 80000, EntryKind.PAYMENT, "pay-term")
    request = await filed(s.id, "termination", now=utcnow(),
                          desired_date=TODAY + dt.timedelta(days=2))
    question = await filed(s.id, "question", now=utcnow())
    assert (await client.get(f"/cabinet/requests/{request.id}/statement")).status_code == 404
    clerk = await staff_actor()
    await complete_termination(request.id, actor=clerk)
    # Scheduled two days ahead; the daily job ends the contract when the day comes.
    assert await apply_due_terminations(now=utcnow() + dt.timedelta(days=2)) == 1
    page = await client.get(f"/cabinet/requests/{request.id}")
    assert "Выполнена" in page.text and "Итоговая выписка" in page.text
    statement = await client.get(f"/cabinet/requests/{request.id}/statement")
    assert statement.status_code == 200
    assert "Остаток к возврату" in statement.text and "50,00" in statement.text
    assert "октябрь 2026" in statement.text
    listing = await client.get("/cabinet/requests")
    assert listing.status_code == 200 and "новые заявки недоступны" in listing.text
    assert (await client.get("/cabinet/requests/new?kind=question")).status_code == 403
    before = await row_counts()
    refused = await post_form(client, f"/cabinet/requests/{question.id}/message",
                              {"message": "ещё вопрос"}, form_page="/cabinet/requests")
    assert refused.status_code == 403 and "только просмотр" in refused.text
    assert await row_counts() == before


async def test_converted_applicant_logs_in_with_the_one_time_password(client):
    tariff = await make_tariff()
    clerk = await staff_actor()
    request = await application(tariff_id=tariff.id, now=utcnow())
    subscriber, one_time = await convert_application(request.id, actor=clerk)
    response = await cabinet_login(client, subscriber.contract_number, one_time)
    assert response.status_code == 303 and response.headers["location"] == "/cabinet/activate"
    blocked = await client.get("/cabinet/requests")
    assert blocked.status_code == 303 and blocked.headers["location"] == "/cabinet/activate"
    assert await RequestEvent.count() == 2


async def test_tariff_change_form_shows_the_fee_with_the_rented_router(client):
    from tables.subscribers import Subscriber
    from tables.tariffs import Tariff

    fast = await make_tariff("Быстрый", fee=99900)
    await Tariff.update({Tariff.router_fee: 15000}).where(Tariff.id == fast.id)
    s = await logged_in(client)
    await Subscriber.update({Subscriber.router_rented: True}).where(Subscriber.id == s.id)
    page = await client.get("/cabinet/requests/new?kind=tariff_change")
    assert "1 149,00" in page.text.replace("\xa0", " ") and "с арендой роутера" in page.text


async def test_scheduled_termination_keeps_the_cabinet_working_until_the_date(client):
    s = await logged_in(client)
    day = TODAY + dt.timedelta(days=5)
    request = await filed(s.id, "termination", now=utcnow(), desired_date=day)
    await complete_termination(request.id, actor=await staff_actor())
    page = await client.get("/cabinet/")
    assert page.status_code == 200
    assert (f"Договор будет расторгнут с {day:%d.%m.%Y}.</strong> "
            "До этой даты услуги предоставляются.") in page.text
    assert "только для просмотра" not in page.text
    # Full use: a new question is filed, a message is written.
    filed_question = await post_form(client, "/cabinet/requests/new?kind=question",
                                     {"text": "Можно ли забрать роутер?"})
    assert filed_question.status_code == 303, filed_question.text
    question_id = _id_from(filed_question.headers["location"])
    sent = await post_form(client, f"/cabinet/requests/{question_id}/message",
                           {"message": "Уточняю вопрос"}, form_page=f"/cabinet/requests/{question_id}")
    assert sent.status_code == 303
    # A second termination is refused with the date, on the list, the form and a forged POST.
    listing = await client.get("/cabinet/requests")
    assert f"договор будет расторгнут с {day:%d.%m.%Y}" in listing.text
    assert "/cabinet/requests/new?kind=termination" not in listing.text
    form = await client.get("/cabinet/requests/new?kind=termination")
    assert form.status_code == 200 and "повторная заявка на расторжение не нужна" in form.text
    before = await row_counts()
    forged = await post_form(client, "/cabinet/requests/new?kind=termination",
                             {"topic": "moving", "desired_date": day.isoformat(), "confirm": "yes"},
                             form_page="/cabinet/requests/new?kind=question")
    assert forged.status_code == 400 and "повторная заявка на расторжение не нужна" in forged.text
    assert await row_counts() == before

    # After the date: today's terminated behaviour.
    assert await apply_due_terminations(now=utcnow() + dt.timedelta(days=5)) == 1
    page = await client.get("/cabinet/")
    assert "Личный кабинет доступен только для просмотра" in page.text
    assert "будет расторгнут" not in page.text
    refused = await post_form(client, "/cabinet/requests/new?kind=question",
                              {"text": "Ещё вопрос"}, form_page="/cabinet/requests")
    assert refused.status_code == 403
