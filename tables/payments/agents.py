"""Payment agents and terminals: the OSMP/QIWI-style check/pay protocol.

An agent (a terminal network, a bank's "pay for services" catalogue, a shop's cash desk) asks
``command=check`` whether a contract may be paid and books with ``command=pay``, quoting its own
transaction id. Every ``pay`` is recorded once in :class:`AgentTransaction`, keyed by
(agent, txn_id): a repeat — a retry after a timeout, ten at once — gets the first answer and books
nothing more. A booked pay is a succeeded ``agent`` payment and one ledger entry
(reference ``agent:<agent>:<txn_id>``), all in one transaction with the transaction's row.

Result codes (the protocol's): 0 OK; 1 temporary error, repeat later; 4 wrong account format;
5 account not found; 7 payment forbidden (terminated contract); 241 sum too small; 242 sum too
large; 243 the account's state cannot be checked; 300 other error (bad request, refused access).
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from xml.sax.saxutils import escape

from piccolo.columns import BigInt, ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.table import Table

from db.engine import write_transaction
from tables.audit import SYSTEM, write_audit
from tables.calendar import utcnow
from tables.ledger import EntryKind, post_entry
from tables.money import kopecks
from tables.payments.payment import Payment, PaymentChannel, PaymentStatus, town_of
from tables.payments.receipts import issue_receipt
from tables.subscribers import Subscriber, SubscriberStatus


class AgentResult(enum.IntEnum):
    OK = 0
    TEMPORARY = 1
    BAD_ACCOUNT = 4
    NOT_FOUND = 5
    FORBIDDEN = 7
    SUM_TOO_SMALL = 241
    SUM_TOO_LARGE = 242
    CANNOT_CHECK = 243
    OTHER = 300


RESULT_COMMENTS = {
    AgentResult.OK: "OK",
    AgentResult.TEMPORARY: "Временная ошибка, повторите запрос позже",
    AgentResult.BAD_ACCOUNT: "Неверный формат номера договора: только цифры",
    AgentResult.NOT_FOUND: "Договор не найден",
    AgentResult.FORBIDDEN: "Договор расторгнут: приём платежей запрещён",
    AgentResult.SUM_TOO_SMALL: "Сумма слишком мала",
    AgentResult.SUM_TOO_LARGE: "Сумма слишком велика",
    AgentResult.CANNOT_CHECK: "Невозможно проверить состояние договора",
    AgentResult.OTHER: "Ошибка запроса",
}

#: One agent payment, kopecks: a terminal takes at least a rouble; above this is a typo.
AGENT_MIN_AMOUNT = 1_00
AGENT_MAX_AMOUNT = 100_000_00

_SUM = re.compile(r"^\d{1,9}(?:\.\d{1,2})?$")
_TXN_ID = re.compile(r"^[0-9A-Za-z._-]{1,64}$")
_ACCOUNT = re.compile(r"^\d{1,12}$")
_TXN_DATE = re.compile(r"^\d{14}$")


class AgentTransaction(Table, help_text="Платежи агентов и терминалов: одна строка на транзакцию агента"):
    agent = Varchar(length=40, index=True, help_text="Агент (код из настроек)")
    txn_id = Varchar(length=64, help_text="Номер транзакции у агента (txn_id)")
    # agent + ":" + txn_id, unique: the once-only key of a pay (a repeat finds this row).
    txn_key = Varchar(length=110, unique=True, help_text="Ключ транзакции: агент и её номер")
    txn_date = Varchar(length=14, help_text="Дата платежа у агента (ГГГГММДДччммсс, как прислал агент)")
    account = Varchar(length=20, help_text="Номер договора, как его ввёл плательщик")
    amount = kopecks(BigInt(help_text="Сумма, ₽"))
    subscriber = ForeignKey(Subscriber, null=True, default=None, on_delete=OnDelete.restrict,
                            help_text="Договор")
    payment = ForeignKey(Payment, null=True, default=None, on_delete=OnDelete.restrict,
                         help_text="Платёж (prv_txn)")
    result = Integer(help_text="Код ответа агенту (0 — зачислено)")
    comment = Text(default="", help_text="Комментарий ответа")
    created_at = Timestamptz(help_text="Получено")


@dataclass(frozen=True)
class AgentAnswer:
    """What the agent reads: an XML ``<response>``."""

    result: int
    txn_id: str = ""
    comment: str = ""
    amount: int | None = None
    prv_txn: int | None = None

    def xml(self) -> str:
        parts = ['<?xml version="1.0" encoding="UTF-8"?>', "<response>",
                 f"<osmp_txn_id>{escape(self.txn_id)}</osmp_txn_id>"]
        if self.prv_txn is not None:
            parts.append(f"<prv_txn>{self.prv_txn}</prv_txn>")
        if self.amount is not None:
            parts.append(f"<sum>{self.amount // 100}.{self.amount % 100:02d}</sum>")
        parts.append(f"<result>{int(self.result)}</result>")
        parts.append(f"<comment>{escape(self.comment or RESULT_COMMENTS.get(self.result, ''))}</comment>")
        parts.append("</response>")
        return "\n".join(parts) + "\n"


class AgentRequestError(ValueError):
    """A request the protocol answers with a non-zero result and nothing recorded."""

    def __init__(self, result: AgentResult, comment: str = "") -> None:
        super().__init__(comment or RESULT_COMMENTS[result])
        self.result = result
        self.comment = comment or RESULT_COMMENTS[result]


def request_signature(params: Mapping[str, str], secret: str) -> str:
    """The ``sign`` an agent with a secret sends: HMAC-SHA256 (hex) of every other parameter,
    sorted by name, as ``name=value`` joined by ``&`` (values as sent, not URL-encoded).

    >>> request_signature({"command": "check", "txn_id": "1", "account": "100001", "sum": "10.00"}, "s")
    """
    text = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "sign")
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def agent_allows(params: Mapping[str, str], client_ip: str | None, *, secret: str,
                 allowed_ips: tuple[str, ...]) -> bool:
    """Whether the request passes the agent's guards: the signature when it has a secret, the
    address when it has a list (both when both)."""
    if secret:
        sign = params.get("sign", "")
        if not hmac.compare_digest(sign.lower().encode(), request_signature(params, secret).encode()):
            return False
    if allowed_ips:
        try:
            address = ipaddress.ip_address(client_ip or "")
        except ValueError:
            return False
        if not any(address in ipaddress.ip_network(n, strict=False) for n in allowed_ips):
            return False
    return True


def parse_agent_sum(text: str | None) -> int:
    """``"10.45"`` → 1045 kopecks within the agent limits, or :class:`AgentRequestError`."""
    text = (text or "").strip()
    if not _SUM.match(text):
        raise AgentRequestError(AgentResult.OTHER, "Неверная сумма: ожидается вид 123.45")
    whole, _, frac = text.partition(".")
    amount = int(whole) * 100 + int((frac + "00")[:2])
    if amount < AGENT_MIN_AMOUNT:
        raise AgentRequestError(AgentResult.SUM_TOO_SMALL)
    if amount > AGENT_MAX_AMOUNT:
        raise AgentRequestError(AgentResult.SUM_TOO_LARGE)
    return amount


def _txn_id(params: Mapping[str, str]) -> str:
    txn_id = (params.get("txn_id") or "").strip()
    if not _TXN_ID.match(txn_id):
        raise AgentRequestError(AgentResult.OTHER, "Неверный или пустой txn_id")
    return txn_id


def _account(params: Mapping[str, str]) -> str:
    account = (params.get("account") or "").strip()
    if not _ACCOUNT.match(account):
        raise AgentRequestError(AgentResult.BAD_ACCOUNT)
    return account


def _txn_date(params: Mapping[str, str]) -> str:
    text = (params.get("txn_date") or "").strip()
    if not _TXN_DATE.match(text):
        raise AgentRequestError(AgentResult.OTHER, "Неверная дата txn_date: ожидается ГГГГММДДччммсс")
    try:
        dt.datetime.strptime(text, "%Y%m%d%H%M%S")
    except ValueError as exc:
        raise AgentRequestError(AgentResult.OTHER, "Неверная дата txn_date: такой даты нет") from exc
    return text


async def _payable(account: str) -> tuple[Subscriber | None, AgentResult]:
    subscriber = await Subscriber.objects().where(Subscriber.contract_number == account).first()
    if subscriber is None:
        return None, AgentResult.NOT_FOUND
    if subscriber.status == SubscriberStatus.TERMINATED:
        return subscriber, AgentResult.FORBIDDEN
    return subscriber, AgentResult.OK


async def agent_check(agent: str, params: Mapping[str, str]) -> AgentAnswer:
    """``command=check``: may this contract be paid (nothing is recorded)?"""
    txn_id = (params.get("txn_id") or "").strip()[:64]
    try:
        txn_id = _txn_id(params)
        account = _account(params)
        # A terminal checks before the payer inserts any money: no sum (or a zero one) is fine.
        raw_sum = (params.get("sum") or "").strip()
        amount = None if raw_sum in ("", "0", "0.0", "0.00") else parse_agent_sum(raw_sum)
    except AgentRequestError as exc:
        return AgentAnswer(exc.result, txn_id, exc.comment)
    try:
        _, result = await _payable(account)
    except Exception:  # the database did not answer: the agent may ask again
        return AgentAnswer(AgentResult.CANNOT_CHECK, txn_id)
    return AgentAnswer(result, txn_id, amount=amount)


def _answer_of(row: Mapping) -> AgentAnswer:
    return AgentAnswer(row["result"], row["txn_id"], row["comment"], amount=row["amount"],
                       prv_txn=row["payment"])


async def _recorded(agent: str, txn_id: str) -> AgentAnswer | None:
    row = await AgentTransaction.select().where(AgentTransaction.txn_key == f"{agent}:{txn_id}").first()
    return _answer_of(row) if row else None


async def agent_pay(agent: str, agent_name: str, params: Mapping[str, str]) -> AgentAnswer:
    """``command=pay``: book the payment once per (agent, txn_id).

    The transaction's row is inserted first (``ON CONFLICT DO NOTHING``); only the request that
    inserted it books, in the same transaction. A concurrent repeat waits for that row (a unique
    key on PostgreSQL, the write lock on SQLite), inserts nothing and answers what the first
    recorded. Answers 0, 5 and 7 are recorded; malformed requests are not (nothing to key).
    """
    txn_id = (params.get("txn_id") or "").strip()[:64]
    try:
        txn_id = _txn_id(params)
        first = await _recorded(agent, txn_id)
        if first is not None:
            return first
        account = _account(params)
        amount = parse_agent_sum(params.get("sum"))
        txn_date = _txn_date(params)
    except AgentRequestError as exc:
        return AgentAnswer(exc.result, txn_id, exc.comment)
    now = utcnow()
    async with write_transaction():
        inserted = await AgentTransaction.insert(AgentTransaction(
            agent=agent, txn_id=txn_id, txn_key=f"{agent}:{txn_id}", txn_date=txn_date,
            account=account, amount=amount, result=AgentResult.TEMPORARY, created_at=now,
        )).on_conflict(target=AgentTransaction.txn_key, action="DO NOTHING").returning(AgentTransaction.id)
        if inserted:
            row_id = inserted[0]["id"]
            subscriber, result = await _payable(account)
            payment_id = None
            if result == AgentResult.OK:
                assert subscriber is not None
                payment = Payment(subscriber=subscriber.id, amount=amount, status=PaymentStatus.SUCCEEDED,
                                  channel=PaymentChannel.AGENT, created_at=now, updated_at=now,
                                  created_by=f"agent:{agent}", town=await town_of(subscriber.id))
                await payment.save()
                payment_id = payment.id
                await post_entry(subscriber.id, amount, EntryKind.PAYMENT, f"agent:{agent}:{txn_id}",
                                 comment=f"Оплата через агента «{agent_name}», транзакция {txn_id}",
                                 created_by=f"agent:{agent}")
                await issue_receipt(payment.id, now=now)
                await write_audit(action="payment.agent_booked", object_type="payment",
                                  object_id=payment.id, actor=SYSTEM,
                                  message=f"agent={agent} txn_id={txn_id}",
                                  after={"subscriber": subscriber.id, "amount": amount,
                                         "txn_date": txn_date})
            await AgentTransaction.update({
                AgentTransaction.result: int(result),
                AgentTransaction.comment: RESULT_COMMENTS[result],
                AgentTransaction.subscriber: subscriber.id if subscriber else None,
                AgentTransaction.payment: payment_id,
            }).where(AgentTransaction.id == row_id)
    answer = await _recorded(agent, txn_id)
    if answer is None:  # pragma: no cover - the row was inserted or already there
        return AgentAnswer(AgentResult.TEMPORARY, txn_id)
    return answer


@dataclass(frozen=True)
class AgentDay:
    day: dt.date
    count: int
    amount: int


async def agent_daily_totals(agent: str, date_from: dt.date, date_to: dt.date) -> list[AgentDay]:
    """Booked payments of one agent by the agent's own day (``txn_date``), for the accountant to
    compare with the agent's registry: count and sum per day, days without payments left out."""
    rows = await AgentTransaction.raw(
        "SELECT substr(txn_date, 1, 8) AS day, COUNT(*) AS n, COALESCE(SUM(amount), 0) AS total "
        "FROM agent_transaction WHERE agent = {} AND result = 0 "
        "AND txn_date >= {} AND txn_date < {} GROUP BY substr(txn_date, 1, 8) ORDER BY 1",
        agent, date_from.strftime("%Y%m%d"), (date_to + dt.timedelta(days=1)).strftime("%Y%m%d"),
    )
    return [AgentDay(dt.datetime.strptime(r["day"], "%Y%m%d").date(), int(r["n"]), int(r["total"]))
            for r in rows]
