"""Tariff change without a clerk, with the router rent (issue 29, items 4-5): the cabinet books
the change in the billing chain, the fee rule and the charge run follow it, and it can be
cancelled before it applies."""

from __future__ import annotations

import datetime as dt

from tables.audit import SYSTEM, AuditEntry, contract_history
from tables.billing.charge_run import run_charges
from tables.billing.fee import monthly_fee
from tables.billing.tariff_changes import TariffChange, schedule_tariff_change
from tables.calendar import LOCAL_TZ, local_date, utcnow
from tables.ledger import LedgerEntry
from tables.month import Month
from tables.subscribers import Subscriber
from tests.support.factories import make_subscriber, make_tariff, post_at
from tests.support.helpers import csrf_from, sign_in


async def _setup(client, *, router_rented: bool = False):
    current = await make_tariff("Домашний", fee=75000, router_option=True, router_fee=10000)
    cheaper = await make_tariff("Лёгкий", fee=50000, router_option=True, router_fee=15000)
    tv_only = await make_tariff("Только ТВ", fee=30000)
    s = await make_subscriber(tariff=current, router_rented=router_rented)
    await post_at(s.id, 200000, utcnow() - dt.timedelta(minutes=1))
    await sign_in(client, s.id)
    return s, current, cheaper, tv_only


async def _post(client, path: str, data: dict):
    page = await client.get("/cabinet/tariff/")
    return await client.post(path, data={**data, "_csrf_token": csrf_from(page.text)})


async def test_preview_books_nothing_and_confirm_books_from_the_first(client):
    s, _current, cheaper, _ = await _setup(client)
    page = await client.get("/cabinet/tariff/")
    text = " ".join(page.text.split())
    assert page.status_code == 200 and "Лёгкий — 500,00 ₽ в месяц; с роутером 650,00 ₽" in text
    preview = await _post(client, "/cabinet/tariff/preview", {"tariff_id": str(cheaper.id), "router": "yes"})
    first = Month.of(local_date(utcnow())).next.first_day
    assert preview.status_code == 200
    assert "650,00 ₽ в месяц (сейчас 750,00 ₽)" in " ".join(preview.text.split())
    assert "денег на счёте хватит до" in preview.text
    assert await TariffChange.count() == 0
    done = await _post(client, "/cabinet/tariff/confirm", {"tariff_id": str(cheaper.id), "router": "yes"})
    assert done.status_code == 303 and done.headers["location"] == "/cabinet/tariff/?booked=1"
    [change] = await TariffChange.objects()
    assert (change.tariff, change.effective_from, change.router_rented) == (cheaper.id, first, True)
    fee = await monthly_fee(await Subscriber.objects().get(Subscriber.id == s.id), today=local_date(utcnow()))
    assert (fee.current, fee.next) == (75000, 65000)  # the one rule sees the router it books
    # Staff see it in the contract's history (the office card reads it).
    history = await contract_history(s.id)
    assert [h["action"] for h in history][:1] == ["tariff.change_scheduled"]
    assert "Личный кабинет" in history[0]["message"]
    page = await client.get("/cabinet/tariff/?booked=1")
    assert "Смена тарифа запланирована" in page.text and "Отменить смену тарифа" in page.text
    # Applied on the 1st: the contract rents the router, and the charge is tariff + rent.
    new_year = dt.datetime.combine(first, dt.time(0, 5), tzinfo=LOCAL_TZ)
    await run_charges(Month.of(first), actor=SYSTEM, now=new_year)
    row = await Subscriber.objects().get(Subscriber.id == s.id)
    assert (row.tariff, row.router_rented) == (cheaper.id, True)
    charge = await LedgerEntry.objects().where(
        (LedgerEntry.subscriber == s.id) & (LedgerEntry.kind == "charge")).first()
    assert charge.amount == -65000


