"""The building blocks of the check catalogue.

A check is a :class:`CheckDef`: a name, a default dimension, typed parameters and a ``compile``
function that turns validated parameters into a :class:`Compiled` plan made of Polars
expressions. The engine puts the plans of every rule of a table into one lazy query.

A compiled plan is one of two shapes:

* **row-level** — ``applies`` (rows the check looks at) and ``violates`` (True where a row breaks
  the rule). The engine counts ``evaluated = sum(when & applies)`` and
  ``failed = sum(when & applies & violates)``, and samples failing rows.
* **aggregate** — ``aggregate(mask)`` returns ``(evaluated, failed)`` scalar expressions over the
  rows in ``mask``; used for set-wise checks (uniqueness, group counts) and table-level checks
  (row count, upload days, row totals). ``sample`` optionally returns the failing rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import polars as pl

from dq.catalogue import Catalogue, TableSpec
from dq.errors import CheckError, NotApplicable

__all__ = [
    "DIMENSIONS",
    "CheckDef",
    "Compiled",
    "Context",
    "Join",
    "Param",
    "blank_or_null",
    "present",
    "sql",
]

DIMENSIONS = (
    "completeness",
    "conformance",
    "plausibility",
    "uniqueness",
    "timeliness",
    "consistency",
)

# Parameter kinds understood by the loader (see Param.kind).
PARAM_KINDS = (
    "column",
    "columns",
    "str",
    "strs",
    "number",
    "int",
    "bool",
    "values",
    "scalar",
    "sql",
)


@dataclass(frozen=True)
class Param:
    """One parameter of a check. ``kind`` drives validation in the suite loader."""

    name: str
    kind: str
    required: bool = True
    default: Any = None
    help: str = ""
    choices: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Join:
    """A lazy left join the engine applies before evaluating a rule.

    ``right`` is already reduced to unique keys; its non-key columns are added to the frame.
    """

    right: pl.LazyFrame
    left_on: tuple[str, ...]
    right_on: tuple[str, ...]


@dataclass(frozen=True)
class Context:
    """What a check may know besides its parameters."""

    table: str
    schema: Mapping[str, pl.DataType]
    catalogue: Catalogue
    spec: TableSpec | None = None
    period: tuple[datetime, datetime] | None = None  # [start, end)
    now: datetime = field(default_factory=datetime.now)
    tables: Mapping[str, pl.LazyFrame] = field(default_factory=dict)
    rule_id: str = ""

    def require_period(self) -> tuple[datetime, datetime]:
        if self.period is None:
            raise CheckError("this check needs the audited period: pass --period YYYY-MM")
        return self.period

    def other(self, table: str) -> pl.LazyFrame:
        if self.catalogue.table(table) is None:
            raise CheckError(f"unknown table '{table}': not a table of the catalogue")
        if table not in self.tables:
            # The missing table is the submission suite's finding (declared, not uploaded).
            raise NotApplicable(f"referenced table '{table}' was not uploaded")
        return self.tables[table]

    def other_schema(self, table: str) -> Mapping[str, pl.DataType]:
        return self.other(table).collect_schema()


@dataclass(frozen=True)
class Compiled:
    applies: pl.Expr | None = None
    violates: pl.Expr | None = None
    aggregate: Callable[[pl.Expr], tuple[pl.Expr, pl.Expr]] | None = None
    sample: Callable[[pl.LazyFrame, pl.Expr], pl.LazyFrame] | None = None
    details: Mapping[str, pl.Expr] = field(default_factory=dict)
    describe: Callable[[Mapping[str, Any]], str] | None = None
    joins: tuple[Join, ...] = ()
    sample_columns: tuple[str, ...] = ()
    empty_applies: bool = False  # True for checks that judge an empty table (row_count)
    # Set-wise checks whose failures are rows (uniqueness): the failing rows among the evaluated
    # rows ``mask`` (when & applies), as one row-level expression. The engine then evaluates the
    # rule like a row-level one, so its counts and samples come from the one pass.
    violates_among: Callable[[pl.Expr], pl.Expr] | None = None
    sample_order: tuple[str, ...] = ()  # order of the samples (uniqueness: the key)


@dataclass(frozen=True)
class CheckDef:
    name: str
    dimension: str
    summary: str
    params: tuple[Param, ...]
    compile: Callable[[Mapping[str, Any], Context], Compiled]
    columns: Callable[[Mapping[str, Any]], list[str]]
    null_semantics: str = "null and blank values are not evaluated"
    gx_equivalent: str | None = None

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)


def sql(text: str) -> pl.Expr:
    """Parse a boolean or scalar expression with Polars' SQL expression parser (never eval)."""
    try:
        return pl.sql_expr(text)
    except Exception as exc:
        raise CheckError(f"cannot parse expression {text!r}: {exc}") from exc


def sql_columns(text: str) -> list[str]:
    return list(dict.fromkeys(sql(text).meta.root_names()))


def blank_or_null(col: str, dtype: pl.DataType | None) -> pl.Expr:
    """True where a value is missing: null, or (for strings) empty after trimming."""
    e = pl.col(col).is_null()
    if dtype is None or dtype == pl.String:
        e = e | (pl.col(col).cast(pl.String).str.strip_chars() == "")
    return e


def present(col: str, ctx: Context) -> pl.Expr:
    return ~blank_or_null(col, ctx.schema.get(col))


def literal_for(value: Any, dtype: pl.DataType | None) -> pl.Expr:
    """A literal comparable with a column of ``dtype`` (dates in YAML or ISO strings)."""
    if dtype is not None and dtype.is_temporal() and isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise CheckError(f"{value!r} is not an ISO date/datetime") from exc
    if isinstance(value, datetime) and dtype == pl.Date:
        value = value.date()
    if isinstance(value, date) and not isinstance(value, datetime) and dtype == pl.Datetime:
        value = datetime(value.year, value.month, value.day)
    return pl.lit(value)
