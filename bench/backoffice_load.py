"""Benchmark 6: the back office beside the cabinet.

    .venv/bin/python bench/backoffice_load.py [--engine pg|sqlite|both] [--quick] [--keep]
                                              [--clerks 0,2,4,8] [--seconds 10]

1. **Reports**: every manager report (tables/reports.py) built as its page and its exports
   build it (``build_report`` in the back office's lane, db/lanes.py), for the default
   selection and for twelve months, one at a time, median of ``--repeat``. Printed in ms;
   "usable" is within 2 s.
2. **Clerks beside subscribers**: wrk loads the cabinet dashboard (as benchmark 1) while N
   clerks, each logged into the admin, repeat the ledger list's row count filtered by kind as
   the admin's filter form sends it (``kind=payment&kind__operator=e``: an exact count over
   every payment ever booked, the slowest list filter). The ratio is the dashboard's req/s
   with N clerks against the same server with none, in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    PYTHON,
    ROOT,
    SCALES,
    Dataset,
    Server,
    cookie_gets,
    csrf_cookie,
    dataset,
    machine,
    table,
    wrk,
)

USABLE_MS = 2000
HEAVY_FILTER = {"kind": "payment", "kind__operator": "e"}


# --- 1. reports (run in a child process pointed at the dataset) -------------------------------

def _build_reports(repeat: int) -> None:
    """Child process: print one JSON line per report and selection."""
    sys.path.insert(0, str(ROOT))
    from piccolo.engine.postgres import PostgresEngine

    from db.lanes import back_office_reads
    from piccolo_conf import DB
    from tables.calendar import utcnow
    from tables.month import Month
    from tables.reports import REPORTS, Filters, build_report, local_today

    async def run() -> None:
        if isinstance(DB, PostgresEngine):
            await DB.start_connection_pool()
        today = local_today(utcnow())
        month = Month.of(today)
        for slug, spec in REPORTS.items():
            selections = [("default", {})]
            if "period" in spec.uses:
                selections.append(("12 months", {"from": (month - 11).iso, "to": month.iso}))
            for label, params in selections:
                filters = Filters.parse(params, today=today, spec=spec)
                times = []
                for _ in range(repeat):
                    start = time.perf_counter()
                    with back_office_reads():  # where the report page and its exports run
                        report = await build_report(slug, filters)
                    times.append(time.perf_counter() - start)
                print(json.dumps({"slug": slug, "title": spec.title, "selection": label,
                                  "rows": len(report.rows), "ms": statistics.median(times) * 1000}),
                      flush=True)

    asyncio.run(run())


def reports(data: Dataset, repeat: int) -> list[list[Any]]:
    out = subprocess.run([PYTHON, __file__, "--build-reports", "--repeat", str(repeat)],
                         cwd=ROOT, env={**os.environ, **data.env}, check=True,
                         capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            rows.append([data.engine, f"{r['title']} ({r['slug']})", r["selection"], f"{r['rows']:,}",
                         f"{r['ms']:,.0f}", "yes" if r["ms"] <= USABLE_MS else "NO"])
    return rows


REPORT_HEADERS = ["engine", "report", "selection", "rows", "build ms", "usable (≤ 2 s)"]


# --- 2. clerks beside subscribers -------------------------------------------------------------

async def _clerk(url: str, staff: tuple[str, str], stop: threading.Event, times: list[float]) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=url, timeout=300) as client:
        await client.get("/admin/")
        token = client.cookies.get("csrftoken")
        login = await client.post("/admin/public/login/", headers={"X-CSRFToken": token},
                                  json={"username": staff[0], "password": staff[1]})
        login.raise_for_status()
        while not stop.is_set():
            start = time.perf_counter()
            answer = await client.get("/admin/api/tables/ledger_entry/count/", params=HEAVY_FILTER)
            answer.raise_for_status()
            times.append(time.perf_counter() - start)


def clerks(data: Dataset, counts: list[int], seconds: float) -> list[list[Any]]:
    rows: list[list[Any]] = []
    staff = (data.info["staff"][0], data.info["staff"][1])
    with Server("app:create_app", data.env) as server:
        requests = cookie_gets("/cabinet/", data.tokens(), csrf_cookie(server.url))
        wrk(server.url, requests, seconds=3)  # warm-up
        alone = None
        for n in counts:
            stop, times = threading.Event(), []
            threads = [threading.Thread(target=asyncio.run,
                                        args=(_clerk(server.url, staff, stop, times),))
                       for _ in range(n)]
            for thread in threads:
                thread.start()
            if n:
                time.sleep(1.5)  # logged in and counting
            result = wrk(server.url, requests, seconds=seconds)
            stop.set()
            for thread in threads:
                thread.join()
            if n == 0:
                alone = result
            count_ms = f"{statistics.median(times) * 1000:,.0f}" if times else ""
            ratio = f"{result.rps / alone.rps:.0%}" if alone and n else ""
            rows.append([data.engine, n, f"{result.rps:,.0f}", f"{result.p50:.1f}", f"{result.p95:.1f}",
                         f"{result.p99:.1f}", result.errors, ratio, count_ms, len(times)])
            print(table(CLERK_HEADERS, rows[-1:]), flush=True)
    return rows


CLERK_HEADERS = ["engine", "clerks", "dashboard req/s", "p50 ms", "p95 ms", "p99 ms", "errors",
                 "req/s vs no clerks", "clerk's count ms (median)", "counts"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["pg", "sqlite", "both"], default="both")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--clerks", default="0,2,4,8")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--build-reports", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.build_reports:
        _build_reports(args.repeat)
        return
    scale = "quick" if args.quick else "full"
    seconds = args.seconds or (4.0 if args.quick else 10.0)
    counts = [int(n) for n in args.clerks.split(",")]
    if counts[0] != 0:
        counts.insert(0, 0)
    print(f"backoffice_load: {machine()}; wrk -t1 -c16 {seconds:.0f} s per case", flush=True)
    report_rows, clerk_rows = [], []
    for engine in (["pg", "sqlite"] if args.engine == "both" else [args.engine]):
        subscribers, months = SCALES[scale][engine]
        with dataset(engine, subscribers, months, keep=args.keep) as data:
            print(f"\n{data.label}", flush=True)
            report_rows += reports(data, args.repeat)
            print(table(REPORT_HEADERS, [r for r in report_rows if r[0] == engine]), flush=True)
            clerk_rows += clerks(data, counts, seconds)
    print("\n## Benchmark 6: the back office beside the cabinet\n")
    print(table(REPORT_HEADERS, report_rows))
    print()
    print(table(CLERK_HEADERS, clerk_rows))


if __name__ == "__main__":
    main()
