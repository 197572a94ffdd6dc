"""The staff pages at /office/: search, the subscriber card, actions shown before they are done."""

from __future__ import annotations

import asyncio
import datetime as dt
import re

import httpx
import pytest

from tables.audit import Actor, AuditEntry
from tables.billing.charge_run import BillingRun
from tables.card import search_subscribers
from tables.ledger import EntryKind, LedgerEntry, ledger_sum, post_entry
from tables.month import Month
from tables.payments.office import book_office_payment
from tables.payments.payment import Payment
from tables.requests.queue import ServiceRequest
from tables.subscribers import Subscriber, SubscriberStatus
from tests.support.factories import make_address, make_subscriber
from tests.support.helpers import admin_login, csrf_from, make_staff


async def office(client: httpx.AsyncClient, role: str = "administrator", name: str = "clerk") -> None:
    await make_staff(name, role=role)
    await admin_login(client, name)


async def post_form(client: httpx.AsyncClient, page: str, url: str, data: dict) -> httpx.Response:
    """Submit a form the way the browser does: with the page's CSRF token."""
    html = (await client.get(page)).text
    return await client.post(url, data={**data, "_csrf_token": csrf_from(html)})


async def smirnov() -> Subscriber:
    return await make_subscriber(full_name="Смирнов Дмитрий Иванович", phone="+79135551234",
                                 address=await make_address(street="улица Ленина", house="10",
                                                            apartment="5"))


async def test_search_finds_by_number_phone_surname_and_address_from_partial_cyrillic():
    s = await smirnov()
    other = await make_subscriber(full_name="Иванова Мария Петровна", phone="+79130000000")
    for query in (s.contract_number, s.contract_number[-3:], "8 913 555-12-34", "5551234", "смирн",
                  "СМИРНОВ", "мирнов дмит", "ленина 10 5", "Ленина, 10", "ЛЕНИН"):
        found = [r["contract_number"] for r in await search_subscribers(query)]
        assert found == [s.contract_number], query
    assert [r["contract_number"] for r in await search_subscribers("ивановА")] == [other.contract_number]
    assert await search_subscribers("ленина 11") == []
    assert await search_subscribers("%") == [] and await search_subscribers("  ") == []


async def test_office_pages_need_a_staff_login(client):
    s = await smirnov()
    for path in ("/office/", f"/office/subscribers/{s.contract_number}", "/office/charge"):
        response = await client.get(path)
        assert response.status_code == 401 and "Нужен вход сотрудника" in response.text
        assert s.full_name not in response.text


async def test_card_shows_the_contract_and_only_the_actions_of_the_role(client):
    s = await smirnov()
    await post_entry(s.id, -75000, EntryKind.CHARGE, "charge-card", period=Month.current().iso)
    await office(client, "cashier", "kassa")
    page = await client.get("/office/search", params={"q": "смирнов"}, follow_redirects=True)
    assert page.status_code == 200
    text = page.text
    assert "Смирнов Дмитрий Иванович" in text and "+79135551234" in text and "ул" in text.lower()
    assert "−750,00" in text or "-750,00" in text
    assert "Принять оплату" in text and "Корректировка баланса" in text
    assert "Расторгнуть договор" not in text and "Сбросить пароль" not in text
    assert "subscriber.created" not in text  # the history reads in Russian


async def test_operator_is_not_offered_money_and_is_refused_by_the_server(client):
    s = await smirnov()
    await office(client, "operator", "oper")
    card = await client.get(f"/office/subscribers/{s.contract_number}")
    assert "Принять оплату" not in card.text and "Расторгнуть договор" in card.text
    refused = await post_form(client, f"/office/subscribers/{s.contract_number}",
                              f"/office/subscribers/{s.contract_number}/payment/confirm",
                              {"amount": "140050"})
    assert refused.status_code == 403 and "Вашей роли это действие недоступно" in refused.text
    assert await Payment.count() == 0


async def test_cash_payment_is_shown_then_confirmed_and_ends_on_a_receipt(client):
    s = await smirnov()
    await office(client, "cashier", "kassa")
    page = f"/office/subscribers/{s.contract_number}/payment"
    confirm = await post_form(client, page, page, {"amount": "1 400,50", "period": ""})
    assert confirm.status_code == 200
    assert f"договор {s.contract_number}, Смирнов Д. И., +1 400,50 ₽" in confirm.text
    assert await Payment.count() == 0 and await LedgerEntry.count() == 0
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', confirm.text))
    done = await client.post(f"{page}/confirm", data={**hidden, "_csrf_token": csrf_from(confirm.text)})
    assert done.status_code in (302, 303)
    payment = await Payment.objects().first()
    assert done.headers["location"] == f"/office/receipts/{payment.id}"
    assert (payment.amount, payment.channel, payment.created_by) == (140050, "office", "kassa")
    receipt = await client.get(done.headers["location"])
    assert "Квитанция об оплате" in receipt.text and "1\u00a0400,50" in receipt.text
    audit = await AuditEntry.objects().where(AuditEntry.action == "payment.office_booked").first()
    assert audit.actor_name == "kassa"


