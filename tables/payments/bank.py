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

import codecs
import datetime as dt
import enum
import io
import re
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import anyio
from piccolo.columns import BigInt, Date, ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.query.functions.aggregate import Count, Sum
from piccolo.table import Table

from db.engine import is_sqlite, write_transaction
from tables.audit import Actor, write_audit
from tables.calendar import utcnow
from tables.choices import choices
from tables.ledger import Credit, DuplicateEntryError, EntryKind, post_credits, post_entry
from tables.money import kopecks
from tables.payments.payment import Payment, PaymentChannel, PaymentStatus, town_of
from tables.payments.receipts import issue_receipt, issue_receipts
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
    IMPORTING = "importing"
    FAILED = "failed"
    DRAFT = "draft"
    CONFIRMING = "confirming"
    CONFIRMED = "confirmed"


STATEMENT_STATUS_LABELS = {
    "importing": "Загружается",
    "failed": "Не загружена: ошибка в файле",
    "draft": "Загружена, не проведена",
    "confirming": "Проводится",
    "confirmed": "Проведена",
}


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
    job = Integer(null=True, default=None,
                  help_text="Фоновое задание: № задания, которое загружает или проводит выписку")
    error = Text(default="", help_text="Ошибка в файле: почему выписка не загружена")


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


@dataclass
class StatementHeader:
    """What the header says; filled by :func:`read_statement` before its first document."""

    account: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    sender: str = ""  # Отправитель: the program that wrote the file


#: ``Отправитель`` of the accounting export we write for 1C (``tables.reports.accounting``): such a
#: file is our own day totals, never a bank's statement, and is refused on upload.
OUR_EXPORT_SENDER = "Centra"


@dataclass
class StatementScan:
    """The first pass over a file (:func:`scan_statement`): the header and what the file holds."""

    encoding: str
    header: StatementHeader
    incoming: int
    outgoing: int


#: Opens the statement file for reading from the start (a file on disk or bytes in memory):
#: the file is read twice, line by line, never whole.
Opener = Callable[[], BinaryIO]

#: The largest statement accepted, bytes (a 50,000-document statement is about 40 MB).
MAX_STATEMENT_BYTES = 64 * 1024 * 1024

_AMOUNT = re.compile(r"^\d{1,12}(?:[.,]\d{1,2})?$")


def opener_of(data: bytes) -> Opener:
    return lambda: io.BytesIO(data)


def detect_encoding(open_file: Opener) -> str:
    """UTF-8 (with or without BOM) when the whole file decodes, else windows-1251 — or DOS
    (cp866) when its header says ``Кодировка=DOS``. Reads the file in pieces."""
    with open_file() as handle:
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while piece := handle.read(1024 * 1024):
                decoder.decode(piece)
            decoder.decode(b"", final=True)
            return "utf-8-sig"
        except UnicodeDecodeError:
            pass
        handle.seek(0)
        head = handle.read(4000).decode("cp1251", errors="replace")
    if re.search(r"^Кодировка=DOS\s*$", head[:2000], flags=re.M):
        return "cp866"
    return "cp1251"


def decode_statement(data: bytes) -> str:
    """The file's text (see :func:`detect_encoding`)."""
    return data.decode(detect_encoding(opener_of(data)), errors="replace")


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


def _close_header(header: StatementHeader, fields: dict[str, tuple[str, int]], accounts: list[str]) -> None:
    header.account = accounts[0] if accounts else ""
    if not re.fullmatch(r"\d{20}", header.account):
        raise StatementError("В заголовке выписки нет расчётного счёта компании (РасчСчет=, 20 цифр)")
    header.sender = fields.get("Отправитель", ("", 0))[0]
    for key, attr in (("ДатаНачала", "date_from"), ("ДатаКонца", "date_to")):
        if fields.get(key) and fields[key][0]:
            setattr(header, attr, _date(fields[key][0], fields[key][1], key))


def _check_document(doc: Document) -> Document:
    for name in ("Номер", "Дата", "Сумма"):
        if not doc.fields.get(name):
            raise StatementError(f"Строка {doc.line}: в документе нет поля «{name}»")
    doc.fields["_amount"] = str(_amount(doc.fields["Сумма"], doc.lines["Сумма"]))
    doc.fields["_date"] = _date(doc.fields["Дата"], doc.lines["Дата"], "дата").isoformat()
    return doc


