"""Benchmark 8: the 1st of the month — the provider's hardest hour, all at once (PostgreSQL).

    .venv/bin/python bench/first_of_month.py [--quick] [--keep] [--subscribers N] [--months M]

As deployed (docs/architecture.md): two app processes (uvicorn ``--workers 2``), two job workers
(``python -m jobs worker``), the Stripe sandbox (providers/stripe_sandbox.py), the SMS and mail
sandboxes, Redis when one answers on 127.0.0.1:6379 (shared limits), on a throwaway database
``centra_bench_fom_<n>x<months>`` (bench/generate.py; it is written to, so not the other
benchmarks' dataset). Three phases, one after the other:

1. **charge run alone**: the month's charge (``billing.charge`` deferred to two workers for the
   next uncharged month, as its 00:05 tick on the 1st would) with no traffic, on a copy of the
   database (``CREATE DATABASE … TEMPLATE``): the run is once per month, so the original stays
   uncharged for phase 3 and both runs do the same work from the same state;
2. **idle**: the cabinet's dashboard and statement for random logged-in subscribers (wrk, cut in
   slices of ``--slice`` seconds) with the workers idle and nothing else running;
3. **the hour**: the same cabinet traffic while quick-pay searches (bench/quickpay_load.py's
   requests) run, subscribers pay by card through the cabinet (token at the sandbox, intent, the
   sandbox's webhook back to the app), reconciliations run on a worker and clerks walk the admin's
   list pages (bench/admin_api.py's cases) — first without the charge run (3a, for comparison),
   then with it (3b): the month's charge on a worker and the outbox sending the messages it
   causes (suspensions), until ``--after`` seconds after the charge.

Prints the cabinet's p50/p95 under load against idle (medians over slices; target p95 ≤ 1.5×),
the charge run's own time (its ``BillingRun`` record) under load against alone (target ≤ 1.5×),
errors of every kind (target 0), and then checks the books: every billable contract charged
exactly once (in the hour and on the copy), every credited payment booked once with its amount, nothing booked
for a payment that was not credited, our status of every card payment equal to the sandbox's,
every cached balance equal to its ledger. A check that cannot run counts as failed; any failure
prints FAILED and exits non-zero.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from admin_api import cases as admin_cases
from harness import (
    PYTHON,
    ROOT,
    Dataset,
    Request,
    Result,
    Server,
    check_page,
    cookie_gets,
    csrf_cookie,
    drop,
    ensure_wrk,
    generate,
    machine,
    ok,
    pg_admin_url,
    query,
    table,
    wrk,
)
from quickpay_load import SAMPLE_SQL, real_form, requests_for

TARGET_P95 = 1.5
TARGET_CHARGE = 1.5
REDIS_URL = "redis://127.0.0.1:6379/12"
CARD_OK, CARD_DECLINED = "4242424242424242", "4000000000000341"
SCALE = {"full": (100_000, 60), "quick": (5_000, 12)}


# --- child processes: the job queue and the books, through the product's own code ---------------

async def _defer(task: str, timestamp: int) -> dict[str, Any]:
    from jobs.engine import app
    from jobs.schedules import charge, reconcile

    async with app.open_async():
        job = {"charge": charge, "reconcile": reconcile}[task]
        return {"job_id": await job.defer_async(timestamp=timestamp)}


async def _verify(periods: list[str], ticks: list[int], since_payment: int) -> dict[str, Any]:
    """The books after the run (raw SQL on purpose: it must not share a bug with the code)."""
    from piccolo_conf import DB
    from tables.billing.charge_run import preview_charges
    from tables.ledger import LedgerEntry

    await DB.start_connection_pool()
    out: dict[str, Any] = {}
    for period, tick in zip(periods, ticks, strict=True):
        preview = await preview_charges(period, now=dt.datetime.fromtimestamp(tick, dt.UTC))
        rows = await LedgerEntry.raw(
            "SELECT COUNT(*) AS entries, COUNT(DISTINCT subscriber) AS contracts FROM ledger_entry "
            "WHERE kind = 'charge' AND period = {} AND reference LIKE 'charge:%'", period)
        runs = await LedgerEntry.raw(
            "SELECT status, contracts_charged FROM billing_run WHERE period = {}", period)
        out[period] = {"billable_not_charged": preview.contracts, "entries": rows[0]["entries"],
                       "contracts": rows[0]["contracts"], "runs": [dict(r) for r in runs]}
    credited = "('succeeded', 'refunded')"
    checks = {
        "credited_without_entry": f"""SELECT COUNT(*) AS n FROM payment p WHERE p.id > {since_payment}
            AND p.status IN {credited} AND NOT EXISTS (SELECT 1 FROM ledger_entry e
            WHERE e.reference = p.provider_intent_id AND e.kind = 'payment')""",
        "entry_amount_differs": f"""SELECT COUNT(*) AS n FROM payment p JOIN ledger_entry e
            ON e.reference = p.provider_intent_id WHERE p.id > {since_payment}
            AND (e.amount <> p.amount OR e.subscriber <> p.subscriber)""",
        "entry_without_credit": f"""SELECT COUNT(*) AS n FROM payment p JOIN ledger_entry e
            ON e.reference = p.provider_intent_id WHERE p.id > {since_payment}
            AND p.status NOT IN {credited}""",
        "entries_per_intent_over_1": f"""SELECT COUNT(*) AS n FROM (SELECT e.reference FROM ledger_entry e
            JOIN payment p ON p.provider_intent_id = e.reference WHERE p.id > {since_payment}
            GROUP BY e.reference HAVING COUNT(*) > 1) d""",
        "balance_mismatches": """SELECT COUNT(*) AS n FROM subscriber s LEFT JOIN (SELECT subscriber,
            SUM(amount) AS total FROM ledger_entry GROUP BY subscriber) l ON l.subscriber = s.id
            WHERE s.balance <> COALESCE(l.total, 0)""",
    }
    for name, sql in checks.items():
        out[name] = int((await LedgerEntry.raw(sql))[0]["n"])
    payments = await LedgerEntry.raw(
        f"SELECT id, status, provider_intent_id FROM payment WHERE id > {since_payment}")
    out["payments"] = [dict(p) for p in payments]
    await DB.close_connection_pool()
    return out


#: PostgreSQL refuses connections beyond ``max_connections`` (100 by default), which a shared
#: server reaches when other test suites run beside the benchmark: wait and try again.
BUSY = "too many clients"


def child(env: dict[str, str], *args: str) -> dict[str, Any]:
    for attempt in range(6):
        out = subprocess.run([PYTHON, __file__, *args], cwd=ROOT, env={**os.environ, **env},
                             capture_output=True, text=True)
        if out.returncode == 0 or BUSY not in out.stderr:
            break
        time.sleep(5 * (attempt + 1))
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def retried(data: Dataset, sql: str) -> list[tuple]:
    """:func:`harness.query`, waiting while the server has no connection to spare."""
    for attempt in range(6):
        try:
            return query(data, sql)
        except Exception as exc:
            if BUSY not in str(exc) or attempt == 5:
                raise
            time.sleep(5 * (attempt + 1))
    raise AssertionError("unreachable")


# --- the database, read directly -----------------------------------------------------------------

class Db:
    def __init__(self, data: Dataset) -> None:
        self.data = data

    def one(self, sql: str) -> Any:
        return retried(self.data, sql)[0][0]

    def next_period(self) -> str:
        """The month after the last one charged (a rerun on a kept dataset moves on)."""
        last = self.one("SELECT MAX(period) FROM ledger_entry WHERE kind = 'charge'")
        from tables.month import Month

        return (Month.parse(last) + 1).iso

    def job(self, job_id: int) -> tuple[str, float | None]:
        """(status, seconds between the job's start and end on the worker)."""
        status = self.one(f"SELECT status FROM procrastinate_jobs WHERE id = {job_id}")
        events = dict(retried(self.data, f"SELECT type, at FROM procrastinate_events WHERE job_id = {job_id} "
                                       "AND type IN ('started', 'succeeded', 'failed')"))
        took = None
        if "started" in events and ("succeeded" in events or "failed" in events):
            took = ((events.get("succeeded") or events["failed"]) - events["started"]).total_seconds()
        return status, took

    def run_seconds(self, period: str) -> float:
        """The charge run's own time, as its ``BillingRun`` record says."""
        return float(self.one(
            "SELECT EXTRACT(EPOCH FROM finished_at - started_at) FROM billing_run "
            f"WHERE period = '{period}' AND status = 'done' ORDER BY id DESC LIMIT 1"))


def tick_of(period: str) -> int:
    """00:05 Novokuznetsk time on the 1st of ``period``: the month-start tick of the charge."""
    from tables.calendar import LOCAL_TZ

    year, month = (int(x) for x in period.split("-"))
    return int(dt.datetime(year, month, 1, 0, 5, tzinfo=LOCAL_TZ).timestamp())


def wait_job(db: Db, job_id: int, timeout: float = 1800) -> tuple[str, float | None]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, took = db.job(job_id)
        if status in ("succeeded", "failed", "cancelled", "aborted"):
            return status, took
        time.sleep(0.3)
    return "timeout", None


# --- traffic -------------------------------------------------------------------------------------

class Loop(threading.Thread):
    """Runs ``step`` until stopped; collects what it returns; counts exceptions as errors."""

    def __init__(self, name: str, step: Any) -> None:
        super().__init__(name=name, daemon=True)
        self.step, self.stop, self.results, self.failures = step, threading.Event(), [], []

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.results.append(self.step(self.stop))
            except Exception as exc:  # an error of the load, reported (never hidden)
                self.failures.append(repr(exc)[:300])
                time.sleep(0.5)


def clerk(url: str, staff: tuple[str, str], pages: list[dict[str, Any]], think: float):
    """A clerk logged into the admin walking list pages (count, then rows), with a pause."""
    import httpx

    def step(stop: threading.Event) -> dict[str, Any]:
        async def run() -> dict[str, Any]:
            done, errors, times = 0, [], []
            async with httpx.AsyncClient(base_url=url, timeout=120) as client:
                await client.get("/admin/")
                login = await client.post("/admin/public/login/",
                                          headers={"X-CSRFToken": client.cookies.get("csrftoken")},
                                          json={"username": staff[0], "password": staff[1]})
                login.raise_for_status()
                while not stop.is_set():
                    case = random.choice(pages)
                    api = f"/admin/api/tables/{case['table']}/"
                    started = time.perf_counter()
                    count = await client.get(api + "count/", params={
                        k: v for k, v in case["params"].items() if k != "__order"})
                    rows = await client.get(api, params={"__readable": "true", "__page_size": "15",
                                                         **case["params"]})
                    times.append(time.perf_counter() - started)
                    for answer in (count, rows):
                        if answer.status_code != 200:
                            errors.append(f"{answer.request.url.path}: {answer.status_code}")
                    done += 1
                    await asyncio.sleep(think)
            return {"pages": done, "errors": errors, "times": times}

        return asyncio.run(run())

    return step


def payer(url: str, sandbox_url: str, tokens: list[str], counter: itertools.count):
    """A subscriber paying by card in the cabinet, as the browser does it (Stripe.js's token
    made at the sandbox; the card number never reaches us); one payment per step, 1 in 10
    with a card the bank declines."""
    import httpx

    from providers.stripe_sandbox import TEST_PUBLISHABLE_KEY

    def step(stop: threading.Event) -> dict[str, Any]:
        async def run() -> dict[str, Any]:
            n = next(counter)
            session = random.choice(tokens)
            ip = f"10.200.{(n >> 8) & 255}.{n & 255}"
            headers = {"X-Forwarded-For": ip}
            async with httpx.AsyncClient(base_url=url, timeout=60, headers=headers,
                                         cookies={"centra_session": session}) as site, \
                    httpx.AsyncClient(base_url=sandbox_url, timeout=60) as bank:
                form = await site.get("/cabinet/pay")
                csrf = re.search(r'name="_csrf_token" value="([^"]+)"', form.text)
                if form.status_code != 200 or not csrf:
                    return {"error": f"GET /cabinet/pay: {form.status_code}"}
                start = await site.post("/cabinet/pay", data={"amount": f"{300 + n % 700}",
                                                              "_csrf_token": csrf.group(1)})
                where = re.fullmatch(r"/cabinet/pay/(\d+)", start.headers.get("location", ""))
                if start.status_code != 303 or not where:
                    return {"error": f"POST /cabinet/pay: {start.status_code} {said(start.text)}"}
                payment_id = int(where.group(1))
                card = CARD_DECLINED if n % 10 == 0 else CARD_OK
                token = await bank.post("/v1/tokens", data={
                    "key": TEST_PUBLISHABLE_KEY, "card[number]": card, "card[exp_month]": "12",
                    "card[exp_year]": "34", "card[cvc]": "123"})
                token.raise_for_status()
                submit = await site.post(f"/cabinet/pay/{payment_id}/card", data={
                    "token": token.json()["id"], "_csrf_token": csrf.group(1)})
                if submit.status_code not in (303, 400) or (submit.status_code == 400
                                                            and card == CARD_OK):
                    return {"error": f"POST card: {submit.status_code} {said(submit.text)}",
                            "payment": payment_id}
                result = await site.get(f"/cabinet/pay/result/{payment_id}")
                if result.status_code != 200:
                    return {"error": f"GET result: {result.status_code}", "payment": payment_id}
                return {"payment": payment_id, "declined": card == CARD_DECLINED}

        return asyncio.run(run())

    return step


def said(html: str) -> str:
    """The error a form page shows (its ``class="error"`` element), else the page's start."""
    found = re.search(r'class="[^"]*error[^"]*"[^>]*>([^<]+)<', html)
    return found.group(1).strip() if found else html[:200]


def slices(url: str, requests: list[Request], *, seconds: float, count: int, connections: int,
           until: Any = None) -> list[tuple[float, float, Result]]:
    """wrk runs of ``seconds`` back to back: ``count`` of them, and more while ``until()``."""
    out = []
    while len(out) < count or (until and until()):
        started = time.time()
        result = wrk(url, requests, seconds=seconds, connections=connections)
        out.append((started, time.time(), result))
    return out


def summary(runs: list[tuple[float, float, Result]]) -> dict[str, float]:
    results = [r for _, _, r in runs]
    return {"rps": statistics.median(r.rps for r in results),
            "p50": statistics.median(r.p50 for r in results),
            "p95": statistics.median(r.p95 for r in results), "p95_max": max(r.p95 for r in results),
            "errors": sum(r.errors for r in results), "requests": sum(r.requests for r in results)}


# --- the run --------------------------------------------------------------------------------------

def copy_of(data: Dataset) -> Dataset:
    """A copy of the dataset's database (``CREATE DATABASE … TEMPLATE``: nobody may be connected)."""
    import asyncpg

    name = f"{data.info['name']}_copy"
    url = data.info["database_url"].rsplit("/", 1)[0] + f"/{name}"

    async def make() -> None:
        conn = await asyncpg.connect(pg_admin_url())
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{data.info["name"]}"')
        finally:
            await conn.close()

    started = time.monotonic()
    asyncio.run(make())
    print(f"  copied the database in {time.monotonic() - started:.0f} s", flush=True)
    return Dataset({**data.info, "name": name, "database_url": url})


def redis_up() -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def start_workers(env: dict[str, str], log_dir: Path, phase: str) -> list[subprocess.Popen]:
    workers = []
    for i in (1, 2):
        log = open(log_dir / f"worker{i}-{phase}.log", "w")  # closed with the process
        workers.append(subprocess.Popen([PYTHON, "-m", "jobs", "worker"], cwd=ROOT, env={**os.environ, **env},
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
    return workers


def stop_workers(workers: list[subprocess.Popen]) -> None:
    for w in workers:
        if w.poll() is None:
            os.killpg(w.pid, signal.SIGTERM)
    for w in workers:
        try:
            w.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(w.pid, signal.SIGKILL)
            w.wait()


def run(data: Dataset, args: argparse.Namespace) -> bool:
    from providers.mail_catcher import MailCatcher
    from providers.sms_sandbox import SANDBOX_API_ID, SmsSandbox
    from providers.stripe_sandbox import Sandbox

    db = Db(data)
    period = db.next_period()
    tick = tick_of(period)
    since_payment = int(db.one("SELECT COALESCE(MAX(id), 0) FROM payment"))
    # A kept dataset's outbox starts empty: what an earlier run left is not this hour's work.
    query(data, "UPDATE notification SET status = 'skipped', last_error = 'bench: an earlier run' "
                "WHERE status = 'pending'")
    since_note = int(db.one("SELECT COALESCE(MAX(id), 0) FROM notification"))
    since_job = int(db.one("SELECT COALESCE(MAX(id), 0) FROM procrastinate_jobs"))
    log_dir = Path(tempfile.mkdtemp(prefix="centra-fom-"))
    stripe, gateway, mailbox = Sandbox().start(), SmsSandbox().start(), MailCatcher().start()
    redis = redis_up()
    env = {**data.env, **stripe.env(), "CENTRA_SMS_API_URL": gateway.base_url,
           "CENTRA_SMS_API_ID": SANDBOX_API_ID, "CENTRA_SMTP_HOST": "127.0.0.1",
           "CENTRA_SMTP_PORT": str(mailbox.port), "CENTRA_SMTP_SECURITY": "none",
           "CENTRA_EMBEDDED_WORKER": "0"}
    if redis:
        import redis as redis_client

        redis_client.Redis.from_url(REDIS_URL).flushdb()
        env["REDIS_URL"] = REDIS_URL
    print(f"  month charged: {period}; Redis: {'yes' if redis else 'no (limits per process)'}; "
          f"logs in {log_dir}", flush=True)
    errors: dict[str, int] = {}
    # 1. The charge run alone: the same month from the same state, on a copy of the database
    # (the run is once per month: the loaded run below needs the uncharged original), by the
    # same two workers' code with nothing else running.
    copy = copy_of(data)
    try:
        copy_env = {**env, "DATABASE_URL": copy.info["database_url"]}
        workers = start_workers(copy_env, log_dir, "alone")
        try:
            job = child(copy_env, "--defer", "charge", "--timestamp", str(tick))["job_id"]
            status, alone_job = wait_job(Db(copy), job)
        finally:
            stop_workers(workers)
        if status != "succeeded":
            raise RuntimeError(f"the charge job for {period} ended {status} on the copy")
        alone = Db(copy).run_seconds(period)
        print(f"  charge run alone: {alone:.2f} s (job {alone_job} s)", flush=True)
        alone_books = child(copy_env, "--verify", period, "--ticks", str(tick), "--since-payment",
                            str(since_payment))
    finally:
        drop(copy)
    workers = start_workers(env, log_dir, "hour")
    notes: list[str] = []
    try:
        with Server("app:create_app", env, workers=2) as site:
            stripe.register_webhook(site.url + "/payments/webhook")
            tokens = data.tokens()
            csrf = csrf_cookie(site.url)
            check_page(site.url, "/cabinet/", tokens[0], "Баланс")
            check_page(site.url, "/cabinet/statement", tokens[0], "Выписка")
            cabinet = cookie_gets("/cabinet/", tokens, csrf) + cookie_gets("/cabinet/statement", tokens, csrf)
            n = data.info["subscribers"]
            samples = query(data, SAMPLE_SQL.format(step=max(1, n // 2000), limit=2000))
            quickpay = requests_for("contract", samples, form=real_form(site.url))
            pages = admin_cases(data)
            wrk(site.url, cabinet, seconds=2, connections=args.connections)  # warm-up

            # 2. idle
            idle = slices(site.url, cabinet, seconds=args.slice, count=args.slices,
                          connections=args.connections)
            print(f"  idle: {summary(idle)}", flush=True)

            # 3. the hour
            counter = itertools.count(1)
            loads = [Loop("quickpay", lambda stop: wrk(site.url, quickpay, seconds=args.slice,
                                                       connections=args.quickpay_connections))]
            loads += [Loop(f"clerk{i}", clerk(site.url, tuple(data.info["staff"][:2]), pages, args.think))
                      for i in range(args.clerks)]
            # Payers among the logged-in contracts that are not terminated (a terminated one may
            # pay its debt only: the form refuses other amounts, rightly).
            payers = [f"bench-{i}" for (i,) in query(data, "SELECT id FROM subscriber WHERE status <> "
                                                         f"'terminated' AND id <= {len(tokens)}")]
            loads += [Loop(f"payer{i}", payer(site.url, stripe.base_url, payers, counter))
                      for i in range(args.payers)]
            hour_started = time.time()
            for load in loads:
                load.start()
            time.sleep(2)
            # 3a. the same traffic and a reconciliation without the charge run: what the charge
            # itself adds is the difference between 3a and 3b.
            reconciles = [child(env, "--defer", "reconcile", "--timestamp", str(int(time.time())))["job_id"]]
            traffic = slices(site.url, cabinet, seconds=args.slice, count=args.slices,
                             connections=args.connections)
            print(f"  traffic without the charge: {summary(traffic)}", flush=True)
            # 3b. ... and the charge run, another reconciliation, the outbox with its messages.
            reconciles.append(child(env, "--defer", "reconcile", "--timestamp",
                                    str(int(time.time()) + 1))["job_id"])
            job = child(env, "--defer", "charge", "--timestamp", str(tick))["job_id"]
            state: dict[str, Any] = {}

            def charging() -> bool:
                """Until the charge is done and the outbox had ``--after`` seconds for its messages."""
                if state.get("status") not in ("succeeded", "failed"):
                    status, took = db.job(job)
                    state.update(status=status, took=took, done_at=time.monotonic())
                    return status in ("todo", "doing")
                return time.monotonic() - state["done_at"] < args.after

            busy = slices(site.url, cabinet, seconds=args.slice, count=args.slices,
                          connections=args.connections, until=charging)
            hour_ended = time.time()
            for load in loads:
                load.stop.set()
            for load in loads:
                load.join(timeout=120)
            if state.get("status") != "succeeded":
                raise RuntimeError(f"the charge job for {period} ended {state.get('status')}")
            loaded = db.run_seconds(period)
            load_avg = os.getloadavg()
            # Settle: stragglers' webhooks (~1 s after the event), then a reconciliation.
            time.sleep(3)
            settle = child(env, "--defer", "reconcile", "--timestamp", str(int(time.time()) + 1))["job_id"]
            for name, job_id in [*(("reconciliation during the hour", r) for r in reconciles),
                                 ("reconciliation after", settle)]:
                if wait_job(db, job_id, timeout=300)[0] != "succeeded":
                    errors[name] = errors.get(name, 0) + 1
    finally:
        stop_workers(workers)
        stripe_intents = intents(stripe.base_url, [row[0] for row in query(
            data, f"SELECT provider_intent_id FROM payment WHERE id > {since_payment} "
                  "AND provider_intent_id IS NOT NULL")])
        stripe.stop()
        gateway.stop()
        mailbox.stop()
        if redis:
            import redis as redis_client

            redis_client.Redis.from_url(REDIS_URL).flushdb()

    # Errors of every kind.
    quick = [r for r in loads[0].results]
    clerks = [r for load in loads[1:1 + args.clerks] for r in load.results]
    payments = [r for load in loads[1 + args.clerks:] for r in load.results]
    errors["cabinet (wrk: non-2xx/3xx, timeouts)"] = sum(summary(x)["errors"] for x in (idle, traffic, busy))
    errors["quick pay (wrk)"] = sum(r.errors for r in quick)
    errors["clerks' pages"] = sum(len(r["errors"]) for r in clerks)
    errors["card payments"] = sum(1 for r in payments if "error" in r)
    errors["load threads' exceptions"] = sum(len(load.failures) for load in loads)
    failed_jobs = query(data, f"SELECT task_name, status FROM procrastinate_jobs WHERE id > {since_job} "
                              "AND (status = 'failed' OR attempts > 1)")
    errors["jobs failed or retried"] = len(failed_jobs)
    errors["workers exited"] = sum(1 for w in workers if w.returncode not in (0, -signal.SIGTERM))
    for load in loads:
        notes += [f"{load.name}: {f}" for f in load.failures[:3]]
    notes += [f"payment: {r['error']}" for r in payments if "error" in r][:5]
    notes += [f"clerk: {e}" for r in clerks for e in r["errors"]][:5]
    notes += [f"job {t} {s}" for t, s in failed_jobs][:5]

    i, t, b = summary(idle), summary(traffic), summary(busy)
    p95_ratio, charge_ratio = b["p95"] / i["p95"], loaded / alone
    print(f"\n## Benchmark 8: the 1st of the month, {data.label}\n")
    print(f"{machine()}; load average at the end of the hour {load_avg[0]:.1f} / {load_avg[1]:.1f} / "
          f"{load_avg[2]:.1f}; two app processes, two workers; cabinet wrk -c{args.connections} in "
          f"{args.slice:.0f} s slices (medians over {len(idle)} / {len(traffic)} / {len(busy)} slices)\n")
    print(table(["cabinet (dashboard + statement)", "req/s", "p50 ms", "p95 ms", "worst slice p95 ms",
                 "requests", "errors"],
                [[name, f"{s['rps']:,.0f}", f"{s['p50']:.1f}", f"{s['p95']:.1f}", f"{s['p95_max']:.1f}",
                  f"{s['requests']:,}", s["errors"]]
                 for name, s in (("idle", i), ("the hour's traffic, no charge run", t),
                                 ("the hour (with the charge run)", b))]))
    print()
    quick_rps = statistics.median(r.rps for r in quick) if quick else 0
    clerk_times = [t for r in clerks for t in r["times"]]
    paid = [r for r in payments if "payment" in r and "error" not in r]
    print(table(["beside it, during the hour", "amount"], [
        [f"quick-pay searches (wrk -c{args.quickpay_connections}), req/s median / p95 ms",
         f"{quick_rps:,.0f} / {statistics.median(r.p95 for r in quick):.1f}" if quick else "none"],
        [f"clerks' list pages ({args.clerks} clerks), pages / median ms",
         f"{len(clerk_times)} / {statistics.median(clerk_times) * 1000:,.0f}" if clerk_times else "none"],
        [f"card payments ({args.payers} at a time), done / declined by the bank",
         f"{len(paid)} / {sum(1 for r in paid if r['declined'])}"],
        [f"messages queued / sent during the hour (it goes on {args.after:.0f} s after the charge)",
         outbox(data, since_note, hour_started, hour_ended)],
    ]))
    print()
    verdicts = [
        ["cabinet p95, the hour / idle", f"{p95_ratio:.2f}×", f"≤ {TARGET_P95}×",
         ok(p95_ratio <= TARGET_P95)],
        ["  of which the charge run: the hour / its traffic alone", f"{b['p95'] / t['p95']:.2f}×",
         "(information)", ""],
        [f"charge run of {period}, under load {loaded:.2f} s / alone {alone:.2f} s",
         f"{charge_ratio:.2f}×", f"≤ {TARGET_CHARGE}×", ok(charge_ratio <= TARGET_CHARGE)],
        ["errors", str(sum(errors.values())), "0", ok(sum(errors.values()) == 0)],
    ]
    print(table(["measure", "value", "target", "met"], verdicts))
    print()
    print(table(["errors by kind", "count"], [[k, v] for k, v in errors.items()]))
    for note in notes:
        print(f"  {note}")
    return books(env, period, tick, since_payment, stripe_intents, paid, alone_books)


def intents(sandbox_url: str, ids: list[str]) -> dict[str, str] | None:
    """The sandbox's status of each of these PaymentIntents (None if they could not be read)."""
    import httpx

    found: dict[str, str] = {}
    try:
        with httpx.Client(base_url=sandbox_url, timeout=30,
                          headers={"Authorization": "Bearer sk_test_reader"}) as bank:
            for intent_id in ids:
                answer = bank.get(f"/v1/payment_intents/{intent_id}")
                answer.raise_for_status()
                found[intent_id] = answer.json()["status"]
    except Exception as exc:
        print(f"  the sandbox's intents could not be read: {exc!r}")
        return None
    return found


def outbox(data: Dataset, since: int, started: float, ended: float) -> str:
    queued = query(data, f"SELECT COUNT(*) FROM notification WHERE id > {since}")[0][0]
    sent = query(data, "SELECT COUNT(*) FROM notification WHERE sent_at >= "
                       f"to_timestamp({started}) AND sent_at < to_timestamp({ended})")[0][0]
    return f"{queued:,} / {sent:,}"


def books(env: dict[str, str], period: str, tick: int, since_payment: int,
          stripe_intents: dict[str, str] | None, paid: list[dict[str, Any]],
          alone: dict[str, Any]) -> bool:
    """Every contract charged exactly once, every payment credited once: True when all hold."""
    rows: list[list[Any]] = []

    def check(name: str, value: Any, good: bool) -> None:
        rows.append([name, value, "yes" if good else "FAILED"])

    try:
        found = child(env, "--verify", period, "--ticks", str(tick), "--since-payment", str(since_payment))
    except Exception as exc:
        print(f"\nFAILED: the books could not be checked: {exc}")
        return False
    for label, books_of in (("the hour", found), ("alone (copy)", alone)):
        p = books_of[period]
        runs = p["runs"]
        check(f"{label}: billable contracts left uncharged", p["billable_not_charged"],
              p["billable_not_charged"] == 0)
        check(f"{label}: charge entries / contracts charged", f"{p['entries']:,} / {p['contracts']:,}",
              p["entries"] == p["contracts"] > 0)
        check(f"{label}: runs (status, contracts)", ", ".join(f"{r['status']} {r['contracts_charged']:,}"
                                                             for r in runs) or "none",
              sum(r["contracts_charged"] for r in runs if r["status"] == "done") == p["entries"])
        check(f"{label}: balances ≠ their ledger", books_of["balance_mismatches"],
              books_of["balance_mismatches"] == 0)
    if found[period]["entries"] != alone[period]["entries"]:
        check("the hour charged as many contracts as the run alone",
              f"{found[period]['entries']:,} ≠ {alone[period]['entries']:,}", False)
    for name in ("credited_without_entry", "entry_amount_differs", "entry_without_credit",
                 "entries_per_intent_over_1"):
        check(name.replace("_", " "), found[name], found[name] == 0)
    ours = found["payments"]
    mine = {r["payment"] for r in paid}
    check("card payments made / found in the database", f"{len(mine)} / {len(ours)}",
          mine <= {p["id"] for p in ours} and len(mine) > 0)
    if stripe_intents is None:
        check("our status = the sandbox's, per intent", "could not be read", False)
    else:
        expected = {"succeeded": "succeeded", "requires_payment_method": "failed", "canceled": "failed"}
        differ = [p for p in ours if p["provider_intent_id"]
                  and expected.get(stripe_intents.get(p["provider_intent_id"], "?")) != p["status"]]
        check("our status ≠ the sandbox's (intents)", f"{len(differ)} of "
              f"{sum(1 for p in ours if p['provider_intent_id'])}", not differ)
        open_ = [p for p in ours if p["status"] in ("created", "requires_action")]
        check("payments still open after reconciliation", len(open_), not open_)
    print("\n### The books afterwards\n")
    print(table(["check", "found", "holds"], rows))
    good = all(r[2] == "yes" for r in rows)
    print("\nbooks: all checks hold" if good else "\nFAILED: the books do not add up (see above)")
    return good


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5,000 contracts, short slices")
    parser.add_argument("--engine", choices=["pg", "sqlite", "both"], default="pg",
                        help="PostgreSQL only (run_all.py passes its --engine)")
    parser.add_argument("--subscribers", type=int, default=None)
    parser.add_argument("--months", type=int, default=None)
    parser.add_argument("--slice", type=float, default=None, help="seconds per cabinet wrk slice")
    parser.add_argument("--slices", type=int, default=None, help="slices at least, per phase")
    parser.add_argument("--connections", type=int, default=8, help="cabinet wrk connections")
    parser.add_argument("--quickpay-connections", type=int, default=2)
    parser.add_argument("--clerks", type=int, default=2)
    parser.add_argument("--think", type=float, default=1.0, help="a clerk's pause between pages, s")
    parser.add_argument("--payers", type=int, default=2, help="card payments at a time")
    parser.add_argument("--after", type=float, default=None,
                        help="seconds the hour goes on after the charge (the outbox sends its messages)")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--defer", help=argparse.SUPPRESS)
    parser.add_argument("--timestamp", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--verify", help=argparse.SUPPRESS)
    parser.add_argument("--ticks", help=argparse.SUPPRESS)
    parser.add_argument("--since-payment", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.defer:
        print(json.dumps(asyncio.run(_defer(args.defer, args.timestamp))))
        return
    if args.verify:
        print(json.dumps(asyncio.run(_verify(args.verify.split(","), [int(t) for t in args.ticks.split(",")],
                                             args.since_payment)), default=str))
        return
    if args.engine == "sqlite":
        print("first_of_month: PostgreSQL only (several hosts and workers share one database); skipped")
        return
    ensure_wrk()
    scale = "quick" if args.quick else "full"
    subscribers = args.subscribers or SCALE[scale][0]
    months = args.months or SCALE[scale][1]
    args.slice = args.slice or (3.0 if args.quick else 5.0)
    args.slices = args.slices or (3 if args.quick else 6)
    args.after = args.after if args.after is not None else (15.0 if args.quick else 45.0)
    print(f"first_of_month: {machine()}", flush=True)
    data = generate("pg", subscribers, months, name=f"centra_bench_fom_{subscribers}x{months}")
    try:
        good = run(data, args)
    finally:
        if not args.keep:
            drop(data)
    if not good:
        sys.exit(1)


if __name__ == "__main__":
    main()
