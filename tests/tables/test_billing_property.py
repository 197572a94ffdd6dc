"""Property: whatever happens, the cached balance is the ledger sum and no period is charged twice."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tables.audit import Actor, AuditEntry
from tables.billing.charge_run import BillingRun, run_charges
from tables.billing.fee import compute_charge
from tables.billing.promised import PromisedPayment, grant_promised_payment, reverse_expired_promised_payments
from tables.ledger import EntryKind, LedgerEntry, ledger_sum, post_entry
from tables.subscribers import Subscriber, SubscriberStatus
from tests.support.factories import make_subscriber

START = dt.datetime(2026, 12, 1, 3, 0, tzinfo=dt.UTC)
# Up to the current local month: a later one is refused (tables.billing.charge_run.check_chargeable).
PERIODS = ["2026-10", "2026-11", "2026-12"]
_refs = itertools.count()

operations = st.one_of(
    st.tuples(st.just("pay"), st.integers(0, 2), st.integers(1, 200_000)),
    st.tuples(st.just("charge"), st.integers(0, 2), st.booleans()),
    st.tuples(st.just("promise"), st.integers(0, 2), st.integers(1, 100_000)),
    st.tuples(st.just("wait"), st.integers(0, 2), st.integers(1, 100)),  # hours
)


async def _subscribers() -> list[int]:
    """Three contracts: all month, connected on 15 December, terminated on 10 December."""
    rows = await Subscriber.select(Subscriber.id).order_by(Subscriber.id)
    if not rows:
        await make_subscriber(fee=75000)
        await make_subscriber(fee=49999, connected_on=dt.date(2026, 12, 15))
        gone = await make_subscriber(fee=35000)
        await Subscriber.update({Subscriber.status: SubscriberStatus.TERMINATED,
                                 Subscriber.terminated_on: dt.date(2026, 12, 10)}).where(
            Subscriber.id == gone.id)
        rows = await Subscriber.select(Subscriber.id).order_by(Subscriber.id)
    return [r["id"] for r in rows]


async def _reset() -> None:
    for table in (PromisedPayment, LedgerEntry, BillingRun, AuditEntry):
        await table.delete(force=True)
    await Subscriber.update({Subscriber.balance: 0}, force=True)
    await Subscriber.update({Subscriber.status: SubscriberStatus.ACTIVE}).where(
        Subscriber.status == SubscriberStatus.SUSPENDED)


async def _check(ids: list[int]) -> None:
    for sid in ids:
        assert (await Subscriber.select(Subscriber.balance).where(Subscriber.id == sid).first()
                )["balance"] == await ledger_sum(sid)
    rows = await LedgerEntry.select(LedgerEntry.subscriber, LedgerEntry.period, LedgerEntry.amount).where(
        LedgerEntry.kind == EntryKind.CHARGE)
    seen = {(r["subscriber"], r["period"]) for r in rows}
    assert len(seen) == len(rows), "a (contract, period) was charged twice"
    for r in rows:
        assert -r["amount"] == await compute_charge(r["subscriber"], r["period"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(operations, min_size=1, max_size=14))
async def test_balance_is_ledger_sum_and_no_period_charged_twice(steps):
    ids = await _subscribers()
    await _reset()
    now = START
    actor = Actor("property")
    for op, who, value in steps:
        if op == "pay":
            await post_entry(ids[who], value, EntryKind.PAYMENT, f"prop-pay:{next(_refs)}")
        elif op == "charge":
            runs = [run_charges(PERIODS[who], actor=actor, now=now, chunk_size=2)]
            if value:  # and a concurrent one
                runs.append(run_charges(PERIODS[who], actor=actor, now=now, chunk_size=1))
            await asyncio.gather(*runs)
        elif op == "promise":
            try:
                await grant_promised_payment(ids[who], now=now, amount=value)
            except ValueError:
                pass
        else:
            now += dt.timedelta(hours=value)
            await reverse_expired_promised_payments(now=now)
        await _check(ids)
    # Every promised payment past its expiry has been reversed, each exactly once.
    await reverse_expired_promised_payments(now=now + dt.timedelta(days=4))
    open_promises = await PromisedPayment.count().where(PromisedPayment.reversed_at.is_null())
    assert open_promises == 0
    promised_total = await LedgerEntry.raw(
        "SELECT COALESCE(SUM(amount), 0) AS s FROM ledger_entry WHERE kind = 'promised'")
    assert int(promised_total[0]["s"]) == 0
    await _check(ids)
