"""Benchmarks 1 and 2: the cabinet dashboard and statement under concurrent load, and the
dashboard's latency as the data grows.

    .venv/bin/python bench/cabinet_load.py [--engine pg|sqlite|both] [--quick] [--keep]

1. ``/cabinet/`` and ``/cabinet/statement`` for random logged-in subscribers (wrk from a
   separate process, ``-c16``), next to the baseline (bench/baseline_app.py: the same SQL
   on the raw driver, a minimal page), alternating baseline/ours, medians of ``--rounds``.
   Targets: ours ≥ 70% of the baseline's requests/s on PostgreSQL, ≥ 60% on SQLite, and
   p95 ≤ 1.5× the baseline's.
2. Growth: the dashboard at 1k, 10k and 100k subscribers (same months of history each, so
   the ledger grows 100×), at low concurrency (``-c4``) to read latency rather than
   throughput; target p50(largest) / p50(smallest) ≤ 1.5.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    GROWTH,
    SCALES,
    Server,
    check_page,
    cookie_gets,
    csrf_cookie,
    dataset,
    interleaved,
    machine,
    ok,
    table,
)

OURS = "app:create_app"
BASELINE = "bench.baseline_app:create_app"
PAGES = [  # name, our path, baseline path, text both pages contain
    ("dashboard", "/cabinet/", "/dashboard", "Баланс"),
    ("statement", "/cabinet/statement", "/statement", "Выписка"),
]
TARGET_RPS = {"pg": 0.70, "sqlite": 0.60}
TARGET_P95 = 1.5
TARGET_GROWTH = 1.5


def load(engine: str, scale: str, args: argparse.Namespace) -> list[list]:
    subscribers, months = SCALES[scale][engine]
    rows = []
    with dataset(engine, subscribers, months, keep=args.keep) as data:
        print(f"\n{data.label}", flush=True)
        tokens = data.tokens()
        with Server(OURS, data.env, workers=args.workers) as ours, \
                Server(BASELINE, data.env, workers=args.workers) as base:
            csrf = csrf_cookie(ours.url)
            for name, path, base_path, expect in PAGES:
                check_page(ours.url, path, tokens[0], expect)
                check_page(base.url, base_path, tokens[0], "<h1>")
                result = interleaved({
                    "baseline": (base.url, cookie_gets(base_path, tokens, csrf)),
                    "ours": (ours.url, cookie_gets(path, tokens, csrf)),
                }, rounds=args.rounds, seconds=args.seconds, connections=args.connections)
                b, o = result["baseline"], result["ours"]
                rps_ratio, p95_ratio = o.rps / b.rps, o.p95 / b.p95
                for variant, r in ((f"baseline ×{args.workers}", b), (f"ours ×{args.workers}", o)):
                    rows.append([engine, name, variant, f"{r.rps:,.0f}", f"{r.p50:.1f}", f"{r.p95:.1f}",
                                 f"{r.p99:.1f}", r.errors, "", "", ""])
                rows[-1][8:] = [f"{rps_ratio:.0%}", f"{p95_ratio:.2f}×",
                                ok(rps_ratio >= TARGET_RPS[engine] and p95_ratio <= TARGET_P95)]
                print(table(HEADERS, rows[-2:]), flush=True)
    return rows


HEADERS = ["engine", "page", "server", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors",
           "ours/base req/s", "p95 ours/base", "target met"]


def growth(engine: str, scale: str, args: argparse.Namespace) -> list[list]:
    months = SCALES[scale][engine][1]
    rows, p50s = [], []
    for subscribers in GROWTH[scale]:
        with dataset(engine, subscribers, months, keep=args.keep) as data:
            tokens = data.tokens()
            with Server(OURS, data.env, workers=args.workers) as ours, \
                    Server(BASELINE, data.env, workers=args.workers) as base:
                check_page(ours.url, "/cabinet/", tokens[0], "Баланс")
                csrf = csrf_cookie(ours.url)
                result = interleaved({
                    "baseline": (base.url, cookie_gets("/dashboard", tokens, csrf)),
                    "ours": (ours.url, cookie_gets("/cabinet/", tokens, csrf)),
                }, rounds=args.rounds, seconds=max(3.0, args.seconds / 2), connections=4)
            o, b = result["ours"], result["baseline"]
            p50s.append(o.p50)
            rows.append([engine, f"{subscribers:,}", f"{data.info['ledger_rows']:,}",
                         f"{o.rps:,.0f}", f"{o.p50:.2f}", f"{o.p95:.2f}", f"{b.p50:.2f}",
                         f"{o.p50 / p50s[0]:.2f}", ""])
            print(table(GROWTH_HEADERS, rows[-1:]), flush=True)
    rows[-1][-1] = ok(p50s[-1] / p50s[0] <= TARGET_GROWTH)
    return rows


GROWTH_HEADERS = ["engine", "subscribers", "ledger rows", "ours req/s (c4)", "ours p50 ms",
                  "ours p95 ms", "baseline p50 ms", "p50 / smallest", "target ≤ 1.5"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["pg", "sqlite", "both"], default="both")
    parser.add_argument("--quick", action="store_true", help="small datasets, short runs")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1,
                        help="uvicorn workers, for the product and the baseline alike")
    parser.add_argument("--keep", action="store_true", help="keep the generated databases")
    parser.add_argument("--skip-growth", action="store_true")
    parser.add_argument("--only-growth", action="store_true")
    args = parser.parse_args(argv)
    scale = "quick" if args.quick else "full"
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.seconds = args.seconds or (4.0 if args.quick else 10.0)
    engines = ["pg", "sqlite"] if args.engine == "both" else [args.engine]
    print(f"cabinet_load: {machine()}; wrk -t1 -c{args.connections}, {args.rounds} rounds × "
          f"{args.seconds:.0f} s, medians", flush=True)
    if not args.only_growth:
        rows = []
        for engine in engines:
            rows += load(engine, scale, args)
        print("\n## Benchmark 1: cabinet pages under load\n")
        print(table(HEADERS, rows))
    if not args.skip_growth:
        rows = []
        for engine in engines:
            rows += growth(engine, scale, args)
        print("\n## Benchmark 2: dashboard latency as data grows (wrk -c4)\n")
        print(table(GROWTH_HEADERS, rows))


if __name__ == "__main__":
    main()
