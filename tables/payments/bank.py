"""Bank statements: 1CClientBankExchange files, their incoming documents matched to contracts
and booked as ``bank`` payments.

The flow: :func:`import_statement` parses the whole file (windows-1251, DOS or UTF-8) and refuses
a malformed one with a Russian message naming the line — then nothing is stored. A good file
becomes a draft :class:`BankStatement` with one :class:`BankLine` per incoming document, each
matched (:func:`match_purpose`) by the contract number in the purpose (НазначениеПлатежа, a
"PersAcc"/"л/с" mark) or else the payer's name: ``matched``, ``ambiguous`` or ``unmatched``, with
the reason; a document already imported from an earlier statement is a ``duplicate``.
:func:`confirm_statement` books every matched line (one ``bank`` payment and one ledger entry each)
and queues the rest, in one transaction; a clerk resolves the queue line by line
(:func:`assign_line` to a contract, :func:`reject_line` as not ours).

Once only: a document's key is (our account, date, number, amount, payer's account); its ledger
reference is ``bank:<key>``, unique, so the same document in an overlapping statement, a second
confirmation or two clerks at once books nothing twice.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from piccolo.columns import BigInt, Date, ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.table import Table

from db.engine import write_transaction
from tables.audit import Actor, write_audit
from tables.calendar import utcnow
from tables.choices import choices
from tables.ledger import DuplicateEntryError, EntryKind, post_entry
from tables.money import kopecks
from tables.payments.payment import Payment, PaymentChannel, PaymentStatus, town_of
from tables.payments.receipts import issue_receipt
from tables.subscribers import Subscriber, SubscriberStatus
from tables.text import clean_text


class LineState(enum.StrEnum):
    MATCHED = "matched"
    AMBIGUOUS = "ambiguous"
    UNMATCHED = "unmatched"
    DUPLICATE = "duplicate"
    BOOKED = "booked"
    QUEUED = "queued"
    REJECTED = "rejected"


LINE_STATE_LABELS = {
    "matched": "Найден договор",
    "ambiguous": "Неоднозначно",
    "unmatched": "Договор не найден",
    "duplicate": "Уже загружен",
    "booked": "Зачислен",
    "queued": "Ждёт разбора",
    "rejected": "Не наш платёж",
}


class StatementStatus(enum.StrEnum):
    DRAFT = "draft"
    CONFIRMED = "confirmed"


STATEMENT_STATUS_LABELS = {"draft": "Загружена, не проведена", "confirmed": "Проведена"}


class BankStatement(Table, help_text="Банковские выписки: загруженные файлы 1CClientBankExchange"):
    file_name = Varchar(length=200, default="", help_text="Файл")
    account = Varchar(length=20, help_text="Расчётный счёт компании в выписке")
    date_from = Date(null=True, default=None, help_text="Выписка с")
    date_to = Date(null=True, default=None, help_text="Выписка по")
    documents = Integer(default=0, help_text="Входящих документов")
    outgoing = Integer(default=0, help_text="Исходящих документов (пропущены)")
    status = Varchar(length=20, choices=choices(StatementStatus, STATEMENT_STATUS_LABELS),
                     default="draft", help_text="Состояние")
    uploaded_at = Timestamptz(help_text="Загружена")
    uploaded_by = Varchar(length=150, default="", help_text="Кто загрузил")
    confirmed_at = Timestamptz(null=True, default=None, help_text="Проведена")
    confirmed_by = Varchar(length=150, default="", help_text="Кто провёл")


class BankLine(Table, help_text="Строки банковских выписок: входящие платежи и их разбор"):
    statement = ForeignKey(BankStatement, null=False, on_delete=OnDelete.restrict, help_text="Выписка")
    position = Integer(help_text="Номер строки файла, где начинается документ")
    doc_key = Varchar(length=120, index=True,
                      help_text="Ключ документа: счёт, дата, номер, сумма, счёт плательщика")
    number = Varchar(length=40, help_text="Номер документа")
    doc_date = Date(help_text="Дата документа")
    amount = kopecks(BigInt(help_text="Сумма, ₽"))
    payer = Varchar(length=300, default="", help_text="Плательщик")
    payer_account = Varchar(length=20, default="", help_text="Счёт плательщика")
    payer_inn = Varchar(length=12, default="", help_text="ИНН плательщика")
    purpose = Text(default="", help_text="Назначение платежа")
    state = Varchar(length=20, choices=choices(LineState, LINE_STATE_LABELS), index=True,
                    help_text="Разбор")
    reason = Text(default="", help_text="Почему так")
    subscriber = ForeignKey(Subscriber, null=True, default=None, on_delete=OnDelete.restrict,
                            help_text="Договор")
    payment = ForeignKey(Payment, null=True, default=None, on_delete=OnDelete.restrict,
                         help_text="Платёж")
    resolved_by = Varchar(length=150, default="", help_text="Кто разобрал")
    resolved_at = Timestamptz(null=True, default=None, help_text="Когда разобран")


class StatementError(ValueError):
    """A malformed statement file; the message names the line."""


# --- parsing ---------------------------------------------------------------------------------

@dataclass
class Document:
    line: int
    fields: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)  # field → its line in the file


@dataclass
class ParsedStatement:
    account: str
    date_from: dt.date | None
    date_to: dt.date | None
    documents: list[Document]


#: The largest statement accepted, bytes (a 50,000-document statement is about 40 MB).
MAX_STATEMENT_BYTES = 64 * 1024 * 1024

_AMOUNT = re.compile(r"^\d{1,12}(?:[.,]\d{1,2})?$")


def decode_statement(data: bytes) -> str:
    """The file's text: UTF-8 (with or without BOM) when it decodes, else windows-1251 — or
    DOS (cp866) when its header says ``Кодировка=DOS``."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    text = data.decode("cp1251", errors="replace")
    if re.search(r"^Кодировка=DOS\s*$", text[:2000], flags=re.M):
        return data.decode("cp866", errors="replace")
    return text


