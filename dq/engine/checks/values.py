"""Value checks judged row by row: sets a value must not be in, formats, orders, pairs and
records of several columns (the column-map, pair-map and multicolumn expectations of Great
Expectations, written as dq checks).

Every parameter that is a value (a set, a pattern, a format, a total) is a typed literal: it is
never parsed as a column name or as SQL. Null values (and blank strings, as everywhere in dq)
are not evaluated unless the check says otherwise.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any, Literal, get_args

import polars as pl

from dq.engine.checks._uniqueness import repeated_keys
from dq.engine.checks.base import (
    CheckDef,
    CheckParams,
    Column,
    Columns,
    Compiled,
    Context,
    GXContext,
    GXMapping,
    NotExported,
    OneColumn,
    RowLevel,
    Strs,
    Values,
    blank,
    gx_value,
    literal_for,
    param,
    plain_value,
    present,
    texts,
)
from dq.errors import CheckError

__all__ = [
    "CHECKS",
    "IGNORE_PAIR",
    "IGNORE_RECORD",
    "ColumnPair",
    "ColumnPairInSet",
    "Dtype",
    "Monotonic",
    "MultiColumnSum",
    "NotInSet",
    "Parseable",
    "Patterns",
    "Records",
    "Strftime",
    "ZScore",
    "like_to_regex",
    "typed_values",
]

IgnorePair = Literal["both_values_are_missing", "either_value_is_missing", "neither"]
IgnoreRecord = Literal["all_values_are_missing", "any_value_is_missing", "never"]
#: GX's ``ignore_row_if`` of pair checks and of checks on several columns (GX's defaults first).
IGNORE_PAIR: tuple[IgnorePair, ...] = get_args(IgnorePair)
IGNORE_RECORD: tuple[IgnoreRecord, ...] = get_args(IgnoreRecord)
_IGNORE_PAIR = "rows left out: both values missing (default), either, or neither"
_IGNORE_RECORD = "rows left out: all values missing (default), any, or never"
_NEGATE = "true: values must match none"


class NotInSet(CheckParams):
    column: Column
    values: Values


class Monotonic(CheckParams):
    column: Column
    direction: Literal["increasing", "decreasing"] = "increasing"
    strictly: bool = False


class Strftime(CheckParams):
    column: Column
    format: str


class Parseable(CheckParams):
    column: Column
    kind: Literal["date", "json"]


class Patterns(CheckParams):
    """regex_list and like: several patterns."""

    column: Column
    patterns: Strs
    match_on: Literal["any", "all"] = "any"
    negate: bool = param(default=False, help=_NEGATE)


class Dtype(CheckParams):
    column: Column
    types: Strs


class ColumnPair(CheckParams):
    column_a: Column
    column_b: Column
    op: Literal[">", ">=", "=="]
    ignore_row_if: IgnorePair = param(default="both_values_are_missing", help=_IGNORE_PAIR)


class ColumnPairInSet(CheckParams):
    column_a: Column
    column_b: Column
    pairs: Values
    ignore_row_if: IgnorePair = param(default="both_values_are_missing", help=_IGNORE_PAIR)


class MultiColumnSum(CheckParams):
    columns: Columns
    total: float
    ignore_row_if: IgnoreRecord = param(default="all_values_are_missing", help=_IGNORE_RECORD)


class Records(CheckParams):
    """distinct_within_record and compound_unique: several columns of a record."""

    columns: Columns
    ignore_row_if: IgnoreRecord = param(default="all_values_are_missing", help=_IGNORE_RECORD)


class ZScore(CheckParams):
    column: Column
    threshold: float
    double_sided: bool = True


def _str(col: str) -> pl.Expr:
    return pl.col(col).cast(pl.String)


def typed_values(values: Sequence[Any], col: str, dtype: pl.DataType | None) -> list[Any]:
    """The literals of ``values`` that can equal a value of a column of ``dtype``; null entries
    are left out (nulls are not evaluated). Text columns compare text (a number in the list is
    its text, as ``in_set`` does); number columns compare numbers (as floats); temporal columns
    dates or datetimes (ISO text is parsed); boolean columns booleans. A value of another type
    cannot equal any value of the column and is left out. Never a column name or SQL."""
    out: list[Any] = []
    for v in values:
        if v is None:
            continue
        if dtype is None or dtype == pl.String or dtype == pl.Categorical:
            if isinstance(v, bool):
                continue
            out.append(v if isinstance(v, str) else str(v))
        elif dtype == pl.Boolean:
            if isinstance(v, bool):
                out.append(v)
        elif dtype.is_numeric():
            if isinstance(v, int | float) and not isinstance(v, bool):
                out.append(float(v))
        elif dtype.is_temporal():
            if isinstance(v, str | date):
                try:
                    out.append(pl.select(literal_for(v, dtype)).item())
                except CheckError:
                    continue
        else:
            out.append(v)
    return out


def _comparable(col: str, dtype: pl.DataType | None) -> pl.Expr:
    """The column as typed_values compares it (numbers as Float64, text as text)."""
    if dtype is None or dtype == pl.Categorical:
        return _str(col)
    if dtype.is_numeric():
        return pl.col(col).cast(pl.Float64)
    return pl.col(col)


def _is_in(col: str, values: Sequence[Any], ctx: Context) -> pl.Expr:
    dtype = ctx.schema.get(col)
    typed = typed_values(values, col, dtype)
    if not typed:
        return pl.repeat(False, pl.len())
    target = dtype if dtype is not None and dtype.is_temporal() else None
    series = pl.Series(typed, dtype=target) if target is not None else pl.Series(typed)
    return _comparable(col, dtype).is_in(series.implode())


def _not_in_set(p: NotInSet, ctx: Context) -> Compiled:
    col = p.column
    return RowLevel(applies=present(col, ctx), violates=_is_in(col, p.values, ctx).fill_null(False))


def _not_in_set_gx(p: NotInSet, ctx: GXContext) -> tuple[str, dict[str, Any]]:
    if ctx.column_type(p.column) in ("date", "datetime"):
        raise NotExported("not_in_set on a date column (GX sets do not match dates)")
    values = list(p.values)
    if ctx.column_type(p.column) in (None, "str"):
        values = [v if v is None or isinstance(v, str) else str(v) for v in values]
    return "expect_column_values_to_not_be_in_set", {"column": p.column, "value_set": gx_value(values)}


def _is_null(p: OneColumn, ctx: Context) -> Compiled:
    col = p.column
    return RowLevel(applies=pl.lit(True), violates=~blank(col, ctx))


def _is_null_gx(p: OneColumn, ctx: GXContext) -> tuple[str, dict[str, Any]]:
    return "expect_column_values_to_be_null", {"column": p.column}


def _monotonic(p: Monotonic, ctx: Context) -> Compiled:
    col, increasing, strictly = p.column, p.direction == "increasing", bool(p.strictly)
    dtype = ctx.schema.get(col)
    if dtype is not None and not (dtype.is_numeric() or dtype.is_temporal()):
        raise CheckError(f"column '{col}' is {dtype}; monotonic needs numbers, dates or datetimes")

    def violates_among(mask: pl.Expr) -> pl.Expr:
        # Each evaluated value against the previous evaluated value (the first one passes).
        value = pl.when(mask).then(pl.col(col))
        prev = value.shift(1).forward_fill()
        if increasing:
            ok = (value > prev) if strictly else (value >= prev)
        else:
            ok = (value < prev) if strictly else (value <= prev)
        return ~ok.fill_null(True)

    return RowLevel(applies=present(col, ctx), violates_among=violates_among)


def _monotonic_gx(p: Monotonic, ctx: GXContext) -> tuple[str, dict[str, Any]]:
    kind = f"expect_column_values_to_be_{p.direction}"
    return kind, {"column": p.column, "strictly": bool(p.strictly)}


def _text_only(col: str, ctx: Context, check: str) -> None:
    dtype = ctx.schema.get(col)
    if dtype is not None and dtype != pl.String:
        raise CheckError(f"column '{col}' is {dtype}; {check} reads text values")


def _python_test(col: str, test: Callable[[str], bool]) -> pl.Expr:
    """True where Python's ``test`` refuses the text (run value by value: exact, not fast)."""

    def run(s: pl.Series) -> pl.Series:
        return pl.Series([None if v is None else not test(v) for v in s.to_list()], dtype=pl.Boolean)

    return _str(col).map_batches(run, return_dtype=pl.Boolean, is_elementwise=True)


