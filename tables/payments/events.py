"""Provider events (webhooks) recorded once, with what applying them did."""

from __future__ import annotations

import datetime as dt

from piccolo.columns import Timestamptz, Varchar
from piccolo.table import Table

from tables.calendar import utcnow


class ProviderEvent(Table, help_text="События провайдера (webhook): принятые уведомления"):
    event_id = Varchar(length=100, unique=True, help_text="Идентификатор события провайдера")
    event_type = Varchar(length=100, default="", help_text="Тип события")
    object_id = Varchar(length=100, default="", index=True, help_text="Объект (PaymentIntent)")
    outcome = Varchar(length=40, default="", help_text="Что сделано")
    received_at = Timestamptz(help_text="Получено")


async def record_event(event_id: str, event_type: str, object_id: str, *, outcome: str = "",
                       now: dt.datetime | None = None) -> bool:
    """Record a provider event once; False when it was recorded before (a redelivery).

    Call inside the transaction that applies it, so an event is applied exactly once.
    """
    inserted = await (
        ProviderEvent.insert(ProviderEvent(event_id=event_id[:100], event_type=event_type[:100],
                                           object_id=object_id[:100], outcome=outcome,
                                           received_at=now or utcnow()))
        .on_conflict(target=ProviderEvent.event_id, action="DO NOTHING")
        .returning(ProviderEvent.id)
    )
    return bool(inserted)


async def event_outcome(event_id: str | None, outcome: str) -> None:
    """What applying a recorded event did (for the admin's event list)."""
    if event_id:
        await ProviderEvent.update({ProviderEvent.outcome: outcome}).where(
            ProviderEvent.event_id == event_id[:100])
