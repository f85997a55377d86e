"""One rule compiled into the expressions the engine collects, and type-checked without data.

:func:`compile_rule` is the one place a rule becomes a :class:`Plan`. The suite loader calls it
against empty frames typed like the catalogue (a rule that loads is a rule the engine can type),
and the engine calls it against the uploaded table's schema before reading any row. Both then
see the same joins, the same ``when`` mask and the same count expressions, so they cannot
disagree about whether a rule compiles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING

import polars as pl

from dq.engine.checks import REGISTRY, Aggregate, Compiled, Context, Join, RowLevel
from dq.engine.checks.base import sql
from dq.errors import CheckError, NotApplicable

if TYPE_CHECKING:
    from dq.engine.suite import Rule

__all__ = ["MissingColumns", "Plan", "apply_joins", "compile_rule", "lookup_join", "when_mask", "with_shared"]


class MissingColumns(CheckError):
    """The rule names columns the table does not have (``columns``, in the rule's order)."""

    def __init__(self, table: str, columns: Sequence[str]) -> None:
        self.columns = tuple(columns)
        super().__init__(f"column(s) missing from {table}: {', '.join(columns)}")


@dataclass(frozen=True)
class Plan:
    """A compiled rule: the expressions to collect and how to sample and describe it.

    ``exprs`` maps ``<prefix>:n`` (evaluated), ``<prefix>:f`` (failed) and ``<prefix>:d:<name>``
    (details) to scalar expressions over the table after ``joins``.
    """

    rule: Rule
    compiled: Compiled
    mask: pl.Expr  # row-level: the failing rows (when & applies & violates); aggregate: when
    exprs: dict[str, pl.Expr]
    prefix: str = ""
    applies: pl.Expr | None = None  # row-level checks: the evaluated rows (when & applies)
    joins: tuple[Join, ...] = ()  # the rule's lookup join first, then the check's own

    @property
    def row_level(self) -> bool:
        return isinstance(self.compiled, RowLevel)


def when_mask(rule: Rule) -> pl.Expr:
    """The rows a rule applies to; a column-length mask even without a condition."""
    return _when(rule.when or "")


@lru_cache(maxsize=4096)
def _when(condition: str) -> pl.Expr:
    # a pure function of the text: parsed once however often the rule is evaluated
    if condition:
        return sql(condition).fill_null(False)
    return pl.repeat(True, pl.len())


def lookup_join(rule: Rule, tables: Mapping[str, pl.LazyFrame]) -> Join:
    """The left join that brings a rule's ``lookup`` columns in as ``<table>__<column>``."""
    lk = rule.lookup
    assert lk is not None
    if lk.table not in tables:
        raise NotApplicable(f"lookup table '{lk.table}' was not uploaded")
    right_keys = [r for _, r in lk.on]
    right = (
        tables[lk.table]
        .select([*right_keys, *(pl.col(c).alias(lk.alias(c)) for c in lk.columns)])
        .unique(subset=right_keys, keep="first", maintain_order=False)
    )
    # Rename the right keys so they never clash with the left frame's columns.
    right = right.rename({r: f"__lk__{lk.table}__{r}" for r in right_keys})
    return Join(
        right,
        tuple(pl.col(left) for left, _ in lk.on),  # type: ignore[misc]
        tuple(pl.col(f"__lk__{lk.table}__{r}") for r in right_keys),  # type: ignore[misc]
    )


def apply_joins(frame: pl.LazyFrame, joins: Sequence[Join]) -> pl.LazyFrame:
    for j in joins:
        frame = frame.join(
            j.right,
            left_on=list(j.left_on),
            right_on=list(j.right_on),
            how="left",
            coalesce=False,
            maintain_order="left",  # samples stay the table's first failing rows
        )
    return frame


def with_shared(frame: pl.LazyFrame, compiled: Sequence[Compiled]) -> pl.LazyFrame:
    """``frame`` with the intermediate columns (``Compiled.columns``) of the given checks, each
    name computed once however many checks read it."""
    shared: dict[str, pl.Expr] = {}
    for c in compiled:
        for name, expr in c.columns.items():
            shared.setdefault(name, expr)
    return frame.with_columns(**shared) if shared else frame


def compile_rule(
    rule: Rule,
    ctx: Context,
    prefix: str = "r",
    empty: pl.LazyFrame | None = None,
) -> Plan:
    """Compile ``rule`` for a table of schema ``ctx.schema`` and type-check it without data.

    ``ctx.rule_id`` is set to ``prefix``, which names the rule's columns in the table's one
    query. ``ctx.tables`` holds the frames a lookup or a foreign key may join (their schemas are read,
    not their rows); ``empty`` is an empty frame of ``ctx.schema`` (built if not given). Raises
    :class:`MissingColumns` when the rule names columns the table lacks,
    :class:`~dq.errors.NotApplicable` when a table it needs is absent, another
    :class:`~dq.errors.CheckError` when its parameters do not fit the data, and a Polars error
    when its expressions do not type.
    """
    joins: list[Join] = []
    schema = dict(ctx.schema)
    if rule.lookup is not None:
        joins.append(lookup_join(rule, ctx.tables))
        other = ctx.tables[rule.lookup.table].collect_schema()
        for c in rule.lookup.columns:
            schema[rule.lookup.alias(c)] = other[c]
    needed = list(rule.columns)
    if rule.when:
        needed += sql(rule.when).meta.root_names()
    missing = [c for c in dict.fromkeys(needed) if c not in schema]
    if missing:
        raise MissingColumns(rule.table, missing)
    compiled = REGISTRY[rule.check].compile(rule.params, replace(ctx, schema=schema, rule_id=prefix))
    joins += compiled.joins
    when = when_mask(rule)
    applies: pl.Expr | None = None
    if isinstance(compiled, Aggregate):
        evaluated, failed = compiled.aggregate(when)  # may fill compiled.details
        mask = when
    else:
        applies = when & compiled.applies.fill_null(False)
        mask = applies & compiled.violations(applies).fill_null(False)
        evaluated, failed = applies.sum(), mask.sum()
    exprs = {f"{prefix}:n": evaluated, f"{prefix}:f": failed}
    exprs |= {f"{prefix}:d:{k}": v for k, v in compiled.details.items()}
    # Resolve types now, without data, so a type clash is this rule's error alone.
    frame = empty if empty is not None else pl.LazyFrame(schema=dict(ctx.schema))
    frame = with_shared(apply_joins(frame, joins), [compiled])
    frame.select([e.alias(k) for k, e in exprs.items()]).collect_schema()
    return Plan(rule, compiled, mask, exprs, prefix, applies=applies, joins=tuple(joins))
