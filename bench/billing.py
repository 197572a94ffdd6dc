"""Benchmark (not a test): the charge run against a hand-written set-based baseline.

    .venv/bin/python bench/billing.py                      # 25,000 and 100,000 subscribers, both engines
    .venv/bin/python bench/billing.py --sizes 100000 --engines sqlite --repeat 5

For each engine and size it builds one database (real migrations, then set-based seed
data: 3 months of history, prorated and terminated contracts, tariff changes), and
times, each in a fresh copy of that database and a fresh process:

* **baseline** — the raw driver (sqlite3 / asyncpg), one transaction: one hand-written
  ``INSERT … SELECT … ON CONFLICT DO NOTHING`` computing the same amounts, plus one
  ``UPDATE`` of the cached balances from the inserted rows;
* **ours** — ``tables.billing.charge_run.run_charges`` (Piccolo, chunks with progress, tariff
  changes, suspension of debtors with audit rows, the run record).

It checks both booked the same entries, and prints median times, the ratio and the
peak RSS of the process running ours (flat in the number of subscribers means no
per-row Python loop).  PostgreSQL databases are created on ``--pg`` and dropped after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PERIOD = "2026-12"
FIRST, LAST, DAYS = "2026-12-01", "2026-12-31", 31
NOW = "2026-12-01T03:00:00+00:00"
COMMENT = "Абонентская плата за декабрь 2026"
FEE = "(t.monthly_fee + CASE WHEN s.router_rented THEN t.router_fee ELSE 0 END)"


# ---------------------------------------------------------------------------
# Seed data (set-based; ``{seq}`` is a series 1..N on either engine)

def seed_statements(n: int, pg: bool) -> list[str]:
    seq = (f"generate_series(1, {n}) AS g(i)" if pg else "seq")
    with_seq = "" if pg else (
        f"WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {n}) ")
    mod = "%"
    text = "CAST(i AS TEXT)"
    day = (lambda expr: f"CAST('2026-12-01' AS DATE) + ({expr})") if pg else (
        lambda expr: f"date('2026-12-01', '+' || ({expr}) || ' days')")
    ts = "CAST('2026-11-01 00:00:00+00' AS TIMESTAMPTZ)" if pg else "'2026-11-01 00:00:00+00:00'"
    boolean = (lambda expr: f"({expr})") if pg else (lambda expr: f"CASE WHEN {expr} THEN 1 ELSE 0 END")
    yes, no = boolean("1=1"), boolean("1=0")
    statements = [
        "INSERT INTO town (name) VALUES ('Новокузнецк')",
        "INSERT INTO street (town, name) VALUES (1, 'проспект Металлургов')",
        "INSERT INTO tariff (name, kind, monthly_fee, speed_mbps, channels, router_option, router_fee, "
        "active, sort_order, description) VALUES "
        f"('Интернет + ТВ', 'internet_tv', 75000, 100, 120, {yes}, 10000, {yes}, 1, ''),"
        f"('Кабельное ТВ', 'tv', 35000, 0, 90, {no}, 0, {yes}, 2, ''),"
        f"('Интернет', 'internet', 55000, 100, 0, {yes}, 10000, {yes}, 3, ''),"
        f"('Интернет 500', 'internet', 89900, 500, 0, {yes}, 10000, {yes}, 4, '')",
        f"{with_seq}INSERT INTO address (street, house, apartment) "
        f"SELECT 1, CAST(i / 100 AS TEXT), {text} FROM {seq}",
        # 2% connected inside the period, 2% terminated inside it, 1% terminated before it,
        # 3% suspended, a quarter rent a router.
        f"{with_seq}INSERT INTO subscriber (contract_number, full_name, phone, email, address, tariff, "
        "router_rented, status, connected_on, terminated_on, password_hash, must_change_password, "
        "failed_logins, locked_until, balance, created_at) "
        f"SELECT CAST(100000 + i AS TEXT), 'Абонент ' || {text}, '', '', i, 1 + i {mod} 3, "
        f"{boolean(f'i {mod} 4 = 0')}, "
        f"CASE WHEN i {mod} 100 IN (2, 3, 4) THEN 'terminated' WHEN i {mod} 100 IN (5, 6, 7) "
        "THEN 'suspended' ELSE 'active' END, "
        f"CASE WHEN i {mod} 100 IN (0, 1) THEN {day(f'i {mod} 31')} ELSE "
        f"{'CAST(' if pg else ''}'2025-01-01'{' AS DATE)' if pg else ''} END, "
        f"CASE WHEN i {mod} 100 IN (2, 3) THEN {day(f'i {mod} 31')} "
        f"WHEN i {mod} 100 = 4 THEN {'CAST(' if pg else ''}'2026-11-11'{' AS DATE)' if pg else ''} "
        "ELSE NULL END, "
        f"'', {boolean('1=0')}, 0, NULL, 0, {ts} FROM {seq}",
        # History: an opening payment of four months' fees, ~5% short of it, and three months
        # of charges (400,000 ledger rows at 100k): about 5% of contracts end up in debt.
        "INSERT INTO ledger_entry (subscriber, amount, kind, period, reference, comment, created_at, "
        f"created_by) SELECT s.id, 4 * {FEE} + (s.id * 7919) {mod} 20000 "
        f"- CASE WHEN s.id {mod} 20 = 0 THEN 200000 ELSE 0 END, 'payment', NULL, "
        f"'open:' || CAST(s.id AS TEXT), '', {ts}, 'bench' "
        "FROM subscriber s JOIN tariff t ON t.id = s.tariff",
    ]
    for month in ("2026-09", "2026-10", "2026-11"):
        statements.append(
            "INSERT INTO ledger_entry (subscriber, amount, kind, period, reference, comment, created_at, "
            f"created_by) SELECT s.id, -{FEE}, 'charge', '{month}', "
            f"'charge:' || CAST(s.id AS TEXT) || ':{month}', '', {ts}, 'bench' "
            "FROM subscriber s JOIN tariff t ON t.id = s.tariff WHERE s.status <> 'terminated'")
    statements += [
        "UPDATE subscriber SET balance = (SELECT COALESCE(SUM(amount), 0) FROM ledger_entry e "
        "WHERE e.subscriber = subscriber.id)",
        # 2% change tariff on 15 December, 1% on 1 January (not yet in effect).
        "INSERT INTO tariff_change (subscriber, from_tariff, tariff, effective_from, applied_at, comment, "
        f"created_at, created_by) SELECT s.id, s.tariff, 4, {day('14')}, NULL, '', {ts}, 'bench' "
        f"FROM subscriber s WHERE s.id {mod} 50 = 9 AND s.status <> 'terminated'",
        "INSERT INTO tariff_change (subscriber, from_tariff, tariff, effective_from, applied_at, comment, "
        f"created_at, created_by) SELECT s.id, s.tariff, 4, {day('31')}, NULL, '', {ts}, 'bench' "
        f"FROM subscriber s WHERE s.id {mod} 100 = 11 AND s.status <> 'terminated'",
    ]
    return statements


# ---------------------------------------------------------------------------
# The baseline: hand-written, one INSERT … SELECT and one UPDATE, raw driver

def baseline_insert(pg: bool) -> str:
    day = (lambda e: f"CAST(EXTRACT(DAY FROM {e}) AS INTEGER)") if pg else (
        lambda e: f"CAST(strftime('%d', {e}) AS INTEGER)")
    d = (lambda v: f"DATE '{v}'") if pg else (lambda v: f"'{v}'")
    fee = "(t.monthly_fee + CASE WHEN s.router_rented THEN t.router_fee ELSE 0 END)"
    fee_n = "(tn.monthly_fee + CASE WHEN s.router_rented THEN tn.router_fee ELSE 0 END)"
    fee_p = "(tp.monthly_fee + CASE WHEN s.router_rented THEN tp.router_fee ELSE 0 END)"
    end_day = (f"CASE WHEN s.terminated_on IS NULL OR s.terminated_on > {d(LAST)} THEN {DAYS} "
               f"ELSE {day('s.terminated_on')} END")
    start_day = f"CASE WHEN s.connected_on < {d(FIRST)} THEN 1 ELSE {day('s.connected_on')} END"
    return f"""
