"""Each report's figures on the prepared dataset (tests/support/report_data.py) equal values
worked out by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tables.reports import REPORTS, Filters, build_report
from tables.reports.debtors import debt_aging
from tables.reports.sql import percentile
from tests.support import report_data
from tests.support.report_data import NOW

D = Decimal


@pytest.fixture
async def data() -> report_data.Dataset:
    return await report_data.build()


async def run(slug: str, **params: str):
    filters = Filters.parse(params, today=NOW.date(), spec=REPORTS[slug])
    return await build_report(slug, filters, NOW)


async def test_payments_by_month_counts_refunds_and_local_month(data):
    report = await run("payments", **{"from": "2026-08", "to": "2026-11"})
    assert [c.key for c in report.columns] == ["key", "count", "amount", "cabinet", "quick_pay",
                                               "office", "agent", "bank", "autopay", "refunded",
                                               "net"]
    # The 80 000 card payment at 03:30 local on 1 October is 30 September in UTC: October.
    # The failed payment of 4 October is not money received.
    assert report.rows == [
        ("2026-08", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
        ("2026-09", 1, 75000, 0, 0, 75000, 0, 0, 0, 0, 75000),
        ("2026-10", 2, 115000, 80000, 35000, 0, 0, 0, 0, 30000, 85000),
        ("2026-11", 1, 100000, 0, 0, 100000, 0, 0, 0, 0, 100000),
    ]
    assert report.total == ("Итого", 4, 290000, 80000, 35000, 175000, 0, 0, 0, 30000, 260000)


async def test_payments_by_channel_brand_day_and_town(data):
    channel = await run("payments", **{"from": "2026-09", "to": "2026-11", "group": "channel"})
    assert channel.rows == [("Личный кабинет", 1, 80000, 30000, 50000),
                            ("Оплата без входа", 1, 35000, 0, 35000),
                            ("Касса офиса", 2, 175000, 0, 175000),
                            ("Платёжный агент, терминал", 0, 0, 0, 0),
                            ("Банковский перевод", 0, 0, 0, 0),
                            ("Автоплатёж с карты", 0, 0, 0, 0)]
    brand = await run("payments", **{"from": "2026-09", "to": "2026-11", "group": "brand"})
    assert brand.rows == [("Mastercard", 1, 35000, 0, 35000), ("Visa", 1, 80000, 30000, 50000),
                          ("Без карты", 2, 175000, 0, 175000)]
    day = await run("payments", **{"from": "2026-10", "to": "2026-10", "group": "day"})
    assert len(day.rows) == 31 and day.rows[0][0] == dt.date(2026, 10, 1)
    assert [r for r in day.rows if r[1]] == [
        (dt.date(2026, 10, 1), 1, 80000, 80000, 0, 0, 0, 0, 0, 30000, 50000),
        (dt.date(2026, 10, 3), 1, 35000, 0, 35000, 0, 0, 0, 0, 0, 35000),
    ]
    osinniki = await run("payments", **{"from": "2026-09", "to": "2026-11", "town": str(data.os)})
    assert osinniki.total == ("Итого", 1, 35000, 0, 35000, 0, 0, 0, 0, 0, 35000)
    base = await run("payments", **{"from": "2026-09", "to": "2026-11",
                                    "tariff": str(data.max_tariff)})
    assert base.total == ("Итого", 3, 255000, 80000, 0, 175000, 0, 0, 0, 30000, 225000)


async def test_charges_vs_payments_per_month(data):
    report = await run("billing", **{"from": "2026-08", "to": "2026-11"})
    # charges by their period; payments, refunds and adjustments by local month; promised excluded
    assert report.rows == [
        ("2026-08", 35000, 0, 0, 0, -35000),
        ("2026-09", 110000, 75000, 0, 0, -35000),
        ("2026-10", 220000, 115000, 30000, 0, -135000),
        ("2026-11", 260000, 100000, 0, 10000, -160000),
    ]
    assert report.total == ("Итого", 625000, 290000, 30000, 10000, -365000)
    town = await run("billing", **{"from": "2026-10", "to": "2026-10", "town": str(data.os)})
    assert town.rows == [("2026-10", 110000, 35000, 0, 0, -75000)]


async def test_debtors_with_aging_from_the_ledger(data):
    report = await run("debtors")
    rows = report.as_dicts()
    # s3 never paid (since 1 Aug); s4's promised payment was taken back on 9 Oct; s1's refund
    # took the balance below zero again on 10 Oct; s2 since the 1 Nov charge. s5 is in credit.
    assert [(r["contract"], r["balance"], r["since"], r["days"], r["bucket"]) for r in rows] == [
        (data.s[3].contract_number, -105000, dt.date(2026, 8, 1), 111, "более 90"),
        (data.s[4].contract_number, -140000, dt.date(2026, 10, 9), 42, "31–60"),
        (data.s[1].contract_number, -100000, dt.date(2026, 10, 10), 41, "31–60"),
        (data.s[2].contract_number, -35000, dt.date(2026, 11, 1), 19, "0–30"),
    ]
    assert rows[0]["status"] == "Расторгнут" and rows[1]["status"] == "Приостановлен за долг"
    assert rows[0]["phone"] == "+79131234567" and rows[0]["town"] == "Новокузнецк"
    assert report.total[8] == -380000
    assert debt_aging(report) == [("0–30", 1, 35000), ("31–60", 2, 240000), ("61–90", 0, 0),
                                  ("более 90", 1, 105000)]
    past = await run("debtors", on="2026-10-15")
    assert [(r["contract"], r["balance"], r["days"], r["bucket"]) for r in past.as_dicts()] == [
        (data.s[3].contract_number, -105000, 75, "61–90"),
        (data.s[4].contract_number, -75000, 6, "0–30"),
        (data.s[1].contract_number, -25000, 5, "0–30"),
    ]
    town = await run("debtors", town=str(data.os), tariff=str(data.base_tariff))
    assert [r["contract"] for r in town.as_dicts()] == [data.s[2].contract_number]


async def test_debt_starts_beyond_the_first_look_back_and_in_chunks(data, monkeypatch):
    """Debts older than the first look-back get the whole history; many contracts go in chunks."""
    from tables.reports import debtors

    def shown(report):
        return [(r["contract"], r["balance"], r["since"], r["days"]) for r in report.as_dicts()]

    expected = {on: shown(await run("debtors", **({"on": on} if on else {})))
                for on in ("", "2026-10-15")}
    monkeypatch.setattr(debtors, "DEBT_LOOKBACK", dt.timedelta(days=1))
    monkeypatch.setattr(debtors, "_CHUNK", 1)
    for on, rows in expected.items():
        assert shown(await run("debtors", **({"on": on} if on else {}))) == rows


async def test_debtors_far_in_the_past_sum_what_came_before(data, monkeypatch):
    """Early in the history the balance is summed from the start, not taken back from today's."""
    from tables.ledger import LedgerEntry
    from tables.reports import debtors

    debt_cte = debtors._debt_cte

    on = dt.date(2026, 8, 20)
    end = reports_end(on)
    sums = await LedgerEntry.raw(
        "SELECT subscriber, SUM(amount) AS balance FROM ledger_entry WHERE created_at < {}"
        " GROUP BY subscriber HAVING SUM(amount) < 0", end)
    calls: list[bool] = []

    def spy(kept_balance: bool) -> str:
        calls.append(kept_balance)
        return debt_cte(kept_balance)

    monkeypatch.setattr(debtors, "_debt_cte", spy)
    report = await run("debtors", on=on.isoformat())
    assert calls == [False]
    by_contract = {s.contract_number: s.id for s in data.s.values()}
    got = {by_contract[r["contract"]]: r["balance"] for r in report.as_dicts()}
    assert got == {r["subscriber"]: int(r["balance"]) for r in sums} and got


