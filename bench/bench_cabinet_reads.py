"""Cabinet read paths on SQLite: each query on its own connection vs one read transaction.

Run: ``.venv/bin/python bench/bench_cabinet_reads.py`` (a temp SQLite file; prints ratios
measured in the same run, so machine noise cancels out).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.pop("DATABASE_URL", None)
os.environ["CENTRA_SQLITE_PATH"] = str(Path(tempfile.mkdtemp()) / "bench.sqlite3")

ROUNDS = 200


async def main() -> None:
    from piccolo.apps.migrations.commands.forwards import run_forwards

    await run_forwards(app_name="all")
    from tables import statements
    from tables.commands.demo import load_demo
    from tables.statements import dashboard, statement_months, statement_range
    from tables.subscribers import Subscriber

    await load_demo()
    subscriber = await Subscriber.objects().where(Subscriber.contract_number == "100001").first()
    now = dt.datetime.now(dt.UTC)

    async def dashboard_page() -> None:
        await dashboard(subscriber, now=now)

    async def statement_page() -> None:
        months = await statement_months(subscriber, now=now)
        await statement_range(subscriber.id, months.first, months.current)

    async def timed(page, in_transaction: bool) -> float:
        samples = []
        for _ in range(ROUNDS):
            start = time.perf_counter()
            statements.SINGLE_CONNECTION_READS = in_transaction
            await page()
            samples.append(time.perf_counter() - start)
        return statistics.median(samples)

    for name, page in [("dashboard", dashboard_page), ("statement", statement_page)]:
        await timed(page, False)  # warm-up
        plain = await timed(page, False)
        tx = await timed(page, True)
        print(f"{name:10s} plain {plain * 1000:6.2f} ms  one transaction {tx * 1000:6.2f} ms  "
              f"ratio {tx / plain:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
