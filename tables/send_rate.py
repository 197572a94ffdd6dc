"""How fast each gateway is sent to: a limit in messages per second shared by every worker.

The SMS gateway's contract (and a mail relay) allows so many messages a second; several worker
processes on several hosts send from one outbox, so the limit is kept where they all see it —
the database, in the same transactions that claim and finish the messages (no extra round trip,
no Redis needed, the same on SQLite and PostgreSQL).

Each gateway has ``rate`` rows in :class:`SendSlot`, a sliding log of its last ``rate`` sends:
a message may be claimed only with a slot whose last use ended at least :data:`WINDOW` ago.
A claimed slot is marked busy (``used_at`` in the future, :data:`HOLD`) until its message is
finished; then ``used_at`` becomes the moment the gateway's answer came back, which is after
the gateway received the message. Among any ``rate + 1`` messages two used the same slot, so
the gateway never sees more than ``rate`` messages in any one-second window, however many
workers send. A worker that dies holding slots loses them for ``HOLD + WINDOW`` only.

Clocks: ``time.time()`` of the worker's host (hosts are NTP-synchronised; a skew of a few
milliseconds between hosts shifts a window by as much).
"""

from __future__ import annotations

import time

from piccolo.columns import DoublePrecision, Integer, Varchar
from piccolo.table import Table

from db.engine import is_sqlite

#: The window the limit counts in (seconds).
WINDOW = 1.0
#: How long a claimed slot stays busy when its worker never finishes (longer than any send).
HOLD = 60.0
#: How often to look again while every slot is held by messages being sent.
BUSY_POLL = 0.05


class SendSlot(Table, help_text="Скорость отправки: последние отправки через каждый шлюз (служебная)"):
    gateway = Varchar(length=20, help_text="Шлюз: sms или email")
    slot = Integer(help_text="Номер места в окне")
    used_at = DoublePrecision(default=0.0, help_text="Когда место занято в последний раз (UNIX-время)")


def gateway_rate(channel: str) -> int:
    """Messages per second the channel's gateway takes (``CENTRA_SMS_RATE``, ``CENTRA_EMAIL_RATE``);
    0: no limit."""
    from settings import get_settings

    settings = get_settings()
    return {"sms": settings.sms_rate, "email": settings.email_rate}.get(channel, 0)


async def ensure_slots(gateway: str, rate: int) -> None:
    """Create the gateway's missing slots up to ``rate`` (rows of a larger old rate stay, unused)."""
    if rate <= 0:
        return
    values = ", ".join("({}, {}, 0)" for _ in range(rate))
    args: list = []
    for n in range(rate):
        args += [gateway, n]
    await SendSlot.raw(
        f"INSERT INTO send_slot (gateway, slot, used_at) VALUES {values} "
        "ON CONFLICT (gateway, slot) DO NOTHING", *args)


async def take_slots(gateway: str, rate: int, wanted: int, *, at: float | None = None) -> list[int]:
    """Take up to ``wanted`` free slots; call inside the claiming transaction. Returns their ids."""
    if wanted <= 0:
        return []
    at = time.time() if at is None else at
    skip = "" if is_sqlite() else " FOR UPDATE SKIP LOCKED"
    # Picked once (a materialised CTE): an ``IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)`` may be
    # run again per row by PostgreSQL and take more than n.
    query = ("WITH picked AS MATERIALIZED (SELECT id FROM send_slot WHERE gateway = {} "
             f"AND slot < {{}} AND used_at <= {{}} ORDER BY used_at LIMIT {{}}{skip}) "
             "UPDATE send_slot SET used_at = {} WHERE id IN (SELECT id FROM picked) "
             "AND used_at <= {} RETURNING id")
    args = (gateway, rate, at - WINDOW, wanted, at + HOLD, at - WINDOW)
    rows = await SendSlot.raw(query, *args)
    if not rows:  # a new gateway, a raised rate, or all busy: make sure the slots exist
        await ensure_slots(gateway, rate)
        rows = await SendSlot.raw(query, *args)
    return [r["id"] for r in rows]


async def release_slots(slot_ids: list[int], *, at: float) -> None:
    """Give back slots taken at ``at`` that no message went through. Their last real use ended
    at least a window before ``at``; marking them used a window before ``at`` is never earlier
    than that, and frees them at once."""
    if slot_ids:
        await SendSlot.update({SendSlot.used_at: at - WINDOW}).where(SendSlot.id.is_in(slot_ids))


async def slots_done(slot_ids: list[int], *, at: float | None = None) -> None:
    """The messages of these slots are answered: their window starts now (after the gateway got
    them). Call in the transaction that records the results."""
    if slot_ids:
        await SendSlot.update({SendSlot.used_at: time.time() if at is None else at}).where(
            SendSlot.id.is_in(slot_ids))


async def seconds_until_free(gateway: str, rate: int) -> float:
    """How long until the gateway's next slot frees up (0 when one is free)."""
    rows = await SendSlot.raw(
        "SELECT MIN(used_at) AS first FROM send_slot WHERE gateway = {} AND slot < {}", gateway, rate)
    first = float(rows[0]["first"]) if rows and rows[0]["first"] is not None else 0.0
    now = time.time()
    if first > now:  # every slot is held by a batch being sent: free when it is answered
        return BUSY_POLL
    return max(0.0, first + WINDOW - now)
