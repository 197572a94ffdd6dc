"""Bank statement benchmark: 50,000 documents parsed, matched and booked, memory flat.

    PYTHONPATH=. .venv/bin/python bench/bank_statement.py [--engine sqlite|pg] [--sizes 10000,50000] [--keep]

On a generated dataset (bench/generate.py, as many contracts as the largest statement has
documents, two months), a 1CClientBankExchange file (windows-1251, written to disk document by
document) of N incoming documents, 95% quoting an existing contract and 5% a number that is
none, goes through the product's own steps, each timed:

1. parse alone: the first pass over the file (``scan_statement``: every line read and checked);
2. import: parse + match + store the lines (``check_statement`` + ``load_statement``, batches of
   ``IMPORT_BATCH`` per transaction);
3. confirm: book the matched lines (``start_confirmation`` + ``book_statement``, batches of
   ``CONFIRM_BATCH`` per transaction: entries and balances set-based, then per payment its row,
   receipt and message);
4. baseline: a set-based ``INSERT … SELECT`` of the same ledger rows plus one balance ``UPDATE``,
   in a transaction rolled back (what booking costs without payments, receipts and messages).

Each size runs in a process of its own (``--child``), so its peak RSS (``ru_maxrss``) is its
own: flat memory means the 50,000-document run peaks where the 10,000 one does. The PostgreSQL
server is ``--pg`` / ``CENTRA_BENCH_PG`` (bench/harness.py's convention).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import dataset, machine, table


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_file(path: str, contracts: list[str], documents: int, offset: int) -> int:
    """The statement, written document by document (the bench's own memory stays flat too)."""
    from tests.support.bank import document, statement

    text = statement().decode("cp1251")
    head = text[:text.rindex("КонецФайла")]
    with open(path, "w", encoding="cp1251", newline="") as handle:
        handle.write(head)
        for i in range(documents):
            number = contracts[i % len(contracts)] if i % 20 else "9" * 11  # 5%: no such contract
            doc = document(str(offset + i), "05.12.2026", f"{100 + i % 900}.{i % 100:02d}",
                           f"Оплата по договору № {number} за декабрь 2026",
                           payer_account=f"40817810{offset + i:012d}")
            handle.write(doc.replace("\n", "\r\n") + "\r\n")
        handle.write("КонецФайла\r\n")
    return os.path.getsize(path)


async def child(documents: int, offset: int) -> dict:
    from piccolo.engine.postgres import PostgresEngine

    from db.engine import engine, write_transaction
    from settings import get_settings
    from tables.audit import Actor
    from tables.calendar import utcnow
    from tables.payments.bank import (
        book_statement,
        check_statement,
        create_statement,
        load_statement,
        scan_statement,
        start_confirmation,
    )
    from tables.subscribers import Subscriber

    db = engine()
    if isinstance(db, PostgresEngine):
        await db.start_connection_pool()
    out: dict = {"documents": documents}
    fd, path = tempfile.mkstemp(prefix="centra-bench-statement-", suffix=".txt")
    os.close(fd)
    try:
        contracts = [r["contract_number"] for r in await Subscriber.select(Subscriber.contract_number)
                     .order_by(Subscriber.id).limit(documents)]
        out["file_mb"] = write_file(path, contracts, documents, offset) / 1e6
        out["rss_start"] = rss_mb()

        def open_file():
            return open(path, "rb")

        start = time.perf_counter()
        scan_statement(open_file)
        out["parse_s"] = time.perf_counter() - start
        out["rss_parse"] = rss_mb()

        actor = Actor("bench")
        start = time.perf_counter()
        scan = await check_statement(open_file, get_settings().payee_account)
        statement_id = await create_statement("bench.txt", actor=actor)
        result = await load_statement(statement_id, open_file, scan, actor=actor)
        out["import_s"] = time.perf_counter() - start
        out["counts"] = {str(k): v for k, v in result.counts.items()}
        out["rss_import"] = rss_mb()

        class Rollback(Exception):
            pass

        start = time.perf_counter()
        try:
            async with write_transaction():
                await Subscriber.raw(
                    "INSERT INTO ledger_entry (subscriber, amount, kind, period, reference, comment, "
                    "created_at, created_by) SELECT subscriber, amount, 'payment', NULL, "
                    "'baseline:' || doc_key, 'baseline', {}, 'bench' FROM bank_line "
                    "WHERE statement = {} AND state = 'matched'", utcnow(), statement_id)
                await Subscriber.raw(
                    "UPDATE subscriber SET balance = balance + t.total FROM (SELECT subscriber, "
                    "SUM(amount) AS total FROM bank_line WHERE statement = {} AND state = 'matched' "
                    "GROUP BY subscriber) AS t WHERE subscriber.id = t.subscriber", statement_id)
                raise Rollback
        except Rollback:
            pass
        out["baseline_s"] = time.perf_counter() - start

        start = time.perf_counter()
        assert await start_confirmation(statement_id, actor=actor)
        done = await book_statement(statement_id, actor=actor)
        out["confirm_s"] = time.perf_counter() - start
        out["booked"], out["queued"] = done.booked, done.queued
        out["rss_confirm"] = rss_mb()
    finally:
        os.unlink(path)
        if isinstance(db, PostgresEngine):
            await db.close_connection_pool()
    return out


def run_child(env: dict[str, str], documents: int, offset: int) -> dict:
    cmd = [sys.executable, __file__, "--child", str(documents), "--offset", str(offset)]
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run(cmd, cwd=root, env={**os.environ, **env, "PYTHONPATH": str(root)}, check=True,
                          stdout=subprocess.PIPE, text=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def rows_for(r: dict) -> list[list[str]]:
    parse = r["parse_s"]
    full = r["import_s"] + r["confirm_s"]
    counts = ", ".join(f"{k} {v:,}" for k, v in sorted(r["counts"].items()))
    n = f"{r['documents']:,}"
    return [
        [n, f"file {r['file_mb']:.1f} MB", "", "", f"{r['rss_start']:.0f}"],
        [n, "1. parse alone", f"{parse:.2f} s", "1.0×", f"{r['rss_parse']:.0f}"],
        [n, f"2. import: parse + match + store ({counts})", f"{r['import_s']:.2f} s",
         f"{r['import_s'] / parse:.1f}×", f"{r['rss_import']:.0f}"],
        [n, f"3. confirm: {r['booked']:,} booked, {r['queued']:,} queued", f"{r['confirm_s']:.2f} s",
         f"{r['confirm_s'] / parse:.1f}×", f"{r['rss_confirm']:.0f}"],
        [n, "full: parse + match + book (2 + 3)", f"{full:.2f} s", f"{full / parse:.1f}×", ""],
        [n, "4. baseline: set-based INSERT … SELECT + UPDATE (rolled back)", f"{r['baseline_s']:.2f} s",
         f"{r['baseline_s'] / parse:.1f}×", ""],
        [n, "full ÷ baseline", f"{full / r['baseline_s']:.0f}×", "", ""],
        [n, "documents per second, full", f"{r['documents'] / full:,.0f}", "", ""],
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["sqlite", "pg"], default="sqlite")
    parser.add_argument("--sizes", default="10000,50000")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--offset", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child(args.child, args.offset))), flush=True)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    print(machine(), flush=True)
    results = []
    with dataset(args.engine, max(max(sizes), 1000), 2, keep=args.keep) as data:
        env = dict(data.env)
        # Document numbers of their own per run and size: a kept (or reused) dataset has the
        # earlier runs' documents booked, and the same documents again would all be duplicates.
        base = int(time.time()) % 100_000 * 1_000_000
        for i, size in enumerate(sizes):
            results.append(run_child(env, size, offset=base + 100_000 * i))
            print(f"  {size:,} documents done", flush=True)
    print(f"\nBank statement, {data.label}; load average {os.getloadavg()[0]:.1f} at the end")
    print(table(["documents", "step", "time", "÷ parse", "peak RSS MB"],
                [row for r in results for row in rows_for(r)]))
    if len(results) > 1:
        a, b = results[0], results[-1]
        print(f"\n{b['documents']:,} vs {a['documents']:,} documents ({b['documents'] / a['documents']:.0f}× "
              f"the work): time {(b['import_s'] + b['confirm_s']) / (a['import_s'] + a['confirm_s']):.1f}×, "
              f"peak RSS {b['rss_confirm']:.0f} vs {a['rss_confirm']:.0f} MB "
              f"({b['rss_confirm'] / a['rss_confirm']:.2f}×)")


if __name__ == "__main__":
    main()
