"""Report pages and downloads: staff only; the page's table equals the CSV and the XLSX."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from html.parser import HTMLParser

import openpyxl
import pytest
from piccolo.apps.user.tables import BaseUser
from piccolo_api.session_auth.tables import SessionsBase

from tables.reports import REPORTS
from tests.support import report_data
from tests.support.helpers import admin_login, make_staff

ROUTES = ["/reports/", "/reports/payments", "/reports/debtors?on=2026-11-20",
          "/reports/payments/export.csv", "/reports/payments/export.xlsx",
          "/reports/debtors/export.csv", "/reports/data/ledger/export.csv",
          "/reports/data/ledger/export.xlsx", "/reports/data/payment-list/export.csv"]


class TableParser(HTMLParser):
    """Cell texts of ``<table id="report-table">``."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.inside = False
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "table" and ("id", "report-table") in attrs:
            self.inside = True
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.inside = False
        elif self.inside and tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append("".join(self.cell))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def screen_table(html: str) -> list[list[str]]:
    parser = TableParser()
    parser.feed(html)
    return parser.rows


def norm(text: str) -> str:
    """What differs only in presentation: digit grouping spaces and the rouble sign."""
    return re.sub(r"[\s\u00a0\u202f₽]", "", text)


def xlsx_rows(content: bytes) -> list[list[object]]:
    sheet = openpyxl.load_workbook(io.BytesIO(content)).worksheets[0]
    return [list(r) for r in sheet.iter_rows(values_only=True)]


@pytest.fixture
async def staff_client(client):
    """A staff session as the admin login creates it (the login itself is rate limited to 20 per
    5 minutes per process, so most tests create the session directly; see the login test below)."""
    staff = await BaseUser(username="clerk", password="pbkdf2_sha256$no-login", active=True, admin=True,
                           email="clerk@centra.test").save()
    from tables.audit import SYSTEM
    from tables.staff import set_role

    await set_role(staff[0]["id"], "manager", actor=SYSTEM)
    client.cookies.set("id", (await SessionsBase.create_session(staff[0]["id"])).token)
    return client


@pytest.mark.parametrize("role", ["operator", "cashier"])
async def test_staff_without_the_manager_role_gets_no_report(client, role):
    await make_staff(f"no_reports_{role}", role=role)
    await admin_login(client, f"no_reports_{role}")
    for path in ("/reports/", "/reports/payments", "/reports/payments/export.csv",
                 "/reports/debtors/export.xlsx"):
        response = await client.get(path)
        assert response.status_code == 403, path
        assert "text/csv" not in response.headers.get("content-type", "")


async def test_a_subscriber_session_gets_no_report(client):
    from tests.support.factories import make_subscriber
    from tests.support.helpers import sign_in

    subscriber = await make_subscriber()
    await sign_in(client, subscriber.id)
    assert (await client.get("/cabinet/")).status_code == 200
    for path in ("/reports/", "/reports/payments/export.csv"):
        assert (await client.get(path)).status_code == 401, path


async def test_the_admin_login_cookie_opens_reports(client):
    await make_staff()
    assert (await client.get("/reports/")).status_code == 401
    await admin_login(client)
    response = await client.get("/reports/")
    assert response.status_code == 200 and "Отчёты" in response.text
    assert (await client.get("/admin/api/links/")).json()["Отчёты"] == "/reports/"


@pytest.mark.parametrize("path", ROUTES)
async def test_anonymous_gets_no_reports(client, path):
    await report_data.build()
    response = await client.get(path)
    assert response.status_code == 401
    assert "text/html" in response.headers["content-type"]
    assert "Войти в офис" in response.text
    # No report data: the contracts' names ("Абонент …"; the site's header tab is «Абонентам»).
    assert "Абонент " not in response.text and "report-table" not in response.text


@pytest.mark.parametrize("cookie", ["forged-token", "", "x" * 500])
async def test_an_unknown_session_cookie_gets_nothing(client, cookie):
    client.cookies.set("id", cookie)
    for path in ROUTES:
        assert (await client.get(path)).status_code == 401, path


async def test_only_active_staff_sessions_count(client):
    """A session of a non-staff, inactive or expired user is refused."""
    plain = await BaseUser.create_user(username="viewer", password="viewer-pass-1", active=True,
                                       email="viewer@centra.test", admin=False)
    inactive = await BaseUser.create_user(username="gone", password="gone-pass-1", active=False,
                                          email="gone@centra.test", admin=True)
    staff = await make_staff("boss")
    now = dt.datetime.now()
    tokens = [
        (await SessionsBase.create_session(plain.id)).token,
        (await SessionsBase.create_session(inactive.id)).token,
        (await SessionsBase.create_session(staff.id, expiry_date=now - dt.timedelta(minutes=1))).token,
    ]
    for token in tokens:
        client.cookies.set("id", token)
        assert (await client.get("/reports/payments")).status_code == 401
    client.cookies.set("id", (await SessionsBase.create_session(staff.id)).token)
    assert (await client.get("/reports/payments")).status_code == 200


