"""The registry of our pages that the accessibility and layout smoke test opens.

A new page joins the check with one line in ``CHECKED_PAGES``; if it needs rows, add them to
``seed_site`` and refer to them by name in the path (``/news/{news_id}``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

GUEST = "guest"
SUBSCRIBER = "subscriber"  # logged in, password already set
FIRST_LOGIN = "first_login"  # logged in with a one-time password, must set a new one
STAFF = "staff"  # an administrator logged in to the office (Piccolo Admin's session)


#: The payment agent the browser batteries' server knows (its reconciliation page lists a day).
E2E_AGENTS = '{"terminal": {"name": "Терминалы города", "allowed_ips": ["127.0.0.1"]}}'


@dataclass(frozen=True)
class CheckedPage:
    name: str
    path: str  # ``str.format`` placeholders are filled from ``seed_site``'s result
    who: str = GUEST
    status: int = 200


CHECKED_PAGES: list[CheckedPage] = [
    CheckedPage("home", "/"),
    CheckedPage("tariffs", "/tariffs"),
    CheckedPage("news", "/news"),
    CheckedPage("news-item", "/news/{news_id}"),
    CheckedPage("content-page", "/pages/{page_slug}"),
    CheckedPage("subscribers", "/subscribers"),
    CheckedPage("offline", "/offline"),
    CheckedPage("faq", "/pages/faq"),
    CheckedPage("rate", "/rate"),
    CheckedPage("rate-thanks", "/rate/thanks"),
    CheckedPage("not-found", "/pages/no-such-page", status=404),
    CheckedPage("login", "/cabinet/login"),
    CheckedPage("recover", "/cabinet/recover/"),
    CheckedPage("recover-code", "/cabinet/recover/code"),
    CheckedPage("activate", "/cabinet/activate", who=FIRST_LOGIN),
    CheckedPage("dashboard", "/cabinet/", who=SUBSCRIBER),
    CheckedPage("password", "/cabinet/password", who=SUBSCRIBER),
    CheckedPage("profile", "/cabinet/profile", who=SUBSCRIBER),
    CheckedPage("notifications", "/cabinet/notifications", who=SUBSCRIBER),
    CheckedPage("unsubscribe", "/unsubscribe/{unsubscribe_token}", who=SUBSCRIBER),
    CheckedPage("contact-phone", "/cabinet/profile/contacts/phone", who=SUBSCRIBER),
    CheckedPage("contact-email", "/cabinet/profile/contacts/email", who=SUBSCRIBER),
    CheckedPage("statement", "/cabinet/statement", who=SUBSCRIBER),
    CheckedPage("slip", "/cabinet/slip", who=SUBSCRIBER),
    CheckedPage("payments", "/cabinet/payments", who=SUBSCRIBER),
    CheckedPage("receipt", "/cabinet/receipts/{receipt_id}", who=SUBSCRIBER),
    CheckedPage("autopay", "/cabinet/autopay", who=SUBSCRIBER),
    CheckedPage("top-up", "/cabinet/pay", who=SUBSCRIBER),
    CheckedPage("requests", "/cabinet/requests", who=SUBSCRIBER),
    CheckedPage("tariff", "/cabinet/tariff/", who=SUBSCRIBER),
    CheckedPage("pause", "/cabinet/pause/", who=SUBSCRIBER),
    CheckedPage("internet", "/cabinet/internet", who=SUBSCRIBER),
    CheckedPage("request-new", "/cabinet/requests/new?kind=repair", who=SUBSCRIBER),
    CheckedPage("request", "/cabinet/requests/{request_id}", who=SUBSCRIBER),
    CheckedPage("quick-pay", "/pay"),
    CheckedPage("connect", "/connect"),
    CheckedPage("connect-done", "/connect/done/{connect_token}"),
    # Staff pages beside the admin (backoffice/office.py); tests/backoffice/test_card_registry.py
    # fails when an /office page is missing here.
    CheckedPage("office-home", "/office/", who=STAFF),
    CheckedPage("office-search", "/office/search?q=металлургов", who=STAFF),
    CheckedPage("office-card", "/office/subscribers/{contract_number}", who=STAFF),
    CheckedPage("office-payment", "/office/subscribers/{contract_number}/payment", who=STAFF),
    CheckedPage("office-receipt", "/office/receipts/{office_payment_id}", who=STAFF),
    CheckedPage("office-adjustment", "/office/subscribers/{contract_number}/adjustment", who=STAFF),
    CheckedPage("office-refund", "/office/payments/{card_payment_id}/refund", who=STAFF),
    CheckedPage("office-request", "/office/subscribers/{contract_number}/request", who=STAFF),
    CheckedPage("office-password", "/office/subscribers/{contract_number}/password", who=STAFF),
    CheckedPage("office-terminate", "/office/subscribers/{contract_number}/terminate", who=STAFF),
    CheckedPage("office-balance-refund", "/office/subscribers/{contract_number}/balance-refund", who=STAFF),
    CheckedPage("office-charge", "/office/charge", who=STAFF),
    CheckedPage("office-broadcasts", "/office/broadcasts", who=STAFF),
    CheckedPage("office-broadcast", "/office/broadcasts/{broadcast_id}", who=STAFF),
    CheckedPage("office-contract", "/office/contracts/new", who=STAFF),
    CheckedPage("office-agents", "/office/agents", who=STAFF),
    CheckedPage("office-bank", "/office/bank", who=STAFF),
    CheckedPage("office-bank-statement", "/office/bank/statements/{bank_statement_id}", who=STAFF),
    CheckedPage("office-bank-queue", "/office/bank/queue", who=STAFF),
    # Payment slips: the card's, and a building's batch listed before its PDF is printed.
    CheckedPage("office-slip", "/office/subscribers/{contract_number}/slip", who=STAFF),
    CheckedPage("office-slips", "/office/slips?street={street_id}&house=12", who=STAFF),
    # The managers' reports (backoffice/reports/): the index, a report with a stacked chart and
    # one with a wide table of contacts.
    CheckedPage("reports", "/reports/", who=STAFF),
    CheckedPage("report-payments", "/reports/payments", who=STAFF),
    CheckedPage("report-debtors", "/reports/debtors", who=STAFF),
    # The accounting export (1C file, CSV, XLSX) with its channel filter.
    CheckedPage("report-accounting", "/reports/accounting", who=STAFF),
    # An export made in the background (jobs/exports.py), finished: its file offered.
    CheckedPage("report-job", "/reports/jobs/{export_job_id}", who=STAFF),
]


async def seed_site(who: str) -> dict[str, Any]:
    """Realistic content (the demo's tariffs and pages, a news item and planned works) and,
    when the page needs one, a subscriber in the requested state."""
    from tables.calendar import utcnow
    from tables.commands.demo import PAGES, TARIFFS
    from tables.content import NewsItem, Page
    from tables.tariffs import Tariff
    from tests.support.factories import make_address, make_subscriber

    tariffs = []
    for spec in TARIFFS:
        tariff = Tariff(**spec)
        await tariff.save()
        tariffs.append(tariff)
    for order, (slug, title, body) in enumerate(PAGES):
        await Page(slug=slug, title=title, body=body, sort_order=order).save()
    now = utcnow()
    news = NewsItem(title="Новый офис в Осинниках",
                    body="Офис на **улице Ленина, 10** работает без выходных с 9:00 до 20:00.",
                    published_at=now - dt.timedelta(days=1))
    await news.save()
    await NewsItem(title="Плановые работы на проспекте Металлургов",
                   body="Возможны перерывы в работе интернета до 30 минут.", kind="maintenance",
                   published_at=now - dt.timedelta(hours=2), starts_at=now + dt.timedelta(days=1),
                   ends_at=now + dt.timedelta(days=1, hours=3)).save()
    from cabinet.connect import sign_number
    from tables.requests.queue import format_number

    seed: dict[str, Any] = {"news_id": news.id, "page_slug": PAGES[0][0], "subscriber_id": None,
                            "request_id": None, "connect_token": sign_number(format_number(123))}
    if who != GUEST:
        address = await make_address(street="проспект Металлургов", house="12", apartment="45")
        subscriber = await make_subscriber(
            full_name="Кузнецова Анна Сергеевна", tariff=tariffs[0], address=address,
            must_change=who == FIRST_LOGIN,
        )
        seed["subscriber_id"] = subscriber.id
        seed["street_id"] = address.street
        seed["contract_number"] = subscriber.contract_number
        from tables.notifications import unsubscribe_token

        seed["unsubscribe_token"] = unsubscribe_token(subscriber.id)
        if who in (SUBSCRIBER, STAFF):
            seed["request_id"] = await _subscriber_history(subscriber.id)
            seed["receipt_id"] = await _fiscal_receipt(subscriber.id)
            from tables.payments.autopay import save_card

            # A saved card: the autopay page's form and the office card's autopay line are drawn.
            await save_card(subscriber.id, customer_id="cus_a11y", card={
                "id": "card_a11y", "brand": "Visa", "last4": "4242", "exp_month": 12, "exp_year": 2034})
            await _online(subscriber.id)
        if who == STAFF:
            seed.update(await _office_rows(subscriber.id))
    return seed


async def _online(subscriber_id: int) -> None:
    """A PPPoE login with a session open now and some traffic (the connection page's rows)."""
    from tables.network import NetworkAccess
    from tables.radius import account

    await NetworkAccess(subscriber=subscriber_id, login="anna45", password="a11y-pass",
                        static_ip="203.0.113.45").save()
    session = {"User-Name": "anna45", "Acct-Session-Id": "a11y-1", "Framed-IP-Address": "203.0.113.45"}
    await account({**session, "Acct-Status-Type": "Start"}, "127.0.0.1")
    await account({**session, "Acct-Status-Type": "Interim-Update", "Acct-Session-Time": "7300",
                   "Acct-Input-Octets": "52428800", "Acct-Output-Octets": "1288490188"}, "127.0.0.1")


async def _office_rows(subscriber_id: int) -> dict[str, Any]:
    """A staff member, a cash payment with its receipt, a refundable card payment and a message
    that did not go."""
    from tables.audit import Actor
    from tables.calendar import LOCAL_TZ, utcnow
    from tables.payments.agents import agent_pay
    from tables.payments.bank import confirm_statement, import_statement
    from tables.payments.office import book_office_payment
    from tables.payments.payment import Payment
    from tables.subscribers import Subscriber
    from tests.support.bank import document, statement

    def local_now():
        return utcnow().astimezone(LOCAL_TZ)
    from tests.support.factories import make_address, make_subscriber
    from tests.support.helpers import make_staff

    staff = await make_staff("a11y-admin")
    # A neighbour on the same street: the search page lists two contracts (one would open the card).
    await make_subscriber(full_name="Кузнецов Илья Петрович", phone="+79134440011",
                          address=await make_address(street="проспект Металлургов", house="12",
                                                     apartment="46"))
    office = await book_office_payment(subscriber_id, 140050, actor=Actor("a11y-admin"))
    now = utcnow()
    # A terminal's payment today: the agents' reconciliation page lists a day (E2E_AGENTS).
    await agent_pay("terminal", "Терминалы города", {
        "txn_id": f"a11y-{subscriber_id}", "txn_date": local_now().strftime("%Y%m%d%H%M%S"),
        "account": (await Subscriber.objects().get(Subscriber.id == subscriber_id)).contract_number,
        "sum": "300.00"})
    card = Payment(subscriber=subscriber_id, amount=65000, status="succeeded", channel="cabinet",
                   provider_intent_id=f"pi_a11y_{subscriber_id}", card_brand="visa", card_last4="4242",
                   created_at=now, updated_at=now)
    await card.save()
    # A message the gateway refused: the card's "Недоставленные сообщения" table is drawn.
    from tables.notifications import Notification

    await Notification.insert(Notification(
        channel="sms", recipient="+79131112233", subscriber=subscriber_id, status="failed",
        body="Centra: платёж 1400,50 ₽ зачислен, баланс 1400,50 ₽", created_at=now,
        last_error="207: На этот номер нельзя отправлять сообщения"))
    # A broadcast in progress: the broadcasts page draws its statistics table.
    from tables.broadcasts import Broadcast

    broadcast = Broadcast(kind="notice", segment="улица «Металлургов»", text="Работы на линии 10.12",
                          recipients=2, created_at=now, created_by="a11y-admin")
    await broadcast.save()
    # Bank statements: one confirmed (a document waits in the queue), one draft to look at.
    contract = (await Subscriber.objects().get(Subscriber.id == subscriber_id)).contract_number
    done = await import_statement(statement(
        document("1", "01.12.2026", "500.00", f"Оплата по договору {contract} за декабрь"),
        document("2", "01.12.2026", "250.00", "Оплата за интернет", payer="Некто Неизвестный")),
        file_name="kl_to_1c.txt", actor=Actor("a11y-admin"))
    await confirm_statement(done.statement_id, actor=Actor("a11y-admin"))
    draft = await import_statement(statement(
        document("3", "02.12.2026", "600.00", f"л/с {contract}"),
        document("4", "02.12.2026", "100.00", "Оплата", payer="Другой Неизвестный")),
        file_name="kl_to_1c (2).txt", actor=Actor("a11y-admin"))
    return {"staff_id": staff.id, "office_payment_id": office.id, "card_payment_id": card.id,
            "export_job_id": await _finished_export(Actor("a11y-admin", staff_id=staff.id)),
            "bank_statement_id": draft.statement_id, "broadcast_id": broadcast.id}


async def _finished_export(actor: Any) -> int:
    """A finished background export with its (small) file, as the worker leaves it."""
    import tempfile

    from tables.background import create_job, store_file

    job_id = await create_job("Проводки журнала, 2026-11 (CSV)", "exports.run",
                              {"kind": "raw", "slug": "ledger", "fmt": "csv",
                               "params": {"from": "2026-11", "to": "2026-11"}}, actor=actor)
    with tempfile.NamedTemporaryFile(suffix=".csv") as handle:
        handle.write("№ проводки;Дата\r\n1;01.11.2026\r\n".encode())
        handle.flush()
        await store_file(job_id, handle.name, file_name="centra-ledger-2026-11.csv",
                         media_type="text/csv; charset=utf-8")
    return job_id


async def _fiscal_receipt(subscriber_id: int) -> int:
    """A cash payment whose receipt the register has fiscalized (the receipt page at its fullest)."""
    from tables.audit import Actor
    from tables.payments.office import book_office_payment
    from tables.payments.receipts import Receipt

    payment = await book_office_payment(subscriber_id, 80000, actor=Actor("a11y-clerk"))
    await Receipt.update({
        Receipt.status: "done", Receipt.fiscal_datetime: "07.12.2026 17:05:00",
        Receipt.fiscal_sign: "3000000101", Receipt.fiscal_document_number: "1101",
        Receipt.fiscal_receipt_number: "101", Receipt.shift_number: "7",
        Receipt.fn_number: "9999078900012345", Receipt.registration_number: "0000000001012345",
        Receipt.ofd_url: "https://check.ofd.example/?fd=1101",
    }).where(Receipt.payment == payment.id)
    row = await Receipt.select(Receipt.id).where(Receipt.payment == payment.id).first()
    return row["id"]


async def _subscriber_history(subscriber_id: int) -> int:
    """A month with entries, a card payment in the history and a request answered by the office;
    returns the request's id."""
    from tables.audit import SYSTEM
    from tables.ledger import post_entry
    from tables.month import Month
    from tables.payments.card_flow import start_payment
    from tables.payments.payment import PaymentChannel
    from tables.requests.filing import file_request
    from tables.requests.queue import reply

    await post_entry(subscriber_id, 100000, "payment", f"a11y-pay-{subscriber_id}",
                     comment="Оплата в кассе")
    await post_entry(subscriber_id, -55000, "charge", f"charge:{subscriber_id}:a11y",
                     period=str(Month.current()))
    await start_payment(subscriber_id, 65000, channel=PaymentChannel.CABINET)
    filed = await file_request(subscriber_id, "repair", topic="slow",
                               text="Вечером скорость падает до 2 Мбит/с.", contact_time="после 18:00")
    await reply(filed.id, "Мастер придёт завтра с 10:00 до 12:00.", actor=SYSTEM)
    return filed.id
