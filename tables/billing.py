"""Billing: scheduled tariff changes.

MERGE NOTE: a minimal stand-in written on the ``requests`` branch. The billing
engine (branch ``billing``) defines the same ``TariffChange`` table and
``schedule_tariff_change`` function; keep one at merge. The billing run reads
``TariffChange`` rows (``effective_from`` ≤ period start, ``applied_at`` null),
switches ``Subscriber.tariff`` and sets ``applied_at``.
"""

from __future__ import annotations

import datetime as dt

from piccolo.columns import Date, ForeignKey, OnDelete, Timestamptz, Varchar
from piccolo.table import Table

from tables.audit import Actor, write_audit
from tables.db import utcnow, write_transaction
from tables.subscribers import Subscriber, SubscriberStatus
from tables.tariffs import Tariff


class TariffChange(Table, help_text="Запланированные смены тарифа (действуют с начала периода)"):
    subscriber = ForeignKey(Subscriber, null=False, on_delete=OnDelete.restrict, help_text="Договор")
    old_tariff = ForeignKey(Tariff, null=False, on_delete=OnDelete.restrict, help_text="Прежний тариф")
    new_tariff = ForeignKey(Tariff, null=False, on_delete=OnDelete.restrict, help_text="Новый тариф")
    effective_from = Date(help_text="Действует с (первое число месяца)")
    applied_at = Timestamptz(null=True, default=None, help_text="Применена (UTC)")
    created_at = Timestamptz(help_text="Создана (UTC)")
    created_by = Varchar(length=150, default="system", help_text="Кто оформил")


async def schedule_tariff_change(subscriber_id: int, tariff_id: int, effective_from: dt.date, *,
                                 actor: Actor) -> TariffChange:
    """Record that ``tariff_id`` applies to the contract from ``effective_from``.

    A second change for the same date replaces the first while it is not yet applied.
    """
    if effective_from.day != 1:
        raise ValueError("Смена тарифа действует с первого числа месяца.")
    async with write_transaction():
        subscriber = await Subscriber.objects().where(Subscriber.id == subscriber_id).first()
        if subscriber is None:
            raise ValueError("Договор не найден")
        if subscriber.status == SubscriberStatus.TERMINATED:
            raise ValueError("Договор расторгнут: смена тарифа невозможна.")
        tariff = await Tariff.objects().where(Tariff.id == tariff_id).first()
        if tariff is None or not tariff.active:
            raise ValueError("Этот тариф недоступен для подключения.")
        if tariff.id == subscriber.tariff:
            raise ValueError("Этот тариф уже подключён.")
        change = await TariffChange.objects().where(
            (TariffChange.subscriber == subscriber_id)
            & (TariffChange.effective_from == effective_from)
            & TariffChange.applied_at.is_null()
        ).first()
        before = {"new_tariff": change.new_tariff} if change else {}
        if change is None:
            change = TariffChange(subscriber=subscriber_id, old_tariff=subscriber.tariff,
                                  new_tariff=tariff.id, effective_from=effective_from,
                                  created_at=utcnow())
        change.new_tariff = tariff.id
        change.created_by = actor.name[:150]
        await change.save()
        await write_audit(action="subscriber.tariff_change_scheduled", object_type="subscriber",
                          object_id=subscriber_id, object_repr=subscriber.contract_number,
                          actor=actor, before=before,
                          after={"old_tariff": subscriber.tariff, "new_tariff": tariff.id,
                                 "effective_from": effective_from.isoformat()})
    return change
