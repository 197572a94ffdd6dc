"""The job engine's queue on PostgreSQL: procrastinate 3.10's schema (its tables, types and
functions, ``procrastinate_*``), as ``procrastinate schema --apply`` would create it. On SQLite the
queue lives in the web process (jobs/engine.py): nothing to create. A later procrastinate
release brings its own migration files: they become further migrations here."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-07T10:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "job engine schema (procrastinate, PostgreSQL only)"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tables", description=DESCRIPTION)

    async def run():
        from piccolo.engine.postgres import PostgresEngine
        from procrastinate.schema import SchemaManager

        from piccolo_conf import DB

        if isinstance(DB, PostgresEngine):
            # Many statements in one script: the simple query protocol of a plain connection
            # (Piccolo's run_ddl prepares, which takes one statement).
            conn = await DB.get_new_connection()
            try:
                await conn.execute(SchemaManager.get_schema())
            finally:
                await conn.close()

    manager.add_raw(run)
    return manager
