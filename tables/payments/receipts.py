"""Fiscal receipts (54-FZ): one «приход» per credited payment, one «возврат прихода» per refund,
and a «приход» again when a refund bounces after its receipt (the money is an advance once more).

A receipt is built by :func:`issue_receipt` inside the transaction that credits the payment
(card settlement, the office's cash booking) or posts the refund, keyed by its source
(``payment:<id>`` / ``refund:<id>`` / ``refund-failed:<id>``, unique): the crediting itself
happens once, and the key makes a second receipt impossible even for a caller that gets that
wrong. The row keeps every field the receipt prints (seller, INN, tax system, place of settlement, item, VAT,
payment type, buyer's contact) as they were when it was issued.

The worker (:func:`fiscalize_receipts`, the job engine's ``receipts.send``) sends due
receipts to the online cash register (``providers.cash_register``, ATOL Online v5) and
asks for the fiscal data of those it took. A receipt is marked ``sending`` in a committed
transaction before the register is called; the register keeps one document per
``external_id``, so sending again after a timeout or a dead worker finds the first document
(error 33) instead of making a second one. A refusal (validation) fails the receipt for
staff to see; anything else is retried with backoff, then failed.

Without the register's settings (``make run``) receipts are built, stay «не фискализирован»
and nothing is sent.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
from typing import Any

from piccolo.columns import BigInt, ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.columns.readable import Readable
from piccolo.table import Table

from db.engine import write_transaction
from providers.cash_register import AtolClient, AtolConfig, ReceiptRejected, RegisterUnavailable
from tables.calendar import LOCAL_TZ, utcnow
from tables.choices import choices
from tables.money import kopecks
from tables.payments.payment import Payment, PaymentChannel
from tables.payments.refunds import PaymentRefund
from tables.subscribers import Subscriber

log = logging.getLogger("centra.receipts")

MAX_ATTEMPTS = 8
#: Waits before the 2nd, 3rd, … attempt of a receipt the register did not answer.
BACKOFF = (dt.timedelta(minutes=1), dt.timedelta(minutes=5), dt.timedelta(minutes=30),
           dt.timedelta(hours=2), dt.timedelta(hours=6))
#: A receipt left ``sending`` this long by a worker that died goes back to the queue (safe:
#: the register keeps one document per external id).
CLAIM_TIMEOUT = dt.timedelta(minutes=10)


class ReceiptOperation(enum.StrEnum):
    SELL = "sell"
    SELL_REFUND = "sell_refund"


OPERATION_LABELS = {"sell": "Приход", "sell_refund": "Возврат прихода"}


class ReceiptStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    REGISTERED = "registered"
    DONE = "done"
    FAILED = "failed"


RECEIPT_STATUS_LABELS = {
    "pending": "Не фискализирован",
    "sending": "Отправляется в кассу",
    "registered": "Принят кассой, ждёт фискализации",
    "done": "Фискализирован",
    "failed": "Ошибка фискализации",
}


PAYMENT_TYPE_LABELS = {"electronic": "Безналичными", "cash": "Наличными"}
#: ATOL's payment type codes: 0 cash, 1 electronic.
PAYMENT_TYPE_CODES = {"electronic": 1, "cash": 0}


TAX_SYSTEM_LABELS = {
    "osn": "ОСН", "usn_income": "УСН доход", "usn_income_outcome": "УСН доход − расход",
    "esn": "ЕСХН", "patent": "ПСН",
}


VAT_LABELS = {
    "none": "Без НДС", "vat0": "НДС 0%", "vat5": "НДС 5%", "vat7": "НДС 7%", "vat10": "НДС 10%",
    "vat20": "НДС 20%", "vat22": "НДС 22%", "vat105": "НДС 5/105", "vat107": "НДС 7/107",
    "vat110": "НДС 10/110", "vat120": "НДС 20/120", "vat122": "НДС 22/122",
}


#: How a top-up is settled: an advance for communication services to come (тег 1214 = 3,
#: «аванс»; тег 1212 = 10, «платёж»), one item of quantity 1 (measure 0: штуки/единицы).
PAYMENT_METHOD = "advance"
PAYMENT_OBJECT = 10


class Receipt(Table, help_text="Кассовые чеки (54-ФЗ): приход на каждый платёж, возврат прихода на возврат"):
    payment = ForeignKey(Payment, null=False, on_delete=OnDelete.restrict, help_text="Платёж")
    refund = ForeignKey(PaymentRefund, null=True, default=None, on_delete=OnDelete.restrict,
                        help_text="Возврат (для чека возврата прихода)")
    subscriber = ForeignKey(Subscriber, null=False, on_delete=OnDelete.restrict, help_text="Договор")
    source = Varchar(length=40, unique=True,
                     help_text="Основание: payment:N или refund:N — один чек на основание")
    operation = Varchar(length=12, choices=choices(ReceiptOperation, OPERATION_LABELS),
                        help_text="Признак расчёта")
    status = Varchar(length=12, choices=choices(ReceiptStatus, RECEIPT_STATUS_LABELS),
                     default="pending", index=True, help_text="Состояние")
    amount = kopecks(BigInt(help_text="Сумма, ₽"))
    item_name = Varchar(length=128, help_text="Предмет расчёта")
    vat = Varchar(length=8, help_text="Ставка НДС (код кассы)")
    payment_type = Varchar(length=12, help_text="Форма оплаты: electronic или cash")
    buyer_contact = Varchar(length=200, default="", help_text="E-mail или телефон покупателя")
    seller_name = Varchar(length=200, default="", help_text="Продавец")
    seller_inn = Varchar(length=12, default="", help_text="ИНН продавца")
    tax_system = Varchar(length=20, default="", help_text="Система налогообложения (код кассы)")
    place = Varchar(length=200, default="", help_text="Место расчётов")
    created_at = Timestamptz(help_text="Сформирован")
    external_id = Varchar(length=64, default="", help_text="Номер чека у кассы (наш, external_id)")
    register_uuid = Varchar(length=64, default="", help_text="Документ у кассы (uuid)")
    attempts = Integer(default=0, help_text="Попыток отправки")
    next_attempt_at = Timestamptz(null=True, default=None, help_text="Следующая попытка не раньше")
    claimed_at = Timestamptz(null=True, default=None, help_text="Взят в отправку")
    last_error = Text(default="", help_text="Последняя ошибка кассы")
    fiscalized_at = Timestamptz(null=True, default=None, help_text="Фискализирован")
    fiscal_datetime = Varchar(length=20, default="", help_text="Дата и время по чеку")
    fiscal_sign = Varchar(length=20, default="", help_text="ФП (фискальный признак)")
    fiscal_document_number = Varchar(length=20, default="", help_text="ФД (номер документа)")
    fiscal_receipt_number = Varchar(length=20, default="", help_text="Номер чека в смене")
    shift_number = Varchar(length=20, default="", help_text="Смена")
    fn_number = Varchar(length=20, default="", help_text="ФН (номер фискального накопителя)")
    registration_number = Varchar(length=20, default="", help_text="РН ККТ")
    ofd_url = Varchar(length=300, default="", help_text="Чек на сайте ОФД")

    @classmethod
    def get_readable(cls) -> Readable:
        return Readable(template="Чек № %s", columns=[cls.id])


def register_config(settings=None) -> AtolConfig | None:
    """The register's settings, or None when receipts are not to be sent (``make run``)."""
    if settings is None:
        from settings import get_settings

        settings = get_settings()
    if not (settings.atol_login and settings.atol_group_code and settings.receipt_seller_inn):
        return None
    return AtolConfig(base_url=settings.atol_url, login=settings.atol_login,
                      password=settings.atol_password.get_secret_value(),
                      group_code=settings.atol_group_code)


