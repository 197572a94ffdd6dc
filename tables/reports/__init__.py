"""Managers' reports: one module per report, each a plain async function returning columns and
rows (``Report``) and saying which charts it draws (``Chart``), listed in ``registry.REPORTS``.

The page, the CSV and XLSX exports and the CLI all call :func:`build_report`, so they cannot
disagree. Shared pieces: ``report`` (columns, rows, charts, the registry's entry), ``filters``
(period, town, tariff, grouping), ``sql`` (queries on both engines), ``exports`` (a report as
CSV/XLSX) and ``raw`` (the ledger's and payments' rows of a period, streamed).

Money stays integer kopecks in the rows (column kind ``money``); formatting happens only in
templates, charts and exports. Month and day boundaries are local time (Asia/Novokuznetsk);
timestamps are stored in UTC.
"""

from tables.reports.filters import Filters, local_midnight_utc, local_today
from tables.reports.registry import REPORTS, build_report, filter_choices
from tables.reports.report import Chart, Column, Report, ReportSpec, Series

__all__ = ["REPORTS", "Chart", "Column", "Filters", "Report", "ReportSpec", "Series", "build_report",
           "filter_choices", "local_midnight_utc", "local_today"]
