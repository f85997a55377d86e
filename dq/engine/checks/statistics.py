"""Aggregate checks: a column's statistics and distinct values, and the shape of a table (the
column-aggregate and table expectations of Great Expectations, written as dq checks).

Each is an :class:`~dq.checks.base.Aggregate` whose expressions join the table's one-pass query
(no scan of its own); the columns and types of a table are known from its schema before any
row is read. Bounds and sets are typed literals, never column names or SQL. Null values (and
blank strings) are not part of a column's statistics.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import polars as pl

from dq.engine.checks.base import (
    Aggregate,
    CheckDef,
    CheckParams,
    Column,
    Compiled,
    Context,
    GXContext,
    GXMapping,
    NotExported,
    Scalar,
    Strs,
    Values,
    gx_bound,
    gx_value,
    literal_for,
    param,
    plain_value,
    present,
    texts,
)
from dq.engine.checks.values import typed_values
from dq.errors import CheckError

__all__ = [
    "CHECKS",
    "STATS",
    "ColumnAt",
    "ColumnCount",
    "ColumnStat",
    "ColumnsMatch",
    "DistinctCount",
    "DistinctValues",
    "MostCommonInSet",
    "Quantiles",
    "RowCountEqualTable",
    "table_columns",
]

Stat = Literal["min", "max", "mean", "median", "sum", "stdev"]
SetMode = Literal["subset", "superset", "equal"]
Interpolation = Literal["nearest", "linear", "lower", "higher", "midpoint"]

#: The statistics ``column_stat`` computes, and the GX expectation of each.
STATS: dict[Stat, str] = {
    "min": "expect_column_min_to_be_between",
    "max": "expect_column_max_to_be_between",
    "mean": "expect_column_mean_to_be_between",
    "median": "expect_column_median_to_be_between",
    "sum": "expect_column_sum_to_be_between",
    "stdev": "expect_column_stdev_to_be_between",
}
_NUMERIC_STATS = ("mean", "median", "sum", "stdev")
_STRICT_MIN = "true: min itself is out of range"
_STRICT_MAX = "true: max itself is out of range"


class ColumnStat(CheckParams):
    column: Column
    stat: Stat
    min: Scalar | None = None
    max: Scalar | None = None
    strict_min: bool = param(default=False, help=_STRICT_MIN)
    strict_max: bool = param(default=False, help=_STRICT_MAX)


class Quantiles(CheckParams):
    column: Column
    quantiles: Values
    ranges: Values
    interpolation: Interpolation = "nearest"


class DistinctValues(CheckParams):
    column: Column
    values: Values
    mode: SetMode


class DistinctCount(CheckParams):
    column: Column
    proportion: bool = False
    min: Scalar | None = None
    max: Scalar | None = None
    strict_min: bool = param(default=False, help=_STRICT_MIN)
    strict_max: bool = param(default=False, help=_STRICT_MAX)


class MostCommonInSet(CheckParams):
    column: Column
    values: Values
    ties_okay: bool = False


class ColumnCount(CheckParams):
    min: int | None = None
    max: int | None = None
    strict_min: bool = param(default=False, help=_STRICT_MIN)
    strict_max: bool = param(default=False, help=_STRICT_MAX)


class ColumnsMatch(CheckParams):
    columns: Strs
    exact: bool = True
    ordered: bool = False


class ColumnAt(CheckParams):
    column: str
    index: int


class RowCountEqualTable(CheckParams):
    table: str


def _pii(col: str, ctx: Context) -> bool:
    """True for a column of patient identifiers: its values never appear in a message."""
    return ctx.spec is not None and col in ctx.spec.pii


def _shown(value: Any, col: str, ctx: Context) -> str:
    return "(masked: identifiers)" if _pii(col, ctx) else str(value)


def _values(col: str, mask: pl.Expr, ctx: Context) -> pl.Expr:
    return pl.col(col).filter(mask & present(col, ctx))


def _bound(v: Any, dtype: pl.DataType | None) -> pl.Expr:
    if dtype is not None and dtype.is_numeric():
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise CheckError(f"bound {v!r} is not a number")
        return pl.lit(float(v))
    return literal_for(v, dtype)


def _out_of_range(
    value: pl.Expr,
    dtype: pl.DataType | None,
    lo: Any,
    hi: Any,
    strict_min: bool = False,
    strict_max: bool = False,
) -> pl.Expr:
    """True where ``value`` is outside [lo, hi] (strict_min/strict_max exclude the bound; None:
    no bound), or missing (a statistic of no values is never within bounds)."""
    bad = value.is_null()
    if lo is not None:
        low = _bound(lo, dtype)
        bad = bad | ((value <= low) if strict_min else (value < low))
    if hi is not None:
        high = _bound(hi, dtype)
        bad = bad | ((value >= high) if strict_max else (value > high))
    return bad.fill_null(True)


def _range_text(lo: Any, hi: Any, strict_min: bool, strict_max: bool) -> str:
    low = "-" if lo is None else ("(" if strict_min else "[") + str(lo)
    high = "-" if hi is None else str(hi) + (")" if strict_max else "]")
    return f"{low}, {high}"


def _column_stat(p: ColumnStat, ctx: Context) -> Compiled:
    col, stat = p.column, p.stat
    dtype = ctx.schema.get(col)
    if p.min is None and p.max is None:
        raise CheckError("column_stat needs min or max")
    if stat in _NUMERIC_STATS and dtype is not None and not (dtype.is_numeric() or dtype == pl.Boolean):
        raise CheckError(f"column '{col}' is {dtype}; its {stat} needs numbers")
    # booleans count as 1 and 0 (as in pandas)
    numeric = dtype is not None and (dtype.is_numeric() or dtype == pl.Boolean)
    if dtype == pl.Boolean:
        dtype = pl.Float64()
    details: dict[str, pl.Expr] = {}

    def aggregate(mask: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
        x = _values(col, mask, ctx)
        if numeric:
            x = x.cast(pl.Float64)
        value = {
            "min": x.min(), "max": x.max(), "mean": x.mean(), "median": x.median(),
            "sum": x.sum(), "stdev": x.std(),
        }[stat]  # fmt: skip
        details["value"] = value
        bad = _out_of_range(value, dtype, p.min, p.max, p.strict_min, p.strict_max)
        return pl.lit(1), bad.cast(pl.UInt32)

    expected = _range_text(p.min, p.max, p.strict_min, p.strict_max)
    return Aggregate(
        aggregate=aggregate,
        details=details,
        describe=lambda d: f"{stat} of {col} = {_shown(d['value'], col, ctx)} (expected {expected})",
    )


def _column_stat_gx(p: ColumnStat, ctx: GXContext) -> tuple[str, dict[str, Any]]:
    ctype = ctx.column_type(p.column)
    return STATS[p.stat], {
        "column": p.column,
        "min_value": gx_bound(p.min, ctype),
        "max_value": gx_bound(p.max, ctype),
        "strict_min": bool(p.strict_min),
        "strict_max": bool(p.strict_max),
    }


def _ranges(p: Quantiles) -> list[tuple[Any, Any]]:
    qs, ranges = list(p.quantiles), list(p.ranges)
    if len(qs) != len(ranges):
        raise CheckError(f"{len(qs)} quantiles but {len(ranges)} ranges: give one [min, max] per quantile")
    out = []
    for q, r in zip(qs, ranges, strict=True):
        if isinstance(q, bool) or not isinstance(q, int | float) or not 0 <= q <= 1:
            raise CheckError(f"quantile {q!r} is not a number in [0, 1]")
        if not isinstance(r, list | tuple) or len(r) != 2:
            raise CheckError(f"range {plain_value(r)!r} is not [min, max] (null for no bound)")
        out.append((r[0], r[1]))
    return out


def _quantiles(p: Quantiles, ctx: Context) -> Compiled:
    col = p.column
    dtype = ctx.schema.get(col)
    if dtype is not None and not dtype.is_numeric():
        raise CheckError(f"column '{col}' is {dtype}; quantiles need numbers")
    ranges, qs = _ranges(p), [float(q) for q in p.quantiles]
    details: dict[str, pl.Expr] = {}

    def aggregate(mask: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
        x = _values(col, mask, ctx).cast(pl.Float64)
        bad = []
        for i, (q, (lo, hi)) in enumerate(zip(qs, ranges, strict=True)):
            value = x.quantile(q, interpolation=p.interpolation)
            details[f"q{i}"] = value
            bad.append(_out_of_range(value, pl.Float64(), lo, hi).cast(pl.UInt32))
        return pl.lit(len(qs)), pl.sum_horizontal(bad)

    def describe(d: Mapping[str, Any]) -> str:
        parts = [
            f"q{q:g} = {d[f'q{i}']} (expected [{lo}, {hi}])"
            for i, (q, (lo, hi)) in enumerate(zip(qs, ranges, strict=True))
        ]
        return f"quantiles of {col}: " + "; ".join(parts)

    return Aggregate(aggregate=aggregate, details=details, describe=describe)


def _quantiles_gx(p: Quantiles, ctx: GXContext) -> tuple[str, dict[str, Any]]:
    if p.interpolation != "nearest":
        raise NotExported("quantiles with an interpolation other than nearest")
    return "expect_column_quantile_values_to_be_between", {
        "column": p.column,
        "quantile_ranges": {"quantiles": list(p.quantiles), "value_ranges": [list(r) for r in _ranges(p)]},
    }


_SET_MODES: dict[SetMode, str] = {
    "subset": "expect_column_distinct_values_to_be_in_set",
    "superset": "expect_column_distinct_values_to_contain_set",
    "equal": "expect_column_distinct_values_to_equal_set",
}


def _set_series(values: Sequence[Any], col: str, dtype: pl.DataType | None) -> pl.Series:
    typed = typed_values(values, col, dtype)
    if dtype is not None and dtype.is_temporal():
        return pl.Series(typed, dtype=dtype)
    if dtype is not None and dtype.is_numeric():
        return pl.Series(typed, dtype=pl.Float64)
    if dtype == pl.Boolean:
        return pl.Series(typed, dtype=pl.Boolean)
    return pl.Series(typed, dtype=pl.String)


def _comparable(col: str, dtype: pl.DataType | None) -> pl.Expr:
    if dtype is None or dtype == pl.Categorical:
        return pl.col(col).cast(pl.String)
    if dtype.is_numeric():
        return pl.col(col).cast(pl.Float64)
    return pl.col(col)


def _distinct_values(p: DistinctValues, ctx: Context) -> Compiled:
    col, mode = p.column, p.mode
    dtype = ctx.schema.get(col)
    wanted = _set_series(list(p.values), col, dtype)
    details: dict[str, pl.Expr] = {}

    def aggregate(mask: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
        seen = _comparable(col, dtype).filter(mask & present(col, ctx)).unique()
        extra = (~seen.is_in(wanted.implode())).sum()  # distinct values outside the set
        missing = (~pl.lit(wanted).is_in(seen.implode())).sum()  # set values never seen
        details["distinct"] = seen.sort().head(20).implode()
        if mode == "subset":
            return seen.len(), extra
        if mode == "superset":
            return pl.lit(wanted.len()), missing
        return seen.len() + pl.lit(wanted.len()), extra + missing

    def describe(d: Mapping[str, Any]) -> str:
        seen = _shown(d["distinct"], col, ctx)
        return f"distinct values of {col} (first 20): {seen}; expected {mode} of {plain_value(p.values)}"

    return Aggregate(aggregate=aggregate, details=details, describe=describe)


def _distinct_values_gx(p: DistinctValues, ctx: GXContext) -> tuple[str, dict[str, Any]]:
    if ctx.column_type(p.column) in ("date", "datetime"):
        raise NotExported("distinct_values on a date column (GX sets do not match dates)")
    return _SET_MODES[p.mode], {"column": p.column, "value_set": gx_value(list(p.values))}


def _distinct_count(p: DistinctCount, ctx: Context) -> Compiled:
    col, proportion = p.column, bool(p.proportion)
    if p.min is None and p.max is None:
        raise CheckError("distinct_count needs min or max")
    details: dict[str, pl.Expr] = {}

    def aggregate(mask: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
        x = _values(col, mask, ctx)
        value = x.n_unique().cast(pl.Float64)
        if proportion:
            # no values: a proportion of 0 (as GX)
            value = pl.when(x.len() > 0).then(value / x.len()).otherwise(pl.lit(0.0))
        details["value"] = value
        bad = _out_of_range(value, pl.Float64(), p.min, p.max, p.strict_min, p.strict_max)
        return pl.lit(1), bad.cast(pl.UInt32)

    what = "proportion of distinct values" if proportion else "distinct values"
    expected = _range_text(p.min, p.max, p.strict_min, p.strict_max)
    return Aggregate(
        aggregate=aggregate,
        details=details,
        describe=lambda d: f"{what} of {col} = {d['value']:g} (expected {expected})",
    )


def _distinct_count_gx(p: DistinctCount, ctx: GXContext) -> tuple[str, dict[str, Any]]:
    kind = (
        "expect_column_proportion_of_unique_values_to_be_between"
        if p.proportion
        else "expect_column_unique_value_count_to_be_between"
    )
    kw: dict[str, Any] = {"column": p.column, "min_value": p.min, "max_value": p.max}
    if p.strict_min or p.strict_max:
        kw |= {"strict_min": bool(p.strict_min), "strict_max": bool(p.strict_max)}
    return kind, kw


def _most_common(p: MostCommonInSet, ctx: Context) -> Compiled:
    col = p.column
    dtype = ctx.schema.get(col)
    wanted = _set_series(list(p.values), col, dtype)
    ties_okay = bool(p.ties_okay)
    details: dict[str, pl.Expr] = {}

    def aggregate(mask: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
        modes = _comparable(col, dtype).filter(mask & present(col, ctx)).mode()
        hits = modes.is_in(wanted.implode()).sum()
        details["modes"] = modes.sort().implode()
        # ties_okay: one of the most common values is in the set; otherwise the one most common
        # value is (a tie fails)
        ok = (hits > 0) if ties_okay else ((modes.len() == 1) & (hits == 1))
        return pl.lit(1), (~ok).cast(pl.UInt32)

    wanted_text = plain_value(p.values)
    return Aggregate(
        aggregate=aggregate,
        details=details,
        describe=lambda d: (
            f"most common value(s) of {col}: {_shown(d['modes'], col, ctx)}; expected in {wanted_text}"
        ),
    )


def _most_common_gx(p: MostCommonInSet, ctx: GXContext) -> tuple[str, dict[str, Any]]:
    if ctx.column_type(p.column) in ("date", "datetime"):
        raise NotExported("most_common_in_set on a date column (GX sets do not match dates)")
    return "expect_column_most_common_value_to_be_in_set", {
        "column": p.column, "value_set": gx_value(list(p.values)), "ties_okay": bool(p.ties_okay),
    }  # fmt: skip


def table_columns(schema: Mapping[str, pl.DataType]) -> list[str]:
    """The table's own columns, in order: not the engine's working columns (``__dq_...``) nor
    the uploaded text the reader keeps beside a parsed column (``<column>__raw``)."""
    names = list(schema)
    return [
        c
        for c in names
        if not c.startswith("__dq") and not (c.endswith("__raw") and c.removesuffix("__raw") in schema)
    ]


def _column_count(p: ColumnCount, ctx: Context) -> Compiled:
    if p.min is None and p.max is None:
        raise CheckError("column_count needs min or max")
    n = len(table_columns(ctx.schema))
    out = _out_of_range(pl.lit(float(n)), pl.Float64(), p.min, p.max, p.strict_min, p.strict_max)
    bad = pl.select(out).item()
    expected = _range_text(p.min, p.max, p.strict_min, p.strict_max)
    return Aggregate(
        aggregate=lambda mask: (pl.lit(1), pl.lit(int(bad), dtype=pl.UInt32)),
        describe=lambda d: f"{n} columns (expected {expected})",
    )


def _column_count_gx(p: ColumnCount, ctx: GXContext) -> tuple[str, dict[str, Any]]:
    if p.min is not None and p.min == p.max and not (p.strict_min or p.strict_max):
        return "expect_table_column_count_to_equal", {"value": p.min}
    kw: dict[str, Any] = {"min_value": p.min, "max_value": p.max}
    if p.strict_min or p.strict_max:
        kw |= {"strict_min": bool(p.strict_min), "strict_max": bool(p.strict_max)}
    return "expect_table_column_count_to_be_between", kw


def _columns_match(p: ColumnsMatch, ctx: Context) -> Compiled:
    want = list(texts(p.columns))
    have = table_columns(ctx.schema)
    missing = [c for c in want if c not in have]
    extra = [c for c in have if c not in want] if p.exact or p.ordered else []
    misplaced: list[str] = []
    if p.ordered and not missing and not extra:
        misplaced = [w for w, h in zip(want, have, strict=False) if w != h]
    failed = len(missing) + len(extra) + len(misplaced)

    def describe(_: Mapping[str, Any]) -> str:
        if not failed:
            return f"columns match ({len(want)})"
        parts = []
        if missing:
            parts.append(f"missing: {', '.join(missing)}")
        if extra:
            parts.append(f"not expected: {', '.join(extra)}")
        if misplaced:
            parts.append(f"out of order: {', '.join(misplaced)} (table order: {', '.join(have)})")
        return "; ".join(parts)

    return Aggregate(
        aggregate=lambda mask: (pl.lit(max(len(want), len(have))), pl.lit(failed)),
        describe=describe,
    )


def _columns_match_gx(p: ColumnsMatch, ctx: GXContext) -> tuple[str, dict[str, Any]]:
    cols = list(texts(p.columns))
    if p.ordered:
        return "expect_table_columns_to_match_ordered_list", {"column_list": cols}
    return "expect_table_columns_to_match_set", {"column_set": cols, "exact_match": bool(p.exact)}


def _column_at(p: ColumnAt, ctx: Context) -> Compiled:
    col, index = p.column, p.index
    have = table_columns(ctx.schema)
    ok = 0 <= index < len(have) and have[index] == col
    where = f"column {index} is {have[index]!r}" if 0 <= index < len(have) else f"no column {index}"
    return Aggregate(
        aggregate=lambda mask: (pl.lit(1), pl.lit(0 if ok else 1, dtype=pl.UInt32)),
        describe=lambda d: f"{col} is column {index} (counting from 0)" if ok else f"{where}, not {col!r}",
    )


def _column_at_gx(p: ColumnAt, ctx: GXContext) -> tuple[str, dict[str, Any]]:
    return "expect_column_to_exist", {"column": p.column, "column_index": p.index}


def _row_count_equal(p: RowCountEqualTable, ctx: Context) -> Compiled:
    other = p.table
    n_other = ctx.other(other).select(pl.len()).collect().item()
    details: dict[str, pl.Expr] = {}

    def aggregate(mask: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
        n = mask.sum()
        details["rows"] = n
        return pl.lit(1), (n != n_other).cast(pl.UInt32)

    return Aggregate(
        aggregate=aggregate,
        details=details,
        describe=lambda d: f"{d['rows']} rows; {other} has {n_other}",
    )


_AGG = "null and blank values are not part of the statistic; no values at all fails"

CHECKS = (
    CheckDef(
        "column_stat",
        "plausibility",
        "A statistic of the column (min, max, mean, median, sum or stdev, the sample standard"
        " deviation) lies between min and max.",
        ColumnStat,
        _column_stat,
        lambda p: [p.column],
        null_semantics=_AGG,
        gx=GXMapping(tuple(STATS.values()), _column_stat_gx),
    ),
    CheckDef(
        "quantiles",
        "plausibility",
        "Quantiles of the column lie in their ranges (one [min, max] per quantile, null for no"
        " bound; interpolation as in pandas, nearest by default).",
        Quantiles,
        _quantiles,
        lambda p: [p.column],
        null_semantics=_AGG,
        gx=GXMapping(("expect_column_quantile_values_to_be_between",), _quantiles_gx),
    ),
    CheckDef(
        "distinct_values",
        "conformance",
        "The column's distinct values are a subset of, a superset of, or equal to a set of literals;"
        " each value outside (or missing from) the set counts as one failure.",
        DistinctValues,
        _distinct_values,
        lambda p: [p.column],
        null_semantics="null and blank values are not distinct values",
        gx=GXMapping(tuple(_SET_MODES.values()), _distinct_values_gx),
    ),
    CheckDef(
        "distinct_count",
        "uniqueness",
        "The number of distinct values (or, with proportion, distinct values ÷ values) lies"
        " between min and max.",
        DistinctCount,
        _distinct_count,
        lambda p: [p.column],
        null_semantics="null and blank values are not counted",
        gx=GXMapping(
            (
                "expect_column_unique_value_count_to_be_between",
                "expect_column_proportion_of_unique_values_to_be_between",
            ),
            _distinct_count_gx,
        ),
    ),
    CheckDef(
        "most_common_in_set",
        "plausibility",
        "The most common value is in a set of literals (a tie fails unless ties_okay, when one of"
        " the tied values must be).",
        MostCommonInSet,
        _most_common,
        lambda p: [p.column],
        null_semantics="null and blank values are not counted",
        gx=GXMapping(("expect_column_most_common_value_to_be_in_set",), _most_common_gx),
    ),
    CheckDef(
        "column_count",
        "completeness",
        "The table has between min and max columns.",
        ColumnCount,
        _column_count,
        lambda p: [],
        null_semantics="schema-level: counts columns, not rows",
        gx=GXMapping(
            ("expect_table_column_count_to_be_between", "expect_table_column_count_to_equal"),
            _column_count_gx,
        ),
    ),
    CheckDef(
        "columns_match",
        "completeness",
        "The table's columns are the listed ones: at least them, exactly them (exact) or exactly"
        " them in this order (ordered); each column missing, extra or out of place is a failure.",
        ColumnsMatch,
        _columns_match,
        lambda p: [],
        null_semantics="schema-level: compares column names, not rows",
        gx=GXMapping(
            ("expect_table_columns_to_match_set", "expect_table_columns_to_match_ordered_list"),
            _columns_match_gx,
        ),
    ),
    CheckDef(
        "column_at",
        "completeness",
        "The column is at a position of the table (counting from 0).",
        ColumnAt,
        _column_at,
        lambda p: [],
        null_semantics="schema-level: compares column names, not rows",
        gx=GXMapping(("expect_column_to_exist",), _column_at_gx),
    ),
    CheckDef(
        "row_count_equal_table",
        "completeness",
        "The table has as many rows as another table of the same extract.",
        RowCountEqualTable,
        _row_count_equal,
        lambda p: [],
        null_semantics="counts every row; not applicable when the other table was not uploaded",
        gx=GXMapping(
            ("expect_table_row_count_to_equal_other_table",),
            lambda p, ctx: ("expect_table_row_count_to_equal_other_table", {"other_table_name": p.table}),
        ),
    ),
)
