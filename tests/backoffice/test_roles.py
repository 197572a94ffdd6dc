"""The role matrix, checked through the admin's own HTTP API for every table, role and action."""

from __future__ import annotations

import datetime as dt
import json
import time

import pyotp
import pytest
from piccolo.apps.user.tables import BaseUser
from piccolo_api.mfa.authenticator.tables import AuthenticatorSecret

from backoffice.forms import FORMS
from backoffice.mfa import mfa_provider
from backoffice.roles import FORM_MATRIX, OFFICE_MATRIX, SIDEBAR_LINKS, TABLE_MATRIX, sidebar_links
from backoffice.tables import TABLE_CONFIGS
from settings import get_settings
from tables.audit import Actor, AuditEntry
from tables.billing.charge_run import BillingRun
from tables.billing.promised import PromisedPayment
from tables.billing.tariff_changes import TariffChange
from tables.calendar import utcnow
from tables.content import MaintenanceArea, NewsItem, Page, SiteSetting
from tables.payments.card_flow import PaymentCustomer
from tables.payments.events import ProviderEvent
from tables.payments.office import book_office_payment
from tables.payments.payment import Payment
from tables.payments.refunds import PaymentRefund
from tables.ratings import CabinetRating
from tables.requests.queue import RequestEvent, ServiceRequest
from tables.staff import Role
from tables.subscribers import Subscriber
from tables.tariffs import Tariff
from tests.support.factories import make_subscriber
from tests.support.helpers import STAFF_PASSWORD, admin_login, make_staff

ROLES = list(Role)

# A payload of the right shape for each form, naming a contract that does not exist:
# an allowed role gets the domain's 422, a refused one 403, and nothing changes.
FORM_SAMPLES = {
    "Оценки кабинета": {"period": "2026-11"},
    "Итоги по платежам": {"town": "Нигде"},
    "Взять заявку в работу": {"number": "Z-999999"},
    "Ответить по заявке": {"number": "Z-999999", "message": "проверка"},
    "Закрыть заявку как выполненную": {"number": "Z-999999"},
    "Отклонить заявку": {"number": "Z-999999", "reason": "проверка"},
    "Выполнить смену тарифа": {"number": "Z-999999"},
    "Выполнить расторжение": {"number": "Z-999999"},
    "Оформить договор по заявке": {"number": "Z-999999"},
    "Заявка на возврат остатка": {"contract_number": "999999", "details": "получит в кассе"},
    "Выплатить остаток": {"number": "Z-999999"},
    "Повторить фоновое задание": {"job_id": 999999},
}


def test_every_admin_table_and_form_has_a_line_in_the_matrix():
    names = {c.table_class._meta.tablename for c in TABLE_CONFIGS}
    assert names - set(TABLE_MATRIX) == set()
    assert {f.name for f in FORMS} - set(FORM_MATRIX) == set()
    assert {f.name for f in FORMS} - set(FORM_SAMPLES) == set()


def test_office_pages_replaced_the_typed_id_forms_and_the_sidebar_follows_their_roles():
    from backoffice.reports.pages import REPORT_ROLES

    assert OFFICE_MATRIX["reports"] == REPORT_ROLES
    assert not {"Новый договор", "Возврат платежа", "Оплата в кассе", "Корректировка баланса",
                "Начисление абонентской платы", "Сброс пароля абонента", "Просмотр кабинета абонента",
                "История договора"} & {f.name for f in FORMS}
    assert sidebar_links(Role.OPERATOR) == {
        "Офис: сегодня и поиск абонента": "/office/", "Новый договор": "/office/contracts/new",
        "Квитанции по улице и дому": "/office/slips", "Сайт и кабинет": "/"}
    assert set(sidebar_links(Role.CASHIER)) == {"Офис: сегодня и поиск абонента", "Сверка с агентами",
                                                "Банковские выписки", "Квитанции по улице и дому",
                                                "Сайт и кабинет"}
    assert set(sidebar_links(Role.MANAGER)) == {"Офис: сегодня и поиск абонента", "Рассылка абонентам",
                                                "Сверка с агентами", "Отчёты", "Сайт и кабинет"}
    assert set(sidebar_links(Role.ADMINISTRATOR)) == set(SIDEBAR_LINKS)


async def _login_as(client, role: Role) -> None:
    await make_staff(f"staff_{role.value}", role=role.value)
    await admin_login(client, f"staff_{role.value}")