def _strftime(p: Strftime, ctx: Context) -> Compiled:
    col, fmt = p.column, p.format
    _text_only(col, ctx, "strftime")
    try:
        datetime.strptime(datetime.now().strftime(fmt), fmt)
    except ValueError as exc:
        raise CheckError(f"format {fmt!r} cannot read what it writes: {exc}") from exc

    def parses(v: str) -> bool:
        try:
            datetime.strptime(v, fmt)
        except ValueError:
            return False
        return True

    return RowLevel(applies=present(col, ctx), violates=_python_test(col, parses))


def _strftime_gx(p: Strftime, ctx: GXContext) -> tuple[str, dict[str, Any]]:
    return "expect_column_values_to_match_strftime_format", {"column": p.column, "strftime_format": p.format}


def _parseable(p: Parseable, ctx: Context) -> Compiled:
    col, kind = p.column, p.kind
    dtype = ctx.schema.get(col)
    if kind == "json" and dtype is not None and dtype != pl.String:
        # a number or a date is not a JSON text (GX: json.loads refuses it)
        return RowLevel(applies=present(col, ctx), violates=pl.lit(True))
    _text_only(col, ctx, "parseable")
    if kind == "json":

        def parses(v: str) -> bool:
            try:
                json.loads(v)
            except ValueError:
                return False
            return True

    else:
        try:
            from dateutil import parser  # type: ignore[import-untyped]
        except ImportError as exc:  # pragma: no cover - installed with the gx extra
            raise CheckError("parseable kind 'date' needs python-dateutil: pip install 'dq[gx]'") from exc

        def parses(v: str) -> bool:
            try:
                parser.parse(v)
            except (ValueError, OverflowError):
                return False
            return True

    return RowLevel(applies=present(col, ctx), violates=_python_test(col, parses))


