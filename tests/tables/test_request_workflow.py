"""The request workflow in the domain functions (no HTTP)."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from tables.addresses import Address, Street
from tables.audit import Actor, AuditEntry
from tables.billing.charge_run import run_charges
from tables.billing.tariff_changes import TariffChange
from tables.ledger import EntryKind, LedgerEntry, post_entry
from tables.notifications import Notification
from tables.requests.connection import convert_application
from tables.requests.queue import (
    RequestEvent,
    RequestNotFound,
    ServiceRequest,
    add_subscriber_message,
    cancel_request,
    close_request,
    parse_number,
    public_timeline,
    reply,
    request_id_by_number,
    subscriber_requests,
    take_request,
)
from tables.requests.tariff_change import complete_tariff_change, next_period_start
from tables.requests.termination import apply_due_terminations, complete_termination, final_statement
from tables.subscribers import Subscriber, SubscriberStatus
from tests.support.factories import make_address, make_subscriber, make_tariff
from tests.support.helpers import row_counts
from tests.support.request_factories import MID_NOVEMBER, application, filed, staff_actor

LATER = MID_NOVEMBER + dt.timedelta(hours=3)


async def _row(request_id: int) -> dict:
    return await ServiceRequest.select().where(ServiceRequest.id == request_id).first()


@pytest.mark.parametrize("kind", ["repair", "service", "question"])
async def test_plain_kinds_filed_listed_answered_closed(kind):
    s = await make_subscriber()
    clerk = await staff_actor()
    request = await filed(s.id, kind)
    assert request.number == "Z-000001"
    assert [r["number"] for r in await subscriber_requests(s.id)] == ["Z-000001"]
    row = await _row(request.id)
    assert row["contract_number"] == s.contract_number and row["applicant_phone"] == s.phone
    assert "Новокузнецк" in row["address_text"]

    await take_request(request.id, actor=clerk, now=LATER)
    await reply(request.id, "Мастер придёт завтра с 10 до 12.", actor=clerk, now=LATER)
    await reply(request.id, "Абонент ругался, быть вежливее", actor=clerk, internal=True, now=LATER)
    await close_request(request.id, actor=clerk, done=True, reason="Готово", now=LATER)

    row = await _row(request.id)
    assert row["status"] == "done" and row["assignee"] == clerk.staff_id
    assert row["closed_at"] is not None and row["close_reason"] == "Готово"
    timeline = await public_timeline(request.id)
    messages = [e["message"] for e in timeline]
    assert "Мастер придёт завтра с 10 до 12." in messages
    assert not any("вежливее" in m or "Исполнитель" in m for m in messages)
    assert [e["status_to"] for e in timeline if e["status_to"]] == ["new", "in_progress", "done"]
    assert await RequestEvent.count().where(RequestEvent.internal == True) == 2  # noqa: E712
    staff_events = await RequestEvent.select(RequestEvent.staff).where(
        RequestEvent.author_kind == "staff")
    assert {e["staff"] for e in staff_events} == {clerk.staff_id}
    actions = [r["action"] for r in await AuditEntry.select(AuditEntry.action).where(
        AuditEntry.object_type == "service_request").order_by(AuditEntry.id)]
    assert actions == ["request.filed", "request.assigned", "request.replied", "request.noted",
                       "request.done"]
    topics = [n["topic"] for n in await Notification.select(Notification.topic).order_by(
        Notification.id)]
    assert topics == ["request.taken", "request.replied", "request.done"]


@pytest.mark.parametrize("kind", ["tariff_change", "termination"])
async def test_contract_kinds_can_be_rejected_but_not_plainly_done(kind):
    s = await make_subscriber()
    other = await make_tariff()
    clerk = await staff_actor()
    request = await filed(s.id, kind, tariff_id=other.id) if kind == "tariff_change" else \
        await filed(s.id, kind)
    with pytest.raises(ValueError, match="закрывает действие"):
        await close_request(request.id, actor=clerk, done=True)
    assert (await _row(request.id))["status"] == "new"
    with pytest.raises(ValueError, match="причину"):
        await close_request(request.id, actor=clerk, done=False, reason="  ")
    await close_request(request.id, actor=clerk, done=False, reason="Есть задолженность")
    row = await _row(request.id)
    assert row["status"] == "rejected" and row["close_reason"] == "Есть задолженность"
    assert (await Subscriber.select(Subscriber.status).where(Subscriber.id == s.id).first())[
        "status"] == "active"


async def test_connection_application_filed_answered_rejected():
    clerk = await staff_actor()
    request = await application()
    row = await _row(request.id)
    assert row["kind"] == "connection" and row["applicant_phone"] == "+79135551234"
    assert row["subscriber"] is None and row["address"] is None
    await reply(request.id, "Дом пока не подключён к сети", actor=clerk)
    await close_request(request.id, actor=clerk, done=False, reason="Нет технической возможности")
    assert (await _row(request.id))["status"] == "rejected"
    sms = await Notification.select().order_by(Notification.id)
    # Nothing is sent to a typed number at filing; staff answers go to it.
    assert [n["topic"] for n in sms] == ["request.replied", "request.rejected"]
    assert {n["recipient"] for n in sms} == {"+79135551234"} and sms[0]["channel"] == "sms"


async def test_application_links_an_address_already_in_the_directory():
    address = await make_address("Осинники", "улица Победы", "3", "7")
    request = await application(street="  УЛИЦА   победы ")
    assert (await _row(request.id))["address"] == address.id


async def test_numbers_are_unique_when_filed_concurrently():
    s = await make_subscriber()
    results = await asyncio.gather(*[filed(s.id, "repair") for _ in range(8)])
    numbers = sorted(r.number for r in results)
    assert numbers == [f"Z-{i:06d}" for i in range(1, 9)]
    assert sorted(r["number"] for r in await ServiceRequest.select(ServiceRequest.number)) == numbers


async def test_one_open_termination_and_tariff_change_per_contract():
    s = await make_subscriber()
    new_tariff = await make_tariff()
    first = await filed(s.id, "tariff_change", tariff_id=new_tariff.id)
    with pytest.raises(ValueError, match="уже есть открытая заявка «Смена тарифа» № Z-000001"):
        await filed(s.id, "tariff_change", tariff_id=new_tariff.id)
    termination = await filed(s.id, "termination")
    with pytest.raises(ValueError, match="уже есть открытая заявка «Расторжение договора»"):
        await filed(s.id, "termination")
    await cancel_request(first.id, s.id)
    with pytest.raises(ValueError, match="Открыта заявка на расторжение"):
        await filed(s.id, "tariff_change", tariff_id=new_tariff.id)
    await cancel_request(termination.id, s.id)
    await filed(s.id, "tariff_change", tariff_id=new_tariff.id)
    # Repairs and questions may be many at once.
    await filed(s.id, "repair")
    await filed(s.id, "repair")
    assert await ServiceRequest.count() == 5


async def test_simultaneous_terminations_give_one_request_and_one_clear_error():
    s = await make_subscriber()
    results = await asyncio.gather(*[filed(s.id, "termination") for _ in range(4)],
                                   return_exceptions=True)
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 3 and all(isinstance(e, ValueError) for e in errors), errors
    assert all("уже" in str(e) for e in errors)
    assert await ServiceRequest.count() == 1 and await RequestEvent.count() == 1


async def test_the_schema_itself_refuses_a_second_open_termination():
    s = await make_subscriber()
    request = await filed(s.id, "termination")
    row = await _row(request.id)
    clone = {k: v for k, v in row.items() if k != "id"} | {"number": "Z-999999"}
    with pytest.raises(Exception):  # noqa: B017 - driver-specific IntegrityError
        await ServiceRequest.insert(ServiceRequest(**clone))
    await ServiceRequest.insert(ServiceRequest(**(clone | {"status": "rejected"})))


async def test_one_open_application_per_phone():
    await application(phone="+7 913 555 12 34")
    with pytest.raises(ValueError, match="уже подана заявка"):
        await application(phone="89135551234", street="улица Ленина")
    assert await ServiceRequest.count() == 1


@pytest.mark.parametrize("kind,fields,message", [
    ("repair", {"topic": ""}, "Выберите вариант"),
    ("repair", {"topic": "hack"}, "Выберите вариант"),
    ("repair", {"topic": "other", "text": " "}, "Опишите подробнее"),
    ("repair", {"text": "x" * 2001}, "слишком длинный"),
    ("service", {"topic": "relocation", "text": ""}, "Опишите подробнее"),
    ("service", {"desired_date": dt.date(2026, 11, 14)}, "в прошлом"),
    ("question", {"text": ""}, "Напишите ваш вопрос"),
    ("termination", {"desired_date": None}, "Укажите желаемую дату"),
    ("termination", {"desired_date": dt.date(2026, 11, 1)}, "в прошлом"),
    ("termination", {"desired_date": dt.date(2027, 11, 1)}, "180 дней"),
    ("termination", {"confirmed": False}, "Подтвердите"),
    ("termination", {"topic": "because"}, "Выберите вариант"),
    ("tariff_change", {}, "Выберите новый тариф"),
])
async def test_invalid_requests_are_refused_in_russian(kind, fields, message):
    s = await make_subscriber()
    with pytest.raises(ValueError, match=message):
        await filed(s.id, kind, **fields)
    assert await ServiceRequest.count() == 0


async def test_connection_kind_cannot_be_filed_from_the_cabinet():
    from tables.requests.filing import file_request

    s = await make_subscriber()
    with pytest.raises(ValueError, match="Такой вид заявки"):
        await file_request(s.id, "connection", text="x")


async def test_tariff_change_to_archived_or_same_tariff_is_refused():
    s = await make_subscriber()
    archived = await make_tariff(active=False)
    with pytest.raises(ValueError, match="недоступен"):
        await filed(s.id, "tariff_change", tariff_id=archived.id)
    with pytest.raises(ValueError, match="уже подключён"):
        await filed(s.id, "tariff_change", tariff_id=s.tariff)


async def test_terminated_contract_files_nothing():
    s = await make_subscriber()
    await Subscriber.update({Subscriber.status: SubscriberStatus.TERMINATED}).where(
        Subscriber.id == s.id)
    with pytest.raises(ValueError, match="Договор расторгнут"):
        await filed(s.id, "question")


async def test_subscriber_message_and_cancel_only_on_own_requests():
    owner = await make_subscriber()
    stranger = await make_subscriber()
    request = await filed(owner.id, "repair")
    before = await row_counts()
    with pytest.raises(RequestNotFound):
        await add_subscriber_message(request.id, stranger.id, "чужое")
    with pytest.raises(RequestNotFound):
        await cancel_request(request.id, stranger.id)
    assert await row_counts() == before
    await add_subscriber_message(request.id, owner.id, "Роутер мигает красным")
    assert (await public_timeline(request.id))[-1]["message"] == "Роутер мигает красным"
    await cancel_request(request.id, owner.id)
    assert (await _row(request.id))["status"] == "cancelled"


async def test_cancel_only_while_new():
    s = await make_subscriber()
    clerk = await staff_actor()
    request = await filed(s.id, "repair")
    await take_request(request.id, actor=clerk)
    with pytest.raises(ValueError, match="уже в работе"):
        await cancel_request(request.id, s.id)
    assert (await _row(request.id))["status"] == "in_progress"


async def test_assign_to_another_clerk_and_refuse_inactive_staff():
    s = await make_subscriber()
    clerk = await staff_actor()
    master = await staff_actor("master")
    request = await filed(s.id, "repair")
    await take_request(request.id, actor=clerk, assignee_id=master.staff_id)
    assert (await _row(request.id))["assignee"] == master.staff_id
    with pytest.raises(ValueError, match="уже в работе у этого сотрудника"):
        await take_request(request.id, actor=clerk, assignee_id=master.staff_id)
    with pytest.raises(ValueError, match="Сотрудник не найден"):
        await take_request(request.id, actor=clerk, assignee_id=99999)
    await take_request(request.id, actor=clerk)  # taking it back keeps it in work
    row = await _row(request.id)
    assert row["status"] == "in_progress" and row["assignee"] == clerk.staff_id


STAFF_ACTIONS = {
    "take": lambda rid, actor: take_request(rid, actor=actor),
    "reply": lambda rid, actor: reply(rid, "ещё ответ", actor=actor),
    "note": lambda rid, actor: reply(rid, "заметка", actor=actor, internal=True),
    "close": lambda rid, actor: close_request(rid, actor=actor, done=True),
    "reject": lambda rid, actor: close_request(rid, actor=actor, done=False, reason="нет"),
}


@pytest.mark.parametrize("closing", ["done", "rejected", "cancelled"])
@pytest.mark.parametrize("action", sorted(STAFF_ACTIONS))
async def test_staff_action_on_a_closed_request_changes_nothing(closing, action):
    s = await make_subscriber()
    clerk = await staff_actor()
    request = await filed(s.id, "repair")
    if closing == "cancelled":
        await cancel_request(request.id, s.id)
    else:
        await close_request(request.id, actor=clerk, done=closing == "done", reason="итог")
    before_counts, before_row = await row_counts(), await _row(request.id)
    with pytest.raises(ValueError, match=r"Заявка Z-000001 уже закрыта"):
        await STAFF_ACTIONS[action](request.id, clerk)
    assert await row_counts() == before_counts
    assert await _row(request.id) == before_row


async def test_completing_actions_on_closed_or_wrong_requests_change_nothing():
    s = await make_subscriber()
    new_tariff = await make_tariff()
    clerk = await staff_actor()
    repair = await filed(s.id, "repair")
    change = await filed(s.id, "tariff_change", tariff_id=new_tariff.id)
    await close_request(change.id, actor=clerk, done=False, reason="передумал")
    before = await row_counts()
    with pytest.raises(ValueError, match="уже закрыта"):
        await complete_tariff_change(change.id, actor=clerk)
    with pytest.raises(ValueError, match="это действие к ней не относится"):
        await complete_termination(repair.id, actor=clerk)
    with pytest.raises(ValueError, match="это действие к ней не относится"):
        await convert_application(repair.id, actor=clerk)
    with pytest.raises(RequestNotFound):
        await take_request(424242, actor=clerk)
    assert await row_counts() == before


async def test_tariff_change_completed_mid_month_applies_from_next_period():
    """November is charged at the old fee, December at the new one (real billing runs)."""
    old = await make_tariff(fee=75000)
    new = await make_tariff(fee=55000)
    s = await make_subscriber(tariff=old)
    clerk = await staff_actor()
    request = await filed(s.id, "tariff_change", tariff_id=new.id)
    effective = await complete_tariff_change(request.id, actor=clerk, now=LATER)
    assert effective == dt.date(2026, 12, 1)
    change = await TariffChange.objects().first()
    assert (change.subscriber, change.from_tariff, change.tariff) == (s.id, old.id, new.id)
    assert change.effective_from == dt.date(2026, 12, 1) and change.applied_at is None
    assert change.created_by == "clerk"
    # The current period keeps the old tariff until the billing run applies the change.
    assert (await Subscriber.select(Subscriber.tariff).where(Subscriber.id == s.id).first())[
        "tariff"] == old.id
    row = await _row(request.id)
    assert row["status"] == "done" and "01.12.2026" in row["close_reason"]
    assert "01.12.2026" in (await public_timeline(request.id))[-1]["message"]
    actions = {r["action"] for r in await AuditEntry.select(AuditEntry.action)}
    assert {"tariff.change_scheduled", "request.done"} <= actions
    billing = Actor("billing")
    await run_charges("2026-11", actor=billing, now=LATER)
    await run_charges("2026-12", actor=billing, now=dt.datetime(2026, 12, 1, 3, tzinfo=dt.UTC))
    charges = {r["period"]: r["amount"] for r in await LedgerEntry.select(
        LedgerEntry.period, LedgerEntry.amount).where(LedgerEntry.kind == "charge")}
    assert charges == {"2026-11": -75000, "2026-12": -55000}


@pytest.mark.parametrize("day,expected", [
    (dt.date(2026, 11, 15), dt.date(2026, 12, 1)),
    (dt.date(2026, 12, 31), dt.date(2027, 1, 1)),
    (dt.date(2027, 1, 31), dt.date(2027, 2, 1)),
    (dt.date(2028, 2, 29), dt.date(2028, 3, 1)),
])
def test_next_period_start(day, expected):
    assert next_period_start(day) == expected


async def test_termination_completed_sets_the_date_and_keeps_the_statement_readable():
    """Charged for November in advance, terminated on the 20th: the 10 unused days come
    back at completion, the contract ends when the 20th begins, no later period is charged."""
    s = await make_subscriber()
    await post_entry(s.id, -75000, EntryKind.CHARGE, f"charge:{s.id}:2026-11", period="2026-11")
    await post_entry(s.id, 100000, EntryKind.PAYMENT, "pay-1")
    clerk = await staff_actor()
    request = await filed(s.id, "termination", desired_date=dt.date(2026, 11, 20))
    day = await complete_termination(request.id, actor=clerk, now=LATER)
    assert day == dt.date(2026, 11, 20)
    contract = await Subscriber.objects().where(Subscriber.id == s.id).first()
    # Completed on the 15th for the 20th: scheduled, the contract works until then.
    assert contract.status == "active" and contract.terminated_on == dt.date(2026, 11, 20)
    assert (await _row(request.id))["close_reason"] == (
        "Договор будет расторгнут с 20.11.2026. До этой даты услуги предоставляются.")
    notice = await Notification.objects().where(Notification.topic == "request.done").first()
    assert "будет расторгнут с 20.11.2026" in notice.body and notice.recipient == s.phone
    # 00:00 on 20 November in Novokuznetsk: the daily job ends the contract.
    assert await apply_due_terminations(now=dt.datetime(2026, 11, 19, 17, 0, tzinfo=dt.UTC)) == 1
    contract = await Subscriber.objects().where(Subscriber.id == s.id).first()
    assert contract.status == "terminated" and contract.terminated_on == dt.date(2026, 11, 20)
    statement = await final_statement(s.id)
    # 20 of 30 days used: 50 000 of 75 000 kopecks; 25 000 credited back.
    assert statement["subscriber"]["balance"] == 50000
    assert statement["totals"] == {"charge": -50000, "payment": 100000}
    assert len(statement["entries"]) == 3
    run = await run_charges("2026-12", actor=Actor("billing"),
                            now=dt.datetime(2026, 12, 1, 3, tzinfo=dt.UTC))
    assert run.contracts_charged == 0
    assert await LedgerEntry.count().where(LedgerEntry.period == "2026-12") == 0
    notice = await Notification.objects().where(Notification.topic == "subscriber.terminated").first()
    assert "расторгнут с 20.11.2026" in notice.body and notice.recipient == s.phone
    with pytest.raises(ValueError, match="Договор расторгнут"):
        await filed(s.id, "question")


async def test_termination_completed_on_or_after_the_date_applies_at_once():
    s = await make_subscriber()
    clerk = await staff_actor()
    request = await filed(s.id, "termination", desired_date=dt.date(2026, 11, 20))
    day = await complete_termination(request.id, actor=clerk,
                                     now=dt.datetime(2026, 11, 21, 3, tzinfo=dt.UTC))
    assert day == dt.date(2026, 11, 20)
    contract = await Subscriber.objects().where(Subscriber.id == s.id).first()
    assert contract.status == "terminated" and contract.terminated_on == day
    assert (await _row(request.id))["close_reason"] == "Договор расторгнут с 20.11.2026."
    notice = await Notification.objects().where(Notification.topic == "request.done").first()
    assert "расторгнут с 20.11.2026" in notice.body and "будет" not in notice.body


async def test_termination_date_is_never_before_the_request():
    s = await make_subscriber()
    clerk = await staff_actor()
    request = await filed(s.id, "termination", desired_date=dt.date(2026, 11, 15))
    with pytest.raises(ValueError, match="не может быть раньше даты заявки"):
        await complete_termination(request.id, actor=clerk, terminated_on=dt.date(2026, 11, 1),
                                   now=LATER)
    assert (await Subscriber.select(Subscriber.status).first())["status"] == "active"
    assert (await _row(request.id))["status"] == "new"
    day = await complete_termination(request.id, actor=clerk, terminated_on=dt.date(2026, 11, 16),
                                     now=LATER)
    assert day == dt.date(2026, 11, 16)


async def test_application_converted_into_a_contract_with_a_new_address():
    tariff = await make_tariff()
    existing = await make_subscriber()
    clerk = await staff_actor()
    request = await application(tariff_id=tariff.id, street="улица Революции")
    subscriber, one_time = await convert_application(request.id, actor=clerk, now=LATER)
    assert len(one_time) >= 8
    assert int(subscriber.contract_number) == int(existing.contract_number) + 1
    assert subscriber.must_change_password and subscriber.full_name == "Соколова Анна"
    assert subscriber.phone == "+79135551234" and subscriber.tariff == tariff.id
    address = await Address.objects().where(Address.id == subscriber.address).first()
    street = await Street.objects().where(Street.id == address.street).first()
    assert (street.name, address.house, address.apartment) == ("улица Революции", "3", "7")
    row = await _row(request.id)
    assert row["status"] == "done" and row["converted_subscriber"] == subscriber.id
    assert row["address"] == address.id and row["contract_number"] == subscriber.contract_number
    actions = {r["action"] for r in await AuditEntry.select(AuditEntry.action)}
    assert {"subscriber.created", "request.done"} <= actions
    notice = await Notification.objects().where(Notification.topic == "request.done").first()
    assert subscriber.contract_number in notice.body and one_time not in notice.body


async def test_conversion_reuses_the_directory_address_and_needs_a_tariff():
    address = await make_address("Осинники", "улица Победы", "3", "7")
    clerk = await staff_actor()
    request = await application()
    with pytest.raises(ValueError, match="Укажите тариф"):
        await convert_application(request.id, actor=clerk)
    assert await Subscriber.count() == 0
    tariff = await make_tariff()
    subscriber, _ = await convert_application(request.id, actor=clerk, tariff_id=tariff.id,
                                              full_name="Соколова Анна Ивановна")
    assert subscriber.address == address.id and await Address.count() == 1
    assert subscriber.full_name == "Соколова Анна Ивановна"


async def test_a_failing_completion_rolls_back_event_audit_and_notification():
    s = await make_subscriber()
    new = await make_tariff()
    clerk = await staff_actor()
    request = await filed(s.id, "tariff_change", tariff_id=new.id)
    await Subscriber.update({Subscriber.status: SubscriberStatus.TERMINATED}).where(
        Subscriber.id == s.id)
    before = await row_counts()
    with pytest.raises(ValueError, match="смена тарифа невозможна"):
        await complete_tariff_change(request.id, actor=clerk)
    assert await row_counts() == before
    assert (await _row(request.id))["status"] == "new"


@pytest.mark.parametrize("text,number", [
    ("Z-000123", "Z-000123"), ("z-123", "Z-000123"), (" 123 ", "Z-000123"), ("abc", None),
    ("", None), ("Z-", None),
])
def test_parse_number(text, number):
    assert parse_number(text) == number


async def test_request_id_by_number():
    s = await make_subscriber()
    request = await filed(s.id, "repair")
    assert await request_id_by_number("z-1") == request.id
    with pytest.raises(RequestNotFound, match="не найдена"):
        await request_id_by_number("Z-000777")