def _date(value: str, line: int, name: str) -> dt.date:
    try:
        return dt.datetime.strptime(value.strip(), "%d.%m.%Y").date()
    except ValueError:
        raise StatementError(f"Строка {line}: {name} «{value[:20]}» — не дата ДД.ММ.ГГГГ") from None


def _amount(value: str, line: int) -> int:
    text = value.strip().replace(" ", "")
    if not _AMOUNT.match(text):
        raise StatementError(f"Строка {line}: сумма «{value[:30]}» не распознана (ожидается 1500.00)")
    whole, _, frac = text.replace(",", ".").partition(".")
    amount = int(whole) * 100 + int((frac + "00")[:2])
    if amount <= 0:
        raise StatementError(f"Строка {line}: сумма должна быть больше нуля")
    return amount


def parse_statement(data: bytes) -> ParsedStatement:
    """Read a 1CClientBankExchange file; :class:`StatementError` names the first bad line.

    Header keys, the account section and every ``СекцияДокумент … КонецДокумента`` are read;
    unknown keys are ignored (banks add their own).
    """
    if len(data) > MAX_STATEMENT_BYTES:
        raise StatementError("Файл слишком большой: выписка больше 64 МБ")
    # Without NUL and other control characters, as every form of the site (tables.text).
    lines = clean_text(decode_statement(data)).splitlines()
    first = next((i for i, text in enumerate(lines) if text.strip()), None)
    if first is None or lines[first].strip() != "1CClientBankExchange":
        raise StatementError("Строка 1: это не выписка 1CClientBankExchange (первая строка должна "
                             "быть «1CClientBankExchange»)")
    header: dict[str, str] = {}
    accounts: list[str] = []
    documents: list[Document] = []
    current: Document | None = None
    in_account = False
    finished = False
    for index in range(first + 1, len(lines)):
        number = index + 1
        text = lines[index].strip()
        if not text:
            continue
        if finished:
            raise StatementError(f"Строка {number}: текст после «КонецФайла»")
        key, sep, value = text.partition("=")
        key = key.strip()
        if key == "СекцияДокумент":
            if current is not None:
                raise StatementError(f"Строка {number}: новый документ, а документ со строки "
                                     f"{current.line} не закрыт строкой «КонецДокумента»")
            current = Document(number)
            continue
        if key == "КонецДокумента":
            if current is None:
                raise StatementError(f"Строка {number}: «КонецДокумента» без «СекцияДокумент»")
            documents.append(current)
            current = None
            continue
        if key == "СекцияРасчСчет":
            in_account = True
            continue
        if key == "КонецРасчСчет":
            in_account = False
            continue
        if key == "КонецФайла":
            if current is not None:
                raise StatementError(f"Строка {number}: файл закончился, а документ со строки "
                                     f"{current.line} не закрыт строкой «КонецДокумента»")
            finished = True
            continue
        if not sep:
            raise StatementError(f"Строка {number}: ожидается «Ключ=значение», а не «{text[:40]}»")
        if current is not None:
            current.fields[key] = value.strip()
            current.lines[key] = number
        elif in_account or key == "РасчСчет":
            if key == "РасчСчет" and value.strip():
                accounts.append(value.strip())
            header.setdefault(key, value.strip())
        else:
            header[key] = value.strip()
    if not finished:
        raise StatementError(f"Строка {len(lines)}: файл оборван — нет строки «КонецФайла»")
    account = accounts[0] if accounts else ""
    if not re.fullmatch(r"\d{20}", account):
        raise StatementError("В заголовке выписки нет расчётного счёта компании (РасчСчет=, 20 цифр)")
    for doc in documents:
        for name in ("Номер", "Дата", "Сумма"):
            if not doc.fields.get(name):
                raise StatementError(f"Строка {doc.line}: в документе нет поля «{name}»")
        doc.fields["_amount"] = str(_amount(doc.fields["Сумма"], doc.lines["Сумма"]))
        doc.fields["_date"] = _date(doc.fields["Дата"], doc.lines["Дата"], "дата").isoformat()
    date_from = _date(header["ДатаНачала"], 0, "ДатаНачала") if header.get("ДатаНачала") else None
    date_to = _date(header["ДатаКонца"], 0, "ДатаКонца") if header.get("ДатаКонца") else None
    return ParsedStatement(account, date_from, date_to, documents)


