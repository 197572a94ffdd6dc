"""Cabinet pages: dashboard figures, statement on screen / CSV / print, profile, bad input."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from html import unescape
from zoneinfo import ZoneInfo

import pytest

from tables.content import MaintenanceArea, NewsItem
from tables.ledger import ledger_sum
from tables.money import format_csv as csv_amount
from tables.requests.queue import ServiceRequest
from tables.subscribers import Subscriber
from tests.support.factories import make_address, make_subscriber, make_tariff, post_at
from tests.support.helpers import row_counts, sign_in
from web.formatting import rub

NSK = ZoneInfo("Asia/Novokuznetsk")
NOW = dt.datetime(2026, 11, 25, 5, 0, tzinfo=dt.UTC)  # 12:00 in Novokuznetsk


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    for module in ("cabinet.dashboard", "cabinet.statement"):
        monkeypatch.setattr(f"{module}.utcnow", lambda: NOW)


def text_of(html: str) -> str:
    """Visible text, whitespace collapsed (NBSP kept as Babel writes it)."""
    return re.sub(r"[ \t\r\n]+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=NSK)


async def subscriber_with(balance: int, *, fee: int = 75000, router_fee: int = 0,
                          router: bool = False, **kwargs) -> Subscriber:
    tariff = await make_tariff(fee=fee, router_fee=router_fee, router_option=bool(router_fee))
    status = kwargs.pop("status", None)
    s = await make_subscriber(tariff=tariff, router_rented=router, **kwargs)
    if status:
        await Subscriber.update({Subscriber.status: status}).where(Subscriber.id == s.id)
    if balance:
        await post_at(s.id, balance, local(2026, 11, 2, 10, 0), kind="adjustment")
    return await Subscriber.objects().where(Subscriber.id == s.id).first()


# --- dashboard ----------------------------------------------------------------------------

async def test_dashboard_figures_and_top_up_prompt(client):
    s = await subscriber_with(10000, fee=75000, router_fee=15000, router=True)
    await sign_in(client, s.id)
    page = await client.get("/cabinet/")
    assert page.status_code == 200
    text = text_of(page.text)
    assert f"Баланс: {rub(10000)}" in text
    assert f"{rub(90000)} в месяц" in text  # fee + router rent
    assert f"Следующее списание: 1 декабря 2026 — {rub(90000)}" in text
    # 100 ₽ does not pay December (900 ₽): November is the last month paid for.
    assert "Средств хватит до 30 ноября 2026" in text
    assert "Пополните счёт" in text and f"Рекомендуем внести {rub(80000)}" in text
    assert 'href="/cabinet/pay?amount=800"' in page.text


async def test_dashboard_without_prompt_when_the_next_charge_is_covered(client):
    s = await subscriber_with(200000, fee=75000)
    await sign_in(client, s.id)
    text = text_of((await client.get("/cabinet/")).text)
    # 2000 ₽ pays December and January (750 ₽ each) but not February.
    assert "Средств хватит до 31 января 2027" in text
    assert "Пополните счёт" not in text
    assert 'href="/cabinet/pay"' in (await client.get("/cabinet/")).text


async def test_dashboard_follows_a_booked_tariff_change(client):
    from tables.billing.tariff_changes import TariffChange

    s = await subscriber_with(60000, fee=75000)
    cheaper = await make_tariff("Эконом", fee=55000)
    await TariffChange(subscriber=s.id, from_tariff=s.tariff, tariff=cheaper.id,
                       effective_from=dt.date(2026, 12, 1), created_at=NOW,
                       created_by="clerk").save()
    await sign_in(client, s.id)
    text = text_of((await client.get("/cabinet/")).text)
    assert f"{rub(75000)} в месяц" in text  # still the current tariff in November
    assert f"С 1 декабря 2026 — тариф «Эконом», {rub(55000)} в месяц" in text
    # December is charged at the new fee, which 600 ₽ covers: no top-up prompt.
    assert f"Следующее списание: 1 декабря 2026 — {rub(55000)}" in text
    assert "Средств хватит до 31 декабря 2026" in text and "Пополните счёт" not in text


async def test_dashboard_says_suspended_and_what_to_pay(client):
    s = await subscriber_with(-30050, fee=75000, status="suspended")
    await sign_in(client, s.id)
    text = text_of((await client.get("/cabinet/")).text)
    assert "Услуги приостановлены за долг" in text
    assert f"не менее чем на {rub(30050)}" in text
    assert f"Рекомендуем внести {rub(105100)}" in text  # debt + next month, whole roubles


async def test_dashboard_of_a_terminated_contract_shows_the_final_statement(client):
    s = await subscriber_with(0)
    await post_at(s.id, -75000, local(2026, 10, 1, 0, 10), kind="charge", period="2026-10")
    await post_at(s.id, 80000, local(2026, 10, 5, 10, 0))
    await Subscriber.update({Subscriber.status: "terminated",
                             Subscriber.terminated_on: dt.date(2026, 10, 15)}).where(
        Subscriber.id == s.id)
    await sign_in(client, s.id)
    text = text_of((await client.get("/cabinet/")).text)
    assert "Договор расторгнут 15 октября 2026" in text
    assert "Итоговая выписка" in text and "Октябрь 2026" in text
    assert f"Исходящий остаток {rub(5000)}" in text
    assert "Следующее списание" not in text and "Пополните счёт" not in text


async def test_dashboard_of_a_contract_with_a_scheduled_termination(client):
    """Terminated from 30 November (seen on the 25th): still in service, no next charge."""
    s = await subscriber_with(20000)
    await Subscriber.update({Subscriber.terminated_on: dt.date(2026, 11, 30)}).where(
        Subscriber.id == s.id)
    await sign_in(client, s.id)
    text = text_of((await client.get("/cabinet/")).text)
    assert "Договор будет расторгнут с 30.11.2026. До этой даты услуги предоставляются." in text
    assert "только для просмотра" not in text and "Договор расторгнут" not in text
    assert "Следующее списание" not in text and "Пополните счёт" not in text
    assert "Пополнить счёт" in text and "Итоговая выписка" not in text


async def test_dashboard_lists_own_open_requests_works_and_news(client):
    address = await make_address(town="Осинники", street="улица Победы", house="3")
    s = await subscriber_with(200000, address=address)
    other = await make_subscriber()
    mine = ServiceRequest(number="Z-000777", kind="repair", status="in_progress", subscriber=s.id,
                          created_at=NOW, updated_at=NOW)
    await mine.save()
    for number, who, status in [("Z-000778", s.id, "done"), ("Z-000779", other.id, "new")]:
        await ServiceRequest(number=number, kind="repair", status=status, subscriber=who,
                             created_at=NOW, updated_at=NOW).save()
    works = NewsItem(title="Работы на улице Победы", body="Перерывы связи", kind="maintenance",
                     published_at=NOW - dt.timedelta(days=1), starts_at=NOW,
                     ends_at=NOW + dt.timedelta(hours=5))
    await works.save()
    await MaintenanceArea(news=works.id, street=address.street).save()
    await NewsItem(title="<script>alert(1)</script> Новые каналы", body="",
                   published_at=NOW - dt.timedelta(days=2)).save()
    await sign_in(client, s.id)
    page = await client.get("/cabinet/")
    text = text_of(page.text)
    assert f'href="/cabinet/requests/{mine.id}"' in page.text
    assert "Z-000777" in text and "В работе" in text
    assert "Z-000778" not in text and "Z-000779" not in text
    assert "Работы на улице Победы" in text
    assert "Новые каналы" in text and "<script>alert(1)" not in page.text


async def test_cabinet_pages_need_login_and_have_the_section_nav(client):
    for url in ("/cabinet/statement", "/cabinet/statement.csv", "/cabinet/statement/print",
                "/cabinet/profile"):
        response = await client.get(url)
        assert response.status_code == 303 and response.headers["location"].startswith("/cabinet/login")
    s = await subscriber_with(0)
    await sign_in(client, s.id)
    for url in ("/cabinet/", "/cabinet/statement", "/cabinet/profile", "/cabinet/password"):
        html = (await client.get(url)).text
        for href in ("/cabinet/statement", "/cabinet/payments", "/cabinet/requests", "/cabinet/profile"):
            assert f'href="{href}"' in html, (url, href)
        assert 'aria-current="page"' in html


# --- statement ----------------------------------------------------------------------------

async def _history() -> Subscriber:
    s = await make_subscriber(connected_on=dt.date(2026, 9, 1))
    await post_at(s.id, 100000, local(2026, 9, 5, 12, 0), comment="Касса")
    await post_at(s.id, -75000, local(2026, 10, 1, 0, 30), kind="charge", period="2026-10")
    await post_at(s.id, 60000, local(2026, 10, 20, 9, 0), comment="=HYPERLINK(\"x\")")
    await post_at(s.id, -75000, local(2026, 11, 1, 0, 5), kind="charge", period="2026-11")
    return await Subscriber.objects().where(Subscriber.id == s.id).first()


async def test_statement_page_shows_the_chosen_month(client):
    s = await _history()
    await sign_in(client, s.id)
    october = text_of((await client.get("/cabinet/statement?period=2026-10")).text)
    assert "Октябрь 2026" in october
    assert f"Входящий остаток {rub(100000)}" in october
    assert f"Зачислено {rub(60000)}" in october and f"Списано {rub(75000)}" in october
    assert f"Исходящий остаток {rub(85000)}" in october
    assert "Списание абонентской платы за октябрь 2026" in october
    current = await client.get("/cabinet/statement")
    text = text_of(current.text)
    assert "Ноябрь 2026" in text
    assert f"Исходящий остаток {rub(await ledger_sum(s.id))}" in text
    # The selector offers every month of the contract, newest first.
    options = re.findall(r'<option value="(\d{4}-\d{2})"', current.text)
    assert options[:4] == ["2026-11", "2026-10", "2026-09", "2026-11"]


async def test_statement_csv_opens_in_excel_and_matches_the_ledger(client):
    s = await _history()
    await sign_in(client, s.id)
    response = await client.get("/cabinet/statement.csv?from=2026-09&to=2026-11")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][0] == "Выписка по лицевому счёту" and s.contract_number in rows[0][1]
    closings = [r[4] for r in rows if len(r) > 4 and r[1].startswith("Исходящий остаток")]
    openings = [r[4] for r in rows if len(r) > 4 and r[1].startswith("Входящий остаток")]
    assert openings == [csv_amount(0), csv_amount(100000), csv_amount(85000)]
    assert closings == [csv_amount(100000), csv_amount(85000), csv_amount(await ledger_sum(s.id))]
    entries = [r for r in rows if len(r) > 4 and re.match(r"\d\d\.\d\d\.\d{4} \d\d:\d\d$", r[0])]
    assert [r[3] for r in entries] == ["1000,00", "-750,00", "600,00", "-750,00"]
    assert entries[1][2] == "10.2026" and entries[1][0] == "01.10.2026 00:30"
    assert not any(cell.startswith(("=", "+", "@")) for row in rows for cell in row)


async def test_statement_print_page_has_every_month_of_the_range(client):
    s = await _history()
    await sign_in(client, s.id)
    page = await client.get("/cabinet/statement/print?from=2026-09&to=2026-11")
    assert page.status_code == 200
    text = text_of(page.text)
    for month in ("Сентябрь 2026", "Октябрь 2026", "Ноябрь 2026"):
        assert month in text
    assert "Петров П. П." in text and "Петров Пётр Петрович" not in text
    assert "cabinet-nav" not in page.text


BAD_PERIODS = ["abc", "2026-13", "2026-1", "1' OR '1'='1", "2026-11; DROP TABLE ledger_entry",
               "<script>alert(1)</script>", "9" * 5000, "２０２６-１１", "0000-01"]


@pytest.mark.parametrize("value", BAD_PERIODS)
async def test_bad_period_gets_a_message_and_the_default_month(client, value):
    s = await _history()
    await sign_in(client, s.id)
    before = await row_counts()
    response = await client.get("/cabinet/statement", params={"period": value})
    assert response.status_code == 400
    assert "ГГГГ-ММ" in response.text and "Ноябрь 2026" in text_of(response.text)
    assert "<script>alert(1)" not in response.text
    assert await row_counts() == before


@pytest.mark.parametrize("value,message", [("9999-12", "будущий месяц"), ("2027-01", "будущий месяц"),
                                           ("0001-01", "доступна начиная с")])
async def test_month_outside_the_contract_gets_a_message(client, value, message):
    s = await _history()
    await sign_in(client, s.id)
    response = await client.get("/cabinet/statement", params={"period": value})
    assert response.status_code == 400
    assert message in response.text and "Ноябрь 2026" in text_of(response.text)
    for query in ({"from": value, "to": value}, {"from": "2026-01", "to": value}):
        download = await client.get("/cabinet/statement.csv", params=query)
        assert download.status_code == 400 and "text/html" in download.headers["content-type"]


async def test_empty_period_shows_the_current_month(client):
    s = await _history()
    await sign_in(client, s.id)
    for params in ({"period": ""}, {"period": "   "}, {}):
        response = await client.get("/cabinet/statement", params=params)
        assert response.status_code == 200 and "Ноябрь 2026" in text_of(response.text)
        assert "alert-error" not in response.text


@pytest.mark.parametrize("period,message", [("2026-12", "будущий месяц"),
                                            ("2026-08", "начиная с 09.2026")])
async def test_period_outside_the_contract_is_explained(client, period, message):
    s = await _history()
    await sign_in(client, s.id)
    response = await client.get("/cabinet/statement", params={"period": period})
    assert response.status_code == 400 and message in response.text


@pytest.mark.parametrize("url", ["/cabinet/statement.csv", "/cabinet/statement/print"])
@pytest.mark.parametrize("params,message", [
    ({"from": "2026-11", "to": "2026-09"}, "не позже"),
    ({"from": "2023-01", "to": "2026-11"}, "не больше 36"),
    ({"from": "x" * 3000}, "ГГГГ-ММ"),
    ({"from": "", "to": "<b>2026</b>"}, "ГГГГ-ММ"),
    ({"to": "2026-11' --"}, "ГГГГ-ММ"),
    ({"from": "2026-10", "to": "2027-01"}, "будущий"),
])
async def test_bad_range_gets_a_message_not_a_file(client, url, params, message):
    s = await _history()
    await sign_in(client, s.id)
    before = await row_counts()
    response = await client.get(url, params=params)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert message in response.text and "<b>2026" not in response.text
    assert await row_counts() == before


async def test_range_of_36_months_is_allowed(client):
    s = await make_subscriber(connected_on=dt.date(2023, 1, 1))
    await sign_in(client, s.id)
    response = await client.get("/cabinet/statement.csv", params={"from": "2023-12", "to": "2026-11"})
    assert response.status_code == 200
    text = response.content.decode("utf-8-sig")
    assert text.count("Исходящий остаток") == 36


# --- profile ------------------------------------------------------------------------------

async def test_profile_shows_masked_data_and_links(client):
    address = await make_address(street="проспект Мира", house="12", apartment="57")
    s = await subscriber_with(0, full_name="Кузнецова Мария Ивановна", phone="+79137654321",
                              email="maria.k@example.ru", address=address)
    await sign_in(client, s.id)
    page = await client.get("/cabinet/profile")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "Кузнецова М. И." in text and "Мария" not in text
    assert "+7 *** ***-**-21" in text and "7654321" not in page.text
    assert "проспект Мира, д. 12, кв. **" in text and "кв. 57" not in text
    assert "maria.k" not in page.text
    assert s.contract_number in text
    assert 'href="/cabinet/password"' in page.text and 'href="/pages/privacy"' in page.text


async def test_termination_credit_reads_as_a_credit_not_a_debit(client):
    """Issue 24 item 9c: the pro-rata give-back after a termination was labelled "Списание…"."""
    s = await subscriber_with(0)
    await post_at(s.id, -75000, local(2026, 11, 1, 0, 30), kind="charge", period="2026-11",
                  comment="Абонентская плата за ноябрь 2026")
    await post_at(s.id, 40000, local(2026, 11, 12, 15, 0), kind="charge", period="2026-11",
                  comment="Перерасчёт абонентской платы за ноябрь 2026: расторжение с 14.11.2026")
    await sign_in(client, s.id)
    page = text_of((await client.get("/cabinet/statement?period=2026-11")).text)
    assert "Списание абонентской платы за ноябрь 2026 Абонентская плата" in page
    assert "Возврат абонентской платы за ноябрь 2026 Перерасчёт" in page
    assert "Списание абонентской платы за ноябрь 2026 Перерасчёт" not in page
    response = await client.get("/cabinet/statement.csv?from=2026-11&to=2026-11")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    labels = {r[3]: r[1] for r in rows if len(r) > 4 and re.match(r"\d\d\.\d\d\.\d{4}", r[0])}
    assert labels["400,00"].startswith("Возврат абонентской платы: Перерасчёт")
    assert labels["-750,00"].startswith("Списание абонентской платы")
