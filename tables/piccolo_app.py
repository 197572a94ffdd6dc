"""The ``tables`` Piccolo app: schema, migrations and operational commands."""

import os

from piccolo.conf.apps import AppConfig, Command, table_finder

from tables.commands.demo import demo
from tables.commands.export import export

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="tables",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=table_finder(
        modules=[
            "tables.addresses",
            "tables.tariffs",
            "tables.subscribers",
            "tables.ledger",
            "tables.payments",
            "tables.requests",
            "tables.content",
            "tables.ratings",
            "tables.audit",
        ],
        exclude_imported=True,
    ),
    migration_dependencies=["piccolo_admin.piccolo_app"],
    commands=[Command(callable=demo, aliases=["demo-data"]), Command(callable=export)],
)
