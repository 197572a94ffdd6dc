"""Benchmark 7: a mass send to every subscriber, drained through the local SMS gateway.

    PYTHONPATH=. .venv/bin/python bench/messages_drain.py [--engine pg|sqlite|both] [--quick] [--keep]

1. Queue: one broadcast to every contract, as the office's job does it (``create_broadcast``,
   then ``queue_broadcast_messages`` in batches of 1,000 contracts with progress): 100,000
   messages (10,000 with ``--quick``), timed, the process's RSS sampled.
2. Gateway ceiling: the local SMS.ru-style gateway (providers/sms_sandbox.py) hammered by the
   same client the outbox uses, ``SEND_CONCURRENCY`` requests at a time (as the outbox sends).
3. Drain: a separate process runs the outbox pass of the job ``messages.send``
   (``deliver_notifications`` with a budget) back to back, with no rate limit
   (``CENTRA_SMS_RATE=0``: the capacity, not a contract's limit), until the queue is empty;
   messages/s against the ceiling; the drain process's RSS sampled every 0.5 s (at 10% of the
   run, half-way, at the end, the peak: flat means nothing grows with the queue).
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
#: Subscribers × months of history: the messages do not depend on the history's length.
MESSAGE_SCALES = {"full": 100_000, "quick": 10_000}
MONTHS = 6
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
    from tables.broadcasts import Segment, create_broadcast, queue_broadcast_messages
    from tables.notifications import Notification, NotificationAttempt

    await _open_db()
    await NotificationAttempt.delete(force=True)
    await Notification.delete(force=True)
    started = time.monotonic()
    broadcast = await create_broadcast(Segment(), TEXT.removeprefix("Centra: "), "notice",
                                       actor=Actor("bench"))
    queued = await queue_broadcast_messages(broadcast.id, Segment())
    return {"queued": queued, "seconds": time.monotonic() - started}


async def _drain(max_seconds: float) -> dict:
    import tables.notifications as outbox

    await _open_db()
    sender = outbox.GatewaySender(console=outbox.ConsoleSender(open(os.devnull, "w")))
    sent = failed = 0
    started = time.monotonic()
    while time.monotonic() - started < max_seconds:
        report = await outbox.deliver_notifications(sender=sender, limit=100_000, budget=14.0,
                                                    now=NOON)
        sent += report["sent"]
        failed += report["failed"] + report["unknown"] + report["retried"]
        if report["sent"] + report["failed"] + report["unknown"] + report["retried"] == 0:
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
    """The gateway's own rate: the outbox's client, as many requests at a time as the outbox."""
    from providers.sms import SmsConfig, SmsRuClient
    from providers.sms_sandbox import SANDBOX_API_ID
    from tables.notifications import SEND_CONCURRENCY

    async def run() -> float:
        client = SmsRuClient(SmsConfig(api_id=SANDBOX_API_ID, base_url=base_url))
        count = [0]
        started = time.monotonic()

        async def one_client() -> None:
            while time.monotonic() - started < seconds:
                await client.send(f"+7913{count[0] % 10_000_000:07d}", TEXT)
                count[0] += 1

        await asyncio.gather(*(one_client() for _ in range(SEND_CONCURRENCY)))
        await client.aclose()
        return count[0] / (time.monotonic() - started)

    return asyncio.run(run())


class RssSampler:
    """A process's resident memory every half second, in a thread."""

    def __init__(self, pid: int) -> None:
        self.pid, self.samples, self._stop = pid, [], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            value = _rss_mb(self.pid)
            if value:
                self.samples.append(value)
            time.sleep(0.5)

    def stop(self) -> list[float]:
        self._stop.set()
        self._thread.join()
        return self.samples


def _rss_line(samples: list[float]) -> str:
    """At 10% of the run (after start-up and imports), half-way, at the end, and the peak."""
    if not samples:
        return "?"
    return (f"{samples[len(samples) // 10]:.0f} / {samples[len(samples) // 2]:.0f} / "
            f"{samples[-1]:.0f} / {max(samples):.0f}")


