"""Build a provider-sized database for the benchmarks: real migrations, then set-based SQL.

    .venv/bin/python bench/generate.py --engine pg --subscribers 100000 --months 60
    .venv/bin/python bench/generate.py --engine sqlite --subscribers 100000 --months 12

What it builds (deterministic, no randomness between runs):

* the address directory of both towns: 300 streets, ~129,000 addresses (apartment
  blocks and private houses), whatever the number of subscribers;
* ``--subscribers`` contracts spread over the directory, 3 tariffs, about 85% connected
  since the first month, the rest later; ~4% terminated, ~8% in debt (suspended);
* ``--months`` months of history ending with the current one: a charge on every 1st and
  a payment in most months (70% card payments with a provider intent id, 30% at the
  office), each payment a ``payment`` row and a ledger entry, inserted month by month so
  entry ids grow with time as in production (one subscriber's rows are spread over the
  whole table);
* service requests (one per five subscribers, 10% still open), news and maintenance
  notices for every month (one maintenance window active now), an audit entry per
  contract, cabinet sessions for up to ``--sessions`` subscribers (token
  ``bench-<subscriber id>``), a superuser ``bench`` / ``bench-admin-2026`` for the admin.

PostgreSQL: a database ``--name`` on ``--pg`` (created; an existing one is reused when it
was completed with the same parameters, else dropped and rebuilt). The ledger's and the
payment table's secondary indexes and foreign keys are dropped during the bulk insert and
recreated from their own definitions afterwards (a bulk build is several times faster),
then ``VACUUM (ANALYZE)`` runs as autovacuum would. SQLite: a file ``--path``; no ``ANALYZE``
(nothing runs it in production either).

Prints its own timings; the last line is JSON describing the dataset (read by the
benchmarks).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LOCAL_TZ = ZoneInfo("Asia/Novokuznetsk")
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
BENCH_PASSWORD = "bench-pass-2026"
STAFF = ("bench", "bench-admin-2026")
FIRST_CONTRACT = 100001

STREET_BASES = [
    "Кирова", "Ленина", "Победы", "Революции", "Бардина", "Металлургов", "Строителей",
    "Горького", "Пушкина", "Гагарина", "Мира", "Советская", "Садовая", "Школьная",
    "Лесная", "Молодёжная", "Шахтёров", "Транспортная", "Народная", "Октябрьская",
    "Энтузиастов", "Циолковского", "Павловского", "Куйбышева", "Орджоникидзе",
    "Запорожская", "Тольятти", "Новосёлов", "Островского", "Белана", "Спартака",
    "Чекистов", "Климасенко", "Дружбы", "Хитарова", "Рудокопровая", "Ермакова",
    "Франкфурта", "Сеченова", "Обнорского", "Разведчиков", "Полевая", "Зорге",
    "Пирогова", "Кутузова", "Суворова", "Челюскина", "Тореза", "Фурманова", "Жукова",
]
STREET_KINDS = ["улица", "проспект", "переулок", "проезд", "бульвар", "шоссе"]
TOWNS = [("Новокузнецк", 240), ("Осинники", 60)]
BLOCKS_PER_STREET, FLATS_PER_BLOCK, PRIVATE_PER_STREET = 8, 50, 30

TARIFFS = [  # name, kind, fee, speed, channels, router option, router fee
    ("Интернет + ТВ", "internet_tv", 75000, 100, 120, True, 10000),
    ("Кабельное ТВ", "tv", 35000, 0, 90, False, 0),
    ("Интернет", "internet", 55000, 100, 0, True, 10000),
]
PAGES = [("offer", "Договор-оферта", 1), ("faq", "Вопросы и ответы", 2),
         ("privacy", "Конфиденциальность", 3)]
SURNAMES = ["Иванов", "Петров", "Сидоров", "Кузнецов", "Смирнов", "Попов", "Васильев",
            "Соколов", "Михайлов", "Новиков", "Фёдоров", "Морозов", "Волков", "Алексеев",
            "Лебедев", "Семёнов", "Егоров", "Павлов", "Козлов", "Степанов"]
NAMES = ["Иван", "Пётр", "Сергей", "Алексей", "Дмитрий", "Андрей", "Николай", "Михаил",
         "Ольга", "Елена", "Татьяна", "Наталья"]
PATRONYMICS = ["Иванович", "Петрович", "Сергеевич", "Алексеевич", "Николаевич",
               "Андреевич", "Михайлович"]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def months_back(today: dt.date, count: int) -> list[tuple[int, str, dt.datetime]]:
    """(index, 'YYYY-MM', the month's local midnight as UTC) for ``count`` months to today."""
    from tables.month import Month

    last = Month.of(today)
    return [(i, m.iso, m.utc_bounds()[0]) for i, m in enumerate(Month.range(last - (count - 1), last))]


class Dialect:
    """The few spots where PostgreSQL and SQLite SQL differ."""

    def __init__(self, pg: bool) -> None:
        self.pg = pg

    def ts(self, base: str, seconds: str) -> str:
        """A timestamptz ``base`` (a month's start column) plus ``seconds``."""
        if self.pg:
            return f"({base} + ({seconds}) * interval '1 second')"
        # Piccolo stores aware datetimes on SQLite as str(utc datetime).
        return f"(datetime({base} + ({seconds}), 'unixepoch') || '+00:00')"

    def date(self, base: str, days: str) -> str:
        if self.pg:
            return f"(({base} AT TIME ZONE 'Asia/Novokuznetsk')::date + ({days}))"
        return f"date({base} + 7 * 3600, 'unixepoch', '+' || ({days}) || ' days')"

    def text(self, expr: str) -> str:
        return f"CAST({expr} AS TEXT)"


def plan_sql(months: int) -> str:
    """Per subscriber: first and last month with service, debtor and card payer flags."""
    return f"""
        INSERT INTO bench_plan (i, first_month, last_month, debtor, card)
        SELECT i,
               CASE WHEN i % 20 < 17 THEN 0 ELSE (i * 7) % {months} END,
               CASE WHEN i % 25 = 7 THEN {months - 1} - ((i * 3) % ({months} - 1) + 1) / 2
                    ELSE {months - 1} END,
               CASE WHEN i % 13 = 5 THEN 1 ELSE 0 END,
               CASE WHEN i % 10 < 7 THEN 1 ELSE 0 END
        FROM bench_seq WHERE i <= {{n}}
    """


async def build(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    pg = args.engine == "pg"
    n, months = args.subscribers, args.months
    if months < 2:
        raise SystemExit("--months must be at least 2")
    info: dict[str, Any] = {"engine": args.engine, "subscribers": n, "months": months,
                            "sessions": min(n, args.sessions), "password": BENCH_PASSWORD,
                            "staff": list(STAFF), "first_contract": FIRST_CONTRACT}
    if pg:
        import asyncpg

        from_url = args.pg
        url = from_url.rsplit("/", 1)[0] + f"/{args.name}"
        info.update(database_url=url, name=args.name)
        admin = await asyncpg.connect(from_url)
        try:
            exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", args.name)
            if exists and not args.rebuild:
                conn = await asyncpg.connect(url)
                try:
                    done = await conn.fetchval(
                        "SELECT value FROM bench_info WHERE key = 'params'"
                    ) if await conn.fetchval("SELECT to_regclass('bench_info')") else None
                finally:
                    await conn.close()
                if done == json.dumps(info, sort_keys=True):
                    log(f"reusing database {args.name}")
                    os.environ["DATABASE_URL"] = url
                    return await _reuse(info)
            if exists:
                await admin.execute(f'DROP DATABASE "{args.name}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{args.name}"')
        finally:
            await admin.close()
        os.environ["DATABASE_URL"] = url
    else:
        path = Path(args.path).resolve()
        info.update(sqlite_path=str(path))
        if path.exists() and not args.rebuild:
            import sqlite3

            con = sqlite3.connect(path)
            try:
                row = con.execute("SELECT value FROM bench_info WHERE key = 'params'").fetchone()
            except sqlite3.Error:
                row = None
            finally:
                con.close()
            if row and row[0] == json.dumps(info, sort_keys=True):
                log(f"reusing {path}")
                os.environ.pop("DATABASE_URL", None)
                os.environ["CENTRA_SQLITE_PATH"] = str(path)
                return await _reuse(info)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        os.environ.pop("DATABASE_URL", None)
        os.environ["CENTRA_SQLITE_PATH"] = str(path)
    os.environ.setdefault("CENTRA_SECRET_KEY", "bench-secret-key")

    step = time.perf_counter()
    await _migrate()
    log(f"migrations: {time.perf_counter() - step:.1f} s")
    await _staff_user()
    from piccolo_conf import DB

    if hasattr(DB, "close_pool"):
        await DB.close_pool()
    if pg:
        await _fill_pg(info, n, months)
    else:
        await _fill_sqlite(info, n, months)
    info["generated_seconds"] = round(time.perf_counter() - started, 1)
    log(f"total: {info['generated_seconds']:.1f} s")
    return info


async def _migrate() -> None:
    from piccolo.apps.migrations.commands.forwards import run_forwards

    with contextlib.redirect_stdout(sys.stderr):  # stdout carries only the JSON line
        result = await run_forwards(app_name="all")
    if not result.success:
        raise SystemExit(result.message)
    from piccolo_conf import DB

    if hasattr(DB, "close_pool"):  # kept SQLite connections would block the bulk load's pragmas
        await DB.close_pool()


async def _reuse(info: dict[str, Any]) -> dict[str, Any]:
    """A complete copy exists: apply migrations added since it was built and renew the
    benchmark's sessions (they expire like real ones)."""
    os.environ.setdefault("CENTRA_SECRET_KEY", "bench-secret-key")
    step = time.perf_counter()
    await _migrate()
    from tables.accounts import SubscriberSession

    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    await SubscriberSession.update({
        SubscriberSession.expiry_date: now + dt.timedelta(minutes=29),
        SubscriberSession.max_expiry_date: now + dt.timedelta(hours=11),
    }).where(SubscriberSession.token.like("bench-%"))
    from piccolo_conf import DB

    if hasattr(DB, "close_pool"):
        await DB.close_pool()
    info["generated_seconds"] = 0.0
    log(f"migrations checked: {time.perf_counter() - step:.1f} s")
    return info


async def _staff_user() -> None:
    from piccolo.apps.user.tables import BaseUser

    await BaseUser.create_user(username=STAFF[0], password=STAFF[1], active=True, admin=True,
                               superuser=True, email="bench@centra.test")


def _statements(d: Dialect, n: int, months: int, today: dt.date, now: dt.datetime,
                password_hash: str, sessions: int) -> dict[str, Any]:
    """The set-based statements, shared by both engines (``d`` fills the differences)."""
    streets_total = sum(count for _, count in TOWNS)
    combos = len(STREET_BASES) * len(STREET_KINDS)
    flats = BLOCKS_PER_STREET * FLATS_PER_BLOCK
    start = "bm.start_utc" if d.pg else "bm.start_epoch"
    per_street = BLOCKS_PER_STREET * FLATS_PER_BLOCK + PRIVATE_PER_STREET
    addresses = streets_total * per_street
    seq_max = max(n, addresses, streets_total)
    # A multiplier coprime with the directory size spreads contracts over it (a bijection).
    spread = 7919
    assert addresses % spread != 0
    session_expiry = (now + dt.timedelta(minutes=29)).replace(tzinfo=None)
    session_max = (now + dt.timedelta(hours=11)).replace(tzinfo=None)
    return {
        "seq_max": seq_max,
        "addresses": addresses,
        "directory": [
            # streets: town 1 gets ids 1..240, town 2 the rest
            f"""INSERT INTO street (id, town, name)
                SELECT s.i, CASE WHEN s.i <= {TOWNS[0][1]} THEN 1 ELSE 2 END,
                       k.kind || ' ' || b.base || CASE WHEN (s.i - 1) / {combos} > 0
                            THEN ' ' || {d.text(f"(s.i - 1) / {combos} + 1")}
                            ELSE '' END
                FROM bench_seq s
                JOIN bench_street_base b ON b.k = (s.i - 1) % {len(STREET_BASES)}
                JOIN bench_street_kind k ON k.k = ((s.i - 1) / {len(STREET_BASES)}) % {len(STREET_KINDS)}
                WHERE s.i <= {streets_total}""",
            # per street: blocks 1..8 with flats 1..50, then private houses "101".."130"
            f"""INSERT INTO address (id, street, house, apartment)
                SELECT s.i, (s.i - 1) / {per_street} + 1,
                       CASE WHEN (s.i - 1) % {per_street} < {BLOCKS_PER_STREET * FLATS_PER_BLOCK}
                            THEN {d.text(f"((s.i - 1) % {per_street}) / {FLATS_PER_BLOCK} + 1")}
                            ELSE {d.text(f"101 + (s.i - 1) % {per_street} - {flats}")}
                       END,
                       CASE WHEN (s.i - 1) % {per_street} < {BLOCKS_PER_STREET * FLATS_PER_BLOCK}
                            THEN {d.text(f"((s.i - 1) % {per_street}) % {FLATS_PER_BLOCK} + 1")}
                            ELSE '' END
                FROM bench_seq s WHERE s.i <= {addresses}""",
        ],
        "plan": plan_sql(months).format(n=n),
        "subscribers": f"""
            INSERT INTO subscriber (id, contract_number, full_name, phone, email, address, tariff,
                router_rented, status, connected_on, terminated_on, password_hash,
                must_change_password, failed_logins, locked_until, balance, created_at)
            SELECT p.i, {d.text(f"{FIRST_CONTRACT - 1} + p.i")},
                   sn.v || CASE WHEN nm.k >= 8 THEN 'а' ELSE '' END || ' ' || nm.v || ' '
                        || CASE WHEN nm.k >= 8 THEN replace(pt.v, 'вич', 'вна') ELSE pt.v END,
                   '+7913' || {d.text("1000000 + (p.i * 7331) % 9000000")},
                   CASE WHEN p.i % 3 = 0 THEN 'user' || {d.text("p.i")} || '@mail.ru' ELSE '' END,
                   (p.i * {spread}) % {addresses} + 1,
                   p.i % 3 + 1,
                   (p.i % 3 <> 1 AND p.i % 4 = 0),
                   CASE WHEN p.last_month < {months - 1} THEN 'terminated' ELSE 'active' END,
                   {d.date(start, "p.i % 20")},
                   CASE WHEN p.last_month < {months - 1}
                        THEN {d.date("bl.start_utc" if d.pg else "bl.start_epoch", "20")} END,
                   '{password_hash}', false, 0, NULL, 0,
                   {d.ts(start, "p.i % 86400")}
            FROM bench_plan p
            JOIN bench_month bm ON bm.m = p.first_month
            JOIN bench_month bl ON bl.m = p.last_month
            JOIN bench_name sn ON sn.k = p.i % {len(SURNAMES)}
            JOIN bench_first nm ON nm.k = (p.i / 7) % {len(NAMES)}
            JOIN bench_patronymic pt ON pt.k = (p.i / 3) % {len(PATRONYMICS)}""",
        "charges": f"""
            INSERT INTO ledger_entry (subscriber, amount, kind, period, reference, comment,
                                      created_at, created_by)
            SELECT p.i, -(t.monthly_fee + CASE WHEN s.router_rented THEN t.router_fee ELSE 0 END),
                   'charge', bm.period, 'charge:' || {d.text("p.i")} || ':' || bm.period,
                   'Абонентская плата', {d.ts(start, "300 + p.i % 3000")},
                   'system'
            FROM bench_plan p
            JOIN subscriber s ON s.id = p.i
            JOIN tariff t ON t.id = s.tariff
            JOIN bench_month bm ON bm.m = {{m}}
            WHERE p.first_month <= {{m}} AND p.last_month >= {{m}}""",
        "payments": f"""
            INSERT INTO payment (subscriber, amount, refunded_amount, status, channel, period,
                provider_intent_id, provider_charge_id, card_brand, card_last4, failure_reason,
                created_at, updated_at, created_by)
            SELECT x.i, x.amount, 0, 'succeeded', x.channel, x.period,
                   CASE WHEN x.card = 1 THEN 'pi_bench_' || {d.text("x.i")} || '_' || x.period END,
                   CASE WHEN x.card = 1 THEN 'ch_bench_' || {d.text("x.i")} || '_' || x.period ELSE '' END,
                   CASE WHEN x.card = 1 THEN 'visa' ELSE '' END,
                   CASE WHEN x.card = 1 THEN {d.text("1000 + x.i % 9000")} ELSE '' END,
                   '', x.at, x.at, CASE WHEN x.card = 1 THEN 'subscriber' ELSE 'cashier' END
            FROM (
                SELECT p.i, p.card, bm.period,
                       t.monthly_fee + CASE WHEN s.router_rented THEN t.router_fee ELSE 0 END
                           + (p.i % 4) * 5000 AS amount,
                       CASE WHEN p.card = 0 THEN 'office' WHEN p.i % 3 = 0 THEN 'quick_pay'
                            ELSE 'cabinet' END AS channel,
                       {d.ts(start,
                             "86400 * (1 + (p.i * 7 + bm.m * 3) % 27) + (p.i * 37) % 86400")} AS at
                FROM bench_plan p
                JOIN subscriber s ON s.id = p.i
                JOIN tariff t ON t.id = s.tariff
                JOIN bench_month bm ON bm.m = {{m}}
                WHERE p.first_month <= {{m}} AND p.last_month >= {{m}}
                  AND NOT (p.debtor = 1 AND {{m}} >= {months - 2})
            ) x
            WHERE x.at <= {{now}}
            ORDER BY x.at""",
        "payment_entries": f"""
            INSERT INTO ledger_entry (subscriber, amount, kind, period, reference, comment,
                                      created_at, created_by)
            SELECT subscriber, amount, 'payment', period,
                   COALESCE(provider_intent_id, 'payment:' || {d.text("id")}),
                   CASE WHEN channel = 'office' THEN 'Оплата в кассе' ELSE 'Оплата картой' END,
                   created_at, created_by
            FROM payment WHERE id > {{after}} ORDER BY id""",
        "balances": """
            UPDATE subscriber SET balance = x.total
            FROM (SELECT subscriber, SUM(amount) AS total FROM ledger_entry GROUP BY subscriber) x
            WHERE x.subscriber = subscriber.id""",
        "suspend": "UPDATE subscriber SET status = 'suspended' WHERE status = 'active' AND balance < 0",
        "requests": f"""
            INSERT INTO service_request (number, kind, status, subscriber, topic, text,
                applicant_name, applicant_phone, address_text, contact_time,
                created_at, updated_at, closed_at)
            SELECT 'Б-' || {d.text("s.i")},
                   CASE s.i % 4 WHEN 0 THEN 'repair' WHEN 1 THEN 'service'
                        WHEN 2 THEN 'question' ELSE 'tariff_change' END,
                   CASE WHEN s.i % 50 = 0 THEN 'new' WHEN s.i % 50 = 5 THEN 'in_progress'
                        ELSE 'done' END,
                   (s.i * 31) % {n} + 1, '', 'Заявка абонента (тестовые данные)', '', '', '', '',
                   {d.ts(start, "86400 * (s.i % 27) + 3600")},
                   {d.ts(start, "86400 * (s.i % 27) + 7200")},
                   CASE WHEN s.i % 50 IN (0, 5) THEN NULL ELSE
                       {d.ts(start, "86400 * (s.i % 27) + 7200")} END
            FROM bench_seq s
            JOIN bench_month bm ON bm.m = CASE WHEN s.i % 50 IN (0, 5) THEN {months - 2}
                                               ELSE s.i % {months} END
            WHERE s.i <= {n // 5}""",
        "audit": f"""
            INSERT INTO audit_entry (actor_name, action, object_type, object_id, object_repr,
                                     message, before, after, created_at)
            SELECT 'генератор', 'subscriber.created', 'subscriber', {d.text("s.id")},
                   s.contract_number, '', '{{}}', '{{}}', s.created_at
            FROM subscriber s""",
        "sessions": f"""
            INSERT INTO subscriber_session (token, user_id, expiry_date, max_expiry_date, ip, viewer)
            SELECT 'bench-' || {d.text("s.id")}, s.id, {{expiry}}, {{max_expiry}}, '127.0.0.1', ''
            FROM subscriber s WHERE s.id <= {sessions}""",
        "session_expiry": session_expiry,
        "session_max": session_max,
    }


def _news_rows(month_list: list[tuple[int, str, dt.datetime]],
               now: dt.datetime) -> tuple[list[tuple], list[tuple]]:
    """News (4 a month) and maintenance notices (2 a month, one active now) with areas."""
    news, areas = [], []
    nid = 0
    for m, period, start in month_list:
        for k in range(4):
            at = start + dt.timedelta(days=3 + 7 * k, hours=3)
            if at > now:
                continue
            nid += 1
            news.append((nid, f"Новость {period} № {k + 1}", "Текст новости (тестовые данные).",
                         "news", True, at, None, None))
        for k in range(2):
            at = start + dt.timedelta(days=5 + 12 * k)
            if at > now:
                continue
            nid += 1
            news.append((nid, f"Плановые работы {period} № {k + 1}", "Возможны перерывы связи.",
                         "maintenance", True, at, at + dt.timedelta(days=2),
                         at + dt.timedelta(days=2, hours=4)))
            areas.append((nid, None, (m * 7 + k) % 300 + 1, None))
    # Active now: a street in each town and one building.
    for town, street in ((1, 5), (2, 250)):
        nid += 1
        news.append((nid, "Плановые работы сейчас", "Идут работы на линии.", "maintenance", True,
                     now - dt.timedelta(hours=2), now - dt.timedelta(hours=1),
                     now + dt.timedelta(days=30)))
        areas.append((nid, None, street, None))
        if town == 2:
            areas.append((nid, town, None, None))
    return news, areas


def _lookup_tables(d: Dialect, seq_max: int) -> list[tuple[str, str, list[tuple]]]:
    return [
        ("bench_street_base", "k INTEGER, base TEXT", list(enumerate(STREET_BASES))),
        ("bench_street_kind", "k INTEGER, kind TEXT", list(enumerate(STREET_KINDS))),
        ("bench_name", "k INTEGER, v TEXT", list(enumerate(SURNAMES))),
        ("bench_first", "k INTEGER, v TEXT", list(enumerate(NAMES))),
        ("bench_patronymic", "k INTEGER, v TEXT", list(enumerate(PATRONYMICS))),
    ]


async def _fill_pg(info: dict[str, Any], n: int, months: int) -> None:
    import asyncpg

    from tables.passwords import hash_password_sync

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    month_list = months_back(now.astimezone(LOCAL_TZ).date(), months)
    d = Dialect(pg=True)
    sql = _statements(d, n, months, now.date(), now, hash_password_sync(BENCH_PASSWORD),
                      info["sessions"])
    conn = await asyncpg.connect(info["database_url"])
    try:
        await conn.execute("SET synchronous_commit = off; SET maintenance_work_mem = '256MB'")
        step = time.perf_counter()
        await conn.execute("CREATE TEMP TABLE bench_seq (i INTEGER PRIMARY KEY)")
        await conn.execute(f"INSERT INTO bench_seq SELECT generate_series(1, {sql['seq_max']})")
        for name, cols, rows in _lookup_tables(d, sql["seq_max"]):
            await conn.execute(f"CREATE TEMP TABLE {name} ({cols})")
            await conn.executemany(f"INSERT INTO {name} VALUES ($1, $2)", rows)
        await conn.execute("CREATE TEMP TABLE bench_month (m INTEGER, period TEXT, start_utc TIMESTAMPTZ)")
        await conn.executemany("INSERT INTO bench_month VALUES ($1, $2, $3)", month_list)
        await conn.execute("CREATE TEMP TABLE bench_plan (i INTEGER PRIMARY KEY, first_month INTEGER,"
                           " last_month INTEGER, debtor INTEGER, card INTEGER)")
        await conn.execute(sql["plan"])
        await _reference_data_pg(conn)
        for statement in sql["directory"]:
            await conn.execute(statement)
        await conn.execute(sql["subscribers"])
        for table in ("town", "street", "address", "subscriber", "tariff"):
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                               f"(SELECT MAX(id) FROM {table}))")
        log(f"directory and {n} subscribers: {time.perf_counter() - step:.1f} s")

        step = time.perf_counter()
        saved = await _drop_bulk_indexes_pg(conn, ("ledger_entry", "payment"))
        now_sql = "'" + now.isoformat() + "'::timestamptz"
        for m, period, _ in month_list:
            await conn.execute(sql["charges"].format(m=m))
            after = await conn.fetchval("SELECT COALESCE(MAX(id), 0) FROM payment")
            await conn.execute(sql["payments"].format(m=m, now=now_sql))
            await conn.execute(sql["payment_entries"].format(after=after))
            if m % 12 == 11 or m == months - 1:
                log(f"  ledger to {period}: {time.perf_counter() - step:.1f} s")
        rows = await conn.fetchval("SELECT COUNT(*) FROM ledger_entry")
        payments = await conn.fetchval("SELECT COUNT(*) FROM payment")
        log(f"ledger {rows:,} rows, payments {payments:,}: {time.perf_counter() - step:.1f} s")
        step = time.perf_counter()
        for statement in saved:
            await conn.execute(statement)
        log(f"ledger/payment indexes and foreign keys rebuilt: {time.perf_counter() - step:.1f} s")

        step = time.perf_counter()
        await conn.execute(sql["balances"])
        await conn.execute(sql["suspend"])
        await conn.execute(sql["requests"])
        news, areas = _news_rows(month_list, now)
        await conn.executemany(
            "INSERT INTO news_item (id, title, body, kind, published, published_at, starts_at, ends_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", news)
        await conn.execute("SELECT setval(pg_get_serial_sequence('news_item', 'id'), "
                           "(SELECT MAX(id) FROM news_item))")
        await conn.executemany(
            "INSERT INTO maintenance_area (news, town, street, address) VALUES ($1, $2, $3, $4)", areas)
        await conn.execute(sql["audit"])
        await conn.execute(sql["sessions"].format(expiry="$1::timestamp", max_expiry="$2::timestamp"),
                           sql["session_expiry"], sql["session_max"])
        log(f"balances, requests, news, audit, sessions: {time.perf_counter() - step:.1f} s")
        step = time.perf_counter()
        await conn.execute("VACUUM (ANALYZE)")  # the steady state autovacuum keeps in production
        log(f"VACUUM (ANALYZE): {time.perf_counter() - step:.1f} s")
        info["ledger_rows"] = rows
        info["payment_rows"] = payments
        await conn.execute("CREATE TABLE bench_info (key TEXT PRIMARY KEY, value TEXT)")
        params = {k: v for k, v in info.items() if k not in ("ledger_rows", "payment_rows")}
        await conn.execute("INSERT INTO bench_info VALUES ('params', $1), ('counts', $2)",
                           json.dumps(params, sort_keys=True),
                           json.dumps({"ledger_rows": rows, "payment_rows": payments}))
    finally:
        await conn.close()


async def _drop_bulk_indexes_pg(conn: Any, tables: tuple[str, ...]) -> list[str]:
    """Drop secondary indexes and foreign keys of ``tables``; return the statements that
    recreate them exactly (taken from the catalog, so the migrated schema is restored)."""
    restore: list[str] = []
    for table in tables:
        fks = await conn.fetch(
            "SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint "
            "WHERE conrelid = $1::regclass AND contype = 'f'", table)
        indexes = await conn.fetch(
            "SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def, "
            "c.conname FROM pg_index i LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid "
            "AND c.conrelid = i.indrelid WHERE i.indrelid = $1::regclass AND NOT i.indisprimary", table)
        for fk in fks:
            await conn.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{fk["conname"]}"')
        for index in indexes:
            if index["conname"]:  # a UNIQUE constraint owns this index
                condef = await conn.fetchval(
                    "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = $1 "
                    "AND conrelid = $2::regclass", index["conname"], table)
                await conn.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{index["conname"]}"')
                restore.append(f'ALTER TABLE "{table}" ADD CONSTRAINT "{index["conname"]}" {condef}')
            else:
                await conn.execute(f"DROP INDEX {index['name']}")
                restore.append(index["def"])
        restore.extend(f'ALTER TABLE "{table}" ADD CONSTRAINT "{fk["conname"]}" {fk["def"]}'
                       for fk in fks)
    return restore


async def _reference_data_pg(conn: Any) -> None:
    await conn.executemany("INSERT INTO town (id, name) VALUES ($1, $2)",
                           [(i + 1, name) for i, (name, _) in enumerate(TOWNS)])
    await conn.executemany(
        "INSERT INTO tariff (id, name, kind, monthly_fee, speed_mbps, channels, router_option, "
        "router_fee, active, sort_order, description) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, true, $1, '')",
        [(i + 1, *t) for i, t in enumerate(TARIFFS)])
    await conn.execute("INSERT INTO site_setting (key, value) VALUES ('hotline_phone', '+7 (3843) 99-00-00')")
    await conn.executemany(
        "INSERT INTO page (slug, title, body, published, in_footer, sort_order) "
        "VALUES ($1, $2, '', true, true, $3)", PAGES)


async def _fill_sqlite(info: dict[str, Any], n: int, months: int) -> None:
    import sqlite3

    from tables.passwords import hash_password_sync

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    month_list = months_back(now.astimezone(LOCAL_TZ).date(), months)
    d = Dialect(pg=False)
    sql = _statements(d, n, months, now.date(), now, hash_password_sync(BENCH_PASSWORD),
                      info["sessions"])
    con = sqlite3.connect(info["sqlite_path"], isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode = WAL")
        con.execute("PRAGMA synchronous = OFF")
        con.execute("PRAGMA cache_size = -262144")
        con.execute("BEGIN")
        step = time.perf_counter()
        con.execute("CREATE TEMP TABLE bench_seq (i INTEGER PRIMARY KEY)")
        con.execute(f"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < "
                    f"{sql['seq_max']}) INSERT INTO bench_seq SELECT i FROM s")
        for name, cols, rows in _lookup_tables(d, sql["seq_max"]):
            con.execute(f"CREATE TEMP TABLE {name} ({cols})")
            con.executemany(f"INSERT INTO {name} VALUES (?, ?)", rows)
        con.execute("CREATE TEMP TABLE bench_month (m INTEGER, period TEXT, start_epoch INTEGER)")
        con.executemany("INSERT INTO bench_month VALUES (?, ?, ?)",
                        [(m, p, int(start.timestamp())) for m, p, start in month_list])
        con.execute("CREATE TEMP TABLE bench_plan (i INTEGER PRIMARY KEY, first_month INTEGER,"
                    " last_month INTEGER, debtor INTEGER, card INTEGER)")
        con.execute(sql["plan"])
        con.executemany("INSERT INTO town (id, name) VALUES (?, ?)",
                        [(i + 1, name) for i, (name, _) in enumerate(TOWNS)])
        con.executemany(
            "INSERT INTO tariff (id, name, kind, monthly_fee, speed_mbps, channels, router_option, "
            "router_fee, active, sort_order, description) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, '')",
            [(i + 1, *t, i + 1) for i, t in enumerate(TARIFFS)])
        con.execute("INSERT INTO site_setting (key, value) VALUES ('hotline_phone', '+7 (3843) 99-00-00')")
        con.executemany(
            "INSERT INTO page (slug, title, body, published, in_footer, sort_order) "
            "VALUES (?, ?, '', 1, 1, ?)", PAGES)
        for statement in sql["directory"]:
            con.execute(statement)
        con.execute(sql["subscribers"])
        log(f"directory and {n} subscribers: {time.perf_counter() - step:.1f} s")

        step = time.perf_counter()
        now_sql = f"'{now.replace(tzinfo=None)}+00:00'"
        for m, period, _ in month_list:
            con.execute(sql["charges"].format(m=m))
            after = con.execute("SELECT COALESCE(MAX(id), 0) FROM payment").fetchone()[0]
            con.execute(sql["payments"].format(m=m, now=now_sql))
            con.execute(sql["payment_entries"].format(after=after))
            if m % 12 == 11 or m == months - 1:
                log(f"  ledger to {period}: {time.perf_counter() - step:.1f} s")
        rows = con.execute("SELECT COUNT(*) FROM ledger_entry").fetchone()[0]
        payments = con.execute("SELECT COUNT(*) FROM payment").fetchone()[0]
        log(f"ledger {rows:,} rows, payments {payments:,}: {time.perf_counter() - step:.1f} s")

        step = time.perf_counter()
        con.execute(sql["balances"])
        con.execute(sql["suspend"])
        con.execute(sql["requests"])
        news, areas = _news_rows(month_list, now)
        con.executemany(
            "INSERT INTO news_item (id, title, body, kind, published, published_at, starts_at, ends_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", news)
        con.executemany("INSERT INTO maintenance_area (news, town, street, address) VALUES (?, ?, ?, ?)",
                        areas)
        con.execute(sql["audit"])
        con.execute(sql["sessions"].format(expiry="?", max_expiry="?"),
                    (str(sql["session_expiry"]), str(sql["session_max"])))
        info["ledger_rows"] = rows
        info["payment_rows"] = payments
        con.execute("CREATE TABLE bench_info (key TEXT PRIMARY KEY, value TEXT)")
        params = {k: v for k, v in info.items() if k not in ("ledger_rows", "payment_rows")}
        con.execute("INSERT INTO bench_info VALUES ('params', ?), ('counts', ?)",
                    (json.dumps(params, sort_keys=True),
                     json.dumps({"ledger_rows": rows, "payment_rows": payments})))
        con.execute("COMMIT")
        # Leave the journal mode to the application (WAL only sped up the build).
        con.execute("PRAGMA journal_mode = DELETE")
        log(f"balances, requests, news, audit, sessions: {time.perf_counter() - step:.1f} s")
    finally:
        con.close()


def counts(info: dict[str, Any]) -> dict[str, Any]:
    """Row counts stored with a (possibly reused) dataset."""
    if info["engine"] == "pg":
        import asyncpg

        async def read() -> str:
            conn = await asyncpg.connect(info["database_url"])
            try:
                return await conn.fetchval("SELECT value FROM bench_info WHERE key = 'counts'")
            finally:
                await conn.close()

        return json.loads(asyncio.run(read()))
    import sqlite3

    con = sqlite3.connect(info["sqlite_path"])
    try:
        return json.loads(con.execute("SELECT value FROM bench_info WHERE key = 'counts'").fetchone()[0])
    finally:
        con.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["pg", "sqlite"], default="pg")
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=60)
    parser.add_argument("--sessions", type=int, default=2000,
                        help="cabinet sessions for the first N subscribers (token bench-<id>)")
    parser.add_argument("--pg", default=os.environ.get("CENTRA_BENCH_PG", DEFAULT_PG),
                        help="PostgreSQL server (admin database URL)")
    parser.add_argument("--name", default=None, help="PostgreSQL database name")
    parser.add_argument("--path", default=None, help="SQLite file")
    parser.add_argument("--rebuild", action="store_true", help="rebuild even if a complete copy exists")
    args = parser.parse_args(argv)
    tag = f"{args.subscribers}x{args.months}"
    args.name = args.name or f"centra_bench_{tag}"
    args.path = args.path or str(Path(os.environ.get("TMPDIR", "/tmp")) / f"centra_bench_{tag}.sqlite3")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    info = asyncio.run(build(args))
    info.update(counts(info))
    print(json.dumps(info, ensure_ascii=False))


if __name__ == "__main__":
    main()
