"""Great Expectations 1.x suites turned into dq suites: ``dq gx import``.

:func:`import_suite` reads the JSON of a GX 1.x ``ExpectationSuite`` (as ``suite.to_json_dict()``
or ``dq gx export`` writes it) and writes each expectation dq can express as a rule of a dq suite
for one table. Every other expectation is listed with the reason -- in
:attr:`ImportedSuite.not_imported`, in a comment at the top of the YAML, and by the CLI -- never
dropped silently. Each produced rule is validated by the suite loader, so the YAML loads with
``dq suites validate``.

:data:`IMPORTERS` maps each of the 52 imported types to the arguments dq honours and a converter;
:data:`NOT_IMPORTED` says why the others are not (docs/gx.md has the table of every type). The
rules are checks of the one registry (``dq/engine/checks/values.py`` and ``dq/engine/checks/statistics.py``
hold the ones written for GX's types). Every value of a suite becomes a typed parameter, never
a column name or SQL; ``row_condition`` (GX's pandas and great_expectations languages and its
condition objects) becomes ``when`` through :func:`condition_to_when`, which writes only quoted
names, SQL literals and comparisons. GX ``mostly`` becomes ``threshold.max_fraction = 1 -
mostly``; dq metadata written by ``dq gx export`` (``meta.dq_rule``, titles, severity,
dimension, ``max_count``) is read back, so export then import gives the same rules.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import io
import json
import math
import re
import tokenize
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from dq.engine.checks.statistics import STATS
from dq.engine.checks.values import IGNORE_PAIR, IGNORE_RECORD
from dq.engine.results import SEVERITIES
from dq.errors import InputError, UsageError
from dq.io.catalogue import Catalogue, frame_table, load_catalogue
from dq.io.outputs import atomic_write_text

__all__ = ["IMPORTERS", "NOT_IMPORTED", "ImportedSuite", "condition_to_when", "import_suite"]

# GX severity -> dq severity when the expectation carries no dq_severity.
DQ_SEVERITY = {"critical": "error", "warning": "warning", "info": "warning"}
# Arguments that change how GX reports, not what it counts.
REPORTING = {"result_format", "catch_exceptions", "include_config", "meta", "notes", "description"}
KINDS = ("hospital", "district", "published", "any")


class NotImported(Exception):
    """This expectation has no faithful dq rule; the message says why."""


Converted = tuple[str, dict[str, Any]]
KW = Mapping[str, Any]


def _column(kw: KW, key: str = "column") -> str:
    col = kw[key]
    if not isinstance(col, str) or not col:
        raise NotImported(f"{key} {col!r} is not a column name")
    return col


def _columns(kw: KW, key: str = "column_list") -> list[str]:
    cols = kw[key]
    if not isinstance(cols, list | tuple) or not cols or not all(isinstance(c, str) and c for c in cols):
        raise NotImported(f"{key} {cols!r} is not a list of column names")
    return list(cols)


def _value_set(kw: KW, key: str = "value_set", *, allow_empty: bool = False) -> list[Any]:
    values = kw.get(key)
    if values is None:
        values = []
    if not isinstance(values, list | tuple | set):
        raise NotImported(f"{key} {values!r} is not a list of values")
    values = list(values)
    for v in values:
        if v is not None and not isinstance(v, str | int | float | bool):
            raise NotImported(f"{key}: {v!r} is not a literal (text, number, boolean or null)")
    if not values and not allow_empty:
        raise NotImported(f"empty {key}")
    return values


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _bounds(kw: KW, *, numbers: bool = False, need: bool = True, ordered: bool = False) -> dict[str, Any]:
    """min/max of a *_between expectation, refused where GX refuses them: ``ordered`` for the
    types where GX refuses a min_value greater than max_value (elsewhere GX fails every value,
    and so does the imported rule)."""
    lo, hi = kw.get("min_value"), kw.get("max_value")
    if isinstance(lo, Mapping) or isinstance(hi, Mapping):
        raise NotImported("a bound given as a suite parameter ($PARAMETER): give the value")
    if need and lo is None and hi is None:
        raise NotImported(
            "no min_value or max_value: the expectation checks nothing (GX passes it on any data)"
        )
    for name, v in (("min_value", lo), ("max_value", hi)):
        if v is None:
            continue
        if numbers and not _is_number(v):
            raise NotImported(f"{name} {v!r} is not a number")
        if not (_is_number(v) or isinstance(v, str)):
            raise NotImported(f"{name} {v!r} is not a number, date or text")
    if lo is not None and hi is not None:
        try:
            inverted = lo > hi
        except TypeError as exc:
            raise NotImported(f"min_value {lo!r} and max_value {hi!r} are not of one type") from exc
        if inverted and ordered:
            raise NotImported(
                f"min_value {lo!r} is greater than max_value {hi!r} (GX refuses it: no value lies between)"
            )
    out: dict[str, Any] = {"min": lo, "max": hi}
    return {k: v for k, v in out.items() if v is not None}


def _strict(kw: KW) -> dict[str, Any]:
    return {k: True for k in ("strict_min", "strict_max") if kw.get(k)}


def _not_null(kw: KW) -> Converted:
    # dq gx export checks typed columns on their uploaded text, <column>__raw.
    return "not_null", {"column": _column(kw).removesuffix("__raw")}


def _in_set(kw: KW) -> Converted:
    if kw.get("value_set") is None:
        raise NotImported("no value_set (GX raises)")
    values = [v for v in _value_set(kw, allow_empty=True) if v is not None]  # nulls are not evaluated
    if not values:
        if kw.get("mostly") is not None:
            raise NotImported("an empty value_set with mostly: every value fails, counted over values")
        # Every value fails: the column must be empty (null or blank), as is_null checks.
        return "is_null", {"column": _column(kw)}
    return "in_set", {"column": _column(kw), "values": values}


def _not_in_set(kw: KW) -> Converted:
    if kw.get("value_set") is None:
        raise NotImported("no value_set (GX raises)")
    values = _value_set(kw, allow_empty=True)
    # Nulls are never evaluated: a null in the set changes nothing, an empty set passes all.
    return "not_in_set", {"column": _column(kw), "values": values or [None]}


def _regex(kw: KW) -> Converted:
    return "regex", {"column": _column(kw), "pattern": _text(kw, "regex")}


def _text(kw: KW, key: str) -> str:
    v = kw[key]
    if not isinstance(v, str):
        raise NotImported(f"{key} {v!r} is not text")
    return v


def _texts(kw: KW, key: str) -> list[str]:
    v = kw[key]
    if not isinstance(v, list | tuple) or not v or not all(isinstance(x, str) for x in v):
        raise NotImported(f"{key} {v!r} is not a non-empty list of text")
    return list(v)


def _int_bound(v: Any, name: str) -> int:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if not isinstance(v, int) or isinstance(v, bool):
        raise NotImported(f"{name} {v!r} is not a whole number (a length)")
    return v


def _lengths(kw: KW) -> Converted:
    b = _bounds(kw, numbers=True)
    params: dict[str, Any] = {"column": _column(kw)}
    if "min" in b:
        params["min"] = _int_bound(b["min"], "min_value") + (1 if kw.get("strict_min") else 0)
    if "max" in b:
        params["max"] = _int_bound(b["max"], "max_value") - (1 if kw.get("strict_max") else 0)
    return "length", params


def _length_equal(kw: KW) -> Converted:
    n = _int_bound(kw["value"], "value")
    return "length", {"column": _column(kw), "min": n, "max": n}


def _between(kw: KW) -> Converted:
    params = {"column": _column(kw), **_bounds(kw, ordered=True)}
    if kw.get("strict_min"):
        params["min_inclusive"] = False
    if kw.get("strict_max"):
        params["max_inclusive"] = False
    return "between", params


def _unique(kw: KW) -> Converted:
    return "unique", {"columns": [_column(kw)]}


def _ignore(kw: KW, choices: tuple[str, ...]) -> str:
    ignore = kw.get("ignore_row_if") or choices[0]
    if ignore not in choices:
        raise NotImported(f"ignore_row_if {ignore!r} is not one of {list(choices)}")
    return str(ignore)


def _compound_unique(kw: KW) -> Converted:
    cols, ignore = _columns(kw), _ignore(kw, IGNORE_RECORD)
    if ignore == "any_value_is_missing":
        return "unique", {"columns": cols}
    return "compound_unique", {"columns": cols, "ignore_row_if": ignore}


def _pair_columns(kw: KW) -> dict[str, Any]:
    return {"column_a": _column(kw, "column_A"), "column_b": _column(kw, "column_B")}


def _greater(kw: KW) -> Converted:
    op = ">=" if kw.get("or_equal") else ">"
    return "pair", {**_pair_columns(kw), "op": op, "ignore_row_if": _ignore(kw, IGNORE_PAIR)}


def _pair_equal(kw: KW) -> Converted:
    return "pair", {**_pair_columns(kw), "op": "==", "ignore_row_if": _ignore(kw, IGNORE_PAIR)}


def _pair_in_set(kw: KW) -> Converted:
    pairs = kw.get("value_pairs_set")
    if not isinstance(pairs, list | tuple) or not pairs:
        raise NotImported("value_pairs_set is not a non-empty list of pairs")
    out = []
    for pair in pairs:
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise NotImported(f"value_pairs_set: {pair!r} is not a pair")
        out.append(_value_set({"pair": list(pair)}, "pair"))
    return "pair_in_set", {**_pair_columns(kw), "pairs": out, "ignore_row_if": _ignore(kw, IGNORE_PAIR)}


def _row_count(kw: KW) -> Converted:
    return "row_count", _bounds(kw, numbers=True, ordered=True)


def _row_count_equal(kw: KW) -> Converted:
    n = _int_bound(kw["value"], "value")
    return "row_count", {"min": n, "max": n}


def _row_count_other(kw: KW) -> Converted:
    return "row_count_equal_table", {"table": _text(kw, "other_table_name")}


def _column_exists(kw: KW) -> Converted:
    index = kw.get("column_index")
    if index is not None:
        return "column_at", {"column": _column(kw), "index": _int_bound(index, "column_index")}
    return "columns_present", {"columns": [_column(kw)]}


def _stat(stat: str) -> Callable[[KW], Converted]:
    def convert(kw: KW) -> Converted:
        b = _bounds(kw, numbers=stat not in ("min", "max"))
        return "column_stat", {"column": _column(kw), "stat": stat, **b, **_strict(kw)}

    return convert


def _quantiles(kw: KW) -> Converted:
    qr = kw.get("quantile_ranges")
    if not isinstance(qr, Mapping) or not isinstance(qr.get("quantiles"), list):
        raise NotImported("quantile_ranges is not {quantiles: [...], value_ranges: [...]}")
    qs, ranges = qr["quantiles"], qr.get("value_ranges")
    if not isinstance(ranges, list) or len(ranges) != len(qs) or not qs:
        raise NotImported("quantile_ranges needs one value range per quantile")
    for q in qs:
        if not _is_number(q) or not 0 <= q <= 1:
            raise NotImported(f"quantile {q!r} is not a number in [0, 1]")
    for r in ranges:
        if not isinstance(r, list | tuple) or len(r) != 2:
            raise NotImported(f"value range {r!r} is not [min, max]")
        _bounds({"min_value": r[0], "max_value": r[1]}, numbers=True, need=False, ordered=True)
    interp = kw.get("allow_relative_error") or "nearest"
    if interp not in ("nearest", "linear", "lower", "higher", "midpoint"):
        raise NotImported(f"allow_relative_error {interp!r}: on data frames GX reads it as the interpolation")
    return "quantiles", {
        "column": _column(kw), "quantiles": list(qs), "ranges": [list(r) for r in ranges],
        "interpolation": interp,
    }  # fmt: skip


def _distinct(mode: str) -> Callable[[KW], Converted]:
    def convert(kw: KW) -> Converted:
        if kw.get("value_set") is None:
            raise NotImported("no value_set: GX reads it as every value, so the expectation checks nothing")
        values = _value_set(kw, allow_empty=True)
        if not values:
            if mode == "superset":
                raise NotImported("empty value_set: every column contains it")
            values = [None]  # nothing but null: only an empty column passes
        return "distinct_values", {"column": _column(kw), "values": values, "mode": mode}

    return convert


def _distinct_count(proportion: bool) -> Callable[[KW], Converted]:
    def convert(kw: KW) -> Converted:
        b = _bounds(kw, numbers=True)
        return "distinct_count", {"column": _column(kw), "proportion": proportion, **b, **_strict(kw)}

    return convert


def _most_common(kw: KW) -> Converted:
    return "most_common_in_set", {
        "column": _column(kw), "values": _value_set(kw), "ties_okay": bool(kw.get("ties_okay")),
    }  # fmt: skip


def _is_null(kw: KW) -> Converted:
    return "is_null", {"column": _column(kw)}


def _monotonic(direction: str) -> Callable[[KW], Converted]:
    def convert(kw: KW) -> Converted:
        return "monotonic", {
            "column": _column(kw),
            "direction": direction,
            "strictly": bool(kw.get("strictly")),
        }

    return convert


def _strftime(kw: KW) -> Converted:
    return "strftime", {"column": _column(kw), "format": _text(kw, "strftime_format")}


def _parseable(kind: str) -> Callable[[KW], Converted]:
    return lambda kw: ("parseable", {"column": _column(kw), "kind": kind})


def _regex_list(negate: bool, single: bool = False) -> Callable[[KW], Converted]:
    def convert(kw: KW) -> Converted:
        pats = [_text(kw, "regex")] if single else _texts(kw, "regex_list")
        match_on = kw.get("match_on") or "any"
        if match_on not in ("any", "all"):
            raise NotImported(f"match_on {match_on!r} is not any or all")
        return "regex_list", {"column": _column(kw), "patterns": pats, "match_on": match_on, "negate": negate}

    return convert


def _like(negate: bool, single: bool) -> Callable[[KW], Converted]:
    def convert(kw: KW) -> Converted:
        pats = [_text(kw, "like_pattern")] if single else _texts(kw, "like_pattern_list")
        match_on = kw.get("match_on") or "any"
        if match_on not in ("any", "all"):
            raise NotImported(f"match_on {match_on!r} is not any or all")
        return "like", {"column": _column(kw), "patterns": pats, "match_on": match_on, "negate": negate}

    return convert


def _dtype(list_: bool) -> Callable[[KW], Converted]:
    def convert(kw: KW) -> Converted:
        types = _texts(kw, "type_list") if list_ else [_text(kw, "type_")]
        return "dtype", {"column": _column(kw), "types": types}

    return convert


def _z_scores(kw: KW) -> Converted:
    limit = kw["threshold"]
    if not _is_number(limit):
        raise NotImported(f"threshold {limit!r} is not a number")
    return "z_score", {
        "column": _column(kw),
        "threshold": limit,
        "double_sided": bool(kw.get("double_sided")),
    }


def _multicolumn_sum(kw: KW) -> Converted:
    total = kw["sum_total"]
    if not _is_number(total):
        raise NotImported(f"sum_total {total!r} is not a number")
    return "multicolumn_sum", {
        "columns": _columns(kw), "total": total, "ignore_row_if": _ignore(kw, IGNORE_RECORD),
    }  # fmt: skip


def _within_record(kw: KW) -> Converted:
    return "distinct_within_record", {"columns": _columns(kw), "ignore_row_if": _ignore(kw, IGNORE_RECORD)}


def _column_count(kw: KW) -> Converted:
    b = _bounds(kw, numbers=True, ordered=True)
    return "column_count", {k: _int_bound(v, f"{k}_value") for k, v in b.items()} | _strict(kw)


def _column_count_equal(kw: KW) -> Converted:
    n = _int_bound(kw["value"], "value")
    return "column_count", {"min": n, "max": n}


def _columns_set(kw: KW) -> Converted:
    cols = _value_set(kw, "column_set", allow_empty=True)  # none: GX reads an empty set
    if not all(isinstance(c, str) for c in cols):
        raise NotImported("column_set holds a value that is not a column name")
    exact = kw.get("exact_match")
    return "columns_match", {"columns": cols, "exact": True if exact is None else bool(exact)}


def _columns_ordered(kw: KW) -> Converted:
    return "columns_match", {"columns": _columns(kw), "ordered": True}


_MAP = frozenset({"column", "mostly"})
_BETWEEN = frozenset({"column", "min_value", "max_value", "strict_min", "strict_max"})
_PAIR = frozenset({"column_A", "column_B", "ignore_row_if", "mostly"})
_RECORD = frozenset({"column_list", "ignore_row_if", "mostly"})

# GX type -> (the arguments dq honours besides the reporting ones, converter).
IMPORTERS: dict[str, tuple[frozenset[str], Callable[[KW], Converted]]] = {
    "expect_column_values_to_not_be_null": (_MAP, _not_null),
    "expect_column_values_to_be_null": (_MAP, _is_null),
    "expect_column_values_to_be_in_set": (_MAP | {"value_set"}, _in_set),
    "expect_column_values_to_not_be_in_set": (_MAP | {"value_set"}, _not_in_set),
    "expect_column_values_to_match_regex": (_MAP | {"regex"}, _regex),
    "expect_column_values_to_not_match_regex": (_MAP | {"regex"}, _regex_list(True, single=True)),
    "expect_column_values_to_match_regex_list": (_MAP | {"regex_list", "match_on"}, _regex_list(False)),
    "expect_column_values_to_not_match_regex_list": (_MAP | {"regex_list"}, _regex_list(True)),
    "expect_column_values_to_match_like_pattern": (_MAP | {"like_pattern"}, _like(False, True)),
    "expect_column_values_to_not_match_like_pattern": (_MAP | {"like_pattern"}, _like(True, True)),
    "expect_column_values_to_match_like_pattern_list": (
        _MAP | {"like_pattern_list", "match_on"},
        _like(False, False),
    ),
    "expect_column_values_to_not_match_like_pattern_list": (_MAP | {"like_pattern_list"}, _like(True, False)),
    "expect_column_values_to_match_strftime_format": (_MAP | {"strftime_format"}, _strftime),
    "expect_column_values_to_be_dateutil_parseable": (_MAP, _parseable("date")),
    "expect_column_values_to_be_json_parseable": (_MAP, _parseable("json")),
    "expect_column_values_to_be_of_type": (_MAP | {"type_"}, _dtype(False)),
    "expect_column_values_to_be_in_type_list": (_MAP | {"type_list"}, _dtype(True)),
    "expect_column_type_to_be": (frozenset({"column", "type_"}), _dtype(False)),
    "expect_column_values_to_be_increasing": (_MAP | {"strictly"}, _monotonic("increasing")),
    "expect_column_values_to_be_decreasing": (_MAP | {"strictly"}, _monotonic("decreasing")),
    "expect_column_value_lengths_to_be_between": (_BETWEEN | {"mostly"}, _lengths),
    "expect_column_value_lengths_to_equal": (_MAP | {"value"}, _length_equal),
    "expect_column_values_to_be_between": (_BETWEEN | {"mostly"}, _between),
    "expect_column_value_z_scores_to_be_less_than": (_MAP | {"threshold", "double_sided"}, _z_scores),
    "expect_column_values_to_be_unique": (_MAP, _unique),
    "expect_compound_columns_to_be_unique": (_RECORD, _compound_unique),
    "expect_select_column_values_to_be_unique_within_record": (_RECORD, _within_record),
    "expect_multicolumn_sum_to_equal": (_RECORD | {"sum_total"}, _multicolumn_sum),
    "expect_column_pair_values_a_to_be_greater_than_b": (_PAIR | {"or_equal"}, _greater),
    "expect_column_pair_values_to_be_equal": (_PAIR, _pair_equal),
    "expect_column_pair_values_to_be_in_set": (_PAIR | {"value_pairs_set"}, _pair_in_set),
    **{gx_type: (_BETWEEN, _stat(stat)) for stat, gx_type in STATS.items()},
    "expect_column_quantile_values_to_be_between": (
        frozenset({"column", "quantile_ranges", "allow_relative_error"}),
        _quantiles,
    ),
    "expect_column_distinct_values_to_be_in_set": (frozenset({"column", "value_set"}), _distinct("subset")),
    "expect_column_distinct_values_to_contain_set": (
        frozenset({"column", "value_set"}),
        _distinct("superset"),
    ),
    "expect_column_distinct_values_to_equal_set": (frozenset({"column", "value_set"}), _distinct("equal")),
    "expect_column_unique_value_count_to_be_between": (_BETWEEN, _distinct_count(False)),
    "expect_column_proportion_of_unique_values_to_be_between": (_BETWEEN, _distinct_count(True)),
    "expect_column_most_common_value_to_be_in_set": (
        frozenset({"column", "value_set", "ties_okay"}),
        _most_common,
    ),
    "expect_table_row_count_to_be_between": (frozenset({"min_value", "max_value"}), _row_count),
    "expect_table_row_count_to_equal": (frozenset({"value"}), _row_count_equal),
    "expect_table_row_count_to_equal_other_table": (frozenset({"other_table_name"}), _row_count_other),
    "expect_table_column_count_to_be_between": (
        frozenset({"min_value", "max_value", "strict_min", "strict_max"}),
        _column_count,
    ),
    "expect_table_column_count_to_equal": (frozenset({"value"}), _column_count_equal),
    "expect_table_columns_to_match_set": (frozenset({"column_set", "exact_match"}), _columns_set),
    "expect_table_columns_to_match_ordered_list": (frozenset({"column_list"}), _columns_ordered),
    "expect_column_to_exist": (frozenset({"column", "column_index"}), _column_exists),
}

#: GX expectation types dq does not import, with the reason (``docs/gx.md`` lists them all).
NOT_IMPORTED: dict[str, str] = {
    "expect_column_kl_divergence_to_be_less_than": "a distribution test against a partition object:"
    " no dq check",
    "expect_column_chisquare_test_p_value_to_be_greater_than": "a distribution test (chi-square):"
    " no dq check",
    "expect_column_bootstrapped_ks_test_p_value_to_be_greater_than": "a distribution test (bootstrapped KS):"
    " no dq check",
    "expect_column_parameterized_distribution_ks_test_p_value_to_be_greater_than": "a distribution test (KS"
    " against scipy distributions): no dq check",
    "expect_column_pair_cramers_phi_value_to_be_less_than": "a statistic of association (Cramér's phi):"
    " no dq check",
    "expect_column_values_to_match_json_schema": "JSON Schema validation needs the jsonschema package,"
    " which dq does not depend on",
    "unexpected_rows_expectation": "an SQL query run by GX: dq does not run SQL from a suite",
    "expect_query_results_to_match_comparison": "SQL queries on two data sources: dq does not run SQL"
    " from a suite",
    "expect_column_values_to_not_be_outliers": "GX's IQR or standard-deviation fences: dq's outlier check"
    " (peer_outlier) uses the median and MAD among peers, a different answer; z_score covers the std method"
    " only with GX's z-score expectation",
    "expect_column_proportion_of_non_null_values_to_be_between": "not_null with a threshold is a lower"
    " bound only; no dq check bounds the share of values from above",
    "expect_multicolumn_values_to_be_equal": "no dq check (write a pair rule per column pair)",
    "expect_multicolumn_values_to_be_unique": "deprecated in GX, with no metric on data frames;"
    " use expect_compound_columns_to_be_unique or expect_select_column_values_to_be_unique_within_record",
}


# -- row_condition: GX's pandas and great_expectations condition languages as dq's `when` ----

_CONDITION_PARSERS = ("pandas", "great_expectations", "great_expectations__experimental__")
_CMP = {ast.Eq: "=", ast.NotEq: "<>", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_NULL_TESTS = {"isnull": True, "isna": True, "notnull": False, "notna": False, "notNull": False}


def _sql_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_literal(v: Any) -> str:
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise NotImported(f"row_condition: {v!r} is not a finite number")
        return format(Decimal(repr(v)), "f")
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    raise NotImported(f"row_condition: {v!r} is not a literal dq can compare with")


def _tokens_to_python(text: str) -> str:
    """GX conditions use ``&``, ``|`` and ``~`` for and/or/not with the precedence of words
    (``a > 1 & b < 2``), and backticks around names with spaces: rewritten for Python's parser.
    String literals are left as they are."""
    names: list[str] = []

    def backtick(m: re.Match[str]) -> str:
        names.append(m.group(1))
        return f"__dq_name_{len(names) - 1}__"

    # backticked names outside string literals (a backtick in a string literal is kept)
    parts = re.split(r"""('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""", text)
    text = "".join(p if i % 2 else re.sub(r"`([^`]*)`", backtick, p) for i, p in enumerate(parts))
    out = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.OP and tok.string in ("&", "|", "~"):
                out.append((tokenize.NAME, {"&": "and", "|": "or", "~": "not"}[tok.string]))
            else:
                out.append((tok.type, tok.string))
    except (tokenize.TokenError, SyntaxError) as exc:
        raise NotImported(f"row_condition {text!r} does not parse: {exc}") from exc
    result = tokenize.untokenize(out)
    for i, name in enumerate(names):
        result = result.replace(f"__dq_name_{i}__", f"__dq_col({name!r})")
    return result


def _cond_column(node: ast.expr, parser: str) -> str | None:
    """The column a node names: a bare name (pandas) or col("name") (both languages)."""
    if isinstance(node, ast.Name) and parser == "pandas":
        return node.id
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("col", "column", "__dq_col")
        and len(node.args) == 1
        and not node.keywords
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        return node.args[0].value
    return None


def _cond_literal(node: ast.expr) -> Any:
    if isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, str | int | float)):
        return node.value
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
    ):
        v = node.operand.value
        if isinstance(v, int | float) and not isinstance(v, bool):
            return -v
    raise NotImported(f"row_condition: {ast.unparse(node)!r} is neither a column nor a literal")


