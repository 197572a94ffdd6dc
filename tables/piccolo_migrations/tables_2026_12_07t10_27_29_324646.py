from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from enum import Enum
from piccolo.columns.base import OnDelete
from piccolo.columns.base import OnUpdate
from piccolo.columns.choices import Choice
from piccolo.columns.column_types import BigInt
from piccolo.columns.column_types import Boolean
from piccolo.columns.column_types import ForeignKey
from piccolo.columns.column_types import Integer
from piccolo.columns.column_types import Serial
from piccolo.columns.column_types import Timestamptz
from piccolo.columns.column_types import Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table


class Payment(Table, tablename="payment", schema=None):
    id = Serial(
        null=False,
        primary_key=True,
        unique=False,
        index=False,
        index_method=IndexMethod.btree,
        choices=None,
        db_column_name="id",
        secret=False,
    )


class Subscriber(Table, tablename="subscriber", schema=None):
    id = Serial(
        null=False,
        primary_key=True,
        unique=False,
        index=False,
        index_method=IndexMethod.btree,
        choices=None,
        db_column_name="id",
        secret=False,
    )


ID = "2026-12-07T10:27:29:324646"
VERSION = "1.38.0"
DESCRIPTION = "Autopay: saved cards, their charges; the autopay payment channel"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="tables", description=DESCRIPTION
    )

    manager.add_table(
        class_name="Autopay", tablename="autopay", schema=None, columns=None
    )

    manager.add_table(
        class_name="AutopayCharge",
        tablename="autopay_charge",
        schema=None,
        columns=None,
    )

    manager.add_column(
        table_class_name="Autopay",
        tablename="autopay",
        column_name="subscriber",
        db_column_name="subscriber",
        column_class_name="ForeignKey",
        column_class=ForeignKey,
        params={
            "references": Subscriber,
            "on_delete": OnDelete.restrict,
            "on_update": OnUpdate.cascade,
            "target_column": None,
            "null": False,
            "primary_key": False,
            "unique": True,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="Autopay",
        tablename="autopay",
        column_name="customer_id",
        db_column_name="customer_id",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 100,
            "default": "",
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="Autopay",
        tablename="autopay",
        column_name="card_id",
        db_column_name="card_id",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 100,
            "default": "",
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="Autopay",
        tablename="autopay",
        column_name="card_brand",
        db_column_name="card_brand",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 20,
            "default": "",
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="Autopay",
        tablename="autopay",
        column_name="card_last4",
        db_column_name="card_last4",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 4,
            "default": "",
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="Autopay",
        tablename="autopay",
        column_name="exp_month",
        db_column_name="exp_month",
        column_class_name="Integer",
        column_class=Integer,
        params={
            "default": 0,
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="Autopay",
        tablename="autopay",
        column_name="exp_year",
        db_column_name="exp_year",
        column_class_name="Integer",
        column_class=Integer,
        params={
            "default": 0,
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="Autopay",
        tablename="autopay",
        column_name="enabled",
        db_column_name="enabled",
        column_class_name="Boolean",
        column_class=Boolean,
        params={
            "default": True,
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="Autopay",
        tablename="autopay",
        column_name="days_before",
        db_column_name="days_before",
        column_class_name="Integer",
        column_class=Integer,
        params={
            "default": 3,
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="Autopay",
        tablename="autopay",
        column_name="amount_mode",
        db_column_name="amount_mode",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 12,
            "default": "shortfall",
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": Enum(
                "AmountModeChoices",
                {
                    "SHORTFALL": Choice(
                        value="shortfall", display_name="Недостающую сумму"
                    ),
                    "FEE": Choice(
                        value="fee", display_name="Абонентскую плату за месяц"
                    ),
                },
            ),
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="Autopay",
        tablename="autopay",
        column_name="monthly_limit",
        db_column_name="monthly_limit",
        column_class_name="BigInt",
        column_class=BigInt,
        params={
            "default": 0,
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="Autopay",
        tablename="autopay",
        column_name="created_at",
        db_column_name="created_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
            "default": TimestamptzNow(),
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="Autopay",
        tablename="autopay",
        column_name="updated_at",
        db_column_name="updated_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
            "default": TimestamptzNow(),
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="AutopayCharge",
        tablename="autopay_charge",
        column_name="subscriber",
        db_column_name="subscriber",
        column_class_name="ForeignKey",
        column_class=ForeignKey,
        params={
            "references": Subscriber,
            "on_delete": OnDelete.restrict,
            "on_update": OnUpdate.cascade,
            "target_column": None,
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="AutopayCharge",
        tablename="autopay_charge",
        column_name="period",
        db_column_name="period",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 7,
            "default": "",
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="AutopayCharge",
        tablename="autopay_charge",
        column_name="attempt",
        db_column_name="attempt",
        column_class_name="Integer",
        column_class=Integer,
        params={
            "default": 1,
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="AutopayCharge",
        tablename="autopay_charge",
        column_name="key",
        db_column_name="key",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 40,
            "default": "",
            "null": False,
            "primary_key": False,
            "unique": True,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="AutopayCharge",
        tablename="autopay_charge",
        column_name="payment",
        db_column_name="payment",
        column_class_name="ForeignKey",
        column_class=ForeignKey,
        params={
            "references": Payment,
            "on_delete": OnDelete.restrict,
            "on_update": OnUpdate.cascade,
            "target_column": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="AutopayCharge",
        tablename="autopay_charge",
        column_name="amount",
        db_column_name="amount",
        column_class_name="BigInt",
        column_class=BigInt,
        params={
            "default": 0,
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="AutopayCharge",
        tablename="autopay_charge",
        column_name="status",
        db_column_name="status",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 16,
            "default": "created",
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": Enum(
                "ChargeStatusChoices",
                {
                    "CREATED": Choice(value="created", display_name="Отправлен"),
                    "SUCCEEDED": Choice(
                        value="succeeded", display_name="Оплачен"
                    ),
                    "REQUIRES_ACTION": Choice(
                        value="requires_action",
                        display_name="Ждёт подтверждения абонента",
                    ),
                    "FAILED": Choice(value="failed", display_name="Не прошёл"),
                },
            ),
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="AutopayCharge",
        tablename="autopay_charge",
        column_name="failure_code",
        db_column_name="failure_code",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 60,
            "default": "",
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="AutopayCharge",
        tablename="autopay_charge",
        column_name="created_at",
        db_column_name="created_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
            "default": TimestamptzNow(),
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.alter_column(
        table_class_name="Payment",
        tablename="payment",
        column_name="channel",
        db_column_name="channel",
        params={
            "choices": Enum(
                "PaymentChannelChoices",
                {
                    "CABINET": Choice(
                        value="cabinet", display_name="Личный кабинет"
                    ),
                    "QUICK_PAY": Choice(
                        value="quick_pay", display_name="Оплата без входа"
                    ),
                    "OFFICE": Choice(value="office", display_name="Касса офиса"),
                    "AGENT": Choice(
                        value="agent", display_name="Платёжный агент, терминал"
                    ),
                    "BANK": Choice(
                        value="bank", display_name="Банковский перевод"
                    ),
                    "AUTOPAY": Choice(
                        value="autopay", display_name="Автоплатёж с карты"
                    ),
                },
            )
        },
        old_params={
            "choices": Enum(
                "PaymentChannelChoices",
                {
                    "CABINET": Choice(
                        value="cabinet", display_name="Личный кабинет"
                    ),
                    "QUICK_PAY": Choice(
                        value="quick_pay", display_name="Оплата без входа"
                    ),
                    "OFFICE": Choice(value="office", display_name="Касса офиса"),
                    "AGENT": Choice(
                        value="agent", display_name="Платёжный агент, терминал"
                    ),
                    "BANK": Choice(
                        value="bank", display_name="Банковский перевод"
                    ),
                },
            )
        },
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    return manager
