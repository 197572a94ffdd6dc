"""Declarative admin configuration: one ``TableConfig`` per table."""

from __future__ import annotations

from piccolo.apps.user.tables import BaseUser
from piccolo_admin.endpoints import OrderBy, TableConfig
from piccolo_api.crud.validators import Validators

from backoffice.access import audit_hooks, news_window_hooks, read_only_validators, refuse_write
from backoffice.billing import BILLING_TABLE_CONFIGS
from tables.addresses import Address, Street, Town
from tables.audit import AuditEntry
from tables.background import BackgroundJob
from tables.coa import CoaRequest
from tables.content import MaintenanceArea, NewsItem, Page, SiteSetting
from tables.ledger import LedgerEntry
from tables.network import Nas, NetworkAccess, RadiusSession, TrafficDay
from tables.notifications import Notification, NotificationAttempt
from tables.payments.agents import AgentTransaction
from tables.payments.autopay import Autopay, AutopayCharge
from tables.payments.bank import BankLine, BankStatement
from tables.payments.card_flow import PaymentCustomer
from tables.payments.events import ProviderEvent
from tables.payments.payment import Payment
from tables.payments.receipts import Receipt
from tables.payments.refunds import PaymentRefund
from tables.ratings import CabinetRating
from tables.requests.queue import RequestEvent, ServiceRequest
from tables.subscribers import Subscriber
from tables.tariffs import Tariff

SUBSCRIBERS = "Абоненты"
MONEY = "Деньги"
REQUESTS = "Заявки"
CONTENT = "Сайт"
DIRECTORY = "Справочники"
SYSTEM = "Система"
NETWORK = "Сеть"

# Columns of a contract that change only through domain functions.
SUBSCRIBER_PROTECTED = (
    "contract_number", "status", "balance", "password_hash", "must_change_password",
    "failed_logins", "locked_until", "terminated_on", "tariff", "created_at",
)


def editable(table, *, checks: list | None = None, **kwargs) -> TableConfig:
    """Editable with audit; ``checks`` are hooks that run first, so a refused edit is not audited.

    piccolo_api groups hooks with itertools.groupby without sorting: a later run of the same
    hook type replaces an earlier one, so hooks are sorted by type (stable: checks stay first).
    """
    hooks = sorted([*(checks or []), *audit_hooks(table)], key=lambda hook: hook.hook_type.value)
    return TableConfig(table, hooks=hooks, **kwargs)