WITH first_change AS (
    SELECT c.subscriber, c.effective_from, c.tariff, c.from_tariff,
           ROW_NUMBER() OVER (PARTITION BY c.subscriber ORDER BY
               CASE WHEN c.effective_from > {d(FIRST)} THEN 0 ELSE 1 END,
               CASE WHEN c.effective_from > {d(FIRST)} THEN c.effective_from END,
               c.effective_from DESC) AS rn
    FROM tariff_change c
),
delta AS (
    SELECT s.id, CAST(SUM(({end_day} - {day('c.effective_from')} + 1) * ({fee_n} - {fee_p})) AS BIGINT) AS d
    FROM tariff_change c JOIN subscriber s ON s.id = c.subscriber
    JOIN tariff tn ON tn.id = c.tariff JOIN tariff tp ON tp.id = c.from_tariff
    WHERE c.effective_from > {d(FIRST)} AND c.effective_from <= {d(LAST)}
      AND (s.terminated_on IS NULL OR s.terminated_on >= c.effective_from)
    GROUP BY s.id
),
amounts AS (
    SELECT s.id, {end_day} - {start_day} + 1 AS days,
           (2 * (({end_day} - {start_day} + 1) * {fee} + COALESCE(delta.d, 0)) + {DAYS})
               / {2 * DAYS} AS amount
    FROM subscriber s
    LEFT JOIN first_change fc ON fc.subscriber = s.id AND fc.rn = 1
    JOIN tariff t ON t.id = COALESCE(CASE WHEN fc.effective_from > {d(FIRST)} THEN fc.from_tariff
                                         ELSE fc.tariff END, s.tariff)
    LEFT JOIN delta ON delta.id = s.id
    WHERE s.connected_on <= {d(LAST)}
      AND (s.terminated_on IS NULL OR s.terminated_on >= {d(FIRST)})
      AND (s.status <> 'terminated' OR s.terminated_on IS NOT NULL)
){',' if pg else ''}
{'ins AS (' if pg else ''}INSERT INTO ledger_entry
    (subscriber, amount, kind, period, reference, comment, created_at, created_by)
