"""The ledger: append-only money movements, the only way a balance changes."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from piccolo.columns import BigInt, ForeignKey, OnDelete, Text, Timestamptz, Varchar
from piccolo.table import Table

from db.engine import write_transaction
from tables import messages
from tables.audit import Actor, write_audit
from tables.calendar import utcnow
from tables.choices import choices
from tables.coa import queue_disconnects
from tables.money import kopecks
from tables.subscribers import Subscriber, SubscriberStatus


class EntryKind(enum.StrEnum):
    PAYMENT = "payment"
    CHARGE = "charge"
    REFUND = "refund"
    ADJUSTMENT = "adjustment"
    PROMISED = "promised"


ENTRY_KIND_LABELS = {
    "payment": "Платёж",
    "charge": "Списание абонентской платы",
    "refund": "Возврат платежа",
    "adjustment": "Корректировка",
    "promised": "Обещанный платёж",
}


# A credit booked under a debit kind reads as a credit: the termination's pro-rata give-back is a
# `charge` entry (so a month's charges net to what is owed) but must not say "Списание".
CREDIT_LABELS = {
    "charge": "Возврат абонентской платы",
}


def entry_label(kind: str, amount: int) -> str:
    """What a subscriber reads for an entry: the kind's label, in credit wording for a credit."""
    if amount > 0 and kind in CREDIT_LABELS:
        return CREDIT_LABELS[kind]
    return ENTRY_KIND_LABELS.get(kind, kind)


class DuplicateEntryError(ValueError):
    """The external event behind this reference was already booked."""

    def __init__(self, reference: str) -> None:
        super().__init__(f"Проводка с ссылкой {reference!r} уже есть в журнале")
        self.reference = reference


class LedgerEntry(Table, help_text="Журнал проводок: только добавление. Ошибки исправляются корректировкой."):
    subscriber = ForeignKey(Subscriber, null=False, on_delete=OnDelete.restrict,
                            help_text="Договор")
    amount = kopecks(BigInt(help_text="Сумма, ₽: плюс — зачисление, минус — списание"))
    kind = Varchar(length=20, choices=choices(EntryKind, ENTRY_KIND_LABELS), help_text="Вид")
    period = Varchar(length=7, null=True, default=None, help_text="Расчётный период (ГГГГ-ММ)")
    reference = Varchar(length=120, unique=True, null=False,
                        help_text="Внешняя ссылка: одно событие — одна проводка")
    comment = Text(default="", help_text="Комментарий")
    created_at = Timestamptz(help_text="Время проводки")
    created_by = Varchar(length=150, default="system", help_text="Кто провёл")


async def post_entry(
    subscriber_id: int,
    amount: int,
    kind: EntryKind | str,
    reference: str,
    *,
    period: str | None = None,
    comment: str = "",
    created_by: str = "system",
) -> tuple[LedgerEntry, int]:
    """Append one entry and move the cached balance with it, atomically.

    :param amount: signed kopecks (positive credits the account).
    :param reference: unique key of the external event (payment intent id,
        ``charge:<subscriber>:<period>``...); a second posting with the same
        reference raises :class:`DuplicateEntryError` and changes nothing.
    :returns: the entry and the new balance.

    A credit that brings a suspended contract back to zero or above
    re-activates it in the same transaction.
    """
    if not isinstance(amount, int) or isinstance(amount, bool) or amount == 0:
        raise ValueError("Сумма проводки должна быть ненулевым целым числом копеек")
    if not reference:
        raise ValueError("У проводки должна быть ссылка")
    kind = EntryKind(kind)
    entry = LedgerEntry(
        subscriber=subscriber_id,
        amount=amount,
        kind=kind,
        period=period,
        reference=reference,
        comment=comment,
        created_at=utcnow(),
        created_by=created_by,
    )
    async with write_transaction():
        inserted = await (
            LedgerEntry.insert(entry)
            .on_conflict(target=LedgerEntry.reference, action="DO NOTHING")
            .returning(LedgerEntry.id)
        )
        if not inserted:
            raise DuplicateEntryError(reference)
        entry.id = inserted[0]["id"]
        entry._exists_in_db = True
        rows = await (
            Subscriber.update({Subscriber.balance: Subscriber.balance + amount})
            .where(Subscriber.id == subscriber_id)
            .returning(Subscriber.balance)
        )
        if not rows:
            raise ValueError("Договор не найден")
        balance = rows[0]["balance"]
        back = []
        if amount > 0 and balance >= 0:
            back = await Subscriber.update({Subscriber.status: SubscriberStatus.ACTIVE}).where(
                (Subscriber.id == subscriber_id)
                & (Subscriber.status == SubscriberStatus.SUSPENDED)
            ).returning(Subscriber.id)
        if back:
            # The walled garden is lifted at once: the NAS cuts the debtor's session and the
            # router logs in again at full speed (tables.coa, sent by the worker).
            await queue_disconnects(subscriber_id, "reactivated", reference)
        if kind == EntryKind.PAYMENT and amount > 0:
            await messages.payment_received(subscriber_id, amount, balance, reference,
                                            reactivated=bool(back))
        elif back:
            await messages.reactivated(subscriber_id, balance, reference)
    return entry, balance


