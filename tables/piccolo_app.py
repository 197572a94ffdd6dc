"""The ``tables`` Piccolo app: schema, migrations and operational commands."""

import os

from piccolo.conf.apps import AppConfig, Command, table_finder

from tables.commands.charge import apply_tariff_changes, charge, reverse_promised
from tables.commands.demo import demo
from tables.commands.export import export
from tables.commands.notifications import send_notifications
from tables.commands.reconcile import reconcile_payments
from tables.commands.terminations import apply_terminations

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
            "tables.payments.payment",
            "tables.payments.card_flow",
            "tables.payments.events",
            "tables.payments.refunds",
            "tables.payments.agents",
            "tables.payments.receipts",
            "tables.payments.autopay",
            "tables.payments.bank",
            "tables.requests.queue",
            "tables.content",
            "tables.ratings",
            "tables.audit",
            "tables.accounts",
            "tables.staff",
            "tables.staff_logins",
            "tables.notifications",
            "tables.broadcasts",
            "tables.send_rate",
            "tables.codes",
            "tables.billing.charge_run",
            "tables.billing.tariff_changes",
            "tables.billing.promised",
            "tables.billing.pauses",
            "tables.background",
            "tables.network",
            "tables.coa",
        ],
        exclude_imported=True,
    ),
    migration_dependencies=["piccolo_admin.piccolo_app"],
    commands=[
        Command(callable=demo, aliases=["demo-data"]),
        Command(callable=export),
        Command(callable=reconcile_payments, aliases=["reconcile-payments"]),
        Command(callable=charge),
        Command(callable=reverse_promised, aliases=["reverse-promised"]),
        Command(callable=apply_tariff_changes, aliases=["apply-tariff-changes"]),
        Command(callable=apply_terminations, aliases=["apply-terminations"]),
        Command(callable=send_notifications, command_name="send-notifications",
                aliases=["send_notifications"]),
    ],
)
