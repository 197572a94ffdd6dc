"""Forecast, monthly statements and the dashboard's queries (no HTTP)."""

from __future__ import annotations

import calendar
import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tables.billing.fee import tariff_fee
from tables.billing.forecast import FORECAST_HORIZON_MONTHS, forecast
from tables.content import MaintenanceArea, NewsItem
from tables.ledger import LedgerEntry, ledger_sum
from tables.requests.queue import ServiceRequest
from tables.statements import (
    MAX_RANGE_MONTHS,
    latest_news,
    maintenance_for,
    monthly_statement,
    open_requests,
    parse_range,
    profile,
    statement_months,
    statement_range,
)
from tables.subscribers import Subscriber, mask_email
from tests.support.factories import make_address, make_subscriber, make_tariff, post_at

NSK = ZoneInfo("Asia/Novokuznetsk")
TODAY = dt.date(2026, 11, 25)
FEE = 75000


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=NSK)


# --- forecast -----------------------------------------------------------------------------

@pytest.mark.parametrize("balance,covered,paid_until,top_up", [
    (160000, 2, dt.date(2027, 1, 31), 0),
    (150000, 2, dt.date(2027, 1, 31), 0),
    (75000, 1, dt.date(2026, 12, 31), 0),
    (74999, 0, dt.date(2026, 11, 30), 100),      # one kopeck short → one whole rouble
    (10050, 0, dt.date(2026, 11, 30), 65000),    # 649,50 ₽ short → 650 ₽
    (0, 0, dt.date(2026, 11, 30), 75000),
])
def test_forecast_for_a_non_negative_balance(balance, covered, paid_until, top_up):
    f = forecast(balance, FEE, TODAY)
    assert f.next_charge_on == dt.date(2026, 12, 1)
    assert f.months_covered == covered
    assert f.paid_until == paid_until
    assert f.first_unpaid == paid_until + dt.timedelta(days=1)
    assert f.top_up == top_up
    assert f.covers_next_charge is (top_up == 0)
    assert not f.in_debt


def test_forecast_in_debt_suggests_debt_plus_next_charge():
    f = forecast(-20050, FEE, TODAY)
    assert f.in_debt and f.debt == 20050
    assert f.paid_until is None and f.months_covered == 0
    assert f.top_up == 95100  # 950,50 ₽ rounded up


def test_forecast_without_a_fee_and_across_year_end():
    free = forecast(500, 0, TODAY)
    assert free.months_covered is None and free.paid_until is None and free.top_up == 0
    assert forecast(-150, 0, TODAY).top_up == 200
    assert forecast(0, FEE, dt.date(2026, 12, 31)).next_charge_on == dt.date(2027, 1, 1)
    assert forecast(0, FEE, dt.date(2026, 11, 1)).next_charge_on == dt.date(2026, 12, 1)


def test_forecast_stops_at_the_horizon():
    f = forecast(10**12, 100, TODAY)
    assert f.beyond_horizon and f.months_covered == 10**10
    assert f.first_unpaid == dt.date(2026 + (11 + FORECAST_HORIZON_MONTHS) // 12,
                                     (11 + FORECAST_HORIZON_MONTHS) % 12 + 1, 1)


def test_monthly_fee_adds_router_rent_only_when_rented():
    tariff = {"monthly_fee": 75000, "router_fee": 15000}
    assert tariff_fee(tariff, True) == 90000
    assert tariff_fee(tariff, False) == 75000


def _month_index(day: dt.date) -> int:
    return day.year * 12 + day.month


@given(balance=st.integers(-10**8, 10**8), fee=st.integers(1, 10**6),
       today=st.dates(dt.date(2000, 1, 1), dt.date(2090, 12, 31)))