async def _one_row_each() -> None:
    """At least one row in every table, so update/delete reach the validators
    (piccolo_api answers 404 for a missing row before validating)."""
    subscriber = await make_subscriber()
    actor = Actor("test")
    await book_office_payment(subscriber.id, 5000, actor=actor)
    request = ServiceRequest(number="Z-1", kind="question", subscriber=subscriber.id,
                             created_at=utcnow(), updated_at=utcnow())
    await request.save()
    await RequestEvent(service_request=request.id, author_name="x", created_at=utcnow()).save()
    news = NewsItem(title="n", body="b", published_at=utcnow())
    await news.save()
    await MaintenanceArea(news=news.id).save()
    await Page(slug="p", title="p", body="b").save()
    await SiteSetting(key="k", value="v").save()
    await CabinetRating(score=3, period="2026-11", created_at=utcnow()).save()
    await make_staff("victim", role="operator")
    payment = await Payment.objects().first()
    await PaymentRefund(payment=payment.id, amount=100, status="succeeded", created_at=utcnow(),
                        updated_at=utcnow()).save()
    await ProviderEvent(event_id="evt_1", received_at=utcnow()).save()
    # The cash payment above has its «приход» receipt; a refund's receipt the register refused:
    from tables.payments.receipts import issue_receipt

    refund = await PaymentRefund.objects().first()
    await issue_receipt(payment.id, refund_id=refund.id, amount=100)
    from tables.payments.autopay import AutopayCharge, save_card

    await save_card(subscriber.id, customer_id="cus_1", card={"id": "card_1", "brand": "visa",
                                                              "last4": "4242", "exp_month": 1,
                                                              "exp_year": 2030})
    await AutopayCharge(subscriber=subscriber.id, period="2026-12", key="x:2026-12:1", amount=100,
                        status="failed", failure_code="card_declined", created_at=utcnow()).save()
    from tables.notifications import Notification, NotificationAttempt

    notification = Notification(channel="sms", recipient="+79130000000", body="x", status="pending",
                                created_at=utcnow())
    await notification.save()
    await NotificationAttempt(notification=notification.id, number=1, started_at=utcnow(),
                              outcome="retry", detail="503").save()
    from tables.background import BackgroundJob

    await BackgroundJob(title="Проводки, 2026-11 (XLSX)", task_name="exports.run", status="failed",
                        error="OperationalError: the database restarted", created_at=utcnow(),
                        created_by="manager").save()
    await BillingRun(period="2026-11", started_at=utcnow(), finished_at=utcnow(),
                     started_by="test").save()
    other = Tariff(name="Другой", monthly_fee=1000)
    await other.save()
    await TariffChange(subscriber=subscriber.id, from_tariff=subscriber.tariff, tariff=other.id,
                       effective_from=dt.date(2026, 12, 1), created_at=utcnow(), created_by="t").save()
    await PromisedPayment(subscriber=subscriber.id, amount=100, period="2026-11", granted_at=utcnow(),
                          expires_at=utcnow()).save()
    from tables.billing.pauses import Pause

    await Pause(subscriber=subscriber.id, starts_on=dt.date(2026, 12, 10), ends_on=dt.date(2026, 12, 16),
                planned_ends_on=dt.date(2026, 12, 16), booked_at=utcnow(), booked_by="t").save()
    await PaymentCustomer(subscriber=subscriber.id, provider_customer_id="cus_1",
                          created_at=utcnow()).save()
    from tables.network import Nas, NetworkAccess, RadiusSession

    await NetworkAccess(subscriber=subscriber.id, login="u100001", password="p").save()
    await Nas(name="nas", address="192.0.2.1", secret="s").save()
    await RadiusSession(session_key="192.0.2.1/1", acct_session_id="1", nas_address="192.0.2.1",
                        subscriber=subscriber.id, started_at=utcnow(), updated_at=utcnow()).save()
    from tables.network import TrafficDay

    await TrafficDay(day_key="1:2026-12-01", subscriber=subscriber.id, day=dt.date(2026, 12, 1)).save()
    from tables.coa import CoaRequest

    await CoaRequest(event_key="k", nas_address="192.0.2.1", acct_session_id="1", cause="reactivated",
                     next_attempt_at=utcnow(), created_at=utcnow()).save()
    from tables.payments.agents import agent_pay

    await agent_pay("qiwi", "QIWI", {"txn_id": "1", "txn_date": "20261207101500",
                                     "account": subscriber.contract_number, "sum": "10.00"})
    from tables.payments.bank import import_statement
    from tests.support.bank import document, statement

    paid = document("1", "05.12.2026", "10.00", f"Договор {subscriber.contract_number}")
    await import_statement(statement(paid), file_name="v.txt", actor=actor)