def reports_end(on: dt.date) -> dt.datetime:
    from tables.reports import local_midnight_utc

    return local_midnight_utc(on + dt.timedelta(days=1))


async def test_arpu_and_subscribers_in_service(data):
    report = await run("arpu", **{"from": "2026-08", "to": "2026-11"})
    # in service: Aug s1 s3 s5 s6; Sep +s2; Oct +s4; Nov without s3 (terminated 20 Oct)
    assert report.rows == [("2026-08", 4, 35000, 8750), ("2026-09", 5, 110000, 22000),
                           ("2026-10", 6, 220000, 36667), ("2026-11", 5, 260000, 52000)]
    empty = await run("arpu", **{"from": "2025-01", "to": "2025-01"})
    assert empty.rows == [("2025-01", 0, 0, None)]


async def test_subscribers_per_tariff_and_town(data):
    report = await run("subscribers")
    assert [c.label for c in report.columns] == ["Тариф", "Новокузнецк", "Осинники", "Всего"]
    assert report.rows == [("Базовый", 0, 1, 1), ("Максимум", 2, 1, 3)]
    assert report.total == ("Итого", 2, 2, 4)
    town = await run("subscribers", town=str(data.os))
    assert [c.label for c in town.columns] == ["Тариф", "Осинники", "Всего"]
    assert town.rows == [("Базовый", 1, 1), ("Максимум", 1, 1)]


