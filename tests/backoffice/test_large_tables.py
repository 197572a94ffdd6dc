"""Admin list pages over big tables: counts and month filters (backoffice/crud.py)."""

from __future__ import annotations

import pytest

from backoffice import crud
from tables.ledger import LedgerEntry, post_entry
from tests.support.factories import make_subscriber
from tests.support.helpers import admin_login, make_staff


async def _ledger(periods: list[str]) -> int:
    s = await make_subscriber()
    for n, period in enumerate(periods):
        await post_entry(s.id, -100 - n, "charge", f"charge:{s.id}:{period}:{n}", period=period)
    return s.id


async def test_complete_month_in_a_contains_filter_matches_exactly(client):
    await _ledger(["2026-09", "2026-10", "2026-10", "2026-11"])
    await make_staff()
    await admin_login(client)
    for params in ({"period": "2026-10"}, {"period": "2026-10", "period__match": "contains"}):
        count = await client.get("/admin/api/tables/ledger_entry/count/", params=params)
        rows = await client.get("/admin/api/tables/ledger_entry/", params={**params, "__order": "-id"})
        assert count.json()["count"] == 2
        assert [r["period"] for r in rows.json()["rows"]] == ["2026-10", "2026-10"]
    # An incomplete month keeps "contains" semantics.
    count = await client.get("/admin/api/tables/ledger_entry/count/", params={"period": "2026-1"})
    assert count.json()["count"] == 3


def test_only_complete_months_become_exact():
    endpoint = crud.LargeTableCRUD(LedgerEntry)
    for value, expected in (("2026-10", "exact"), ("2026-1", "contains"), ("10", "contains")):
        split = endpoint._split_params({"period": value})
        assert split.match_types["period"] == expected, value
    split = endpoint._split_params({"period": "2026-10", "period__match": "starts"})
    assert split.match_types["period"] == "starts"
    split = endpoint._split_params({"reference": "2026-10"})
    assert split.match_types["reference"] == "contains"


async def test_unfiltered_count_of_a_big_table_is_estimated_without_count(client, monkeypatch):
    await _ledger(["2026-09", "2026-10", "2026-11"])
    await make_staff()
    await admin_login(client)
    answer = (await client.get("/admin/api/tables/ledger_entry/count/")).json()
    assert answer["count"] == 3 and "estimate" not in answer  # below the threshold: exact
    monkeypatch.setattr(crud, "ESTIMATE_FROM", 1)

    async def no_count(*args, **kwargs):
        raise AssertionError("an unfiltered big table is not counted row by row")

    monkeypatch.setattr(type(LedgerEntry.count()), "run", no_count)
    answer = (await client.get("/admin/api/tables/ledger_entry/count/")).json()
    assert answer == {"count": 3, "page_size": answer["page_size"], "estimate": True}
    monkeypatch.undo()
    monkeypatch.setattr(crud, "ESTIMATE_FROM", 1)
    filtered = (await client.get("/admin/api/tables/ledger_entry/count/",
                                 params={"period": "2026-10"})).json()
    assert filtered["count"] == 1 and "estimate" not in filtered


@pytest.mark.parametrize("table", ["subscriber", "tariff"])
async def test_other_tables_count_exactly(client, monkeypatch, table):
    monkeypatch.setattr(crud, "ESTIMATE_FROM", 0)
    await make_subscriber()
    await make_staff()
    await admin_login(client)
    answer = (await client.get(f"/admin/api/tables/{table}/count/")).json()
    assert answer["count"] == 1 and "estimate" not in answer


async def test_admin_search_ignores_the_case_of_cyrillic_letters(client):
    """A clerk types «иванов» or «ИВАНОВ» and finds «Иванов» on either engine."""
    await make_subscriber(full_name="Иванов Иван Иванович")
    await make_subscriber(full_name="Петров Пётр Петрович")
    await make_staff()
    await admin_login(client)
    for typed in ("иванов", "ИВАНОВ", "Иванов И", "ван_в"):
        rows = await client.get("/admin/api/tables/subscriber/", params={"full_name": typed})
        assert [r["full_name"] for r in rows.json()["rows"]] == ["Иванов Иван Иванович"], typed
    rows = await client.get("/admin/api/tables/subscriber/", params={"full_name": "пётр"})
    assert [r["full_name"] for r in rows.json()["rows"]] == ["Петров Пётр Петрович"]