def read_statement(open_file: Opener, header: StatementHeader, encoding: str | None = None
                   ) -> Iterator[Document]:
    """The documents of a 1CClientBankExchange file, one at a time, read line by line (memory
    stays the same whatever the file's size); :class:`StatementError` names the first bad line.

    ``header`` is filled before the first document is yielded. Header keys, the account section
    and every ``СекцияДокумент … КонецДокумента`` are read; unknown keys are ignored (banks add
    their own).
    """
    encoding = encoding or detect_encoding(open_file)
    with open_file() as raw, io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline=None) as text:
        fields: dict[str, tuple[str, int]] = {}
        accounts: list[str] = []
        current: Document | None = None
        in_account = started = finished = header_closed = False
        number = 0
        for number, line in enumerate(text, start=1):
            # Without NUL and other control characters, as every form of the site (tables.text).
            line = clean_text(line).strip()
            if not line:
                continue
            if not started:
                if line != "1CClientBankExchange":
                    raise StatementError("Строка 1: это не выписка 1CClientBankExchange (первая строка "
                                         "должна быть «1CClientBankExchange»)")
                started = True
                continue
            if finished:
                raise StatementError(f"Строка {number}: текст после «КонецФайла»")
            key, sep, value = line.partition("=")
            key = key.strip()
            if key == "СекцияДокумент":
                if current is not None:
                    raise StatementError(f"Строка {number}: новый документ, а документ со строки "
                                         f"{current.line} не закрыт строкой «КонецДокумента»")
                if not header_closed:
                    _close_header(header, fields, accounts)
                    header_closed = True
                current = Document(number)
                continue
            if key == "КонецДокумента":
                if current is None:
                    raise StatementError(f"Строка {number}: «КонецДокумента» без «СекцияДокумент»")
                yield _check_document(current)
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
                raise StatementError(f"Строка {number}: ожидается «Ключ=значение», а не «{line[:40]}»")
            if current is not None:
                current.fields[key] = value.strip()
                current.lines[key] = number
            elif in_account or key == "РасчСчет":
                if key == "РасчСчет" and value.strip():
                    accounts.append(value.strip())
                fields.setdefault(key, (value.strip(), number))
            else:
                fields[key] = (value.strip(), number)
        if not started:
            raise StatementError("Строка 1: это не выписка 1CClientBankExchange (первая строка "
                                 "должна быть «1CClientBankExchange»)")
        if not finished:
            raise StatementError(f"Строка {number}: файл оборван — нет строки «КонецФайла»")
        if not header_closed:
            _close_header(header, fields, accounts)


def _incoming(doc: Document, account: str) -> bool:
    return doc.fields.get("ПолучательСчет", account) == account


def scan_statement(open_file: Opener) -> StatementScan:
    """Read the whole file once without keeping it: refuses a malformed one (naming the line),
    counts incoming and outgoing documents."""
    encoding = detect_encoding(open_file)
    header = StatementHeader()
    incoming = outgoing = 0
    for doc in read_statement(open_file, header, encoding):
        if _incoming(doc, header.account):
            incoming += 1
        else:
            outgoing += 1
    return StatementScan(encoding, header, incoming, outgoing)


def parse_statement(data: bytes) -> ParsedStatement:
    """A whole 1CClientBankExchange file in memory (small files, tests; the import itself reads
    line by line, :func:`read_statement`)."""
    if len(data) > MAX_STATEMENT_BYTES:
        raise StatementError("Файл слишком большой: выписка больше 64 МБ")
    header = StatementHeader()
    documents = list(read_statement(opener_of(data), header))
    return ParsedStatement(header.account, header.date_from, header.date_to, documents)


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

#: Documents matched and stored per transaction while a statement loads.
IMPORT_BATCH = 1000
#: Matched lines booked per transaction while a statement is confirmed.
CONFIRM_BATCH = 500

#: ``await progress(done, total)`` after each batch (the job's progress bar).
Progress = Callable[[int, int], Awaitable[None]]


@dataclass(frozen=True)
class ImportResult:
    statement_id: int
    counts: dict[str, int]
    outgoing: int


async def check_statement(open_file: Opener, company_account: str = "") -> StatementScan:
    """The first pass (:func:`scan_statement`, in a thread: it is all CPU) and the account check.

    :param company_account: our settlement account from settings; when set, a statement of
        another account is refused.
    :raises StatementError: a malformed file or another account.
    """
    scan = await anyio.to_thread.run_sync(scan_statement, open_file)
    if scan.header.sender == OUR_EXPORT_SENDER:
        raise StatementError("Это выгрузка Centra для бухгалтерии (итоги по дням), а не выписка банка: "
                             "загрузите выписку, полученную из банка")
    if company_account and scan.header.account != company_account:
        raise StatementError(f"Выписка по счёту {scan.header.account}, а счёт компании — {company_account}")
    return scan


