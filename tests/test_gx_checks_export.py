"""The checks added for GX interop work in dq's own suites, export back to GX and import again.

Every check of dq/engine/checks/values.py and dq/engine/checks/statistics.py is written as a dq rule on one
frame, run by dq (:func:`dq.validate`), exported with :func:`dq.interop.gx.to_gx_suite`, run by the real
GX 1.x on the same data (pandas), and the two must agree on success and, for row-level checks,
on the number of failing rows. The exported expectation imported back gives the same rule.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from typing import Any

import great_expectations as gx
import polars as pl
import pytest

import dq
from dq.engine.checks import REGISTRY
from dq.engine.suite import suite_from_data
from dq.interop.gx import import_suite, to_gx_suite
from dq.io.catalogue import frame_table, load_catalogue

FRAME = pl.DataFrame(
    {
        "a": [1, 2, 3, 5, 4, None, 7, 8],
        "b": [1, 1, 2, 5, 9, 3, None, 8],
        "c": [0, 1, 1, 0, -5, None, 0, 0],
        "s": ["x", "y", "x", "z", "x", None, "w", "x"],
        "t": ["x", "q", "x", "z", "r", "y", None, "x"],
        "d": ["2020-01-01", "2020-02-30", "not a date", "March 3, 2021", None, "2020-12-31", "1/2/2020", "x"],
        "j": ['{"a": 1}', "[1, 2]", "{bad", "3", None, '"s"', "null", "{}"],
        "ts": [dt.datetime(2020, 1, i) for i in (1, 2, 2, 3, 5, 4, 6, 7)],
    }
)
# schema-level and whole-column checks: GX reports no unexpected rows for them
AGGREGATE = {
    "column_stat", "quantiles", "distinct_values", "distinct_count", "most_common_in_set", "column_count",
    "columns_match", "column_at", "dtype",
}  # fmt: skip

RULES: list[tuple[str, dict[str, Any]]] = [
    ("not_in_set", {"column": "s", "values": ["x", "q"]}),
    ("not_in_set", {"column": "a", "values": [3, 8]}),
    ("is_null", {"column": "t"}),
    ("monotonic", {"column": "a"}),
    ("monotonic", {"column": "ts", "strictly": True}),
    ("monotonic", {"column": "b", "direction": "decreasing"}),
    ("strftime", {"column": "d", "format": "%Y-%m-%d"}),
    ("parseable", {"column": "d", "kind": "date"}),
    ("parseable", {"column": "j", "kind": "json"}),
    ("regex_list", {"column": "s", "patterns": ["x", "y"]}),
    ("regex_list", {"column": "d", "patterns": ["^2020", "-"], "match_on": "all"}),
    ("regex_list", {"column": "s", "patterns": ["z"], "negate": True}),
    ("regex_list", {"column": "s", "patterns": ["z", "w"], "negate": True}),
    ("dtype", {"column": "ts", "types": ["datetime64"]}),
    ("dtype", {"column": "s", "types": ["int", "float"]}),
    ("pair", {"column_a": "a", "column_b": "b", "op": ">"}),
    ("pair", {"column_a": "a", "column_b": "b", "op": ">=", "ignore_row_if": "either_value_is_missing"}),
    ("pair", {"column_a": "s", "column_b": "t", "op": "==", "ignore_row_if": "neither"}),
    ("pair_in_set", {"column_a": "s", "column_b": "t", "pairs": [["x", "x"], ["y", "q"], ["z", "z"]]}),
    ("multicolumn_sum", {"columns": ["a", "c"], "total": 1}),
    ("multicolumn_sum", {"columns": ["a", "c"], "total": 8, "ignore_row_if": "any_value_is_missing"}),
    ("distinct_within_record", {"columns": ["a", "b", "c"]}),
    ("compound_unique", {"columns": ["s", "t"]}),
    ("compound_unique", {"columns": ["s", "c"], "ignore_row_if": "never"}),
    ("z_score", {"column": "b", "threshold": 1.2}),
    ("z_score", {"column": "b", "threshold": 1.2, "double_sided": False}),
    ("column_stat", {"column": "a", "stat": "mean", "min": 4, "max": 5}),
    ("column_stat", {"column": "a", "stat": "median", "max": 4}),
    ("column_stat", {"column": "b", "stat": "stdev", "min": 3}),
    ("column_stat", {"column": "c", "stat": "sum", "min": -4, "strict_min": True}),
    ("column_stat", {"column": "a", "stat": "min", "min": 1, "max": 1}),
    ("column_stat", {"column": "ts", "stat": "max", "min": "2020-01-07"}),
    ("quantiles", {"column": "a", "quantiles": [0, 0.5, 1], "ranges": [[1, 1], [3, 5], [None, 7]]}),
    ("distinct_values", {"column": "s", "values": ["x", "y", "z", "w"], "mode": "equal"}),
    ("distinct_values", {"column": "s", "values": ["x", "v"], "mode": "superset"}),
    ("distinct_values", {"column": "a", "values": [1, 2, 3, 4, 5, 7], "mode": "subset"}),
    ("distinct_count", {"column": "s", "min": 4, "max": 4}),
    ("distinct_count", {"column": "a", "proportion": True, "min": 1}),
    ("most_common_in_set", {"column": "s", "values": ["x"]}),
    ("most_common_in_set", {"column": "c", "values": [1], "ties_okay": True}),
    ("column_count", {"min": 8, "max": 8}),
    ("column_count", {"min": 2, "max": 7}),
    ("columns_match", {"columns": ["a", "b", "c", "s", "t", "d", "j", "ts"], "ordered": True}),
    ("columns_match", {"columns": ["a", "b", "x"], "exact": False}),
    ("column_at", {"column": "s", "index": 3}),
]


def _suite():
    cat = load_catalogue()
    cat = dataclasses.replace(cat, tables={**cat.tables, "frame": frame_table("frame", FRAME.schema)})
    rules = [
        {"id": f"R{i:02d}", "title": {"zh": c, "en": c}, "check": c, "params": p}
        for i, (c, p) in enumerate(RULES)
    ]
    doc = {"suite": "gx.checks", "title": {"zh": "x", "en": "x"}, "table": "frame", "rules": rules}
    return suite_from_data(doc, "<test>", cat), cat


def test_every_new_check_is_covered():
    from dq.engine.checks import statistics, values

    new = {c.name for c in (*values.CHECKS, *statistics.CHECKS)} - {"like", "row_count_equal_table"}
    assert new == {c for c, _ in RULES}
    assert all(REGISTRY[c].gx is not None for c in new)


def test_new_checks_count_like_gx():
    suite, cat = _suite()
    results = {r.rule: r for r in dq.validate(FRAME, suite, catalogue=cat)}
    doc = to_gx_suite(suite, cat)
    assert not doc["meta"]["dq_not_exported"]
    context = gx.get_context(mode="ephemeral")
    batch = (
        context.data_sources.add_pandas("p").add_dataframe_asset("a").add_batch_definition_whole_dataframe("w")
        .get_batch(batch_parameters={"dataframe": FRAME.to_pandas()})
    )  # fmt: skip
    outcome = batch.validate(gx.ExpectationSuite(**{**doc, "meta": {}}), result_format="COMPLETE")
    by_rule = {r.expectation_config.meta["dq_rule"]: r for r in outcome.results}
    statuses = set()
    for rule in suite.rules:
        res, mine = by_rule[rule.id], results[rule.id]
        assert not res.exception_info.get("raised_exception"), (rule.check, rule.params, res.exception_info)
        assert (mine.status in ("pass", "not_applicable")) == res.success, (
            rule.check,
            rule.params,
            mine.message,
        )
        if rule.check not in AGGREGATE:
            assert mine.failed == res.result["unexpected_count"], (rule.check, rule.params, mine.message)
        statuses.add(mine.status)
    assert statuses == {"pass", "fail"}  # the frame makes both happen


@pytest.mark.parametrize("like", [
    {"patterns": ["x%"]}, {"patterns": ["%-%-%", "_/_/%"]},
    {"patterns": ["2020%", "%-01"], "match_on": "all"},
    {"patterns": ["%a%"], "negate": True}, {"patterns": ["x", "%2021"], "negate": True},
])  # fmt: skip
def test_like_patterns(like):
    # GX runs LIKE patterns on SQL only: dq is checked against Python's fnmatch-like reading
    import re

    (r,) = dq.validate(FRAME, [{"id": "L", "check": "like", "params": {"column": "d", **like}}])
    regexes = ["^" + "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in p) + "$"
               for p in like["patterns"]]  # fmt: skip
    hits = [[bool(re.match(rx, v, re.S)) for rx in regexes] for v in FRAME["d"].to_list() if v is not None]
    match = [all(h) if like.get("match_on") == "all" else any(h) for h in hits]
    failed = sum(match) if like.get("negate") else sum(not m for m in match)
    assert r.failed == failed and r.evaluated == len(hits)


def test_export_then_import_gives_the_same_rules():
    suite, cat = _suite()
    doc = to_gx_suite(suite, cat)
    imported = import_suite(doc, table="frame", schema=FRAME.schema, catalogue=cat)
    assert not imported.not_imported
    for rule, back in zip(suite.rules, imported.rules, strict=True):
        assert back["id"] == rule.id
        defaults = {p.name: p.default for p in REGISTRY[rule.check].params if not p.required}
        if rule.check == "unique":
            continue
        assert back["check"] == rule.check, (rule.check, back)
        assert _same({**defaults, **back["params"]}) == _same(rule.params.as_mapping()), (rule.check, back)


def _same(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters compared as values: a date bound travels as a datetime's ISO text."""
    out = {}
    for k, v in params.items():
        if isinstance(v, str):
            with contextlib.suppress(ValueError):
                v = dt.datetime.fromisoformat(v)
        out[k] = v
    return out