def _cond_operand(node: ast.expr, parser: str, columns: set[str]) -> tuple[str, Any]:
    """SQL for one side of a comparison, and its column name or literal value."""
    col = _cond_column(node, parser)
    if col is not None:
        columns.add(col)
        return _sql_name(col), _Col(col)
    v = _cond_literal(node)
    return ("NULL" if v is None else _sql_literal(v)), v


@dataclass(frozen=True)
class _Col:
    name: str


def _never_equal(a: Any, b: Any, types: Mapping[str, pl.DataType]) -> bool:
    """A column and a literal of another kind (text against a number): in pandas they are
    never equal (``x == "1"`` on a number column selects no row)."""
    if isinstance(b, _Col):
        a, b = b, a
    if not isinstance(a, _Col) or isinstance(b, _Col) or b is None or a.name not in types:
        return False
    dtype = types[a.name]
    if dtype == pl.String:
        return not isinstance(b, str)
    if dtype.is_numeric():
        return isinstance(b, str | bool)
    return False


def _cond_sql(node: ast.expr, parser: str, columns: set[str], types: Mapping[str, pl.DataType]) -> str:
    if isinstance(node, ast.BoolOp):
        word = " AND " if isinstance(node.op, ast.And) else " OR "
        return "(" + word.join(_cond_sql(v, parser, columns, types) for v in node.values) + ")"
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return f"(NOT {_cond_sql(node.operand, parser, columns, types)})"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and not node.args:
        col = _cond_column(node.func.value, parser)
        if col is not None and node.func.attr in _NULL_TESTS:
            columns.add(col)
            return f"({_sql_name(col)} IS {'' if _NULL_TESTS[node.func.attr] else 'NOT '}NULL)"
    if isinstance(node, ast.Compare):
        parts = []
        left = node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            parts.append(_cond_compare(left, op, right, parser, columns, types))
            left = right
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"
    raise NotImported(f"row_condition: {ast.unparse(node)!r} is not a comparison dq can express")