def test_forecast_properties(balance, fee, today):
    f = forecast(balance, fee, today)
    assert f.next_charge_on.day == 1 and 0 < (f.next_charge_on - today).days <= 31
    # The suggested payment is in whole roubles, covers the next charge, and not by a rouble more.
    assert f.top_up % 100 == 0 and f.top_up >= 0
    assert balance + f.top_up >= fee
    if f.top_up:
        assert balance + f.top_up - 100 < fee
    if balance < 0:
        assert f.paid_until is None
        return
    covered = f.months_covered
    assert balance - covered * fee >= 0 > balance - (covered + 1) * fee
    if not f.beyond_horizon:
        assert _month_index(f.first_unpaid) - _month_index(f.next_charge_on) == covered
        assert f.first_unpaid.day == 1
        last_day = calendar.monthrange(f.paid_until.year, f.paid_until.month)[1]
        assert f.paid_until.day == last_day
        assert f.paid_until + dt.timedelta(days=1) == f.first_unpaid


# --- periods and ranges -------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "2026-13", "2026-00", "2026-1", "26-11", "2026/11", "abcd-ef", "0000-05",
    "２０２６-１１", "2026-11' OR '1'='1", "<script>alert(1)</script>", "9" * 10000, "2026-11-01",
])
def test_bad_periods_are_refused_with_a_message(text):
    kw = {"first": "2023-01", "current": "2026-11"}
    with pytest.raises(ValueError, match=r"^Месяц указывается в виде ГГГГ-ММ, например 2026-11\.$"):
        parse_range("2026-09", text, **kw)
    with pytest.raises(ValueError, match="ГГГГ-ММ"):
        parse_range(text, "2026-09", **kw)


def test_parse_range_accepts_a_month_as_typed():
    kw = {"first": "2023-01", "current": "2026-11"}
    assert parse_range(" 2026-09 ", "октябрь 2026", **kw) == ("2026-09", "2026-10")


def test_parse_range_rules():
    kw = {"first": "2023-01", "current": "2026-11"}
    assert parse_range(None, None, **kw) == ("2026-11", "2026-11")
    assert parse_range("2026-09", "", **kw) == ("2026-09", "2026-11")
    assert parse_range("", "2026-10", **kw) == ("2026-10", "2026-10")
    assert parse_range("2023-12", "2026-11", **kw) == ("2023-12", "2026-11")  # exactly 36
    with pytest.raises(ValueError, match=str(MAX_RANGE_MONTHS)):
        parse_range("2023-11", "2026-11", **kw)
    with pytest.raises(ValueError, match="не позже"):
        parse_range("2026-11", "2026-10", **kw)
    with pytest.raises(ValueError, match="будущий"):
        parse_range("2026-11", "2026-12", **kw)
    with pytest.raises(ValueError, match=r"начиная с 01\.2023"):
        parse_range("2022-12", "2023-02", **kw)


# --- statements ---------------------------------------------------------------------------

async def _history() -> Subscriber:
    """A prepared ledger spanning September–November 2026, with entries on the month edges."""
    s = await make_subscriber(connected_on=dt.date(2026, 9, 1))
    await post_at(s.id, 100000, local(2026, 9, 5, 12, 0))
    await post_at(s.id, -FEE, local(2026, 9, 1, 0, 5), kind="charge", period="2026-09")
    # 00:30 on 1 October in Novokuznetsk is still 30 September in UTC.
    await post_at(s.id, -FEE, local(2026, 10, 1, 0, 30), kind="charge", period="2026-10")
    await post_at(s.id, 60000, local(2026, 10, 31, 23, 59), period="2026-11",
                  comment="оплата вперёд")
    await post_at(s.id, -FEE, local(2026, 11, 1, 0, 0), kind="charge", period="2026-11")
    await post_at(s.id, -1500, local(2026, 11, 10, 9, 0), kind="adjustment", comment="=SUM(A1)")
    return s


