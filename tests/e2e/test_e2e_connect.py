"""Journey 5: a visitor applies for a connection on the public site; a clerk turns the application
into a contract with the admin's «Оформить договор по заявке»; the one-time password from the
admin's message logs in and must be replaced.

Each run of this test stores one application from 127.0.0.1, and the server counts them per IP
(``PUBLIC_FORM_PER_IP``: 5 an hour, in-process, for the whole session): the e2e session stays at
two (phone and desktop). A new test that posts /connect must keep the total under five.
"""

from __future__ import annotations

import re

from playwright.async_api import expect

from tables.requests.queue import ServiceRequest
from tables.subscribers import Subscriber
from tests.support.browser import check_layout, staff_login, submit_admin_form
from tests.support.factories import make_address, make_tariff
from tests.support.helpers import STAFF_PASSWORD, make_staff

CONVERTED = re.compile(r"По заявке (\S+) оформлен договор № (\d+)\. Одноразовый пароль для входа: (\S+) —")
NEW_PASSWORD = "Сосна-на-горе-2026"


async def test_connection_application_becomes_a_contract(page, staff_page, viewport):
    tariff = await make_tariff(name="Интернет 200", fee=65000)
    await make_address(town="Осинники", street="улица Победы", house="3", apartment="1")
    await make_staff("operator3", role="operator")

    # The visitor: the public application form (the hidden honeypot stays empty).
    await page.goto("/connect")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Заявка на подключение")
    await check_layout(page)
    await page.get_by_label("Как к вам обращаться").fill("Лебедев Артём Олегович")
    await page.get_by_label("Телефон").fill("+7 913 555-12-34")
    await page.get_by_label("Город").select_option(label="Осинники")
    await page.get_by_label("Улица").fill("улица Победы")
    await page.get_by_label("Дом", exact=True).fill("3")
    await page.get_by_label("Квартира").fill("8")
    await page.get_by_label("Тариф", exact=True).select_option(value=str(tariff.id))
    await page.get_by_label("Когда вам удобно ответить на звонок").fill("после 18:00")
    await page.get_by_label(re.compile("Согласен на обработку персональных данных")).check()
    assert await page.locator("input[name=website]").input_value() == ""
    await page.get_by_role("button", name="Отправить заявку").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Заявка отправлена")
    number = (await page.locator(".price").inner_text()).removeprefix("Номер заявки:").strip()
    assert await ServiceRequest.count().where(ServiceRequest.kind == "connection") == 1
    await check_layout(page)

    # The clerk converts it into a contract; the message carries the one-time password.
    await staff_login(staff_page, "operator3", STAFF_PASSWORD)
    message = await submit_admin_form(staff_page, "Оформить договор по заявке", {"number": number})
    match = CONVERTED.search(message)
    assert match and match.group(1) == number, message
    contract, one_time = match.group(2), match.group(3)
    row = await Subscriber.objects().where(Subscriber.contract_number == contract).first()
    assert row is not None and row.full_name == "Лебедев Артём Олегович" and row.must_change_password

    # The new subscriber logs in with it and has to choose a password first.
    await page.goto("/cabinet/login")
    await page.get_by_label("Номер договора").fill(contract)
    await page.get_by_label("Пароль", exact=True).fill(one_time)
    await page.get_by_role("button", name="Войти").click()
    await expect(page).to_have_url(re.compile(r"/cabinet/activate$"))
    await page.goto("/cabinet/requests")
    await expect(page).to_have_url(re.compile(r"/cabinet/activate$"))
    await page.get_by_label("Пароль, с которым вы вошли").fill(one_time)
    await page.get_by_label("Новый пароль", exact=True).fill(NEW_PASSWORD)
    await page.get_by_label("Новый пароль ещё раз").fill(NEW_PASSWORD)
    await page.get_by_role("button", name="Сохранить пароль").click()
    await expect(page).to_have_url(re.compile(r"/cabinet/\?changed=1$"))
    await expect(page.get_by_text(f"Договор № {contract}")).to_be_visible()
    await expect(page.get_by_text("Тариф «Интернет 200»")).to_be_visible()
    await check_layout(page)