def run(engine: str, scale: str, args: argparse.Namespace) -> list[list]:
    from providers.mail_catcher import MailCatcher
    from providers.sms_sandbox import SANDBOX_API_ID, SmsSandbox

    with dataset(engine, MESSAGE_SCALES[scale], MONTHS, keep=args.keep) as data:
        print(f"\n{data.label}, load average {os.getloadavg()[0]:.1f}", flush=True)
        gateway, mailbox = SmsSandbox().start(), MailCatcher().start()
        env = {**data.env, "CENTRA_SMS_API_URL": gateway.base_url, "CENTRA_SMS_API_ID": SANDBOX_API_ID,
               "CENTRA_SMTP_HOST": "127.0.0.1", "CENTRA_SMTP_PORT": str(mailbox.port),
               "CENTRA_SMTP_SECURITY": "none", "CENTRA_EMBEDDED_WORKER": "0",
               "CENTRA_SMS_RATE": "0", "CENTRA_EMAIL_RATE": "0"}
        try:
            # In a process of its own, as the drain: the client must not share the gateway's GIL.
            ceiling = json.loads(_child("ceiling", env, f"--seconds={args.seconds}").communicate()[0]
                                 .strip().splitlines()[-1])["ceiling"]
            gateway.messages.clear()
            queue = _child("queue", env)
            queue_rss = RssSampler(queue.pid)
            queued = json.loads(queue.communicate()[0].strip().splitlines()[-1])
            queue_mem = _rss_line(queue_rss.stop())
            print(f"  queued {queued['queued']:,} in {queued['seconds']:.1f} s "
                  f"(RSS MB 10%/mid/end/peak {queue_mem}); gateway ceiling {ceiling:,.0f} SMS/s",
                  flush=True)
            tokens = data.tokens(limit=2000)
            with Server("app:create_app", env) as site:
                csrf = csrf_cookie(site.url)
                check_page(site.url, "/cabinet/", tokens[0], "Баланс")
                requests = cookie_gets("/cabinet/", tokens, csrf)
                wrk(site.url, requests, seconds=2, connections=4)
                idle = wrk(site.url, requests, seconds=args.seconds, connections=4)
                drain = _child("drain", env, f"--drain-seconds={args.drain_seconds}")
                sampler = RssSampler(drain.pid)
                time.sleep(5)  # the drain is under way
                busy = wrk(site.url, requests, seconds=args.seconds, connections=4)
                drained = json.loads(drain.communicate()[0].strip().splitlines()[-1])
                drain_mem = _rss_line(sampler.stop())
                print(f"  drained {drained['sent']:,} in {drained['seconds']:.1f} s; "
                      f"RSS MB 10%/mid/end/peak {drain_mem}", flush=True)
        finally:
            gateway.stop()
            mailbox.stop()
    rate = drained["sent"] / drained["seconds"]
    p95_ratio = busy.p95 / idle.p95
    return [[engine, f"{queued['queued']:,}", f"{queued['seconds']:.1f}", queue_mem,
             f"{drained['sent']:,}", drained["failed"], f"{drained['seconds']:.0f}", f"{rate:,.0f}",
             f"{ceiling:,.0f}", f"{rate / ceiling:.0%}", drain_mem,
             f"{idle.p95:.1f}", f"{busy.p95:.1f}", f"{p95_ratio:.2f}×", ok(p95_ratio <= TARGET_P95)]]


HEADERS = ["engine", "queued", "queue s", "queue RSS MB 10%/mid/end/peak", "sent", "failed",
           "drain s", "sent/s", "gateway SMS/s", "of ceiling", "drain RSS MB 10%/mid/end/peak",
           "dashboard p95 idle ms", "p95 during drain ms", "during/idle", "target met"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["pg", "sqlite", "both"], default="both")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--seconds", type=float, default=None, help="wrk and ceiling run length")
    parser.add_argument("--drain-seconds", type=float, default=None)
    parser.add_argument("--queue", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--drain", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--ceiling", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.queue:
        print(json.dumps(asyncio.run(_queue())), flush=True)
        return
    if args.ceiling:
        from settings import get_settings

        print(json.dumps({"ceiling": _ceiling(get_settings().sms_api_url, args.seconds or 10)}),
              flush=True)
        return
    if args.drain:
        print(json.dumps(asyncio.run(_drain(args.drain_seconds or 600))), flush=True)
        return
    scale = "quick" if args.quick else "full"
    args.seconds = args.seconds or (4 if args.quick else 10)
    args.drain_seconds = args.drain_seconds or (300 if args.quick else 1800)
    print(f"benchmark 7 (messages), {machine()}", flush=True)
    rows = []
    for engine in (["pg", "sqlite"] if args.engine == "both" else [args.engine]):
        rows += run(engine, scale, args)
        print(table(HEADERS, rows[-1:]), flush=True)
    print("\n" + table(HEADERS, rows))


if __name__ == "__main__":
    main()
