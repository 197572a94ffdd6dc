"""Journey 6: a manager logs in to the office, opens a report with its chart and downloads the XLSX
(made in the background: the job page shows the progress, then offers the file)."""

from __future__ import annotations

import io
import re

from openpyxl import load_workbook
from playwright.async_api import expect

from tables.audit import Actor
from tables.payments.office import book_office_payment
from tests.support.browser import check_layout, staff_login
from tests.support.factories import make_subscriber
from tests.support.helpers import STAFF_PASSWORD, make_staff


async def test_manager_opens_a_report_and_downloads_xlsx(page, viewport):
    subscriber = await make_subscriber()
    await book_office_payment(subscriber.id, 65050, actor=Actor("cashier"))
    await make_staff("manager2", role="manager")

    await staff_login(page, "manager2", STAFF_PASSWORD)
    await page.goto("/reports/")
    await check_layout(page)
    await page.get_by_role("link", name="Платежи", exact=True).first.click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Платежи")
    chart = page.locator("figure.chart-box svg").first
    await expect(chart).to_be_visible()
    assert await chart.get_attribute("role") == "img"
    await expect(page.locator("table")).to_contain_text("650,50")
    await check_layout(page)

    # The XLSX is made in the background: its page shows the progress, then offers the file.
    await page.get_by_role("button", name="Excel (XLSX)").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Выгрузка №")
    await expect(page.locator("progress")).to_be_visible()
    download_link = page.get_by_role("link", name=re.compile("^Скачать"))
    await expect(download_link).to_be_visible(timeout=30_000)  # the page reloads itself meanwhile
    await check_layout(page)
    async with page.expect_download() as info:
        await download_link.click()
    download = await info.value
    assert download.suggested_filename.endswith(".xlsx")
    content = open(await download.path(), "rb").read()
    sheet = load_workbook(io.BytesIO(content), read_only=True).worksheets[0]
    cells = [c for row in sheet.iter_rows(values_only=True) for c in row if c is not None]
    assert any(isinstance(c, (int, float)) and abs(c - 650.5) < 0.001 for c in cells), cells[:40]
