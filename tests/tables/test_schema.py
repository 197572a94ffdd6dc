"""The schema built by the migrations holds the constraints itself, not only the code."""

from __future__ import annotations

import pytest
from piccolo.apps.migrations.commands.forwards import run_forwards

from tables.content import Page
from tables.ledger import EntryKind, LedgerEntry, post_entry
from tables.payments.payment import Payment
from tables.ratings import CabinetRating
from tables.subscribers import Subscriber
from tests.support.factories import make_subscriber
from tests.support.helpers import engine_name

EXPECTED_TABLES = {
    "town", "street", "address", "tariff", "subscriber", "ledger_entry", "payment",
    "service_request", "request_event", "news_item", "maintenance_area", "page",
    "site_setting", "cabinet_rating", "audit_entry", "piccolo_user", "sessions",
}


async def table_names() -> set[str]:
    if engine_name() == "postgres":
        sql = "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    rows = await Page.raw(sql)
    return {r["name"] for r in rows}


async def test_every_table_exists_and_migrations_are_complete():
    assert EXPECTED_TABLES <= await table_names()
    again = await run_forwards(app_name="all")
    assert again.success  # re-running finds nothing to do and breaks nothing


async def test_contract_number_is_unique():
    subscriber = await make_subscriber()
    clone = Subscriber(**{k: v for k, v in subscriber.to_dict().items() if k != "id"})
    with pytest.raises(Exception):  # noqa: B017 - driver-specific IntegrityError
        await Subscriber.insert(clone)


async def test_contract_number_is_digits_only():
    subscriber = await make_subscriber()
    with pytest.raises(Exception):  # noqa: B017
        await Subscriber.update({Subscriber.contract_number: "12a"}).where(
            Subscriber.id == subscriber.id
        )


async def test_ledger_reference_unique_and_not_null():
    subscriber = await make_subscriber()
    await post_entry(subscriber.id, 100, EntryKind.PAYMENT, "ref-1")
    with pytest.raises(Exception):  # noqa: B017
        await LedgerEntry.insert(LedgerEntry(subscriber=subscriber.id, amount=5, kind="payment",
                                             reference="ref-1"))
    with pytest.raises(Exception):  # noqa: B017
        await LedgerEntry.raw(
            "INSERT INTO ledger_entry (subscriber, amount, kind, reference, comment, created_at, "
            "created_by) VALUES ({}, 5, 'payment', NULL, '', CURRENT_TIMESTAMP, 'x')", subscriber.id
        )


async def test_ledger_amount_nonzero_and_bigint():
    subscriber = await make_subscriber()
    with pytest.raises(Exception):  # noqa: B017
        await LedgerEntry.insert(LedgerEntry(subscriber=subscriber.id, amount=0, kind="payment",
                                             reference="zero"))
    huge = 9_000_000_000_000  # beyond 32 bits: kopecks are BigInt
    await post_entry(subscriber.id, huge, EntryKind.ADJUSTMENT, "huge")
    row = await Subscriber.select(Subscriber.balance).where(Subscriber.id == subscriber.id).first()
    assert row["balance"] == huge


@pytest.mark.parametrize("score", [0, 6, -1])
async def test_rating_score_range(score: int):
    with pytest.raises(Exception):  # noqa: B017
        await CabinetRating.insert(CabinetRating(score=score, period="2026-11"))
    assert await CabinetRating.count() == 0


async def test_rating_score_in_range_is_accepted():
    for score in range(1, 6):
        await CabinetRating.insert(CabinetRating(score=score, period="2026-11"))
    assert await CabinetRating.count() == 5


async def test_money_rows_refuse_deleting_their_subscriber():
    subscriber = await make_subscriber()
    await post_entry(subscriber.id, 500, EntryKind.PAYMENT, "pay-1")
    with pytest.raises(Exception):  # noqa: B017
        await Subscriber.delete().where(Subscriber.id == subscriber.id)
    assert await Subscriber.exists().where(Subscriber.id == subscriber.id)


async def test_payment_refund_cannot_exceed_amount():
    subscriber = await make_subscriber()
    with pytest.raises(Exception):  # noqa: B017
        await Payment.insert(Payment(subscriber=subscriber.id, amount=100, refunded_amount=101))


async def test_page_slug_unique():
    await Page.insert(Page(slug="faq", title="FAQ", body="x"))
    with pytest.raises(Exception):  # noqa: B017
        await Page.insert(Page(slug="faq", title="FAQ 2", body="y"))


async def test_contracts_created_at_the_same_moment_get_distinct_numbers(monkeypatch):
    """Two clerks converting applications at once: no duplicate number, no failure."""
    import asyncio

    from tables import subscribers
    from tests.support.factories import make_address, make_tariff

    numbering = subscribers.next_contract_number

    async def slow_numbering() -> str:
        number = await numbering()
        await asyncio.sleep(0.05)  # the others read the maximum meanwhile, unless serialised
        return number

    monkeypatch.setattr(subscribers, "next_contract_number", slow_numbering)
    tariff = await make_tariff()
    addresses = [await make_address(apartment=str(i)) for i in range(1, 7)]
    created = await asyncio.gather(*[
        subscribers.create_subscriber(full_name=f"Абонент {a.id}", address_id=a.id,
                                      tariff_id=tariff.id, password="one-time-1")
        for a in addresses
    ])
    numbers = sorted(s.contract_number for s, _ in created)
    assert numbers == [str(100001 + i) for i in range(6)]


async def test_contract_history_includes_its_payments_and_requests_not_others():
    from tables.audit import Actor, contract_history
    from tables.payments.office import book_office_payment
    from tables.requests.filing import file_request

    clerk = Actor("clerk", None)
    own, other = await make_subscriber(), await make_subscriber()
    await book_office_payment(own.id, 50000, actor=clerk)
    await file_request(own.id, "question", text="Когда подключат ТВ?")
    await book_office_payment(other.id, 70000, actor=clerk)
    actions = [row["action"] for row in await contract_history(own.id)]
    assert actions[-1] == "subscriber.created"
    assert any(a.startswith("payment.") for a in actions)
    assert "request.filed" in actions
    others = [row["action"] for row in await contract_history(other.id)]
    assert len([a for a in others if a.startswith("payment.")]) == 1
    assert not any("request" in a for a in others)
