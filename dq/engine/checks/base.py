"""The building blocks of the check catalogue.

A check is a :class:`CheckDef`: a name, a default dimension, typed parameters and a ``compile``
function that turns validated parameters into a compiled plan made of Polars expressions. The
engine puts the plans of every rule of a table into one lazy query.

A compiled plan is one of two types (:data:`Compiled` is their union):

* :class:`RowLevel` — ``applies`` (rows the check looks at) and ``violates`` (True where a row breaks
  the rule). The engine counts ``evaluated = sum(when & applies)`` and
  ``failed = sum(when & applies & violates)``, and samples failing rows.
* :class:`Aggregate` — ``aggregate(mask)`` returns ``(evaluated, failed)`` scalar expressions over the
  rows in ``mask``; used for set-wise checks (group counts, proportions) and table-level checks
  (row count, upload days, row totals). ``sample`` optionally returns the failing rows.
"""

from __future__ import annotations

import dataclasses
import types
import typing
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Any, Generic, Literal, Self, TypeVar, dataclass_transform

import polars as pl

from dq.engine.checks._grammar import checked_sql
from dq.engine.results import DIMENSIONS, Dimension, RuleResult
from dq.errors import CheckError, NotApplicable
from dq.io.catalogue import Catalogue, TableSpec
from dq.io.masking import describe_error
from dq.io.period import Period

__all__ = [
    "BLANK_PREFIX",
    "DIMENSIONS",
    "NEEDS",
    "Aggregate",
    "CheckDef",
    "CheckParams",
    "Column",
    "Columns",
    "Compiled",
    "Context",
    "GXContext",
    "GXMapping",
    "Join",
    "NotExported",
    "OneColumn",
    "Param",
    "RowLevel",
    "Scalar",
    "Sql",
    "Strs",
    "UnitHistory",
    "Values",
    "blank",
    "blank_columns",
    "blank_or_null",
    "param",
    "plain_value",
    "present",
    "sql",
    "texts",
]


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
    """One parameter of a check as the suite language sees it: ``kind`` drives validation in the
    suite loader, ``default`` is the value a rule gets when it leaves the parameter out (as YAML
    writes it: lists, not tuples). Derived from the check's :class:`CheckParams` class
    (:meth:`CheckParams.spec`), never written by hand."""

    name: str
    kind: str
    required: bool = True
    default: Any = None
    help: str = ""
    choices: tuple[Any, ...] = ()


@dataclass(frozen=True)
class _Kind:
    """The suite-language kind of a parameter type (metadata of an ``Annotated`` alias)."""

    name: str


# The types a parameter is annotated with. Each says which YAML values the loader accepts
# (its kind); plain ``str`` (or a ``Literal`` of texts: the choices), ``float`` ("number"),
# ``int`` and ``bool`` are kinds of their own. ``X | None`` with default ``None``: optional.
Column = Annotated[str, _Kind("column")]
"""A column name of the rule's table."""
Columns = Annotated[tuple[str, ...], _Kind("columns")]
"""A non-empty list of column names."""
Strs = Annotated[str | tuple[str, ...], _Kind("strs")]
"""Text or a list of text, kept as written (:func:`texts` reads either as a tuple)."""
Values = Annotated[tuple[Any, ...], _Kind("values")]
"""A non-empty list of literals (lists inside become tuples)."""
Scalar = Annotated[float | str | date, _Kind("scalar")]
"""A number, text or date (a datetime is a date)."""
Sql = Annotated[str | float, _Kind("sql")]
"""An SQL expression (a number is an expression too)."""

_PLAIN_KINDS: dict[Any, str] = {str: "str", float: "number", int: "int", bool: "bool"}
_LISTS = ("columns", "strs", "values")


def param(*, default: Any = dataclasses.MISSING, help: str = "") -> Any:
    """A parameter field with a help text (``x: bool = param(default=False, help="...")``);
    a field without help is written as a plain dataclass field."""
    if default is dataclasses.MISSING:
        return field(metadata={"help": help})
    return field(default=default, metadata={"help": help})