async def test_cancel_before_it_applies(client):
    s, _current, cheaper, _ = await _setup(client, router_rented=True)
    await _post(client, "/cabinet/tariff/confirm", {"tariff_id": str(cheaper.id), "router": ""})
    [change] = await TariffChange.objects()
    assert change.router_rented is False  # the router goes back with the change
    fee = await monthly_fee(await Subscriber.objects().get(Subscriber.id == s.id), today=local_date(utcnow()))
    assert (fee.current, fee.next) == (85000, 50000)
    cancelled = await _post(client, "/cabinet/tariff/cancel", {"change_id": str(change.id)})
    assert cancelled.status_code == 303 and cancelled.headers["location"] == "/cabinet/tariff/?cancelled=1"
    assert await TariffChange.count() == 0
    fee = await monthly_fee(await Subscriber.objects().get(Subscriber.id == s.id), today=local_date(utcnow()))
    assert fee.next == 85000
    actions = [r["action"] for r in await AuditEntry.select(AuditEntry.action).where(
        AuditEntry.object_id == str(s.id)).order_by(AuditEntry.id)]
    assert actions[-2:] == ["tariff.change_scheduled", "tariff.change_cancelled"]
    # Nothing left to cancel: a clear refusal, not a 500.
    again = await _post(client, "/cabinet/tariff/cancel", {"change_id": str(change.id)})
    assert again.status_code == 400 and "Отменить можно только" in again.text


async def test_a_change_booked_by_the_office_is_not_cancelled_from_the_cabinet(client):
    s, _current, cheaper, _ = await _setup(client)
    first = Month.of(local_date(utcnow())).next.first_day
    change = await schedule_tariff_change(s.id, cheaper.id, first, SYSTEM)
    page = await client.get("/cabinet/tariff/")
    assert "Смену назначил офис" in page.text and "Отменить смену тарифа" not in page.text
    refused = await _post(client, "/cabinet/tariff/cancel", {"change_id": str(change.id)})
    assert refused.status_code == 400 and await TariffChange.count() == 1


async def test_router_only_where_the_tariff_offers_it(client):
    _s, current, _cheaper, tv_only = await _setup(client)
    refused = await _post(client, "/cabinet/tariff/confirm", {"tariff_id": str(tv_only.id), "router": "yes"})
    assert refused.status_code == 400 and "роутер в аренду не предлагается" in refused.text
    same = await _post(client, "/cabinet/tariff/confirm", {"tariff_id": str(current.id), "router": "yes"})
    assert same.status_code == 400 and "уже действует" in same.text
    for bad in ("", "abc", "999999", "1 OR 1=1"):
        response = await _post(client, "/cabinet/tariff/preview", {"tariff_id": bad})
        assert response.status_code == 400 and "Выберите тариф из списка" in response.text
    assert await TariffChange.count() == 0


async def test_router_chosen_on_the_connection_form_is_rented_and_charged(client):
    from tables.addresses import Town
    from tables.requests.connection import convert_application
    from tables.requests.queue import ServiceRequest

    router_tariff = await make_tariff("Домашний", fee=75000, router_option=True, router_fee=10000)
    tv_only = await make_tariff("Только ТВ", fee=30000)
    town = await Town.objects().get_or_create(Town.name == "Новокузнецк")
    form = await client.get("/connect/")
    text = " ".join(form.text.split())
    assert "С роутером в аренду" in text and "роутер 100,00 ₽ в месяц" in text
    data = {"name": "Иванова Мария", "phone": "8 (913) 222-33-44", "town_id": str(town.id),
            "street": "проспект Бардина", "house": "12", "apartment": "40", "consent": "yes",
            "router": "yes", "_csrf_token": csrf_from(form.text)}
    refused = await client.post("/connect/", data={**data, "tariff_id": str(tv_only.id)})
    assert refused.status_code == 400 and "роутер в аренду не предлагается" in refused.text
    filed = await client.post("/connect/", data={**data, "tariff_id": str(router_tariff.id)})
    assert filed.status_code == 303
    [application] = await ServiceRequest.objects()
    assert application.wants_router is True
    today = local_date(utcnow())
    subscriber, _ = await convert_application(application.id, actor=SYSTEM,
                                              connected_on=Month.of(today).next.first_day)
    assert subscriber.router_rented is True
    fee = await monthly_fee(subscriber, today=today)
    assert fee.next == 85000  # the forecast counts the rent
    first = Month.of(today).next.first_day
    await run_charges(Month.of(first), actor=SYSTEM,
                      now=dt.datetime.combine(first, dt.time(0, 5), tzinfo=LOCAL_TZ))
    charge = await LedgerEntry.objects().where(LedgerEntry.subscriber == subscriber.id).first()
    assert charge.amount == -85000  # and so does the charge run
