"""One open balance-refund request per contract (a partial unique index, the same on SQLite and
PostgreSQL): two filings at once cannot both get through, like tariff changes and terminations."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-07T06:54:10:000000"
VERSION = "1.38.0"
DESCRIPTION = "one open balance refund per contract"

INDEXES = [
    "CREATE UNIQUE INDEX service_request_one_open_refund ON service_request (subscriber) "
    "WHERE kind = 'balance_refund' AND status IN ('new', 'in_progress')",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tables", description=DESCRIPTION)

    async def run():
        from piccolo_conf import DB

        for sql in INDEXES:
            await DB.run_ddl(sql)

    manager.add_raw(run)
    return manager
