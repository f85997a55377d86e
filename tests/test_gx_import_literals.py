"""Every value that comes from a GX suite is a literal in dq's rule: never read as a column name
or as SQL. One frame whose values look like its own column names, quotes and SQL; every
mapping that carries values (sets, patterns, bounds, pairs, totals, formats, row conditions)
is imported and run by dq, and the same expectation is run by GX (the real GX 1.x, on the same
data as pandas): both must agree on success and on the number of unexpected values. The
refusals (mostly outside [0, 1], min > max where GX refuses it, positional arguments) say
what GX means.
"""

from __future__ import annotations

import json
from typing import Any

import great_expectations as gx
import polars as pl
import pytest

import dq
from dq.cli import main
from dq.interop.gx import import_suite
from dq.io.catalogue import load_catalogue

CATALOGUE = load_catalogue()

# Column names and values that look like each other, like SQL and like quoting.
FRAME = pl.DataFrame(
    {
        "name": ["name", "O'Brien", "1", "x' OR '1'='1", None, "a; DROP TABLE t", '"code"', "n + 1"],
        "code": ["name", "code", "1", "name", "b", "name", "c", "1"],
        "n": [1, 2, 3, 4, None, 6, 7, 8],
        "m": [1, 2, 3, 4, 5, 6, 7, 9],
    }
)
TRICKY = ["name", "code", "1", "O'Brien", "x' OR '1'='1", '"code"', "n + 1", "a; DROP TABLE t", "n"]


def gx_result(etype: str, kwargs: dict[str, Any]) -> tuple[bool, int | None]:
    context = gx.get_context(mode="ephemeral")
    batch = (
        context.data_sources.add_pandas("p")
        .add_dataframe_asset("a")
        .add_batch_definition_whole_dataframe("w")
        .get_batch(batch_parameters={"dataframe": FRAME.to_pandas()})
    )
    suite = gx.ExpectationSuite(name="s", expectations=[{"type": etype, "kwargs": kwargs}])
    (res,) = batch.validate(suite, result_format="COMPLETE").results
    assert not res.exception_info.get("raised_exception"), res.exception_info
    return bool(res.success), res.result.get("unexpected_count")


def dq_import(etype: str, kwargs: dict[str, Any]):
    suite = {"name": "s", "expectations": [{"type": etype, "kwargs": kwargs}]}
    return import_suite(suite, table="frame", schema=FRAME.schema, catalogue=CATALOGUE)


def dq_result(etype: str, kwargs: dict[str, Any]):
    imported = dq_import(etype, kwargs)
    assert not imported.not_imported, imported.not_imported
    (rule,) = imported.rules
    (r,) = dq.validate(FRAME, imported.suite, catalogue=CATALOGUE)
    assert r.status != "error", r.message
    return rule, r


E = "expect_column_"
NOT_IN, IN_SET, NOT_NULL = (
    E + "values_to_not_be_in_set",
    E + "values_to_be_in_set",
    E + "values_to_not_be_null",
)
EVIL = "x' OR '1'='1"


def _cmp(col: str, op: str, v: Any) -> dict[str, Any]:
    return {"type": "comparison", "column": {"name": col}, "operator": op, "parameter": v}


