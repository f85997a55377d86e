"""Metrics per unit and period: the figures a unit's own history is judged on.

Each unit-period has, from the unit's latest run of that period in the score store:

* ``table.<table>.rows`` -- rows of each table the unit uploaded; a table the unit uploaded in
  another period but not in this one counts 0 (the extraction that stopped),
* ``summary.<figure>`` -- the submission summary's figures (:data:`SUMMARY_METRICS`): outpatient
  and discharge counts, upload days, data volume, declared and uploaded tables, health records,
* ``rule.<rule id>.fail_fraction`` -- every rule's failing share (rules that ran and evaluated
  something; history rules themselves are left out, so a flag is never judged again).

:func:`unit_metrics` computes them from one unit's fresh outcome (results, summary, table rows);
:func:`load_metrics` reads them back from a :class:`dq.store.history.Store`, one row per unit, period
and metric, in the long format ``period, unit_id, metric, value``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import polars as pl

from dq.engine.checks import REGISTRY
from dq.engine.results import FLAGGED, RuleResult, Status

__all__ = [
    "METRICS_SCHEMA",
    "SUMMARY_METRICS",
    "StoredHistory",
    "history_checks",
    "history_flags",
    "load_metrics",
    "unit_metrics",
]

SUMMARY_METRICS = (
    "outpatient_uploaded",
    "discharge_uploaded",
    "upload_days",
    "data_volume",
    "declared_tables",
    "uploaded_tables",
    "records_basic",
    "records_hypertension",
    "records_diabetes",
    "outpatient_rate",
    "discharge_rate",
)
METRICS_SCHEMA = {"period": pl.String, "unit_id": pl.String, "metric": pl.String, "value": pl.Float64}


def history_checks() -> frozenset[str]:
    """The checks judged on a unit's history: their results are flags, never metrics themselves."""
    return frozenset(name for name, check in REGISTRY.items() if check.needs_history)


_JUDGED = (Status.PASS, Status.WARN, Status.FAIL)


def _finite(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if f == f and f not in (float("inf"), float("-inf")) else None


def unit_metrics(
    results: Iterable[RuleResult] = (),
    summary: Mapping[str, Any] | None = None,
    tables: Mapping[str, int | None] | None = None,
) -> dict[str, float]:
    """The metrics of one unit-period from its outcome (missing figures are left out)."""
    out: dict[str, float] = {}
    for table, rows in (tables or {}).items():
        if rows is not None:
            out[f"table.{table}.rows"] = float(rows)
    for name in SUMMARY_METRICS:
        v = _finite((summary or {}).get(name))
        if v is not None:
            out[f"summary.{name}"] = v
    flags = history_checks()
    for r in results:
        if r.check in flags or r.status not in _JUDGED or r.fail_fraction is None:
            continue
        out[f"rule.{r.rule}.fail_fraction"] = float(r.fail_fraction)
    return out


def _long(frame: pl.DataFrame, metric: pl.Expr, value: str) -> pl.DataFrame:
    return frame.select(
        pl.col("period"),
        pl.col("unit_id"),
        metric.alias("metric"),
        pl.col(value).cast(pl.Float64).alias("value"),
    )


def fill_stopped_tables(frame: pl.DataFrame) -> pl.DataFrame:
    """Add ``table.<t>.rows = 0`` where a unit has table counts for a period but not for ``t``,
    a table it uploaded in another period."""
    tables = frame.filter(pl.col("metric").str.starts_with("table."))
    if tables.is_empty():
        return frame
    seen = tables.select("unit_id", "period").unique()
    names = tables.select("unit_id", "metric").unique()
    grid = seen.join(names, on="unit_id")
    missing = grid.join(tables, on=["unit_id", "period", "metric"], how="anti").with_columns(
        pl.lit(0.0).alias("value")
    )
    return pl.concat([frame, missing.select(frame.columns)])


def load_metrics(
    store: Any, unit_id: str | None = None, periods: Sequence[str] | None = None
) -> pl.DataFrame:
    """Every stored unit-period's metrics (columns period, unit_id, metric, value), from each
    unit's latest run of each period; optionally one unit's, or some periods' only."""
    parts: list[pl.DataFrame] = []
    tables = store.table_rows()
    if not tables.is_empty():
        tables = tables.filter(pl.col("rows").is_not_null())
        parts.append(_long(tables, pl.format("table.{}.rows", pl.col("table")), "rows"))
    summaries = store.summaries()
    if not summaries.is_empty():
        for name in SUMMARY_METRICS:
            if name in summaries.columns:
                s = summaries.filter(pl.col(name).is_not_null())
                parts.append(_long(s, pl.lit(f"summary.{name}"), name))
    for period in periods if periods is not None else store.periods():
        res = store.results(period)
        if res.is_empty():
            continue
        res = res.filter(
            ~pl.col("check").is_in(list(history_checks()))
            & pl.col("status").is_in(list(_JUDGED))
            & pl.col("fail_fraction").is_not_null()
        )
        parts.append(_long(res, pl.format("rule.{}.fail_fraction", pl.col("rule")), "fail_fraction"))
    frame = (
        pl.concat([p.select(list(METRICS_SCHEMA)) for p in parts])
        if parts
        else pl.DataFrame(schema=METRICS_SCHEMA)
    )
    if unit_id is not None:
        frame = frame.filter(pl.col("unit_id") == unit_id)
    if periods is not None:
        frame = frame.filter(pl.col("period").is_in(list(periods)))
    frame = fill_stopped_tables(frame.filter(pl.col("value").is_finite()))
    return frame.unique(["period", "unit_id", "metric"], keep="last").sort("unit_id", "period", "metric")


FLAG_SCHEMA = {"period": pl.String, "unit_id": pl.String, "rule": pl.String, "status": pl.String}


def history_flags(store: Any, until: str | None = None) -> pl.DataFrame:
    """The history rules that warned or failed (period, unit_id, rule, status), from each unit's
    latest run of every period up to ``until``: the months a unit's trend marks."""
    parts = []
    for period in store.periods():
        if until is not None and period > until:
            continue
        res = store.results(period)
        if res.is_empty():
            continue
        flagged = pl.col("check").is_in(list(history_checks())) & pl.col("status").is_in(sorted(FLAGGED))
        hit = res.filter(flagged)
        parts.append(hit.select(list(FLAG_SCHEMA)))
    return pl.concat(parts) if parts else pl.DataFrame(schema=FLAG_SCHEMA)


class StoredHistory:
    """The score store as the history the engine judges units on: each unit's stored metrics of
    the periods before ``period`` (:func:`load_metrics`), read once, on first use (a batch whose
    suites have no history rule never reads them)."""

    def __init__(self, store: Any, period: str) -> None:
        self._store = store
        self._period = period
        self._earlier: pl.DataFrame | None = None

    def earlier(self, unit_id: str) -> pl.DataFrame:
        """The unit's metrics of earlier periods (columns period, unit_id, metric, value)."""
        if self._earlier is None:
            self._earlier = load_metrics(self._store).filter(pl.col("period") < self._period)
        if self._earlier.is_empty():
            return self._earlier
        return self._earlier.filter(pl.col("unit_id") == unit_id)
