"""Plausibility checks: ranges, comparisons, expressions, ratios and event times."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal, get_args

import polars as pl

from dq.engine.checks.base import (
    CheckDef,
    CheckParams,
    Column,
    Compiled,
    Context,
    GXContext,
    GXMapping,
    NotExported,
    OneColumn,
    RowLevel,
    Scalar,
    Sql,
    gx_bound,
    gx_value,
    literal_for,
    sql,
    sql_columns,
)
from dq.errors import CheckError

__all__ = ["CHECKS", "OPS", "Between", "Compare", "Expression", "Ratio"]

Op = Literal["<", "<=", ">", ">=", "==", "!="]
OPS: tuple[Op, ...] = get_args(Op)


class Between(CheckParams):
    column: Column
    min: Scalar | None = None
    max: Scalar | None = None
    min_inclusive: bool = True
    max_inclusive: bool = True


class Compare(CheckParams):
    left: Sql
    op: Op
    right: Scalar
    tolerance: float = 0


class Expression(CheckParams):
    expr: Sql


class Ratio(CheckParams):
    numerator: Sql
    denominator: Sql
    scale: float = 1
    min: float | None = None
    max: float | None = None


def _between(p: Between, ctx: Context) -> Compiled:
    col = p.column
    dtype = ctx.schema.get(col)
    if dtype == pl.String:
        raise CheckError(f"column '{col}' is text; between needs numbers, dates or datetimes")
    bad = pl.lit(False)
    if p.min is not None:
        lo = literal_for(p.min, dtype)
        bad = bad | ((pl.col(col) < lo) if p.min_inclusive else (pl.col(col) <= lo))
    if p.max is not None:
        hi = literal_for(p.max, dtype)
        bad = bad | ((pl.col(col) > hi) if p.max_inclusive else (pl.col(col) >= hi))
    return RowLevel(applies=pl.col(col).is_not_null(), violates=bad)


def _side(text: Any, ctx: Context) -> pl.Expr:
    if isinstance(text, bool | int | float | date | datetime):
        return pl.lit(text)
    if isinstance(text, str) and text in ctx.schema:
        return pl.col(text)
    return sql(str(text))


def _compare(p: Compare, ctx: Context) -> Compiled:
    op, tol = p.op, float(p.tolerance or 0)
    left, right = _side(p.left, ctx), _side(p.right, ctx)
    if tol:
        # The tolerance loosens the comparison: == means |left - right| <= tolerance.
        ok = {
            "==": (left - right).abs() <= tol,
            "!=": (left - right).abs() > tol,
            "<": left - tol < right,
            "<=": left - tol <= right,
            ">": left + tol > right,
            ">=": left + tol >= right,
        }[op]
    else:
        ok = {
            "==": left == right,
            "!=": left != right,
            "<": left < right,
            "<=": left <= right,
            ">": left > right,
            ">=": left >= right,
        }[op]
    return RowLevel(applies=left.is_not_null() & right.is_not_null(), violates=~ok.fill_null(True))


def _compare_columns(p: Compare) -> list[str]:
    cols: list[str] = []
    for side in (p.left, p.right):
        if isinstance(side, str):
            cols += sql_columns(side)
    return list(dict.fromkeys(cols))


def _expression(p: Expression, ctx: Context) -> Compiled:
    e = sql(p.expr)
    return RowLevel(applies=e.is_not_null(), violates=~e.fill_null(True))


def _ratio(p: Ratio, ctx: Context) -> Compiled:
    num, den = _side(p.numerator, ctx), _side(p.denominator, ctx)
    r = num.cast(pl.Float64) / den.cast(pl.Float64) * float(p.scale)
    bad = pl.lit(False)
    if p.min is not None:
        bad = bad | (r < p.min)
    if p.max is not None:
        bad = bad | (r > p.max)
    return RowLevel(applies=num.is_not_null() & den.is_not_null() & (den != 0), violates=bad)


def _temporal(col: str, ctx: Context) -> pl.Expr:
    dtype = ctx.schema.get(col)
    if dtype is None or not dtype.is_temporal():
        raise CheckError(f"column '{col}' is {dtype}, not a date or datetime")
    return pl.col(col).cast(pl.Datetime("us"))


def _in_period(p: OneColumn, ctx: Context) -> Compiled:
    col = p.column
    v = _temporal(col, ctx)
    return RowLevel(applies=pl.col(col).is_not_null(), violates=~ctx.require_period().contains(v))


def _not_future(p: OneColumn, ctx: Context) -> Compiled:
    """A date after the day the platform received its row (``upload_time``) cannot have happened
    (a birth date, a report date): re-auditing an old extract today still flags a birth date
    after the row's upload. Datetime columns, and rows without an upload time, are judged
    against the audit's clock (a record may be uploaded before a stay ends and updated later)."""
    col = p.column
    v = _temporal(col, ctx)
    violates = v > pl.lit(ctx.now).cast(pl.Datetime("us"))
    up = ctx.schema.get("upload_time")
    if col != "upload_time" and ctx.schema.get(col) == pl.Date and up is not None and up.is_temporal():
        # a date after the upload's day (a date on that day is not in the future)
        after_upload = pl.col(col) > pl.col("upload_time").cast(pl.Date)
        violates = violates | after_upload.fill_null(False)
    return RowLevel(applies=pl.col(col).is_not_null(), violates=violates)


