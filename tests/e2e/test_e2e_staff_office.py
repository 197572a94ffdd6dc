"""Clerk journeys through the office pages (backoffice/office.py), clicked in Chromium: from the
admin's sidebar to the subscriber card found by a partial Cyrillic surname, then each action shown
with who and how much before it is confirmed.

(Application → contract → first login is journey 5, tests/e2e/test_e2e_connect.py.)
Screenshots of the card and each form at 1280 px go to docs/screenshots/ when
``CENTRA_SCREENSHOTS=1``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from playwright.async_api import Page, expect

from tables.billing.charge_run import BillingRun
from tables.ledger import EntryKind, LedgerEntry, post_entry
from tables.month import Month
from tables.payments.payment import Payment
from tables.subscribers import Subscriber, SubscriberStatus
from tests.support.browser import ROOT, staff_login
from tests.support.factories import make_address, make_subscriber
from tests.support.helpers import STAFF_PASSWORD, make_staff

SCREENSHOTS = ROOT / "docs" / "screenshots"


async def shot(page: Page, name: str) -> None:
    """Keep a 1280 px screenshot for the docs (only when asked: they are committed files)."""
    if os.environ.get("CENTRA_SCREENSHOTS", "").strip() in ("", "0"):
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=Path(SCREENSHOTS / f"{name}.png"), full_page=True)


async def smirnov(**kwargs) -> Subscriber:
    return await make_subscriber(
        full_name="Смирнов Дмитрий Иванович", phone="+79135551234",
        address=await make_address(street="улица Ленина", house="10", apartment="5"), **kwargs)


async def open_card(page: Page, username: str, query: str = "смирн") -> None:
    """Log in to the admin, follow its sidebar to the office and find the contract."""
    await staff_login(page, username, STAFF_PASSWORD)
    await page.get_by_role("link", name="Офис: сегодня и поиск абонента").click()
    await expect(page).to_have_url(re.compile(r"/office/$"))
    await page.get_by_label("Найти абонента").fill(query)
    await page.get_by_role("button", name="Найти").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Смирнов Дмитрий Иванович")


async def test_cash_payment_is_confirmed_and_ends_on_a_receipt(staff_page):
    s = await smirnov()
    await make_staff("kassa", role="cashier")
    page = staff_page
    await open_card(page, "kassa")
    # A cashier is not offered what is not theirs.
    await expect(page.get_by_role("link", name="Расторгнуть договор")).to_have_count(0)

    await page.get_by_role("link", name="Принять оплату").click()
    await page.get_by_label("Сумма наличными, ₽").fill("1 400 руб")
    await page.get_by_role("button", name="Далее: проверить").click()
    await expect(page.get_by_role("alert")).to_contain_text("Сумма")
    await page.get_by_label("Сумма наличными, ₽").fill("1 400,50")
    await shot(page, "office-payment")
    await page.get_by_role("button", name="Далее: проверить").click()
    await expect(page.locator("#confirm-summary")).to_have_text(
        f"договор {s.contract_number}, Смирнов Д. И., +1 400,50 ₽")
    assert await Payment.count() == 0
    await shot(page, "office-payment-confirm")
    await page.get_by_role("button", name="Принять оплату").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Квитанция об оплате")
    await expect(page.locator("#receipt-amount")).to_have_text("1\u00a0400,50\u00a0₽")
    # The print button calls the browser's print dialog (recorded instead of opened).
    await page.evaluate("window.printed = 0; window.print = () => { window.printed += 1; }")
    await page.get_by_role("button", name="Распечатать квитанцию").click()
    assert await page.evaluate("window.printed") >= 1
    await shot(page, "office-receipt")
    payment = await Payment.objects().first()
    assert (payment.amount, payment.channel, payment.created_by) == (140050, "office", "kassa")

    # Back on the card: a write-off, confirmed with its sign.
    await page.get_by_role("link", name="← К карточке").click()
    await page.get_by_role("link", name="Корректировка баланса").click()
    await page.get_by_label("Сумма, ₽").fill("-100")
    await page.get_by_label("Причина").fill("Ошибка при вводе в кассе")
    await shot(page, "office-adjustment")
    await page.get_by_role("button", name="Далее: проверить").click()
    await expect(page.locator("#confirm-summary")).to_have_text(
        f"договор {s.contract_number}, Смирнов Д. И., -100,00 ₽")
    await page.get_by_role("button", name="Провести корректировку").click()
    await expect(page.get_by_role("status")).to_have_text("Корректировка проведена.")
    row = await Subscriber.select(Subscriber.balance).where(Subscriber.id == s.id).first()
    assert row["balance"] == 140050 - 10000


async def test_card_refund_is_confirmed(staff_page, stripe_sandbox):
    from tables.audit import Actor
    from tables.payments.card_flow import start_payment, submit_card
    from tables.requests.filing import file_request
    from tables.requests.queue import reply
    from tests.support.payments import card_token

    s = await smirnov()
    await post_entry(s.id, -75000, EntryKind.CHARGE, f"charge:{s.id}:{Month.current().iso}",
                     period=Month.current().iso, comment="Абонентская плата")
    filed = await file_request(s.id, "repair", topic="slow", text="Вечером скорость падает до 2 Мбит/с.")
    await reply(filed.id, "Мастер придёт завтра с 10:00 до 12:00.", actor=Actor("oper"))
    payment = await start_payment(s.id, 65000, channel="cabinet")
    assert (await submit_card(payment.id, await card_token(stripe_sandbox))).status == "succeeded"
    await make_staff("kassa", role="cashier")
    page = staff_page
    await open_card(page, "kassa", "8 913 555-12-34")
    await page.get_by_role("link", name=f"Вернуть на карту платёж № {payment.id}").click()
    await page.get_by_label("Сумма возврата, ₽").fill("200")
    await page.get_by_label("Причина возврата").fill("двойная оплата")
    await shot(page, "office-refund")
    await page.get_by_role("button", name="Далее: проверить").click()
    await expect(page.locator("#confirm-summary")).to_have_text(
        f"договор {s.contract_number}, Смирнов Д. И., -200,00 ₽ (возврат на карту)")
    await page.get_by_role("button", name="Вернуть на карту").click()
    await expect(page.get_by_role("status")).to_contain_text("Возврат")
    refunds = await LedgerEntry.select(LedgerEntry.amount).where(LedgerEntry.kind == EntryKind.REFUND)
    assert [r["amount"] for r in refunds] == [-20000]
    await expect(page.get_by_text("Мастер придёт завтра").first).to_be_visible()
    await shot(page, "office-card")


async def test_request_on_behalf_and_new_contract_to_first_login(staff_page, page):
    from tests.support.factories import make_tariff

    s = await smirnov()
    tariff = await make_tariff(name="Интернет 300", fee=79000)
    await make_address(street="улица Ленина", house="12", apartment="7")
    await make_staff("oper", role="operator")
    clerk = staff_page
    await open_card(clerk, "oper", s.contract_number)
    await clerk.get_by_role("link", name="Заявка от абонента").click()
    await clerk.get_by_label("Вид заявки").select_option(label="Неисправность")
    await clerk.get_by_label("Тема — если «Неисправность»").select_option(label="Нет интернета")
    await clerk.get_by_label("Текст заявки").fill("Со вчерашнего вечера нет интернета.")
    await shot(clerk, "office-request")
    await clerk.get_by_role("button", name="Подать заявку").click()
    await expect(clerk.get_by_role("status")).to_have_text("Заявка подана от имени абонента.")
    await expect(clerk.get_by_text("Со вчерашнего вечера нет интернета.", exact=True)).to_be_visible()

    # A new contract: the address found by text, the tariff by name; the one-time password logs in.
    await clerk.get_by_role("link", name="Новый договор").click()
    await clerk.get_by_label("ФИО абонента").fill("Орлова Анна Петровна")
    await clerk.get_by_label("Найти адрес").fill("ленина 12 7")
    await clerk.get_by_role("button", name="Найти адрес").click()
    await expect(clerk.get_by_label(re.compile("улица Ленина, д. 12, кв. 7"))).to_be_checked()
    await clerk.get_by_label("Тариф", exact=True).select_option(value=str(tariff.id))
    await clerk.get_by_label("Телефон").fill("8 913 700-00-01")
    await shot(clerk, "office-contract")
    await clerk.get_by_role("button", name="Далее: проверить").click()
    await expect(clerk.locator("#confirm-summary")).to_have_text(
        "Орлова Анна Петровна, Новокузнецк, улица Ленина, д. 12, кв. 7, тариф «Интернет 300»")
    await clerk.get_by_role("button", name="Оформить договор").click()
    one_time = (await clerk.get_by_label("Одноразовый пароль").inner_text()).strip()
    contract = (await Subscriber.objects().where(Subscriber.full_name == "Орлова Анна Петровна")
                .first()).contract_number

    await page.goto("/cabinet/login")
    await page.get_by_label("Номер договора").fill(contract)
    await page.get_by_label("Пароль", exact=True).fill(one_time)
    await page.get_by_role("button", name="Войти").click()
    await expect(page).to_have_url(re.compile(r"/cabinet/activate$"))


async def test_termination_shows_the_settlement_then_ends_the_contract(staff_page):
    s = await smirnov()
    await post_entry(s.id, 100000, EntryKind.PAYMENT, "pay-before-termination")
    await make_staff("oper", role="operator")
    page = staff_page
    await open_card(page, "oper", "ЛЕНИНА 10 5")
    await expect(page.get_by_role("link", name="Принять оплату")).to_have_count(0)
    await page.get_by_role("link", name="Расторгнуть договор").click()
    await page.get_by_label("Причина").select_option(label="Переезд")
    await shot(page, "office-terminate")
    await page.get_by_role("button", name="Далее: проверить").click()
    await expect(page.locator("#confirm-summary")).to_contain_text(
        f"договор {s.contract_number}, Смирнов Д. И., расторжение с")
    row = await Subscriber.select(Subscriber.status).where(Subscriber.id == s.id).first()
    assert row["status"] == SubscriberStatus.ACTIVE  # the preview changed nothing
    await page.get_by_role("button", name="Расторгнуть договор").click()
    await expect(page.get_by_role("status")).to_have_text("Расторжение оформлено.")
    await expect(page.locator(".status-terminated")).to_be_visible()
    row = await Subscriber.select(Subscriber.status).where(Subscriber.id == s.id).first()
    assert row["status"] == SubscriberStatus.TERMINATED


async def test_charge_run_refuses_a_future_month_and_runs_after_the_preview(staff_page):
    await smirnov(fee=140050)
    await make_staff("boss", role="administrator")
    page = staff_page
    await staff_login(page, "boss", STAFF_PASSWORD)
    await page.get_by_role("link", name="Офис: сегодня и поиск абонента").click()
    await page.get_by_role("link", name="Начисление абонентской платы").first.click()
    future = Month.current().next.iso
    await page.get_by_label("Месяц").fill(future)
    await page.get_by_role("button", name="Показать, что будет начислено").click()
    await expect(page.get_by_role("alert")).to_contain_text(f"Период {future} ещё не наступил")
    assert await BillingRun.count() == 0

    await page.get_by_label("Месяц").fill(Month.current().iso)
    await page.get_by_role("button", name="Показать, что будет начислено").click()
    await expect(page.locator("#confirm-summary")).to_contain_text("договоров — 1, сумма — 1\u00a0400,50")
    await shot(page, "office-charge-preview")
    assert await LedgerEntry.count() == 0
    await page.get_by_role("button", name="Начислить").click()
    await expect(page.locator("#charge-done")).to_contain_text("договоров — 1")
    assert (await BillingRun.objects().first()).started_by == "boss"


async def test_landing_page_links_into_lists(staff_page):
    from tables.audit import Actor
    from tables.payments.office import book_office_payment
    from tables.requests.filing import file_request

    s = await smirnov()
    other = await make_subscriber(full_name="Кузнецов Илья Петрович")
    await book_office_payment(s.id, 50000, actor=Actor("kassa"))
    await post_entry(other.id, -30000, EntryKind.ADJUSTMENT, "debt-landing")
    await file_request(other.id, "repair", topic="no_internet")
    await make_staff("boss", role="administrator")
    page = staff_page
    await staff_login(page, "boss", STAFF_PASSWORD)
    await page.goto("/office/")
    await expect(page.locator("#today-payments")).to_have_text("1 на 500,00\u00a0₽")
    await expect(page.locator("#today-debtors")).to_have_text("1")
    await expect(page.get_by_role("row", name=re.compile("Неисправность 1"))).to_be_visible()
    await shot(page, "office-home")
    # Each figure opens the admin's list with the same filter.
    await page.get_by_role("link", name="Платежи за сегодня").click()
    await expect(page).to_have_url(re.compile(r"/admin/#/payment\?created_at__operator=gte"))
    listed = page.locator("table:not(.column_list) tr:has(td)")  # not the CSV export's column picker
    await expect(listed).to_have_count(1)
    await page.goto("/office/")
    await page.get_by_role("link", name="Неисправность").click()
    await expect(listed).to_have_count(1)
    await expect(listed).to_contain_text("Z-")
    await page.goto("/office/")
    await page.get_by_role("link", name="Должники").click()
    await expect(listed).to_have_count(1)
    await expect(listed).to_contain_text(other.contract_number)