def _parseable_gx(p: Parseable, ctx: GXContext) -> tuple[str, dict[str, Any]]:
    kind = "dateutil" if p.kind == "date" else "json"
    return f"expect_column_values_to_be_{kind}_parseable", {"column": p.column}


def _matches(col: str, regexes: Sequence[str], match_on: str) -> pl.Expr:
    for r in regexes:
        try:
            pl.select(pl.lit("").str.contains(r))
        except Exception as exc:
            raise CheckError(f"invalid regex {r!r}: {exc}") from exc
    hits = [_str(col).str.contains(r) for r in regexes]
    return pl.all_horizontal(hits) if match_on == "all" else pl.any_horizontal(hits)


def _regex_list(p: Patterns, ctx: Context) -> Compiled:
    col = p.column
    hit = _matches(col, texts(p.patterns), p.match_on)
    return RowLevel(applies=present(col, ctx), violates=hit if p.negate else ~hit)


def _regex_list_gx(p: Patterns, ctx: GXContext) -> tuple[str, dict[str, Any]]:
    pats = list(texts(p.patterns))
    if p.negate:
        if len(pats) == 1:
            return "expect_column_values_to_not_match_regex", {"column": p.column, "regex": pats[0]}
        if p.match_on == "all":
            raise NotExported("regex_list negate with match_on all (GX fails on any match)")
        return "expect_column_values_to_not_match_regex_list", {"column": p.column, "regex_list": pats}
    return "expect_column_values_to_match_regex_list", {
        "column": p.column, "regex_list": pats, "match_on": p.match_on,
    }  # fmt: skip


def like_to_regex(pattern: str) -> str:
    """An SQL LIKE pattern as an anchored regex: ``%`` any text, ``_`` one character, every
    other character itself."""
    out = []
    for ch in pattern:
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
    return "(?s)^" + "".join(out) + "$"


def _like(p: Patterns, ctx: Context) -> Compiled:
    col = p.column
    hit = _matches(col, [like_to_regex(x) for x in texts(p.patterns)], p.match_on)
    return RowLevel(applies=present(col, ctx), violates=hit if p.negate else ~hit)


def _like_gx(p: Patterns, ctx: GXContext) -> tuple[str, dict[str, Any]]:
    pats, col = list(texts(p.patterns)), p.column
    if len(pats) == 1 and (p.negate or p.match_on == "any"):
        kind = "not_match" if p.negate else "match"
        return f"expect_column_values_to_{kind}_like_pattern", {"column": col, "like_pattern": pats[0]}
    if p.negate:
        if p.match_on == "all":
            raise NotExported("like negate with match_on all (GX fails on any match)")
        return "expect_column_values_to_not_match_like_pattern_list", {
            "column": col,
            "like_pattern_list": pats,
        }
    return "expect_column_values_to_match_like_pattern_list", {
        "column": col, "like_pattern_list": pats, "match_on": p.match_on,
    }  # fmt: skip