async def create_statement(file_name: str, *, actor: Actor, job_id: int | None = None) -> int:
    """A statement that is being loaded (its file is read by :func:`load_statement`)."""
    rows = await BankStatement.insert(BankStatement(
        file_name=file_name[:200], account="", status=StatementStatus.IMPORTING, uploaded_at=utcnow(),
        uploaded_by=actor.name, job=job_id)).returning(BankStatement.id)
    return rows[0]["id"]


async def refuse_statement(statement_id: int, message: str) -> None:
    """The file could not be read: the statement says why and holds no lines (nothing booked)."""
    async with write_transaction():
        await BankLine.delete().where(BankLine.statement == statement_id)
        await BankStatement.update({BankStatement.status: StatementStatus.FAILED,
                                    BankStatement.error: message[:2000]}).where(
            (BankStatement.id == statement_id) & (BankStatement.status == StatementStatus.IMPORTING))


async def load_statement(statement_id: int, open_file: Opener, scan: StatementScan, *, actor: Actor,
                         progress: Progress | None = None) -> ImportResult:
    """The second pass: match and store the incoming documents, :data:`IMPORT_BATCH` per
    transaction, then the statement becomes a draft (nothing is booked yet).

    Memory stays flat: one batch of documents at a time. Run again after a crash, it starts over
    (the lines of the unfinished attempt are removed first).
    """
    header = scan.header
    async with write_transaction():
        claimed = await BankStatement.update({
            BankStatement.account: header.account, BankStatement.date_from: header.date_from,
            BankStatement.date_to: header.date_to, BankStatement.documents: scan.incoming,
            BankStatement.outgoing: scan.outgoing, BankStatement.error: "",
        }).where((BankStatement.id == statement_id) & (BankStatement.status == StatementStatus.IMPORTING)
                 ).returning(BankStatement.id)
        if not claimed:
            raise ValueError("Выписка уже загружена")
        await BankLine.delete().where(BankLine.statement == statement_id)
    counts: dict[str, int] = {}
    done = 0
    batch: list[Document] = []
    for doc in read_statement(open_file, StatementHeader(), scan.encoding):
        if not _incoming(doc, header.account):
            continue
        batch.append(doc)
        if len(batch) >= IMPORT_BATCH:
            await _store_batch(statement_id, header.account, batch, counts)
            done += len(batch)
            batch = []
            if progress:
                await progress(done, scan.incoming)
    if batch:
        await _store_batch(statement_id, header.account, batch, counts)
        done += len(batch)
    async with write_transaction():
        await BankStatement.update({BankStatement.status: StatementStatus.DRAFT}).where(
            (BankStatement.id == statement_id) & (BankStatement.status == StatementStatus.IMPORTING))
        file_name = (await BankStatement.select(BankStatement.file_name).where(
            BankStatement.id == statement_id).first() or {}).get("file_name", "")
        await write_audit(action="bank_statement.imported", object_type="bank_statement",
                          object_id=statement_id, actor=actor, message=file_name,
                          after={"account": header.account, "documents": scan.incoming,
                                 "outgoing": scan.outgoing, **counts})
    if progress:
        await progress(done, scan.incoming)
    return ImportResult(statement_id, counts, scan.outgoing)


async def _store_batch(statement_id: int, account: str, docs: list[Document], counts: dict[str, int]) -> None:
    matches = await match_documents(docs)
    keys = [document_key(account, d) for d in docs]
    async with write_transaction():
        # Earlier batches of this file are stored already: a repeat of theirs is found here too.
        seen = await _claimed_keys(keys)
        rows = []
        in_batch: set[str] = set()
        for doc, key, match in zip(docs, keys, matches, strict=True):
            if key in seen or key in in_batch:
                same_file = key in in_batch or seen[key] == statement_id
                match = Match(LineState.DUPLICATE, "этот документ уже загружен "
                                                   + ("выше в этом файле" if same_file
                                                      else f"с выпиской № {seen[key]}"))
            in_batch.add(key)
            counts[match.state] = counts.get(match.state, 0) + 1
            f = doc.fields
            rows.append(BankLine(
                statement=statement_id, position=doc.line, doc_key=key, number=f["Номер"][:40],
                doc_date=dt.date.fromisoformat(f["_date"]), amount=int(f["_amount"]),
                payer=_payer_name(f)[:300], payer_account=f.get("ПлательщикСчет", "")[:20],
                payer_inn=f.get("ПлательщикИНН", "")[:12], purpose=f.get("НазначениеПлатежа", ""),
                state=match.state, reason=match.reason, subscriber=match.subscriber_id))
        if rows:
            await BankLine.insert(*rows)