def test_like_keeps_sqlite_semantics_apart_from_case():
    from db.sqlite_pool import unicode_like

    assert unicode_like("%иван%", "ИВАНОВ") and unicode_like("и_анов", "Иванов")
    assert not unicode_like("иван", "Иванов") and not unicode_like("%x%", "Иванов")
    assert unicode_like("100!%", "100%", "!") and not unicode_like("100!%", "1000", "!")
    assert unicode_like(None, "a") is None and unicode_like("a", None) is None
    assert unicode_like("a.c", "abc") is False  # regex characters are literal


def test_like_fast_paths_agree_with_the_general_one():
    from db.sqlite_pool import unicode_like

    for pattern, value, expected in [
        ("%ВАН%", "Иванов", True), ("ива%", "Иванов", True), ("%нов", "Иванов", True),
        ("иванов", "ИВАНОВ", True), ("ива%", "Петров", False), ("%нов", "Новиков", False),
        ("%%", "", True), ("", "", True), ("", "a", False), ("%a_c%", "xABCx", True),
    ]:
        assert unicode_like(pattern, value) is expected, (pattern, value)
        assert unicode_like(pattern, value, "\\") is expected, (pattern, value)  # regex path


async def test_admin_finds_a_phone_typed_as_people_say_it(client):
    await make_subscriber(full_name="Иванов Иван Иванович", phone="+79131234567")
    await make_subscriber(full_name="Петров Пётр Петрович", phone="+79235550000")
    await make_staff()
    await admin_login(client)
    for typed in ("8 913 123-45-67", "+7 (913) 123-45-67", "9131234567", "123-45-67", "+79131234567"):
        rows = await client.get("/admin/api/tables/subscriber/", params={"phone": typed})
        assert [r["full_name"] for r in rows.json()["rows"]] == ["Иванов Иван Иванович"], typed


async def test_choice_filters_match_the_chosen_value_exactly(client):
    """The admin's choice filter sends the value and an operator, never a match type: "tv"
    must not also find "internet_tv", and "Not Equal" must leave the value out."""
    from tests.support.factories import make_tariff

    await make_tariff("ТВ", kind="tv")
    await make_tariff("Интернет + ТВ", kind="internet_tv")
    await make_tariff("Интернет", kind="internet")
    await make_staff()
    await admin_login(client)
    for operator, expected in (("e", ["ТВ"]), ("ne", ["Интернет", "Интернет + ТВ"])):
        params = {"kind": "tv", "kind__operator": operator}
        count = await client.get("/admin/api/tables/tariff/count/", params=params)
        rows = await client.get("/admin/api/tables/tariff/", params={**params, "__order": "name"})
        assert count.status_code == 200 and rows.status_code == 200
        assert count.json()["count"] == len(expected), operator
        assert [r["name"] for r in rows.json()["rows"]] == expected, operator


async def test_ledger_filtered_by_kind_as_the_admin_sends_it(client):
    s = await _ledger(["2026-10"])
    await post_entry(s, 5000, "payment", "pay:1", period="2026-10")
    await make_staff()
    await admin_login(client)
    params = {"kind": "payment", "kind__operator": "e"}
    count = await client.get("/admin/api/tables/ledger_entry/count/", params=params)
    rows = await client.get("/admin/api/tables/ledger_entry/", params=params)
    assert count.json()["count"] == 1
    assert [r["kind"] for r in rows.json()["rows"]] == ["payment"]


def test_choice_columns_match_exactly_and_other_text_keeps_contains():
    endpoint = crud.LargeTableCRUD(LedgerEntry)
    split = endpoint._split_params({"kind": "pay", "reference": "pay"})
    assert split.match_types["kind"] == "exact"
    assert split.match_types["reference"] == "contains"