CASES: list[tuple[str, dict[str, Any]]] = [
    *[(NOT_IN, {"column": c, "value_set": [v]}) for c in ("name", "code") for v in TRICKY],
    (NOT_IN, {"column": "name", "value_set": TRICKY}),
    (NOT_IN, {"column": "n", "value_set": ["1", "n"]}),
    (NOT_IN, {"column": "n", "value_set": [1, "m"]}),
    (NOT_IN, {"column": "name", "value_set": [None]}),
    *[(IN_SET, {"column": c, "value_set": [v, "name"]}) for c in ("name", "code") for v in TRICKY],
    (IN_SET, {"column": "code", "value_set": ["name", "code", "1", "b", "c"]}),
    *[(f"{E}distinct_values_to_{k}", {"column": "code", "value_set": ["name", "code", v]})
      for k in ("be_in_set", "contain_set", "equal_set") for v in ("1", "b", "O'Brien", EVIL)],
    (E + "distinct_values_to_equal_set", {"column": "code", "value_set": ["name", "code", "1", "b", "c"]}),
    *[(E + "most_common_value_to_be_in_set", {"column": "code", "value_set": [v]}) for v in ("name", "code")],
    *[(E + "values_to_match_regex", {"column": "name", "regex": r})
      for r in ("name", "O'Brien", "^1$", "' OR '")],
    (E + "values_to_not_match_regex", {"column": "name", "regex": "' OR '"}),
    (E + "values_to_match_regex_list", {"column": "name", "regex_list": ["name", "'"], "match_on": "any"}),
    (E + "values_to_not_match_regex_list", {"column": "name", "regex_list": ["DROP", '"']}),
    *[(f"{E}{s}_to_be_between", {"column": "m", "min_value": lo, "max_value": hi})
      for s in ("min", "max", "mean", "median", "sum") for lo, hi in ((1, 9), (2, None), (None, 8.5))],
    (E + "pair_values_to_be_in_set", {
        "column_A": "name", "column_B": "code",
        "value_pairs_set": [["name", "name"], ["O'Brien", "code"], ["1", "1"], [EVIL, "name"]],
    }),
    (E + "pair_values_to_be_in_set",
     {"column_A": "code", "column_B": "name", "value_pairs_set": [["name", "name"]]}),
    (E + "values_to_match_strftime_format", {"column": "code", "strftime_format": "'%Y'"}),
    ("expect_multicolumn_sum_to_equal", {"column_list": ["n", "m"], "sum_total": 2}),
    (E + "value_lengths_to_equal", {"column": "code", "value": 4}),
    *[(NOT_NULL, {"column": "n", "row_condition": cond, "condition_parser": "pandas"})
      for cond in ('name == "O\'Brien"', 'code == "name"', f'name == "{EVIL}"', 'name == "n + 1"',
                   'name != "name" & code == "1"', 'code in ["name", "1"]')],
    (IN_SET, {
        "column": "code", "value_set": ["name"], "row_condition": 'name == "a; DROP TABLE t"',
        "condition_parser": "pandas",
    }),
    # GX 1.x condition objects, as a suite's JSON holds them
    *[(NOT_NULL, {"column": "n", "row_condition": _cmp("name", op, v)})
      for op, v in (("==", "O'Brien"), ("!=", "name"), ("IN", ["code", EVIL]), ("NOT_IN", ["n + 1"]))],
    (IN_SET, {"column": "code", "value_set": ["name", "1"], "row_condition": {
        "type": "or",
        "conditions": [
            _cmp("code", "==", "name"), {"type": "nullity", "column": {"name": "n"}, "is_null": True},
        ],
    }}),
]  # fmt: skip


@pytest.mark.parametrize(("etype", "kwargs"), CASES, ids=[f"{i}-{c[0][7:]}" for i, c in enumerate(CASES)])
def test_gx_values_are_literals_in_dq(etype, kwargs):
    rule, r = dq_result(etype, kwargs)
    # the values travel as typed parameters, never as an SQL expression or a compared column
    assert rule["check"] not in ("expression", "compare")
    success, unexpected = gx_result(etype, kwargs)
    assert (r.status in ("pass", "not_applicable")) == success, (rule, r.message)
    if unexpected is not None and rule["check"] not in ("distinct_values", "most_common_in_set"):
        assert r.failed == unexpected, (rule, r.message)


def test_one_value_not_in_set_is_the_value():
    # the case the issue found: ["name"] was read as the column `name`
    rule, r = dq_result("expect_column_values_to_not_be_in_set", {"column": "code", "value_set": ["name"]})
    assert rule["params"] == {"column": "code", "values": ["name"]}
    assert (r.evaluated, r.failed, r.status) == (8, 3, "fail")
    _, r = dq_result("expect_column_values_to_not_be_in_set", {"column": "code", "value_set": ["1"]})
    assert (r.failed, r.status) == (2, "fail")
    rule, r = dq_result("expect_column_values_to_not_be_in_set", {"column": "name", "value_set": ["O'Brien"]})
    assert rule["params"]["values"] == ["O'Brien"] and r.failed == 1


