"""GX's own test suite in ours: the data-driven test definitions of Great Expectations 1.2.0
(``tests/data/gx_test_definitions``, Apache-2.0, see the README there) run through dq.

For every case GX runs on pandas (``only_for`` / ``suppress_test_for`` honoured at the dataset
and the test level, as GX's own runner does), the case's dataset is built as GX builds it (a
pandas frame, cast with the dataset's ``schemas.pandas``) and handed to dq as a Polars frame;
the one-expectation suite is imported with :func:`dq.interop.gx.import_suite` and run with
:func:`dq.validate`. dq must then agree with the case's expected ``success`` (dq's pass or
not-applicable is GX's success) and, where the case gives them, with the number of unexpected
values (``unexpected_list`` / ``unexpected_index_list``) and the unexpected values themselves.
A case GX expects to raise must be refused by dq (not imported, or a rule in error).

Cases where dq deliberately differs are listed in :data:`DIFFERENCES` with the reason (and in
docs/gx.md); they are skipped with that reason -- and fail if they start agreeing, so the list
stays true.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pytest

import dq
from dq.interop.gx import import_suite
from dq.io.catalogue import load_catalogue

DEFS = Path(__file__).parent / "data" / "gx_test_definitions"
PANDAS = {"pandas", "pandas_v3_api", "pandas>=024"}
CATALOGUE = load_catalogue()

# Why dq deliberately answers differently (each also in docs/gx.md, "GX's own test definitions").
MIXED = (
    "the dataset puts numbers and text in one column (a pandas object column); a Polars column"
    " has one type, so dq cannot be given this column"
)
NOTHING = (
    "the expectation checks nothing (no bound, no set, no list): GX passes it on any data; dq"
    " writes no rule that cannot fail and lists the expectation as not imported"
)
PARAM = (
    "a bound given as a suite parameter ($PARAMETER) is filled in by GX at run time; a dq rule holds"
    " values, so the expectation is listed as not imported"
)
LENGTH_NUMBERS = (
    "dq's length check measures the text of any value (a code stored as a number has a length);"
    " GX raises on a column that is not text"
)
EMPTY_NUMBER_COLUMN = (
    "an all-null column that pandas types as float: dq refuses a set of text for a number column"
    " (in a real suite a mistake worth reporting); GX evaluates no value and passes"
)

#: case id -> why dq deliberately answers differently.
DIFFERENCES: dict[str, str] = {
    # MIXED
    "expect_column_pair_values_to_be_equal:1.2:basic_negative_example_compare_number_to_text": MIXED,
    "expect_column_pair_values_to_be_equal:1.4:positive_example_with_mostly_compare_number_to_text": MIXED,
    "expect_column_pair_values_to_be_equal:1.6:positive_example_with_mismatched_null_values_and_ignore_row_if"
    "__either_value_is_missing_compare_number_to_text": MIXED,
    "expect_column_values_to_be_between:1.17:error:_improperly_mixed_types": MIXED,
    "expect_column_values_to_be_between:1.18:error:_improperly_mixed_types_again": MIXED,
    "expect_column_values_to_be_between:1.19:error:_improperly_mixed_types_once_more": MIXED,
    "expect_column_values_to_be_between:1.20:error:_missing_both_min_value_and_max_value": MIXED,
    "expect_column_values_to_be_between:1.29:test_conditional_expectation_passes": MIXED,
    "expect_column_values_to_be_between:1.30:test_conditional_expectation_fails": MIXED,
    "expect_column_values_to_be_between:1.31:test_conditional_expectation_parser_errors": MIXED,
    "expect_column_values_to_be_between_tz_naive:1.17:error:_improperly_mixed_types": MIXED,
    "expect_column_values_to_be_between_tz_naive:1.18:error:_improperly_mixed_types_again": MIXED,
    "expect_column_values_to_be_between_tz_naive:1.19:error:_improperly_mixed_types_once_more": MIXED,
    "expect_column_values_to_be_between_tz_naive:1.20:error:_missing_both_min_value_and_max_value": MIXED,
    "expect_column_values_to_be_between_tz_naive:1.29:test_conditional_expectation_passes": MIXED,
    "expect_column_values_to_be_between_tz_naive:1.30:test_conditional_expectation_fails": MIXED,
    "expect_column_values_to_be_between_tz_naive:1.31:test_conditional_expectation_parser_errors": MIXED,
    # NOTHING
    "expect_column_distinct_values_to_be_in_set:1.2:vacuously_true_universal_set": NOTHING,
    "expect_column_mean_to_be_between:1.8:vacuously_true_missing_min_and_max": NOTHING,
    "expect_column_median_to_be_between:1.9:vacuously_true_both_min_and_max_null": NOTHING,
    "expect_column_proportion_of_unique_values_to_be_between:1.5:vacuously_true_null_min_and_max": NOTHING,
    "expect_column_stdev_to_be_between:1.2:vacuously_true": NOTHING,
    "expect_column_unique_value_count_to_be_between:1.5:vacuously_true_null_min_and_max": NOTHING,
    "expect_column_values_to_be_in_type_list:1.26:positive_test_placeholder_expectation": NOTHING,
    "expect_table_column_count_to_be_between:1.2:vacuously_true": NOTHING,
    "expect_table_columns_to_match_ordered_list:1.6:null_list_provides_vacuously_true_expectation": NOTHING,
    "expect_table_row_count_to_be_between:1.2:vacuously_true": NOTHING,
    # PARAM
    "expect_column_max_to_be_between:1.8:datetime_with_evaluation_parameter_except_sqlite": PARAM,
    # LENGTH_NUMBERS
    "expect_column_value_lengths_to_be_between:1.11:test_error_handling_values_are_integers": LENGTH_NUMBERS,
    # EMPTY_NUMBER_COLUMN
    "expect_column_values_to_be_in_set:2.1:test_empty_column_should_be_vacuously_true": EMPTY_NUMBER_COLUMN,
}


def _as_list(v: Any) -> list[str]:
    if not v:
        return []
    return list(v) if isinstance(v, list) else [v]


def _runs_on_pandas(entry: dict[str, Any], *, test_level: bool) -> bool:
    only, suppress = _as_list(entry.get("only_for")), _as_list(entry.get("suppress_test_for"))
    if test_level:
        if only and not PANDAS & set(only):
            return False
        return not (PANDAS & set(suppress))
    return not ((only and "pandas" not in only) or "pandas" in suppress)


def cases() -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    out = []
    for path in sorted(DEFS.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        etype = doc["expectation_type"]
        for d, dataset in enumerate(doc["datasets"], start=1):
            if not _runs_on_pandas(dataset, test_level=False):
                continue
            for t, test in enumerate(dataset["tests"], start=1):
                if _runs_on_pandas(test, test_level=True):
                    out.append((f"{path.stem}:{d}.{t}:{test['title']}", etype, dataset, test))
    return out


def gx_frame(dataset: dict[str, Any]) -> pd.DataFrame:
    """The pandas frame GX's runner builds for a dataset (great_expectations.self_check.util)."""
    df = pd.DataFrame(dataset["data"])
    schema = (dataset.get("schemas") or {}).get("pandas")
    if not schema:
        return df
    types = {}
    for key, value in schema.items():
        if value.lower() in ("timestamp", "datetime64[ns, tz]"):
            df[key] = pd.to_datetime(df[key], utc=True)
            continue
        if value.lower() in ("datetime", "datetime64", "datetime64[ns]"):
            df[key] = pd.to_datetime(df[key])
            continue
        if value.lower() == "date":
            df[key] = pd.to_datetime(df[key]).dt.date
            value = "object"
        try:
            import numpy as np

            types[key] = np.dtype(value)
        except TypeError:
            types[key] = getattr(pd, value)()
    return df.astype(types)