async def test_churn_by_month_and_by_reason(data):
    report = await run("churn", **{"from": "2026-08", "to": "2026-11"})
    assert report.rows == [("2026-08", 0, 0, 0), ("2026-09", 1, 0, 1), ("2026-10", 1, 1, 0),
                           ("2026-11", 0, 1, -1)]
    assert report.total == ("Итого", 2, 2, 0)
    reasons = await run("churn", **{"from": "2026-08", "to": "2026-11", "group": "reason"})
    # s3's completed request says "moving" (the rejected "price" does not count); s6 had none;
    # the reason is shown by its Russian label
    assert reasons.rows == [("Без заявки на расторжение", 1, D("50.0")), ("Переезд", 1, D("50.0"))]
    assert reasons.total == ("Итого", 2, D("100.0"))


async def test_request_handling_times(data):
    report = await run("requests", **{"from": "2026-11", "to": "2026-11"})
    rows = {r["kind"]: r for r in report.as_dicts()}
    # repairs R1..R3: first staff replies 2 h, 4 h, 1 h (internal notes and the subscriber's
    # own message do not count); closed after 24 h and 30 h. p90 of [1, 2, 4] = 2 + 0.8 × 2.
    repair = rows["Неисправность"]
    assert (repair["created"], repair["closed"], repair["unanswered"]) == (3, 2, 0)
    assert (repair["reply_median"], repair["reply_p90"]) == (D("2.0"), D("3.6"))
    assert (repair["close_median"], repair["close_p90"]) == (D("27.0"), D("29.4"))
    question = rows["Вопрос в поддержку"]
    assert (question["created"], question["unanswered"], question["reply_median"]) == (2, 2, None)
    assert rows["Заявка на подключение"]["reply_p90"] == D("10.0")
    assert rows["Услуга"]["created"] == 0
    # all: replies [1, 2, 4, 10] → median 3.0, p90 = 4 + 0.7 × 6 = 8.2
    assert report.total == ("Итого", 6, 2, 2, D("3.0"), D("8.2"), D("27.0"), D("29.4"))
    town = await run("requests", **{"from": "2026-11", "to": "2026-11", "town": str(data.os)})
    rows = {r["kind"]: r for r in town.as_dicts()}
    assert rows["Неисправность"]["created"] == 2 and rows["Неисправность"]["reply_median"] == D("2.5")
    assert rows["Заявка на подключение"]["created"] == 1  # by the applicant's town
    assert rows["Вопрос в поддержку"]["created"] == 0


