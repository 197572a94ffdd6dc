"""Benchmark (not a test): ledger export of 1,000,000 rows, CSV and XLSX, on PostgreSQL and SQLite.

Each engine gets a throwaway database (PostgreSQL: a new database on the server,
dropped at the end; SQLite: a temp file), built by the real migrations and filled
set-based (``INSERT … SELECT`` over ``generate_series`` / a recursive CTE).  Every
measurement runs in its own process so its peak RSS is its own; all write to a
file on disk.  Baselines, in the same run:

- PostgreSQL: ``COPY (SELECT * FROM ledger_entry) TO STDOUT`` through asyncpg;
- SQLite: a bare ``sqlite3`` cursor loop writing ``SELECT * FROM ledger_entry`` with ``csv``.

Our exports are the ``piccolo tables export --report ledger`` code path (join to
the contract number, Russian labels, roubles and local time formatted).

Baseline and CSV runs alternate ``--repeat`` times and the best of each counts (the
machine is shared and noisy); the median of each CSV run over the baseline run before it
is printed too.  Peak memory is the worst run's.  Usage::

    .venv/bin/python bench/export.py                       # both engines, 1,000,000 rows
    .venv/bin/python bench/export.py --rows 100000 --engines sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PERIOD = "2025-12..2026-12"
SUBSCRIBERS = 10_000


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- worker side (runs with DATABASE_URL / CENTRA_SQLITE_PATH set) ------------------------------

def _fill_sql(sqlite: bool, rows: int) -> list[str]:
    series = (lambda n: f"(WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < {n})"
              " SELECT n FROM c)") if sqlite else (lambda n: f"(SELECT generate_series(1, {n}) AS n)")
    ts = ("datetime('2026-01-01', '+' || (g.n * 20) || ' seconds') || '+00:00'" if sqlite
          else "TIMESTAMPTZ '2026-01-01 00:00:00+00' + g.n * INTERVAL '20 seconds'")
    month = ("strftime('%Y-%m', datetime('2026-01-01', '+' || (g.n * 20) || ' seconds'))" if sqlite
             else "to_char(TIMESTAMP '2026-01-01' + g.n * INTERVAL '20 seconds', 'YYYY-MM')")
    phone = "printf('%07d', a.id)" if sqlite else "lpad(a.id::text, 7, '0')"
    false, now = ("0", "'2026-01-01 00:00:00+00:00'") if sqlite else ("false", "now()")
    return [
        "INSERT INTO town (name) VALUES ('Новокузнецк'), ('Осинники')",
        f"INSERT INTO street (town, name) SELECT t.id, 'улица ' || g.n FROM town t, {series(50)} g",
        "INSERT INTO address (street, house, apartment)"
        f" SELECT s.id, '' || g.n, '' FROM street s, {series(100)} g",
        "INSERT INTO tariff (name, kind, monthly_fee, speed_mbps, channels, router_option, router_fee,"
        " active, sort_order, description)"
        f" VALUES ('Интернет + ТВ', 'internet_tv', 75000, 100, 120, {false}, 0,"
        f" {'1' if sqlite else 'true'}, 1, ''), ('Кабельное ТВ', 'tv', 35000, 0, 90, {false}, 0,"
        f" {'1' if sqlite else 'true'}, 2, ''), ('Интернет', 'internet', 55000, 100, 0, {false}, 0,"
        f" {'1' if sqlite else 'true'}, 3, '')",
        "INSERT INTO subscriber (contract_number, full_name, phone, email, address, tariff, router_rented,"
        " status, connected_on, terminated_on, password_hash, must_change_password, failed_logins,"
        " locked_until, balance, created_at)"
        f" SELECT '' || (100000 + a.id), 'Абонент ' || a.id, '+7913' || {phone}, '', a.id,"
        f" (SELECT MIN(id) FROM tariff) + a.id % 3, {false}, 'active', '2025-01-01', NULL, '', {false}, 0,"
        f" NULL, 0, {now} FROM address a WHERE a.id <= {SUBSCRIBERS}",
        "INSERT INTO ledger_entry (subscriber, amount, kind, period, reference, comment, created_at,"
        " created_by)"
        f" SELECT (SELECT MIN(id) FROM subscriber) + g.n % {SUBSCRIBERS},"
        " CASE WHEN g.n % 2 = 0 THEN -75000 ELSE 75000 + (g.n % 7) * 100 END,"
        " CASE WHEN g.n % 2 = 0 THEN 'charge' ELSE 'payment' END,"
        f" CASE WHEN g.n % 2 = 0 THEN {month} END, 'bench:' || g.n,"
        " CASE WHEN g.n % 10 = 0 THEN 'Оплата в кассе офиса' ELSE '' END,"
        f" {ts}, 'system' FROM {series(rows)} g",
    ]


async def worker_setup(rows: int) -> dict:
    from piccolo.apps.migrations.commands.forwards import run_forwards

    from db.engine import engine, is_sqlite

    response = await run_forwards(app_name="all")
    assert response.success, response.message
    started = time.perf_counter()
    db = engine()
    if is_sqlite():
        import sqlite3

        connection = sqlite3.connect(db.path)
        connection.execute("PRAGMA journal_mode = WAL")
        with connection:
            for sql in _fill_sql(True, rows):
                connection.execute(sql)
        count = connection.execute("SELECT COUNT(*) FROM ledger_entry").fetchone()[0]
        connection.close()
    else:
        connection = await db.get_new_connection()
        async with connection.transaction():
            for sql in _fill_sql(False, rows):
                await connection.execute(sql)
        await connection.execute("ANALYZE")
        count = await connection.fetchval("SELECT COUNT(*) FROM ledger_entry")
        await connection.close()
    return {"rows": count, "seconds": time.perf_counter() - started}


async def worker_measure(what: str, output: str) -> dict:
    from db.engine import engine, is_sqlite
    from tables.commands.export import run_export

    engine()  # import piccolo_conf (and the admin app it registers) before the clock starts
    import tables.reports.raw  # noqa: F401

    rss_ready = _peak_mb()
    started = time.perf_counter()
    if what == "copy-query":
        # PostgreSQL only: COPY of the export's own formatted SELECT straight to a file, to
        # separate what the SQL formatting costs from what the streaming pipeline adds
        from tables.calendar import utcnow
        from tables.reports import Filters, local_today
        from tables.reports.raw import RAW_EXPORTS, _dollar_params, _pg_connection, _pg_lookup_fits

        filters = Filters.parse({"period": PERIOD}, today=local_today(utcnow()))
        async with _pg_connection() as connection:
            sql, args = RAW_EXPORTS["ledger"].sql(filters, formatted=True,
                                                  lookup=await _pg_lookup_fits(connection))
            await connection.copy_from_query(_dollar_params(sql), *args, output=output, format="csv",
                                             delimiter=";")
    elif what == "baseline":
        if is_sqlite():
            import csv
            import sqlite3

            connection = sqlite3.connect(engine().path)
            with open(output, "w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                for row in connection.execute("SELECT * FROM ledger_entry"):
                    writer.writerow(row)
            connection.close()
        else:
            connection = await engine().get_new_connection()
            await connection.copy_from_query("SELECT * FROM ledger_entry", output=output, format="csv")
            await connection.close()
    else:
        await run_export("ledger", period=PERIOD, fmt=what, output=output)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "peak_mb": _peak_mb(), "ready_mb": rss_ready,
            "bytes": os.path.getsize(output)}


def worker_main(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(ROOT))
    if args.worker == "setup":
        result = asyncio.run(worker_setup(args.rows))
    else:
        result = asyncio.run(worker_measure(args.what, args.output))
    print(json.dumps(result))


# --- orchestrator ------------------------------------------------------------------------------

def run_worker(env: dict[str, str], *extra: str) -> dict:
    completed = subprocess.run([sys.executable, __file__, *extra], env=env, cwd=ROOT,
                               capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"worker {extra} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


async def _pg_admin(url: str, sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def bench_engine(name: str, rows: int, pg_url: str, workdir: Path, repeat: int,
                 no_xlsx: bool = False) -> list[dict]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CENTRA_SQLITE_PATH")}
    env["PICCOLO_CONF"] = "piccolo_conf"
    env["PYTHONPATH"] = str(ROOT)
    dbname = f"centra_bench_{uuid.uuid4().hex[:8]}"
    if name == "postgres":
        asyncio.run(_pg_admin(pg_url, f'CREATE DATABASE "{dbname}"'))
        env["DATABASE_URL"] = urlunsplit(urlsplit(pg_url)._replace(path=f"/{dbname}"))
    else:
        env["CENTRA_SQLITE_PATH"] = str(workdir / "bench.sqlite3")
    try:
        setup = run_worker(env, "--worker", "setup", "--rows", str(rows))
        print(f"{name}: {setup['rows']:,} ledger rows generated in {setup['seconds']:.1f} s", flush=True)
        # Baseline and CSV runs alternate so both see the same load on a shared machine;
        # the best of each counts (peak memory: the worst).
        kinds = ("baseline", "copy-query", "csv") if name == "postgres" else ("baseline", "csv")
        runs: dict[str, list[dict]] = {k: [] for k in (*kinds, *(() if no_xlsx else ("xlsx",)))}
        for what in [*(kinds * repeat), *(() if no_xlsx else ("xlsx",))]:
            output = workdir / f"{name}-{what}.{'xlsx' if what == 'xlsx' else 'csv'}"
            runs[what].append(run_worker(env, "--worker", "measure", "--what", what,
                                         "--output", str(output)))
            output.unlink()
        results = []
        for what, measured in runs.items():
            result = dict(min(measured, key=lambda r: r["seconds"]))
            result["peak_mb"] = max(r["peak_mb"] for r in measured)
            result.update(engine=name, what=what, runs=[round(r["seconds"], 2) for r in measured])
            if what == "csv":
                # each CSV run over the baseline run just before it: steadier than best over
                # best when the machine's load changes from one run to the next
                result["paired"] = statistics.median(
                    c["seconds"] / b["seconds"] for b, c in zip(runs["baseline"], measured, strict=True))
            results.append(result)
            print(f"  {what:8} {result['seconds']:7.2f} s  peak {result['peak_mb']:6.1f} MB "
                  f"(after imports {result['ready_mb']:.1f} MB)  {result['bytes'] / 1e6:7.1f} MB file"
                  f"  runs {result['runs']}", flush=True)
        return results
    finally:
        if name == "postgres":
            asyncio.run(_pg_admin(pg_url, f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--engines", default="postgres,sqlite", help="postgres (or pg), sqlite")
    parser.add_argument("--repeat", type=int, default=5, help="best of N for the CSV timings")
    parser.add_argument("--pg", default=os.environ.get("CENTRA_BENCH_PG",
                                                     "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--worker", choices=["setup", "measure"])
    parser.add_argument("--what", choices=["baseline", "copy-query", "csv", "xlsx"])
    parser.add_argument("--no-xlsx", action="store_true", help="skip the (slow) XLSX export")
    parser.add_argument("--output")
    args = parser.parse_args()
    if args.worker:
        worker_main(args)
        return
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; rows: {args.rows:,}")
    aliases = {"pg": "postgres", "postgresql": "postgres", "postgres": "postgres", "sqlite": "sqlite"}
    engines = [aliases.get(name.strip().lower()) for name in args.engines.split(",")]
    if None in engines:
        parser.error(f"--engines: a comma-separated list of {', '.join(aliases)}")
    summary = []
    with tempfile.TemporaryDirectory(prefix="centra-bench-") as tmp:
        for name in engines:
            results = {r["what"]: r for r in bench_engine(name, args.rows, args.pg, Path(tmp),
                                                           args.repeat, args.no_xlsx)}
            summary.append((name, results))
    print("\nengine    CSV/baseline  paired median  CSV/COPY of own query  CSV peak MB  XLSX s"
          "  XLSX peak MB   (target: CSV ≤ 2×, peak < 150 MB)")
    for name, r in summary:
        ratio = r["csv"]["seconds"] / r["baseline"]["seconds"]
        own = (f"{r['csv']['seconds'] / r['copy-query']['seconds']:20.2f}×" if "copy-query" in r
               else f"{'—':>21}")
        xlsx = r.get("xlsx", {"seconds": float("nan"), "peak_mb": float("nan")})
        print(f"{name:9} {ratio:11.2f}×  {r['csv']['paired']:12.2f}×  {own}  {r['csv']['peak_mb']:11.1f}"
              f"  {xlsx['seconds']:6.1f}  {xlsx['peak_mb']:12.1f}")


if __name__ == "__main__":
    main()