SELECT id, -amount, 'charge', '{PERIOD}', 'charge:' || CAST(id AS TEXT) || ':{PERIOD}',
       CASE WHEN days < {DAYS} THEN '{COMMENT} (' || CAST(days AS TEXT) || ' из {DAYS} дн.)'
            ELSE '{COMMENT}' END,
       {"CAST('" + NOW + "' AS TIMESTAMPTZ)" if pg else "'2026-12-01 03:00:00+00:00'"}, 'baseline'
FROM amounts WHERE amount > 0
ON CONFLICT (reference) DO NOTHING{' RETURNING subscriber, amount)' if pg else ''}"""


async def run_baseline_pg(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.execute(baseline_insert(True) + """
UPDATE subscriber s SET balance = s.balance + ins.amount FROM ins WHERE s.id = ins.subscriber""")
    finally:
        await conn.close()


def run_baseline_sqlite(path: str) -> None:
    import sqlite3

    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        (after,) = conn.execute("SELECT COALESCE(MAX(id), 0) FROM ledger_entry").fetchone()
        conn.execute(baseline_insert(False))
        conn.execute("UPDATE subscriber SET balance = subscriber.balance + n.amount FROM "
                     "(SELECT subscriber, amount FROM ledger_entry WHERE id > ?) AS n "
                     "WHERE subscriber.id = n.subscriber", (after,))
        conn.execute("COMMIT")
    finally:
        conn.close()


# ---------------------------------------------------------------------------
# Child processes (one per measurement: a clean heap and its own peak RSS)

def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def rss_kb() -> int:
    return _status_kb("VmRSS")


def hwm_kb() -> int:
    """Peak RSS since the last reset through /proc/self/clear_refs."""
    return _status_kb("VmHWM")


async def child(mode: str, n: int) -> dict:
    import datetime as dt

    from piccolo.engine.postgres import PostgresEngine

    from piccolo_conf import DB

    pg = isinstance(DB, PostgresEngine)
    if mode == "seed":
        from piccolo.apps.migrations.commands.forwards import run_forwards

        response = await run_forwards(app_name="all")
        assert response.success, response.message
        for sql in seed_statements(n, pg):
            await DB.run_ddl(sql)
        await DB.run_ddl("ANALYZE")
        return {}
    from tables.audit import Actor
    from tables.billing.charge_run import run_charges

    before = rss_kb()
    # Reset the peak-RSS mark (VmHWM) so it measures the run, not the imports.
    Path("/proc/self/clear_refs").write_text("5")
    started = time.perf_counter()
    if mode == "baseline":
        if pg:
            await run_baseline_pg(os.environ["DATABASE_URL"])
        else:
            run_baseline_sqlite(os.environ["CENTRA_SQLITE_PATH"])
    else:
        await run_charges(PERIOD, actor=Actor("bench"), now=dt.datetime.fromisoformat(NOW))
    seconds = time.perf_counter() - started
    peak = hwm_kb()
    from tables.ledger import LedgerEntry

    rows = await LedgerEntry.raw(
        "SELECT COUNT(*) AS n, COALESCE(SUM(amount), 0) AS total FROM ledger_entry "
        f"WHERE period = '{PERIOD}' AND kind = 'charge'")
    check = await LedgerEntry.raw(
        "SELECT COUNT(*) AS n FROM subscriber s WHERE s.balance <> "
        "(SELECT COALESCE(SUM(amount), 0) FROM ledger_entry e WHERE e.subscriber = s.id)")
    return {"seconds": seconds, "rss_before_kb": before, "rss_peak_kb": peak,
            "entries": int(rows[0]["n"]), "total": int(rows[0]["total"]),
            "balance_mismatches": int(check[0]["n"])}


def spawn(mode: str, n: int, env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", mode, "--n", str(n)], cwd=ROOT,
                         env={**os.environ, **env, "PICCOLO_CONF": "piccolo_conf",
                              "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------
# Databases

class SqliteDbs:
    name = "SQLite"

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="centra-bench-"))
        self.template = self.dir / "template.sqlite3"

    def template_env(self) -> dict[str, str]:
        return {"CENTRA_SQLITE_PATH": str(self.template), "DATABASE_URL": ""}

    def copy_env(self) -> dict[str, str]:
        path = self.dir / f"{uuid.uuid4().hex}.sqlite3"
        # SQLite's backup API, not a file copy: the file is in WAL mode and the seeding
        # process's last transactions may still be in the -wal file next to it.
        source, target = sqlite3.connect(self.template), sqlite3.connect(path)
        try:
            source.backup(target)
        finally:
            source.close()
            target.close()
        return {"CENTRA_SQLITE_PATH": str(path), "DATABASE_URL": ""}

    def drop(self, env: dict[str, str]) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(env["CENTRA_SQLITE_PATH"] + suffix).unlink(missing_ok=True)

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


class PostgresDbs:
    name = "PostgreSQL"

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.prefix = f"centra_bench_{uuid.uuid4().hex[:8]}"
        self.template = f"{self.prefix}_tpl"
        self.created: list[str] = []
        self._admin(f'CREATE DATABASE "{self.template}"')
        self.created.append(self.template)

    def _url(self, name: str) -> str:
        return urlunsplit(urlsplit(self.admin_url)._replace(path=f"/{name}"))

    def _admin(self, sql: str) -> None:
        import asyncpg

        async def go() -> None:
            conn = await asyncpg.connect(self.admin_url)
            try:
                await conn.execute(sql)
            finally:
                await conn.close()

        asyncio.run(go())

    def template_env(self) -> dict[str, str]:
        return {"DATABASE_URL": self._url(self.template)}

    def copy_env(self) -> dict[str, str]:
        name = f"{self.prefix}_{uuid.uuid4().hex[:6]}"
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        self.created.append(name)
        return {"DATABASE_URL": self._url(name)}

    def drop(self, env: dict[str, str]) -> None:
        name = env["DATABASE_URL"].rsplit("/", 1)[1]
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.remove(name)

    def close(self) -> None:
        for name in list(self.created):
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.clear()


def bench_engine(dbs, n: int, repeat: int) -> dict:
    t0 = time.perf_counter()
    spawn("seed", n, dbs.template_env())
    seed_s = time.perf_counter() - t0
    results: dict[str, list[dict]] = {"baseline": [], "ours": []}
    for i in range(repeat):
        for mode in (("baseline", "ours") if i % 2 == 0 else ("ours", "baseline")):
            env = dbs.copy_env()
            try:
                results[mode].append(spawn(mode, n, env))
            finally:
                dbs.drop(env)
    base, ours = results["baseline"], results["ours"]
    same = ({(r["entries"], r["total"]) for r in base} == {(r["entries"], r["total"]) for r in ours}
            and len({(r["entries"], r["total"]) for r in base}) == 1)
    b = statistics.median(r["seconds"] for r in base)
    o = statistics.median(r["seconds"] for r in ours)
    return {"engine": dbs.name, "n": n, "seed_s": seed_s, "baseline_s": b, "ours_s": o, "ratio": o / b,
            "entries": ours[0]["entries"], "total": -ours[0]["total"], "same_entries": same,
            "mismatches": max(r["balance_mismatches"] for r in base + ours),
            "rss_before_mb": max(r["rss_before_kb"] for r in ours) / 1024,
            "rss_peak_mb": max(r["rss_peak_kb"] for r in ours) / 1024,
            "base_rss_peak_mb": max(r["rss_peak_kb"] for r in base) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="25000,100000")
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pg", default=os.environ.get("CENTRA_BENCH_PG",
                                                       "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--child")
    parser.add_argument("--n", type=int)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child(args.child, args.n))))
        return

    print(f"{platform.node()} · {platform.processor() or platform.machine()} · {os.cpu_count()} CPUs · "
          f"Python {platform.python_version()} · {time.strftime('%Y-%m-%d %H:%M %Z')}")
    print(f"charge run for {PERIOD}; median of {args.repeat} runs, each in a fresh copy of the database")
    header = (f"{'engine':<11}{'subscribers':>12}{'entries':>9}{'baseline s':>12}{'ours s':>9}"
              f"{'ratio':>7}{'same':>6}{'peak RSS MB':>13}{'(+ during)':>11}{'baseline RSS':>14}")
    rows = []
    for engine in args.engines.split(","):
        for n in (int(s) for s in args.sizes.split(",")):
            dbs = SqliteDbs() if engine == "sqlite" else PostgresDbs(args.pg)
            try:
                rows.append(bench_engine(dbs, n, args.repeat))
            finally:
                dbs.close()
            r = rows[-1]
            print(f"  seeded {r['engine']} with {n:,} subscribers in {r['seed_s']:.1f} s", flush=True)
    print(header)
    for r in rows:
        print(f"{r['engine']:<11}{r['n']:>12,}{r['entries']:>9,}{r['baseline_s']:>12.3f}{r['ours_s']:>9.3f}"
              f"{r['ratio']:>7.2f}{'yes' if r['same_entries'] and not r['mismatches'] else 'NO':>6}"
              f"{r['rss_peak_mb']:>13.1f}{r['rss_peak_mb'] - r['rss_before_mb']:>+11.1f}"
              f"{r['base_rss_peak_mb']:>14.1f}")
    worst = max(r["ratio"] for r in rows)
    print(f"worst ratio {worst:.2f} (target ≤ 2.00)")


if __name__ == "__main__":
    main()
