"""Benchmark 8: a bank statement of 50,000 documents parsed, matched and booked.

    .venv/bin/python bench/bank_statement.py [--engine sqlite|pg] [--documents 50000] [--keep]

On a generated dataset (bench/generate.py, as many contracts as documents, two months), a
1CClientBankExchange file (windows-1251) of N incoming documents, 95% quoting an existing
contract and 5% a number that is none, goes through the product's own steps, each timed, with
the process's peak RSS after each:

1. parse alone (``parse_statement``);
2. import (parse + match + store the lines: ``import_statement``);
3. confirm (one ``post_entry`` + payment + receipt + message per matched line, one transaction);
4. baseline: a set-based ``INSERT … SELECT`` of the same ledger rows plus one balance ``UPDATE``,
   in a transaction rolled back afterwards (what the booking would cost without the per-payment
   rules: messages, receipts, re-activation, payments).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import dataset, machine, table


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_file(contracts: list[str], documents: int) -> bytes:
    from tests.support.bank import document, statement

    docs = []
    for i in range(documents):
        number = contracts[i % len(contracts)] if i % 20 else "9" * 11  # 5%: no such contract
        docs.append(document(str(100000 + i), "05.12.2026", f"{100 + i % 900}.{i % 100:02d}",
                             f"Оплата по договору № {number} за декабрь 2026",
                             payer_account=f"40817810{i:012d}"))
    return statement(*docs)


async def run(documents: int) -> list[list[str]]:
    from piccolo.engine.postgres import PostgresEngine

    from db.engine import engine, write_transaction
    from settings import get_settings
    from tables.audit import Actor
    from tables.payments.bank import confirm_statement, import_statement, parse_statement
    from tables.subscribers import Subscriber

    db = engine()
    if isinstance(db, PostgresEngine):
        await db.start_connection_pool()
    rows: list[list[str]] = []
    try:
        contracts = [r["contract_number"] for r in await Subscriber.select(Subscriber.contract_number)
                     .order_by(Subscriber.id).limit(documents)]
        data = build_file(contracts, documents)
        rows.append(["file", f"{len(data) / 1e6:.1f} MB", "", f"{rss_mb():.0f}"])
        start = time.perf_counter()
        parsed = parse_statement(data)
        parse_s = time.perf_counter() - start
        rows.append(["1. parse alone", f"{parse_s:.2f} s", "1.0×", f"{rss_mb():.0f}"])
        del parsed
        actor = Actor("bench")
        start = time.perf_counter()
        result = await import_statement(data, file_name="bench.txt", actor=actor,
                                        company_account=get_settings().payee_account)
        import_s = time.perf_counter() - start
        counts = ", ".join(f"{k} {v:,}" for k, v in sorted(result.counts.items()))
        rows.append([f"2. import (parse, match, store): {counts}", f"{import_s:.2f} s",
                     f"{import_s / parse_s:.1f}×", f"{rss_mb():.0f}"])

        class Rollback(Exception):
            pass

        start = time.perf_counter()
        try:
            async with write_transaction():
                await Subscriber.raw(
                    "INSERT INTO ledger_entry (subscriber, amount, kind, period, reference, comment, "
                    "created_at, created_by) SELECT subscriber, amount, 'payment', NULL, "
                    "'baseline:' || doc_key, 'baseline', {}, 'bench' FROM bank_line "
                    "WHERE statement = {} AND state = 'matched'", _now(), result.statement_id)
                await Subscriber.raw(
                    "UPDATE subscriber SET balance = balance + t.total FROM (SELECT subscriber, "
                    "SUM(amount) AS total FROM bank_line WHERE statement = {} AND state = 'matched' "
                    "GROUP BY subscriber) AS t WHERE subscriber.id = t.subscriber", result.statement_id)
                raise Rollback
        except Rollback:
            pass
        baseline_s = time.perf_counter() - start
        start = time.perf_counter()
        done = await confirm_statement(result.statement_id, actor=actor)
        confirm_s = time.perf_counter() - start
        rows.append([f"3. confirm: {done.booked:,} booked, {done.queued} queued", f"{confirm_s:.2f} s",
                     f"{confirm_s / parse_s:.1f}×", f"{rss_mb():.0f}"])
        rows.append(["4. baseline: set-based INSERT … SELECT + UPDATE (rolled back)",
                     f"{baseline_s:.2f} s", f"{baseline_s / parse_s:.1f}×", f"{rss_mb():.0f}"])
        rows.append(["confirm ÷ baseline", f"{confirm_s / baseline_s:.0f}×", "", ""])
    finally:
        if isinstance(db, PostgresEngine):
            await db.close_connection_pool()
    return rows


def _now():
    from tables.calendar import utcnow

    return utcnow()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["sqlite", "pg"], default="sqlite")
    parser.add_argument("--documents", type=int, default=50_000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    print(machine(), flush=True)
    with dataset(args.engine, max(args.documents, 1000), 2, keep=args.keep) as data:
        os.environ.update(data.env)
        if data.engine == "sqlite":
            os.environ.pop("DATABASE_URL", None)
        rows = asyncio.run(run(args.documents))
    print(f"\nBank statement, {args.documents:,} documents, {data.label}")
    print(table(["step", "time", "÷ parse", "peak RSS MB"], rows))


if __name__ == "__main__":
    main()