async def test_a_confirmation_sent_again_books_the_cash_payment_once(client):
    """A double click on «Принять оплату», a resent form and the same form sent in parallel all
    end on the one receipt; a new confirmation page books a new payment."""
    s = await smirnov()
    await office(client, "cashier", "kassa")
    page = f"/office/subscribers/{s.contract_number}/payment"
    confirm = await post_form(client, page, page, {"amount": "500", "period": ""})
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', confirm.text))
    form = {**hidden, "_csrf_token": csrf_from(confirm.text)}
    answers = await asyncio.gather(*(client.post(f"{page}/confirm", data=form) for _ in range(6)))
    answers.append(await client.post(f"{page}/confirm", data=form))
    assert {a.status_code for a in answers} == {302}
    payment = await Payment.objects().first()
    assert {a.headers["location"] for a in answers} == {f"/office/receipts/{payment.id}"}
    assert await Payment.count() == 1 and await LedgerEntry.count() == 1
    assert (await Subscriber.objects().get(Subscriber.id == s.id)).balance == 50000
    again = await post_form(client, page, page, {"amount": "500", "period": ""})
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', again.text))
    await client.post(f"{page}/confirm", data={**hidden, "_csrf_token": csrf_from(again.text)})
    assert await Payment.count() == 2 and await ledger_sum(s.id) == 100000


async def test_the_same_confirmation_key_books_once_under_concurrent_calls():
    s = await smirnov()
    actor = Actor(name="kassa")
    results = await asyncio.gather(*(book_office_payment(s.id, 70000, actor=actor, key="k" * 32)
                                     for _ in range(8)))
    assert len({p.id for p in results}) == 1
    assert await Payment.count() == 1 and await ledger_sum(s.id) == 70000
    other = await make_subscriber(full_name="Иванова Мария Петровна")
    with pytest.raises(ValueError, match="уже использована"):
        await book_office_payment(other.id, 70000, actor=actor, key="k" * 32)


@pytest.mark.parametrize("amount, message", [("", "Укажите сумму"), ("12,345", "двух знаков"),
                                             ("abc", "")])
async def test_a_bad_amount_gets_a_russian_message_and_nothing_is_booked(client, amount, message):
    s = await smirnov()
    await office(client)
    page = f"/office/subscribers/{s.contract_number}/payment"
    response = await post_form(client, page, page, {"amount": amount})
    assert response.status_code == 422
    error = re.search(r'id="form-error">([^<]+)<', response.text)[1]
    assert message in error and re.search("[а-я]", error) and not re.search("[a-z]", error)
    assert await Payment.count() == 0


async def test_adjustment_confirmation_shows_who_and_how_much(client):
    s = await smirnov()
    await office(client, "cashier", "kassa")
    page = f"/office/subscribers/{s.contract_number}/adjustment"
    confirm = await post_form(client, page, page, {"amount": "-150.5", "reason": "ошибка кассы"})
    assert f"договор {s.contract_number}, Смирнов Д. И., -150,50 ₽" in confirm.text
    assert await LedgerEntry.count() == 0
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', confirm.text))
    done = await client.post(f"{page}/confirm", data={**hidden, "_csrf_token": csrf_from(confirm.text)})
    assert done.status_code in (302, 303)
    assert (await Subscriber.select(Subscriber.balance).where(Subscriber.id == s.id).first())[
        "balance"] == -15050


async def test_termination_preview_writes_nothing_then_terminates(client):
    s = await smirnov()
    await post_entry(s.id, 100000, EntryKind.PAYMENT, "pay-term")
    await office(client, "operator", "oper")
    page = f"/office/subscribers/{s.contract_number}/terminate"
    before = (await ServiceRequest.count(), await AuditEntry.count(), await LedgerEntry.count())
    today = dt.date.today().isoformat()
    confirm = await post_form(client, page, page, {"terminated_on": today, "reason": "moving"})
    assert confirm.status_code == 200, confirm.text
    assert f"договор {s.contract_number}, Смирнов Д. И., расторжение с" in confirm.text
    assert (await ServiceRequest.count(), await AuditEntry.count(), await LedgerEntry.count()) == before
    assert (await Subscriber.select(Subscriber.status).where(Subscriber.id == s.id).first())[
        "status"] == SubscriberStatus.ACTIVE
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', confirm.text))
    done = await client.post(f"{page}/confirm", data={**hidden, "_csrf_token": csrf_from(confirm.text)})
    assert done.status_code in (302, 303), done.text
    row = await Subscriber.select(Subscriber.status, Subscriber.terminated_on).where(
        Subscriber.id == s.id).first()
    assert row["status"] == SubscriberStatus.TERMINATED
    assert await ServiceRequest.count() == 1