def test_not_in_set_with_only_null_passes():
    rule, r = dq_result("expect_column_values_to_not_be_in_set", {"column": "name", "value_set": [None]})
    assert rule["check"] == "not_in_set" and r.status == "pass" and r.evaluated == 7


@pytest.mark.parametrize("bound", ["n", "m", "1; DROP TABLE t", "n + 1"])
def test_a_text_bound_is_never_a_column(bound):
    # GX takes numbers and dates as bounds; text that names a column is refused, not compared
    (n,) = dq_import("expect_column_max_to_be_between", {"column": "m", "min_value": bound}).not_imported
    assert f"bound {bound!r} is not a number" in n["reason"]


def test_row_condition_values_are_sql_literals():
    imported = dq_import(
        "expect_column_values_to_not_be_null",
        {
            "column": "n",
            "row_condition": "name == \"x' OR '1'='1\" | code == \"name\"",
            "condition_parser": "pandas",
        },
    )
    assert imported.rules[0]["when"] == """(("name" = 'x'' OR ''1''=''1') OR ("code" = 'name'))"""


@pytest.mark.parametrize(
    ("kwargs", "fragments"),
    [
        ({"column": "n", "mostly": 1.1}, ("mostly 1.1 is not in [0, 1]", "fraction of values")),
        ({"column": "n", "mostly": -0.5}, ("mostly -0.5 is not in [0, 1]", "fraction of values")),
        ({"column": "n", "mostly": "0.9"}, ("mostly '0.9' is not a number",)),
    ],
)
def test_mostly_outside_0_1_is_refused(kwargs, fragments):
    imported = dq_import("expect_column_values_to_not_be_null", kwargs)
    (n,) = imported.not_imported
    assert all(f in n["reason"] for f in fragments), n["reason"]


@pytest.mark.parametrize(
    ("etype", "kwargs"),
    [
        ("expect_column_values_to_be_between", {"column": "n", "min_value": 5, "max_value": 1}),
        ("expect_table_row_count_to_be_between", {"min_value": 5, "max_value": 1}),
        ("expect_table_column_count_to_be_between", {"min_value": 5, "max_value": 1}),
    ],
)
def test_min_greater_than_max_is_refused_where_gx_refuses_it(etype, kwargs):
    (n,) = dq_import(etype, kwargs).not_imported
    assert "greater than max_value" in n["reason"] and "GX refuses" in n["reason"]


def test_min_greater_than_max_fails_every_value_where_gx_does():
    # GX's own definitions: lengths between 1 and 0 -> every value unexpected
    _, r = dq_result(
        "expect_column_value_lengths_to_be_between", {"column": "code", "min_value": 1, "max_value": 0}
    )
    assert (r.failed, r.evaluated) == (8, 8)


def test_positional_arguments_are_refused_with_gx_meaning(tmp_path, capsys):
    suite = {
        "name": "s",
        "expectations": [
            {"type": "expect_table_row_count_to_be_between", "kwargs": [1, 3]},
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "visit_id"}},
        ],
    }
    src = tmp_path / "s.json"
    src.write_text(json.dumps(suite), encoding="utf-8")
    out = tmp_path / "s.yaml"
    assert main(["gx", "import", str(src), "--table", "outpatient_visit", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "#1 expect_table_row_count_to_be_between(positional arguments): positional arguments [1, 3]" in err
    assert "names every argument" in err
    only = tmp_path / "only.json"
    only.write_text(json.dumps(dict(suite, expectations=suite["expectations"][:1])), encoding="utf-8")
    assert main(["gx", "import", str(only), "--table", "outpatient_visit", "--out", str(out)]) == 2
    assert "nothing written" in capsys.readouterr().err
