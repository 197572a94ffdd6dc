"""The public connection application: validation, spam limits, the confirmation page."""

from __future__ import annotations

import re

import pytest

from cabinet.connect import sign_number
from cabinet.limits import PUBLIC_FORM_PER_IP
from tables.addresses import Town
from tables.requests.queue import ServiceRequest
from tests.support.factories import make_tariff
from tests.support.helpers import row_counts
from tests.support.request_factories import post_form


async def _valid(phone: str = "8 (913) 222-33-44") -> dict:
    town = await Town.objects().get_or_create(Town.name == "Новокузнецк")
    return {"name": "Иванова Мария", "phone": phone, "town_id": str(town.id),
            "street": "проспект Бардина", "house": "12", "apartment": "40",
            "contact_time": "после 18:00", "consent": "yes"}


async def test_form_preselects_the_tariff_from_the_home_page(client):
    tariff = await make_tariff("Супер", fee=59900)
    await Town.objects().get_or_create(Town.name == "Осинники")
    page = await client.get(f"/connect?tariff={tariff.id}")
    assert page.status_code == 200
    assert f'<option value="{tariff.id}" selected>Супер' in page.text
    assert "Осинники" in page.text and 'name="website"' in page.text
    assert (await client.get("/connect?tariff=abc")).status_code == 200


async def test_application_is_stored_and_the_number_shown(client):
    tariff = await make_tariff()
    response = await post_form(client, "/connect", await _valid() | {"tariff_id": str(tariff.id)})
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert re.fullmatch(r"/connect/done/Z-000001\.[0-9a-f]{24}", location)
    done = await client.get(location)
    assert done.status_code == 200 and "Номер заявки: Z-000001" in done.text
    assert "Иванова" not in done.text and "Бардина" not in done.text
    row = await ServiceRequest.objects().first()
    assert row.kind == "connection" and row.applicant_phone == "+79132223344"
    assert row.requested_tariff == tariff.id and row.subscriber is None
    assert row.address_text == "Новокузнецк, проспект Бардина, д. 12, кв. 40"


@pytest.mark.parametrize("token", [
    "Z-000001", "Z-000001.0000", "Z-000002." + "0" * 24, "../../etc", "Z-1." + "a" * 24,
])
async def test_confirmation_page_needs_a_valid_signature(client, token):
    assert (await client.get(f"/connect/done/{token}")).status_code == 404


async def test_a_signature_is_only_valid_for_its_own_number(client):
    token = sign_number("Z-000005")
    assert (await client.get(f"/connect/done/{token}")).status_code == 200
    forged = "Z-000006" + token[len("Z-000005"):]
    assert (await client.get(f"/connect/done/{forged}")).status_code == 404


@pytest.mark.parametrize("field,value,message", [
    ("phone", "12345", "номер телефона с кодом"),
    ("phone", "+1 202 555 0100", "номер телефона с кодом"),
    ("name", "", "Укажите имя"),
    ("town_id", "", "Выберите город"),
    ("town_id", "x", "Выберите значение из списка"),
    ("street", "", "Укажите улицу"),
    ("house", "", "Укажите номер дома"),
    ("consent", "", "согласие на обработку персональных данных"),
    ("tariff_id", "999999", "недоступен"),
])
async def test_bad_application_gets_a_russian_message(client, field, value, message):
    data = await _valid() | {field: value}
    before = await row_counts()
    response = await post_form(client, "/connect", data)
    assert response.status_code == 400 and message in response.text
    assert await row_counts() == before
    # What was typed stays in the form.
    if field != "name":
        assert "Иванова Мария" in response.text


async def test_honeypot_stores_nothing_and_looks_like_success(client):
    data = await _valid() | {"website": "http://spam"}
    before = await row_counts()
    response = await post_form(client, "/connect", data)
    assert response.status_code == 200 and "Заявка отправлена" in response.text
    assert "Номер заявки" not in response.text
    assert await row_counts() == before


async def test_per_ip_limit_on_applications(client):
    for n in range(PUBLIC_FORM_PER_IP.max_hits):
        ok = await post_form(client, "/connect", await _valid(phone=f"+7913000000{n}"))
        assert ok.status_code == 303, ok.text
    refused = await post_form(client, "/connect", await _valid(phone="+79130000099"))
    assert refused.status_code == 429 and "слишком много заявок" in refused.text
    assert await ServiceRequest.count() == PUBLIC_FORM_PER_IP.max_hits


async def test_one_open_application_per_phone(client):
    assert (await post_form(client, "/connect", await _valid())).status_code == 303
    again = await post_form(client, "/connect", await _valid(phone="+7 913 222 33 44"))
    assert again.status_code == 400 and "уже подана заявка" in again.text
    assert await ServiceRequest.count() == 1
