"""One calendar month of the provider's local calendar (Asia/Novokuznetsk).

Billing periods, statements, reports and payment periods are all months: this is the one type
for them. Stored and sent in URLs as ``"2026-12"``; shown to people as «декабрь 2026».

>>> m = Month.parse("2026-12")
>>> str(m + 1), m.title, m - Month(2026, 1)
('2027-01', 'декабрь 2026', 11)
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from tables.calendar import LOCAL_TZ, local_date, utcnow

#: Nominative month names, as Babel's standalone ``LLLL`` gives them for ru_RU.
MONTH_NAMES = ("январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август",
               "сентябрь", "октябрь", "ноябрь", "декабрь")
#: Genitive forms ("за декабря 2026" is not Russian, but "1 декабря 2026" is typed).
_GENITIVE = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
             "сентября", "октября", "ноября", "декабря")

#: The default refusal; callers with a wording of their own pass ``message=``.
FORMAT_MESSAGE = "Месяц указывается в виде ГГГГ-ММ, например 2026-12"
#: Years a month typed by staff for billing or reports may be in (``years=`` of :meth:`Month.parse`).
WORKING_YEARS = range(2000, 2101)

# ASCII digits only: \d also matches other scripts' digits, which int() would accept.
_ISO = re.compile(r"([0-9]{4})-([0-9]{2})")
_DOTTED = re.compile(r"([0-9]{1,2})\.([0-9]{4})")
_WORDS = re.compile(r"([а-яё]+)\s+([0-9]{4})(?:\s*(?:г\.?|года?))?")
_NAMES = {name: number for names in (MONTH_NAMES, _GENITIVE) for number, name in enumerate(names, 1)}


@dataclass(frozen=True, order=True, slots=True)
class Month:
    """A calendar month: immutable, ordered, hashable; ``Month(2026, 12)``."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not (1 <= self.month <= 12 and dt.MINYEAR <= self.year <= dt.MAXYEAR):
            raise ValueError(FORMAT_MESSAGE)

    # --- making one -----------------------------------------------------------------------

    @classmethod
    def parse(cls, text: str | Month | None, *, message: str | None = None,
              years: range | None = None) -> Month:
        """A month typed or picked by a person: ``"2026-12"``, ``"12.2026"``, ``"декабрь 2026"``.

        :param message: the Russian refusal to raise instead of :data:`FORMAT_MESSAGE`.
        :param years: the years accepted (e.g. :data:`WORKING_YEARS`); any year otherwise.
        :raises ValueError: for anything else, with a message for people.
        """
        if isinstance(text, Month):
            if years is not None and text.year not in years:
                raise ValueError(message or FORMAT_MESSAGE)
            return text
        raw = " ".join(str(text or "").split()).lower()
        year = month = 0
        if match := _ISO.fullmatch(raw):
            year, month = int(match[1]), int(match[2])
        elif match := _DOTTED.fullmatch(raw):
            year, month = int(match[2]), int(match[1])
        elif (match := _WORDS.fullmatch(raw)) and match[1] in _NAMES:
            year, month = int(match[2]), _NAMES[match[1]]
        if not (1 <= month <= 12 and year >= 1) or (years is not None and year not in years):
            raise ValueError(message or FORMAT_MESSAGE)
        return cls(year, month)

    @classmethod
    def of(cls, moment: dt.date | dt.datetime) -> Month:
        """The month of a day, or of a moment in local time (naive moments are UTC)."""
        day = local_date(moment) if isinstance(moment, dt.datetime) else moment
        return cls(day.year, day.month)

    @classmethod
    def current(cls, now: dt.datetime | None = None) -> Month:
        """This month in Novokuznetsk (not the server's clock)."""
        return cls.of(now or utcnow())

    @classmethod
    def from_index(cls, index: int) -> Month:
        """The inverse of :attr:`index`."""
        return cls(index // 12, index % 12 + 1)

    @classmethod
    def range(cls, first: Month | str, last: Month | str) -> list[Month]:
        """Every month from ``first`` to ``last``, both included (empty when reversed)."""
        a, b = cls.parse(first), cls.parse(last)
        return [cls.from_index(i) for i in range(a.index, b.index + 1)]

    # --- arithmetic -----------------------------------------------------------------------

    @property
    def index(self) -> int:
        """Months since year 0: consecutive months have consecutive indexes."""
        return self.year * 12 + self.month - 1

    def __add__(self, months: int) -> Month:
        if not isinstance(months, int):
            return NotImplemented
        return Month.from_index(self.index + months)

    def __sub__(self, other: int | Month) -> Month | int:  # type: ignore[override]
        """``month - 3`` is a month; ``month - other`` the number of months between them."""
        if isinstance(other, Month):
            return self.index - other.index
        if isinstance(other, int):
            return Month.from_index(self.index - other)
        return NotImplemented

    @property
    def next(self) -> Month:
        return self + 1

    @property
    def previous(self) -> Month:
        return self - 1  # type: ignore[return-value]

    def months_until(self, last: Month) -> int:
        """How many months ``self``..``last`` spans, both included (0 when reversed)."""
        return max(0, last.index - self.index + 1)

    # --- days and moments -----------------------------------------------------------------

    @property
    def days(self) -> int:
        return calendar.monthrange(self.year, self.month)[1]

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def last_day(self) -> dt.date:
        return dt.date(self.year, self.month, self.days)

    def dates(self) -> list[dt.date]:
        """The month's days, first to last."""
        first = self.first_day
        return [first + dt.timedelta(days=n) for n in range(self.days)]

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """Local midnight of the 1st and of the next month's 1st, aware (Asia/Novokuznetsk):
        a moment ``m`` is in the month when ``start <= m < end``."""
        end = self.next.first_day if self.year < dt.MAXYEAR or self.month < 12 else None
        start = dt.datetime.combine(self.first_day, dt.time(), tzinfo=LOCAL_TZ)
        if end is None:  # December 9999: its end is past the calendar
            return start, dt.datetime.max.replace(tzinfo=LOCAL_TZ)
        return start, dt.datetime.combine(end, dt.time(), tzinfo=LOCAL_TZ)

    def utc_bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """:meth:`bounds` as UTC moments (what the database compares ``created_at`` with)."""
        start, end = self.bounds()
        return start.astimezone(dt.UTC), end.astimezone(dt.UTC)

    # --- text -----------------------------------------------------------------------------

    @property
    def iso(self) -> str:
        """``"2026-12"``: stored periods, URLs, form values."""
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def title(self) -> str:
        """``"декабрь 2026"``: for people (ledger comments, pages)."""
        return f"{MONTH_NAMES[self.month - 1]} {self.year}"

    @property
    def dotted(self) -> str:
        """``"12.2026"``."""
        return f"{self.month:02d}.{self.year}"

    def __str__(self) -> str:
        return self.iso
