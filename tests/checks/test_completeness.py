"""Completeness checks: not_null, columns_present, row_count.

Each case: a tiny input table, one rule, the expected (status, evaluated, failed).
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from conftest import Case, case, check_case, checks_covered, make_rule, run_one

from dq.engine.checks import _completeness as completeness

D = dt.date(1990, 1, 1)
PI_REQUIRED = ["patient_id", "name", "sex_code", "birth_date", "upload_time"]
FULL_PI = {
    "patient_id": ["p1"],
    "name": ["王小明"],
    "sex_code": ["1"],
    "birth_date": [D],
    "upload_time": [dt.datetime(2020, 9, 1)],
}

CASES = [
    # ---------------------------------------------------------------- not_null
    case("not_null/all-present", "not_null", {"column": "name"}, {"name": ["a", "b"]}, ("pass", 2, 0)),
    case(
        "not_null/null-empty-blank-tab",
        "not_null",
        {"column": "name"},
        {"name": ["a", None, "", "  ", "\t"]},
        ("fail", 5, 4),
        message="4 of 5 fail",
    ),
    case(
        "not_null/typed-date-column",
        "not_null",
        {"column": "birth_date"},
        {"birth_date": [D, None, D]},
        ("fail", 3, 1),
    ),
    case("not_null/empty-table", "not_null", {"column": "name"}, {"name": []}, ("not_applicable", 0, 0)),
    case(
        "not_null/when-id_type-01",
        "not_null",
        {"column": "id_no"},
        {"id_type": ["01", "02", "01", None], "id_no": [None, None, "x", None]},
        ("fail", 2, 1),
        when="id_type = '01'",
    ),
    case(
        "not_null/when-matches-no-row",
        "not_null",
        {"column": "id_no"},
        {"id_type": ["02"], "id_no": [None]},
        ("not_applicable", 0, 0),
        when="id_type = '01'",
        message="no rows to evaluate",
    ),
    case(
        "not_null/max_fraction-at-limit-passes",
        "not_null",
        {"column": "name"},
        {"name": ["a", "b", None, None]},
        ("pass", 4, 2),
        threshold={"max_fraction": 0.5},
    ),
    case(
        "not_null/max_fraction-exceeded",
        "not_null",
        {"column": "name"},
        {"name": ["a", None, None, None]},
        ("fail", 4, 3),
        threshold={"max_fraction": 0.5},
    ),
    case(
        "not_null/max_count-only-at-limit",
        "not_null",
        {"column": "name"},
        {"name": [None, "b"]},
        ("pass", 2, 1),
        threshold={"max_count": 1},
    ),
    case(
        "not_null/max_count-exceeded",
        "not_null",
        {"column": "name"},
        {"name": [None, None, "c"]},
        ("fail", 3, 2),
        threshold={"max_count": 1},
    ),
    case(
        "not_null/both-limits-count-binds",
        "not_null",
        {"column": "name"},
        {"name": [None, None, *"abcdefgh"]},
        ("fail", 10, 2),
        threshold={"max_fraction": 0.5, "max_count": 1},
    ),
    case(
        "not_null/warning-severity-warns",
        "not_null",
        {"column": "name"},
        {"name": [None, "b"]},
        ("warn", 2, 1),
        severity="warning",
    ),
    case(
        "not_null/critical-severity-fails",
        "not_null",
        {"column": "name"},
        {"name": [None, "b"]},
        ("fail", 2, 1),
        severity="critical",
    ),
    # ---------------------------------------------------------------- columns_present
    case(
        "columns_present/required-all-there",
        "columns_present",
        {},
        FULL_PI,
        ("pass", 5, 0),
        message="all 5 columns present",
    ),
    case(
        "columns_present/missing-named",
        "columns_present",
        {},
        {k: v for k, v in FULL_PI.items() if k not in ("name", "upload_time")},
        ("fail", 5, 2),
        message="missing: name, upload_time",
    ),
    case(
        "columns_present/mistyped-date-as-int",
        "columns_present",
        {},
        {**FULL_PI, "birth_date": [19900101]},
        ("fail", 5, 1),
        schema={"birth_date": pl.Int64},
        message="wrong type: birth_date (Int64, expected date)",
    ),
    case(
        "columns_present/text-is-accepted-reader-coerces",
        "columns_present",
        {},
        {**FULL_PI, "birth_date": ["19900101"]},
        ("pass", 5, 0),
        schema={"birth_date": pl.String},
    ),
    case(
        "columns_present/float-for-int-is-compatible",
        "columns_present",
        {},
        {
            "followup_id": ["f"],
            "record_id": ["r"],
            "followup_date": [D],
            "sbp": [120.0],
            "dbp": [80.0],
            "upload_time": [dt.datetime(2020, 9, 1)],
        },
        ("pass", 6, 0),
        table="hypertension_followup",
        schema={"sbp": pl.Float64, "dbp": pl.Float64},
    ),
    case(
        "columns_present/all-includes-optional",
        "columns_present",
        {"all": True},
        FULL_PI,
        ("fail", 9, 4),
        message="missing: id_type, id_no, phone, address_code",
    ),
    case(
        "columns_present/explicit-list",
        "columns_present",
        {"columns": ["patient_id", "phone"]},
        {"patient_id": ["p"]},
        ("fail", 2, 1),
        message="missing: phone",
    ),
    case(
        "columns_present/explicit-single-string",
        "columns_present",
        {"columns": "patient_id"},
        {"patient_id": ["p"]},
        ("pass", 1, 0),
    ),
    case(
        "columns_present/judged-on-empty-table",
        "columns_present",
        {},
        {"patient_id": []},
        ("fail", 5, 4),
    ),
    # ---------------------------------------------------------------- row_count
    case(
        "row_count/empty-below-min",
        "row_count",
        {"min": 1},
        {"patient_id": []},
        ("fail", 1, 1),
        message="0 rows (expected 1..-)",
    ),
    case("row_count/in-range", "row_count", {"min": 1, "max": 3}, {"patient_id": ["a", "b"]}, ("pass", 1, 0)),
    case(
        "row_count/above-max",
        "row_count",
        {"min": 1, "max": 3},
        {"patient_id": list("abcd")},
        ("fail", 1, 1),
        message="4 rows (expected 1..3)",
    ),
    case("row_count/no-bounds", "row_count", {}, {"patient_id": []}, ("pass", 1, 0)),
    case(
        "row_count/counts-rows-of-when",
        "row_count",
        {"min": 2},
        {"visit_type": ["1", "1", "2"]},
        ("fail", 1, 1),
        table="outpatient_visit",
        when="visit_type = '2'",
        message="1 rows",
    ),
    case(
        "row_count/warning",
        "row_count",
        {"max": 0},
        {"patient_id": ["a"]},
        ("warn", 1, 1),
        severity="warning",
    ),
]


@pytest.mark.parametrize("c", CASES)
def test_completeness(c: Case) -> None:
    check_case(c)


def test_every_completeness_check_is_covered() -> None:
    assert {c.name for c in completeness.CHECKS} <= checks_covered(CASES)


def test_not_null_fail_fraction_and_samples() -> None:
    rule = make_rule("not_null", {"column": "address_code"})
    r = run_one({"patient_id": ["p1", "p2", "p3", "p4"], "address_code": ["1", None, "", "2"]}, rule)
    assert r.fail_fraction == pytest.approx(0.5)
    # Samples show the table key and the rule's column, failing rows only.
    assert r.samples == ({"patient_id": "p2", "address_code": None}, {"patient_id": "p3", "address_code": ""})