def _table(name: str):
    from piccolo.conf.apps import Finder

    return next(t for t in Finder().get_table_classes() if t._meta.tablename == name)


async def _row(table: str, me: int) -> dict | None:
    cls = _table(table)
    query = cls.select().order_by(cls._meta.primary_key, ascending=False)
    if table == "piccolo_user":
        query = query.where(cls._meta.primary_key != me)
    if table == "staff_role":
        query = query.where(cls.user != me)  # type: ignore[attr-defined]
    return await query.first()


def _harmless_patch(table: str, row: dict) -> dict:
    """Re-send one text column's current value: a real edit that changes nothing."""
    from piccolo.columns import Text, Varchar

    from backoffice.tables import SUBSCRIBER_PROTECTED

    for column in _table(table)._meta.columns:
        name = column._meta.name
        if isinstance(column, (Varchar, Text)) and not column._meta.secret \
                and name not in SUBSCRIBER_PROTECTED and row.get(name) is not None:
            return {name: row[name]}
    return {"id": row["id"]}


def _check(response, table: str, role: Role, action: str, allowed: set[str]) -> None:
    if action in allowed:
        assert response.status_code not in (401, 403, 405), (table, role, action, response.text)
        assert response.status_code < 500, (table, role, action, response.text)
    else:
        assert response.status_code in (403, 405), (table, role, action, response.status_code)


@pytest.mark.parametrize("role", ROLES)
async def test_table_matrix_through_admin_api(client, role):
    await _one_row_each()
    await _login_as(client, role)
    me = (await BaseUser.select(BaseUser.id).where(BaseUser.username == f"staff_{role.value}").first())["id"]
    for table, rules in TABLE_MATRIX.items():
        allowed = rules.get(role, set())
        _check(await client.get(f"/admin/api/tables/{table}/"), table, role, "read", allowed)
        created = await client.post(f"/admin/api/tables/{table}/", json={})
        if "create" in allowed:  # an empty row is invalid: refused by validation, not by role
            assert created.status_code not in (401, 403, 405), (table, role, created.text)
        else:
            assert created.status_code in (403, 405), (table, role, created.status_code)
        row = await _row(table, me)
        assert row is not None, f"no row to update in {table}"
        response = await client.patch(f"/admin/api/tables/{table}/{row['id']}/",
                                      json=_harmless_patch(table, row))
        _check(response, table, role, "update", allowed)
    # Deletes last and in reverse order, so foreign keys and cascades don't hide rows.
    for table, rules in reversed(TABLE_MATRIX.items()):
        allowed = rules.get(role, set())
        row = await _row(table, me)
        if row is None:
            continue
        response = await client.delete(f"/admin/api/tables/{table}/{row['id']}/")
        if "delete" in allowed:  # may still be refused by a foreign key, never by role
            assert response.status_code not in (401, 403, 405), (table, role, response.text)
        else:
            assert response.status_code in (403, 405), (table, role, response.status_code)


@pytest.mark.parametrize("role", ROLES)
async def test_form_matrix_through_admin_api(client, role):
    await _login_as(client, role)
    audit_before = await AuditEntry.count()
    for form in FORMS:
        response = await client.post(f"/admin/api/forms/{form.slug}/", json=FORM_SAMPLES[form.name])
        if role in FORM_MATRIX[form.name]:
            assert response.status_code in (200, 422), (form.name, role, response.text)
        else:
            assert response.status_code == 403, (form.name, role, response.text)
    assert await AuditEntry.count() == audit_before


async def test_manager_cannot_change_anything_and_operator_cannot_edit_tariffs(client):
    tariff = Tariff(name="Базовый", monthly_fee=50000)
    await tariff.save()
    for role in (Role.MANAGER, Role.OPERATOR, Role.CASHIER):
        await _login_as(client, role)
        response = await client.patch(f"/admin/api/tables/tariff/{tariff.id}/", json={"monthly_fee": 1})
        assert response.status_code == 403
        client.cookies.clear()
        client.headers.pop("X-CSRFToken", None)
    assert (await Tariff.select(Tariff.monthly_fee).first())["monthly_fee"] == 50000


async def test_cashier_cannot_edit_content_pages(client):
    await _login_as(client, Role.CASHIER)
    response = await client.post("/admin/api/tables/page/", json={"slug": "x", "title": "x", "body": "x"})
    assert response.status_code == 403


