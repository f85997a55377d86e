"""Checks that compare a unit with its own history: ``history_change``.

A unit's figures of the audited period (:mod:`dq.engine.metrics`: table rows, summary figures, rule fail
fractions) are compared with the same unit's figures of EARLIER periods in the score store, so an
extraction that stops, a volume that halves after a system upgrade or a duplicate load that
triples a table is caught the month it happens, even when the month alone looks plausible.

Methods (each on ``log(value + offset)``; offset 1 for counts, for fail fractions 1 % or two rows
of those evaluated, whichever is more, so zero is a value like any other):

* ``robust_z`` -- the median and MAD of the last ``window`` periods; the expected range is the
  median ± ``max_z`` robust standard deviations (1.4826 × MAD), and never narrower than
  ± ``min_change`` (a relative change), so a flat history does not flag noise;
* ``pct_change`` -- the change from the previous stored period, within [``min``, ``max``]
  (relative changes, e.g. -0.5 and 1.0);
* ``seasonal`` -- like ``robust_z``, shifted by the seasonal effect the unit showed in the same
  month of the previous year (that month against the stored periods around it); the range spans
  both the shifted and the unshifted one, so a one-off anomaly last year is not taken for a
  season. Spring Festival moves between January and February: a Spring Festival month is matched
  with the previous year's Spring Festival month, and the other of the two months with the other.
  Without that month in the history it is ``robust_z``, and the message says so.

With fewer than ``min_history`` earlier periods the rule is not applicable, and its message says
how many there are. ``metric`` may be a pattern with ``*`` (``table.*.rows``,
``rule.*.fail_fraction``): each matching metric is one evaluated item and each one outside its
range one failure. The check needs the unit's history (``needs={"history"}``): the engine
alone (``dq audit``) reports the rule as not applicable, and ``dq score`` has the engine judge it
(:func:`dq.engine.evaluate.judge_with_history`) on the figures the store holds.
"""

from __future__ import annotations

import fnmatch
import math
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, get_args

import polars as pl

from dq.engine.checks.base import CheckDef, CheckParams, Compiled, Context, UnitHistory, param, sql
from dq.engine.messages import message
from dq.engine.results import RuleResult, Status, result_of, status_for
from dq.errors import CheckError, NotApplicable
from dq.io.period import Period

__all__ = [
    "CHECKS",
    "SPRING_FESTIVAL",
    "HistoryChange",
    "Judgement",
    "evaluate_history",
    "fmt_value",
    "judge",
    "judge_rules",
    "seasonal_reference",
]

Method = Literal["robust_z", "pct_change", "seasonal"]
Direction = Literal["drop", "rise", "both"]
METHODS: tuple[Method, ...] = get_args(Method)
DIRECTIONS: tuple[Direction, ...] = get_args(Direction)
_MAD_SIGMA = 1.4826  # MAD × 1.4826 estimates a standard deviation for normal data
_METRIC = re.compile(
    r"^(table\.[A-Za-z0-9_*]+\.rows|summary\.[A-Za-z0-9_*]+|rule\.[A-Za-z0-9_.*-]+\.fail_fraction)$"
)

# 春节 (Chinese New Year's day) of each year: its month has fewer working days, so visits and
# uploads are lower every year, in January or February.
SPRING_FESTIVAL = {
    2014: date(2014, 1, 31), 2015: date(2015, 2, 19), 2016: date(2016, 2, 8), 2017: date(2017, 1, 28),
    2018: date(2018, 2, 16), 2019: date(2019, 2, 5), 2020: date(2020, 1, 25), 2021: date(2021, 2, 12),
    2022: date(2022, 2, 1), 2023: date(2023, 1, 22), 2024: date(2024, 2, 10), 2025: date(2025, 1, 29),
    2026: date(2026, 2, 17), 2027: date(2027, 2, 6), 2028: date(2028, 1, 26), 2029: date(2029, 2, 13),
    2030: date(2030, 2, 3), 2031: date(2031, 1, 23), 2032: date(2032, 2, 11), 2033: date(2033, 1, 31),
    2034: date(2034, 2, 19), 2035: date(2035, 2, 8),
}  # fmt: skip


