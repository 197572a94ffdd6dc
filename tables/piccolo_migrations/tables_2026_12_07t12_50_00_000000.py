"""Bank statements load and book as background jobs: a statement keeps its current job and the
error of a file that could not be read (tables.payments.bank, jobs/bank.py)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Integer, Text
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-07T12:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "bank_statement.job and bank_statement.error"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tables", description=DESCRIPTION)
    common = {"primary_key": False, "unique": False, "index": False, "index_method": IndexMethod.btree,
              "choices": None, "db_column_name": None, "secret": False}
    manager.add_column(
        table_class_name="BankStatement", tablename="bank_statement", column_name="job",
        db_column_name="job", column_class_name="Integer", column_class=Integer,
        params={"default": None, "null": True, **common}, schema=None)
    manager.add_column(
        table_class_name="BankStatement", tablename="bank_statement", column_name="error",
        db_column_name="error", column_class_name="Text", column_class=Text,
        params={"default": "", "null": False, **common}, schema=None)
    return manager
