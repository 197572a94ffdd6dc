"""Charges in advance given back when a contract ends mid-period."""

from __future__ import annotations

from db.engine import write_transaction
from tables.audit import Actor, write_audit
from tables.billing.fee import compute_charge
from tables.billing.sql import lock_subscriber
from tables.billing.texts import TEXTS
from tables.ledger import EntryKind, LedgerEntry, post_entry
from tables.month import Month


async def settle_terminated_charges(subscriber_id: int, *, actor: Actor) -> int:
    """Give back what was charged in advance for days after ``terminated_on``.

    For the termination workflow: the run charges the current month on the 1st, so a
    contract terminated on the 10th was charged in full.  Every charged period from
    the termination month on is recomputed with the run's own SQL and the excess
    credited once (reference ``charge-correction:<id>:<period>``).  Idempotent.

    :returns: kopecks credited by this call.
    """
    credited = 0
    async with write_transaction():
        subscriber = await lock_subscriber(subscriber_id)
        if subscriber is None:
            raise ValueError(TEXTS["not_found"])
        if subscriber.terminated_on is None:
            raise ValueError(TEXTS["not_terminated"])
        first = Month.of(subscriber.terminated_on).iso
        rows = await LedgerEntry.raw(
            "SELECT period, SUM(amount) AS amount FROM ledger_entry "
            "WHERE subscriber = {} AND kind = 'charge' AND period >= {} GROUP BY period",
            subscriber_id, first,
        )
        for row in rows:
            period = Month.parse(row["period"])
            excess = -int(row["amount"]) - await compute_charge(subscriber_id, period)
            if excess <= 0:
                continue
            await post_entry(
                subscriber_id, excess, EntryKind.CHARGE, f"charge-correction:{subscriber_id}:{period}",
                period=period.iso, created_by=actor.name,
                comment=TEXTS["correction_comment"].format(
                    month=period.title, date=subscriber.terminated_on.strftime("%d.%m.%Y")),
            )
            credited += excess
        if credited:
            await write_audit(action="billing.termination_settled", object_type="subscriber",
                              object_id=subscriber_id, object_repr=subscriber.contract_number,
                              actor=actor, after={"credited": credited,
                                                  "terminated_on": subscriber.terminated_on.isoformat()})
    return credited
