"""``python -m jobs worker``: run a job worker (the Procfile's ``worker``; PostgreSQL only)."""

from __future__ import annotations

import argparse
import asyncio
import logging


def cli(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m jobs")
    sub = parser.add_subparsers(dest="command", required=True)
    work = sub.add_parser("worker", help="run queued and periodic jobs until stopped")
    work.add_argument("--concurrency", type=int, default=None, help="jobs at once")
    work.add_argument("--queues", default="", help="comma-separated queues (default: all)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # Every job's start and end at INFO is ~35,000 lines a day from the 5 s and 15 s schedules;
    # failures and retries are warnings, and every job is in the admin's «Фоновые задания».
    logging.getLogger("procrastinate").setLevel(logging.WARNING)
    from settings import UnsafeStart, check_production, get_settings

    try:  # the same refusal as the web process: a worker also writes money and sends messages
        check_production(get_settings())
    except UnsafeStart as exc:
        raise SystemExit(str(exc)) from None
    from jobs.worker import main

    overrides = {}
    if args.concurrency:
        overrides["concurrency"] = args.concurrency
    if args.queues:
        overrides["queues"] = [q.strip() for q in args.queues.split(",") if q.strip()]
    asyncio.run(main(**overrides))


if __name__ == "__main__":
    cli()
