"""Each gateway's rate (messages per second) holds however many workers send, and messages
leave in their order: urgent, transactional, then a broadcast's backlog.

Counted where it matters: at the (local) SMS gateway, by the moment each message arrived.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from db.engine import is_sqlite
from providers.sms_sandbox import SANDBOX_API_ID, SmsSandbox
from tables.notifications import Notification, enqueue, send_pending
from tables.send_rate import SendSlot
from tests.support.factories import make_subscriber

PROBE = Path(__file__).resolve().parent / "probe_sender.py"
NOON = dt.datetime(2026, 12, 7, 5, 0, tzinfo=dt.UTC)
RATE = 10




@pytest.fixture
def limited(gateway, setenv):
    setenv("CENTRA_SMS_API_URL", gateway.base_url)
    setenv("CENTRA_SMS_API_ID", SANDBOX_API_ID)
    setenv("CENTRA_SMS_RATE", str(RATE))
    setenv("CENTRA_NOTIFICATION_SENDER", "tables.notifications:GatewaySender")
    return gateway


async def _queue(count: int, *, prefix: str = "+7913100", **extra) -> None:
    for n in range(count):
        await enqueue(channel="sms", recipient=f"{prefix}{n:04d}", body=f"Centra: проверка {n}", **extra)


def _arrivals(gateway: SmsSandbox) -> list[float]:
    with gateway.lock:
        return sorted(m.at.timestamp() for m in gateway.messages.values())


def assert_rate_held(times: list[float], rate: int) -> None:
    """No calendar second holds more than ``rate`` arrivals, nor does any sliding second:
    the (rate+1)-th message after any message came at least a second later."""
    per_second = collections.Counter(int(t) for t in times)
    assert max(per_second.values()) <= rate, per_second
    gaps = [times[i + rate] - times[i] for i in range(len(times) - rate)]
    assert min(gaps) >= 1.0, min(gaps)
    # …and the limit, not something much slower, paced the sending (loose: on a loaded CI
    # machine two worker processes reached 4.8/s of 10).
    assert len(times) / (times[-1] - times[0] + 1) > rate * 0.25


async def test_two_passes_in_one_process_keep_the_gateways_rate(limited):
    """The in-process worker (SQLite's embedded worker; on PostgreSQL, one worker process with
    concurrency): two outbox passes at once share one rate."""
    await _queue(45)
    reports = await asyncio.gather(*(send_pending(limit=1000, now=NOON, budget=30) for _ in range(2)))
    assert sum(r.sent for r in reports) == 45
    times = _arrivals(limited)
    assert len(times) == 45 == len({m.to for m in limited.messages.values()})
    assert_rate_held(times, RATE)


@pytest.mark.skipif(is_sqlite(), reason="separate worker processes share a PostgreSQL database")
async def test_two_worker_processes_keep_the_gateways_rate(limited):
    await _queue(60)
    env = {**os.environ, "CENTRA_SMS_API_URL": limited.base_url, "CENTRA_SMS_API_ID": SANDBOX_API_ID,
           "CENTRA_SMS_RATE": str(RATE)}
    workers = [subprocess.Popen([sys.executable, str(PROBE)], env=env, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(2)]
    for worker in workers:  # both connected, then both start at once
        line = await asyncio.to_thread(worker.stdout.readline)
        assert line.strip() == "ready", worker.stderr.read()[-3000:]
    started = time.monotonic()
    results = []
    for worker in workers:
        worker.stdin.write("go\n")
        worker.stdin.flush()
    for worker in workers:
        out, err = await asyncio.to_thread(worker.communicate, timeout=120)
        assert worker.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert sum(r["sent"] for r in results) == 60
    assert all(r["sent"] > 0 for r in results), results  # both workers sent
    times = _arrivals(limited)
    assert len(times) == 60 == len({m.to for m in limited.messages.values()})  # none twice
    assert_rate_held(times, RATE)
    assert time.monotonic() - started >= 60 / RATE - 1


async def test_without_a_limit_nothing_waits(gateway, setenv):
    setenv("CENTRA_SMS_API_URL", gateway.base_url)
    setenv("CENTRA_SMS_API_ID", SANDBOX_API_ID)
    setenv("CENTRA_SMS_RATE", "0")
    await _queue(30)
    assert (await send_pending(now=NOON)).sent == 30
    assert await SendSlot.count() == 0


async def test_a_pass_stops_at_the_rate_without_a_budget(limited):
    await _queue(RATE + 5)
    first = await send_pending(now=NOON)
    assert first.sent == RATE  # the slots of this second are used; the rest waits for the next pass
    assert await Notification.count().where(Notification.status == "pending") == 5


async def test_urgent_then_transactional_then_the_broadcast_backlog(limited):
    """A payment's message queued while a broadcast's backlog drains at the gateway's rate goes
    in the next batch, not after the backlog."""
    from tables.audit import Actor
    from tables.broadcasts import Segment, send_broadcast

    for n in range(40):
        await make_subscriber(phone=f"+791320{n:05d}")
    await send_broadcast(Segment(), "Плановые работы 10.12 с 10:00", "notice", actor=Actor("boss"))
    await enqueue(channel="sms", recipient="+79139999990", body="Centra: обычное")
    await enqueue(channel="sms", recipient="+79139999991", body="Centra: срочное", urgent=True)
    drain = asyncio.create_task(send_pending(limit=1000, now=NOON, budget=30))
    await asyncio.sleep(1.5)  # the backlog is being sent, RATE a second
    queued_at = time.time()
    await enqueue(channel="sms", recipient="+79139999992", body="Centra: платёж зачислен")
    report = await drain
    assert report.sent == 43
    with limited.lock:
        order = [m.to for m in sorted(limited.messages.values(), key=lambda m: (m.at, m.sms_id))]
    # Urgent and transactional in the first batch, before any other broadcast batch (a batch's
    # messages go out at once, so their arrival order within it may vary).
    assert order.index("79139999991") < RATE and order.index("79139999990") < RATE
    after = [m for m in order if m not in ("79139999991", "79139999990")]
    position = after.index("79139999992")
    with limited.lock:
        sent_after = sum(m.at.timestamp() >= queued_at for m in limited.messages.values())
    # At most one batch (claimed before it was queued) went ahead of it.
    assert position <= (len(after) - sent_after) + RATE, (position, len(after), sent_after)
    assert position < len(after) - 20  # far ahead of the backlog's end