TABLE_CONFIGS: list[TableConfig] = [
    TableConfig(
        Subscriber,
        menu_group=SUBSCRIBERS,
        # No Subscriber.id: a listed column other than the link column needs a form field,
        # or Piccolo Admin draws a blank page (backoffice.crud.AdminCRUD drops such columns).
        visible_columns=[Subscriber.contract_number, Subscriber.full_name,
                         Subscriber.phone, Subscriber.address, Subscriber.tariff,
                         Subscriber.status, Subscriber.balance, Subscriber.connected_on,
                         # Set and still ahead while status is not terminated: a scheduled one.
                         Subscriber.terminated_on],
        visible_filters=[Subscriber.contract_number, Subscriber.full_name, Subscriber.phone,
                         Subscriber.address, Subscriber.tariff, Subscriber.status,
                         Subscriber.connected_on, Subscriber.terminated_on],
        exclude_visible_columns=None,
        link_column=Subscriber.contract_number,
        order_by=[OrderBy(Subscriber.contract_number)],
        # New contracts come from the "Новый договор" form (number + one-time password).
        validators=Validators(post_single=[refuse_write], delete_single=[refuse_write],
                              delete_all=[refuse_write]),
        hooks=audit_hooks(Subscriber, protected=SUBSCRIBER_PROTECTED),
    ),
    TableConfig(
        LedgerEntry,
        menu_group=MONEY,
        visible_columns=[LedgerEntry.id, LedgerEntry.created_at, LedgerEntry.subscriber,
                         LedgerEntry.kind, LedgerEntry.amount, LedgerEntry.period,
                         LedgerEntry.reference, LedgerEntry.created_by],
        visible_filters=[LedgerEntry.subscriber, LedgerEntry.kind, LedgerEntry.period,
                         LedgerEntry.created_at, LedgerEntry.reference, LedgerEntry.created_by],
        order_by=[OrderBy(LedgerEntry.id, ascending=False)],
        validators=read_only_validators(),
    ),
    TableConfig(
        Payment,
        menu_group=MONEY,
        visible_columns=[Payment.id, Payment.created_at, Payment.subscriber, Payment.amount,
                         Payment.status, Payment.channel, Payment.period, Payment.card_brand,
                         Payment.card_last4, Payment.refunded_amount, Payment.town,
                         Payment.failure_reason],
        visible_filters=[Payment.subscriber, Payment.status, Payment.channel, Payment.period,
                         Payment.created_at, Payment.town, Payment.provider_intent_id,
                         Payment.failure_code],
        order_by=[OrderBy(Payment.id, ascending=False)],
        validators=read_only_validators(),
    ),
    *[TableConfig(table, menu_group=MONEY, order_by=[OrderBy(table.id, ascending=False)],
                  validators=read_only_validators())
      for table in (PaymentRefund, ProviderEvent, PaymentCustomer, AgentTransaction, BankStatement,
                    BankLine)],
    # The staff queue: filter by kind, status, town, assignee and age (created_at range);
    # search by contract number, phone, address (substring); sort by any column.
    TableConfig(
        ServiceRequest,
        menu_group=REQUESTS,
        visible_columns=[ServiceRequest.number, ServiceRequest.created_at, ServiceRequest.kind,
                         ServiceRequest.topic, ServiceRequest.status, ServiceRequest.contract_number,
                         ServiceRequest.applicant_name, ServiceRequest.applicant_phone,
                         ServiceRequest.town, ServiceRequest.address_text,
                         ServiceRequest.assignee, ServiceRequest.updated_at],
        visible_filters=[ServiceRequest.kind, ServiceRequest.status, ServiceRequest.town,
                         ServiceRequest.assignee, ServiceRequest.created_at,
                         ServiceRequest.updated_at, ServiceRequest.number,
                         ServiceRequest.contract_number, ServiceRequest.applicant_phone,
                         ServiceRequest.applicant_name, ServiceRequest.address_text,
                         ServiceRequest.topic, ServiceRequest.closed_at],
        link_column=ServiceRequest.number,
        order_by=[OrderBy(ServiceRequest.created_at, ascending=False)],
        validators=read_only_validators(),
    ),
    TableConfig(
        RequestEvent,
        menu_group=REQUESTS,
        visible_columns=[RequestEvent.id, RequestEvent.created_at, RequestEvent.service_request,
                         RequestEvent.author_kind, RequestEvent.author_name,
                         RequestEvent.status_from, RequestEvent.status_to, RequestEvent.message,
                         RequestEvent.internal],
        order_by=[OrderBy(RequestEvent.id, ascending=False)],
        visible_filters=[RequestEvent.service_request, RequestEvent.staff, RequestEvent.internal,
                         RequestEvent.author_kind, RequestEvent.created_at],
        validators=read_only_validators(),
    ),
    editable(
        Tariff,
        menu_group=DIRECTORY,
        visible_columns=[Tariff.id, Tariff.name, Tariff.kind, Tariff.monthly_fee,
                         Tariff.speed_mbps, Tariff.upload_mbps, Tariff.channels, Tariff.router_option,
                         Tariff.active],
        order_by=[OrderBy(Tariff.sort_order)],
    ),
    editable(Town, menu_group=DIRECTORY),
    editable(Street, menu_group=DIRECTORY, visible_filters=[Street.town, Street.name]),
    editable(Address, menu_group=DIRECTORY,
              visible_filters=[Address.street, Address.house, Address.apartment]),
    editable(
        NewsItem,
        checks=news_window_hooks(),
        menu_group=CONTENT,
        visible_columns=[NewsItem.id, NewsItem.title, NewsItem.kind, NewsItem.published,
                         NewsItem.published_at, NewsItem.starts_at, NewsItem.ends_at],
        order_by=[OrderBy(NewsItem.published_at, ascending=False)],
    ),
    editable(MaintenanceArea, menu_group=CONTENT),
    editable(Page, menu_group=CONTENT,
              visible_columns=[Page.id, Page.slug, Page.title, Page.published, Page.in_footer]),
    editable(SiteSetting, menu_group=CONTENT),
    TableConfig(
        CabinetRating,
        menu_group=CONTENT,
        order_by=[OrderBy(CabinetRating.id, ascending=False)],
        visible_filters=[CabinetRating.score, CabinetRating.period, CabinetRating.subscriber],
        validators=read_only_validators(),
    ),
    TableConfig(
        Autopay,
        menu_group=MONEY,
        visible_columns=[Autopay.id, Autopay.subscriber, Autopay.enabled, Autopay.card_brand,
                         Autopay.card_last4, Autopay.exp_month, Autopay.exp_year, Autopay.days_before,
                         Autopay.amount_mode, Autopay.monthly_limit, Autopay.updated_at],
        visible_filters=[Autopay.subscriber, Autopay.enabled],
        order_by=[OrderBy(Autopay.id, ascending=False)],
        validators=read_only_validators(),
    ),
    TableConfig(
        AutopayCharge,
        menu_group=MONEY,
        visible_columns=[AutopayCharge.id, AutopayCharge.created_at, AutopayCharge.subscriber,
                         AutopayCharge.period, AutopayCharge.attempt, AutopayCharge.amount,
                         AutopayCharge.status, AutopayCharge.failure_code, AutopayCharge.payment],
        visible_filters=[AutopayCharge.subscriber, AutopayCharge.period, AutopayCharge.status],
        order_by=[OrderBy(AutopayCharge.id, ascending=False)],
        validators=read_only_validators(),
    ),
    TableConfig(
        Receipt,
        menu_group=MONEY,
        visible_columns=[Receipt.id, Receipt.created_at, Receipt.subscriber, Receipt.payment,
                         Receipt.operation, Receipt.amount, Receipt.status, Receipt.attempts,
                         Receipt.fiscal_document_number, Receipt.fiscal_sign, Receipt.last_error],
        visible_filters=[Receipt.status, Receipt.operation, Receipt.subscriber, Receipt.payment,
                         Receipt.created_at],
        order_by=[OrderBy(Receipt.id, ascending=False)],
        validators=read_only_validators(),
    ),
    TableConfig(
        Notification,
        menu_group=SYSTEM,
        visible_columns=[Notification.id, Notification.created_at, Notification.channel,
                         Notification.recipient, Notification.topic, Notification.reference,
                         Notification.status, Notification.attempts, Notification.sent_at,
                         Notification.delivery_status, Notification.last_error],
        visible_filters=[Notification.status, Notification.channel, Notification.recipient,
                         Notification.reference, Notification.subscriber, Notification.topic,
                         Notification.created_at],
        order_by=[OrderBy(Notification.id, ascending=False)],
        validators=read_only_validators(),
    ),
    TableConfig(
        NotificationAttempt,
        menu_group=SYSTEM,
        visible_columns=[NotificationAttempt.id, NotificationAttempt.notification,
                         NotificationAttempt.number, NotificationAttempt.started_at,
                         NotificationAttempt.finished_at, NotificationAttempt.outcome,
                         NotificationAttempt.detail],
        visible_filters=[NotificationAttempt.notification, NotificationAttempt.outcome,
                         NotificationAttempt.started_at],
        order_by=[OrderBy(NotificationAttempt.id, ascending=False)],
        validators=read_only_validators(),
    ),
    TableConfig(
        BackgroundJob,
        menu_group=SYSTEM,
        visible_columns=[BackgroundJob.id, BackgroundJob.title, BackgroundJob.status,
                         BackgroundJob.progress, BackgroundJob.total, BackgroundJob.attempts,
                         BackgroundJob.error, BackgroundJob.created_by, BackgroundJob.created_at,
                         BackgroundJob.finished_at],
        visible_filters=[BackgroundJob.status, BackgroundJob.task_name, BackgroundJob.created_by,
                         BackgroundJob.created_at],
        order_by=[OrderBy(BackgroundJob.id, ascending=False)],
        validators=read_only_validators(),
    ),
    TableConfig(
        AuditEntry,
        menu_group=SYSTEM,
        visible_columns=[AuditEntry.id, AuditEntry.created_at, AuditEntry.actor_name,
                         AuditEntry.action, AuditEntry.object_type, AuditEntry.object_id,
                         AuditEntry.object_repr],
        visible_filters=[AuditEntry.actor, AuditEntry.action, AuditEntry.object_type,
                         AuditEntry.object_id, AuditEntry.created_at],
        order_by=[OrderBy(AuditEntry.id, ascending=False)],
        validators=read_only_validators(),
    ),
    # Network access (docs/network.md): passwords and secrets are masked in the audit log.
    editable(
        NetworkAccess,
        menu_group=NETWORK,
        visible_columns=[NetworkAccess.id, NetworkAccess.subscriber, NetworkAccess.kind,
                         NetworkAccess.login, NetworkAccess.mac, NetworkAccess.switch_id,
                         NetworkAccess.switch_port, NetworkAccess.static_ip],
        visible_filters=[NetworkAccess.subscriber, NetworkAccess.kind, NetworkAccess.login,
                         NetworkAccess.mac, NetworkAccess.static_ip],
    ),
    editable(
        Nas,
        menu_group=NETWORK,
        visible_columns=[Nas.id, Nas.name, Nas.address, Nas.kind, Nas.coa_port,
                         Nas.restricted_list, Nas.active],
    ),
    TableConfig(
        RadiusSession,
        menu_group=NETWORK,
        visible_columns=[RadiusSession.id, RadiusSession.subscriber, RadiusSession.username,
                         RadiusSession.nas_address, RadiusSession.framed_ip,
                         RadiusSession.started_at, RadiusSession.stopped_at,
                         RadiusSession.download_bytes, RadiusSession.upload_bytes,
                         RadiusSession.restricted, RadiusSession.terminate_cause],
        visible_filters=[RadiusSession.subscriber, RadiusSession.username,
                         RadiusSession.nas_address, RadiusSession.framed_ip,
                         RadiusSession.started_at],
        order_by=[OrderBy(RadiusSession.id, ascending=False)],
        validators=read_only_validators(),
    ),
    TableConfig(
        TrafficDay,
        menu_group=NETWORK,
        visible_columns=[TrafficDay.id, TrafficDay.subscriber, TrafficDay.day,
                         TrafficDay.download_bytes, TrafficDay.upload_bytes],
        visible_filters=[TrafficDay.subscriber, TrafficDay.day],
        order_by=[OrderBy(TrafficDay.id, ascending=False)],
        validators=read_only_validators(),
    ),
    TableConfig(
        CoaRequest,
        menu_group=NETWORK,
        visible_columns=[CoaRequest.id, CoaRequest.created_at, CoaRequest.subscriber,
                         CoaRequest.nas_address, CoaRequest.acct_session_id, CoaRequest.cause,
                         CoaRequest.status, CoaRequest.attempts, CoaRequest.last_result,
                         CoaRequest.finished_at],
        visible_filters=[CoaRequest.subscriber, CoaRequest.status, CoaRequest.nas_address,
                         CoaRequest.created_at],
        order_by=[OrderBy(CoaRequest.id, ascending=False)],
        validators=read_only_validators(),
    ),
]
TABLE_CONFIGS += BILLING_TABLE_CONFIGS

__all__ = ["TABLE_CONFIGS", "BaseUser"]