def document_key(account: str, doc: Document) -> str:
    """(our account, date, number, amount, payer's account): the same document in any statement."""
    return ":".join([account, doc.fields["_date"], doc.fields["Номер"][:20], doc.fields["_amount"],
                     doc.fields.get("ПлательщикСчет", "")[:20]])


# --- matching --------------------------------------------------------------------------------

_MARKED = re.compile(
    r"(?:persacc|л\s*/\s*с|лс|лиц\w*\s+сч\w*|дог\w*|абонент\w*|сч[её]т\w*)\W{0,5}(?:№|n|#)?\s*(\d{4,12})\b",
    flags=re.I)
_NUMBER = re.compile(r"(?<![\d.,/-])(\d{4,12})(?![\d.,/-]\d)")


@dataclass(frozen=True)
class Match:
    state: LineState
    reason: str
    subscriber_id: int | None = None


def _payer_name(fields: dict[str, str]) -> str:
    name = fields.get("Плательщик1") or fields.get("Плательщик") or ""
    name = re.sub(r"^ИНН\s*\d*\s*", "", name, flags=re.I)
    return " ".join(name.split("//")[0].split())


async def match_documents(docs: list[Document]) -> list[Match]:
    """Match each document to a contract; one query for all numbers, one for all payer names."""
    marked = [_MARKED.findall(d.fields.get("НазначениеПлатежа", "")) for d in docs]
    loose = [_NUMBER.findall(d.fields.get("НазначениеПлатежа", "")) for d in docs]
    numbers = sorted({n for found in marked + loose for n in found})
    contracts: dict[str, dict] = {}
    for chunk in range(0, len(numbers), 500):
        rows = await Subscriber.select(Subscriber.id, Subscriber.contract_number, Subscriber.status).where(
            Subscriber.contract_number.is_in(numbers[chunk:chunk + 500]))
        contracts.update({r["contract_number"]: r for r in rows})
    # SQLite's lower() knows no Cyrillic: look names up as written and in title case
    # (statements often write ИВАНОВ ИВАН ИВАНОВИЧ), compare lower-cased here.
    spelled = {_payer_name(d.fields) for d in docs} - {""}
    names = sorted(spelled | {n.title() for n in spelled})
    by_name: dict[str, list[dict]] = {}
    for chunk in range(0, len(names), 500):
        rows = await Subscriber.select(Subscriber.id, Subscriber.contract_number, Subscriber.status,
                                       Subscriber.full_name).where(
            Subscriber.full_name.is_in(names[chunk:chunk + 500]))
        for r in rows:
            by_name.setdefault(r["full_name"].lower(), []).append(r)
    return [_match_one(d, m, lo, contracts, by_name) for d, m, lo in zip(docs, marked, loose, strict=True)]


