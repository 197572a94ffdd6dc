"""Benchmark 7: a mass send to every subscriber, drained through the local SMS gateway.

    .venv/bin/python bench/messages_drain.py [--engine pg|sqlite|both] [--quick] [--keep]

1. Queue: one broadcast to every contract (``tables.broadcasts.send_broadcast``: 100,000 rows in
   one transaction; 10,000 with ``--quick``), timed.
2. Gateway ceiling: the local SMS.ru-style gateway (providers/sms_sandbox.py) hammered by the
   same client the outbox uses, one request at a time (the outbox sends one at a time).
3. Drain: a separate process calls ``send_pending`` back to back (no 15 s pause, no per-pass
   broadcast cap: the capacity, not the production throttle) until the queue is empty or
   ``--drain-seconds`` pass; messages/s against the ceiling, the drain process's RSS sampled
   every 0.5 s (first, peak, last: flat means the batch does not grow with the queue).
4. The cabinet dashboard (wrk, ``-c4``) idle and while the drain runs; target p95 during the
   drain ≤ 1.5× idle.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import (
    PYTHON,
    ROOT,
    SCALES,
    Server,
    check_page,
    cookie_gets,
    csrf_cookie,
    dataset,
    machine,
    ok,
    table,
    wrk,
)

TARGET_P95 = 1.5
TEXT = "Centra: 10.12 с 10:00 до 12:00 плановые работы, возможны перебои"
#: Noon in Novokuznetsk: outside the quiet hours whenever the benchmark runs.
NOON = dt.datetime(2026, 12, 7, 5, 0, tzinfo=dt.UTC)


async def _open_db():
    from piccolo.engine.postgres import PostgresEngine

    from db.engine import engine

    db = engine()
    if isinstance(db, PostgresEngine):
        await db.start_connection_pool()
    return db


async def _queue() -> dict:
    from tables.audit import Actor
    from tables.broadcasts import Segment, send_broadcast
    from tables.notifications import Notification

    await _open_db()
    await Notification.delete(force=True)
    started = time.monotonic()
    broadcast = await send_broadcast(Segment(), TEXT.removeprefix("Centra: "), "notice",
                                     actor=Actor("bench"))
    return {"queued": broadcast.recipients, "seconds": time.monotonic() - started}


async def _drain(max_seconds: float) -> dict:
    import tables.notifications as outbox

    await _open_db()
    outbox.BROADCAST_PER_PASS = 100  # capacity, not the production throttle
    sender = outbox.GatewaySender(console=outbox.ConsoleSender(open(os.devnull, "w")))
    sent = failed = 0
    started = time.monotonic()
    while time.monotonic() - started < max_seconds:
        report = await outbox.send_pending(sender, limit=100, now=NOON)
        sent += report.sent
        failed += report.failed + report.unknown + report.retried
        if report.sent + report.failed + report.unknown + report.retried == 0:
            break
    await sender.aclose()
    return {"sent": sent, "failed": failed, "seconds": time.monotonic() - started}


def _child(mode: str, env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen([PYTHON, __file__, f"--{mode}", *args], cwd=ROOT,
                            env={**os.environ, **env}, stdout=subprocess.PIPE, text=True)


def _rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _ceiling(base_url: str, seconds: float) -> float:
    from providers.sms import SmsConfig, SmsRuClient
    from providers.sms_sandbox import SANDBOX_API_ID

    async def run() -> float:
        client = SmsRuClient(SmsConfig(api_id=SANDBOX_API_ID, base_url=base_url))
        n, started = 0, time.monotonic()
        while time.monotonic() - started < seconds:
            await client.send(f"+7913{n % 10_000_000:07d}", TEXT)
            n += 1
        await client.aclose()
        return n / (time.monotonic() - started)

    return asyncio.run(run())


def run(engine: str, scale: str, args: argparse.Namespace) -> list[list]:
    from providers.mail_catcher import MailCatcher
    from providers.sms_sandbox import SANDBOX_API_ID, SmsSandbox

    subscribers, months = SCALES[scale][engine]
    with dataset(engine, subscribers, months, keep=args.keep) as data:
        print(f"\n{data.label}", flush=True)
        gateway, mailbox = SmsSandbox().start(), MailCatcher().start()
        env = {**data.env, "CENTRA_SMS_API_URL": gateway.base_url, "CENTRA_SMS_API_ID": SANDBOX_API_ID,
               "CENTRA_SMTP_HOST": "127.0.0.1", "CENTRA_SMTP_PORT": str(mailbox.port),
               "CENTRA_SMTP_SECURITY": "none", "CENTRA_EMBEDDED_WORKER": "0"}
        try:
            ceiling = _ceiling(gateway.base_url, args.seconds)
            gateway.messages.clear()
            queued = json.loads(_child("queue", env).communicate()[0].strip().splitlines()[-1])
            print(f"  queued {queued['queued']:,} in {queued['seconds']:.1f} s; "
                  f"gateway ceiling {ceiling:,.0f} SMS/s", flush=True)
            tokens = data.tokens(limit=2000)
            with Server("app:create_app", env) as site:
                csrf = csrf_cookie(site.url)
                check_page(site.url, "/cabinet/", tokens[0], "Баланс")
                requests = cookie_gets("/cabinet/", tokens, csrf)
                wrk(site.url, requests, seconds=2, connections=4)
                idle = wrk(site.url, requests, seconds=args.seconds, connections=4)
                drain = _child("drain", env, f"--drain-seconds={args.drain_seconds}")
                rss: list[float] = []
                stop = threading.Event()

                def sample() -> None:
                    while not stop.is_set():
                        value = _rss_mb(drain.pid)
                        if value:
                            rss.append(value)
                        time.sleep(0.5)

                sampler = threading.Thread(target=sample, daemon=True)
                sampler.start()
                time.sleep(2)  # the drain is under way (its start-up is not the batch's memory)
                settled = len(rss)
                busy = wrk(site.url, requests, seconds=args.seconds, connections=4)
                drained = json.loads(drain.communicate()[0].strip().splitlines()[-1])
                stop.set()
                sampler.join()
        finally:
            gateway.stop()
            mailbox.stop()
    rate = drained["sent"] / drained["seconds"]
    p95_ratio = busy.p95 / idle.p95
    return [[engine, f"{queued['queued']:,}", f"{queued['seconds']:.1f}", f"{drained['sent']:,}",
             drained["failed"], f"{rate:,.0f}", f"{ceiling:,.0f}", f"{rate / ceiling:.0%}",
             f"{rss[settled]:.0f} / {max(rss[settled:]):.0f} / {rss[-1]:.0f}" if len(rss) > settled else "?",
             f"{idle.p95:.1f}", f"{busy.p95:.1f}", f"{p95_ratio:.2f}×", ok(p95_ratio <= TARGET_P95)]]


HEADERS = ["engine", "queued", "queue s", "sent", "failed", "sent/s", "gateway SMS/s", "of ceiling",
           "drain RSS MB first/peak/last", "dashboard p95 idle ms", "p95 during drain ms",
           "during/idle", "target met"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["pg", "sqlite", "both"], default="both")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--seconds", type=float, default=None, help="wrk and ceiling run length")
    parser.add_argument("--drain-seconds", type=float, default=None)
    parser.add_argument("--queue", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--drain", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.queue:
        print(json.dumps(asyncio.run(_queue())), flush=True)
        return
    if args.drain:
        print(json.dumps(asyncio.run(_drain(args.drain_seconds or 600))), flush=True)
        return
    scale = "quick" if args.quick else "full"
    args.seconds = args.seconds or (4 if args.quick else 10)
    args.drain_seconds = args.drain_seconds or (60 if args.quick else 600)
    print(f"benchmark 7 (messages), {machine()}", flush=True)
    rows = []
    for engine in (["pg", "sqlite"] if args.engine == "both" else [args.engine]):
        rows += run(engine, scale, args)
        print(table(HEADERS, rows[-1:]), flush=True)
    print("\n" + table(HEADERS, rows))


if __name__ == "__main__":
    main()