def _kind_of(owner: type, name: str, hint: Any, default: Any) -> tuple[str, tuple[Any, ...]]:
    """(kind, choices) of a parameter annotated ``hint``; TypeError for a type the suite
    language has no kind for, or ``X | None`` on a parameter whose default is not None."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == len(typing.get_args(hint)):  # a union of kinds: only the aliases above
            raise TypeError(f"{owner.__name__}.{name}: annotate a union as Scalar or Sql")
        if default is not None:
            raise TypeError(f"{owner.__name__}.{name}: an optional parameter defaults to None")
        hint = args[0] if len(args) == 1 else typing.Union[tuple(args)]  # noqa: UP007
    if typing.get_origin(hint) is Annotated:
        kind = next((m for m in hint.__metadata__ if isinstance(m, _Kind)), None)
        if kind is not None:
            return kind.name, ()
    if typing.get_origin(hint) is Literal:
        choices = typing.get_args(hint)
        if all(isinstance(c, str) for c in choices):
            return "str", choices
    if hint in _PLAIN_KINDS:
        return _PLAIN_KINDS[hint], ()
    raise TypeError(
        f"{owner.__name__}.{name}: {hint!r} is not a parameter type"
        " (str, a Literal of texts, float, int, bool, Column, Columns, Strs, Values, Scalar, Sql)"
    )


def texts(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """A :data:`Strs` parameter as a tuple of texts: one text is a tuple of one, None none."""
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _frozen(value: Any) -> Any:
    """A YAML value as a parameter holds it: lists (deeply) become tuples."""
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value


def plain_value(value: Any) -> Any:
    """A parameter value as YAML and JSON write it: tuples (deeply) become lists."""
    if isinstance(value, list | tuple):
        return [plain_value(v) for v in value]
    return value


@dataclass_transform(kw_only_default=True, frozen_default=True, field_specifiers=(field, param))
class CheckParams:
    """The parameters of a check: subclass it with one typed field per parameter, its default
    (if any) written on the field, the one place it is written::

        class Between(CheckParams):
            column: Column
            min: Scalar | None = None
            min_inclusive: bool = True
            method: Literal["a", "b"] = "a"     # the choices
            strict: bool = param(default=False, help="true: min itself is out of range")

    Each subclass is a frozen, keyword-only dataclass. The suite loader validates a rule's YAML
    against :meth:`spec` (the :class:`Param` list derived from the fields: kind from the type,
    default and help from the field) and builds the instance with :meth:`of`; the check's
    ``compile`` receives the instance (``p.column``, ``p.min``). :meth:`as_mapping` gives the
    parameters back as YAML writes them.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        dataclass(frozen=True, kw_only=True)(cls)

    @classmethod
    def spec(cls) -> tuple[Param, ...]:
        """The parameters in the suite language (names, kinds, defaults, help, choices), in
        the order of the fields."""
        return _spec(cls)

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Self:
        """The parameters from a mapping of validated YAML values (the loader validates them
        against :meth:`spec` first): a missing or null value takes the field's default and
        lists become tuples. TypeError for an unknown name or a missing required parameter."""
        kinds = {p.name: p.kind for p in cls.spec()}
        unknown = sorted(set(raw) - set(kinds))
        if unknown:
            raise TypeError(f"{cls.__name__} has no parameter {unknown[0]!r}")
        values: dict[str, Any] = {}
        for name, value in raw.items():
            if value is None:
                continue
            values[name] = _frozen(value) if kinds[name] in _LISTS else value
        return cls(**values)

    def as_mapping(self) -> dict[str, Any]:
        """Every parameter by name, defaults included, as YAML and JSON write them (lists)."""
        return {f.name: plain_value(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]


class OneColumn(CheckParams):
    """The parameters of a check of one column and nothing else."""

    column: Column


_SPECS: dict[type, tuple[Param, ...]] = {}


def _spec(cls: type[CheckParams]) -> tuple[Param, ...]:
    if cls in _SPECS:
        return _SPECS[cls]
    hints = typing.get_type_hints(cls, include_extras=True)
    out = []
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if required:
            default = None
        else:
            default = f.default if f.default_factory is dataclasses.MISSING else f.default_factory()
        kind, choices = _kind_of(cls, f.name, hints[f.name], default)
        if choices and default is not None and default not in choices:
            raise TypeError(f"{cls.__name__}.{f.name}: default {default!r} is not one of {list(choices)}")
        out.append(Param(f.name, kind, required, plain_value(default), f.metadata.get("help", ""), choices))
    _SPECS[cls] = tuple(out)
    return _SPECS[cls]


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
    period: Period | None = None
    now: datetime = field(default_factory=datetime.now)
    tables: Mapping[str, pl.LazyFrame] = field(default_factory=dict)
    rule_id: str = ""

    def require_period(self) -> Period:
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

    def distinct_text(self, table: str, column: str) -> pl.Series:
        """The distinct values of another table's column, as text (read once per table of an
        extract, however many rules look them up)."""
        return distinct_text(self.other(table), column)


# Distinct values of a column by frame: the frames of one extract are shared by the rules of all
# its tables, so each referenced key column is read once. An entry lives as long as its frame.
_DISTINCT: dict[int, tuple[weakref.ref, dict[str, pl.Series]]] = {}


def distinct_text(frame: pl.LazyFrame, column: str) -> pl.Series:
    """The distinct values of ``frame[column]`` cast to text (null included if present)."""
    fid = id(frame)
    entry = _DISTINCT.get(fid)
    if entry is None or entry[0]() is not frame:

        def forget(ref: weakref.ref, fid: int = fid) -> None:
            if _DISTINCT.get(fid, (None,))[0] is ref:
                del _DISTINCT[fid]

        entry = (weakref.ref(frame, forget), {})
        _DISTINCT[fid] = entry
    values = entry[1].get(column)
    if values is None:
        # in memory: Polars' default (streaming) engine costs 2x on a key column this size
        values = frame.select(pl.col(column).cast(pl.String)).unique().collect(engine="in-memory").to_series()
        entry[1][column] = values
    return values


@dataclass(frozen=True, kw_only=True)
class _Plan:
    """What both shapes of a compiled check may carry besides their counts."""

    details: Mapping[str, pl.Expr] = field(default_factory=dict)
    describe: Callable[[Mapping[str, Any]], str] | None = None
    joins: tuple[Join, ...] = ()
    sample_columns: tuple[str, ...] = ()
    sample_order: tuple[str, ...] = ()  # order of the samples (uniqueness: the key)
    # True when the expressions hold values read from other tables of the extract (foreign
    # keys): such a plan is never reused for another extract of the same schema.
    reads_extract: bool = False
    # Intermediate columns the check's expressions read (``pl.col(name)``), computed once per
    # table before any rule's mask. A name must stand for one value of the table (e.g.
    # ``__dq_id18__id_no``): rules that need the same one share it, and a check's ``applies``
    # and ``violates`` (two stages of the engine's query) read it without computing it twice.
    columns: Mapping[str, pl.Expr] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class RowLevel(_Plan):
    """A check judged row by row: ``applies`` selects the rows it looks at, and each of them
    fails where ``violates`` is True.

    Set-wise checks whose failures are rows (uniqueness: every row of a repeated key) give
    ``violates_among`` instead: the failing rows among the evaluated rows ``mask``
    (``when & applies``), as one row-level expression such as a window count over the mask.
    The engine then evaluates them like any row-level rule, counts and samples in one pass.
    Exactly one of ``violates`` and ``violates_among`` is given.
    """

    applies: pl.Expr = field(default_factory=lambda: pl.lit(True))
    violates: pl.Expr | None = None
    violates_among: Callable[[pl.Expr], pl.Expr] | None = None

    def __post_init__(self) -> None:
        if (self.violates is None) == (self.violates_among is None):
            raise TypeError("RowLevel takes exactly one of violates and violates_among")

    def violations(self, mask: pl.Expr) -> pl.Expr:
        """True where a row breaks the rule, given the evaluated rows ``mask``."""
        if self.violates_among is not None:
            return self.violates_among(mask)
        assert self.violates is not None
        return self.violates


@dataclass(frozen=True, kw_only=True)
class Aggregate(_Plan):
    """A check judged over a set of rows (group counts, proportions) or the table as a whole
    (row count, upload days, columns present, row totals).

    ``aggregate(mask)`` returns ``(evaluated, failed)`` scalar expressions over the rows in
    ``mask`` (the rule's ``when``); ``sample(frame, mask)``, if given, returns the failing rows.
    """

    aggregate: Callable[[pl.Expr], tuple[pl.Expr, pl.Expr]]
    sample: Callable[[pl.LazyFrame, pl.Expr], pl.LazyFrame] | None = None


Compiled = RowLevel | Aggregate
"""What a check's ``compile`` returns: one of the two shapes."""

#: What a check can ask the engine for (:attr:`CheckDef.needs`):
#: ``frame`` the rule's table; ``tables`` the other tables of the extract (foreign keys, lookups);
#: ``history`` the unit's figures of earlier periods in the score store.
NEEDS = ("frame", "tables", "history")


@dataclass(frozen=True)
class UnitHistory:
    """What a check that needs the unit's history is judged on (``CheckDef.judge``).

    ``current`` holds the unit's metrics of ``period`` (:func:`dq.engine.metrics.unit_metrics`:
    ``table.<t>.rows``, ``summary.<figure>``, ``rule.<id>.fail_fraction``); ``earlier`` the same
    unit's stored metrics of earlier periods (columns period, metric, value); ``summary`` its
    submission summary (decides a rule's ``when``); ``evaluated`` the rows behind each fail
    fraction metric.
    """

    period: str
    unit_id: str
    current: Mapping[str, float]
    earlier: pl.DataFrame
    summary: Mapping[str, Any] | None = None
    evaluated: Mapping[str, int] = field(default_factory=dict)


P = TypeVar("P", bound=CheckParams)


@dataclass(frozen=True)
class CheckDef(Generic[P]):
    """One check: its parameters, how a rule of it compiles, and what it needs from the engine.

    ``params_type`` is the check's :class:`CheckParams` class: the loader builds a rule's
    parameters as one of it, and ``compile``, ``columns`` and the GX mapping receive it.

    A check that needs only ``frame`` (and ``tables``) compiles into the table's one-pass query.
    A check that needs ``history`` cannot be judged from the extract alone: ``compile`` validates
    the parameters and raises :class:`~dq.errors.NotApplicable` (so ``dq audit`` reports the
    rule as not applicable, saying why), and ``judge`` evaluates the check's rules of one unit
    once its other results are known, on the :class:`UnitHistory` the engine gathers from the
    score store (:func:`dq.engine.evaluate.judge_with_history`).
    """

    name: str
    dimension: Dimension
    summary: str
    params_type: type[P]
    compile: Callable[[P, Context], Compiled]
    columns: Callable[[P], list[str]]
    null_semantics: str = "null and blank values are not evaluated"
    gx: GXMapping[P] | None = None  # how the check is written in Great Expectations, if it can be
    needs: frozenset[str] = frozenset({"frame"})
    judge: Callable[[Sequence[Any], UnitHistory], list[RuleResult]] | None = None

    def __post_init__(self) -> None:
        unknown = self.needs - set(NEEDS)
        if unknown:
            raise TypeError(f"check {self.name}: unknown needs {sorted(unknown)} (known: {NEEDS})")
        if ("history" in self.needs) != (self.judge is not None):
            raise TypeError(f"check {self.name}: a check needs the history exactly when it has a judge")
        if not (isinstance(self.params_type, type) and issubclass(self.params_type, CheckParams)):
            raise TypeError(f"check {self.name}: params_type must be a CheckParams class")
        self.params_type.spec()  # a parameter type without a kind fails here, at import

    @property
    def needs_history(self) -> bool:
        return "history" in self.needs

    @property
    def params(self) -> tuple[Param, ...]:
        """The parameters in the suite language, derived from ``params_type``."""
        return self.params_type.spec()

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    @property
    def gx_equivalent(self) -> str | None:
        return " / ".join(self.gx.expectations) if self.gx else None


class NotExported(Exception):
    """A rule has no faithful Great Expectations equivalent; the message says why."""


@dataclass(frozen=True)
class GXContext:
    """What a check's GX mapping may know besides the rule's parameters."""

    catalogue: Catalogue
    spec: TableSpec | None = None

    def column_type(self, column: str) -> str | None:
        """The catalogue type of a column of the rule's table (str, int, decimal, date, datetime)."""
        col = self.spec.column(column) if self.spec else None
        return col.type if col else None

    def is_column(self, side: Any) -> bool:
        return isinstance(side, str) and self.column_type(side) is not None


@dataclass(frozen=True)
class GXMapping(Generic[P]):
    """A check written as a GX 1.x expectation.

    ``expectations`` are the expectation types the check may become (documentation, and what
    ``dq gx import`` reads back); ``export(params, ctx)`` returns ``(type, kwargs)`` for one rule
    (its typed parameters) or raises :class:`NotExported` when these parameters have no faithful
    equivalent.
    """

    expectations: tuple[str, ...]
    export: Callable[[P, GXContext], tuple[str, dict[str, Any]]]


def gx_value(v: Any) -> Any:
    """A JSON value for GX; dates become midnight datetimes, which GX parses into ``datetime``
    bounds that compare with pandas datetime columns (a bare ISO date would not)."""
    if isinstance(v, datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, date):
        return datetime(v.year, v.month, v.day).isoformat(sep=" ")
    if isinstance(v, list | tuple):
        return [gx_value(x) for x in v]
    return v


def gx_bound(v: Any, ctype: str | None) -> Any:
    """A bound for a column of catalogue type ``ctype``; ISO text on a date column is a date."""
    if isinstance(v, str) and ctype in ("date", "datetime"):
        try:
            v = datetime.fromisoformat(v)
        except ValueError:
            return v
    return gx_value(v)


def check_pure(text: str | float) -> str:
    """``text`` checked against the expression grammar (:mod:`dq.engine.checks._grammar`): the SQL
    rendered from its syntax tree. Raises :class:`CheckError` unless it is a column expression
    (columns, literals, operators, CASE and the allowed scalar functions); subqueries, tables,
    files, comments and unknown functions are refused. Opens no file, runs nothing."""
    return checked_sql(text)


def sql(text: str | float) -> pl.Expr:
    """Parse a boolean or scalar expression with Polars' SQL expression parser (never eval):
    Polars is handed the SQL rendered from the checked syntax tree (:func:`check_pure`), never
    the text as written."""
    rendered = check_pure(text)
    try:
        return pl.sql_expr(rendered)
    except Exception as exc:
        raise CheckError(f"cannot parse expression {str(text)[:200]!r}: {describe_error(exc)}") from exc


def sql_columns(text: str | float) -> list[str]:
    return list(dict.fromkeys(sql(text).meta.root_names()))


def blank_or_null(col: str, dtype: pl.DataType | None) -> pl.Expr:
    """True where a value is missing: null, or (for strings) empty after trimming."""
    if dtype is None or dtype == pl.String:
        text = pl.col(col).cast(pl.String)
        return text.map_batches(_blank_text, return_dtype=pl.Boolean, is_elementwise=True)
    return pl.col(col).is_null()


def _blank_text(values: pl.Series) -> pl.Series:
    """Null, or whitespace only: the same characters as strip_chars() (Unicode White_Space;
    tested on every code point). Only a value that is empty or starts below "!" (ASCII
    whitespace and controls) or between U+0080 and U+3000 (where every other whitespace
    character lies) can be blank: comparisons find those few, and only they are tested in
    full. ~2.5x less CPU than a pattern on every value; a code or a Chinese name never is."""
    maybe = ((values < "!") | ((values >= "\x80") & (values < "\u3001"))).fill_null(False)
    out = values.is_null()
    if maybe.any():
        where = maybe.arg_true()
        out = out.scatter(where, values.gather(where).str.contains(r"^\s*$"))
    return out


#: Prefix of the columns in which the engine computes each text column's blank test once per
#: table (:func:`blank_columns`), for every rule that tests that column.
BLANK_PREFIX = "__dq_blank__"


def blank_columns(schema: Mapping[str, pl.DataType]) -> dict[str, pl.Expr]:
    """The shared blank tests of a table's text columns, by column name (see :func:`blank`)."""
    return {f"{BLANK_PREFIX}{c}": blank_or_null(c, t) for c, t in schema.items() if t == pl.String}


def blank(col: str, ctx: Context) -> pl.Expr:
    """:func:`blank_or_null` of ``col``, read from the table's shared blank column when the
    engine computed one (the same test once per column, not once per rule)."""
    shared = f"{BLANK_PREFIX}{col}"
    if shared in ctx.schema:
        return pl.col(shared)
    return blank_or_null(col, ctx.schema.get(col))


def present(col: str, ctx: Context) -> pl.Expr:
    return ~blank(col, ctx)


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
