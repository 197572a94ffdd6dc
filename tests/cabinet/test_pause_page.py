"""The cabinet's voluntary pause page (issue 29, item 3): book, see the effect, end early; the
refusals are Russian; two parallel requests against a running server book one pause."""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx
import pytest

from tables.billing.pauses import Pause, PauseStatus
from tables.calendar import local_date, utcnow
from tables.ledger import EntryKind, post_entry
from tests.support.factories import make_subscriber, make_tariff
from tests.support.helpers import csrf_from, sign_in
from tests.support.live_server import live_server


async def _paid(client=None):
    s = await make_subscriber(tariff=await make_tariff(fee=75000))
    await post_entry(s.id, 300000, EntryKind.PAYMENT, f"pay-{s.id}")
    if client is not None:
        await sign_in(client, s.id)
    return s


async def _post(client, path: str, data: dict):
    page = await client.get("/cabinet/pause/")
    return await client.post(path, data={**data, "_csrf_token": csrf_from(page.text)})


def _text(response) -> str:
    return " ".join(response.text.split())


async def test_book_see_the_effect_and_cancel(client):
    s = await _paid(client)
    page = await client.get("/cabinet/pause/")
    assert page.status_code == 200 and "от 7 до 90 дней" in _text(page)
    assert "Посчитать и проверить" in page.text
    start = local_date(utcnow()) + dt.timedelta(days=1)
    preview = await _post(client, "/cabinet/pause/preview", {"starts_on": start.isoformat(), "days": "14"})
    text = _text(preview)
    assert preview.status_code == 200 and "Проверьте и подтвердите" in text
    assert f"({14} дн.)" in text and "вместо 750,00 ₽" in text and "денег на счёте хватит до" in text
    assert await Pause.count() == 0  # the preview books nothing
    done = await _post(client, "/cabinet/pause/book", {"starts_on": start.isoformat(), "days": "14"})
    assert done.status_code == 303 and done.headers["location"] == "/cabinet/pause/?done=booked"
    [pause] = await Pause.objects().where(Pause.subscriber == s.id)
    assert (pause.starts_on, pause.ends_on, pause.status) == (
        start, start + dt.timedelta(days=13), PauseStatus.BOOKED)
    page = await client.get("/cabinet/pause/?done=booked")
    text = _text(page)
    assert "Блокировка оформлена." in text and "Блокировка запланирована" in text
    assert "вместо 750,00 ₽" in text and "Отменить блокировку" in text
    cancelled = await _post(client, "/cabinet/pause/end", {})
    assert cancelled.headers["location"] == "/cabinet/pause/?done=cancelled"
    assert (await Pause.objects().first()).status == PauseStatus.CANCELLED


@pytest.mark.parametrize(("fields", "message"), [
    ({"starts_on": "вчера", "days": "7"}, "Укажите дату начала как ДД.ММ.ГГГГ."),
    ({"starts_on": "01.01.2020", "days": "7"}, "Блокировку можно начать не раньше завтрашнего дня"),
    ({"starts_on": "2099-01-01", "days": "7"}, "не дальше чем на год вперёд"),
    ({"days": "7"}, "Укажите дату начала как ДД.ММ.ГГГГ."),
    ({"starts_on": "TOMORROW", "days": "три"}, "Укажите срок блокировки числом дней."),
    ({"starts_on": "TOMORROW", "days": "120"}, "Срок блокировки — от 7 до 90 дней"),
])
async def test_bad_input_gets_a_russian_message(client, fields, message):
    await _paid(client)
    tomorrow = (local_date(utcnow()) + dt.timedelta(days=1)).isoformat()
    fields = {k: v.replace("TOMORROW", tomorrow) for k, v in fields.items()}
    for path in ("/cabinet/pause/preview", "/cabinet/pause/book"):
        response = await _post(client, path, fields)
        assert response.status_code == 400 and message in _text(response)
    assert await Pause.count() == 0


async def test_without_csrf_nothing_is_booked(client):
    await _paid(client)
    response = await client.post("/cabinet/pause/book", data={"starts_on": "2099-01-01", "days": "7"})
    assert response.status_code == 403 and await Pause.count() == 0


@pytest.fixture
def server():
    with live_server({"REDIS_URL": None}) as base:
        yield base


async def test_parallel_requests_against_a_running_server_book_one_pause(server):
    s = await _paid()
    start = (local_date(utcnow()) + dt.timedelta(days=2)).isoformat()
    async with httpx.AsyncClient(base_url=server, timeout=120) as http:
        await sign_in(http, s.id)
        page = await http.get("/cabinet/pause/")
        token = csrf_from(page.text)
        responses = await asyncio.gather(*(
            http.post("/cabinet/pause/book",
                      data={"starts_on": start, "days": str(days), "_csrf_token": token})
            for days in (7, 8, 9, 10)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [303, 400, 400, 400], [r.text[-300:] for r in responses]
    assert all("Уже оформлена блокировка" in _text(r) or "пересекаются" in _text(r)
               for r in responses if r.status_code == 400)
    assert await Pause.count() == 1


async def test_the_dashboard_forecast_counts_a_pause_in_next_month(client):
    from tables.billing.forecast import forecast
    from tables.month import Month
    from web.formatting import rub

    s = await _paid(client)
    today = local_date(utcnow())
    nxt = Month.of(today).next
    plain = forecast(300000, 75000, today)
    await _post(client, "/cabinet/pause/book", {"starts_on": nxt.first_day.isoformat(), "days": "14"})
    reduced = (2 * (nxt.days - 14) * 75000 + nxt.days) // (2 * nxt.days)
    page = _text(await client.get("/cabinet/"))
    amount = " ".join(rub(reduced).split())
    assert f"— {amount} (с учётом блокировки)" in page
    paused = forecast(300000, 75000, today, {nxt: reduced})
    assert paused.next_charge_amount == reduced and paused.months_covered >= plain.months_covered
    # 750 ₽ a month, the first month with the pause costs less: 3000 ₽ still last 4 months; 3750 ₽
    # minus what the pause saves would cover 5 months only with the pause.
    longer = forecast(75000 * 4 + reduced - 1, 75000, today, {nxt: reduced})
    assert longer.months_covered == 4
    assert forecast(75000 * 4 + reduced, 75000, today, {nxt: reduced}).months_covered == 5
    assert s.id
