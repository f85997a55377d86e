"""The audited month: one value type for every place dq reads, compares or filters a period.

    >>> p = Period.parse("2020-09")
    >>> str(p), p.start, p.end, p.days
    ('2020-09', datetime.datetime(2020, 9, 1, 0, 0), datetime.datetime(2020, 10, 1, 0, 0), 30)
    >>> str(p.previous()), str(p.next()), str(p.shift(-12))
    ('2020-08', '2020-10', '2019-09')

A month is ``[start, end)``: from 00:00 of its first day up to, not including, 00:00 of the
first day of the next month. :meth:`Period.contains` is the one filter for "inside this month".
Only the zero-padded form ``YYYY-MM`` is a period; anything else raises the same
:class:`~dq.errors.UsageError` everywhere, without echoing the text (it may come from a file).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime

import polars as pl

from dq.errors import UsageError

__all__ = ["PERIOD_HELP", "Period"]

PERIOD_HELP = "a period is a month written YYYY-MM, e.g. 2020-09"
_FORM = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")


@dataclass(frozen=True, order=True)
class Period:
    """A calendar month. Ordered by time; ``str()`` is its ``YYYY-MM`` label."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not (1 <= self.year <= 9999 and 1 <= self.month <= 12):
            raise UsageError(PERIOD_HELP)

    @classmethod
    def parse(cls, text: object) -> Period:
        """``'2020-09'`` → ``Period(2020, 9)``; any other text (``2020-9``, ``202009``,
        ``2020-13``) or a non-string raises :class:`~dq.errors.UsageError`."""
        if isinstance(text, Period):
            return text
        m = _FORM.fullmatch(text) if isinstance(text, str) else None
        if m is None:
            raise UsageError(PERIOD_HELP)
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def is_period(cls, text: object) -> bool:
        """Whether ``text`` is a period label (``YYYY-MM``)."""
        return isinstance(text, str) and _FORM.fullmatch(text) is not None

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def label(self) -> str:
        return str(self)

    @property
    def start(self) -> datetime:
        """00:00 of the month's first day."""
        return datetime(self.year, self.month, 1)

    @property
    def end(self) -> datetime:
        """00:00 of the next month's first day: the first instant not in the month."""
        return self.next().start

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def days(self) -> int:
        """Number of days in the month."""
        return calendar.monthrange(self.year, self.month)[1]

    @property
    def index(self) -> int:
        """Months since January of year 0: differences of two indexes count months."""
        return 12 * self.year + self.month - 1

    def shift(self, months: int) -> Period:
        """The month ``months`` later (earlier when negative)."""
        i = self.index + months
        return Period(i // 12, i % 12 + 1)

    def previous(self) -> Period:
        return self.shift(-1)

    def next(self) -> Period:
        return self.shift(1)

    def contains(self, expr: pl.Expr) -> pl.Expr:
        """A Polars expression: whether the date or datetime ``expr`` falls in the month
        (``start <= expr < end``; null where ``expr`` is null)."""
        return (expr >= self.start) & (expr < self.end)

    def contains_value(self, value: date | datetime) -> bool:
        """Whether one date or datetime falls in the month."""
        moment = value if isinstance(value, datetime) else datetime(value.year, value.month, value.day)
        return self.start <= moment < self.end