def seasonal_reference(period: str) -> str:
    """The period a year earlier that plays the same part in the year: the same month, except
    that the Spring Festival month of the year is matched with the previous year's Spring
    Festival month (and the other of January and February with the other)."""
    p = Period.parse(period)
    y, m = p.year, p.month
    if m in (1, 2) and y in SPRING_FESTIVAL and y - 1 in SPRING_FESTIVAL:
        festive_now = SPRING_FESTIVAL[y].month == m
        festive_then = SPRING_FESTIVAL[y - 1].month
        m = festive_then if festive_now else 3 - festive_then
    return str(Period(y - 1, m))


def _months(period: str) -> int:
    return Period.parse(period).index


def _offset(metric: str, evaluated: int | None = None) -> float:
    """What is added before the logarithm: 1 for counts; for a fail fraction 1 % or two rows of
    the rows evaluated, whichever is more, so one or two stray failing rows of a small table
    are no jump."""
    if not metric.endswith(".fail_fraction"):
        return 1.0
    return max(0.01, 2 / evaluated) if evaluated else 0.01


def fmt_value(v: float | None) -> str:
    """A metric's value as the messages and reports print it."""
    if v is None:
        return "-"
    if v == 0 or abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.4g}"


@dataclass(frozen=True)
class Judgement:
    """One metric of one unit-period judged against its history."""

    metric: str
    value: float | None
    applicable: bool
    flagged: bool
    low: float | None  # expected range (None: unbounded on that side)
    high: float | None
    method: str  # the method actually used (seasonal falls back to robust_z)
    periods: tuple[str, ...]  # the periods the range was computed from
    history: tuple[tuple[str, float], ...]  # every earlier period's value, oldest first
    note: str = ""

    def describe(self) -> str:
        if not self.applicable:
            return message("history.not_applicable", metric=self.metric, note=self.note)
        lo = fmt_value(self.low) if self.low is not None else "-∞"
        hi = fmt_value(self.high) if self.high is not None else "∞"
        used = f"{self.periods[0]}..{self.periods[-1]}" if len(self.periods) > 1 else self.periods[0]
        return message(
            "history.outside" if self.flagged else "history.within",
            metric=self.metric,
            value=fmt_value(self.value),
            low=lo,
            high=hi,
            method=self.method,
            used=used,
            note=message("history.note", note=self.note) if self.note else "",
        )


class HistoryChange(CheckParams):
    """A ``history_change`` rule's parameters."""

    metric: str
    method: Method = "robust_z"
    window: int = 6
    min_history: int = 3
    direction: Direction = "both"
    max_z: float = 3.5
    min_change: float = param(default=0.3, help="smallest relative change flagged")
    min: float | None = param(default=None, help="pct_change: lowest relative change")
    max: float | None = param(default=None, help="pct_change: highest relative change")


