"""Completeness checks: values present, required columns present, tables not empty."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from dq.engine.checks.base import (
    Aggregate,
    CheckDef,
    CheckParams,
    Compiled,
    Context,
    GXContext,
    GXMapping,
    NotExported,
    OneColumn,
    RowLevel,
    Strs,
    blank,
    param,
    texts,
)
from dq.engine.messages import Message, message
from dq.io.columns import raw_column

__all__ = ["CHECKS", "ColumnsPresent", "RowCount"]


class ColumnsPresent(CheckParams):
    columns: Strs | None = param(default=None, help="explicit list; default: catalogue")
    all: bool = param(default=False, help="also optional columns")


class RowCount(CheckParams):
    min: int | None = None
    max: int | None = None


def _not_null(p: OneColumn, ctx: Context) -> Compiled:
    col = p.column
    raw = raw_column(col)
    if raw in ctx.schema:
        # The reader parsed this column from text: a value that was given but did not parse is
        # date_parse's finding, not a missing value.
        return RowLevel(applies=pl.lit(True), violates=blank(raw, ctx))
    return RowLevel(applies=pl.lit(True), violates=blank(col, ctx))


def _columns_present(p: ColumnsPresent, ctx: Context) -> Compiled:
    """Schema-level: every expected column exists with a compatible type."""
    expected: dict[str, str] = {}
    if p.columns:
        expected = dict.fromkeys(texts(p.columns), "")
    elif ctx.spec is not None:
        expected = {c.name: c.type for c in ctx.spec.columns if c.required or p.all}
    missing: list[str] = []
    mistyped: list[Message] = []
    for name, typ in expected.items():
        if name not in ctx.schema:
            missing.append(name)
            continue
        got = ctx.schema[name]
        if typ and got != pl.String and ctx.spec is not None:
            want = ctx.spec.column(name).dtype  # type: ignore[union-attr]
            if not (got == want or (got.is_numeric() and want.is_numeric())):
                mistyped.append(message("columns.type", column=name, got=str(got), expected=typ))
    failed = len(missing) + len(mistyped)

    def describe(_: Mapping[str, Any]) -> str:
        parts = []
        if missing:
            parts.append(message("columns.missing", columns=missing))
        if mistyped:
            parts.append(message("columns.wrong_type", columns=mistyped))
        if not parts:
            return message("columns.all_present", n=len(expected))
        return parts[0] if len(parts) == 1 else message("columns.problems", parts=parts)

    return Aggregate(
        aggregate=lambda mask: (pl.lit(len(expected)), pl.lit(failed)),
        describe=describe,
    )


def _row_count(p: RowCount, ctx: Context) -> Compiled:
    lo, hi = p.min, p.max
    # Filled by aggregate(): the rows counted are those of the rule's `when` mask.
    details: dict[str, pl.Expr] = {}

    def aggregate(mask: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
        n = mask.sum()
        details["rows"] = n
        bad = pl.lit(False)
        if lo is not None:
            bad = bad | (n < lo)
        if hi is not None:
            bad = bad | (n > hi)
        return pl.lit(1), bad.cast(pl.UInt32)

    return Aggregate(
        aggregate=aggregate,
        details=details,
        describe=lambda d: message(
            "row_count", rows=d["rows"], low=lo if lo is not None else "-", high=hi if hi is not None else "-"
        ),
    )


def _not_null_gx(p: OneColumn, ctx: GXContext) -> tuple[str, dict[str, Any]]:
    col = p.column
    if ctx.column_type(col) not in (None, "str"):
        # dq tests the text as uploaded (a value given but unparseable is date_parse's finding,
        # not a missing one): dq.interop.gx.load_batch keeps that text as <column>__raw.
        col = raw_column(col)
    return "expect_column_values_to_not_be_null", {"column": col}


def _row_count_gx(p: RowCount, ctx: GXContext) -> tuple[str, dict[str, Any]]:
    if p.min is None and p.max is None:
        raise NotExported("row_count without bounds")
    return "expect_table_row_count_to_be_between", {"min_value": p.min, "max_value": p.max}


CHECKS = (
    CheckDef(
        "not_null",
        "completeness",
        "The column has a value in every row; empty or blank strings count as missing.",
        OneColumn,
        _not_null,
        lambda p: [p.column],
        null_semantics="null, empty and whitespace-only values fail; for a column parsed from text the"
        " text is tested, so a value given but unparseable is left to date_parse",
        gx=GXMapping(("expect_column_values_to_not_be_null",), _not_null_gx),
    ),
    CheckDef(
        "columns_present",
        "completeness",
        "Required columns exist with the catalogue's types (or the listed columns exist).",
        ColumnsPresent,
        _columns_present,
        lambda p: [],
        null_semantics="schema-level: counts columns, not rows",
    ),
    CheckDef(
        "row_count",
        "completeness",
        "The table has between min and max rows.",
        RowCount,
        _row_count,
        lambda p: [],
        null_semantics="counts every row; judged on empty tables too",
        gx=GXMapping(("expect_table_row_count_to_be_between",), _row_count_gx),
    ),
)
