"""The demo-data command is idempotent."""

from __future__ import annotations

from piccolo.apps.user.tables import BaseUser

from tables.commands.demo import DEMO_SUBSCRIBER, load_demo
from tables.ledger import LedgerEntry, ledger_sum
from tables.subscribers import Subscriber
from tests.support.helpers import row_counts


async def test_demo_twice_gives_the_same_rows():
    assert await load_demo() is True
    first = await row_counts()
    assert first["subscriber"] >= 50 and first["tariff"] == 3 and first["town"] == 2
    assert first["ledger_entry"] > 100 and first["news_item"] >= 4 and first["page"] >= 5
    assert await load_demo() is False
    assert await row_counts() == first
    assert await BaseUser.count() == 4


async def test_demo_balances_match_the_ledger():
    await load_demo()
    for row in await Subscriber.select(Subscriber.id, Subscriber.balance):
        assert row["balance"] == await ledger_sum(row["id"])
    demo = await Subscriber.objects().where(Subscriber.contract_number == DEMO_SUBSCRIBER[0]).first()
    assert demo is not None and not demo.must_change_password
    assert await LedgerEntry.count().where(LedgerEntry.subscriber == demo.id) > 0


async def test_demo_pages_show_their_heading_once(client):
    """The page template prints the title as the h1, so a body must not start with its own."""
    from tables.commands.demo import PAGES
    from tables.content import Page

    for order, (slug, title, body) in enumerate(PAGES):  # the pages alone: load_demo() is slow
        await Page(slug=slug, title=title, body=body, sort_order=order).save()
    for slug, title, _ in PAGES:
        html = (await client.get(f"/pages/{slug}")).text
        assert html.count("<h1") == 1 and title in html, slug