def _pair_applies(a: str, b: str, ignore: str, ctx: Context) -> pl.Expr:
    if ignore == "either_value_is_missing":
        return present(a, ctx) & present(b, ctx)
    if ignore == "both_values_are_missing":
        return present(a, ctx) | present(b, ctx)
    return pl.lit(True)


def _pair(p: ColumnPair, ctx: Context) -> Compiled:
    a, b, op = p.column_a, p.column_b, p.op
    left, right = pl.col(a), pl.col(b)
    ok = {">": left > right, ">=": left >= right, "==": left == right}[op]
    return RowLevel(
        applies=_pair_applies(a, b, p.ignore_row_if, ctx),
        violates=~ok.fill_null(False),
    )


def _pair_gx(p: ColumnPair, ctx: GXContext) -> tuple[str, dict[str, Any]]:
    kw: dict[str, Any] = {"column_A": p.column_a, "column_B": p.column_b, "ignore_row_if": p.ignore_row_if}
    if p.op == "==":
        return "expect_column_pair_values_to_be_equal", kw
    return "expect_column_pair_values_a_to_be_greater_than_b", {**kw, "or_equal": p.op == ">="}


def _pairs(p: ColumnPairInSet) -> list[tuple[Any, Any]]:
    out = []
    for pair in p.pairs:
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise CheckError(f"pairs: {plain_value(pair)!r} is not a pair of two values")
        out.append((pair[0], pair[1]))
    return out


def _pair_in_set(p: ColumnPairInSet, ctx: Context) -> Compiled:
    a, b = p.column_a, p.column_b
    pairs = _pairs(p)
    ta, tb = ctx.schema.get(a), ctx.schema.get(b)
    found = pl.lit(False)
    for x, y in pairs:
        # each side a typed literal (or a missing value); a value of another type never matches
        sides = []
        for col, dtype, v in ((a, ta, x), (b, tb, y)):
            if v is None:
                sides.append(blank(col, ctx))
                continue
            typed = typed_values([v], col, dtype)
            sides.append(
                (_comparable(col, dtype) == pl.lit(typed[0])).fill_null(False) if typed else pl.lit(False)
            )
        found = found | (sides[0] & sides[1])
    return RowLevel(applies=_pair_applies(a, b, p.ignore_row_if, ctx), violates=~found)


def _pair_in_set_gx(p: ColumnPairInSet, ctx: GXContext) -> tuple[str, dict[str, Any]]:
    return "expect_column_pair_values_to_be_in_set", {
        "column_A": p.column_a, "column_B": p.column_b,
        "value_pairs_set": [gx_value(list(x)) for x in _pairs(p)], "ignore_row_if": p.ignore_row_if,
    }  # fmt: skip


def _record_applies(cols: Sequence[str], ignore: str, ctx: Context) -> pl.Expr:
    if ignore == "any_value_is_missing":
        return pl.all_horizontal([present(c, ctx) for c in cols])
    if ignore == "all_values_are_missing":
        return pl.any_horizontal([present(c, ctx) for c in cols])
    return pl.lit(True)


def _multicolumn_sum(p: MultiColumnSum, ctx: Context) -> Compiled:
    cols = list(p.columns)
    for c in cols:
        dtype = ctx.schema.get(c)
        if dtype is not None and not dtype.is_numeric():
            raise CheckError(f"column '{c}' is {dtype}; multicolumn_sum adds numbers")
    # A missing value makes the sum missing, which never equals the total (as in GX).
    total = pl.sum_horizontal([pl.col(c) for c in cols], ignore_nulls=False)
    return RowLevel(
        applies=_record_applies(cols, p.ignore_row_if, ctx),
        violates=~(total == pl.lit(p.total)).fill_null(False),
    )


def _multicolumn_sum_gx(p: MultiColumnSum, ctx: GXContext) -> tuple[str, dict[str, Any]]:
    return "expect_multicolumn_sum_to_equal", {
        "column_list": list(p.columns), "sum_total": p.total, "ignore_row_if": p.ignore_row_if,
    }  # fmt: skip