async def test_month_statement_follows_local_time():
    s = await _history()
    october = await monthly_statement(s.id, "2026-10")
    assert october.opening == 100000 - FEE
    assert [line.amount for line in october.lines] == [-FEE, 60000]
    assert october.credits == 60000 and october.debits == -FEE
    assert october.closing == 100000 - 2 * FEE + 60000
    assert october.lines[-1].balance_after == october.closing
    november = await monthly_statement(s.id, "2026-11")
    assert november.opening == october.closing
    assert [line.amount for line in november.lines] == [-FEE, -1500]
    assert november.closing == await ledger_sum(s.id)


async def test_statements_reconcile_with_the_ledger():
    s = await _history()
    other = await make_subscriber()
    await post_at(other.id, 99999, local(2026, 10, 15, 12, 0))
    months = await statement_range(s.id, "2026-07", "2026-12")
    assert [m.period for m in months] == ["2026-07", "2026-08", "2026-09", "2026-10", "2026-11",
                                          "2026-12"]
    for before, after in itertools.pairwise(months):
        assert after.opening == before.closing
    balance = (await Subscriber.select(Subscriber.balance).where(Subscriber.id == s.id).first())
    assert months[-1].closing == balance["balance"] == await ledger_sum(s.id)
    # Each month's totals equal the ledger rows of that local month, summed independently.
    rows = await LedgerEntry.select(LedgerEntry.amount, LedgerEntry.created_at).where(
        LedgerEntry.subscriber == s.id)
    for month in months:
        mine = [r["amount"] for r in rows
                if r["created_at"].astimezone(NSK).strftime("%Y-%m") == month.period]
        assert month.credits == sum(a for a in mine if a > 0)
        assert month.debits == sum(a for a in mine if a < 0)
        assert len(month.lines) == len(mine)
    # One month at a time gives the same figures as the range.
    for month in months:
        single = await monthly_statement(s.id, month.period)
        assert (single.opening, single.closing) == (month.opening, month.closing)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.lists(
    st.tuples(st.integers(-500000, 500000).filter(bool),
              st.datetimes(dt.datetime(2025, 12, 25), dt.datetime(2026, 3, 5))),
    min_size=1, max_size=12))
async def test_statement_chain_always_reconciles(entries):
    await LedgerEntry.delete(force=True)
    await Subscriber.update({Subscriber.balance: 0}, force=True)
    s = await Subscriber.objects().first() or await make_subscriber()
    for amount, moment in entries:
        await post_at(s.id, amount, moment.replace(tzinfo=dt.UTC))
    months = await statement_range(s.id, "2025-12", "2026-03")
    assert months[0].opening == 0
    for before, after in itertools.pairwise(months):
        assert after.opening == before.closing
    assert months[-1].closing == sum(a for a, _ in entries) == await ledger_sum(s.id)
    assert sum(len(m.lines) for m in months) == len(entries)


async def test_statement_months_and_final_month_of_a_terminated_contract():
    s = await make_subscriber(connected_on=dt.date(2026, 3, 15))
    await post_at(s.id, 5000, local(2026, 2, 20, 12, 0))  # paid in advance before connection
    now = local(2026, 11, 25, 12, 0)
    months = await statement_months(s, now=now)
    assert (months.first, months.current, months.default) == ("2026-02", "2026-11", "2026-11")
    assert months.choices[0] == "2026-11" and months.choices[-1] == "2026-02"
    assert len(months.choices) == 10
    await Subscriber.update({Subscriber.status: "terminated",
                             Subscriber.terminated_on: dt.date(2026, 9, 20)}).where(
        Subscriber.id == s.id)
    s = await Subscriber.objects().where(Subscriber.id == s.id).first()
    assert (await statement_months(s, now=now)).default == "2026-09"
    await post_at(s.id, -5000, local(2026, 10, 3, 12, 0), kind="refund")  # remainder returned
    assert (await statement_months(s, now=now)).default == "2026-10"


# --- dashboard queries --------------------------------------------------------------------

