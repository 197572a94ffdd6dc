"""``accounting``: the money received in a period by day and payment channel, for the accountant —
as a report (page, CSV, XLSX) and as a 1CClientBankExchange file that 1C:Бухгалтерия imports.

One line per local day and channel that had payments; its figures come from the same selection
as the payments report (:func:`tables.reports.payments.paid_payments`), so the totals are the
report's. In the 1C file every line is an incoming document (the day's payments of the channel)
and, when some of them were refunded, an outgoing one (the refunded sum). Refunds belong to the
day of the refunded payment, as in the payments report. See ``docs/payments.md``
("Accounting export").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from settings import Settings
from tables.calendar import LOCAL_TZ
from tables.payments.bank import OUR_EXPORT_SENDER
from tables.payments.payment import PAYMENT_CHANNEL_LABELS
from tables.reports.filters import Filters
from tables.reports.payments import paid_payments
from tables.reports.report import TOTAL, Chart, Column, Report, Series, spec
from tables.reports.sql import as_int, fetch, sql_local_day

ACCOUNTING = "accounting"
ONEC_ENCODING = "cp1251"
#: The file's charset as HTTP names it (``text/plain; charset=windows-1251``).
ONEC_ENCODING_NAME = "windows-1251"
_CHANNELS = list(PAYMENT_CHANNEL_LABELS)


@dataclass(frozen=True)
class DayLine:
    """The payments of one channel on one local day (kopecks)."""

    day: dt.date
    channel: str
    count: int
    amount: int
    refunds: int  # payments with something refunded
    refunded: int

    @property
    def net(self) -> int:
        return self.amount - self.refunded

    @property
    def label(self) -> str:
        return PAYMENT_CHANNEL_LABELS.get(self.channel, self.channel)

    def number(self, outgoing: bool) -> str:
        """The 1C document's number: stable across exports (day of year, channel, direction),
        so a file exported again re-imports as the same documents."""
        index = _CHANNELS.index(self.channel) + 1 if self.channel in _CHANNELS else 9
        return f"{self.day.timetuple().tm_yday:03d}{index}{2 if outgoing else 1}"


async def day_lines(f: Filters) -> list[DayLine]:
    """Every (local day, channel) of the selection that had payments, in day and channel order."""
    source, args = paid_payments(f)
    day = sql_local_day("p.created_at")
    rows = await fetch(
        f"SELECT {day} AS d, p.channel AS channel, COUNT(*) AS n, SUM(p.amount) AS amount,"
        f" SUM(CASE WHEN p.refunded_amount > 0 THEN 1 ELSE 0 END) AS refunds,"
        f" SUM(p.refunded_amount) AS refunded{source} GROUP BY {day}, p.channel",
        *args,
    )
    lines = [DayLine(dt.date.fromisoformat(r["d"]), r["channel"], as_int(r["n"]), as_int(r["amount"]),
                     as_int(r["refunds"]), as_int(r["refunded"])) for r in rows]
    order = {c: i for i, c in enumerate(_CHANNELS)}
    return sorted(lines, key=lambda x: (x.day, order.get(x.channel, len(order)), x.channel))


COLUMNS = [Column("day", "День", "date"), Column("channel", "Канал оплаты"),
           Column("count", "Платежей", "int"), Column("amount", "Оплачено", "money"),
           Column("refunds", "Платежей с возвратом", "int"), Column("refunded", "Возвращено", "money"),
           Column("net", "Итого за вычетом возвратов", "money")]


def _report(lines: Sequence[DayLine]) -> Report:
    rows = [(x.day, x.label, x.count, x.amount, x.refunds, x.refunded, x.net) for x in lines]
    total = (TOTAL, None, sum(x.count for x in lines), sum(x.amount for x in lines),
             sum(x.refunds for x in lines), sum(x.refunded for x in lines), sum(x.net for x in lines))
    return Report(ACCOUNTING, "Выгрузка для бухгалтерии", list(COLUMNS), rows, total=total,
                  subtitle="по дням и каналам оплаты")


async def accounting_report(f: Filters, now: dt.datetime) -> Report:
    """The lines of :func:`day_lines` with a total row equal to the payments report's."""
    return _report(await day_lines(f))


def charts(report: Report, f: Filters) -> list[Chart]:
    """Received per channel over the period."""
    by_channel: dict[str, int] = {}
    for row in report.rows:
        by_channel[row[1]] = by_channel.get(row[1], 0) + row[3]
    labels = [PAYMENT_CHANNEL_LABELS[c] for c in _CHANNELS]
    return [Chart("Оплачено по каналам", labels, [Series("Оплачено", [by_channel.get(x, 0) for x in labels])],
                  money=True)]


SPEC = spec(ACCOUNTING, "Выгрузка для бухгалтерии (1С)",
            "Платежи по дням и каналам оплаты для бухгалтера: файл обмена 1С (1CClientBankExchange), "
            "CSV и Excel; итоги равны отчёту «Платежи».",
            accounting_report, "period town tariff channel", None, charts)


