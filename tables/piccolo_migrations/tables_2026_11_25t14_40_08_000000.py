"""One open request per contract for tariff changes and terminations, one open
connection application per phone, and the outbox's queue order (partial unique
indexes work the same on SQLite and PostgreSQL; a raw migration runs before
table operations, so these follow the auto migrations that add the columns)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-25T14:40:08:000000"
VERSION = "1.38.0"
DESCRIPTION = "request workflow indexes"

INDEXES = [
    "CREATE UNIQUE INDEX service_request_one_open ON service_request (subscriber, kind) "
    "WHERE status IN ('new', 'in_progress') AND kind IN ('tariff_change', 'termination')",
    "CREATE UNIQUE INDEX service_request_open_application ON service_request (applicant_phone) "
    "WHERE kind = 'connection' AND status IN ('new', 'in_progress')",
    "CREATE INDEX service_request_queue ON service_request (status, created_at)",
    "CREATE INDEX notification_queue ON notification (status, id)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tables", description=DESCRIPTION)

    async def run():
        from piccolo_conf import DB

        for sql in INDEXES:
            await DB.run_ddl(sql)

    manager.add_raw(run)
    return manager
