"""Piccolo Admin's own "Export CSV", as a clerk clicks it: the browser builds the file from the
table API, and a rating comment ``=HYPERLINK(…)`` comes out as text (backoffice/admin_csv.py)."""

from __future__ import annotations

import csv
import io

from playwright.async_api import expect

from tables.calendar import utcnow
from tables.ratings import CabinetRating
from tests.support.browser import staff_login
from tests.support.helpers import STAFF_PASSWORD, make_staff

FORMULA = '=HYPERLINK("http://x","y")'


async def test_admin_csv_export_neutralises_a_formula_in_a_rating_comment(staff_page):
    await CabinetRating(score=1, comment=FORMULA, period=utcnow().strftime("%Y-%m"),
                        created_at=utcnow()).save()
    await CabinetRating(score=5, comment="+7 (913) 123-45-67", period=utcnow().strftime("%Y-%m"),
                        created_at=utcnow()).save()
    await make_staff("clerk3")
    await staff_login(staff_page, "clerk3", STAFF_PASSWORD)
    await staff_page.goto("/admin/#/cabinet_rating/")
    await staff_page.locator("[data-uitest=csv_button]").click()
    await expect(staff_page.locator("[data-uitest=csv_modal]")).to_be_visible()
    async with staff_page.expect_download() as info:
        await staff_page.locator("[data-uitest=download_csv_button]").click()
    download = await info.value
    text = open(await download.path(), encoding="utf-8").read()
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    comments = sorted(row["comment"] for row in rows)
    assert comments == ["'" + FORMULA, "+7 (913) 123-45-67"], text