def judge(
    metric: str,
    value: float,
    history: Sequence[tuple[str, float]],
    period: str,
    params: HistoryChange,
    evaluated: int | None = None,
) -> Judgement:
    """Judge ``value`` of ``period`` against ``history`` ((period, value), any order; only
    periods before ``period`` are used) with a rule's ``params``. ``evaluated``: the rows a fail
    fraction is of."""
    hist = sorted((p, float(v)) for p, v in history if p < period and v is not None and math.isfinite(v))
    method, window, need, direction = params.method, params.window, params.min_history, params.direction
    off = _offset(metric, evaluated)
    if len(hist) < max(need, 1):
        return Judgement(
            metric, value, False, False, None, None, method, (), tuple(hist),
            message("history.too_short", n=len(hist), need=need),
        )  # fmt: skip

    def flags(low: float | None, high: float | None) -> bool:
        drop = low is not None and value < low and direction in ("drop", "both")
        rise = high is not None and value > high and direction in ("rise", "both")
        return bool(drop or rise)

    if method == "pct_change":
        prev_p, prev = hist[-1]
        low = prev * (1 + params.min) if params.min is not None and direction != "rise" else None
        high = prev * (1 + params.max) if params.max is not None and direction != "drop" else None
        change = (value - prev) / prev if prev else (math.inf if value > 0 else 0.0)
        note: str = (
            message("history.change", change=f"{change:+.0%}", period=prev_p)
            if math.isfinite(change)
            else message("history.from_zero", period=prev_p)
        )
        return Judgement(
            metric, value, True, flags(low, high), low, high, method, (prev_p,), tuple(hist), note
        )

    def center_spread(values: Sequence[float]) -> tuple[float, float]:
        logs = [math.log(v + off) for v in values]
        med = statistics.median(logs)
        mad = statistics.median(abs(x - med) for x in logs)
        return med, mad

    recent = hist[-window:]
    med, mad = center_spread([v for _, v in recent])
    used_method, shift = "robust_z", 0.0
    note = ""
    if method == "seasonal":
        ref = seasonal_reference(period)
        ref_value = dict(hist).get(ref)
        # the reference month against the periods around it (before and after, up to `window`)
        around = sorted((p for p, _ in hist if p != ref), key=lambda p: (abs(_months(p) - _months(ref)), p))
        around = around[:window]
        if ref_value is not None and len(around) >= need:
            values = dict(hist)
            ref_med, _ = center_spread([values[p] for p in around])
            shift = math.log(ref_value + off) - ref_med
            used_method = "seasonal"
            note = message("history.seasonal", effect=f"{math.exp(shift) - 1:+.0%}", period=ref)
        else:
            note = message("history.no_reference", period=ref)
    half = max(params.max_z * _MAD_SIGMA * mad, math.log1p(params.min_change))
    # seasonal: the range around the level shifted by last year's effect, widened to include the
    # unshifted range, so a one-off anomaly in last year's month is not taken for a season
    lo_c, hi_c = min(med, med + shift), max(med, med + shift)
    low = math.exp(lo_c - half) - off if direction != "rise" else None
    high = math.exp(hi_c + half) - off if direction != "drop" else None
    if low is not None:
        low = max(low, 0.0)
    periods = tuple(p for p, _ in recent)
    return Judgement(
        metric, value, True, flags(low, high), low, high, used_method, periods, tuple(hist), note
    )


def _validate(p: HistoryChange, ctx: Context | None = None) -> Compiled:
    metric = p.metric
    if not _METRIC.match(metric):
        raise CheckError(
            f"metric {metric!r} is not table.<table>.rows, summary.<figure> or rule.<rule id>.fail_fraction"
            " (* matches any part)"
        )
    if p.window < 1 or p.min_history < 1:
        raise CheckError("window and min_history must be at least 1")
    if p.method == "pct_change" and p.min is None and p.max is None:
        raise CheckError("method pct_change needs min and/or max (relative changes, e.g. -0.5, 1.0)")
    if p.min is not None and p.max is not None and p.min > p.max:
        raise CheckError("min is greater than max")
    # The extract alone has no history: the engine judges the rule with the unit's stored
    # figures (judge_rules), once the unit's other results are known.
    raise NotApplicable(message("history.deferred"))


CHECKS = (
    CheckDef(
        "history_change",
        "plausibility",
        "A unit's metric (table.<t>.rows, summary.<figure>, rule.<id>.fail_fraction; * matches"
        " any part) against the unit's earlier periods in the score store: robust_z (median and"
        " MAD of the last `window` periods, on a log scale), pct_change (vs the previous period,"
        " within min/max) or seasonal (robust_z shifted by the same month a year earlier, Spring"
        " Festival months matched); flags a drop, a rise or both. Evaluated by `dq score`.",
        HistoryChange,
        _validate,
        lambda p: [],
        needs=frozenset({"history"}),
        judge=lambda rules, unit: judge_rules(rules, unit),
        null_semantics="a metric the unit does not have this period is not evaluated; a table"
        " uploaded before but not now counts 0 rows; fewer than min_history earlier periods:"
        " not applicable",
    ),
)


# ----------------------------------------------------------------------------- evaluation


def _matches(pattern: str, names: set[str]) -> list[str]:
    if "*" not in pattern:
        return [pattern] if pattern in names else []
    return sorted(n for n in names if fnmatch.fnmatchcase(n, pattern))


