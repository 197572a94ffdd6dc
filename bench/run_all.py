"""Run every benchmark (docs/performance.md): ``make bench`` or ``make bench-quick``.

    .venv/bin/python bench/run_all.py [--quick] [--engine pg|sqlite|both] [--keep]

Generates the datasets once (PostgreSQL: a throwaway database per scale on
``CENTRA_BENCH_PG``, default postgresql://postgres@127.0.0.1:5432/postgres; SQLite: files in
$TMPDIR), runs benchmarks 1–6, each printing its tables with ratios against a baseline
measured in the same run, and drops the datasets at the end unless ``--keep``.
``--quick``: 10,000 subscribers × 12 months, one round of 4 s per case (a smoke run, ~5 min);
the full run (100,000 × 60 on PostgreSQL, 100,000 × 12 on SQLite, 3 rounds of 10 s) takes
~40 minutes on 2 cores, most of it generating the PostgreSQL dataset.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import GROWTH, SCALES, Dataset, drop, ensure_wrk, generate

BENCHMARKS = ["cabinet_load.py", "quickpay_load.py", "admin_api.py", "login_load.py", "backoffice_load.py",
              "messages_drain.py", "first_of_month.py", "radius_storm.py"]
#: Benchmarks on a database of their own (they write to it): dropped by themselves unless --keep.
#: (radius_storm.py adds PPPoE logins, a NAS and sessions to the shared dataset, idempotently.)
OWN_DATASET = {"first_of_month.py"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--engine", choices=["pg", "sqlite", "both"], default="both")
    parser.add_argument("--keep", action="store_true", help="keep the generated databases")
    args = parser.parse_args()
    ensure_wrk()
    scale = "quick" if args.quick else "full"
    engines = ["pg", "sqlite"] if args.engine == "both" else [args.engine]
    started = time.monotonic()
    datasets: list[Dataset] = []
    try:
        for engine in engines:
            months = SCALES[scale][engine][1]
            for subscribers in sorted({SCALES[scale][engine][0], *GROWTH[scale]}):
                datasets.append(generate(engine, subscribers, months))
        common = ["--engine", args.engine] + (["--quick"] if args.quick else [])
        for script in BENCHMARKS:
            print(f"\n# {script}\n", flush=True)
            keep = ["--keep"] if args.keep or script not in OWN_DATASET else []
            subprocess.run([sys.executable, str(Path(__file__).parent / script), *common, *keep], check=True)
    finally:
        if not args.keep:
            for data in datasets:
                drop(data)
    print(f"\nall benchmarks: {(time.monotonic() - started) / 60:.1f} min")


if __name__ == "__main__":
    main()
