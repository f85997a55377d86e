"""Shared column and period conventions: the audited month (``YYYY-MM``)."""

from __future__ import annotations

import calendar
import re
from datetime import datetime

from dq.errors import UsageError

__all__ = ["parse_period"]

_PERIOD = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def parse_period(period: str) -> tuple[datetime, datetime]:
    """``'2020-09'`` → (2020-09-01 00:00, 2020-10-01 00:00).

    Only the zero-padded form is a period: ``2020-9`` or ``202009`` raise :class:`UsageError`
    with the same message everywhere (the text is not echoed, as it may come from a file).
    """
    if not isinstance(period, str) or not _PERIOD.fullmatch(period):
        raise UsageError("a period is a month written YYYY-MM, e.g. 2020-09")
    start = datetime.strptime(period, "%Y-%m")
    days = calendar.monthrange(start.year, start.month)[1]
    end = datetime(start.year + start.month // 12, start.month % 12 + 1, 1)
    assert (end - start).days == days
    return start, end