def polars_frame(df: pd.DataFrame) -> tuple[pl.DataFrame, set[str]]:
    """The frame as Polars, and the columns left out because they mix Python types (GX's
    datasets put e.g. numbers and text in one object column: no Polars column holds both)."""
    columns, mixed = [], set()
    for name in df.columns:
        try:
            columns.append(pl.from_pandas(df[[name]]))
        except Exception:
            mixed.add(name)
    return (pl.concat(columns, how="horizontal") if columns else pl.DataFrame()), mixed


def expected_unexpected(out: dict[str, Any]) -> list[Any] | None:
    for where in (out, out.get("result") or {}):
        if "unexpected_list" in where:
            return list(where["unexpected_list"])
    return None


def expected_index_count(out: dict[str, Any]) -> int | None:
    for where in (out, out.get("result") or {}):
        if "unexpected_index_list" in where:
            return len(where["unexpected_index_list"])
    return None


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, int | float) and not isinstance(b, bool):
        return math.isclose(a, b) or (math.isnan(a) and math.isnan(b))
    return a == b or str(a) == str(b)


def outcome(etype: str, dataset: dict[str, Any], test: dict[str, Any]) -> str:
    """'agree', or what differs."""
    out = test.get("out") or test.get("output") or {}
    raises = "success" not in out or "traceback_substring" in out
    kwargs = test.get("in") if "in" in test else test.get("input")
    frame, mixed = polars_frame(gx_frame(dataset))
    named = set()
    if isinstance(kwargs, dict):
        for key in ("column", "column_A", "column_B", "column_list"):
            v = kwargs.get(key)
            named |= set(v) if isinstance(v, list) else {v}
        cond = kwargs.get("row_condition")
        if isinstance(cond, str):
            named |= {c for c in mixed if re.search(rf"\b{re.escape(c)}\b", cond)}
    if mixed and (mixed & named or etype.startswith(("expect_table_", "expect_column_to_exist"))):
        return f"frame: column(s) {sorted(mixed)} mix Python types, which no Polars column holds"
    suite = {"name": "gx_case", "expectations": [{"type": etype, "kwargs": kwargs}]}
    imported = import_suite(suite, table="gx_case", schema=frame.schema, catalogue=CATALOGUE)
    if imported.not_imported:
        return "agree" if raises else f"not imported: {imported.not_imported[0]['reason']}"
    results = dq.validate(frame, imported.suite, samples=10_000, catalogue=CATALOGUE)
    r = results[0]
    if r.status == "error":
        return "agree" if raises else f"error: {r.message}"
    if raises:
        return f"GX raises, dq {r.status} ({r.message})"
    success = r.status in ("pass", "not_applicable")
    if success != out["success"]:
        return f"success: GX {out['success']}, dq {success} ({r.status}: {r.message})"
    unexpected = expected_unexpected(out)
    n_index = expected_index_count(out)
    count = len(unexpected) if unexpected is not None else n_index
    if count is not None and r.failed != count:
        return f"unexpected count: GX {count}, dq {r.failed}"
    if (
        unexpected
        and r.columns
        and len(r.columns) == 1
        and all(not isinstance(u, list | dict) for u in unexpected)
    ):
        got = [s.get(r.columns[0]) for s in r.samples]
        want = Counter(str(u) for u in unexpected)
        if Counter(str(g) for g in got) != want and not all(
            any(_same_value(g, u) for u in unexpected) for g in got
        ):
            return f"unexpected values: GX {unexpected}, dq {got}"
    return "agree"


CASES = cases()


@pytest.mark.parametrize(("etype", "dataset", "test"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_gx_definition(request, etype, dataset, test):
    case = request.node.callspec.id
    got = outcome(etype, dataset, test)
    if case in DIFFERENCES:
        assert got != "agree", f"{case} is listed as a difference but dq agrees: remove it from DIFFERENCES"
        pytest.skip(f"deliberate difference: {DIFFERENCES[case]} (dq: {got})")
    assert got == "agree", got


def test_differences_name_real_cases():
    ids = {c[0] for c in CASES}
    assert not set(DIFFERENCES) - ids