def _distinct_within_record(p: Records, ctx: Context) -> Compiled:
    cols = list(p.columns)
    dtypes = {ctx.schema.get(c) for c in cols}
    values = [pl.col(c) for c in cols]
    if len(dtypes) > 1:
        values = [_str(c) for c in cols]  # values of different types compare as their text
    # Two values of a record that are equal (two missing values too) fail the record.
    clash = pl.lit(False)
    for i in range(len(cols)):
        for j in range(i + 1, len(cols)):
            same = (values[i] == values[j]).fill_null(False) | (
                pl.col(cols[i]).is_null() & pl.col(cols[j]).is_null()
            )
            clash = clash | same
    return RowLevel(applies=_record_applies(cols, p.ignore_row_if, ctx), violates=clash)


def _distinct_within_record_gx(p: Records, ctx: GXContext) -> tuple[str, dict[str, Any]]:
    return "expect_select_column_values_to_be_unique_within_record", {
        "column_list": list(p.columns), "ignore_row_if": p.ignore_row_if,
    }  # fmt: skip


def _compound_unique(p: Records, ctx: Context) -> Compiled:
    cols = list(p.columns)

    def violates_among(mask: pl.Expr) -> pl.Expr:
        # Missing values are values of the key here: two rows (x, null) repeat each other.
        fields = [mask.alias("__dq_mask"), *(pl.col(c).alias(f"__dq_key{i}") for i, c in enumerate(cols))]
        return pl.struct(fields).map_batches(repeated_keys, return_dtype=pl.Boolean, is_elementwise=False)

    return RowLevel(
        applies=_record_applies(cols, p.ignore_row_if, ctx),
        violates_among=violates_among,
        sample_order=tuple(cols),
    )


def _compound_unique_gx(p: Records, ctx: GXContext) -> tuple[str, dict[str, Any]]:
    return "expect_compound_columns_to_be_unique", {
        "column_list": list(p.columns), "ignore_row_if": p.ignore_row_if,
    }  # fmt: skip


def _z_score(p: ZScore, ctx: Context) -> Compiled:
    col, limit = p.column, float(p.threshold)
    dtype = ctx.schema.get(col)
    if dtype is not None and not dtype.is_numeric():
        raise CheckError(f"column '{col}' is {dtype}; z_score needs numbers")

    def violates_among(mask: pl.Expr) -> pl.Expr:
        x = pl.col(col).cast(pl.Float64)
        among = x.filter(mask)
        z = (x - among.mean()) / among.std()
        return ~((z.abs() < limit) if p.double_sided else (z < limit)).fill_null(False)

    return RowLevel(applies=present(col, ctx), violates_among=violates_among)


def _z_score_gx(p: ZScore, ctx: GXContext) -> tuple[str, dict[str, Any]]:
    return "expect_column_value_z_scores_to_be_less_than", {
        "column": p.column, "threshold": p.threshold, "double_sided": bool(p.double_sided),
    }  # fmt: skip


# Type names as GX and its users write them (numpy, pandas, Python, SQL), by Polars type family.
_TYPE_FAMILIES: dict[str, Callable[[pl.DataType], bool]] = {
    "int": lambda t: t.is_integer(),
    "float": lambda t: t.is_float() or t.is_decimal(),
    "str": lambda t: t == pl.String or t == pl.Categorical or t == pl.Enum,
    "bool": lambda t: t == pl.Boolean,
    "datetime": lambda t: isinstance(t, pl.Datetime) and t.time_zone is None,
    "timestamp": lambda t: isinstance(t, pl.Datetime),
    "datetime_tz": lambda t: isinstance(t, pl.Datetime) and t.time_zone is not None,
    "date": lambda t: t == pl.Date,
    "timedelta": lambda t: isinstance(t, pl.Duration),
}
TYPE_NAMES: dict[str, str] = {
    **dict.fromkeys(
        [
            "int",
            "integer",
            "long",
            "bigint",
            "smallint",
            "tinyint",
            "Int",
            "INTEGER",
            "BIGINT",
            "IntegerType",
            "LongType",
            "int_",
            "intc",
            "intp",
            "Int8",
            "Int16",
            "Int32",
            "Int64",
            "UInt8",
            "UInt16",
            "UInt32",
            "UInt64",
        ],
        "int",
    ),
    **dict.fromkeys(
        [
            "float",
            "double",
            "real",
            "decimal",
            "numeric",
            "float_",
            "FLOAT",
            "DOUBLE",
            "DOUBLE_PRECISION",
            "NUMERIC",
            "DECIMAL",
            "FloatType",
            "DoubleType",
            "Float32",
            "Float64",
        ],
        "float",
    ),
    **dict.fromkeys(
        [
            "str",
            "string",
            "unicode",
            "str_",
            "text",
            "varchar",
            "TEXT",
            "VARCHAR",
            "STRING",
            "StringType",
            "StringDtype",
            "String",
            "object",
            "object_",
            "O",
        ],
        "str",
    ),
    **dict.fromkeys(["bool", "boolean", "bool_", "BOOLEAN", "BooleanType", "BooleanDtype"], "bool"),
    **dict.fromkeys(
        ["datetime", "datetime64", "datetime64[ns]", "datetime64[us]", "datetime64[ms]", "DATETIME"],
        "datetime",
    ),
    **dict.fromkeys(["Timestamp", "TIMESTAMP", "TimestampType"], "timestamp"),
    **dict.fromkeys(["DatetimeTZDtype", "datetime64[ns, UTC]", "datetime64[us, UTC]"], "datetime_tz"),
    **dict.fromkeys(["date", "DATE", "DateType"], "date"),
    **dict.fromkeys(["timedelta", "timedelta64", "timedelta64[ns]", "Timedelta"], "timedelta"),
}
_SIZED = re.compile(r"(u?int|float)(8|16|32|64)")