async def import_statement(data: bytes, *, file_name: str, actor: Actor,
                           company_account: str = "") -> ImportResult:
    """Parse, match and store a statement as a draft at once (tests, scripts; the office runs
    the same steps as a job, ``jobs/bank.py``).

    :raises StatementError: a malformed file or another account (nothing stored).
    """
    if len(data) > MAX_STATEMENT_BYTES:
        raise StatementError("Файл слишком большой: выписка больше 64 МБ")
    open_file = opener_of(data)
    scan = await check_statement(open_file, company_account)
    statement_id = await create_statement(file_name, actor=actor)
    return await load_statement(statement_id, open_file, scan, actor=actor)


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


def _comment(line: dict) -> str:
    return f"Банковский перевод, п/п № {line['number']} от {line['doc_date']:%d.%m.%Y}"


async def _new_payment(subscriber_id: int, amount: int, town: int | None, actor: Actor,
                       now: dt.datetime) -> int:
    """A ``bank`` payment and its fiscal receipt, in the caller's transaction."""
    rows = await Payment.insert(Payment(
        subscriber=subscriber_id, amount=amount, status=PaymentStatus.SUCCEEDED, channel=PaymentChannel.BANK,
        created_at=now, updated_at=now, created_by=actor.name, town=town)).returning(Payment.id)
    await issue_receipt(rows[0]["id"], now=now)
    return rows[0]["id"]


async def _book(line: dict, subscriber_id: int, actor: Actor, now: dt.datetime) -> int | None:
    """One ledger entry and one ``bank`` payment for a line; ``None`` when the document was
    booked before (its reference exists)."""
    try:
        await post_entry(subscriber_id, line["amount"], EntryKind.PAYMENT, _reference(line["doc_key"]),
                         comment=_comment(line), created_by=actor.name)
    except DuplicateEntryError:
        return None
    return await _new_payment(subscriber_id, line["amount"], await town_of(subscriber_id), actor, now)


@dataclass(frozen=True)
class ConfirmResult:
    booked: int
    booked_amount: int
    queued: int
    duplicates: int
    already_confirmed: bool = False


async def start_confirmation(statement_id: int, *, actor: Actor, job_id: int | None = None) -> bool:
    """A clerk confirms a draft: it becomes ``confirming`` (then :func:`book_statement` books it).

    :returns: False when it was confirmed (or is being confirmed) already — by a second press,
        or another clerk at the same moment: only one of them gets True.
    :raises ValueError: no such statement, or it is still loading or could not be read.
    """
    claimed = await BankStatement.update({
        BankStatement.status: StatementStatus.CONFIRMING, BankStatement.confirmed_by: actor.name,
        BankStatement.job: job_id,
    }).where((BankStatement.id == statement_id) & (BankStatement.status == StatementStatus.DRAFT)
             ).returning(BankStatement.id)
    if claimed:
        return True
    row = await BankStatement.select(BankStatement.status).where(BankStatement.id == statement_id).first()
    if row is None:
        raise ValueError("Выписка не найдена")
    if row["status"] in (StatementStatus.IMPORTING, StatementStatus.FAILED):
        raise ValueError("Выписка не загружена до конца: проводить нечего")
    return False


async def set_statement_job(statement_id: int, job_id: int) -> None:
    """The background job now working on this statement (its progress is shown on its page)."""
    await BankStatement.update({BankStatement.job: job_id}).where(BankStatement.id == statement_id)