def buyer_contact(email: str | None, phone: str | None) -> str:
    """Where the register sends the receipt: the e-mail, else the phone, else nothing."""
    return (email or "").strip() or (phone or "").strip()


def _payments_query():
    return Payment.select(
        Payment.id, Payment.subscriber, Payment.amount, Payment.channel,
        Payment.subscriber.contract_number.as_alias("contract"),
        Payment.subscriber.email.as_alias("email"), Payment.subscriber.phone.as_alias("phone"),
    )


def _receipt_row(payment: dict, settings, now: dt.datetime, *, refund_id: int | None = None,
                 amount: int | None = None, bounced: bool = False) -> Receipt:
    source = (f"refund-failed:{refund_id}" if bounced else f"refund:{refund_id}" if refund_id
              else f"payment:{payment['id']}")
    return Receipt(
        payment=payment["id"], refund=refund_id, subscriber=payment["subscriber"], source=source,
        operation=ReceiptOperation.SELL_REFUND if refund_id and not bounced else ReceiptOperation.SELL,
        status=ReceiptStatus.PENDING, amount=amount if amount is not None else payment["amount"],
        item_name=f"Услуги связи по договору № {payment['contract']}"[:128],
        vat=settings.receipt_vat,
        payment_type="cash" if payment["channel"] == PaymentChannel.OFFICE else "electronic",
        buyer_contact=buyer_contact(payment["email"], payment["phone"])[:200],
        seller_name=settings.receipt_seller_name[:200], seller_inn=settings.receipt_seller_inn[:12],
        tax_system=settings.receipt_tax_system, place=settings.receipt_place[:200],
        created_at=now,
        external_id=f"centra-{source.replace(':', '-')}-{int(now.timestamp())}",
    )


