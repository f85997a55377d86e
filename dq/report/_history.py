"""The reports' view of the history rules (``history_change``): which metrics of a unit were
flagged against its own earlier months, which months of its trend were flagged, and which units
had a flagged drop (marked in the index). The views call these helpers; the store is read in
:mod:`dq.report.data` (:func:`dq.engine.metrics.history_flags`)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from dq.engine.checks.history import fmt_value
from dq.engine.metrics import history_checks
from dq.engine.results import Status

__all__ = ["HistoryFlag", "drop_units", "flagged_periods", "history_flags"]

_FLAGGED = (Status.WARN, Status.FAIL)


@dataclass(frozen=True)
class HistoryFlag:
    """One metric outside the range the unit's history gave."""

    rule: str
    title: str
    metric: str
    value: str
    expected: str  # "[low, high]"
    direction: str  # drop | rise
    periods: str  # the periods the range came from, "2020-04..2020-09"


def _samples(row: Mapping[str, Any]) -> list[dict[str, Any]]:
    s = row.get("samples")
    if isinstance(s, str):
        try:
            s = json.loads(s or "[]")
        except ValueError:
            return []
    return [dict(x) for x in (s or []) if isinstance(x, Mapping)]


def _range(low: float | None, high: float | None) -> str:
    lo = fmt_value(low) if low is not None else "−∞"
    hi = fmt_value(high) if high is not None else "∞"
    return f"[{lo}, {hi}]"


def _direction(sample: Mapping[str, Any]) -> str:
    low, value = sample.get("expected_low"), sample.get("value")
    return "drop" if low is not None and value is not None and value < low else "rise"


def history_flags(results: Iterable[Mapping[str, Any]], lang: str) -> list[HistoryFlag]:
    """The flagged metrics of one unit's results (rows of the store's results frame)."""
    out: list[HistoryFlag] = []
    checks = history_checks()
    for r in results:
        if r.get("check") not in checks or r.get("status") not in _FLAGGED:
            continue
        title = str(r.get(f"title_{lang}") or r.get("title_zh") or r.get("rule"))
        samples = _samples(r)
        for s in samples:
            if not s.get("flagged"):
                continue
            used = [
                x["period"]
                for x in samples
                if x.get("metric") == s.get("metric") and x.get("flagged") is None
            ]
            low, high = s.get("expected_low"), s.get("expected_high")
            out.append(
                HistoryFlag(
                    rule=str(r.get("rule")),
                    title=title,
                    metric=str(s.get("metric")),
                    value=fmt_value(s.get("value")),
                    expected=_range(low, high),
                    direction=_direction(s),
                    periods=f"{used[0]}..{used[-1]}" if len(used) > 1 else (used[0] if used else ""),
                )
            )
    return out


def flagged_periods(flags: pl.DataFrame, unit_id: str) -> set[str]:
    """Periods in which a history rule of ``unit_id`` warned or failed."""
    if flags.is_empty():
        return set()
    return set(flags.filter(pl.col("unit_id") == unit_id)["period"].to_list())


def drop_units(results: pl.DataFrame) -> set[str]:
    """Units of a period's results with a flagged drop (a metric below its expected range)."""
    if results.is_empty() or "check" not in results.columns:
        return set()
    flagged = pl.col("check").is_in(list(history_checks())) & pl.col("status").is_in(list(_FLAGGED))
    hits = results.filter(flagged)
    return {
        r["unit_id"]
        for r in hits.iter_rows(named=True)
        if any(s.get("flagged") and _direction(s) == "drop" for s in _samples(r))
    }
