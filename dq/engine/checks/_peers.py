"""Checks over many units at once: counts as proportions, peer outliers, identical values.

They were made for submission summaries (one row per unit and period), where a unit is judged
against the other units of its kind, but they work on any table.
"""

from __future__ import annotations

from typing import Literal

import polars as pl

from dq.engine.checks.base import (
    Aggregate,
    CheckDef,
    CheckParams,
    Columns,
    Compiled,
    Context,
    RowLevel,
    Sql,
    Values,
    param,
    sql,
    sql_columns,
)

__all__ = ["CHECKS", "IdenticalAcross", "PeerOutlier", "Proportion"]


class Proportion(CheckParams):
    failed: Sql
    total: Sql


class PeerOutlier(CheckParams):
    value: Sql
    group_by: Columns | None = None
    max_z: float = 3.5
    direction: Literal["low", "high", "both"] = "both"
    min_peers: int = 5
    log: bool = param(default=False, help="compare log(value)")


class IdenticalAcross(CheckParams):
    columns: Columns
    group_by: Columns | None = None
    ignore: Values | None = None


_MAD_SCALE = 0.6745  # makes the MAD comparable with a standard deviation (Iglewicz & Hoaglin)


def _proportion(p: Proportion, ctx: Context) -> Compiled:
    failed = sql(str(p.failed)).cast(pl.Float64)
    total = sql(str(p.total)).cast(pl.Float64)
    ok = failed.is_not_null() & total.is_not_null()

    def aggregate(mask: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
        m = mask & ok
        n = total.filter(m).sum().round(0).cast(pl.Int64)
        f = failed.clip(0, None).filter(m).sum().round(0).cast(pl.Int64)
        return n, pl.min_horizontal(f, n)

    def sample(lf: pl.LazyFrame, mask: pl.Expr) -> pl.LazyFrame:
        return lf.filter(mask & ok & (failed > 0))

    return Aggregate(aggregate=aggregate, sample=sample)


def _peer_outlier(p: PeerOutlier, ctx: Context) -> Compiled:
    value = sql(str(p.value)).cast(pl.Float64)
    groups = list(p.group_by or [])
    valid = value.is_not_null() & value.is_finite()
    if p.log:
        # Ratios are skewed: compare them on a log scale, where 0.0004 is as far below 0.1
        # as 25 is above it. Non-positive values have no logarithm and are not evaluated.
        valid = valid & (value > 0)
        value = pl.when(value > 0).then(value).log()
    v = pl.when(valid).then(value)
    med = v.median().over(groups) if groups else v.median()
    mad = (v - med).abs().median().over(groups) if groups else (v - med).abs().median()
    z = _MAD_SCALE * (v - med) / mad
    limit = float(p.max_z)
    direction = p.direction
    bad = {"low": z < -limit, "high": z > limit, "both": z.abs() > limit}[direction]
    n_peers = valid.sum().over(groups) if groups else valid.sum()
    applies = valid & (n_peers >= int(p.min_peers)) & (mad > 0)
    return RowLevel(applies=applies, violates=bad)


def _identical_across(p: IdenticalAcross, ctx: Context) -> Compiled:
    cols = list(p.columns)
    key = pl.struct(cols) if len(cols) > 1 else pl.col(cols[0])
    present = pl.all_horizontal([pl.col(c).is_not_null() for c in cols])
    ignore = list(p.ignore or [])
    if ignore and len(cols) == 1:
        present = present & ~pl.col(cols[0]).is_in(ignore)
    groups = list(p.group_by or [])
    dup = (pl.len().over([*groups, *cols]) > 1) if groups else key.is_duplicated()
    return RowLevel(applies=present, violates=dup)


CHECKS = (
    CheckDef(
        "proportion",
        "completeness",
        "Counts given as columns: evaluated = Σ total, failed = Σ failed (e.g. days without"
        " upload of the days of the month; declared of required tables).",
        Proportion,
        _proportion,
        lambda p: [*sql_columns(str(p.failed)), *sql_columns(str(p.total))],
        null_semantics="rows where either count is null are not evaluated",
    ),
    CheckDef(
        "peer_outlier",
        "plausibility",
        "A value (or SQL ratio) whose robust z-score (median and MAD) among its peers is beyond"
        " max_z, low, high or both; peers share the group_by columns.",
        PeerOutlier,
        _peer_outlier,
        lambda p: [*sql_columns(str(p.value)), *(p.group_by or [])],
        null_semantics="null or non-finite values are not evaluated; groups with fewer than"
        " min_peers values or no spread are not evaluated",
    ),
    CheckDef(
        "identical_across",
        "plausibility",
        "The same value (or combination) reported by more than one row, e.g. two units with"
        " identical counts, a sign of copied figures; values in 'ignore' (such as 0) are skipped.",
        IdenticalAcross,
        _identical_across,
        lambda p: [*p.columns, *(p.group_by or [])],
        null_semantics="rows with a null value are not evaluated",
    ),
)
