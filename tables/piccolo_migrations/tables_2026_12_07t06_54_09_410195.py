from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from enum import Enum
from piccolo.columns.choices import Choice
from piccolo.columns.column_types import Varchar

ID = "2026-12-07T06:54:09:410195"
VERSION = "1.38.0"
DESCRIPTION = "request kind: balance refund (Возврат остатка)"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="tables", description=DESCRIPTION
    )

    manager.alter_column(
        table_class_name="ServiceRequest",
        tablename="service_request",
        column_name="kind",
        db_column_name="kind",
        params={
            "choices": Enum(
                "RequestKindChoices",
                {
                    "CONNECTION": Choice(
                        value="connection", display_name="Заявка на подключение"
                    ),
                    "REPAIR": Choice(
                        value="repair", display_name="Неисправность"
                    ),
                    "SERVICE": Choice(value="service", display_name="Услуга"),
                    "TARIFF_CHANGE": Choice(
                        value="tariff_change", display_name="Смена тарифа"
                    ),
                    "TERMINATION": Choice(
                        value="termination", display_name="Расторжение договора"
                    ),
                    "QUESTION": Choice(
                        value="question", display_name="Вопрос в поддержку"
                    ),
                    "BALANCE_REFUND": Choice(
                        value="balance_refund", display_name="Возврат остатка"
                    ),
                },
            )
        },
        old_params={
            "choices": Enum(
                "RequestKindChoices",
                {
                    "CONNECTION": Choice(
                        value="connection", display_name="Заявка на подключение"
                    ),
                    "REPAIR": Choice(
                        value="repair", display_name="Неисправность"
                    ),
                    "SERVICE": Choice(value="service", display_name="Услуга"),
                    "TARIFF_CHANGE": Choice(
                        value="tariff_change", display_name="Смена тарифа"
                    ),
                    "TERMINATION": Choice(
                        value="termination", display_name="Расторжение договора"
                    ),
                    "QUESTION": Choice(
                        value="question", display_name="Вопрос в поддержку"
                    ),
                },
            )
        },
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    return manager
