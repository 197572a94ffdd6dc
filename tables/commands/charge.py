"""``piccolo tables charge --period 2026-12``: the monthly charge run, with a progress bar."""

from __future__ import annotations

import getpass
import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table


def cli_actor(by: str = ""):
    from tables.audit import Actor

    return Actor(by or f"cli:{getpass.getuser()}")


async def charge(period: str = "", by: str = "") -> None:
    """Charge the monthly fee for a period (YYYY-MM, default: the current month).

    Safe to re-run: contracts already charged for the period are skipped.

    :param period: the billing month, e.g. 2026-12.
    :param by: who starts the run (recorded); default cli:<os user>.
    """
    from tables.billing.charge_run import run_charges
    from tables.money import format_plain

    console = Console()
    try:
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console, transient=False) as bar:
            task = bar.add_task(f"charging {period or 'current month'} (subscriber ids)", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            run = await run_charges(period or None, actor=cli_actor(by), progress=progress)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        sys.exit(1)
    summary = Table(title=f"Charge run {run.period} (#{run.id})", show_header=False)
    summary.add_row("contracts charged", str(run.contracts_charged))
    summary.add_row("total charged, RUB", format_plain(run.total))
    summary.add_row("suspended for debt", str(run.contracts_suspended))
    summary.add_row("tariff changes applied", str(run.tariff_changes_applied))
    summary.add_row("took, s", f"{(run.finished_at - run.started_at).total_seconds():.2f}")
    summary.add_row("started by", run.started_by)
    console.print(summary)


async def reverse_promised() -> None:
    """Reverse promised payments whose 3 days are over (run it every few minutes)."""
    from tables.billing.promised import reverse_expired_promised_payments

    count = await reverse_expired_promised_payments()
    print(f"Promised payments reversed: {count}")


async def apply_tariff_changes() -> None:
    """Switch contracts to tariffs whose scheduled date has come (run it daily)."""
    from tables.billing.tariff_changes import apply_due_tariff_changes
    from tables.calendar import local_date, utcnow

    now = utcnow()
    count = await apply_due_tariff_changes(local_date(now), now=now)
    print(f"Tariff changes applied: {count}")