async def _works(title: str, *, now: dt.datetime, starts: int = -1, ends: int = 1,
                 published: bool = True, kind: str = "maintenance", **area) -> NewsItem:
    item = NewsItem(title=title, body="", kind=kind, published=published,
                    published_at=now - dt.timedelta(days=2),
                    starts_at=now + dt.timedelta(days=starts), ends_at=now + dt.timedelta(days=ends))
    await item.save()
    await MaintenanceArea(news=item.id, **area).save()
    return item


async def test_maintenance_for_matches_town_street_or_address_within_the_window():
    now = dt.datetime(2026, 11, 25, 5, 0, tzinfo=dt.UTC)
    home = await make_address(town="Осинники", street="улица Победы", house="3", apartment="7")
    elsewhere = await make_address(town="Осинники", street="улица Ленина", house="1")
    far = await make_address(town="Новокузнецк", street="улица Победы", house="3")
    s = await make_subscriber(address=home)
    from tables.addresses import Street

    street = await Street.objects().where(Street.id == home.street).first()
    expected = {
        (await _works("город", now=now, town=street.town)).id,
        (await _works("улица", now=now, starts=-1, ends=4, street=home.street)).id,
        (await _works("дом", now=now, address=home.id)).id,
    }
    both = await _works("дом и улица", now=now, address=home.id)
    await MaintenanceArea(news=both.id, street=home.street).save()
    expected.add(both.id)
    await _works("соседняя улица", now=now, street=elsewhere.street)
    await _works("другой город", now=now, address=far.id)
    await _works("закончились", now=now, starts=-3, ends=-1, address=home.id)
    await _works("не скоро", now=now, starts=30, ends=31, address=home.id)
    await _works("черновик", now=now, published=False, address=home.id)
    await _works("просто новость", now=now, kind="news", address=home.id)
    found = await maintenance_for(s, now)
    assert {w["id"] for w in found} == expected
    assert len(found) == len(expected)


async def test_open_requests_are_only_the_subscribers_open_ones():
    now = dt.datetime(2026, 11, 25, 5, 0, tzinfo=dt.UTC)
    s = await make_subscriber()
    other = await make_subscriber()
    for n, (who, status) in enumerate([(s, "new"), (s, "in_progress"), (s, "done"),
                                       (s, "cancelled"), (other, "new")]):
        await ServiceRequest(number=f"Z-{n}", kind="repair", status=status, subscriber=who.id,
                             created_at=now, updated_at=now).save()
    rows = await open_requests(s.id)
    assert sorted(r["status"] for r in rows) == ["in_progress", "new"]
    assert {r["status_label"] for r in rows} == {"Новая", "В работе"}


async def test_latest_news_are_three_published_past_news():
    now = dt.datetime(2026, 11, 25, 5, 0, tzinfo=dt.UTC)
    for day in range(1, 6):
        await NewsItem(title=f"n{day}", body="", published_at=now - dt.timedelta(days=day)).save()
    await NewsItem(title="future", body="", published_at=now + dt.timedelta(days=1)).save()
    await NewsItem(title="hidden", body="", published=False, published_at=now).save()
    await NewsItem(title="works", body="", kind="maintenance", published_at=now).save()
    assert [n["title"] for n in await latest_news(now)] == ["n1", "n2", "n3"]


async def test_profile_masks_personal_data():
    tariff = await make_tariff(fee=60000, router_fee=15000)
    address = await make_address(street="проспект Мира", house="12", apartment="57")
    s = await make_subscriber(full_name="Кузнецова Мария Ивановна", phone="+79137654321",
                              email="maria.k@example.ru", tariff=tariff, address=address,
                              router_rented=True)
    p = await profile(s)
    assert p.name == "Кузнецова М. И."
    assert p.phone.endswith("21") and "765" not in p.phone
    assert p.email == mask_email("maria.k@example.ru") and "maria" not in p.email
    assert p.address == "Новокузнецк, проспект Мира, д. 12, кв. **"
    assert p.fee == 75000
