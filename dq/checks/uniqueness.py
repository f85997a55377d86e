"""Uniqueness checks: a single or compound key identifies one row."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from dq.checks.base import (
    CheckDef,
    Compiled,
    Context,
    GXContext,
    GXMapping,
    Param,
    RowLevel,
    blank,
)

__all__ = ["CHECKS"]


def _unique(p: Mapping[str, Any], ctx: Context) -> Compiled:
    cols = list(p["columns"])
    complete = pl.all_horizontal([~blank(c, ctx) for c in cols])

    def violates_among(mask: pl.Expr) -> pl.Expr:
        # Every row of a key that occurs more than once among the evaluated rows fails (as in
        # GX). A window count over the mask is exact and ~2x faster than is_duplicated().
        return mask.cast(pl.UInt32).sum().over(cols) > 1

    return RowLevel(applies=complete, violates_among=violates_among, sample_order=tuple(cols))


def _unique_gx(p: Mapping[str, Any], ctx: GXContext) -> tuple[str, dict[str, Any]]:
    cols = list(p["columns"])
    if len(cols) == 1:
        return "expect_column_values_to_be_unique", {"column": cols[0]}
    return "expect_compound_columns_to_be_unique", {
        "column_list": cols,
        "ignore_row_if": "any_value_is_missing",
    }


CHECKS = (
    CheckDef(
        "unique",
        "uniqueness",
        "A key of one or more columns occurs once; every row of a repeated key fails.",
        (Param("columns", "columns"),),
        _unique,
        lambda p: list(p["columns"]),
        null_semantics="rows where any key column is null or blank are not evaluated",
        gx=GXMapping(
            ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique"), _unique_gx
        ),
    ),
)
