"""Store access of the report views: every read of the history store the reports make.

The views (:mod:`dq.report._unit`, :mod:`dq.report._index`, :mod:`dq.report.campaign`) take the
frames read here and never open the store themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from dq.engine.metrics import history_flags
from dq.errors import InputError
from dq.io.period import Period
from dq.report.i18n import period_label
from dq.scoring.scores import UnitStatus
from dq.store.history import Store

__all__ = [
    "PeriodFrames",
    "Side",
    "read_period",
    "registry_districts",
    "registry_order",
    "resolve_side",
    "rule_history",
    "side_facets",
    "side_results",
    "side_scores",
    "side_summaries",
    "with_districts",
]


@dataclass(frozen=True)
class PeriodFrames:
    """The store's frames for one period: every facet, overall scores, results, summaries and
    the overall scores of this and every earlier period (the trend)."""

    period: str
    facets: pl.DataFrame
    overall: pl.DataFrame
    results: pl.DataFrame
    summaries: pl.DataFrame
    history: pl.DataFrame
    flags: pl.DataFrame = field(default_factory=pl.DataFrame)  # flagged history rules


def registry_districts() -> dict[str, str]:
    """Each registry unit's district (hospitals: the district of their address; district
    platforms: their own district), by unit id."""
    from dq.io.registry import Registry

    try:
        return {u.unit_id: u.district for u in Registry.load() if u.district}
    except InputError:  # a broken registry never stops a report: units keep what they were scored with
        return {}


def registry_order() -> dict[str, int]:
    """Each district's position in the registry (the order of its district platforms, then of
    districts only hospitals name), by district name."""
    from dq.io.registry import Registry

    try:
        reg = list(Registry.load())
    except InputError:
        return {}
    order: dict[str, int] = {}
    for u in sorted(reg, key=lambda u: u.kind != "district"):  # stable: registry order within
        if u.district and u.district not in order:
            order[u.district] = len(order)
    return order


def with_districts(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` with a missing ``district`` filled from the registry (an extract's manifest may
    leave it out); a district given at scoring time is kept."""
    if df.is_empty() or "district" not in df.columns or "unit_id" not in df.columns:
        return df
    known = registry_districts()
    if not known:
        return df
    fill = pl.col("unit_id").replace_strict(known, default=None, return_dtype=pl.String)
    blank = pl.col("district").is_null() | (pl.col("district").cast(pl.String).str.strip_chars() == "")
    return df.with_columns(pl.when(blank).then(fill).otherwise(pl.col("district")).alias("district"))


def read_period(store: Store, period: str) -> PeriodFrames:
    facets = with_districts(store.scores(period, facet=None))
    overall = facets.filter(pl.col("facet") == "overall") if not facets.is_empty() else facets
    allp = store.scores(None)
    history = allp.filter(pl.col("period") <= period) if not allp.is_empty() else allp
    history = same_source_history(history, overall, store.runs())
    flags = history_flags(store, until=period)
    return PeriodFrames(
        period, facets, overall, store.results(period), store.summaries(period), history, flags
    )


@dataclass(frozen=True)
class Side:
    """One side of a campaign: a period (latest scores) or one run."""

    period: str
    run_id: str | None
    label: str


def resolve_side(store: Store, spec: str, lang: str) -> Side:
    """``2020-09`` (the period's latest scores) or a run id (that run's scores)."""
    if Period.is_period(spec):
        return Side(spec, None, period_label(spec, lang))
    runs = store.runs()
    hit = runs.filter(pl.col("run_id") == spec) if not runs.is_empty() else runs
    if hit.is_empty():
        raise InputError(f"{spec}: neither a period (YYYY-MM) nor a run id in {store.root}")
    period = hit["period"][0]
    return Side(period, spec, f"{period_label(period, lang)} · {spec}")


_SCORE_COLUMNS = ("unit_id", "unit_name", "kind", "district", "score", "run_id")