async def test_staff_sees_every_report_with_a_chart(staff_client):
    await report_data.build()
    index = await staff_client.get("/reports/")
    assert index.status_code == 200
    for slug, spec in REPORTS.items():
        assert f'href="/reports/{slug}"' in index.text
        for group in list(spec.groups) or [""]:
            response = await staff_client.get(f"/reports/{slug}",
                                              params={"from": "2026-08", "to": "2026-11", "group": group})
            assert response.status_code == 200, (slug, group)
            assert 'id="report-table"' in response.text
            if slug != "comments":
                assert "<svg" in response.text, slug
            assert "<script" not in response.text
            assert f"/reports/{slug}/export.csv?" in response.text


@pytest.mark.parametrize(("slug", "query"), [
    ("payments", {"from": "2026-08", "to": "2026-11"}),
    ("payments", {"from": "2026-10", "to": "2026-10", "group": "day"}),
    ("payments", {"from": "2026-08", "to": "2026-11", "group": "brand"}),
    ("payments", {"from": "2026-08", "to": "2026-11", "channel": "card"}),
    ("accounting", {"from": "2026-08", "to": "2026-11"}),
    ("accounting", {"from": "2026-10", "to": "2026-10", "channel": "cabinet"}),
    ("billing", {"from": "2026-08", "to": "2026-11"}),
    ("debtors", {"on": "2026-11-20"}),
    ("arpu", {"from": "2026-08", "to": "2026-11"}),
    ("subscribers", {}),
    ("churn", {"from": "2026-08", "to": "2026-11", "group": "reason"}),
    ("requests", {"from": "2026-11", "to": "2026-11"}),
    ("ratings", {"from": "2026-09", "to": "2026-11"}),
    ("comments", {"from": "2026-09", "to": "2026-11"}),
])
async def test_csv_and_xlsx_equal_the_screen(staff_client, slug, query):
    await report_data.build()
    page = await staff_client.get(f"/reports/{slug}", params=query)
    assert page.status_code == 200
    screen = [[norm(c) for c in row] for row in screen_table(page.text)]
    assert len(screen) > 2

    response = await staff_client.get(f"/reports/{slug}/export.csv", params=query)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "no-store" in response.headers["cache-control"] and "no-store" in page.headers["cache-control"]
    assert "attachment" in response.headers["content-disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf")
    exported = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert [[norm(c) for c in row] for row in exported] == screen

    response = await staff_client.get(f"/reports/{slug}/export.xlsx", params=query)
    assert response.status_code == 200
    rows = xlsx_rows(response.content)
    assert len(rows) == len(screen)
    for xlsx_row, screen_row in zip(rows, screen, strict=True):
        for value, shown in zip(xlsx_row, screen_row, strict=True):
            if value is None:
                assert shown == ""
            elif isinstance(value, dt.datetime):
                assert shown in (value.strftime("%d.%m.%Y"), value.strftime("%Y-%m"),
                                 value.strftime("%d.%m.%Y%H:%M")), (value, shown)
            elif isinstance(value, (int, float)):
                assert float(shown.replace(",", ".")) == pytest.approx(value, abs=1e-9), (value, shown)
            else:
                assert norm(str(value)) == shown


async def test_raw_exports_download(staff_client):
    await report_data.build()
    response = await staff_client.get("/reports/data/ledger/export.csv",
                                      params={"from": "2026-10", "to": "2026-10"})
    assert response.status_code == 200
    assert 'filename="centra-ledger-2026-10.csv"' in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][0] == "№ проводки" and len(rows) == 1 + 9  # October's ledger entries
    response = await staff_client.get("/reports/data/payment-list/export.xlsx",
                                      params={"from": "2026-10", "to": "2026-10"})
    assert response.status_code == 200
    assert len(xlsx_rows(response.content)) == 1 + 3
    assert (await staff_client.get("/reports/data/nothing/export.csv")).status_code == 404


@pytest.mark.parametrize("query", [{"from": "2026-13"}, {"from": "2026-11", "to": "2026-01"},
                                   {"town": "москва"}, {"group": "hour"}, {"on": "завтра"}])
async def test_bad_filters_get_a_russian_message(staff_client, query):
    page = await staff_client.get("/reports/payments", params=query)
    assert page.status_code == 400
    assert 'class="alert alert-error"' in page.text and 'id="report-table"' not in page.text
    export = await staff_client.get("/reports/payments/export.csv", params=query)
    assert export.status_code == 400 and "text/html" in export.headers["content-type"]


async def test_unknown_report_is_not_found(staff_client):
    assert (await staff_client.get("/reports/salaries")).status_code == 404
    assert (await staff_client.get("/reports/salaries/export.csv")).status_code == 404
