"""Uniqueness checks: a single or compound key identifies one row."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from dq.checks.base import CheckDef, Compiled, Context, Param, blank_or_null

__all__ = ["CHECKS"]


def _unique(p: Mapping[str, Any], ctx: Context) -> Compiled:
    cols = list(p["columns"])
    complete = pl.all_horizontal([~blank_or_null(c, ctx.schema.get(c)) for c in cols])
    key = pl.struct(cols) if len(cols) > 1 else pl.col(cols[0])

    def aggregate(mask: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
        m = mask & complete
        # Every row of a key that occurs more than once counts as failing (as in GX).
        return m.sum(), key.filter(m).is_duplicated().sum()

    def sample(lf: pl.LazyFrame, mask: pl.Expr) -> pl.LazyFrame:
        return lf.filter(mask & complete).filter(key.is_duplicated()).sort(cols)

    return Compiled(aggregate=aggregate, sample=sample)


CHECKS = (
    CheckDef(
        "unique",
        "uniqueness",
        "A key of one or more columns occurs once; every row of a repeated key fails.",
        (Param("columns", "columns"),),
        _unique,
        lambda p: list(p["columns"]),
        null_semantics="rows where any key column is null or blank are not evaluated",
        gx_equivalent="expect_column_values_to_be_unique / expect_compound_columns_to_be_unique",
    ),
)