def _type_matches(name: str, dtype: pl.DataType) -> bool:
    sized = _SIZED.fullmatch(name.lower())
    if sized:
        want = {"int": "Int", "uint": "UInt", "float": "Float"}[sized.group(1)] + sized.group(2)
        return str(dtype) == want or dtype == getattr(pl, want, None)
    family = TYPE_NAMES.get(name) or TYPE_NAMES.get(name.lower())
    if family is None:
        raise CheckError(
            f"type {name!r} is not a type dq knows ({', '.join(sorted(set(TYPE_NAMES.values())))},"
            " or a sized int8..uint64, float32/float64)"
        )
    return _TYPE_FAMILIES[family](dtype)


def _dtype(p: Dtype, ctx: Context) -> Compiled:
    col = p.column
    names = list(texts(p.types))
    dtype = ctx.schema[col]
    ok = any(_type_matches(n, dtype) for n in names)
    # A Polars column has one type: every value has it or none has (as GX counts the values
    # of a pandas object column).
    return RowLevel(applies=present(col, ctx), violates=pl.lit(not ok))


def _dtype_gx(p: Dtype, ctx: GXContext) -> tuple[str, dict[str, Any]]:
    names = list(texts(p.types))
    if len(names) == 1:
        return "expect_column_values_to_be_of_type", {"column": p.column, "type_": names[0]}
    return "expect_column_values_to_be_in_type_list", {"column": p.column, "type_list": names}


