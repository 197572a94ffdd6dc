"""Journey 4: a subscriber reports a fault in the cabinet; a clerk takes it, replies and closes it
through the admin's request forms; the subscriber reads the reply and the final state."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tables.requests.queue import ServiceRequest
from tests.support.browser import add_subscriber_session, check_layout, staff_login, submit_admin_form
from tests.support.factories import make_subscriber
from tests.support.helpers import STAFF_PASSWORD, make_staff

REPLY = "Мастер придёт завтра с 10:00 до 12:00, проверит кабель в подъезде."
RESULT = "Заменён разъём на линии в подъезде, скорость восстановлена."


async def test_repair_request_answered_and_closed_by_a_clerk(page, staff_page, live_server, viewport):
    subscriber = await make_subscriber(full_name="Орлов Денис Викторович")
    await make_staff("operator2", role="operator")
    await add_subscriber_session(page.context, live_server, subscriber.id)

    # The subscriber files the request.
    await page.goto("/cabinet/requests/new?kind=repair")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Неисправность")
    await check_layout(page)
    await page.get_by_role("button", name="Отправить заявку").click()
    # No topic chosen: the browser's own check holds the form (the field is required).
    assert await page.locator("input[name=topic]").first.evaluate("el => !el.validity.valid")
    await expect(page).to_have_url(re.compile(r"/cabinet/requests/new\?kind=repair$"))
    assert await ServiceRequest.count() == 0
    await page.get_by_label("Низкая скорость").check()
    await page.get_by_label("Подробности").fill("Вечером скорость падает до 2 Мбит/с.")
    await page.get_by_label("Когда удобно принять мастера или звонок").fill("будни после 18:00")
    await page.get_by_role("button", name="Отправить заявку").click()
    await expect(page).to_have_url(re.compile(r"/cabinet/requests/\d+\?filed=1$"))
    heading = await page.get_by_role("heading", level=1).inner_text()
    number = heading.removeprefix("Заявка ").strip()
    await expect(page.locator(".status")).to_have_text("Новая")
    await check_layout(page)

    # The clerk: take it, answer, close it — Piccolo Admin's own form screens.
    await staff_login(staff_page, "operator2", STAFF_PASSWORD)
    message = await submit_admin_form(staff_page, "Взять заявку в работу", {"number": number})
    assert message.strip() == f"Заявка {number} в работе.", message
    await staff_page.goto("/admin/")
    message = await submit_admin_form(staff_page, "Ответить по заявке",
                                      {"number": number, "message": REPLY})
    assert "отправлен абоненту" in message, message
    await staff_page.goto("/admin/")
    message = await submit_admin_form(staff_page, "Закрыть заявку как выполненную",
                                      {"number": number, "result": RESULT})
    assert message.strip() == f"Заявка {number} выполнена.", message

    # The subscriber sees the reply, the result and the state, in the list and on the request.
    await page.goto("/cabinet/requests")
    await expect(page.get_by_role("link", name=re.compile(re.escape(number)))).to_be_visible()
    await check_layout(page)
    await page.get_by_role("link", name=re.compile(re.escape(number))).first.click()
    await expect(page.locator(".status")).to_have_text("Выполнена")
    await expect(page.get_by_text(REPLY)).to_be_visible()
    await expect(page.get_by_text(RESULT).first).to_be_visible()
    await expect(page.get_by_role("button", name="Отменить заявку")).to_have_count(0)
    await check_layout(page)
