"""Billing constraints Piccolo's auto migrations cannot express on SQLite.

One promised payment per contract and month, one tariff change per contract and
date (a unique index on both engines); positive promised amounts and a change
that really changes the tariff (a CHECK on PostgreSQL, triggers on SQLite).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.sqlite import SQLiteEngine

ID = "2026-11-25T14:36:25:000000"
VERSION = "1.38.0"
DESCRIPTION = "billing constraints and lookup indexes"

INDEXES = [
    "CREATE UNIQUE INDEX promised_payment_subscriber_period ON promised_payment (subscriber, period)",
    "CREATE INDEX promised_payment_open ON promised_payment (expires_at) WHERE reversed_at IS NULL",
    "CREATE UNIQUE INDEX tariff_change_subscriber_date ON tariff_change (subscriber, effective_from)",
    "CREATE INDEX tariff_change_pending ON tariff_change (effective_from) WHERE applied_at IS NULL",
    "CREATE INDEX billing_run_started ON billing_run (started_at)",
]

# (table, name, PostgreSQL condition, SQLite trigger condition on NEW)
CHECKS = [
    ("promised_payment", "promised_payment_amount_positive", "amount > 0", "NEW.amount > 0"),
    ("tariff_change", "tariff_change_changes_tariff", "tariff <> from_tariff",
     "NEW.tariff <> NEW.from_tariff"),
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