def _decide(found: list[dict], how: str) -> Match:
    distinct = {r["contract_number"]: r for r in found}
    if len(distinct) > 1:
        return Match(LineState.AMBIGUOUS, f"{how}: несколько договоров — {', '.join(sorted(distinct))}")
    row = next(iter(distinct.values()))
    if row["status"] == SubscriberStatus.TERMINATED:
        return Match(LineState.AMBIGUOUS, f"{how}: договор {row['contract_number']} расторгнут — "
                                          "решите, зачислить ли", row["id"])
    return Match(LineState.MATCHED, f"{how}: договор {row['contract_number']}", row["id"])


def _match_one(doc: Document, marked: list[str], loose: list[str], contracts: dict[str, dict],
               by_name: dict[str, list[dict]]) -> Match:
    # Every contract the purpose names counts: "л/с 100001, 100002" is two contracts.
    found = [contracts[n] for n in marked + loose if n in contracts]
    if found:
        how = ("номер договора в назначении платежа" if any(n in contracts for n in marked)
               else "число в назначении платежа совпало с номером договора")
        return _decide(found, how)
    name = _payer_name(doc.fields)
    found = by_name.get(name.lower(), [])
    if found:
        return _decide(found, f"ФИО плательщика «{name}»")
    if marked or loose:
        return Match(LineState.UNMATCHED, "в назначении нет номера существующего договора "
                                          f"(есть числа: {', '.join(sorted(set(marked + loose))[:5])})")
    return Match(LineState.UNMATCHED, "в назначении платежа нет номера договора, плательщик не найден")


# --- import, confirmation, the queue ----------------------------------------------------------

@dataclass(frozen=True)
class ImportResult:
    statement_id: int
    counts: dict[str, int]
    outgoing: int


async def import_statement(data: bytes, *, file_name: str, actor: Actor,
                           company_account: str = "") -> ImportResult:
    """Parse, match and store a statement as a draft (nothing is booked yet).

    :param company_account: our settlement account from settings; when set, a statement of
        another account is refused.
    :raises StatementError: a malformed file or another account (nothing stored).
    """
    parsed = parse_statement(data)
    if company_account and parsed.account != company_account:
        raise StatementError(f"Выписка по счёту {parsed.account}, а счёт компании — {company_account}")
    incoming = [d for d in parsed.documents
                if d.fields.get("ПолучательСчет", parsed.account) == parsed.account]
    outgoing = len(parsed.documents) - len(incoming)
    matches = await match_documents(incoming)
    now = utcnow()
    counts: dict[str, int] = {}
    async with write_transaction():
        keys = [document_key(parsed.account, d) for d in incoming]
        seen = await _claimed_keys(keys)
        statement = BankStatement(file_name=file_name[:200], account=parsed.account,
                                  date_from=parsed.date_from, date_to=parsed.date_to,
                                  documents=len(incoming), outgoing=outgoing, status=StatementStatus.DRAFT,
                                  uploaded_at=now, uploaded_by=actor.name)
        await statement.save()
        rows = []
        in_file: set[str] = set()
        for doc, key, match in zip(incoming, keys, matches, strict=True):
            if key in seen or key in in_file:
                match = Match(LineState.DUPLICATE, "этот документ уже загружен "
                                                   + ("выше в этом файле" if key in in_file
                                                      else f"с выпиской № {seen[key]}"))
            in_file.add(key)
            counts[match.state] = counts.get(match.state, 0) + 1
            f = doc.fields
            rows.append(BankLine(
                statement=statement.id, position=doc.line, doc_key=key, number=f["Номер"][:40],
                doc_date=dt.date.fromisoformat(f["_date"]), amount=int(f["_amount"]),
                payer=_payer_name(f)[:300], payer_account=f.get("ПлательщикСчет", "")[:20],
                payer_inn=f.get("ПлательщикИНН", "")[:12], purpose=f.get("НазначениеПлатежа", ""),
                state=match.state, reason=match.reason, subscriber=match.subscriber_id))
        for chunk in range(0, len(rows), 1000):
            if rows[chunk:chunk + 1000]:
                await BankLine.insert(*rows[chunk:chunk + 1000])
        await write_audit(action="bank_statement.imported", object_type="bank_statement",
                          object_id=statement.id, actor=actor, message=file_name[:200],
                          after={"account": parsed.account, "documents": len(incoming),
                                 "outgoing": outgoing, **counts})
    return ImportResult(statement.id, counts, outgoing)