async def test_open_backlog_by_age(data):
    report = await run("backlog")
    rows = {r["age"]: r for r in report.as_dicts()}
    assert rows["до 1 дня"]["question"] == 1 and rows["до 1 дня"]["total"] == 1
    assert rows["3–7 дней"]["connection"] == 1
    assert (rows["7–30 дней"]["repair"], rows["7–30 дней"]["question"]) == (1, 1)
    assert rows["1–3 дня"]["total"] == 0 and rows["более 30 дней"]["total"] == 0
    assert report.total[-1] == 4


async def test_ratings_per_month_and_latest_comments(data):
    report = await run("ratings", **{"from": "2026-09", "to": "2026-11"})
    assert report.rows == [("2026-09", 0, None, 0, 0, 0, 0, 0),
                           ("2026-10", 3, D("4.33"), 0, 0, 0, 2, 1),
                           ("2026-11", 2, D("3.00"), 1, 0, 0, 0, 1)]
    assert report.total == ("Итого", 5, D("3.80"), 1, 0, 0, 2, 2)
    comments = await run("comments", **{"from": "2026-09", "to": "2026-11"})
    assert [(r["score"], r["comment"], r["contract"]) for r in comments.as_dicts()] == [
        (1, "Не нашёл историю платежей", ""), (4, "Всё понятно", data.s[4].contract_number)]


@pytest.mark.parametrize("slug", [s for s in REPORTS if "period" in REPORTS[s].uses])
async def test_an_empty_period_gives_zero_figures(data, slug):
    spec = REPORTS[slug]
    for group in list(spec.groups) or [""]:
        report = await run(slug, **{"from": "2025-01", "to": "2025-02", "group": group})
        numbers = [v for row in [*report.rows, *([report.total] if report.total else [])]
                   for v, c in zip(row, report.columns, strict=True)
                   if c.kind in ("int", "money", "decimal")]
        assert all(v in (0, None) for v in numbers), (slug, group, report.rows)


async def test_reports_on_an_empty_database():
    for slug, spec in REPORTS.items():
        for group in list(spec.groups) or [""]:
            report = await run(slug, group=group)
            assert report.columns


def test_filters_are_validated():
    today = dt.date(2026, 11, 20)
    default = Filters.parse({}, today=today)
    assert (default.month_from, default.month_to) == ("2026-06", "2026-11")
    assert Filters.parse({"period": "2026-11"}, today=today).months == ["2026-11"]
    assert Filters.parse({"period": "2026-01..2026-03"}, today=today).months == [
        "2026-01", "2026-02", "2026-03"]
    spec = REPORTS["payments"]
    assert Filters.parse({}, today=today, spec=spec).group == "month"
    for bad in ({"from": "2026-13"}, {"from": "26-01"}, {"from": "2026-11", "to": "2026-01"},
                {"from": "2010-01", "to": "2026-01"}, {"town": "abc"}, {"tariff": "-1"},
                {"on": "вчера"}, {"group": "hour"}, {"period": "2026-1"}):
        with pytest.raises(ValueError):
            Filters.parse(bad, today=today, spec=spec)
    december = Filters.parse({"period": "2026-12"}, today=today)
    # local midnight of 1 Dec and of 1 Jan, in UTC
    assert december.start_utc == dt.datetime(2026, 11, 30, 17, tzinfo=dt.UTC)
    assert december.end_utc == dt.datetime(2026, 12, 31, 17, tzinfo=dt.UTC)


def test_percentile_interpolates_between_ranks():
    assert percentile([], 0.5) is None
    assert percentile([7], 0.9) == 7
    assert percentile([4, 1, 3, 2], 0.5) == D("2.5")
    assert percentile([1, 2, 4, 10], 0.9) == D("8.2")
