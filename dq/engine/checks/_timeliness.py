"""Timeliness checks: upload lag after the event, and upload days in the month."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import polars as pl

from dq.engine.checks.base import Aggregate, CheckDef, CheckParams, Column, Compiled, Context, RowLevel, param
from dq.engine.messages import message
from dq.errors import CheckError

__all__ = ["CHECKS", "UploadDays", "UploadTimeliness"]


class UploadTimeliness(CheckParams):
    column: Column | None = param(default=None, help="event column; default: the table's")
    upload_column: Column = "upload_time"
    max_days: float = 1


class UploadDays(CheckParams):
    column: Column = "upload_time"


def _event_column(p: UploadTimeliness, ctx: Context) -> str:
    col = p.column or (ctx.spec.event_time if ctx.spec else None)
    if not col:
        raise CheckError("no event column: give 'column' (the table has no event_time)")
    return col


def _upload_timeliness(p: UploadTimeliness, ctx: Context) -> Compiled:
    col, up = _event_column(p, ctx), p.upload_column
    dtype = ctx.schema.get(col)
    if dtype is None:  # the default event column is not among the rule's columns
        raise CheckError(f"column(s) missing from {ctx.table}: {col}")
    if not dtype.is_temporal():
        raise CheckError(f"column '{col}' is {dtype}, not a date or datetime")
    max_days = float(p.max_days)
    if dtype == pl.Date:
        # A date has no time of day: compare calendar days.
        lag_days = (pl.col(up).dt.date() - pl.col(col)).dt.total_days()
        late = lag_days > max_days
    else:
        late = (pl.col(up) - pl.col(col).cast(pl.Datetime("us"))) > timedelta(days=max_days)
    return RowLevel(applies=pl.col(col).is_not_null() & pl.col(up).is_not_null(), violates=late)


def _upload_days(p: UploadDays, ctx: Context) -> Compiled:
    col = p.column
    period = ctx.require_period()
    start, n_days = period.first_day, period.days
    in_period = period.contains(pl.col(col))
    # Filled by aggregate(): only the rows of the rule's `when` mask count.
    details: dict[str, pl.Expr] = {}
    all_days = [start + timedelta(days=i) for i in range(n_days)]

    def describe(d: Mapping[str, Any]) -> str:
        seen = {str(x) for x in d["days"] or []}
        missing = [x.day for x in all_days if x.isoformat() not in seen]
        if not missing:
            return message("upload_days.all", total=n_days)
        return message("upload_days.missing", days=n_days - len(missing), total=n_days, missing=missing)

    def aggregate(mask: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
        days = pl.col(col).filter(in_period & mask).dt.date().unique().sort()
        details["days"] = days.implode()
        return pl.lit(n_days), pl.lit(n_days) - days.len()

    return Aggregate(
        aggregate=aggregate,
        details=details,
        describe=describe,
    )


CHECKS = (
    CheckDef(
        "upload_timeliness",
        "timeliness",
        "upload_time − event time ≤ max_days (dates compare calendar days).",
        UploadTimeliness,
        _upload_timeliness,
        lambda p: [c for c in (p.column, p.upload_column) if c],
        null_semantics="rows with a null event or upload time are not evaluated",
    ),
    CheckDef(
        "upload_days",
        "timeliness",
        "Distinct days of the audited month with at least one upload; each day without one"
        " counts as a failure (evaluated = days in the month).",
        UploadDays,
        _upload_days,
        lambda p: [p.column or "upload_time"],
        null_semantics="null upload times are ignored; an empty table misses every day",
    ),
)