async def book_statement(statement_id: int, *, actor: Actor, progress: Progress | None = None,
                         batch: int = CONFIRM_BATCH) -> ConfirmResult:
    """Book a confirming statement's matched lines, ``batch`` per transaction, then queue the
    ambiguous and unmatched ones and mark it confirmed.

    Each batch is one transaction: its ledger entries (set-based, :func:`tables.ledger.post_credits`),
    payments, receipts and line states together. A crash leaves whole batches booked and the
    rest matched; running this again books the rest. Two runs at once share the work (on
    PostgreSQL each skips the lines the other holds; on SQLite writes take turns); a document
    already booked from another statement becomes a duplicate here.
    """
    row = await BankStatement.select(BankStatement.status).where(BankStatement.id == statement_id).first()
    if row is None:
        raise ValueError("Выписка не найдена")
    if row["status"] == StatementStatus.CONFIRMED:
        return ConfirmResult(0, 0, 0, 0, already_confirmed=True)
    if row["status"] != StatementStatus.CONFIRMING:
        raise ValueError("Выписку сначала подтверждают")
    total = await BankLine.count().where((BankLine.statement == statement_id)
                                         & (BankLine.state == LineState.MATCHED))
    booked = booked_amount = duplicates = 0
    while True:
        result = await _book_batch(statement_id, actor, batch)
        if result is None:
            break
        booked += result[0]
        booked_amount += result[1]
        duplicates += result[2]
        if progress:
            await progress(min(booked + duplicates, total), total)
    now = utcnow()
    async with write_transaction():
        done = await BankStatement.update({
            BankStatement.status: StatementStatus.CONFIRMED, BankStatement.confirmed_at: now,
        }).where((BankStatement.id == statement_id) & (BankStatement.status == StatementStatus.CONFIRMING)
                 & BankStatement.id.not_in(BankLine.select(BankLine.statement).where(
                     (BankLine.statement == statement_id) & (BankLine.state == LineState.MATCHED)))
                 ).returning(BankStatement.id)
        if not done:  # another run still books (or finished first): it writes the rest
            return ConfirmResult(booked, booked_amount, 0, duplicates)
        queued = await BankLine.update({BankLine.state: LineState.QUEUED}).where(
            (BankLine.statement == statement_id)
            & BankLine.state.is_in([LineState.AMBIGUOUS, LineState.UNMATCHED])
        ).returning(BankLine.id)
        totals = await BankLine.select(BankLine.state, Count(BankLine.id).as_alias("n"),
                                       Sum(BankLine.amount).as_alias("amount")).where(
            BankLine.statement == statement_id).group_by(BankLine.state)
        by_state = {r["state"]: (r["n"], int(r["amount"] or 0)) for r in totals}
        await write_audit(action="bank_statement.confirmed", object_type="bank_statement",
                          object_id=statement_id, actor=actor,
                          after={"booked": by_state.get(LineState.BOOKED, (0, 0))[0],
                                 "amount": by_state.get(LineState.BOOKED, (0, 0))[1],
                                 "queued": len(queued),
                                 "duplicates": by_state.get(LineState.DUPLICATE, (0, 0))[0]})
    if progress:
        await progress(total, total)
    return ConfirmResult(booked, booked_amount, len(queued), duplicates)


async def _claim_matched(statement_id: int, limit: int) -> list[int]:
    """Take up to ``limit`` matched lines of the statement (in the caller's transaction)."""
    # A CTE is evaluated once: as ``id IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)`` PostgreSQL
    # took all 300 lines of a test statement in one go instead of batches of 3.
    lock = "" if is_sqlite() else " FOR UPDATE SKIP LOCKED"
    rows = await BankLine.raw(
        "WITH picked AS (SELECT id FROM bank_line WHERE statement = {} AND state = {} "
        f"ORDER BY id LIMIT {{}}{lock}) UPDATE bank_line SET state = {{}} "
        "WHERE id IN (SELECT id FROM picked) AND state = {} RETURNING id",
        statement_id, str(LineState.MATCHED), limit, str(LineState.BOOKED), str(LineState.MATCHED))
    return sorted(r["id"] for r in rows)


