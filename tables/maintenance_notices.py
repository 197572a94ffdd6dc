"""Maintenance works told to the subscribers of the affected addresses: once when the notice is
published, and again the evening before the works (from 18:00 local).

Maintenance notices are reference data edited in the admin (no domain transaction to join), so
the job engine's ``messages.maintenance`` pass looks for what is not yet told; every message is
keyed by notice and contract, so passes, retries and several workers queue each one once.
"""

from __future__ import annotations

import datetime as dt

from tables import messages
from tables.calendar import LOCAL_TZ, as_utc, utcnow
from tables.content import NewsItem, NewsKind

EVENING = dt.time(18, 0)

# Contracts at an address a notice's areas name (its town, its street, or its building), not
# terminated, not yet told under ``:prefix``.
_AFFECTED = """
SELECT DISTINCT s.id
FROM subscriber s
JOIN address me ON me.id = s.address
JOIN street st ON st.id = me.street
JOIN maintenance_area a ON a.news = {}
     AND (a.town = st.town OR a.street = me.street
          OR EXISTS (SELECT 1 FROM address b WHERE b.id = a.address AND b.street = me.street
                     AND b.house = me.house))
LEFT JOIN notification n ON n.event_key = {} || CAST(s.id AS TEXT)
WHERE s.status <> 'terminated' AND n.id IS NULL
ORDER BY s.id
"""


def evening_before(starts_at: dt.datetime) -> dt.datetime:
    day = starts_at.astimezone(LOCAL_TZ).date() - dt.timedelta(days=1)
    return dt.datetime.combine(day, EVENING, tzinfo=LOCAL_TZ)


def window_text(starts_at: dt.datetime, ends_at: dt.datetime, *, tomorrow: bool = False) -> str:
    start, end = starts_at.astimezone(LOCAL_TZ), ends_at.astimezone(LOCAL_TZ)
    if start.date() == end.date():
        day = "завтра" if tomorrow else start.strftime("%d.%m")
        return f"{day} с {start:%H:%M} до {end:%H:%M}"
    return f"с {start:%d.%m %H:%M} до {end:%d.%m %H:%M}"


async def notify_maintenance(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Queue the messages of published, not yet started maintenance works. :returns: counts."""
    now = now or utcnow()
    notices = await NewsItem.select(NewsItem.id, NewsItem.starts_at, NewsItem.ends_at).where(
        (NewsItem.kind == NewsKind.MAINTENANCE) & (NewsItem.published == True)  # noqa: E712
        & (NewsItem.published_at <= now) & NewsItem.starts_at.is_not_null()
        & NewsItem.ends_at.is_not_null() & (NewsItem.starts_at > now))
    told = {"published": 0, "evening": 0}
    for notice in notices:
        starts, ends = as_utc(notice["starts_at"]), as_utc(notice["ends_at"])
        stages = [("published", "maintenance")]
        if now >= evening_before(starts):
            stages.append(("evening", "maintenance_eve"))
        if len(stages) == 2:
            stages = stages[1:]  # published late: the evening message alone says it
        for stage, kind in stages:
            rows = await NewsItem.raw(_AFFECTED, notice["id"], f"{kind}:{notice['id']}:")
            for row in rows:
                told[stage] += await messages.maintenance(
                    row["id"], notice["id"], window_text(starts, ends, tomorrow=stage == "evening"),
                    evening=stage == "evening")
    return told