async def issue_receipt(payment_id: int, *, refund_id: int | None = None, amount: int | None = None,
                        now: dt.datetime | None = None, bounced: bool = False) -> int | None:
    """Build the receipt of a credited payment (or of its refund) in the caller's transaction.

    :param refund_id: a refund's «возврат прихода» (``amount`` is the refund's).
    :param bounced: the refund ``refund_id`` bounced after its «возврат прихода» was issued: the
        money stayed with the provider as an advance, so a «приход» of the same amount restores it
        (one per refund, source ``refund-failed:N``).
    :returns: the new receipt's id, or None when this payment (refund) has one already.
    """
    from settings import get_settings

    settings = get_settings()
    now = now or utcnow()
    async with write_transaction():
        payment = await _payments_query().where(Payment.id == payment_id).first()
        if payment is None:
            raise ValueError(f"payment {payment_id} not found")
        if bounced and refund_id is None:
            raise ValueError("a bounced refund's receipt needs the refund")
        row = _receipt_row(payment, settings, now, refund_id=refund_id, amount=amount, bounced=bounced)
        inserted = await Receipt.insert(row).on_conflict(
            target=Receipt.source, action="DO NOTHING").returning(Receipt.id)
    return inserted[0]["id"] if inserted else None


async def issue_receipts(payment_ids: list[int], *, now: dt.datetime | None = None) -> int:
    """:func:`issue_receipt` for many credited payments at once (one read, one insert), in the
    caller's transaction; returns how many receipts are new."""
    from settings import get_settings

    if not payment_ids:
        return 0
    settings = get_settings()
    now = now or utcnow()
    async with write_transaction():
        payments = await _payments_query().where(Payment.id.is_in(payment_ids))
        if len(payments) != len(set(payment_ids)):
            raise ValueError("payment not found")
        inserted = await Receipt.insert(*[_receipt_row(p, settings, now) for p in payments]).on_conflict(
            target=Receipt.source, action="DO NOTHING").returning(Receipt.id)
    return len(inserted)


def _rub(kopecks_: int) -> float:
    return round(kopecks_ / 100, 2)


def receipt_document(row: dict[str, Any], *, seller_email: str = "") -> dict[str, Any]:
    """The register's JSON for a receipt row (ATOL v5, FFD 1.2)."""
    total = _rub(row["amount"])
    contact = row["buyer_contact"] or seller_email
    client = {"phone": contact} if contact.startswith("+") else {"email": contact}
    company = {"inn": row["seller_inn"], "sno": row["tax_system"], "payment_address": row["place"]}
    if seller_email:
        company["email"] = seller_email
    created = row["created_at"]
    if isinstance(created, str):
        created = dt.datetime.fromisoformat(created)
    if created.tzinfo is None:
        created = created.replace(tzinfo=dt.UTC)
    return {
        "external_id": row["external_id"],
        "timestamp": created.astimezone(LOCAL_TZ).strftime("%d.%m.%Y %H:%M:%S"),
        "receipt": {
            "client": client,
            "company": company,
            "items": [{
                "name": row["item_name"], "price": total, "quantity": 1.0, "measure": 0, "sum": total,
                "payment_method": PAYMENT_METHOD, "payment_object": PAYMENT_OBJECT,
                "vat": {"type": row["vat"]},
            }],
            "payments": [{"type": PAYMENT_TYPE_CODES[row["payment_type"]], "sum": total}],
            "total": total,
        },
    }


# --- the worker ---------------------------------------------------------------------------
def _due(now: dt.datetime):
    return (Receipt.status == ReceiptStatus.PENDING) & (
        Receipt.next_attempt_at.is_null() | (Receipt.next_attempt_at <= now))


async def _release_stale(now: dt.datetime) -> int:
    async with write_transaction():
        rows = await Receipt.update({Receipt.status: ReceiptStatus.PENDING}).where(
            (Receipt.status == ReceiptStatus.SENDING) & (Receipt.claimed_at < now - CLAIM_TIMEOUT)
        ).returning(Receipt.id)
    return len(rows)


async def _claim(receipt_id: int, now: dt.datetime) -> dict | None:
    async with write_transaction():
        rows = await Receipt.update({
            Receipt.status: ReceiptStatus.SENDING, Receipt.claimed_at: now,
            Receipt.attempts: Receipt.attempts + 1,
        }).where((Receipt.id == receipt_id) & _due(now)).returning(*Receipt.all_columns())
    return rows[0] if rows else None


async def _set(receipt_id: int, values: dict) -> None:
    async with write_transaction():
        await Receipt.update(values).where(Receipt.id == receipt_id)


