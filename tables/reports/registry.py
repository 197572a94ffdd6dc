"""The reports, in the order the pages list them, and the one way to build one."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from tables.calendar import utcnow
from tables.reports import (
    accounting,
    arpu,
    backlog,
    billing,
    churn,
    comments,
    debtors,
    payments,
    ratings,
    requests,
    subscribers,
)
from tables.reports.filters import Filters, local_today
from tables.reports.report import Report, ReportSpec
from tables.reports.sql import fetch

REPORTS: dict[str, ReportSpec] = {m.SPEC.slug: m.SPEC for m in (
    payments, accounting, billing, debtors, arpu, subscribers, churn, requests, backlog, ratings,
    comments)}


async def build_report(slug: str, filters: Filters, now: dt.datetime | None = None) -> Report:
    """Build a report by its slug; the one entry point for pages, exports and the CLI."""
    spec = REPORTS[slug]
    now = now or utcnow()
    if "on" in spec.uses and filters.on is None:
        filters = replace(filters, on=local_today(now))
    report = await spec.build(filters, now)
    report.title = spec.title
    return report


async def filter_choices() -> dict[str, list[dict[str, Any]]]:
    """Towns and tariffs for the filter form."""
    return {
        "towns": await fetch("SELECT id, name FROM town ORDER BY name"),
        "tariffs": await fetch("SELECT id, name FROM tariff ORDER BY sort_order, name"),
    }
