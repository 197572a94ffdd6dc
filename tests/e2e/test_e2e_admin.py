"""The admin as each role sees it in Chromium: every table and form the role may use, walked
from the admin's configuration (a table or form added later is covered without editing this).

For each role: log in through the admin's login screen; the sidebar lists exactly the tables,
forms and office links of the role (``backoffice.roles``); every such table's list renders rows, headers in
Russian and money as roubles; its first row's edit page renders its fields in Russian; every
form renders; no script error and no failed request of ours on the way. Then the operator's
documented right: edit a subscriber's phone on the edit page (stored), and Russian refusals
for a field and a table the role may not change.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from backoffice.admin import STAFF_TABLES
from backoffice.forms import FORMS
from backoffice.labels import column_title, has_cyrillic
from backoffice.roles import FORM_MATRIX, R, sidebar_links, table_allows
from backoffice.tables import TABLE_CONFIGS
from tables.money import is_kopecks
from tables.staff import Role
from tables.subscribers import Subscriber
from tests.backoffice.test_roles import _one_row_each
from tests.support.browser import ROOT, staff_login
from tests.support.factories import make_address, make_subscriber
from tests.support.helpers import STAFF_PASSWORD, make_staff

CONFIGS = [*TABLE_CONFIGS, *STAFF_TABLES]
RUBLES = re.compile(r"^-?\d{1,3}([\u00a0 ]\d{3})*,\d{2}$")
SCREENSHOTS = ROOT / "docs" / "screenshots"


def _tables_of(role: Role) -> list[Any]:
    return [c.table_class for c in CONFIGS if table_allows(c.table_class._meta.tablename, role, R)]


def _forms_of(role: Role) -> list[Any]:
    return [f for f in FORMS if role in FORM_MATRIX.get(f.name, {Role.ADMINISTRATOR})]


def _watch(page: Page) -> list[str]:
    """Script errors and failed requests of the admin, from now on."""
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"{page.url}: {exc}"))
    page.on("console", lambda msg: problems.append(f"{page.url}: {msg.text}")
            if msg.type == "error" and "favicon.ico" not in (msg.location or {}).get("url", "") else None)
    return problems


async def _first_row_id(table: Any) -> Any:
    row = await table.select(table._meta.primary_key).order_by(table._meta.primary_key).first()
    assert row is not None, f"no row in {table._meta.tablename}: give it one in _seed"
    return row[table._meta.primary_key._meta.name]


async def _seed() -> None:
    await _one_row_each()  # a row in every table of the matrix
    for n, name in enumerate(["Смирнов Дмитрий Иванович", "Кузнецова Анна Сергеевна"]):
        await make_subscriber(full_name=name, address=await make_address(
            street="проспект Металлургов", house=str(12 + n), apartment=str(40 + n)))


async def _open(page: Page, path: str) -> None:
    """A fresh load of an admin page: moving between tables inside the app races its own
    fetches (rows of the last table drawn with the next one's columns), on a fast click too."""
    await page.goto("about:blank")
    await page.goto(path)


async def _check_list(page: Page, table: Any) -> None:
    name = table._meta.tablename
    await _open(page, f"/admin/#/{name}/")
    rows = page.locator("div.table_wrapper table tbody tr")
    await expect(rows.first).to_be_visible()
    headers = [h.strip() for h in await page.locator("div.table_wrapper table thead th").all_inner_texts()]
    headers = [h for h in headers if h]  # the checkbox and menu columns have none
    assert headers and all(has_cyrillic(h) for h in headers), (name, headers)
    money = {column_title(c) for c in table._meta.columns if is_kopecks(c)}
    for index, header in enumerate(await page.locator("div.table_wrapper table thead th").all_inner_texts()):
        if header.strip() in money:
            cells = await rows.locator(f"td:nth-child({index + 1})").all_inner_texts()
            assert cells and all(RUBLES.match(c.strip()) for c in cells if c.strip()), (name, header, cells)
    title = (await page.locator("h1").first.inner_text()).strip()
    assert has_cyrillic(title), (name, title)


async def _check_edit(page: Page, table: Any) -> None:
    name = table._meta.tablename
    await _open(page, f"/admin/#/{name}/{await _first_row_id(table)}/")
    form = page.locator("form").first
    await expect(form.locator("label").first).to_be_visible()
    labels = [t.strip() for t in await form.locator("label").all_inner_texts() if t.strip()]
    assert labels and all(has_cyrillic(t) for t in labels), (name, labels)


async def _check_form(page: Page, form: Any) -> None:
    await _open(page, f"/admin/#/forms/{form.slug}/")
    await expect(page.get_by_role("heading", level=1, name=form.name)).to_be_visible()
    await expect(page.get_by_role("button", name="Отправить")).to_be_visible()


async def _sidebar(page: Page, form_count: int, link_count: int) -> tuple[set[str], set[str], dict]:
    await page.goto("/admin/#/")
    await expect(page.locator("div.sidebar")).to_contain_text("Абоненты")
    # The forms and the links come from requests of their own, after the tables: wait for them.
    await expect(page.locator("div.sidebar a[href^='#/forms/']")).to_have_count(form_count)
    await expect(page.locator("div.sidebar a[href^='/']")).to_have_count(link_count)
    links = await page.locator("div.sidebar a").evaluate_all(
        "els => els.map(a => [a.getAttribute('href') || '', a.textContent.trim()])")
    tables = {re.sub(r"^#/|/$", "", href) for href, _ in links
              if re.match(r"^#/[a-z_]+/?$", href) and not href.startswith("#/forms")}
    forms = {text for href, text in links if href.startswith("#/forms/")}
    return tables, forms, {text: href for href, text in links if href.startswith("/")}


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
async def test_every_table_and_form_of_the_role_opens_in_russian(role, staff_page, live_server):
    await _seed()
    await make_staff(f"e2e_{role.value}", role=role.value)
    page = staff_page
    await staff_login(page, f"e2e_{role.value}", STAFF_PASSWORD)
    problems = _watch(page)  # the login screen's own 401s come before this
    tables, forms, links = _tables_of(role), _forms_of(role), sidebar_links(role)
    shown_tables, shown_forms, shown_links = await _sidebar(page, len(forms), len(links))
    assert shown_tables == {t._meta.tablename for t in tables}, role
    assert shown_forms == {f.name for f in forms}, role
    # The office pages that replaced the typed-id forms, for the roles that may use them.
    assert shown_links == links, role
    for table in tables:
        await _check_list(page, table)
        await _check_edit(page, table)
    for form in forms:
        await _check_form(page, form)
    assert not problems, "errors in the admin:\n" + "\n".join(problems)


async def test_operator_changes_a_phone_on_the_edit_page(staff_page, live_server):
    subscriber = await make_subscriber(full_name="Смирнов Дмитрий Иванович", phone="+79131112233")
    await make_staff("e2e_op", role="operator")
    page = staff_page
    await staff_login(page, "e2e_op", STAFF_PASSWORD)
    problems = _watch(page)
    await page.goto("/admin/#/subscriber/")
    await page.get_by_role("link", name=subscriber.contract_number, exact=True).click()
    await expect(page.get_by_role("heading", level=1, name="Изменить Абоненты")).to_be_visible()
    await page.locator("input[name=phone]").fill("+79135556677")
    await page.get_by_role("button", name="Сохранить").click()
    await expect(page.get_by_text("Изменения сохранены.")).to_be_visible()
    stored = await Subscriber.select(Subscriber.phone, Subscriber.balance, Subscriber.password_hash).where(
        Subscriber.id == subscriber.id).first()
    assert stored == {"phone": "+79135556677", "balance": 0, "password_hash": subscriber.password_hash}

    # A field of the contract the operator may not change: refused in Russian, nothing stored.
    await page.locator("select[name=router_rented]").select_option("true")
    await page.get_by_role("button", name="Сохранить").click()
    await expect(page.get_by_text("нельзя менять: «Арендует роутер»")).to_be_visible()
    await expect(page.get_by_text("Форма не сохранена: исправьте ошибки.")).to_be_visible()
    assert (await Subscriber.select(Subscriber.router_rented).first())["router_rented"] is False

    # A table the role may only read: adding a tariff is refused in Russian inside the form.
    await page.goto("/admin/#/tariff/add/")
    await page.locator("input[name=name]").fill("Чужой тариф")
    await page.locator("input[name=monthly_fee]").fill("500,00")
    await page.get_by_role("button", name="Создать").click()
    await expect(page.get_by_text("Вашей роли нельзя добавлять записи в таблицу «Тарифы».")).to_be_visible()
    # A table the role may not open at all, reached by its address.
    await page.goto("/admin/#/audit_entry/")
    await expect(page.get_by_role("alert")).to_have_text(
        "Вашей роли нельзя открывать таблицу «Журнал действий».")
    ours = [p for p in problems if "403" not in p]  # the refusals themselves are logged by Chromium
    assert not ours, "errors in the admin:\n" + "\n".join(ours)


async def test_rows_that_name_a_contract_open_its_card(staff_page, live_server):
    """A clerk reaches the subscriber card from every list row that names a contract: a
    payment's contract, a request's contract number, an audit entry's object, and the
    subscriber list's own rows (beside their edit link, without «Добавить строку»)."""
    from tables.audit import Actor
    from tables.ledger import post_adjustment
    from tables.payments.office import book_office_payment
    from tables.requests.filing import file_request

    smirnov = await make_subscriber(full_name="Смирнов Дмитрий Иванович")
    other = await make_subscriber(full_name="Кузнецова Анна Сергеевна")
    await book_office_payment(smirnov.id, 140050, actor=Actor(name="касса"))
    await post_adjustment(other.id, 1000, "проверка", actor=Actor(name="касса"))
    await file_request(other.id, kind="question", text="Вопрос по счёту")
    await make_staff("e2e_card", role="administrator")
    page = staff_page
    await staff_login(page, "e2e_card", STAFF_PASSWORD)
    problems = _watch(page)
    card = page.get_by_role("heading", level=1)

    await _open(page, "/admin/#/payment/")
    await page.get_by_role("link", name=f"{smirnov.contract_number} Смирнов Д. И.").click()
    await expect(page).to_have_url(re.compile(rf"/office/subscribers/{smirnov.contract_number}$"))
    await expect(card).to_have_text(f"Договор {smirnov.contract_number} — Смирнов Дмитрий Иванович")

    await _open(page, "/admin/#/service_request/")
    await page.get_by_role("link", name=other.contract_number, exact=True).click()
    await expect(card).to_contain_text(f"Договор {other.contract_number}")

    await _open(page, "/admin/#/audit_entry/?action=ledger.adjusted")
    await page.get_by_role("link", name=other.contract_number, exact=True).click()
    await expect(card).to_contain_text(f"Договор {other.contract_number}")

    await _open(page, "/admin/#/subscriber/")
    await expect(page.get_by_role("link", name=smirnov.contract_number, exact=True)).to_have_attribute(
        "href", re.compile(r"^#/subscriber/\d+/?$"))  # the edit page, as before
    await expect(page.get_by_role("link", name=re.compile("Добавить строку"))).to_have_count(0)
    await page.get_by_role("link", name=f"Карточка договора {smirnov.contract_number}").click()
    await expect(card).to_contain_text(f"Договор {smirnov.contract_number}")
    # A table where the role may add rows still offers it.
    await _open(page, "/admin/#/tariff/")
    await expect(page.get_by_role("link", name=re.compile("Добавить строку"))).to_have_count(1)
    assert not problems, "errors in the admin:\n" + "\n".join(problems)


async def test_subscriber_list_screenshot(staff_page, live_server):
    """docs/screenshots/admin-subscriber-list.png at 1280 px (``CENTRA_SCREENSHOTS=1`` writes it)."""
    from tables.commands.demo import TARIFFS
    from tables.ledger import post_entry
    from tables.tariffs import Tariff

    tariffs = [Tariff(**spec) for spec in TARIFFS]
    for tariff in tariffs:
        await tariff.save()
    people = [("Иванов Иван Петрович", "улица Кирова", 150050), ("Смирнов Дмитрий Иванович",
              "проспект Металлургов", -140050), ("Кузнецова Анна Сергеевна", "улица Ленина", 35000),
              ("Волков Михаил Сергеевич", "проспект Бардина", 0)]
    for n, (name, street, balance) in enumerate(people):
        address = await make_address(street=street, house=str(3 + n), apartment=str(12 + n))
        s = await make_subscriber(full_name=name, tariff=tariffs[n % len(tariffs)],
                                  phone=f"+7913555000{n}", address=address)
        if balance:
            await post_entry(s.id, balance, "payment" if balance > 0 else "adjustment", f"shot-{n}")
    await make_staff("e2e_shot", role="operator")
    await staff_login(staff_page, "e2e_shot", STAFF_PASSWORD)
    await staff_page.goto("/admin/#/subscriber/")
    await expect(staff_page.locator("div.table_wrapper table tbody tr").first).to_be_visible()
    if os.environ.get("CENTRA_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await staff_page.screenshot(path=Path(SCREENSHOTS / "admin-subscriber-list.png"))


async def test_a_maintenance_window_typed_as_10_00_is_10_00_novokuznetsk(staff_page, live_server):
    """The admin's time fields are Novokuznetsk time whatever the browser kept (they were UTC:
    10:00 typed was stored as 10:00 UTC and shown on the site as 17:00)."""
    import datetime as dt

    from tables.content import NewsItem

    await make_staff("e2e_news", role="operator")
    page = staff_page
    await page.goto("/admin/")
    await page.evaluate("() => localStorage.setItem('defaultTimezone', 'UTC')")  # as before
    await staff_login(page, "e2e_news", STAFF_PASSWORD)
    await page.goto("/admin/#/news_item/add/")

    def moment(name: str) -> Any:
        return page.locator(f"input[name={name}]").locator(
            "xpath=preceding-sibling::div[1]//input[@type='datetime-local']")

    # The form is drawn in steps (schema, then defaults): typing before its last field is there
    # lost the title once on a loaded machine (saved untitled, "Запись добавлена." all the same).
    await expect(moment("ends_at")).to_be_visible()
    await page.locator("input[name=title]").fill("Плановые работы на Кирова")
    await page.locator("textarea[name=body]").first.fill("Возможны перерывы связи.")
    await moment("published_at").fill("2026-12-07T09:00")
    await moment("starts_at").fill("2026-12-10T10:00")
    await moment("ends_at").fill("2026-12-10T12:30")
    await expect(page.locator("input[name=title]")).to_have_value("Плановые работы на Кирова")
    await expect(moment("starts_at")).to_have_value("2026-12-10T10:00")
    await page.get_by_role("button", name="Создать").click()
    await expect(page.get_by_text("Запись добавлена.")).to_be_visible()
    item = await NewsItem.objects().where(NewsItem.title == "Плановые работы на Кирова").first()
    assert item is not None, f"not saved under its title: {await NewsItem.select(NewsItem.title)}"
    assert item.starts_at == dt.datetime(2026, 12, 10, 3, 0, tzinfo=dt.UTC)
    assert item.ends_at == dt.datetime(2026, 12, 10, 5, 30, tzinfo=dt.UTC)
    await page.goto("/admin/#/news_item/")
    await expect(page.locator("div.table_wrapper table tbody")).to_contain_text("10.12.2026 10:00")
