"""Uniqueness checks: a single or compound key identifies one row."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from dq.engine.checks.base import (
    CheckDef,
    CheckParams,
    Columns,
    Compiled,
    Context,
    GXContext,
    GXMapping,
    RowLevel,
    blank,
)

__all__ = ["CHECKS", "Unique"]


class Unique(CheckParams):
    columns: Columns


def _unique(p: Unique, ctx: Context) -> Compiled:
    cols = list(p.columns)
    complete = pl.all_horizontal([~blank(c, ctx) for c in cols])

    def violates_among(mask: pl.Expr) -> pl.Expr:
        # Every row of a key that occurs more than once among the evaluated rows fails (as in GX).
        fields = [mask.alias("__dq_mask"), *(pl.col(c).alias(f"__dq_key{i}") for i, c in enumerate(cols))]
        return pl.struct(fields).map_batches(repeated_keys, return_dtype=pl.Boolean, is_elementwise=False)

    return RowLevel(applies=complete, violates_among=violates_among, sample_order=tuple(cols))


def repeated_keys(batch: pl.Series) -> pl.Series:
    """Flags of the rows whose key occurs more than once among the evaluated rows.

    ``batch`` is a struct: the evaluated mask, then the key columns. Each evaluated key is
    hashed to 64 bits and the hashes sorted: a hash seen once is a key seen once, which is
    nearly every row, so only the few rows whose hash repeats (every repeated key, and any
    hash collision) have their keys compared in full. Exact, and ~1/6 of the CPU of hashing
    whole keys into a table (``is_duplicated``), which it equals (tested).
    """
    parts = batch.struct.unnest()
    mask = parts.to_series(0).fill_null(False)
    keys = parts.drop(parts.columns[0])
    every = bool(mask.all())
    if not every:
        keys = keys.filter(mask)
    flags = np.zeros(keys.height, dtype=bool)
    if keys.height > 1:
        flags = repeated_rows(keys, keys.hash_rows().to_numpy())
    if every:
        return pl.Series(batch.name, flags)
    out = np.zeros(len(batch), dtype=bool)
    out[mask.to_numpy()] = flags
    return pl.Series(batch.name, out)


def repeated_rows(keys: pl.DataFrame, hashes: np.ndarray) -> np.ndarray:
    """Flags of the rows of ``keys`` equal to another row, given a hash of each row: only rows
    whose hash repeats are compared in full, so a collision costs time, never a wrong flag."""
    flags = np.zeros(keys.height, dtype=bool)
    ordered = np.sort(hashes)
    repeats = ordered[1:][ordered[1:] == ordered[:-1]]
    if repeats.size:
        # a hash set of the few repeated hashes (np.isin would sort all of them again)
        candidates = pl.Series(hashes).is_in(pl.Series(repeats).implode()).to_numpy()
        flags[candidates] = keys.filter(pl.Series(candidates)).is_duplicated().to_numpy()
    return flags


def _unique_gx(p: Unique, ctx: GXContext) -> tuple[str, dict[str, Any]]:
    cols = list(p.columns)
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
        Unique,
        _unique,
        lambda p: list(p.columns),
        null_semantics="rows where any key column is null or blank are not evaluated",
        gx=GXMapping(
            ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique"), _unique_gx
        ),
    ),
)