# --- the 1CClientBankExchange file -------------------------------------------------------------------

def rubles(kopecks: int) -> str:
    """``1500.05``: the exchange format's sum (a dot, two decimals, no grouping)."""
    return f"{kopecks // 100}.{kopecks % 100:02d}"


def _one_line(text: str) -> str:
    """A value on one line (a settings value with a newline would break the file)."""
    return " ".join(str(text).split())


def _payer_of(line: DayLine) -> str:
    return f"Абоненты (физические лица), {line.label}"


def _document(line: DayLine, payee: Settings, *, outgoing: bool) -> list[tuple[str, str]]:
    day = line.day.strftime("%d.%m.%Y")
    ours = [("Счет", payee.payee_account), ("", payee.payee_name), ("ИНН", payee.payee_inn),
            ("КПП", payee.payee_kpp), ("1", payee.payee_name), ("РасчСчет", payee.payee_account),
            ("Банк1", payee.payee_bank), ("БИК", payee.payee_bic),
            ("Корсчет", payee.payee_corr_account)]
    theirs = [("Счет", ""), ("", _payer_of(line)), ("ИНН", ""), ("1", _payer_of(line))]
    if outgoing:
        payer, receiver, when = ours, theirs, ("ДатаСписано", day)
        purpose = (f"Возврат абонентам оплаты услуг связи по платежам от {day}, {line.label}: "
                   f"платежей с возвратом {line.refunds}. Без НДС")
        amount = line.refunded
    else:
        payer, receiver, when = theirs, ours, ("ДатаПоступило", day)
        purpose = f"Оплата услуг связи абонентами за {day}, {line.label}: платежей {line.count}. Без НДС"
        amount = line.amount
    return [("Номер", line.number(outgoing)), ("Дата", day), ("Сумма", rubles(amount)),
            *[(f"Плательщик{k}", v) for k, v in payer], when,
            *[(f"Получатель{k}", v) for k, v in receiver],
            ("ВидОплаты", "01"), ("Очередность", "5"),
            ("НазначениеПлатежа", purpose)]


def onec_text(lines: Sequence[DayLine], f: Filters, payee: Settings, created: dt.datetime) -> str:
    """The file's text (CRLF lines): header, the account section with the period's totals, one
    incoming document per line and an outgoing one per line with refunds, ``КонецФайла``."""
    first, last = f.first_day.strftime("%d.%m.%Y"), f.last_day.strftime("%d.%m.%Y")
    local = created.astimezone(LOCAL_TZ)
    received = sum(x.amount for x in lines)
    refunded = sum(x.refunded for x in lines)
    out: list[str] = ["1CClientBankExchange"]
    fields: list[tuple[str, str]] = [
        ("ВерсияФормата", "1.03"), ("Кодировка", "Windows"), ("Отправитель", OUR_EXPORT_SENDER),
        ("Получатель", "1С:Бухгалтерия"), ("ДатаСоздания", local.strftime("%d.%m.%Y")),
        ("ВремяСоздания", local.strftime("%H:%M:%S")), ("ДатаНачала", first), ("ДатаКонца", last),
        ("РасчСчет", payee.payee_account), ("Документ", "Платежное поручение"),
    ]
    out += [f"{k}={_one_line(v)}" for k, v in fields]
    out += ["СекцияРасчСчет", f"ДатаНачала={first}", f"ДатаКонца={last}",
            f"РасчСчет={payee.payee_account}", f"ВсегоПоступило={rubles(received)}",
            f"ВсегоСписано={rubles(refunded)}", "КонецРасчСчет"]
    for line in lines:
        for outgoing in (False, True):
            if outgoing and not line.refunded:
                continue
            out.append("СекцияДокумент=Платежное поручение")
            out += [f"{k}={_one_line(v)}" for k, v in _document(line, payee, outgoing=outgoing)]
            out.append("КонецДокумента")
    out.append("КонецФайла")
    return "\r\n".join(out) + "\r\n"


def onec_bytes(lines: Sequence[DayLine], f: Filters, payee: Settings, created: dt.datetime) -> bytes:
    """:func:`onec_text` in windows-1251 (a character it lacks becomes ``?``)."""
    return onec_text(lines, f, payee, created).encode(ONEC_ENCODING, errors="replace")


async def accounting_onec(f: Filters, payee: Settings, created: dt.datetime) -> bytes:
    """The selection's 1CClientBankExchange file (small: at most two documents per day and channel)."""
    return onec_bytes(await day_lines(f), f, payee, created)


def onec_filename(f: Filters) -> str:
    span = f.month_from if f.month_from == f.month_to else f"{f.month_from}_{f.month_to}"
    channel = f"-{f.channel}" if f.channel else ""
    return f"centra-1c-{span}{channel}.txt"