def evaluate_history(
    rules: Sequence[Any],
    period: str,
    current: Mapping[str, float],
    history: pl.DataFrame,
    summary: Mapping[str, Any] | None = None,
    samples: int = 5,
    evaluated: Mapping[str, int] | None = None,
) -> list[RuleResult]:
    """Evaluate ``history_change`` rules for one unit-period.

    ``current`` is the unit's metrics of ``period`` (:func:`dq.engine.metrics.unit_metrics`);
    ``history`` the unit's stored metrics (columns period, metric, value); only periods before
    ``period`` are used, so a re-run of a period is never compared with itself. ``summary`` (the
    unit's submission summary) decides each rule's ``when``; ``evaluated`` maps a fail fraction
    metric to the rows it is of.
    """
    evaluated = evaluated or {}
    hist = history.filter(pl.col("period") < period) if not history.is_empty() else history
    by_metric: dict[str, list[tuple[str, float]]] = {}
    for p, m, v in hist.select("period", "metric", "value").iter_rows() if not hist.is_empty() else ():
        by_metric.setdefault(m, []).append((p, v))
    current = dict(current)
    if any(m.startswith("table.") for m in current):
        for m in by_metric:  # a table uploaded before and not now: 0 rows
            if m.startswith("table.") and m not in current:
                current[m] = 0.0
    out: list[RuleResult] = []
    for rule in rules:
        if rule.when and summary is None:
            out.append(result_of(rule, Status.NOT_APPLICABLE, 0, 0, message("history.no_summary")))
            continue
        if rule.when and summary is not None:
            try:
                row = pl.DataFrame([dict(summary)])
                applies = bool(row.select(sql(rule.when).fill_null(False)).item())
            except Exception as exc:
                out.append(result_of(rule, Status.ERROR, 0, 0, f"cannot evaluate when: {exc}"))
                continue
            if not applies:
                out.append(result_of(rule, Status.NOT_APPLICABLE, 0, 0, message("history.no_rows")))
                continue
        params: HistoryChange = rule.params
        pattern = params.metric
        names = _matches(pattern, set(current) | set(by_metric))
        judged = [
            judge(m, current[m], by_metric.get(m, []), period, params, evaluated.get(m))
            for m in names
            if m in current
        ]
        done = [j for j in judged if j.applicable]
        if not done:
            why = judged[0].note if judged else message("history.no_metric", pattern=pattern)
            out.append(result_of(rule, Status.NOT_APPLICABLE, 0, 0, why))
            continue
        flagged = [j for j in done if j.flagged]
        shown = flagged or (done if len(done) == 1 else [])
        text: str
        if flagged:
            text = message(
                "history.flagged",
                items=[j.describe() for j in flagged[:5]],
                more=message("history.more", n=len(flagged) - 5) if len(flagged) > 5 else "",
            )
        elif len(done) == 1:
            text = done[0].describe()
        else:
            used = sorted({p for j in done for p in j.periods})
            text = message("history.all_within", n=len(done), first=used[0], last=used[-1])
        rows: list[dict[str, Any]] = []
        for j in shown[:3]:
            values = dict(j.history)
            for p in (period, *j.periods):  # the month judged first, then its history
                rows.append(
                    {
                        "metric": j.metric,
                        "period": p,
                        "value": j.value if p == period else values.get(p),
                        "expected_low": j.low if p == period else None,
                        "expected_high": j.high if p == period else None,
                        "flagged": j.flagged if p == period else None,
                    }
                )
        res = result_of(rule, Status.PASS, len(done), len(flagged), text, rows if samples else ())
        exceeded = rule.threshold.exceeded(len(flagged), len(done))
        out.append(_replace_status(res, status_for(len(flagged), len(done), rule.severity, exceeded)))
    return out


def _replace_status(r: RuleResult, status: Status) -> RuleResult:
    return RuleResult(**{**r.__dict__, "status": status})


def judge_rules(rules: Sequence[Any], unit: UnitHistory, samples: int = 5) -> list[RuleResult]:
    """The check's judge (:attr:`CheckDef.judge`): ``rules`` of one unit on its history."""
    return evaluate_history(
        rules, unit.period, unit.current, unit.earlier, unit.summary, samples, evaluated=unit.evaluated
    )
