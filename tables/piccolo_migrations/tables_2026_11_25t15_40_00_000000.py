"""Indexes for the admin's list filters over the ledger and for finding a subscriber by name.

* ``ledger_entry (period, id)``: the ledger filtered by month, newest first, without walking
  the whole table backwards (3.7 s → milliseconds on 11M rows, docs/performance.md);
* ``ledger_entry (created_at)``: the ledger filtered by a date range;
* PostgreSQL only: a trigram index on ``subscriber.full_name`` for the admin's "contains"
  search (``ILIKE '%…%'``), which otherwise reads all 100,000 contracts twice per page
  (count and rows). SQLite has no equivalent; its ``LIKE`` scan of 100,000 rows is ~30 ms.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.sqlite import SQLiteEngine

ID = "2026-11-25T15:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "admin filter indexes: ledger by period and date, subscriber name search"

INDEXES = [
    "CREATE INDEX ledger_entry_period_id ON ledger_entry (period, id)",
    "CREATE INDEX ledger_entry_created_at ON ledger_entry (created_at)",
]
POSTGRES_ONLY = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX subscriber_full_name_trgm ON subscriber USING gin (full_name gin_trgm_ops)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tables", description=DESCRIPTION)

    async def run():
        from piccolo_conf import DB

        for sql in INDEXES:
            await DB.run_ddl(sql)
        if not isinstance(DB, SQLiteEngine):
            for sql in POSTGRES_ONLY:
                await DB.run_ddl(sql)

    manager.add_raw(run)
    return manager