async def test_staff_without_a_role_gets_nothing(client):
    await make_staff("norole", role=None)
    await admin_login(client, "norole")
    assert (await client.get("/admin/api/tables/subscriber/")).status_code == 403


async def test_staff_login_and_failure_are_audited(client):
    await make_staff("auditme")
    await client.get("/admin/")
    token = client.cookies.get("csrftoken")
    bad = await client.post("/admin/public/login/", json={"username": "auditme", "password": "nope"},
                            headers={"X-CSRFToken": token})
    assert bad.status_code >= 400
    # Asking for HTML, piccolo_api answers a wrong password with 200: still a failure.
    html = await client.post("/admin/public/login/", headers={"X-CSRFToken": token}, json={
        "username": "auditme", "password": "nope", "format": "html"})
    assert html.status_code < 400 and "id" not in html.cookies
    await admin_login(client, "auditme")
    rows = await AuditEntry.select(AuditEntry.action, AuditEntry.actor).order_by(AuditEntry.id)
    assert [r["action"] for r in rows[-3:]] == ["staff.login_failed", "staff.login_failed",
                                                 "staff.login"]
    assert [r["actor"] for r in rows[-3:-1]] == [None, None]


def fresh_code(totp: pyotp.TOTP) -> str:
    """A code with time left in its 30 s window: piccolo_api accepts the current one only, so a
    code read just before the window turns fails (this test failed that way once)."""
    left = totp.interval - time.time() % totp.interval
    if left < 5:
        time.sleep(left + 0.1)
    return totp.now()


async def test_mfa_required_for_administrators(client, setenv):
    setenv("CENTRA_ADMIN_MFA", "required")
    user = await make_staff("boss")
    await admin_login(client, "boss")
    refused = await client.get("/admin/api/tables/tariff/")
    assert refused.status_code == 403 and "двухфакторная" in refused.text
    # The reports (debtors' contacts among them) follow the same rule.
    report = await client.get("/reports/debtors")
    assert report.status_code == 403 and "двухфакторная" in report.text

    secret, _codes = await AuthenticatorSecret.create_new(user.id, mfa_provider().encryption_provider)
    totp = pyotp.TOTP(mfa_provider().encryption_provider.decrypt(secret.secret))
    client.cookies.clear()
    await client.get("/admin/")
    csrf = client.cookies.get("csrftoken")
    no_code = await client.post("/admin/public/login/", json={"username": "boss", "password": STAFF_PASSWORD},
                                headers={"X-CSRFToken": csrf})
    assert "id" not in no_code.cookies  # no session without the code
    code = fresh_code(totp)
    ok = await client.post("/admin/public/login/", json={"username": "boss", "password": STAFF_PASSWORD,
                                                          "mfa_code": code}, headers={"X-CSRFToken": csrf})
    assert ok.status_code == 200, ok.text
    client.headers["X-CSRFToken"] = csrf
    assert (await client.get("/admin/api/tables/tariff/")).status_code == 200
    assert (await client.get("/reports/debtors")).status_code == 200
    client.cookies.delete("id")
    reused = await client.post("/admin/public/login/", headers={"X-CSRFToken": csrf}, json={
        "username": "boss", "password": STAFF_PASSWORD, "mfa_code": code})
    assert reused.status_code >= 400 or "id" not in reused.cookies


async def test_put_is_refused_everywhere_because_it_skips_hooks(client):
    s = await make_subscriber()
    await _login_as(client, Role.ADMINISTRATOR)
    for table, row_id in (("subscriber", s.id), ("tariff", s.tariff)):
        response = await client.put(f"/admin/api/tables/{table}/{row_id}/", json={"balance": 1})
        assert response.status_code == 405
    assert (await Subscriber.select(Subscriber.balance).first())["balance"] == 0


async def test_operator_edits_contact_data_but_not_what_billing_reads(client):
    s = await make_subscriber()
    await make_staff("oper2", role="operator")
    await admin_login(client, "oper2")
    url = f"/admin/api/tables/subscriber/{s.id}/"
    ok = await client.patch(url, json={"phone": "+79130000001", "email": "new@example.org"})
    assert ok.status_code == 200, ok.text
    for values in ({"connected_on": "2020-01-01"}, {"router_rented": True},
                   {"phone": "+79130000002", "router_rented": True}):
        refused = await client.patch(url, json=values)
        assert refused.status_code == 403 and "контактные" in refused.text, values
    row = await Subscriber.select().where(Subscriber.id == s.id).first()
    assert row["phone"] == "+79130000001" and row["router_rented"] is False
    assert row["connected_on"] == s.connected_on


