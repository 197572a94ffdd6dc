"""The traffic charts in Chromium (issue 32): the subscriber's connection page draws the month by
day and the last twelve months as SVG with a title and a description, the numbers as tables,
and the month picker switches the month; no script or console errors on the way."""

from __future__ import annotations

from playwright.async_api import expect

from tables.calendar import utcnow
from tables.month import Month
from tables.network import NetworkAccess
from tables.radius import account
from tests.support.browser import add_subscriber_session, check_layout
from tests.support.factories import make_subscriber


async def test_the_subscriber_reads_the_traffic_charts_and_chooses_a_month(page, viewport, live_server):
    s = await make_subscriber()
    await NetworkAccess(subscriber=s.id, login="chart-login", password="pw").save()
    session = {"User-Name": "chart-login", "Acct-Session-Id": "chart-1"}
    await account({**session, "Acct-Status-Type": "Start"}, "127.0.0.1")
    await account({**session, "Acct-Status-Type": "Interim-Update", "Acct-Output-Octets": "1288490188",
                   "Acct-Input-Octets": "52428800"}, "127.0.0.1")
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    await add_subscriber_session(page.context, live_server, s.id)
    await page.goto("/cabinet/internet")
    current = Month.current(utcnow())

    charts = page.locator("figure.chart-box svg.chart")
    await expect(charts).to_have_count(2)
    by_day, by_month = charts.nth(0), charts.nth(1)
    await expect(by_day).to_be_visible()
    assert await by_day.get_attribute("role") == "img"
    assert await by_day.get_attribute("aria-label") == f"Трафик по дням, {current.title}"
    assert "таблице" in await by_day.locator("desc").text_content()
    assert await by_day.locator("rect title").count() == 2 * current.days  # two bars a day
    assert await by_month.locator("rect title").count() == 2 * 12
    await expect(page.get_by_role("table").first).to_contain_text("1,2\u00a0ГБ")
    await expect(page.get_by_role("table").nth(1)).to_contain_text("50,0\u00a0МБ")
    await check_layout(page)

    earlier = current - 2
    await page.get_by_label("Месяц", exact=True).select_option(earlier.iso)
    await page.get_by_role("button", name="Показать").click()
    await expect(page).to_have_url(f"{live_server}/cabinet/internet?month={earlier.iso}")
    await expect(page.locator("figure.chart-box svg.chart").first).to_have_attribute(
        "aria-label", f"Трафик по дням, {earlier.title}")
    await expect(page.get_by_text(f"За {earlier.title} трафика не было")).to_be_visible()
    await check_layout(page)
    assert errors == []
