"""Property-based parity between dq checks and their Great Expectations (GX 1.x) equivalents.

For every dq check with a GX equivalent, hypothesis generates small frames (0-40 rows, with nulls,
blank strings, signed zeros, duplicates), runs the rule through dq (a YAML suite loaded by
:func:`dq.engine.suite.load_suites`, evaluated by :func:`dq.engine.evaluate.evaluate_frame`)
and the expectation through GX on the same data converted to pandas, and asserts that dq's
``failed`` equals GX's ``unexpected_count`` (for the row count: that dq passes exactly when GX succeeds).

Besides the 25 drawn examples (``DQ_PARITY_EXAMPLES``), every run checks fixed boundary frames
(``@example``): values equal to the other column, the compared value or a bound, blanks and
nulls in the first and last rows, 0.0 beside -0.0. Planting ``>`` for ``>=`` in ``compare``,
``<=`` for ``<`` in ``between`` or dropping the blank rule makes this file fail at every seed.

===========================  ==================================================================
dq check                     GX expectation
===========================  ==================================================================
not_null                     expect_column_values_to_not_be_null
in_set                       expect_column_values_to_be_in_set
regex                        expect_column_values_to_match_regex
between (numbers, dates)     expect_column_values_to_be_between (strict_min/max = not inclusive)
unique (one column)          expect_column_values_to_be_unique
unique (several columns)     expect_compound_columns_to_be_unique, ignore_row_if=any_value_is_missing
compare left >/>=/</<= right expect_column_pair_values_a_to_be_greater_than_b (or_equal; < swaps
                             A and B), ignore_row_if=either_value_is_missing
compare column OP value      expect_column_values_to_be_between / _to_be_in_set / _to_not_be_in_set
length                       expect_column_value_lengths_to_be_between
row_count                    expect_table_row_count_to_be_between
===========================  ==================================================================

(the last mappings are those of ``dq gx``, see dq/interop/gx.py and tests/test_gx_export.py).

Semantic differences, and how the tests align them
--------------------------------------------------
* **Blank strings.** dq treats an empty or whitespace-only string as *missing*: ``not_null`` fails
  it and every value check (in_set, regex, unique, ...) skips it, exactly as it skips a null. GX
  treats ``''`` as a value (not null; checked against the set / regex; a duplicate key). The
  generators *do* produce blank strings, and :func:`gx_view` maps them to None on the GX side
  with dq's own definition (``str.strip_chars() == ""``), so both tools see the same missing
  values. Without that mapping GX's not_null would count fewer failures and its value checks more.
* **Nulls in keys.** dq's ``unique`` does not evaluate a row where any key column is null or blank;
  GX's compound check is therefore run with ``ignore_row_if="any_value_is_missing"`` (its default,
  ``all_values_are_missing``, would compare partial keys). The single-column GX check skips nulls
  as dq does. Both count *every* row of a repeated key as failing (pandas ``duplicated(keep=False)``),
  and both compare floats by value (``0.0`` and ``-0.0`` are the same key).
* **Column pairs.** dq's ``compare`` skips rows where either side is null, so GX runs with
  ``ignore_row_if="either_value_is_missing"`` (GX's default skips only rows where both are null).
* **Regex.** Both *search* (dq: Polars ``str.contains``; GX on pandas: ``Series.str.contains``,
  i.e. ``re.search``); anchor with ``^...$`` for a full match. The engines differ on one point:
  in Python ``$`` also matches before a final newline, in Polars' (Rust) regex only at the end of
  the text, so ``^J18$`` accepts ``"J18\\n"`` in GX and rejects it in dq
  (:func:`test_regex_dollar_before_trailing_newline_differs`). Generated text therefore contains
  no newline. GX stringifies non-string columns with ``astype(str)`` (an integer column with
  nulls becomes float in pandas: ``"1.0"``), dq with a Polars cast (``"1"``), so regex parity is
  asserted on string columns only.
* **NaN.** pandas treats NaN as missing, Polars as a value; generated floats are never NaN (dq's
  readers produce nulls, not NaN).
* **Dates.** GX on pandas compares datetime columns with ``datetime`` bounds (string bounds are
  only parsed on ``datetime64[ns]`` columns, ``date`` bounds raise), so the GX side gets the
  bounds as ``datetime``; dq takes dates, datetimes or ISO strings from the YAML. A date bound
  on a datetime column means its midnight in both. The other way round differs: dq compares a
  *date* column at the column's resolution, truncating a datetime bound to its day, while GX
  compares timestamps (:func:`test_datetime_bound_on_date_column_differs`); bounds of date
  columns are therefore generated as dates.
* **Bounds.** GX raises when ``min_value > max_value``; dq then fails every value. Generated bounds
  have ``min <= max``. With neither bound GX raises; dq's ``between`` passes everything.
* **Counts.** For value checks dq's ``evaluated`` is GX's ``element_count - missing_count``.

dq bug found (fixed)
--------------------
``in_set`` with whole numbers on a decimal column (``values: [0, 10]`` on ``total_fee``) was
rejected by the suite loader ("does not compile"): since Polars 2, ``is_in`` no longer coerces
``List(Int64)`` to ``Float64``. dq now compares numbers as Float64, as GX does
(:func:`test_in_set_whole_numbers_on_decimal_column`).

GX's startup is slow: one ephemeral context, pandas datasource, dataframe asset and batch
definition are created once per session; each example validates one expectation on one batch.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dq.engine.evaluate import evaluate_frame
from dq.engine.results import RuleResult
from dq.engine.suite import load_suites
from dq.interop.gx import batch_frame
from dq.io.catalogue import Catalogue, load_catalogue

pytestmark = pytest.mark.filterwarnings("ignore:This pattern is interpreted as a regular expression")

gx = pytest.importorskip("great_expectations")
gxe = pytest.importorskip("great_expectations.expectations")

TABLE = "parity"
COLUMNS = {
    "s": ("str", pl.String),
    "s2": ("str", pl.String),
    "i": ("int", pl.Int64),
    "j": ("int", pl.Int64),
    "f": ("decimal", pl.Float64),
    "g": ("decimal", pl.Float64),
    "d": ("date", pl.Date),
    "t": ("datetime", pl.Datetime("us")),
    "t2": ("datetime", pl.Datetime("us")),
}

# DQ_PARITY_EXAMPLES=500 for a deeper search than the default run.
PROPERTY = settings(
    max_examples=int(os.environ.get("DQ_PARITY_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# ---------------------------------------------------------------- fixtures: dq and GX sides
class DQ:
    """Runs one rule given as a YAML mapping through the real loader and engine."""

    def __init__(self, folder: Path):
        self.folder = folder
        cat = {
            "version": 1,
            "code_sets": {"codes": {"1": "one", "2": "two", "9": "other"}},
            "tables": {
                TABLE: {
                    "kind": "hospital",
                    "title": {"zh": "一致性", "en": "Parity"},
                    "columns": [{"name": n, "type": t} for n, (t, _) in COLUMNS.items()],
                }
            },
        }
        path = folder / "catalogue.yaml"
        path.write_text(yaml.safe_dump(cat), encoding="utf-8")
        self.catalogue: Catalogue = load_catalogue(path)
        self.n = itertools.count()

    def __call__(self, df: pl.DataFrame, check: str, params: Mapping[str, Any]) -> RuleResult:
        rule = {"id": "P-1", "title": "parity", "check": check, "params": dict(params)}
        doc = {"suite": "parity", "table": TABLE, "rules": [rule]}
        f = self.folder / f"suite{next(self.n)}.yaml"
        f.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
        (suite,) = load_suites([f], catalogue=self.catalogue)
        f.unlink()
        _, (result,) = evaluate_frame(df.lazy(), suite.rules, TABLE, catalogue=self.catalogue)
        assert result.status != "error", result.message
        return result


class GX:
    """One ephemeral GX context; validates one expectation on a pandas batch."""

    def __init__(self) -> None:
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        asset = self.context.data_sources.add_pandas("parity").add_dataframe_asset("frame")
        self.batch_definition = asset.add_batch_definition_whole_dataframe("whole")

    def __call__(self, df: pl.DataFrame, expectation) -> Any:
        batch = self.batch_definition.get_batch(batch_parameters={"dataframe": gx_view(df)})
        result = batch.validate(expectation)
        info = result.exception_info or {}
        raised = info.get("raised_exception") or any(
            isinstance(v, Mapping) and v.get("raised_exception") for v in info.values()
        )
        assert not raised, f"GX raised: {info}"
        return result


@pytest.fixture(scope="session")
def dq_run(tmp_path_factory) -> DQ:
    return DQ(tmp_path_factory.mktemp("gx_parity"))


@pytest.fixture(scope="session")
def gx_run() -> GX:
    return GX()


def gx_view(df: pl.DataFrame):
    """The frame as GX sees it: dq.interop.gx.batch_frame (blank strings become None, dq's definition)."""
    return batch_frame(df)


def assert_counts(dq: RuleResult, res, *, values: bool = True) -> None:
    """dq's failed == GX's unexpected_count; dq's evaluated == GX's non-missing elements."""
    r = res.result
    assert dq.failed == r["unexpected_count"], (dq, r)
    if values:
        assert dq.evaluated == r["element_count"] - r.get("missing_count", 0), (dq, r)


# ---------------------------------------------------------------- generators
OPS = [">", ">=", "<", "<=", "==", "!="]
TEXT = st.one_of(
    st.sampled_from(["1", "2", "9", "A", "J18.9", "I10.x00x002", "A00", "a01", "10", "", " ", "\t"]),
    st.text(alphabet="AJZa019.x -é中１\u00a0\u3000", max_size=6),
)
INTS = st.integers(-5, 5)
FLOATS = st.floats(-5, 5, allow_nan=False, allow_infinity=False)
DAYS = st.dates(dt.date(2019, 12, 28), dt.date(2020, 1, 6))
TIMES = st.datetimes(dt.datetime(2019, 12, 31), dt.datetime(2020, 1, 3)).map(
    lambda t: t.replace(microsecond=0, second=0, minute=t.minute // 15 * 15)
)
VALUES = {"s": TEXT, "s2": TEXT, "i": INTS, "j": INTS, "f": FLOATS, "g": FLOATS, "d": DAYS, "t": TIMES}
VALUES["t2"] = TIMES


@st.composite
def frames(draw, *columns: str, max_rows: int = 40) -> pl.DataFrame:
    """A frame of 0..max_rows rows with the given columns, about a quarter of values null."""
    n = draw(st.integers(0, max_rows))
    data = {}
    for c in columns:
        value = VALUES[c]
        cell = st.one_of(st.none(), value, value, value)
        data[c] = pl.Series(c, draw(st.lists(cell, min_size=n, max_size=n)), dtype=COLUMNS[c][1])
    return pl.DataFrame(data) if data else pl.DataFrame({"s": pl.Series([None] * n, dtype=pl.String)})


def bounds(values: st.SearchStrategy) -> st.SearchStrategy[tuple[Any, Any]]:
    """(min, max) with at least one bound and min <= max."""
    pair = st.tuples(st.one_of(st.none(), values), st.one_of(st.none(), values))
    return pair.filter(lambda b: b != (None, None)).map(
        lambda b: tuple(sorted(b, key=as_datetime)) if None not in b else b
    )


def as_datetime(v: Any) -> Any:
    if isinstance(v, dt.date) and not isinstance(v, dt.datetime):
        return dt.datetime(v.year, v.month, v.day)
    return v


# ---------------------------------------------------------------- boundary examples
# Hypothesis draws 25 examples by default, too few to hit every edge reliably: these frames run
# on every test run (@example) and put equal values, blanks and nulls first and last, where an
# off-by-one (> for >=), a lost blank rule or a shifted null would change a count.
D0, T0 = dt.date(2020, 1, 1), dt.datetime(2020, 1, 1, 12)
MIN15 = dt.timedelta(minutes=15)


def edge_frame(**columns: list[Any]) -> pl.DataFrame:
    """A frame of the given columns, typed as the parity table types them."""
    return pl.DataFrame([pl.Series(c, v, dtype=COLUMNS[c][1]) for c, v in columns.items()])


BLANKS = edge_frame(s=["", "1", " ", "A", None, "\t", "2", "  "], i=[None, 1, 1, 0, None, -1, 5, None])
EQUAL_INTS = edge_frame(i=[None, 1, 2, 1, 3, None, 0], j=[1, 1, 1, 2, None, None, 0])
EQUAL_FLOATS = edge_frame(f=[None, 1.0, 2.5, -0.0, 3.0, 1.0], g=[0.5, 1.0, 2.5, 0.0, None, None])
EQUAL_TIMES = edge_frame(
    t=[None, T0, T0 + MIN15, T0, T0 - MIN15, None], t2=[T0, T0, T0, T0 + MIN15, T0, None]
)
EQUAL_DAYS = edge_frame(
    d=[None, D0, D0, dt.date(2020, 1, 2), D0, None], t=[T0, dt.datetime(2020, 1, 1), T0, T0, None, None]
)


def examples(*cases: dict[str, Any]):
    """Stack one ``@example`` per keyword dict (they always run, before the drawn examples)."""

    def decorate(f):
        for kw in cases:
            f = example(**kw)(f)
        return f

    return decorate


# ---------------------------------------------------------------- completeness
@PROPERTY
@given(df=frames("s", "i"), column=st.sampled_from(["s", "i"]))
@example(df=BLANKS, column="s")
@example(df=BLANKS, column="i")
def test_not_null(dq_run, gx_run, df, column):
    dq = dq_run(df, "not_null", {"column": column})
    res = gx_run(df, gxe.ExpectColumnValuesToNotBeNull(column=column))
    assert dq.failed == res.result["unexpected_count"]
    assert dq.evaluated == res.result["element_count"] == df.height


@PROPERTY
@given(df=frames(), lo_hi=bounds(st.integers(0, 40)))
def test_row_count(dq_run, gx_run, df, lo_hi):
    lo, hi = lo_hi
    dq = dq_run(df, "row_count", {"min": lo, "max": hi})
    res = gx_run(df, gxe.ExpectTableRowCountToBeBetween(min_value=lo, max_value=hi))
    assert (dq.status == "pass") == res.success
    assert dq.failed == (0 if res.success else 1)
    assert res.result["observed_value"] == df.height


# ---------------------------------------------------------------- conformance
@PROPERTY
@given(
    df=frames("s"),
    value_set=st.lists(st.sampled_from(["1", "2", "9", "A", "J18.9", "a01", "10", "x"]), min_size=1),
)
@example(df=BLANKS.select("s"), value_set=["1", "A", " "])
@example(df=BLANKS.select("s"), value_set=[""])
def test_in_set_strings(dq_run, gx_run, df, value_set):
    dq = dq_run(df, "in_set", {"column": "s", "values": value_set})
    res = gx_run(df, gxe.ExpectColumnValuesToBeInSet(column="s", value_set=value_set))
    assert_counts(dq, res)


@PROPERTY
@given(df=frames("i"), value_set=st.lists(INTS, min_size=1))
def test_in_set_integers(dq_run, gx_run, df, value_set):
    dq = dq_run(df, "in_set", {"column": "i", "values": value_set})
    res = gx_run(df, gxe.ExpectColumnValuesToBeInSet(column="i", value_set=value_set))
    assert_counts(dq, res)


@PROPERTY
@given(df=frames("f"), value_set=st.lists(FLOATS, min_size=1))
def test_in_set_decimals(dq_run, gx_run, df, value_set):
    dq = dq_run(df, "in_set", {"column": "f", "values": value_set})
    res = gx_run(df, gxe.ExpectColumnValuesToBeInSet(column="f", value_set=value_set))
    assert_counts(dq, res)


def test_in_set_whole_numbers_on_decimal_column(dq_run, gx_run):
    df = pl.DataFrame({"f": [0.0, 10.0, 5.5, None]})
    dq = dq_run(df, "in_set", {"column": "f", "values": [0, 10]})
    res = gx_run(df, gxe.ExpectColumnValuesToBeInSet(column="f", value_set=[0, 10]))
    assert dq.failed == res.result["unexpected_count"] == 1


@PROPERTY
@given(df=frames("s"))
def test_in_set_code_set(dq_run, gx_run, df):
    dq = dq_run(df, "in_set", {"column": "s", "code_set": "codes"})
    res = gx_run(df, gxe.ExpectColumnValuesToBeInSet(column="s", value_set=["1", "2", "9"]))
    assert_counts(dq, res)


PATTERNS = [
    r"^[A-Z][0-9]{2}(\.[0-9x][0-9]{0,2}(x[0-9]{3})?)?$",  # ICD-10 of the upload spec
    r"^[0-9]+$",
    r"^J",
    r"x$",
    r"\.",
    r"[0-9]{2}",
    r"A|Z",
    r"^\s*[a-z]",
    r"^[^ ]*$",
    r"\d{2}",
    r"^\w+$",
]


@PROPERTY
@given(df=frames("s"), pattern=st.sampled_from(PATTERNS))
@example(df=BLANKS.select("s"), pattern=r"^\s*[a-z]")
@example(df=BLANKS.select("s"), pattern=r"^[^ ]*$")
def test_regex(dq_run, gx_run, df, pattern):
    dq = dq_run(df, "regex", {"column": "s", "pattern": pattern})
    res = gx_run(df, gxe.ExpectColumnValuesToMatchRegex(column="s", regex=pattern))
    assert_counts(dq, res)


@PROPERTY
@given(df=frames("s"), lo_hi=bounds(st.integers(0, 6)))
@example(df=BLANKS.select("s"), lo_hi=(1, 1))
@example(df=BLANKS.select("s"), lo_hi=(0, 2))
def test_length(dq_run, gx_run, df, lo_hi):
    lo, hi = lo_hi
    dq = dq_run(df, "length", {"column": "s", "min": lo, "max": hi})
    res = gx_run(df, gxe.ExpectColumnValueLengthsToBeBetween(column="s", min_value=lo, max_value=hi))
    assert_counts(dq, res)


def test_datetime_bound_on_date_column_differs(dq_run, gx_run):
    """Documented difference: dq truncates a datetime bound to the day of a date column."""
    df = pl.DataFrame({"d": [dt.date(2020, 1, 1), dt.date(2020, 1, 2)]})
    noon = dt.datetime(2020, 1, 1, 12)
    dq = dq_run(df, "between", {"column": "d", "min": noon})
    res = gx_run(df, gxe.ExpectColumnValuesToBeBetween(column="d", min_value=noon))
    assert (dq.failed, res.result["unexpected_count"]) == (0, 1)


def test_regex_dollar_before_trailing_newline_differs(dq_run, gx_run):
    """Documented difference: Python's ``$`` matches before a final newline, Rust's does not."""
    df = pl.DataFrame({"s": ["J18", "J18\n"]})
    dq = dq_run(df, "regex", {"column": "s", "pattern": "^J18$"})
    res = gx_run(df, gxe.ExpectColumnValuesToMatchRegex(column="s", regex="^J18$"))
    assert (dq.failed, res.result["unexpected_count"]) == (1, 0)


# ---------------------------------------------------------------- plausibility
@st.composite
def between_cases(draw) -> tuple[str, pl.DataFrame, Any, Any]:
    """(column, frame, min, max): whole-number and fractional bounds on both numeric types;
    date bounds on dates and datetimes, datetime bounds on datetimes."""
    column = draw(st.sampled_from(["i", "f", "d", "t"]))
    number = st.one_of(INTS, FLOATS)
    values = {"i": number, "f": number, "d": DAYS, "t": st.one_of(DAYS, TIMES)}[column]
    lo, hi = draw(bounds(values))
    return column, draw(frames(column)), lo, hi


INCLUSIVE = [(True, True), (False, False), (True, False), (False, True)]
BETWEEN_EDGES = [
    {"case": case, "min_inclusive": lo_in, "max_inclusive": hi_in}
    for case in [
        ("i", EQUAL_INTS.select("i"), 1, 2),
        ("f", EQUAL_FLOATS.select("f"), 0, 2.5),
        ("d", EQUAL_DAYS.select("d"), D0, dt.date(2020, 1, 2)),
        ("t", EQUAL_TIMES.select("t"), T0 - MIN15, T0),
        ("t", EQUAL_DAYS.select("t"), D0, D0),
    ]
    for lo_in, hi_in in INCLUSIVE
]


@PROPERTY
@given(case=between_cases(), min_inclusive=st.booleans(), max_inclusive=st.booleans())
@examples(*BETWEEN_EDGES)
def test_between(dq_run, gx_run, case, min_inclusive, max_inclusive):
    column, df, lo, hi = case
    params = {"column": column, "min": lo, "max": hi}
    params |= {"min_inclusive": min_inclusive, "max_inclusive": max_inclusive}
    dq = dq_run(df, "between", params)
    res = gx_run(
        df,
        gxe.ExpectColumnValuesToBeBetween(
            column=column,
            min_value=as_datetime(lo),
            max_value=as_datetime(hi),
            strict_min=not min_inclusive,
            strict_max=not max_inclusive,
        ),
    )
    assert_counts(dq, res)


PAIRS = [("i", "j"), ("f", "g"), ("i", "f"), ("t", "t2"), ("d", "t")]


@st.composite
def pair_cases(draw) -> tuple[str, str, pl.DataFrame]:
    a, b = draw(st.sampled_from(PAIRS))
    return a, b, draw(frames(a, b))


PAIR_EDGES = [
    {"case": case, "op": op}
    for case in [
        ("i", "j", EQUAL_INTS),
        ("f", "g", EQUAL_FLOATS),
        ("t", "t2", EQUAL_TIMES),
        ("d", "t", EQUAL_DAYS),
        ("i", "f", edge_frame(i=[None, 1, 0, 2], f=[1.0, 1.0, -0.0, None])),
    ]
    for op in (">", ">=", "<", "<=")
]


@PROPERTY
@given(case=pair_cases(), op=st.sampled_from([">", ">=", "<", "<="]))
@examples(*PAIR_EDGES)
def test_compare_columns(dq_run, gx_run, case, op):
    a, b, df = case
    dq = dq_run(df, "compare", {"left": a, "op": op, "right": b})
    # a < b  <=>  b > a: GX has only the "greater than" pair expectation.
    col_a, col_b = (a, b) if op in (">", ">=") else (b, a)
    res = gx_run(
        df,
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=col_a,
            column_B=col_b,
            or_equal=op.endswith("="),
            ignore_row_if="either_value_is_missing",
        ),
    )
    assert dq.failed == res.result["unexpected_count"], (dq, res.result)
    both = df.filter(pl.col(a).is_not_null() & pl.col(b).is_not_null()).height
    assert dq.evaluated == both


@st.composite
def value_cases(draw) -> tuple[str, pl.DataFrame, Any]:
    column = draw(st.sampled_from(["i", "f", "t"]))
    value = draw({"i": INTS, "f": st.one_of(INTS, FLOATS), "t": TIMES}[column])
    return column, draw(frames(column)), value


VALUE_EDGES = [
    {"case": case, "op": op}
    for case in [
        ("i", EQUAL_INTS.select("i"), 1),
        ("f", EQUAL_FLOATS.select("f"), 0),
        ("f", EQUAL_FLOATS.select("f"), 2.5),
        ("t", EQUAL_TIMES.select("t"), T0),
    ]
    for op in OPS
]


@PROPERTY
@given(case=value_cases(), op=st.sampled_from(OPS))
@examples(*VALUE_EDGES)
def test_compare_value(dq_run, gx_run, case, op):
    """column OP value, exported by dq.interop.gx as a between / in-set / not-in-set expectation."""
    column, df, value = case
    dq = dq_run(df, "compare", {"left": column, "op": op, "right": value})
    kw: dict[str, Any] = {"column": column}
    if op in (">", ">="):
        e = gxe.ExpectColumnValuesToBeBetween(**kw, min_value=value, strict_min=op == ">")
    elif op in ("<", "<="):
        e = gxe.ExpectColumnValuesToBeBetween(**kw, max_value=value, strict_max=op == "<")
    elif op == "==":
        e = gxe.ExpectColumnValuesToBeInSet(**kw, value_set=[value])
    else:
        e = gxe.ExpectColumnValuesToNotBeInSet(**kw, value_set=[value])
    assert_counts(dq, gx_run(df, e))


# ---------------------------------------------------------------- uniqueness
@st.composite
def unique_cases(draw, choices: list[Any]) -> tuple[Any, pl.DataFrame]:
    columns = draw(st.sampled_from(choices))
    return columns, draw(frames(*([columns] if isinstance(columns, str) else columns)))


@PROPERTY
@given(case=unique_cases(["s", "i", "f", "t"]))
@examples(
    {"case": ("s", BLANKS.select("s").vstack(BLANKS.select("s")))},
    {"case": ("i", BLANKS.select("i"))},
    {"case": ("f", EQUAL_FLOATS.select("f"))},  # 0.0 and -0.0 are one value
    {"case": ("t", EQUAL_TIMES.select("t"))},
)
def test_unique(dq_run, gx_run, case):
    column, df = case
    dq = dq_run(df, "unique", {"columns": [column]})
    res = gx_run(df, gxe.ExpectColumnValuesToBeUnique(column=column))
    assert_counts(dq, res)


@PROPERTY
@given(case=unique_cases([["s", "s2"], ["s", "i"], ["i", "j", "d"]]))
@examples(
    {"case": (["s", "i"], BLANKS)},
    {"case": (["s", "s2"], BLANKS.with_columns(s2=pl.col("s").reverse()))},
    {"case": (["i", "j", "d"], EQUAL_INTS.with_columns(d=pl.lit(D0)))},
)
def test_compound_unique(dq_run, gx_run, case):
    columns, df = case
    dq = dq_run(df, "unique", {"columns": columns})
    res = gx_run(
        df,
        gxe.ExpectCompoundColumnsToBeUnique(column_list=columns, ignore_row_if="any_value_is_missing"),
    )
    assert dq.failed == res.result["unexpected_count"], (dq, res.result)
    complete = gx_view(df).dropna(subset=columns).shape[0]
    assert dq.evaluated == complete


# ---------------------------------------------------------------- blank strings, explicitly
def test_blank_strings_are_missing_in_dq_only(dq_run, gx_run):
    """Without the blank -> None mapping GX and dq disagree, as documented above."""
    df = pl.DataFrame({"s": ["1", "", "  ", None]})
    dq = dq_run(df, "not_null", {"column": "s"})
    assert dq.failed == 3
    raw: Callable = gx_run.batch_definition.get_batch
    res = raw(batch_parameters={"dataframe": df.to_pandas()}).validate(
        gxe.ExpectColumnValuesToNotBeNull(column="s")
    )
    assert res.result["unexpected_count"] == 1
    dq = dq_run(df, "in_set", {"column": "s", "values": ["1"]})
    res = raw(batch_parameters={"dataframe": df.to_pandas()}).validate(
        gxe.ExpectColumnValuesToBeInSet(column="s", value_set=["1"])
    )
    assert (dq.failed, res.result["unexpected_count"]) == (0, 2)