def _between_gx(p: Between, ctx: GXContext) -> tuple[str, dict[str, Any]]:
    if p.min is None and p.max is None:
        raise NotExported("between without bounds")
    ctype = ctx.column_type(p.column)
    return "expect_column_values_to_be_between", {
        "column": p.column,
        "min_value": gx_bound(p.min, ctype),
        "max_value": gx_bound(p.max, ctype),
        "strict_min": not p.min_inclusive,
        "strict_max": not p.max_inclusive,
    }


def _compare_gx(p: Compare, ctx: GXContext) -> tuple[str, dict[str, Any]]:
    """column OP column as a pair expectation; column OP value as between / (not) in set."""
    left, op, right = p.left, p.op, p.right
    if p.tolerance:
        raise NotExported("compare with a tolerance")
    if not (isinstance(left, str) and ctx.is_column(left)):
        raise NotExported("compare whose left side is an expression")
    if ctx.is_column(right):
        pair = {"ignore_row_if": "either_value_is_missing"}
        if op in (">", ">="):
            return "expect_column_pair_values_a_to_be_greater_than_b", {
                "column_A": left, "column_B": right, "or_equal": op == ">=", **pair,
            }  # fmt: skip
        if op in ("<", "<="):
            return "expect_column_pair_values_a_to_be_greater_than_b", {
                "column_A": right, "column_B": left, "or_equal": op == "<=", **pair,
            }  # fmt: skip
        if op == "==":
            return "expect_column_pair_values_to_be_equal", {"column_A": left, "column_B": right, **pair}
        raise NotExported(f"compare of two columns with {op}")
    if isinstance(right, str):
        # Not a column of the table: dq parses it as an SQL expression.
        raise NotExported("compare whose right side is an expression")
    if isinstance(right, bool):
        raise NotExported("compare with a boolean")
    value = gx_value(right)
    temporal = isinstance(right, date) or ctx.column_type(left) in ("date", "datetime")
    if op in (">", ">="):
        return "expect_column_values_to_be_between", {
            "column": left, "min_value": value, "strict_min": op == ">",
        }  # fmt: skip
    if op in ("<", "<="):
        return "expect_column_values_to_be_between", {
            "column": left, "max_value": value, "strict_max": op == "<",
        }  # fmt: skip
    if op == "==" and temporal:
        return "expect_column_values_to_be_between", {"column": left, "min_value": value, "max_value": value}
    if op == "==":
        return "expect_column_values_to_be_in_set", {"column": left, "value_set": [value]}
    if temporal:
        raise NotExported("compare != with a date (GX sets do not match dates)")
    return "expect_column_values_to_not_be_in_set", {"column": left, "value_set": [value]}


CHECKS = (
    CheckDef(
        "between",
        "plausibility",
        "Numbers, dates or datetimes lie between min and max (inclusive by default).",
        Between,
        _between,
        lambda p: [p.column],
        null_semantics="null values are not evaluated",
        gx=GXMapping(("expect_column_values_to_be_between",), _between_gx),
    ),
    CheckDef(
        "compare",
        "plausibility",
        "left OP right, where each side is a column, a value or an SQL expression, with an"
        " optional tolerance (e.g. discharge_time >= admission_time; amount == quantity *"
        " unit_price ± 0.01).",
        Compare,
        _compare,
        _compare_columns,
        null_semantics="rows where either side is null are not evaluated",
        gx=GXMapping(
            (
                "expect_column_pair_values_a_to_be_greater_than_b",
                "expect_column_pair_values_to_be_equal",
                "expect_column_values_to_be_between",
                "expect_column_values_to_be_in_set",
                "expect_column_values_to_not_be_in_set",
            ),
            _compare_gx,
        ),
    ),
    CheckDef(
        "expression",
        "plausibility",
        "A boolean SQL expression (Polars' SQL parser) that must hold for every row.",
        Expression,
        _expression,
        lambda p: sql_columns(p.expr),
        null_semantics="rows where the expression is null are not evaluated",
    ),
    CheckDef(
        "ratio",
        "plausibility",
        "numerator ÷ denominator × scale lies within [min, max] (e.g. a rate in [0, 100]).",
        Ratio,
        _ratio,
        lambda p: [c for side in (p.numerator, p.denominator) for c in sql_columns(str(side))],
        null_semantics="rows with a null side or a zero denominator are not evaluated",
    ),
    CheckDef(
        "in_period",
        "plausibility",
        "The event time lies inside the audited month.",
        OneColumn,
        _in_period,
        lambda p: [p.column],
        null_semantics="null values are not evaluated",
    ),
    CheckDef(
        "not_future",
        "plausibility",
        "The date or time is not after the moment of the audit.",
        OneColumn,
        _not_future,
        lambda p: [p.column],
        null_semantics="null values are not evaluated",
    ),
)
