"""Admin configuration of the billing tables: all read-only (they change through domain functions)."""

from __future__ import annotations

from piccolo_admin.endpoints import OrderBy, TableConfig

from backoffice.access import read_only_validators
from tables.billing.charge_run import BillingRun
from tables.billing.pauses import Pause
from tables.billing.promised import PromisedPayment
from tables.billing.tariff_changes import TariffChange

MONEY = "Деньги"
SUBSCRIBERS = "Абоненты"

BILLING_TABLE_CONFIGS: list[TableConfig] = [
    TableConfig(
        BillingRun,
        menu_group=MONEY,
        visible_columns=[BillingRun.id, BillingRun.period, BillingRun.status, BillingRun.started_at,
                         BillingRun.finished_at, BillingRun.contracts_charged, BillingRun.total,
                         BillingRun.contracts_suspended, BillingRun.started_by],
        visible_filters=[BillingRun.period, BillingRun.status, BillingRun.started_by,
                         BillingRun.started_at],
        order_by=[OrderBy(BillingRun.id, ascending=False)],
        validators=read_only_validators(),
    ),
    TableConfig(
        PromisedPayment,
        menu_group=MONEY,
        visible_columns=[PromisedPayment.id, PromisedPayment.subscriber, PromisedPayment.amount,
                         PromisedPayment.period, PromisedPayment.granted_at,
                         PromisedPayment.expires_at, PromisedPayment.reversed_at],
        visible_filters=[PromisedPayment.subscriber, PromisedPayment.period,
                         PromisedPayment.granted_at, PromisedPayment.reversed_at],
        order_by=[OrderBy(PromisedPayment.id, ascending=False)],
        validators=read_only_validators(),
    ),
    TableConfig(
        TariffChange,
        menu_group=SUBSCRIBERS,
        visible_columns=[TariffChange.id, TariffChange.subscriber, TariffChange.from_tariff,
                         TariffChange.tariff, TariffChange.effective_from, TariffChange.applied_at,
                         TariffChange.created_by],
        visible_filters=[TariffChange.subscriber, TariffChange.tariff, TariffChange.effective_from,
                         TariffChange.applied_at],
        order_by=[OrderBy(TariffChange.effective_from, ascending=False)],
        validators=read_only_validators(),
    ),
    TableConfig(
        Pause,
        menu_group=SUBSCRIBERS,
        visible_columns=[Pause.id, Pause.subscriber, Pause.starts_on, Pause.ends_on,
                         Pause.planned_ends_on, Pause.status, Pause.booked_by, Pause.ended_by],
        visible_filters=[Pause.subscriber, Pause.status, Pause.starts_on],
        order_by=[OrderBy(Pause.starts_on, ascending=False)],
        validators=read_only_validators(),
    ),
]