async def _book_batch(statement_id: int, actor: Actor, limit: int) -> tuple[int, int, int] | None:
    """One transaction: up to ``limit`` lines booked whole (entry, balance, payment, receipt,
    message, line state) or, when their document was booked before, marked duplicate."""
    now = utcnow()
    async with write_transaction():
        ids = await _claim_matched(statement_id, limit)
        if not ids:
            return None
        lines = await BankLine.select(BankLine.id, BankLine.subscriber, BankLine.amount, BankLine.doc_key,
                                      BankLine.number, BankLine.doc_date).where(
            BankLine.id.is_in(ids)).order_by(BankLine.id)
        booked_refs = await post_credits(
            [Credit(line["subscriber"], line["amount"], _reference(line["doc_key"]), _comment(line))
             for line in lines], created_by=actor.name)
        booked = [line for line in lines if _reference(line["doc_key"]) in booked_refs]
        duplicates = [line["id"] for line in lines if _reference(line["doc_key"]) not in booked_refs]
        if duplicates:
            await BankLine.update({BankLine.state: LineState.DUPLICATE,
                                   BankLine.reason: "этот документ уже зачислен по другой выписке"}
                                  ).where(BankLine.id.is_in(duplicates))
        if booked:
            towns = await _towns({line["subscriber"] for line in booked})
            ids = await _payment_ids(len(booked))
            await Payment.insert(*[Payment(
                id=pid, subscriber=line["subscriber"], amount=line["amount"], status=PaymentStatus.SUCCEEDED,
                channel=PaymentChannel.BANK, created_at=now, updated_at=now, created_by=actor.name,
                town=towns.get(line["subscriber"])) for pid, line in zip(ids, booked, strict=True)])
            await issue_receipts(ids, now=now)
            payments = [(line["id"], pid) for pid, line in zip(ids, booked, strict=True)]
            cases = " ".join("WHEN {} THEN CAST({} AS INTEGER)" for _ in payments)
            await BankLine.raw(
                f"UPDATE bank_line SET payment = CASE id {cases} END, resolved_by = {{}}, resolved_at = {{}} "
                f"WHERE id IN ({', '.join('{}' for _ in payments)})",
                *[v for pair in payments for v in pair], actor.name, now, *[p[0] for p in payments])
    return len(booked), sum(line["amount"] for line in booked), len(duplicates)


async def _payment_ids(count: int) -> list[int]:
    """Ids for ``count`` new payments, taken before one multi-row insert, so that each line
    knows its payment (the order of ``RETURNING`` rows is not promised). On SQLite the write
    transaction holds the only writer's lock, so the next ids are free."""
    if is_sqlite():
        rows = await Payment.raw("SELECT COALESCE(MAX(id), 0) AS top FROM payment")
        top = int(rows[0]["top"])
        return list(range(top + 1, top + 1 + count))
    rows = await Payment.raw("SELECT nextval(pg_get_serial_sequence('payment', 'id')) AS id "
                             "FROM generate_series(1, {})", count)
    return [int(r["id"]) for r in rows]


async def _towns(subscriber_ids: set[int]) -> dict[int, int | None]:
    rows = await Subscriber.select(Subscriber.id, Subscriber.address._.street._.town.as_alias("town")).where(
        Subscriber.id.is_in(list(subscriber_ids)))
    return {r["id"]: r["town"] for r in rows}


async def confirm_statement(statement_id: int, *, actor: Actor) -> ConfirmResult:
    """Confirm and book at once (tests, scripts; the office books as a job, ``jobs/bank.py``).

    Confirming a confirmed statement changes nothing. A matched document booked meanwhile from
    another statement becomes a duplicate here (its ledger reference exists).
    """
    if not await start_confirmation(statement_id, actor=actor):
        return ConfirmResult(0, 0, 0, 0, already_confirmed=True)
    return await book_statement(statement_id, actor=actor)


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


async def statement_lines(statement_id: int, limit: int | None = None) -> list[dict]:
    """The statement's lines in file order (the first ``limit``: a page shows a few hundred of
    a statement's tens of thousands; the admin lists them all)."""
    query = BankLine.select(*BankLine.all_columns(),
                            BankLine.subscriber._.contract_number.as_alias("contract")).where(
        BankLine.statement == statement_id).order_by(BankLine.position)
    return await (query.limit(limit) if limit else query)


async def queued_lines(limit: int = 200) -> list[dict]:
    return await BankLine.select().where(BankLine.state == LineState.QUEUED).order_by(
        BankLine.doc_date, BankLine.id).limit(limit)


async def queued_count() -> int:
    return await BankLine.count().where(BankLine.state == LineState.QUEUED)


async def statement_summary(statement_id: int) -> list[tuple[str, str, int, int]]:
    """(state, its label, documents, amount) per state, in the labels' order (one query)."""
    rows = await BankLine.select(BankLine.state, Count(BankLine.id).as_alias("n"),
                                 Sum(BankLine.amount).as_alias("amount")).where(
        BankLine.statement == statement_id).group_by(BankLine.state)
    order = list(LINE_STATE_LABELS)
    return [(r["state"], LINE_STATE_LABELS[r["state"]], r["n"], int(r["amount"] or 0))
            for r in sorted(rows, key=lambda r: order.index(r["state"]))]
