"""Constraints Piccolo's auto migrations cannot express on SQLite.

Piccolo adds ``Check``/``Unique`` constraints with ``ALTER TABLE ... ADD
CONSTRAINT``, which SQLite lacks.  Composite uniqueness is a unique index on
both engines; a CHECK is a real constraint on PostgreSQL and an equivalent
``BEFORE INSERT/UPDATE`` trigger on SQLite.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.sqlite import SQLiteEngine

ID = "2026-11-25T14:24:47:000000"
VERSION = "1.38.0"
DESCRIPTION = "schema constraints and lookup indexes"

INDEXES = [
    "CREATE UNIQUE INDEX street_town_name_uniq ON street (town, name)",
    "CREATE UNIQUE INDEX address_street_house_apt_uniq ON address (street, house, apartment)",
    "CREATE INDEX ledger_entry_subscriber_created ON ledger_entry (subscriber, created_at)",
    "CREATE INDEX ledger_entry_subscriber_period ON ledger_entry (subscriber, period)",
    "CREATE INDEX payment_subscriber_created ON payment (subscriber, created_at)",
    "CREATE INDEX service_request_subscriber ON service_request (subscriber, created_at)",
    "CREATE INDEX request_event_request ON request_event (service_request, created_at)",
    "CREATE INDEX cabinet_rating_subscriber_period ON cabinet_rating (subscriber, period)",
    "CREATE INDEX subscriber_address ON subscriber (address)",
]

# (table, name, PostgreSQL condition, SQLite trigger condition on NEW)
CHECKS = [
    ("cabinet_rating", "cabinet_rating_score_range",
     "score BETWEEN 1 AND 5", "NEW.score BETWEEN 1 AND 5"),
    ("ledger_entry", "ledger_entry_amount_nonzero", "amount <> 0", "NEW.amount <> 0"),
    ("payment", "payment_amount_positive", "amount > 0", "NEW.amount > 0"),
    ("payment", "payment_refund_within_amount",
     "refunded_amount >= 0 AND refunded_amount <= amount",
     "NEW.refunded_amount >= 0 AND NEW.refunded_amount <= NEW.amount"),
    ("tariff", "tariff_fee_nonnegative",
     "monthly_fee >= 0 AND router_fee >= 0", "NEW.monthly_fee >= 0 AND NEW.router_fee >= 0"),
    ("subscriber", "subscriber_contract_digits",
     "contract_number ~ '^[0-9]{1,12}$'",
     "length(NEW.contract_number) BETWEEN 1 AND 12"
     " AND NEW.contract_number NOT GLOB '*[^0-9]*'"),
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
