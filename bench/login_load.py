"""Benchmark 5: cabinet login throughput (argon2 in a thread) and the event loop's
responsiveness meanwhile.

    .venv/bin/python bench/login_load.py [--engine pg|sqlite|both] [--quick] [--keep]

Two wrk processes at once against one server process: ``POST /cabinet/login`` with correct
passwords for random contracts (``-c16``), and ``GET /healthz`` (``-c2``, no database).
The baseline is ``/healthz`` on the same idle server, measured just before and after (same
run). A blocked event loop shows as a health p95 close to a login's duration; a free one
stays within a few milliseconds. Also printed: one argon2 verification's time in this
process, and the server's CPU time per login (from /proc).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import SCALES, Request, Server, dataset, machine, ok, table, wrk

TARGET_HEALTH_P95_MS = 50.0  # a page that needs no database answers within 50 ms at p95


def _ip(i: int) -> str:
    return f"10.20.{(i >> 8) & 255}.{i & 255}"


def login_requests(url: str, info: dict, count: int) -> list[Request]:
    import re

    import httpx

    page = httpx.get(url + "/cabinet/login", timeout=30)
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text).group(1)
    cookie = page.cookies.get("centra_csrf")
    out = []
    for i in range(count):
        contract = str(info["first_contract"] + i)
        body = urlencode({"contract_number": contract, "password": info["password"],
                          "next": "/cabinet/", "_csrf_token": token})
        out.append(Request("POST", "/cabinet/login", body, {
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": f"centra_csrf={cookie}",
            "X-Forwarded-For": _ip(i)}))
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children that were waited for."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(x) for x in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def argon2_cost(repeat: int = 10) -> float:
    from tables.passwords import _hasher, hash_password_sync

    hashed = hash_password_sync("bench-pass-2026")
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        _hasher.verify(hashed, "bench-pass-2026")
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def run(engine: str, scale: str, args: argparse.Namespace) -> list[list]:
    subscribers, months = SCALES[scale][engine]
    rows = []
    with dataset(engine, subscribers, months, keep=args.keep) as data:
        print(f"\n{data.label}", flush=True)
        with Server("app:create_app", data.env) as server:
            logins = login_requests(server.url, data.info, data.info["sessions"])
            health = [Request("GET", "/healthz")]
            idle = [wrk(server.url, health, seconds=args.seconds / 2, connections=2)]
            cpu_before, start = cpu_seconds(server.process.pid), time.monotonic()
            with ThreadPoolExecutor(2) as pool:
                login_f = pool.submit(wrk, server.url, logins, seconds=args.seconds, connections=16)
                time.sleep(1.0)  # let the logins saturate first
                busy_f = pool.submit(wrk, server.url, health, seconds=args.seconds - 2, connections=2)
                login, busy = login_f.result(), busy_f.result()
            cpu = cpu_seconds(server.process.pid) - cpu_before
            idle.append(wrk(server.url, health, seconds=args.seconds / 2, connections=2))
        idle_p95 = statistics.median(r.p95 for r in idle)
        rows.append([engine, f"{login.rps:.1f}", f"{login.p50:.0f}", f"{login.p95:.0f}", login.errors,
                     f"{cpu / max(1, login.requests) * 1000:.0f}", f"{idle_p95:.1f}", f"{busy.p95:.1f}",
                     f"{busy.p99:.1f}", f"{busy.p95 / idle_p95:.1f}×",
                     ok(busy.p95 <= TARGET_HEALTH_P95_MS and login.errors == 0)])
        print(table(HEADERS, rows[-1:]), flush=True)
        del start
    return rows


HEADERS = ["engine", "logins/s", "login p50 ms", "login p95 ms", "errors", "server CPU ms/login",
           "health p95 idle ms", "health p95 under logins ms", "health p99 under logins ms",
           "p95 busy/idle", "loop responsive"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["pg", "sqlite", "both"], default="both")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    scale = "quick" if args.quick else "full"
    args.seconds = args.seconds or (6.0 if args.quick else 12.0)
    engines = ["pg", "sqlite"] if args.engine == "both" else [args.engine]
    print(f"login_load: {machine()}", flush=True)
    print(f"one argon2 verification in this process: {argon2_cost():.0f} ms "
          "(argon2-cffi defaults: t=3, m=64 MiB, p=4)", flush=True)
    rows = []
    for engine in engines:
        rows += run(engine, scale, args)
    print(f"\n## Benchmark 5: login throughput; /healthz p95 under login load (target ≤ "
          f"{TARGET_HEALTH_P95_MS:.0f} ms)\n")
    print(table(HEADERS, rows))


if __name__ == "__main__":
    main()