async def _send_one(client: AtolClient, row: dict, now: dt.datetime, seller_email: str) -> str:
    try:
        registration = await client.register(row["operation"],
                                             receipt_document(row, seller_email=seller_email))
    except ReceiptRejected as exc:
        await _set(row["id"], {Receipt.status: ReceiptStatus.FAILED,
                               Receipt.last_error: f"касса отказала: {exc}"[:1000]})
        log.warning("receipt %s refused: %s", row["id"], exc)
        return "failed"
    except (RegisterUnavailable, Exception) as exc:
        give_up = row["attempts"] >= MAX_ATTEMPTS
        values = {Receipt.status: ReceiptStatus.FAILED if give_up else ReceiptStatus.PENDING,
                  Receipt.last_error: f"{type(exc).__name__}: {exc}"[:1000]}
        if not give_up:
            values[Receipt.next_attempt_at] = now + BACKOFF[min(row["attempts"], len(BACKOFF)) - 1]
        await _set(row["id"], values)
        log.warning("receipt %s not sent (attempt %s): %s", row["id"], row["attempts"], exc)
        return "failed" if give_up else "retry"
    await _set(row["id"], {Receipt.status: ReceiptStatus.REGISTERED,
                           Receipt.register_uuid: registration.uuid[:64], Receipt.last_error: ""})
    return "registered"


def _text(value: Any) -> str:
    return "" if value is None else str(value)[:20]


async def _collect_one(client: AtolClient, row: dict, now: dt.datetime) -> str:
    try:
        report = await client.report(row["register_uuid"])
    except Exception as exc:
        log.warning("receipt %s report failed: %s", row["id"], exc)
        return "wait"
    if report.status == "wait":
        return "wait"
    if report.status == "fail":
        await _set(row["id"], {Receipt.status: ReceiptStatus.FAILED,
                               Receipt.last_error: f"касса не пробила чек: {report.error}"[:1000]})
        return "failed"
    data = report.payload
    async with write_transaction():
        await Receipt.update({
            Receipt.status: ReceiptStatus.DONE, Receipt.fiscalized_at: now, Receipt.last_error: "",
            Receipt.fiscal_datetime: _text(data.get("receipt_datetime")),
            Receipt.fiscal_sign: _text(data.get("fiscal_document_attribute")),
            Receipt.fiscal_document_number: _text(data.get("fiscal_document_number")),
            Receipt.fiscal_receipt_number: _text(data.get("fiscal_receipt_number")),
            Receipt.shift_number: _text(data.get("shift_number")),
            Receipt.fn_number: _text(data.get("fn_number")),
            Receipt.registration_number: _text(data.get("ecr_registration_number")),
            Receipt.ofd_url: str(data.get("ofd_receipt_url") or "")[:300],
        }).where((Receipt.id == row["id"]) & (Receipt.status == ReceiptStatus.REGISTERED))
    return "done"


async def fiscalize_receipts(*, client: AtolClient | None = None, settings=None, limit: int = 50,
                             now: dt.datetime | None = None) -> dict[str, int]:
    """One pass for the worker: send due receipts, collect the fiscal data of registered ones.

    Does nothing without the register's settings. Safe to run concurrently (rows are claimed).
    """
    if settings is None:
        from settings import get_settings

        settings = get_settings()
    config = register_config(settings)
    counts = {"registered": 0, "retry": 0, "failed": 0, "done": 0, "wait": 0}
    if config is None and client is None:
        return counts
    now = now or utcnow()
    own = client is None
    client = client or AtolClient(config)
    try:
        await _release_stale(now)
        due = await Receipt.select(Receipt.id).where(_due(now)).order_by(Receipt.id).limit(limit)
        for candidate in due:
            row = await _claim(candidate["id"], now)
            if row is not None:
                counts[await _send_one(client, row, now, settings.receipt_seller_email)] += 1
        registered = await Receipt.select().where(
            Receipt.status == ReceiptStatus.REGISTERED).order_by(Receipt.id).limit(limit)
        for row in registered:
            counts[await _collect_one(client, row, now)] += 1
    finally:
        if own:
            await client.aclose()
    return counts


# --- readers ------------------------------------------------------------------------------
async def receipts_by_payment(subscriber_id: int) -> dict[int, list[dict]]:
    """A contract's receipts grouped by payment (the payment history)."""
    rows = await Receipt.select(Receipt.id, Receipt.payment, Receipt.operation, Receipt.status,
                                Receipt.amount).where(
        Receipt.subscriber == subscriber_id).order_by(Receipt.id)
    grouped: dict[int, list[dict]] = {}
    for row in rows:
        grouped.setdefault(row["payment"], []).append(row)
    return grouped


async def subscriber_receipt(subscriber_id: int, receipt_id: int) -> dict | None:
    """One receipt of this contract (None for another contract's)."""
    return await Receipt.select().where(
        (Receipt.id == receipt_id) & (Receipt.subscriber == subscriber_id)).first()