async def test_role_changes_through_the_admin_are_audited(client):
    from tables.staff import StaffRole

    await make_staff("boss", role="administrator")
    await make_staff("clerk9", role="operator")
    await admin_login(client, "boss")
    row = await StaffRole.select(StaffRole.id, StaffRole.role).where(
        StaffRole.role == "operator").first()
    changed = await client.patch(f"/admin/api/tables/staff_role/{row['id']}/",
                                 json={"role": "administrator"})
    assert changed.status_code == 200, changed.text
    entry = await AuditEntry.objects().where(AuditEntry.action == "staff_role.updated").first()
    assert entry is not None and json.loads(entry.before) == {"role": "operator"}
    assert json.loads(entry.after) == {"role": "administrator"}


def test_every_role_reading_personal_data_needs_mfa():
    """Derived from the matrix: any role that may list subscribers (or requests, staff...) needs it."""
    from backoffice.roles import PERSONAL_DATA_TABLES, mfa_required

    for role in ROLES:
        reads = {t for t in PERSONAL_DATA_TABLES if "read" in TABLE_MATRIX.get(t, {}).get(role, ())}
        assert mfa_required(role) == bool(reads or role == Role.ADMINISTRATOR), role
    # Today every office role reads the subscriber list.
    assert all(mfa_required(role) for role in ROLES)


async def _enrol_and_login(client, user, username: str) -> None:
    secret, _codes = await AuthenticatorSecret.create_new(user.id, mfa_provider().encryption_provider)
    totp = pyotp.TOTP(mfa_provider().encryption_provider.decrypt(secret.secret))
    client.cookies.clear()
    await client.get("/admin/")
    csrf = client.cookies.get("csrftoken")
    ok = await client.post("/admin/public/login/", headers={"X-CSRFToken": csrf}, json={
        "username": username, "password": STAFF_PASSWORD, "mfa_code": fresh_code(totp)})
    assert ok.status_code == 200 and "id" in client.cookies, ok.text
    client.headers["X-CSRFToken"] = csrf


@pytest.mark.parametrize("role", ROLES, ids=[r.value for r in ROLES])
async def test_mfa_required_for_every_role_that_reads_personal_data(client, setenv, role):
    """Issue 24 item 7: an operator read every subscriber, a manager downloaded the debtors'
    export (names, addresses, phones) without a second factor."""
    setenv("CENTRA_ADMIN_MFA", "required")
    await make_subscriber()
    username = f"pd_{role.value}"
    user = await make_staff(username, role=role.value)
    await admin_login(client, username)
    refused = await client.get("/admin/api/tables/subscriber/")
    assert refused.status_code == 403 and "двухфакторная" in refused.text
    ratings = next(f for f in FORMS if f.name == "Оценки кабинета")
    form = await client.post(f"/admin/api/forms/{ratings.slug}/", json=FORM_SAMPLES[ratings.name])
    assert form.status_code == 403 and "двухфакторная" in form.text
    # The office pages (subscriber search and card) follow the same rule.
    office = await client.get("/office/search", params={"q": "Петров"})
    assert office.status_code == 403 and "двухфакторная" in office.text
    reports = role in (Role.MANAGER, Role.ADMINISTRATOR)
    if reports:
        export = await client.get("/reports/debtors/export.csv")
        assert export.status_code == 403 and "двухфакторная" in export.text
        assert "text/csv" not in export.headers.get("content-type", "")

    await _enrol_and_login(client, user, username)
    listed = await client.get("/admin/api/tables/subscriber/")
    assert listed.status_code == 200 and listed.json()["rows"], listed.text
    assert (await client.get("/office/search", params={"q": "Петров"})).status_code < 400
    if reports:
        assert (await client.get("/reports/debtors/export.csv")).status_code == 200


async def test_mfa_optional_keeps_the_demo_open(client, setenv):
    """``CENTRA_ADMIN_MFA=optional`` (the demo) lets every role in without a second factor,
    even in production mode."""
    setenv("CENTRA_ADMIN_MFA", "optional")
    setenv("CENTRA_DEBUG", "0")
    assert get_settings().production
    await make_subscriber()
    for role in ROLES:
        client.cookies.clear()
        await make_staff(f"demo_{role.value}", role=role.value)
        await admin_login(client, f"demo_{role.value}")
        assert (await client.get("/admin/api/tables/subscriber/")).status_code == 200, role
    assert (await client.get("/reports/debtors/export.csv")).status_code == 200
