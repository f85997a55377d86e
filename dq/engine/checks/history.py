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
range one failure. The evaluation needs the store, so the engine alone (``dq audit``) reports
the rule as not applicable; ``dq score`` evaluates it with :func:`evaluate_history`.
"""

from __future__ import annotations

import fnmatch
import math
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from dq.engine.checks.base import Aggregate, CheckDef, Compiled, Context, Param, sql
from dq.engine.messages import message
from dq.engine.results import RuleResult, status_for
from dq.errors import CheckError
from dq.io.period import Period

__all__ = [
    "CHECKS",
    "SPRING_FESTIVAL",
    "Judgement",
    "evaluate_history",
    "fmt_value",
    "judge",
    "seasonal_reference",
]

METHODS = ("robust_z", "pct_change", "seasonal")
DIRECTIONS = ("drop", "rise", "both")
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


def judge(
    metric: str,
    value: float,
    history: Sequence[tuple[str, float]],
    period: str,
    params: Mapping[str, Any],
    evaluated: int | None = None,
) -> Judgement:
    """Judge ``value`` of ``period`` against ``history`` ((period, value), any order; only
    periods before ``period`` are used). ``evaluated``: the rows a fail fraction is of."""
    hist = sorted((p, float(v)) for p, v in history if p < period and v is not None and math.isfinite(v))
    method = str(params.get("method") or "robust_z")
    window = int(params.get("window") or 6)
    need = int(params.get("min_history") if params.get("min_history") is not None else 3)
    direction = str(params.get("direction") or "both")
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
        lo_c, hi_c = params.get("min"), params.get("max")
        low = prev * (1 + float(lo_c)) if lo_c is not None and direction != "rise" else None
        high = prev * (1 + float(hi_c)) if hi_c is not None and direction != "drop" else None
        change = (value - prev) / prev if prev else (math.inf if value > 0 else 0.0)
        note = (
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
    used_method, note, shift = "robust_z", "", 0.0
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
    max_z = float(params.get("max_z") if params.get("max_z") is not None else 3.5)
    min_change = float(params.get("min_change") if params.get("min_change") is not None else 0.3)
    half = max(max_z * _MAD_SIGMA * mad, math.log1p(min_change))
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


def _validate(p: Mapping[str, Any], ctx: Context | None = None) -> Compiled:
    metric = str(p["metric"])
    if not _METRIC.match(metric):
        raise CheckError(
            f"metric {metric!r} is not table.<table>.rows, summary.<figure> or rule.<rule id>.fail_fraction"
            " (* matches any part)"
        )
    if int(p["window"]) < 1 or int(p["min_history"]) < 1:
        raise CheckError("window and min_history must be at least 1")
    if p["method"] == "pct_change" and p.get("min") is None and p.get("max") is None:
        raise CheckError("method pct_change needs min and/or max (relative changes, e.g. -0.5, 1.0)")
    if p.get("min") is not None and p.get("max") is not None and float(p["min"]) > float(p["max"]):
        raise CheckError("min is greater than max")
    # The engine alone has no history: nothing to evaluate (not applicable). dq score
    # evaluates the rule with evaluate_history.
    return Aggregate(aggregate=lambda mask: (pl.lit(0, pl.Int64), pl.lit(0, pl.Int64)))


CHECKS = (
    CheckDef(
        "history_change",
        "plausibility",
        "A unit's metric (table.<t>.rows, summary.<figure>, rule.<id>.fail_fraction; * matches"
        " any part) against the unit's earlier periods in the score store: robust_z (median and"
        " MAD of the last `window` periods, on a log scale), pct_change (vs the previous period,"
        " within min/max) or seasonal (robust_z shifted by the same month a year earlier, Spring"
        " Festival months matched); flags a drop, a rise or both. Evaluated by `dq score`.",
        (
            Param("metric", "str"),
            Param("method", "str", required=False, default="robust_z", choices=METHODS),
            Param("window", "int", required=False, default=6),
            Param("min_history", "int", required=False, default=3),
            Param("direction", "str", required=False, default="both", choices=DIRECTIONS),
            Param("max_z", "number", required=False, default=3.5),
            Param(
                "min_change", "number", required=False, default=0.3, help="smallest relative change flagged"
            ),
            Param("min", "number", required=False, help="pct_change: lowest relative change"),
            Param("max", "number", required=False, help="pct_change: highest relative change"),
        ),
        _validate,
        lambda p: [],
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
    from dq.engine.evaluate import _result

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
            out.append(_result(rule, "not_applicable", 0, 0, message("history.no_summary")))
            continue
        if rule.when and summary is not None:
            try:
                row = pl.DataFrame([dict(summary)])
                applies = bool(row.select(sql(rule.when).fill_null(False)).item())
            except Exception as exc:
                out.append(_result(rule, "error", 0, 0, f"cannot evaluate when: {exc}"))
                continue
            if not applies:
                out.append(_result(rule, "not_applicable", 0, 0, message("history.no_rows")))
                continue
        pattern = str(rule.params["metric"])
        names = _matches(pattern, set(current) | set(by_metric))
        judged = [
            judge(m, current[m], by_metric.get(m, []), period, rule.params, evaluated.get(m))
            for m in names
            if m in current
        ]
        done = [j for j in judged if j.applicable]
        if not done:
            why = judged[0].note if judged else message("history.no_metric", pattern=pattern)
            out.append(_result(rule, "not_applicable", 0, 0, why))
            continue
        flagged = [j for j in done if j.flagged]
        shown = flagged or (done if len(done) == 1 else [])
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
        res = _result(rule, "pass", len(done), len(flagged), text, rows if samples else ())
        exceeded = rule.threshold.exceeded(len(flagged), len(done))
        out.append(_replace_status(res, status_for(len(flagged), len(done), rule.severity, exceeded)))
    return out


def _replace_status(r: RuleResult, status: str) -> RuleResult:
    return RuleResult(**{**r.__dict__, "status": status})


def history_rules(suites: Sequence[Any]) -> list[Any]:
    """The ``history_change`` rules of ``suites``."""
    return [r for s in suites for r in s.rules if r.check == "history_change"]


def evaluate_stored(
    store: Any,
    period: str,
    rules: Sequence[Any],
    current: Mapping[str, tuple[Mapping[str, float], Mapping[str, Any] | None]] | None = None,
    samples: int = 5,
) -> dict[str, list[RuleResult]]:
    """Evaluate ``rules`` for every unit of ``period``, against the earlier periods in ``store``.

    ``current`` maps unit_id -> (metrics, summary) of the units just scored; without it the
    period's metrics and summaries are read from the store (units scored before).
    """
    from dq.engine.metrics import load_metrics

    every = load_metrics(store)
    if current is None:
        now = every.filter(pl.col("period") == period)
        sums = store.summaries(period)
        by_unit = {r["unit_id"]: r for r in sums.to_dicts()} if not sums.is_empty() else {}
        current = {
            uid: (dict(zip(g["metric"], g["value"], strict=True)), by_unit.get(uid))
            for (uid,), g in now.group_by("unit_id")
        }
    earlier = every.filter(pl.col("period") < period)
    res = store.results(period)
    out: dict[str, list[RuleResult]] = {}
    for uid, (metrics, summary) in current.items():
        hist = earlier.filter(pl.col("unit_id") == uid)
        mine = res.filter(pl.col("unit_id") == uid) if not res.is_empty() else res
        rows = {f"rule.{r}.fail_fraction": n for r, n in zip(mine["rule"], mine["evaluated"], strict=True)}
        out[uid] = evaluate_history(rules, period, metrics, hist, summary, samples, evaluated=rows)
    return out


def earlier_metrics(store: Any, period: str) -> pl.DataFrame:
    """Every unit's stored metrics of the periods before ``period`` (read once per batch)."""
    from dq.engine.metrics import load_metrics

    return load_metrics(store).filter(pl.col("period") < period)


def with_history(
    results: Sequence[RuleResult],
    rules: Sequence[Any],
    period: str,
    earlier: pl.DataFrame,
    unit_id: str,
    summary: Mapping[str, Any] | None,
    tables: Mapping[str, int | None] | None = None,
) -> list[RuleResult]:
    """``results`` with the ``history_change`` rules' results (not applicable from the engine)
    replaced by their evaluation against the unit's ``earlier`` metrics."""
    from dq.engine.metrics import unit_metrics

    if not rules:
        return list(results)
    current = unit_metrics(results, summary, tables)
    hist = earlier.filter(pl.col("unit_id") == unit_id) if not earlier.is_empty() else earlier
    rows = {f"rule.{r.rule}.fail_fraction": r.evaluated for r in results}
    judged = {r.rule: r for r in evaluate_history(rules, period, current, hist, summary, evaluated=rows)}
    out = [judged.pop(r.rule, r) for r in results]
    return out + list(judged.values())