def _cond_compare(
    left: ast.expr,
    op: ast.cmpop,
    right: ast.expr,
    parser: str,
    columns: set[str],
    types: Mapping[str, pl.DataType],
) -> str:
    if isinstance(op, ast.In | ast.NotIn):
        col = _cond_column(left, parser)
        if col is None or not isinstance(right, ast.List | ast.Tuple | ast.Set):
            raise NotImported("row_condition: 'in' needs a column and a list of literals")
        columns.add(col)
        values = [_cond_literal(v) for v in right.elts]
        if not values or any(v is None for v in values):
            raise NotImported("row_condition: 'in' needs a non-empty list of values (no null)")
        listed = ", ".join(_sql_literal(v) for v in values)
        if isinstance(op, ast.NotIn):
            # pandas: a missing value is not in any list
            return f"({_sql_name(col)} NOT IN ({listed}) OR {_sql_name(col)} IS NULL)"
        return f"({_sql_name(col)} IN ({listed}))"
    if type(op) not in _CMP:
        raise NotImported(f"row_condition: operator {type(op).__name__} is not a comparison dq can express")
    lsql, lv = _cond_operand(left, parser, columns)
    rsql, rv = _cond_operand(right, parser, columns)
    if not (isinstance(lv, _Col) or isinstance(rv, _Col)):
        raise NotImported("row_condition: a comparison of two literals")
    if _never_equal(lv, rv, types):
        if isinstance(op, ast.Eq):
            return "FALSE"
        if isinstance(op, ast.NotEq):
            return "TRUE"
        raise NotImported(
            f"row_condition: {ast.unparse(left)} {ast.unparse(right)} compare text with a number"
        )
    if "NULL" in (lsql, rsql) and isinstance(op, ast.Eq | ast.NotEq):
        other = rsql if lsql == "NULL" else lsql
        return f"({other} IS {'' if isinstance(op, ast.Eq) else 'NOT '}NULL)"
    if "NULL" in (lsql, rsql):
        raise NotImported("row_condition: an order comparison with null")
    if isinstance(op, ast.NotEq):
        # pandas: a missing value differs from every value (SQL would leave the row out)
        nulls = [f"{side} IS NULL" for side, v in ((lsql, lv), (rsql, rv)) if isinstance(v, _Col)]
        return f"({lsql} <> {rsql} OR {' OR '.join(nulls)})"
    return f"({lsql} {_CMP[type(op)]} {rsql})"