async def ledger_sum(subscriber_id: int) -> int:
    rows = await LedgerEntry.raw(
        "SELECT COALESCE(SUM(amount), 0) AS total FROM ledger_entry WHERE subscriber = {}",
        subscriber_id,
    )
    return int(rows[0]["total"]) if rows else 0


async def recompute_balance(subscriber_id: int) -> int:
    """Set the cached balance to the ledger sum and return it (repair tool)."""
    async with write_transaction():
        total = await ledger_sum(subscriber_id)
        await Subscriber.update({Subscriber.balance: total}).where(Subscriber.id == subscriber_id)
    return total


async def post_adjustment(subscriber_id: int, amount: int, comment: str, *, actor: Actor) -> int:
    """A staff correction of a balance: a new entry, never an edit of an old one.

    :returns: the new balance.
    """
    if not comment.strip():
        raise ValueError("Укажите причину корректировки")
    async with write_transaction():
        entry, balance = await post_entry(
            subscriber_id, amount, EntryKind.ADJUSTMENT, f"adjustment:{uuid.uuid4()}",
            comment=comment.strip(), created_by=actor.name,
        )
        await write_audit(action="ledger.adjusted", object_type="subscriber",
                          object_id=subscriber_id, actor=actor, message=comment.strip(),
                          after={"entry": entry.id, "amount": amount, "balance": balance})
    return balance


@dataclass(frozen=True)
class Credit:
    """One incoming payment for :func:`post_credits`."""

    subscriber_id: int
    amount: int
    reference: str
    comment: str = ""


async def post_credits(credits: Sequence[Credit], *, kind: EntryKind | str = EntryKind.PAYMENT,
                       created_by: str = "system") -> set[str]:
    """:func:`post_entry` for many credits at once, set-based, with the same rules.

    One ``INSERT … ON CONFLICT DO NOTHING`` for the entries, one ``UPDATE`` for the cached
    balances, one for the contracts a credit brings back to zero or above (re-activated, with
    the NAS told, as :func:`post_entry` does); each payment's message says the balance after it,
    in the order given (queued together: ``messages.payments_received``). A reference booked
    before (or twice in ``credits``) changes nothing.

    :returns: the references booked by this call.
    """
    kind = EntryKind(kind)
    for credit in credits:
        if not isinstance(credit.amount, int) or isinstance(credit.amount, bool) or credit.amount <= 0:
            raise ValueError("Сумма зачисления должна быть положительным целым числом копеек")
        if not credit.reference:
            raise ValueError("У проводки должна быть ссылка")
    unique = list({c.reference: c for c in reversed(credits)}.values())[::-1]  # first of each
    if not unique:
        return set()
    now = utcnow()
    async with write_transaction():
        rows = await LedgerEntry.insert(*[
            LedgerEntry(subscriber=c.subscriber_id, amount=c.amount, kind=kind, period=None,
                        reference=c.reference, comment=c.comment, created_at=now, created_by=created_by)
            for c in unique]).on_conflict(target=LedgerEntry.reference, action="DO NOTHING").returning(
            LedgerEntry.reference)
        booked = {r["reference"] for r in rows}
        posted = [c for c in unique if c.reference in booked]
        totals: dict[int, int] = {}
        for c in posted:
            totals[c.subscriber_id] = totals.get(c.subscriber_id, 0) + c.amount
        if not totals:
            return set()
        ids = list(totals)
        cases = " ".join("WHEN {} THEN CAST({} AS BIGINT)" for _ in ids)
        rows = await Subscriber.raw(
            f"UPDATE subscriber SET balance = balance + CASE id {cases} END "
            f"WHERE id IN ({', '.join('{}' for _ in ids)}) RETURNING id, balance",
            *[v for sid in ids for v in (sid, totals[sid])], *ids)
        final = {r["id"]: int(r["balance"]) for r in rows}
        if len(final) != len(ids):
            raise ValueError("Договор не найден")
        back: set[int] = set()
        if any(balance >= 0 for balance in final.values()):
            rows = await Subscriber.update({Subscriber.status: SubscriberStatus.ACTIVE}).where(
                Subscriber.id.is_in([sid for sid, b in final.items() if b >= 0])
                & (Subscriber.status == SubscriberStatus.SUSPENDED)).returning(Subscriber.id)
            back = {r["id"] for r in rows}
        running = {sid: final[sid] - totals[sid] for sid in ids}
        told: dict[bool, list[tuple[int, int, int, str]]] = {False: [], True: []}
        for c in posted:
            running[c.subscriber_id] = balance = running[c.subscriber_id] + c.amount
            # The credit that reached zero re-activated the contract (as post_entry would).
            came_back = c.subscriber_id in back and balance >= 0
            if came_back:
                back.discard(c.subscriber_id)
                await queue_disconnects(c.subscriber_id, "reactivated", c.reference)
            if kind == EntryKind.PAYMENT:
                told[came_back].append((c.subscriber_id, c.amount, balance, c.reference))
            elif came_back:
                await messages.reactivated(c.subscriber_id, balance, c.reference)
        for reactivated, payments in told.items():  # each payment's message, as post_entry's
            if payments:
                await messages.payments_received(payments, reactivated=reactivated)
    return booked
