"""``piccolo tables export``: write a report or the raw ledger/payments to a file, for cron.

Example (November 2026 payments as Excel)::

    piccolo tables export --report payments --period 2026-11 --format xlsx --output payments.xlsx

``--period`` is a month or a range ``2026-01..2026-06``; ``--report`` is a report
slug (see ``/reports/``) or a raw export (``ledger``, ``payment-list``). The accounting
export also writes the 1C exchange file::

    piccolo tables export --report accounting --period 2026-11 --format 1c --output 1c.txt
"""

from __future__ import annotations

import sys


async def export(report: str, period: str = "", format: str = "csv", output: str = "",
                 town: str = "", tariff: str = "", group: str = "", on: str = "",
                 channel: str = "") -> None:
    """Export a report (or raw ledger/payments) for a period as CSV or XLSX.

    :param report: report slug, or ``ledger`` / ``payment-list`` for raw rows.
    :param period: ``YYYY-MM`` or ``YYYY-MM..YYYY-MM``; default the last six months.
    :param format: ``csv``, ``xlsx``, or ``1c`` (the accounting export's 1CClientBankExchange file).
    :param output: file to write; ``-`` or empty writes CSV to standard output.
    :param town: town id to limit to.
    :param tariff: tariff id to limit to.
    :param group: grouping, for reports that have one (payments: day, month, channel, brand).
    :param on: date ``YYYY-MM-DD`` for snapshot reports (debtors).
    :param channel: payment channel (payments, accounting): card, cabinet, quick_pay, office,
        agent, bank, autopay.
    """
    try:
        count = await run_export(report, period=period, fmt=format, output=output, town=town,
                                 tariff=tariff, group=group, on=on, channel=channel)
    except ValueError as exc:
        print(f"Ошибка: {exc}", file=sys.stderr)
        sys.exit(2)
    if output and output != "-":
        print(f"{output}: {count} rows", file=sys.stderr)


async def run_export(report: str, *, period: str = "", fmt: str = "csv", output: str = "",
                     town: str = "", tariff: str = "", group: str = "", on: str = "",
                     channel: str = "", now=None) -> int:
    """The command's work, callable from tests; returns the number of data rows written."""
    from tables.calendar import utcnow
    from tables.reports import REPORTS, Filters, build_report, local_today
    from tables.reports.accounting import ACCOUNTING
    from tables.reports.exports import report_csv, write_report_xlsx
    from tables.reports.raw import RAW_EXPORTS, write_raw_xlsx
    from tables.reports.raw import raw_csv as raw_csv_stream

    if fmt not in ("csv", "xlsx", "1c"):
        raise ValueError("Формат: csv, xlsx или 1c")
    if fmt == "1c" and report != ACCOUNTING:
        raise ValueError(f"Формат 1c — только для отчёта {ACCOUNTING}")
    if report not in REPORTS and report not in RAW_EXPORTS:
        raise ValueError("Неизвестный отчёт; есть: " + ", ".join([*REPORTS, *RAW_EXPORTS]))
    if fmt in ("xlsx", "1c") and output in ("", "-"):
        raise ValueError(f"Для {fmt} укажите файл: --output имя")
    now = now or utcnow()
    params = {"period": period, "town": town, "tariff": tariff, "group": group, "on": on,
              "channel": channel}
    filters = Filters.parse(params, today=local_today(now), spec=REPORTS.get(report))
    # No connection pool here: a one-off export needs one connection, and a pool of ten
    # would cost more to open than a short report takes.
    if report in RAW_EXPORTS:
        if fmt == "xlsx":
            return await write_raw_xlsx(report, filters, output)
        return await _write_stream(raw_csv_stream(report, filters), output) - 1
    if fmt == "1c":
        from settings import get_settings
        from tables.reports.accounting import day_lines, onec_bytes

        lines = await day_lines(filters)
        with open(output, "wb") as handle:
            handle.write(onec_bytes(lines, filters, get_settings(), now))
        return len(lines)
    built = await build_report(report, filters, now)
    if fmt == "xlsx":
        write_report_xlsx(built, output)
    else:
        await _write_stream(report_csv(built), output)
    return len(built.rows)


async def _write_stream(chunks, output: str) -> int:
    """Write byte chunks to a file or stdout; returns the number of lines."""
    lines = 0
    if output in ("", "-"):
        target = sys.stdout.buffer
        async for chunk in chunks:
            lines += chunk.count(b"\n")
            target.write(chunk)
        target.flush()
        return lines
    with open(output, "wb") as handle:
        async for chunk in chunks:
            lines += chunk.count(b"\n")
            handle.write(chunk)
    return lines
