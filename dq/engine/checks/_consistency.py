"""Consistency checks: links between tables, totals that add up, counts within groups."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from dq.engine.checks.base import (
    Aggregate,
    CheckDef,
    CheckParams,
    Column,
    Columns,
    Compiled,
    Context,
    RowLevel,
    Sql,
    Strs,
    param,
    present,
    sql,
    sql_columns,
    texts,
)
from dq.engine.messages import message
from dq.errors import CheckError
from dq.io.columns import is_internal

__all__ = ["CHECKS", "ForeignKey", "GroupCount", "RowTotal"]


class ForeignKey(CheckParams):
    column: Column
    references: Strs


class RowTotal(CheckParams):
    label_column: Column | None = None
    total_label: str = "合计"
    exclude_labels: Strs = ("小计",)
    columns: Columns | None = param(default=None, help="default: every other column")
    exclude_columns: Strs = ()
    total_column: Column | None = None
    part_columns: Columns | None = None
    tolerance: float = 0


class GroupCount(CheckParams):
    group_by: Columns
    condition: Sql
    min: int | None = None
    max: int | None = None


def _references(p: ForeignKey) -> list[tuple[str, str]]:
    out = []
    for r in texts(p.references):
        table, _, column = str(r).partition(".")
        if not column:
            raise CheckError(f"reference {r!r} must be 'table.column'")
        out.append((table, column))
    return out


def _foreign_key(p: ForeignKey, ctx: Context) -> Compiled:
    col = p.column
    parts = []
    for table, column in _references(p):
        if column not in ctx.other_schema(table):
            raise CheckError(f"referenced column '{table}.{column}' does not exist")
        parts.append(ctx.distinct_text(table, column))
    # The referenced keys are read first (once per referenced column of the extract) and each
    # value is looked up in them: a join would carry every column of the table through it.
    keys = pl.concat(parts).drop_nulls().unique() if len(parts) > 1 else parts[0].drop_nulls()
    found = pl.col(col).cast(pl.String).is_in(keys.implode())
    return RowLevel(applies=present(col, ctx), violates=~found, reads_extract=True)


def _num(col: str) -> pl.Expr:
    return pl.col(col).cast(pl.Float64, strict=False)


def _row_total(p: RowTotal, ctx: Context) -> Compiled:
    tol = float(p.tolerance or 0)
    if p.total_column:
        parts = list(p.part_columns or [])
        if not parts:
            raise CheckError("a total column needs 'part_columns'")
        total = _num(p.total_column)
        computed = pl.sum_horizontal([_num(c) for c in parts])
        complete = pl.all_horizontal([_num(c).is_not_null() for c in [p.total_column, *parts]])
        return RowLevel(applies=complete, violates=(total - computed).abs() > tol)
    label, total_label = p.label_column, p.total_label
    if not label:
        raise CheckError("row_total needs 'label_column' (row form) or 'total_column' (column form)")
    skip = [total_label, *texts(p.exclude_labels)]
    # Without a column list, every column but the label and the excluded ones is summed.
    excluded = texts(p.exclude_columns)
    cols = list(
        p.columns
        or [c for c in ctx.schema if c != label and c not in excluded and not is_internal(c)]  # nor dq's own
    )
    labels = pl.col(label).cast(pl.String).str.strip_chars()
    is_total = labels == total_label
    is_part = ~labels.is_in(skip).fill_null(False)
    # Filled by aggregate(): only the rows of the rule's `when` mask take part in the sums.
    details: dict[str, pl.Expr] = {}

    def aggregate(mask: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
        bad = []
        for c in cols:
            stated = _num(c).filter(is_total & mask).sum()
            computed = _num(c).filter(is_part & mask).sum()
            details[f"stated:{c}"], details[f"computed:{c}"] = stated, computed
            bad.append(((stated - computed).abs() > tol).fill_null(False).cast(pl.Int32))
        has_total = (is_total & mask).any().cast(pl.Int32)
        return has_total * len(cols), has_total * pl.sum_horizontal(bad)

    def describe(d: Mapping[str, Any]) -> str:
        wrong = [
            message(
                "row_totals.column",
                column=c,
                stated=_fmt(d[f"stated:{c}"]),
                computed=_fmt(d[f"computed:{c}"]),
            )
            for c in cols
            if d[f"stated:{c}"] is not None and abs((d[f"stated:{c}"] or 0) - (d[f"computed:{c}"] or 0)) > tol
        ]
        return (
            message("row_totals.differs", label=total_label, parts=wrong)
            if wrong
            else message("row_totals.equal", label=total_label, n=len(cols))
        )

    return Aggregate(
        aggregate=aggregate,
        details=details,
        describe=describe,
    )


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else f"{v:.2f}"
    return str(v)


def _row_total_columns(p: RowTotal) -> list[str]:
    if p.total_column:
        return [p.total_column, *(p.part_columns or [])]
    return [c for c in [p.label_column, *(p.columns or [])] if c]


def _group_count(p: GroupCount, ctx: Context) -> Compiled:
    keys = list(p.group_by)
    cond = sql(p.condition).fill_null(False)
    key = pl.struct(keys) if len(keys) > 1 else pl.col(keys[0])
    complete = pl.all_horizontal([present(k, ctx) for k in keys])
    lo, hi = p.min, p.max

    def out_of_range(n: pl.Expr) -> pl.Expr:
        bad = pl.lit(False)
        if lo is not None:
            bad = bad | (n < lo)
        if hi is not None:
            bad = bad | (n > hi)
        return bad

    # A group with no row meeting the condition counts 0: is that out of range?
    zero_fails = (lo is not None and lo > 0) or (hi is not None and hi < 0)

    def aggregate(mask: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
        # evaluated: the groups among the rows; failed: those whose count of rows meeting the
        # condition is out of range. Counted from the groups' counts (value_counts) and, for the
        # groups with none, from two distinct counts: half the CPU of a window count per row.
        m = mask & complete
        groups, meeting = key.filter(m).n_unique(), key.filter(m & cond)
        counts = meeting.value_counts(name="__dq_count").struct.field("__dq_count")
        failed = out_of_range(counts).sum()
        if zero_fails:
            failed = failed + (groups - meeting.n_unique())
        return groups, failed

    def sample(lf: pl.LazyFrame, mask: pl.Expr) -> pl.LazyFrame:
        m = mask & complete
        n = (cond & m).cast(pl.Int64).sum().over(keys)
        return lf.filter(m).filter(out_of_range(n)).sort(keys)

    return Aggregate(aggregate=aggregate, sample=sample)


CHECKS = (
    CheckDef(
        "foreign_key",
        "consistency",
        "Values exist in another table of the same extract ('table.column', or a list whose"
        " union is searched).",
        ForeignKey,
        _foreign_key,
        lambda p: [p.column],
        null_semantics="null and blank values are not evaluated (not_null covers them)",
    ),
    CheckDef(
        "row_total",
        "consistency",
        "A total row (label_column = total_label, e.g. 合计) equals the sum of the other rows"
        " in each listed column; or a total column equals the sum of its part columns.",
        RowTotal,
        _row_total,
        _row_total_columns,
        null_semantics="non-numeric cells count as missing in sums; a table without a total"
        " row is not applicable",
    ),
    CheckDef(
        "group_count",
        "consistency",
        "Within each group (e.g. an inpatient), the number of rows matching a condition lies"
        " in [min, max]; failures and evaluations are counted in groups.",
        GroupCount,
        _group_count,
        lambda p: [*p.group_by, *sql_columns(p.condition)],
        null_semantics="rows with a null group key are not evaluated; counted per group",
    ),
)