async def _claimed_keys(keys: Iterable[str]) -> dict[str, int]:
    """Keys already in a confirmed or draft statement's non-duplicate lines → that statement."""
    keys = list(keys)
    found: dict[str, int] = {}
    for chunk in range(0, len(keys), 500):
        part = keys[chunk:chunk + 500]
        if not part:
            continue
        rows = await BankLine.select(BankLine.doc_key, BankLine.statement).where(
            BankLine.doc_key.is_in(part) & (BankLine.state != LineState.DUPLICATE))
        found.update({r["doc_key"]: r["statement"] for r in rows})
    return found


def _reference(key: str) -> str:
    return f"bank:{key}"


async def _book(line: dict, subscriber_id: int, actor: Actor, now: dt.datetime) -> int | None:
    """One ledger entry and one ``bank`` payment for a line; ``None`` when the document was
    booked before (its reference exists)."""
    try:
        await post_entry(subscriber_id, line["amount"], EntryKind.PAYMENT, _reference(line["doc_key"]),
                         comment=f"Банковский перевод, п/п № {line['number']} от "
                                 f"{line['doc_date']:%d.%m.%Y}", created_by=actor.name)
    except DuplicateEntryError:
        return None
    payment = Payment(subscriber=subscriber_id, amount=line["amount"], status=PaymentStatus.SUCCEEDED,
                      channel=PaymentChannel.BANK, created_at=now, updated_at=now, created_by=actor.name,
                      town=await town_of(subscriber_id))
    await payment.save()
    await issue_receipt(payment.id, now=now)
    return payment.id


@dataclass(frozen=True)
class ConfirmResult:
    booked: int
    booked_amount: int
    queued: int
    duplicates: int
    already_confirmed: bool = False


async def confirm_statement(statement_id: int, *, actor: Actor) -> ConfirmResult:
    """Book every matched line and queue the ambiguous and unmatched ones, in one transaction.

    Confirming a confirmed statement changes nothing. A matched document booked meanwhile from
    another statement becomes a duplicate here (its ledger reference exists).
    """
    now = utcnow()
    async with write_transaction():
        claimed = await BankStatement.update({
            BankStatement.status: StatementStatus.CONFIRMED, BankStatement.confirmed_at: now,
            BankStatement.confirmed_by: actor.name,
        }).where((BankStatement.id == statement_id) & (BankStatement.status == StatementStatus.DRAFT)
                 ).returning(BankStatement.id)
        if not claimed:
            if not await BankStatement.exists().where(BankStatement.id == statement_id):
                raise ValueError("Выписка не найдена")
            return ConfirmResult(0, 0, 0, 0, already_confirmed=True)
        lines = await BankLine.select().where(
            (BankLine.statement == statement_id) & (BankLine.state == LineState.MATCHED)
        ).order_by(BankLine.id)
        booked = booked_amount = duplicates = 0
        for line in lines:
            payment_id = await _book(line, line["subscriber"], actor, now)
            if payment_id is None:
                duplicates += 1
                await BankLine.update({BankLine.state: LineState.DUPLICATE,
                                       BankLine.reason: "этот документ уже зачислен по другой выписке"}
                                      ).where(BankLine.id == line["id"])
                continue
            booked += 1
            booked_amount += line["amount"]
            await BankLine.update({BankLine.state: LineState.BOOKED, BankLine.payment: payment_id,
                                   BankLine.resolved_by: actor.name, BankLine.resolved_at: now}
                                  ).where(BankLine.id == line["id"])
        queued = await BankLine.update({BankLine.state: LineState.QUEUED}).where(
            (BankLine.statement == statement_id)
            & BankLine.state.is_in([LineState.AMBIGUOUS, LineState.UNMATCHED])
        ).returning(BankLine.id)
        await write_audit(action="bank_statement.confirmed", object_type="bank_statement",
                          object_id=statement_id, actor=actor,
                          after={"booked": booked, "amount": booked_amount, "queued": len(queued),
                                 "duplicates": duplicates})
    return ConfirmResult(booked, booked_amount, len(queued), duplicates)