def side_scores(store: Store, side: Side) -> pl.DataFrame:
    """Overall scores (status ok) of one side: unit_id, unit_name, kind, district, score, run_id
    and the run's source (``batch`` for extracts, ``published`` for the newsletters' tables)."""
    if side.run_id is None:
        df = store.scores(side.period)
    else:
        df = store.run_rows("scores", side.period, side.run_id)
        if not df.is_empty():
            df = df.filter(pl.col("facet") == "overall")
    if df.is_empty():
        return pl.DataFrame(schema={c: (pl.Float64 if c == "score" else pl.String) for c in _SCORE_COLUMNS})
    if "run_id" not in df.columns:
        df = df.with_columns(pl.lit(side.run_id).cast(pl.String).alias("run_id"))
    df = with_districts(df.filter(pl.col("status") == UnitStatus.OK).select(*_SCORE_COLUMNS))
    runs = store.runs()
    source = runs.select("run_id", pl.col("source").cast(pl.String)) if not runs.is_empty() else None
    if source is None:
        return df.with_columns(pl.lit(None, pl.String).alias("source"))
    return df.join(source.unique("run_id"), on="run_id", how="left")


def side_results(store: Store, side: Side) -> pl.DataFrame:
    return store.results(side.period, run_id=side.run_id)


def side_facets(store: Store, side: Side) -> pl.DataFrame:
    """Every facet's score (dimensions, parts, overall) of one side, status ok only."""
    if side.run_id is None:
        df = store.scores(side.period, facet=None)
    else:
        df = store.run_rows("scores", side.period, side.run_id)
    if df.is_empty():
        return pl.DataFrame(schema={"unit_id": pl.String, "facet": pl.String, "score": pl.Float64})
    return df.filter(pl.col("status") == UnitStatus.OK).select("unit_id", "facet", "score")


def side_summaries(store: Store, side: Side) -> pl.DataFrame:
    """The submission summaries of one side (empty when the store has none)."""
    df = store.summaries(side.period)
    if df is None or df.is_empty():
        return pl.DataFrame()
    if side.run_id is not None and "run_id" in df.columns:
        run = store.run_rows("summaries", side.period, side.run_id)
        return run if not run.is_empty() else df.filter(pl.col("run_id") == side.run_id)
    return df


def previous_results(store: Store, period: str, unit_id: str) -> tuple[str | None, pl.DataFrame]:
    """The unit's previous scoring of the same source (batch or published) as its latest run of
    ``period``: a report never compares a batch month with a published one."""
    return store.previous_results(period, unit_id, same_source=True)


def same_source_history(history: pl.DataFrame, current: pl.DataFrame, runs: pl.DataFrame) -> pl.DataFrame:
    """The rows of ``history`` (scores of many periods) whose run has the source of the unit's
    ``current`` run (its latest scores of the report's month); units without a current run
    keep nothing. A run of unknown source counts as a batch run."""
    if history.is_empty() or current.is_empty() or runs.is_empty():
        return history
    source = runs.select("run_id", pl.col("source").cast(pl.String).fill_null("batch")).unique("run_id")
    mine = (
        current.select("unit_id", "run_id")
        .unique("unit_id")
        .join(source, on="run_id", how="left")
        .select("unit_id", pl.col("source").fill_null("batch").alias("_current"))
    )
    return (
        history.join(source, on="run_id", how="left")
        .with_columns(pl.col("source").fill_null("batch"))
        .join(mine, on="unit_id", how="inner")
        .filter(pl.col("source") == pl.col("_current"))
        .drop("source", "_current")
    )


def rule_history(store: Store, history: pl.DataFrame, period: str) -> pl.DataFrame:
    """Every rule's status and failures per unit in the periods before ``period`` that
    ``history`` (overall scores of the same source, :func:`same_source_history`) holds, from
    the run each unit was scored with: columns period, unit_id, rule, status, failed."""
    schema = {
        "period": pl.String,
        "unit_id": pl.String,
        "rule": pl.String,
        "status": pl.String,
        "failed": pl.Int64,
    }
    if history.is_empty() or "run_id" not in history.columns:
        return pl.DataFrame(schema=schema)
    runs = history.filter(pl.col("period") < period).select("period", "unit_id", "run_id").unique()
    frames = []
    for p in sorted(set(runs["period"].to_list())):
        res = store.results(p)
        if res.is_empty():
            continue
        keep = runs.filter(pl.col("period") == p).select("unit_id", "run_id")
        frames.append(
            res.join(keep, on=["unit_id", "run_id"], how="inner").select(
                pl.lit(p).alias("period"), "unit_id", "rule", "status", pl.col("failed").cast(pl.Int64)
            )
        )
    return pl.concat(frames) if frames else pl.DataFrame(schema=schema)