CHECKS = (
    CheckDef(
        "not_in_set",
        "conformance",
        "Values are not in a list of values (each a literal: text, number, date or boolean).",
        NotInSet,
        _not_in_set,
        lambda p: [p.column],
        null_semantics="null and blank values are not evaluated (a null in the list is ignored)",
        gx=GXMapping(("expect_column_values_to_not_be_in_set",), _not_in_set_gx),
    ),
    CheckDef(
        "is_null",
        "plausibility",
        "The column is empty: every value is null or blank (e.g. a field that must not be filled).",
        OneColumn,
        _is_null,
        lambda p: [p.column],
        null_semantics="every row is evaluated; null and blank values pass",
        gx=GXMapping(("expect_column_values_to_be_null",), _is_null_gx),
    ),
    CheckDef(
        "monotonic",
        "plausibility",
        "Values increase (or decrease) from row to row, strictly or not; each value is compared"
        " with the previous evaluated one.",
        Monotonic,
        _monotonic,
        lambda p: [p.column],
        null_semantics="null values are not evaluated and do not break the order",
        gx=GXMapping(
            ("expect_column_values_to_be_increasing", "expect_column_values_to_be_decreasing"), _monotonic_gx
        ),
    ),
    CheckDef(
        "strftime",
        "conformance",
        "Text values parse with a strftime format (Python's datetime.strptime, e.g. %Y-%m-%d).",
        Strftime,
        _strftime,
        lambda p: [p.column],
        gx=GXMapping(("expect_column_values_to_match_strftime_format",), _strftime_gx),
    ),
    CheckDef(
        "parseable",
        "conformance",
        "Text values parse as JSON (kind json) or as a date in any form dateutil reads (kind date).",
        Parseable,
        _parseable,
        lambda p: [p.column],
        gx=GXMapping(
            ("expect_column_values_to_be_dateutil_parseable", "expect_column_values_to_be_json_parseable"),
            _parseable_gx,
        ),
    ),
    CheckDef(
        "regex_list",
        "conformance",
        "Values match any (or all) of several regular expressions (searched); with negate, none.",
        Patterns,
        _regex_list,
        lambda p: [p.column],
        gx=GXMapping(
            (
                "expect_column_values_to_match_regex_list",
                "expect_column_values_to_not_match_regex",
                "expect_column_values_to_not_match_regex_list",
            ),
            _regex_list_gx,
        ),
    ),
    CheckDef(
        "like",
        "conformance",
        "Values match any (or all) of several SQL LIKE patterns (% any text, _ one character,"
        " the whole value); with negate, none.",
        Patterns,
        _like,
        lambda p: [p.column],
        gx=GXMapping(
            (
                "expect_column_values_to_match_like_pattern",
                "expect_column_values_to_match_like_pattern_list",
                "expect_column_values_to_not_match_like_pattern",
                "expect_column_values_to_not_match_like_pattern_list",
            ),
            _like_gx,
        ),
    ),
    CheckDef(
        "dtype",
        "conformance",
        "The column's type is one of the listed types (int, float, str, bool, date, datetime, ...;"
        " numpy, pandas and SQL names are understood).",
        Dtype,
        _dtype,
        lambda p: [p.column],
        null_semantics="null and blank values are not evaluated; every other value fails when the"
        " column's type is not one of the types",
        gx=GXMapping(
            ("expect_column_values_to_be_of_type", "expect_column_values_to_be_in_type_list"), _dtype_gx
        ),
    ),
    CheckDef(
        "pair",
        "consistency",
        "column_a > / >= / == column_b in every row (a missing value never compares).",
        ColumnPair,
        _pair,
        lambda p: [p.column_a, p.column_b],
        null_semantics="ignore_row_if decides which rows with missing values are left out; a row kept"
        " with a missing value fails",
        gx=GXMapping(
            ("expect_column_pair_values_a_to_be_greater_than_b", "expect_column_pair_values_to_be_equal"),
            _pair_gx,
        ),
    ),
    CheckDef(
        "pair_in_set",
        "consistency",
        "The pair (column_a, column_b) of every row is one of the listed pairs of literals.",
        ColumnPairInSet,
        _pair_in_set,
        lambda p: [p.column_a, p.column_b],
        null_semantics="ignore_row_if decides which rows with missing values are left out; a pair may"
        " list null for a missing value",
        gx=GXMapping(("expect_column_pair_values_to_be_in_set",), _pair_in_set_gx),
    ),
    CheckDef(
        "multicolumn_sum",
        "consistency",
        "The values of the listed columns add up to a total in every row.",
        MultiColumnSum,
        _multicolumn_sum,
        lambda p: list(p.columns),
        null_semantics="ignore_row_if decides which rows with missing values are left out; a row kept"
        " with a missing value fails",
        gx=GXMapping(("expect_multicolumn_sum_to_equal",), _multicolumn_sum_gx),
    ),
    CheckDef(
        "distinct_within_record",
        "consistency",
        "The listed columns hold different values within each row (two missing values are equal).",
        Records,
        _distinct_within_record,
        lambda p: list(p.columns),
        null_semantics="ignore_row_if decides which rows with missing values are left out",
        gx=GXMapping(("expect_select_column_values_to_be_unique_within_record",), _distinct_within_record_gx),
    ),
    CheckDef(
        "compound_unique",
        "uniqueness",
        "A key of several columns occurs once, a missing value being a value of the key; every"
        " row of a repeated key fails (unique leaves out keys with a missing value).",
        Records,
        _compound_unique,
        lambda p: list(p.columns),
        null_semantics="ignore_row_if decides which rows with missing values are left out",
        gx=GXMapping(("expect_compound_columns_to_be_unique",), _compound_unique_gx),
    ),
    CheckDef(
        "z_score",
        "plausibility",
        "Each value's z-score (distance from the mean in sample standard deviations, over the"
        " evaluated rows) is below a threshold (in absolute value when double_sided).",
        ZScore,
        _z_score,
        lambda p: [p.column],
        null_semantics="null values are not evaluated",
        gx=GXMapping(("expect_column_value_z_scores_to_be_less_than",), _z_score_gx),
    ),
)
