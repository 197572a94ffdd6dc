"""Constraints and indexes for the card payment tables added just before.

A raw migration runs before table operations in Piccolo, and SQLite cannot add
a UNIQUE column or a CHECK constraint to an existing table, hence this file:
unique indexes on both engines, CHECKs as constraints on PostgreSQL and as
``BEFORE INSERT/UPDATE`` triggers on SQLite (as in 2026-11-25T14:24:47).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.sqlite import SQLiteEngine

ID = "2026-11-25T14:38:54:000000"
VERSION = "1.38.0"
DESCRIPTION = "card payment constraints and indexes"

INDEXES = [
    "CREATE UNIQUE INDEX payment_access_token_uniq ON payment (access_token)",
    "CREATE INDEX payment_created_at ON payment (created_at)",
    "CREATE INDEX payment_refund_payment ON payment_refund (payment)",
]

# (table, name, PostgreSQL condition, SQLite trigger condition on NEW)
CHECKS = [
    ("payment_refund", "payment_refund_amount_positive", "amount > 0", "NEW.amount > 0"),
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tables", description=DESCRIPTION)

    async def run():
        from piccolo_conf import DB

        sqlite = isinstance(DB, SQLiteEngine)
        for sql in INDEXES:
            await DB.run_ddl(sql)
        for table, name, pg_condition, sqlite_condition in CHECKS:
            if not sqlite:
                await DB.run_ddl(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({pg_condition})")
                continue
            for event in ("INSERT", "UPDATE"):
                await DB.run_ddl(
                    f"CREATE TRIGGER {name}_{event.lower()} BEFORE {event} ON {table} "
                    f"FOR EACH ROW WHEN NOT ({sqlite_condition}) "
                    f"BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: {name}'); END"
                )

    manager.add_raw(run)
    return manager
