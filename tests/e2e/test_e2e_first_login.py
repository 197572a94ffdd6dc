"""Journey 1: a clerk signs a contract from the admin's sidebar (the office page), the subscriber
logs in with the printed one-time password, must set a password of their own, sees the
dashboard, then the month's statement, and downloads it as CSV.
"""

from __future__ import annotations

import re
from pathlib import Path

from playwright.async_api import expect

from tables.ledger import post_entry
from tables.month import Month
from tables.subscribers import Subscriber
from tests.support.browser import check_layout, staff_login
from tests.support.factories import make_address, make_tariff
from tests.support.helpers import STAFF_PASSWORD, make_staff

NEW_PASSWORD = "Кедр-у-реки-2026"


async def test_new_contract_one_time_password_then_own_password(page, staff_page, viewport):
    tariff = await make_tariff(name="Интернет 100", fee=55000)
    await make_address(street="проспект Бардина", house="7", apartment="12")
    await make_staff("operator1", role="operator")

    # The clerk: «Новый договор» in the admin's sidebar opens the office page (the address found
    # by text, the tariff by name), which ends on the contract number and a one-time password.
    await staff_login(staff_page, "operator1", STAFF_PASSWORD)
    await staff_page.get_by_role("link", name="Новый договор", exact=True).click()
    await expect(staff_page).to_have_url(re.compile(r"/office/contracts/new$"))
    await staff_page.get_by_label("ФИО абонента").fill("Смирнова Ольга Ивановна")
    await staff_page.get_by_label("Найти адрес").fill("бардина 7 12")
    await staff_page.get_by_role("button", name="Найти адрес").click()
    await expect(staff_page.get_by_label(re.compile("проспект Бардина, д. 7, кв. 12"))).to_be_checked()
    await staff_page.get_by_label("Тариф", exact=True).select_option(value=str(tariff.id))
    await staff_page.get_by_label("Телефон").fill("+79039876543")
    await staff_page.get_by_role("button", name="Далее: проверить").click()
    await staff_page.get_by_role("button", name="Оформить договор").click()
    one_time = (await staff_page.get_by_label("Одноразовый пароль").inner_text()).strip()
    contract = (await Subscriber.objects().where(Subscriber.full_name == "Смирнова Ольга Ивановна")
                .first()).contract_number
    await expect(staff_page.get_by_role("heading", level=1)).to_contain_text(contract)

    # The subscriber: the cabinet asks for a login first.
    await page.goto("/cabinet/")
    await expect(page).to_have_url(re.compile(r"/cabinet/login"))
    await check_layout(page)
    await page.get_by_label("Номер договора").fill(contract)
    await page.get_by_label("Пароль", exact=True).fill(one_time)
    await page.get_by_role("button", name="Войти").click()

    # A one-time password leads only to the page that replaces it, whatever is asked for.
    await expect(page).to_have_url(re.compile(r"/cabinet/activate$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Задайте свой пароль")
    await check_layout(page)
    await page.goto("/cabinet/password")
    await expect(page).to_have_url(re.compile(r"/cabinet/activate$"))

    # A mismatch is explained and changes nothing.
    await page.get_by_label("Пароль, с которым вы вошли").fill(one_time)
    await page.get_by_label("Новый пароль", exact=True).fill(NEW_PASSWORD)
    await page.get_by_label("Новый пароль ещё раз").fill(NEW_PASSWORD + "x")
    await page.get_by_role("button", name="Сохранить пароль").click()
    await expect(page.get_by_role("alert")).to_have_text("Пароли не совпадают.")
    await check_layout(page)

    await page.get_by_label("Пароль, с которым вы вошли").fill(one_time)
    await page.get_by_label("Новый пароль", exact=True).fill(NEW_PASSWORD)
    await page.get_by_label("Новый пароль ещё раз").fill(NEW_PASSWORD)
    await page.get_by_role("button", name="Сохранить пароль").click()

    # The dashboard: contract, tariff and balance.
    await expect(page).to_have_url(re.compile(r"/cabinet/\?changed=1$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Личный кабинет")
    await expect(page.get_by_role("status")).to_have_text("Пароль изменён.")
    await expect(page.get_by_text(f"Договор № {contract}")).to_be_visible()
    await expect(page.get_by_text("Тариф «Интернет 100»")).to_be_visible()
    await expect(page.get_by_text(re.compile(r"Баланс: 0,00\s₽"))).to_be_visible()
    await check_layout(page)
    row = await Subscriber.objects().where(Subscriber.contract_number == contract).first()
    assert row is not None and not row.must_change_password

    # The one-time password is spent; the new one opens the dashboard directly.
    await page.get_by_role("button", name="Выйти").click()
    await expect(page.get_by_role("status")).to_have_text("Вы вышли из личного кабинета.")
    await page.get_by_label("Номер договора").fill(contract)
    await page.get_by_label("Пароль", exact=True).fill(one_time)
    await page.get_by_role("button", name="Войти").click()
    await expect(page.get_by_role("alert")).to_be_visible()
    await expect(page).to_have_url(re.compile(r"/cabinet/login$"))
    await page.get_by_label("Пароль", exact=True).fill(NEW_PASSWORD)
    await page.get_by_role("button", name="Войти").click()
    await expect(page).to_have_url(re.compile(r"/cabinet/$"))
    await expect(page.get_by_text(f"Договор № {contract}")).to_be_visible()
    await check_layout(page)

    # The statement: this month's entries, then the same as a CSV file for Excel.
    assert row is not None
    await post_entry(row.id, 100000, "payment", f"e2e-pay-{row.id}", comment="Оплата в кассе")
    await post_entry(row.id, -55000, "charge", f"charge:{row.id}:e2e", period=str(Month.current()))
    await page.get_by_role("link", name="Выписка").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Выписка по счёту")
    month = page.locator("section.statement-month")
    await expect(month.get_by_role("heading", level=2)).to_have_text(re.compile(r"^[А-Я][а-я]+ \d{4}$"))
    await expect(month.get_by_role("row")).to_have_count(3)  # header + two entries
    await expect(month.get_by_text("Оплата в кассе")).to_be_visible()
    await expect(month.get_by_text(re.compile(r"Исходящий остаток\s*450,00\s₽"))).to_be_visible()
    await check_layout(page)
    async with page.expect_download() as info:
        await page.get_by_role("button", name="Скачать CSV (Excel)").click()
    download = await info.value
    assert download.suggested_filename.startswith(f"statement-{contract}-")
    data = Path(await download.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf"), data[:20]
    text = data.decode("utf-8-sig")
    assert f"Договор № {contract}" in text
    assert ";1000,00;1000,00" in text and ";-550,00;450,00" in text, text
