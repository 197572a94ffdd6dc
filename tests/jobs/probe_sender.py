"""An outbox worker as its own OS process (tests/jobs/test_send_rate.py, PostgreSQL).

Runs the outbox pass the job ``messages.send`` runs (``deliver_notifications`` with a budget)
back to back until nothing is left to send, then prints how many messages it sent (JSON). It
starts when the test writes a line to its stdin (both workers at once).
The gateway and the rate come from the environment, as in a deployed worker.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

#: Noon in Novokuznetsk: outside the quiet hours whenever the test runs.
NOON = dt.datetime(2026, 12, 7, 5, 0, tzinfo=dt.UTC)


async def main() -> None:
    from db.engine import engine, keep_pooled_session
    from tables.notifications import Notification, deliver_notifications

    db = engine()
    await db.start_connection_pool(reset=keep_pooled_session)
    # Start together with the other worker: say ready, wait for the test's "go".
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    sent = 0
    try:
        while True:
            report = await deliver_notifications(limit=10_000, budget=2.0, now=NOON)
            sent += report["sent"]
            left = await Notification.count().where(Notification.status.is_in(["pending", "sending"]))
            if not left:
                break
    finally:
        await db.close_connection_pool()
    print(json.dumps({"sent": sent}), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
