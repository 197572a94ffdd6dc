"""``piccolo tables apply-terminations``: end contracts whose scheduled termination date has come."""

from __future__ import annotations


async def apply_terminations() -> None:
    """Terminate contracts whose termination date has come (run it daily, after local midnight).

    Safe to re-run: contracts already terminated are skipped.
    """
    from tables.calendar import local_date, utcnow
    from tables.requests.termination import apply_due_terminations

    now = utcnow()
    count = await apply_due_terminations(local_date(now), now=now)
    print(f"Terminations applied: {count}")