async def assign_line(line_id: int, contract_number: str, *, actor: Actor) -> int:
    """A clerk books a queued line to the contract they picked; returns the payment id.

    :raises ValueError: the line is not waiting, the contract does not exist, or the document was
        booked before.
    """
    subscriber = await Subscriber.objects().where(
        Subscriber.contract_number == (contract_number or "").strip()).first()
    if subscriber is None:
        raise ValueError(f"Договор № {(contract_number or '').strip()[:20]} не найден")
    now = utcnow()
    async with write_transaction():
        line = await BankLine.select().where(
            (BankLine.id == line_id) & (BankLine.state == LineState.QUEUED)).first()
        if line is None:
            raise ValueError("Этот платёж уже разобран")
        payment_id = await _book(line, subscriber.id, actor, now)
        if payment_id is None:
            raise ValueError("Этот документ уже зачислен по другой выписке")
        await BankLine.update({BankLine.state: LineState.BOOKED, BankLine.payment: payment_id,
                               BankLine.subscriber: subscriber.id, BankLine.resolved_by: actor.name,
                               BankLine.resolved_at: now,
                               BankLine.reason: f"договор выбран вручную: {subscriber.contract_number}"}
                              ).where(BankLine.id == line_id)
        await write_audit(action="bank_line.assigned", object_type="bank_line", object_id=line_id,
                          actor=actor, after={"subscriber": subscriber.id, "amount": line["amount"],
                                              "payment": payment_id})
    return payment_id


async def reject_line(line_id: int, reason: str, *, actor: Actor) -> None:
    """A clerk marks a queued line as not ours (returned to the payer by the bank, or another
    company's money); nothing is booked."""
    reason = " ".join((reason or "").split())
    if len(reason) < 3:
        raise ValueError("Укажите причину (не короче 3 символов)")
    async with write_transaction():
        rows = await BankLine.update({BankLine.state: LineState.REJECTED, BankLine.reason: reason[:500],
                                      BankLine.resolved_by: actor.name, BankLine.resolved_at: utcnow()}
                                     ).where((BankLine.id == line_id) & (BankLine.state == LineState.QUEUED)
                                             ).returning(BankLine.id)
        if not rows:
            raise ValueError("Этот платёж уже разобран")
        await write_audit(action="bank_line.rejected", object_type="bank_line", object_id=line_id,
                          actor=actor, message=reason[:500])


async def statement_lines(statement_id: int) -> list[dict]:
    return await BankLine.select(*BankLine.all_columns(),
                                 BankLine.subscriber._.contract_number.as_alias("contract")).where(
        BankLine.statement == statement_id).order_by(BankLine.position)


async def queued_lines(limit: int = 200) -> list[dict]:
    return await BankLine.select().where(BankLine.state == LineState.QUEUED).order_by(
        BankLine.doc_date, BankLine.id).limit(limit)


async def queued_count() -> int:
    return await BankLine.count().where(BankLine.state == LineState.QUEUED)
