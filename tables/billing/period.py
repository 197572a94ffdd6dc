"""The billing month (``Period``) and the current one in Novokuznetsk."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from tables.billing.texts import TEXTS
from tables.calendar import local_date, utcnow

MONTHS = ["январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август",
          "сентябрь", "октябрь", "ноябрь", "декабрь"]


@dataclass(frozen=True, order=True)
class Period:
    """A billing month."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Period:
        """``"2026-12"`` → ``Period(2026, 12)``; anything else raises ``ValueError``."""
        match = re.fullmatch(r"(\d{4})-(\d{2})", (text or "").strip())
        if not match or not 1 <= int(match[2]) <= 12 or not 2000 <= int(match[1]) <= 2100:
            raise ValueError(TEXTS["period_format"])
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def of(cls, day: dt.date) -> Period:
        return cls(day.year, day.month)

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def days(self) -> int:
        return calendar.monthrange(self.year, self.month)[1]

    @property
    def first(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def last(self) -> dt.date:
        return dt.date(self.year, self.month, self.days)

    @property
    def next(self) -> Period:
        return Period(self.year + self.month // 12, self.month % 12 + 1)

    @property
    def title(self) -> str:
        """Russian name for ledger comments: "декабрь 2026"."""
        return f"{MONTHS[self.month - 1]} {self.year}"

    def __str__(self) -> str:
        return self.label


def current_period(now: dt.datetime | None = None) -> Period:
    return Period.of(local_date(now or utcnow()))
