"""A cash payment's confirmation key is unique: the same confirmation books one payment, however
often it is sent (NULLs, the payments of other channels, are distinct on both engines)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-07T08:16:25:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique cash payment confirmation key"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tables", description=DESCRIPTION)

    async def run():
        from piccolo_conf import DB

        await DB.run_ddl("CREATE UNIQUE INDEX payment_office_key ON payment (office_key)")

    manager.add_raw(run)
    return manager