_STRUCTURED_OPS = {
    "==": ast.Eq(),
    "!=": ast.NotEq(),
    "<": ast.Lt(),
    "<=": ast.LtE(),
    ">": ast.Gt(),
    ">=": ast.GtE(),
}


def _structured_sql(
    cond: Any, parser: str | None, columns: set[str], types: Mapping[str, pl.DataType]
) -> str:
    """GX 1.x's condition objects as written in a suite's JSON (``{"type": "comparison",
    "column": {"name": ...}, "operator": "==", "parameter": ...}``, ``nullity``, ``and``,
    ``or``, ``pass_through``)."""
    if not isinstance(cond, Mapping):
        raise NotImported(f"row_condition: {cond!r} is not a condition")
    kind = cond.get("type")
    if kind == "pass_through":
        return _text_condition(str(cond.get("pass_through_filter") or ""), parser, columns, types)
    if kind in ("and", "or"):
        parts = cond.get("conditions")
        if not isinstance(parts, list) or not parts:
            raise NotImported(f"row_condition: an '{kind}' without conditions")
        word = " AND " if kind == "and" else " OR "
        return "(" + word.join(_structured_sql(c, parser, columns, types) for c in parts) + ")"
    column = cond.get("column")
    name = column.get("name") if isinstance(column, Mapping) else None
    if not isinstance(name, str) or not name:
        raise NotImported(f"row_condition: {cond!r} names no column")
    if kind == "nullity":
        columns.add(name)
        return f"({_sql_name(name)} IS {'' if cond.get('is_null') else 'NOT '}NULL)"
    if kind != "comparison":
        raise NotImported(
            f"row_condition of type {kind!r}: dq reads comparison, nullity, and, or, pass_through"
        )
    op, value = cond.get("operator"), cond.get("parameter")
    col_node = ast.Call(func=ast.Name(id="__dq_col"), args=[ast.Constant(name)], keywords=[])
    if op in ("IN", "NOT_IN"):
        if not isinstance(value, list | tuple):
            raise NotImported(f"row_condition: {op} needs a list of values")
        values = ast.List(elts=[ast.Constant(_cond_value(v)) for v in value])
        return _cond_compare(col_node, ast.In() if op == "IN" else ast.NotIn(), values, "gx", columns, types)
    if op not in _STRUCTURED_OPS:
        raise NotImported(f"row_condition: operator {op!r} is not one dq reads")
    return _cond_compare(
        col_node, _STRUCTURED_OPS[op], ast.Constant(_cond_value(value)), "gx", columns, types
    )


