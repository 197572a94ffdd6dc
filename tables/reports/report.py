"""What a report is: its columns and rows, the charts it draws, and its entry in the registry.

Money stays integer kopecks in the rows (column kind ``money``) and in the charts
(``Chart.money``); formatting happens only in templates, charts and exports.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tables.reports.filters import Filters

TOTAL = "Итого"

# Column kinds: text, int, money (kopecks), decimal (Decimal, ``places``), date,
# datetime (aware), month ("YYYY-MM").
KINDS = {"text", "int", "money", "decimal", "date", "datetime", "month"}


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = "text"
    places: int = 0

    def __post_init__(self) -> None:
        assert self.kind in KINDS, self.kind


@dataclass
class Report:
    """What every output shows: a title, columns, rows and an optional total row."""

    slug: str
    title: str
    columns: list[Column]
    rows: list[tuple]
    total: tuple | None = None
    subtitle: str = ""
    notes: list[str] = field(default_factory=list)

    def index(self, key: str) -> int:
        return [c.key for c in self.columns].index(key)

    def values(self, key: str) -> list[Any]:
        i = self.index(key)
        return [row[i] for row in self.rows]

    def as_dicts(self) -> list[dict[str, Any]]:
        keys = [c.key for c in self.columns]
        return [dict(zip(keys, row, strict=True)) for row in self.rows]

    def labels(self, key: str) -> list[str]:
        """A column as chart labels (days as ``dd.mm``)."""
        return [v.strftime("%d.%m") if hasattr(v, "strftime") else str(v) for v in self.values(key)]

    def series(self, *keys: str) -> list[Series]:
        """Columns as chart series, named by their labels."""
        by_key = {c.key: c.label for c in self.columns}
        return [Series(by_key[k], self.values(k)) for k in keys]


# --- charts: what a report draws; the front end decides how --------------------------------------

@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[int | float | Decimal | None]


@dataclass(frozen=True)
class Chart:
    """One chart of a report: bars (side by side or ``stacked``) or a ``line`` per series.

    ``money``: the values are kopecks (drawn in roubles, the axis in ₽); ``None`` is no value.
    ``unit="bytes"``: the values are bytes (drawn in the unit the largest one reads best in, МБ
    or ГБ). ``description``: what a screen reader is told besides the title (the SVG's
    ``<desc>``), e.g. where the numbers are as a table.
    """

    title: str
    labels: list[str]
    series: list[Series]
    kind: str = "bar"
    stacked: bool = False
    money: bool = False
    unit: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        assert self.kind in ("bar", "line"), self.kind
        assert self.unit in ("", "bytes"), self.unit


# --- the registry's entry ---------------------------------------------------------------------------

Builder = Callable[["Filters", dt.datetime], Awaitable[Report]]
Charts = Callable[[Report, "Filters"], list[Chart]]


def no_charts(report: Report, f: Filters) -> list[Chart]:
    return []


@dataclass(frozen=True)
class ReportSpec:
    """A report as the registry lists it: how to build it, what it draws, which filters it reads.

    :param uses: of ``period town tariff group on`` (see :class:`~tables.reports.filters.Filters`).
    :param groups: the ``group`` choices (the first is the default) and their names.
    """

    slug: str
    title: str
    description: str
    build: Builder
    uses: frozenset[str]
    groups: Mapping[str, str] = field(default_factory=dict)
    charts: Charts = no_charts


def spec(slug: str, title: str, description: str, build: Builder, uses: str,
         groups: Mapping[str, str] | None = None, charts: Charts = no_charts) -> ReportSpec:
    """``uses`` as a space-separated string: ``spec(..., "period town tariff")``."""
    return ReportSpec(slug, title, description, build, frozenset(uses.split()), groups or {}, charts)
