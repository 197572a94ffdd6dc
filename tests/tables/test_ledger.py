"""Ledger postings: the only way a balance moves, each external event booked once."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tables.audit import Actor, AuditEntry
from tables.ledger import (
    DuplicateEntryError,
    EntryKind,
    LedgerEntry,
    ledger_sum,
    post_adjustment,
    post_entry,
    recompute_balance,
)
from tables.subscribers import Subscriber, SubscriberStatus
from tests.support.factories import make_subscriber


async def balance_of(subscriber_id: int) -> int:
    row = await Subscriber.select(Subscriber.balance).where(Subscriber.id == subscriber_id).first()
    return row["balance"]


async def test_posting_moves_the_balance():
    s = await make_subscriber()
    _, balance = await post_entry(s.id, 65000, EntryKind.PAYMENT, "pi_1")
    assert balance == 65000
    _, balance = await post_entry(s.id, -75000, EntryKind.CHARGE, f"charge:{s.id}:2026-11",
                                  period="2026-11")
    assert balance == -10000 == await balance_of(s.id) == await ledger_sum(s.id)


async def test_duplicate_reference_is_refused_and_changes_nothing():
    s = await make_subscriber()
    await post_entry(s.id, 65000, EntryKind.PAYMENT, "pi_dup")
    with pytest.raises(DuplicateEntryError):
        await post_entry(s.id, 65000, EntryKind.PAYMENT, "pi_dup")
    assert await balance_of(s.id) == 65000
    assert await LedgerEntry.count().where(LedgerEntry.reference == "pi_dup") == 1


@pytest.mark.parametrize("amount", [0, 1.5, True, "100"])
async def test_amount_must_be_nonzero_integer_kopecks(amount):
    s = await make_subscriber()
    with pytest.raises(ValueError):
        await post_entry(s.id, amount, EntryKind.ADJUSTMENT, "bad")  # type: ignore[arg-type]
    assert await LedgerEntry.count() == 0


async def test_unknown_subscriber_posts_nothing():
    with pytest.raises(Exception):  # noqa: B017 - FK violation or "not found"
        await post_entry(999_999, 100, EntryKind.PAYMENT, "ghost")
    assert await LedgerEntry.count() == 0


async def test_credit_back_to_zero_reactivates_suspended_contract():
    s = await make_subscriber()
    await post_entry(s.id, -5000, EntryKind.CHARGE, "c1")
    await Subscriber.update({Subscriber.status: SubscriberStatus.SUSPENDED}).where(Subscriber.id == s.id)
    await post_entry(s.id, 4000, EntryKind.PAYMENT, "p1")
    row = await Subscriber.select(Subscriber.status).where(Subscriber.id == s.id).first()
    assert row["status"] == "suspended"
    await post_entry(s.id, 1000, EntryKind.PAYMENT, "p2")
    row = await Subscriber.select(Subscriber.status).where(Subscriber.id == s.id).first()
    assert row["status"] == "active"


async def test_adjustment_needs_reason_and_is_audited():
    s = await make_subscriber()
    with pytest.raises(ValueError):
        await post_adjustment(s.id, 100, "  ", actor=Actor("clerk", None))
    assert await post_adjustment(s.id, -2500, "ошибка кассы", actor=Actor("clerk", None)) == -2500
    entry = await AuditEntry.objects().where(AuditEntry.action == "ledger.adjusted").first()
    assert entry is not None and entry.actor_name == "clerk"


async def test_recompute_repairs_a_drifted_cache():
    s = await make_subscriber()
    await post_entry(s.id, 300, EntryKind.PAYMENT, "r1")
    await Subscriber.update({Subscriber.balance: 999}).where(Subscriber.id == s.id)
    assert await recompute_balance(s.id) == 300 == await balance_of(s.id)


amounts = st.integers(min_value=-10_000_000, max_value=10_000_000).filter(lambda a: a != 0)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.sampled_from([0, 1]), amounts, st.integers(0, 5)),
                      min_size=1, max_size=25))
async def test_cached_balance_always_equals_ledger_sum(steps):
    await LedgerEntry.delete(force=True)
    await Subscriber.update({Subscriber.balance: 0}, force=True)
    subscribers = await Subscriber.select(Subscriber.id)
    while len(subscribers) < 2:
        await make_subscriber()
        subscribers = await Subscriber.select(Subscriber.id)
    ids = [r["id"] for r in subscribers[:2]]
    for who, amount, ref in steps:
        try:
            await post_entry(ids[who], amount, EntryKind.ADJUSTMENT, f"h:{ref}")
        except DuplicateEntryError:
            pass
    for sid in ids:
        assert await balance_of(sid) == await ledger_sum(sid)
    assert await LedgerEntry.count() == len({ref for _, _, ref in steps})


def test_signed_amounts_for_adjustments():
    from tables.money import parse_signed_rubles

    assert parse_signed_rubles("-150,50") == -15050 and parse_signed_rubles("+20") == 2000
    assert parse_signed_rubles(" 7 ") == 700
    for text in ("--5", "+-5", "-", "", "٥", "5-"):
        with pytest.raises(ValueError):
            parse_signed_rubles(text)