def _cond_value(v: Any) -> Any:
    if v is None or isinstance(v, str | int | float):
        return v
    raise NotImported(f"row_condition: {v!r} is not a literal dq can compare with")


def _text_condition(
    text: str, parser: str | None, columns: set[str], types: Mapping[str, pl.DataType]
) -> str:
    parser = parser or "pandas"
    if parser not in _CONDITION_PARSERS:
        raise NotImported(f"condition_parser {parser!r}: dq reads {', '.join(_CONDITION_PARSERS[:2])}")
    parser = "pandas" if parser == "pandas" else "great_expectations"
    if not text.strip():
        raise NotImported("row_condition is empty")
    if "@" in re.sub(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*\"""", "", text):
        raise NotImported("row_condition: @variables are not in the suite, so dq cannot read them")
    python = _tokens_to_python(text.strip())
    try:
        tree = ast.parse(python.strip(), mode="eval")
    except SyntaxError as exc:
        raise NotImported(f"row_condition {text!r} does not parse: {exc.msg}") from exc
    return _cond_sql(tree.body, parser, columns, types)


def condition_to_when(
    condition: str | Mapping[str, Any], parser: str | None, types: Mapping[str, pl.DataType] | None = None
) -> tuple[str, list[str]]:
    """A GX ``row_condition`` as dq's ``when`` (SQL) and the columns it reads: text in GX's
    pandas or great_expectations language (``condition_parser``), or one of GX 1.x's condition
    objects as a suite's JSON holds them. Every value is written as an SQL literal and every
    column as a quoted name; anything else (functions, arithmetic, ``@variables``) is refused
    with :class:`NotImported`. ``types``: the table's column types, so that a comparison of a
    column with a literal of another kind selects what pandas selects (``x == "1"`` on a number
    column: no row)."""
    columns: set[str] = set()
    if isinstance(condition, Mapping):
        return _structured_sql(condition, parser, columns, types or {}), sorted(columns)
    if not isinstance(condition, str):
        raise NotImported("row_condition is neither text nor a condition")
    return _text_condition(condition, parser, columns, types or {}), sorted(columns)


def _convert(
    e: Mapping[str, Any], types: Mapping[str, pl.DataType] | None = None
) -> tuple[str, dict[str, Any], str | None]:
    etype = e.get("type") or e.get("expectation_type")
    if not isinstance(etype, str):
        raise NotImported("no expectation type")
    if etype not in IMPORTERS:
        raise NotImported(NOT_IMPORTED.get(etype, "no dq check expresses this expectation"))
    allowed, convert = IMPORTERS[etype]
    raw_kw = e.get("kwargs")
    if raw_kw is not None and not isinstance(raw_kw, Mapping):
        raise NotImported(
            f"positional arguments {raw_kw!r}: a GX suite names every argument (kwargs such as"
            " column, min_value, max_value); dq does not guess which is which"
        )
    kw = dict(raw_kw or {})
    cond = kw.pop("row_condition", None)
    parser = kw.pop("condition_parser", None)
    when = None
    if cond:
        when, _ = condition_to_when(cond, parser, types)
    extra = sorted(set(kw) - allowed - REPORTING)
    if extra:
        raise NotImported(f"argument(s) dq cannot honour: {', '.join(extra)}")
    mostly = kw.get("mostly")
    if mostly is not None:
        if isinstance(mostly, bool) or not isinstance(mostly, int | float):
            raise NotImported(f"mostly {mostly!r} is not a number")
        if not 0 <= mostly <= 1:
            raise NotImported(
                f"mostly {mostly!r} is not in [0, 1] (GX: the fraction of values that must meet the"
                " expectation; GX refuses it)"
            )
    try:
        check, params = convert(kw)
    except KeyError as exc:
        raise NotImported(f"missing argument {exc}") from exc
    return check, params, when


def _bilingual(raw: Any, fallback: str) -> dict[str, str]:
    if isinstance(raw, Mapping):
        zh, en = str(raw.get("zh") or ""), str(raw.get("en") or "")
        if zh or en:
            return {"zh": zh or en, "en": en or zh}
    if isinstance(raw, str) and raw.strip():
        return {"zh": raw, "en": raw}
    return {"zh": fallback, "en": fallback}


def _describe(e: Mapping[str, Any]) -> str:
    kw = e.get("kwargs") or {}
    if not isinstance(kw, Mapping):
        return f"{e.get('type') or e.get('expectation_type')}(positional arguments)"
    what = kw.get("column") or kw.get("column_list") or [kw.get("column_A"), kw.get("column_B")]
    if isinstance(what, list):
        what = ", ".join(str(x) for x in what if x)
    return f"{e.get('type') or e.get('expectation_type')}({what or ''})"


@dataclass(frozen=True)
class ImportedSuite:
    """A dq suite made from a GX suite, and the expectations left out (with the reason)."""

    suite: dict[str, Any]
    not_imported: tuple[dict[str, Any], ...]
    source: str = ""

    @property
    def rules(self) -> list[dict[str, Any]]:
        return list(self.suite["rules"])

    def to_yaml(self) -> str:
        head = [f"# Imported from the Great Expectations suite {self.source or self.suite['suite']}"]
        head.append(f"# by `dq gx import`: {len(self.rules)} expectation(s) imported,")
        head.append(f"# {len(self.not_imported)} not imported" + (":" if self.not_imported else "."))
        for n in self.not_imported:
            head.append(f"#   - #{n['index']} {n['expectation']}: {n['reason']}")
        body = yaml.safe_dump(self.suite, allow_unicode=True, sort_keys=False, width=100)
        return "\n".join(head) + "\n" + body

    def write(self, path: str | Path) -> Path:
        """Write the suite as YAML (atomically); the file loads with ``dq suites validate``."""
        if not self.rules:
            raise UsageError(
                f"{self.source or 'the GX suite'}: none of its {len(self.not_imported)} expectation(s)"
                " can be expressed in dq; nothing written"
            )
        return atomic_write_text(path, self.to_yaml())


def _read(source: str | Path | Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    if isinstance(source, Mapping):
        return dict(source), str(source.get("name") or "")
    path = Path(source)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a JSON file ({exc}); give the JSON of a GX 1.x suite") from exc
    if isinstance(doc, list):
        raise InputError(f"{path}: holds {len(doc)} suites; import one suite per file")
    if not isinstance(doc, dict) or not isinstance(doc.get("expectations"), list):
        raise InputError(f"{path}: not a GX suite (expected an object with a list of 'expectations')")
    return doc, str(path)


def import_suite(
    source: str | Path | Mapping[str, Any],
    *,
    table: str | None = None,
    suite_id: str | None = None,
    kind: str | None = None,
    id_prefix: str = "GX",
    catalogue: Catalogue | None = None,
    schema: Mapping[str, pl.DataType] | None = None,
) -> ImportedSuite:
    """Turn a GX 1.x suite (a JSON file or its dict) into a dq suite for one catalogue table.

    ``table`` defaults to the suite's ``meta.dq_table`` (set by ``dq gx export``); a suite from
    elsewhere needs it. Rule ids come from ``meta.dq_rule`` or are ``<id_prefix>-001``, ... .
    ``schema``: the columns and types of the frame the suite will check, for a ``table`` that
    is not in the catalogue (as :func:`dq.validate` checks rules against a frame's own columns).
    Raises :class:`~dq.errors.InputError` for a file that is not a GX suite and
    :class:`~dq.errors.UsageError` for an unknown table or kind.
    """
    from dq.engine.suite import SuiteLoader  # the loader's own per-rule validation

    cat = catalogue or load_catalogue()
    doc, where = _read(source)
    raw_meta = doc.get("meta")
    meta: Mapping[str, Any] = raw_meta if isinstance(raw_meta, Mapping) else {}
    table = table or meta.get("dq_table")
    if not table:
        raise UsageError(f"{where or 'suite'}: name the catalogue table the suite is for (--table)")
    if cat.table(table) is None and schema is not None:
        cat = dataclasses.replace(cat, tables={**cat.tables, str(table): frame_table(str(table), schema)})
    if cat.table(table) is None:
        hint = difflib.get_close_matches(str(table), cat.tables, n=1)
        raise UsageError(f"unknown table {table!r}" + (f"; did you mean '{hint[0]}'?" if hint else ""))
    kind = kind or meta.get("dq_kind") or "any"
    if kind not in KINDS:
        raise UsageError(f"kind {kind!r} is not one of {list(KINDS)}")
    sid = suite_id or meta.get("dq_suite") or doc.get("name") or f"gx.{table}"
    spec = cat.table(table)
    types = {c.name: c.dtype for c in spec.columns} if spec is not None else {}
    loader = SuiteLoader(cat)
    rules: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    used: set[str] = set()
    for i, e in enumerate(doc["expectations"], start=1):
        if not isinstance(e, Mapping):
            skipped.append({"index": i, "expectation": repr(e)[:60], "reason": "not an expectation"})
            continue
        label = _describe(e)
        raw_emeta = e.get("meta")
        emeta: Mapping[str, Any] = raw_emeta if isinstance(raw_emeta, Mapping) else {}
        try:
            check, params, when = _convert(e, types)
        except NotImported as exc:
            skipped.append({"index": i, "expectation": label, "reason": str(exc)})
            continue
        rid = emeta.get("dq_rule")
        if not isinstance(rid, str) or not rid or rid in used:
            n = len(rules) + 1
            rid = f"{id_prefix}-{n:03d}"
            while rid in used:
                n += 1
                rid = f"{id_prefix}-{n:03d}"
        rule: dict[str, Any] = {
            "id": rid,
            "title": _bilingual(emeta.get("dq_title") or e.get("description"), label),
        }
        if emeta.get("dq_dimension"):
            rule["dimension"] = emeta["dq_dimension"]
        rule |= {"check": check, "params": params}
        if when:
            rule["when"] = when
        severity = emeta.get("dq_severity")
        if severity not in SEVERITIES:
            severity = DQ_SEVERITY.get(str(e.get("severity") or "critical"), "error")
        rule["severity"] = severity
        threshold: dict[str, Any] = {}
        kept = emeta.get("dq_threshold")
        if isinstance(kept, Mapping) and kept.get("max_count") is not None:
            threshold["max_count"] = kept["max_count"]
        mostly = (e.get("kwargs") or {}).get("mostly")
        if mostly is not None and mostly < 1:
            threshold["max_fraction"] = round(1 - float(mostly), 12)
        elif threshold and isinstance(kept, Mapping) and kept.get("max_fraction") is not None:
            threshold["max_fraction"] = kept["max_fraction"]
        if threshold:
            rule["threshold"] = threshold
        # The loader's own checks (parameters, columns of the table, types) decide.
        before = len(loader.problems)
        loader.rule(rule, where or "<gx suite>", str(sid), table, {}, i)
        problems = loader.problems[before:]
        if problems:
            reason = "; ".join(f"{p.field or 'rule'}: {p.message}" for p in problems)
            skipped.append({"index": i, "expectation": label, "reason": reason})
            continue
        used.add(rid)
        rules.append(rule)
    title = _bilingual(meta.get("dq_title"), f"Imported from GX suite {doc.get('name') or sid}")
    suite = {
        "suite": str(sid),
        "title": title,
        "table": table,
        "kind": kind,
        "description": f"Imported by dq gx import from {Path(where).name if where else 'a GX suite'}"
        + (
            f"; {len(skipped)} expectation(s) not imported: {', '.join(n['expectation'] for n in skipped)}"
            if skipped
            else ""
        ),
        "rules": rules,
    }
    return ImportedSuite(suite, tuple(skipped), where)
