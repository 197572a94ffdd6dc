"""Content and ratings: one rating per subscriber per month, lookup indexes.

A plain (not partial) unique index: NULLs are distinct on both engines, so
anonymous ratings never collide, and ``ON CONFLICT (subscriber, period)``
can infer it (a partial index would need its predicate in the conflict target).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-25T14:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "rating per subscriber and month, news and maintenance indexes"

STATEMENTS = [
    "DROP INDEX cabinet_rating_subscriber_period",
    "CREATE UNIQUE INDEX cabinet_rating_subscriber_period_uniq ON cabinet_rating (subscriber, period)",
    "CREATE INDEX cabinet_rating_period ON cabinet_rating (period, score)",
    "CREATE INDEX news_item_published_at ON news_item (published_at)",
    "CREATE INDEX maintenance_area_news ON maintenance_area (news)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tables", description=DESCRIPTION)

    async def run():
        from piccolo_conf import DB

        for sql in STATEMENTS:
            await DB.run_ddl(sql)

    manager.add_raw(run)
    return manager