async def test_charge_page_refuses_a_future_month_and_previews_before_running(client):
    await make_subscriber(fee=140050)
    await office(client)
    future = Month.current().next.iso
    refused = await post_form(client, "/office/charge", "/office/charge", {"period": future})
    assert refused.status_code == 422 and f"Период {future} ещё не наступил" in refused.text
    refused = await post_form(client, "/office/charge", "/office/charge/confirm", {"period": future})
    assert refused.status_code == 422 and await BillingRun.count() == 0
    preview = await post_form(client, "/office/charge", "/office/charge",
                              {"period": Month.current().iso})
    assert "договоров — 1" in preview.text and "1\u00a0400,50" in preview.text
    assert await LedgerEntry.count() == 0 and await BillingRun.count() == 0
    done = await client.post("/office/charge/confirm", data={
        "period": Month.current().iso, "_csrf_token": csrf_from(preview.text)})
    assert done.status_code == 200 and "выполнено: договоров — 1" in done.text
    assert (await BillingRun.objects().first()).started_by == "clerk"


async def test_charge_is_not_offered_to_a_cashier(client):
    await office(client, "cashier", "kassa")
    assert "/office/charge" not in (await client.get("/office/")).text
    assert (await client.get("/office/charge")).status_code == 403


async def test_landing_page_counts_today(client):
    s = await smirnov()
    await office(client, "cashier", "kassa")
    page = f"/office/subscribers/{s.contract_number}/payment"
    confirm = await post_form(client, page, page, {"amount": "500"})
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', confirm.text))
    await client.post(f"{page}/confirm", data={**hidden, "_csrf_token": csrf_from(confirm.text)})
    await make_subscriber(full_name="Должников Олег Олегович")
    debtor = (await Subscriber.select(Subscriber.id).order_by(Subscriber.id, ascending=False).first())["id"]
    await post_entry(debtor, -1000, EntryKind.ADJUSTMENT, "debt-1")
    home = await client.get("/office/")
    assert re.search(r'id="today-payments">1 на 500,00', home.text)
    assert re.search(r'id="today-debtors">1<', home.text)


async def test_new_contract_takes_address_and_tariff_by_search_not_by_id(client):
    from tests.support.factories import make_tariff

    tariff = await make_tariff(name="Интернет 300", fee=79000)
    await make_tariff(name="Архивный", fee=1000, active=False)
    address = await make_address(street="улица Ленина", house="12", apartment="7")
    await office(client, "operator", "oper")
    page = "/office/contracts/new"
    form = await client.get(page)
    assert "Интернет 300" in form.text and "Архивный" not in form.text and "ID" not in form.text
    fields = {"full_name": "Орлова Анна Петровна", "address_q": "ЛЕНИНА 12 7", "tariff_id": str(tariff.id),
              "phone": "8 (913) 700-00-01"}
    found = await post_form(client, page, page, {**fields, "step": "find"})
    assert "Новокузнецк, улица Ленина, д. 12, кв. 7" in found.text
    assert f'value="{address.id}" checked' in found.text
    # The browser sends the chosen (here: the only, preselected) address.
    confirm = await post_form(client, page, page, {**fields, "address_id": str(address.id), "step": "check"})
    assert confirm.status_code == 200
    assert ("Орлова Анна Петровна, Новокузнецк, улица Ленина, д. 12, кв. 7, тариф «Интернет 300»"
            in confirm.text)
    no_address = await post_form(client, page, page, {**fields, "step": "check"})
    assert no_address.status_code == 422 and "Найдите адрес и выберите его из списка" in no_address.text
    assert await Subscriber.count() == 0
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', confirm.text))
    assert hidden["address_id"] == str(address.id)
    done = await client.post(f"{page}/confirm", data={**hidden, "_csrf_token": csrf_from(confirm.text)})
    assert done.status_code == 200 and "одноразовый пароль" in done.text
    row = await Subscriber.objects().first()
    assert (row.full_name, row.address, row.tariff, row.phone) == (
        "Орлова Анна Петровна", address.id, tariff.id, "+79137000001")
    assert row.contract_number in done.text and row.must_change_password


async def test_card_shows_messages_that_did_not_reach_the_subscriber(client):
    from tables.notifications import Notification, notify_subscriber

    s = await make_subscriber(full_name="Кузнецов Олег", phone="+73843712345", email="")
    await notify_subscriber(s.id, topic="payment.received", text="Платёж зачислен", event_key="c:1")
    await Notification.insert(Notification(
        channel="sms", recipient="+79130000000", subscriber=s.id, body="Centra: старое", status="failed",
        last_error="207: На этот номер нельзя отправлять сообщения", created_at=dt.datetime.now(dt.UTC)))
    await Notification.insert(Notification(
        channel="sms", recipient="+79130000000", subscriber=s.id, body="Centra: ушло", status="sent",
        created_at=dt.datetime.now(dt.UTC)))
    await office(client, "operator", "op")
    text = (await client.get(f"/office/subscribers/{s.contract_number}")).text
    assert "Недоставленные сообщения" in text
    assert "Пропущено: некуда отправить" in text and "не мобильный" in text
    assert "На этот номер нельзя отправлять сообщения" in text and "Не отправлено" in text
    assert "Centra: ушло" not in text
