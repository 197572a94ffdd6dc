"""Tariff changes booked from a date: a chain per contract, switched on when the date comes."""

from __future__ import annotations

import datetime as dt

from piccolo.columns import (
    Boolean,
    Date,
    ForeignKey,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from db.engine import write_transaction
from tables import messages
from tables.audit import SYSTEM, Actor, write_audit
from tables.billing.sql import Sql, audit_insert_select, lock_billing, lock_subscriber
from tables.billing.texts import TEXTS
from tables.calendar import as_utc, local_date, utcnow
from tables.coa import queue_disconnects
from tables.ledger import EntryKind, LedgerEntry
from tables.month import Month
from tables.subscribers import Subscriber, SubscriberStatus
from tables.tariffs import Tariff


class TariffChange(Table, help_text="Смены тарифа с даты: цепочка по договору, применяются на границе"):
    subscriber = ForeignKey(Subscriber, null=False, on_delete=OnDelete.restrict,
                            help_text="Договор")
    from_tariff = ForeignKey(Tariff, null=False, on_delete=OnDelete.restrict,
                             help_text="Прежний тариф")
    tariff = ForeignKey(Tariff, null=False, on_delete=OnDelete.restrict, help_text="Новый тариф")
    effective_from = Date(help_text="Действует с даты (включительно)")
    router_rented = Boolean(null=True, default=None,
                            help_text="Аренда роутера с этой даты (пусто — без изменений)")
    applied_at = Timestamptz(null=True, default=None,
                             help_text="Когда тариф договора переключён")
    comment = Text(default="", help_text="Основание, например номер заявки")
    created_at = Timestamptz(help_text="Назначена")
    created_by = Varchar(length=150, help_text="Кто назначил")


async def schedule_tariff_change(
    subscriber_id: int,
    tariff_id: int,
    effective_from: dt.date,
    actor: Actor,
    *,
    comment: str = "",
    now: dt.datetime | None = None,
    router_rented: bool | None = None,
) -> TariffChange:
    """Book a tariff change from a date (called when staff complete a tariff-change request).

    Changes of a contract form a chain in date order, each remembering the tariff it
    replaces, so any period can be (re)computed.  The new tariff is billed from
    ``effective_from`` (inclusive); a period already charged cannot change.
    ``Subscriber.tariff`` switches when the date comes (at once if it has), and with it
    ``Subscriber.router_rented`` when ``router_rented`` is given (None: the rent stays as is).

    >>> await schedule_tariff_change(sub.id, tariff.id, dt.date(2027, 1, 1), staff_actor)

    :raises ValueError: with a Russian message when the change is not possible.
    """
    now = now or utcnow()
    q = Sql()
    async with write_transaction():
        await lock_billing(q)
        subscriber = await lock_subscriber(subscriber_id)
        if subscriber is None:
            raise ValueError(TEXTS["not_found"])
        if subscriber.status == SubscriberStatus.TERMINATED:
            raise ValueError(TEXTS["tariff_terminated"])
        if subscriber.terminated_on is not None and effective_from > subscriber.terminated_on:
            raise ValueError(TEXTS["tariff_after_termination"].format(
                date=subscriber.terminated_on.strftime("%d.%m.%Y")))
        if effective_from <= subscriber.connected_on:
            raise ValueError(TEXTS["tariff_before_connection"].format(
                date=subscriber.connected_on.strftime("%d.%m.%Y")))
        tariff = await Tariff.objects().where(Tariff.id == tariff_id).first()
        if tariff is None:
            raise ValueError(TEXTS["tariff_not_found"])
        if not tariff.active:
            raise ValueError(TEXTS["tariff_archived"].format(name=tariff.name))
        latest = await (TariffChange.objects().where(TariffChange.subscriber == subscriber_id)
                        .order_by(TariffChange.effective_from, ascending=False).first())
        if latest is not None and effective_from <= latest.effective_from:
            raise ValueError(TEXTS["tariff_order"].format(
                date=latest.effective_from.strftime("%d.%m.%Y")))
        from_tariff = latest.tariff if latest is not None else subscriber.tariff
        router_now = bool(subscriber.router_rented if latest is None or latest.router_rented is None
                          else latest.router_rented)
        if from_tariff == tariff_id:
            since = latest.effective_from if latest is not None else subscriber.connected_on
            raise ValueError(TEXTS["tariff_same"].format(date=since.strftime("%d.%m.%Y")))
        period = Month.of(effective_from)
        charged = await LedgerEntry.select(LedgerEntry.period).where(
            (LedgerEntry.subscriber == subscriber_id) & (LedgerEntry.kind == EntryKind.CHARGE)
            & (LedgerEntry.period >= period.iso)
        ).order_by(LedgerEntry.period, ascending=False).first()
        if charged is not None:
            last_charged = Month.parse(charged["period"])
            raise ValueError(TEXTS["tariff_charged"].format(
                period=period if last_charged == period else last_charged,
                date=last_charged.next.first_day.strftime("%d.%m.%Y")))
        change = TariffChange(subscriber=subscriber_id, from_tariff=from_tariff, tariff=tariff_id,
                              effective_from=effective_from, comment=comment.strip(),
                              created_at=now, created_by=actor.name, router_rented=router_rented)
        await change.save()
        after = {"tariff": tariff_id, "effective_from": effective_from.isoformat()}
        if router_rented is not None:
            after["router_rented"] = router_rented
        await write_audit(action="tariff.change_scheduled", object_type="subscriber",
                          object_id=subscriber_id, object_repr=subscriber.contract_number,
                          actor=actor, message=comment.strip(),
                          before={"tariff": from_tariff, "router_rented": router_now}, after=after)
        if effective_from <= local_date(now):
            await apply_due_tariff_changes(local_date(now), now=now)
            change.applied_at = now
    return change


async def apply_due_tariff_changes(on: dt.date, *, now: dt.datetime | None = None) -> int:
    """Switch ``Subscriber.tariff`` to the latest change effective on or before ``on``.

    Set-based and idempotent; the charge run calls it for the period's 1st day and the
    worker daily.  Billing itself reads the change chain, so the timing of this switch
    never changes an amount.  :returns: the number of changes applied.
    """
    now = now or utcnow()
    q = Sql()
    due = "FROM tariff_change c WHERE c.effective_from <= :on AND c.applied_at IS NULL"
    async with write_transaction():
        count = await q.run(f"SELECT COUNT(*) AS n {due}", on=on)
        if not int(count[0]["n"]):
            return 0
        # Booked in advance: the subscriber hears when it starts (a change effective at once was
        # told when it was booked, by the request's message).
        told = await q.run(
            "SELECT c.id, c.subscriber, c.effective_from, c.created_at, t.name, t.monthly_fee "
            "FROM tariff_change c JOIN tariff t ON t.id = c.tariff "
            "WHERE c.effective_from <= :on AND c.applied_at IS NULL", on=on)
        for row in told:
            effective = _as_date(row["effective_from"])
            if local_date(as_utc(row["created_at"])) < effective:
                await messages.tariff_applied(row["subscriber"], row["id"], tariff=row["name"],
                                              fee=row["monthly_fee"], effective_from=effective)
        await q.run(
            audit_insert_select(
                q, action="subscriber.tariff_changed", object_repr="s.contract_number",
                select_from="FROM tariff_change c JOIN subscriber s ON s.id = c.subscriber\n"
                            "WHERE c.effective_from <= :on AND c.applied_at IS NULL",
                before="'tariff', c.from_tariff",
                after="'tariff', c.tariff, 'effective_from', CAST(c.effective_from AS TEXT)"),
            on=on, actor_id=None, actor_name=SYSTEM.name, now=now,
            message=TEXTS["tariff_applied"],
        )
        await q.run(
            "UPDATE subscriber SET tariff = ("
            " SELECT c.tariff FROM tariff_change c"
            " WHERE c.subscriber = subscriber.id AND c.effective_from <= :on AND c.applied_at IS NULL"
            " ORDER BY c.effective_from DESC LIMIT 1) "
            f"WHERE id IN (SELECT c.subscriber {due})",
            on=on,
        )
        # The router rent a change books starts or ends with it (the latest due change that says).
        await q.run(
            "UPDATE subscriber SET router_rented = COALESCE(("
            " SELECT c.router_rented FROM tariff_change c"
            " WHERE c.subscriber = subscriber.id AND c.effective_from <= :on AND c.applied_at IS NULL"
            " AND c.router_rented IS NOT NULL ORDER BY c.effective_from DESC LIMIT 1), router_rented) "
            f"WHERE id IN (SELECT c.subscriber {due})",
            on=on,
        )
        # A new speed reaches the network at once: the worker cuts the contract's open sessions
        # and the router logs in again at the new tariff's rate (tables.coa, docs/network.md).
        faster_or_slower = await q.run(
            "SELECT c.id, c.subscriber FROM tariff_change c JOIN tariff t ON t.id = c.tariff "
            "LEFT JOIN tariff f ON f.id = c.from_tariff "
            "WHERE c.effective_from <= :on AND c.applied_at IS NULL AND (f.id IS NULL "
            "OR t.speed_mbps <> f.speed_mbps OR t.upload_mbps <> f.upload_mbps)", on=on)
        for row in faster_or_slower:
            await queue_disconnects(row["subscriber"], "tariff", f"tariff_change:{row['id']}")
        await q.run(f"UPDATE tariff_change SET applied_at = :now WHERE id IN (SELECT c.id {due})",
                    on=on, now=now)
    return int(count[0]["n"])


async def cancel_tariff_change(subscriber_id: int, change_id: int, actor: Actor, *,
                               now: dt.datetime | None = None) -> TariffChange:
    """Cancel a booked change before its day: only the contract's latest change, not yet applied,
    booked by the same ``actor`` (a subscriber cancels what they booked). Audited; the row goes,
    so billing and the fee rule never see it.

    :raises ValueError: with a Russian message when it cannot be cancelled.
    """
    now = now or utcnow()
    q = Sql()
    async with write_transaction():
        await lock_billing(q)
        await lock_subscriber(subscriber_id)
        latest = await (TariffChange.objects().where(TariffChange.subscriber == subscriber_id)
                        .order_by(TariffChange.effective_from, ascending=False).first())
        if (latest is None or latest.id != change_id or latest.applied_at is not None
                or latest.created_by != actor.name):
            raise ValueError(TEXTS["tariff_cancel_none"])
        if latest.effective_from <= local_date(now):
            raise ValueError(TEXTS["tariff_cancel_late"])
        await TariffChange.delete().where(TariffChange.id == latest.id)
        subscriber = await Subscriber.select(Subscriber.contract_number).where(
            Subscriber.id == subscriber_id).first()
        await write_audit(action="tariff.change_cancelled", object_type="subscriber",
                          object_id=subscriber_id, object_repr=subscriber["contract_number"],
                          actor=actor, message=latest.comment,
                          before={"tariff": latest.tariff, "router_rented": latest.router_rented,
                                  "effective_from": latest.effective_from.isoformat()},
                          after={"tariff": latest.from_tariff})
    return latest


async def booked_change(subscriber_id: int, *, today: dt.date) -> dict | None:
    """The contract's latest change still ahead (tariff name, fee, date, router, who booked it)."""
    rows = await TariffChange.raw(
        "SELECT c.id, c.effective_from, c.router_rented, c.created_by, t.name, t.monthly_fee,"
        " t.router_fee FROM tariff_change c JOIN tariff t ON t.id = c.tariff"
        " WHERE c.subscriber = {} AND c.applied_at IS NULL AND c.effective_from > {}"
        " ORDER BY c.effective_from DESC LIMIT 1", subscriber_id, today)
    if not rows:
        return None
    row = dict(rows[0])
    row["effective_from"] = _as_date(row["effective_from"])
    return row


def _as_date(value: dt.date | str) -> dt.date:
    """A DATE column as read by raw SQL (SQLite gives text)."""
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])