def test_row_count_equal_table_in_an_audit(tmp_path):
    from dq.engine.evaluate import evaluate_frame

    _, cat = _suite()
    rule = {
        "id": "RC",
        "title": {"zh": "x", "en": "x"},
        "check": "row_count_equal_table",
        "params": {"table": "frame"},
    }
    doc = {"suite": "gx.rc", "title": {"zh": "x", "en": "x"}, "table": "frame", "rules": [rule]}
    (r,) = suite_from_data(doc, "<test>", cat).rules
    lf = FRAME.lazy()
    _, (res,) = evaluate_frame(lf, [r], "frame", catalogue=cat, tables={"frame": lf})
    assert res.status == "pass" and "8 rows; frame has 8" in res.message
    _, (res,) = evaluate_frame(lf.head(3), [r], "frame", catalogue=cat, tables={"frame": lf})
    assert res.status == "fail"
    other = {**doc, "rules": [{**rule, "params": {"table": "outpatient_visit"}}]}
    (r,) = suite_from_data(other, "<test>", cat).rules
    _, (res,) = evaluate_frame(lf, [r], "frame", catalogue=cat, tables={"frame": lf})
    assert res.status == "not_applicable" and "outpatient_visit" in res.message


def test_values_of_identifier_columns_never_appear_in_messages():
    cat = load_catalogue()
    spec = cat.table("patient_index")
    names = ["张三", "李四", "李四", "王五"]
    frame = pl.DataFrame(
        {c.name: [None] * 4 for c in spec.columns}, schema={c.name: c.dtype for c in spec.columns}
    )
    frame = frame.with_columns(pl.Series("name", names, dtype=pl.String))
    rules = [
        {
            "id": "D",
            "check": "distinct_values",
            "params": {"column": "name", "values": ["x"], "mode": "subset"},
        },
        {"id": "M", "check": "most_common_in_set", "params": {"column": "name", "values": ["x"]}},
        {"id": "S", "check": "column_stat", "params": {"column": "name", "stat": "max", "max": "a"}},
    ]
    results = dq.validate(frame, rules, table="patient_index", catalogue=cat)
    assert [r.status for r in results] == ["fail", "fail", "fail"]
    for r in results:
        assert "masked" in r.message and not any(n in r.message for n in names), r.message
