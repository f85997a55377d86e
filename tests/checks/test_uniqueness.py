"""Uniqueness: single and compound keys; every row of a repeated key fails (as in GX)."""

from __future__ import annotations

import pytest
from conftest import Case, case, check_case, checks_covered, make_rule, run_one

from dq.checks import uniqueness

OP = "outpatient_prescription"

CASES = [
    case(
        "unique/all-distinct",
        "unique",
        {"columns": ["patient_id"]},
        {"patient_id": ["a", "b"]},
        ("pass", 2, 0),
    ),
    case(
        "unique/every-row-of-a-repeat-fails",
        "unique",
        {"columns": ["patient_id"]},
        {"patient_id": ["a", "b", "a", "a", "c"]},
        ("fail", 5, 3),
    ),
    case(
        "unique/null-and-blank-keys-not-evaluated",
        "unique",
        {"columns": ["patient_id"]},
        {"patient_id": ["a", None, None, "", " ", "b"]},
        ("pass", 2, 0),
    ),
    case(
        "unique/case-and-spaces-are-significant",
        "unique",
        {"columns": ["patient_id"]},
        {"patient_id": ["a", "A", "a "]},
        ("pass", 3, 0),
    ),
    case(
        "unique/compound",
        "unique",
        {"columns": ["prescription_id", "item_no"]},
        {"prescription_id": ["p1", "p1", "p1", "p2", None], "item_no": [1, 2, 1, 1, 1]},
        ("fail", 4, 2),
        table=OP,
    ),
    case(
        "unique/compound-with-a-null-part-not-evaluated",
        "unique",
        {"columns": ["prescription_id", "item_no"]},
        {"prescription_id": ["p1", "p1"], "item_no": [None, None]},
        ("not_applicable", 0, 0),
        table=OP,
    ),
    case(
        "unique/empty-table",
        "unique",
        {"columns": ["patient_id"]},
        {"patient_id": []},
        ("not_applicable", 0, 0),
    ),
    case(
        "unique/when-restricts-the-rows-compared",
        "unique",
        {"columns": ["visit_id"]},
        {"visit_id": ["v1", "v1", "v2", "v2"], "visit_type": ["1", "2", "1", "1"]},
        ("fail", 3, 2),
        table="outpatient_visit",
        when="visit_type = '1'",
    ),
    case(
        "unique/warning-with-threshold",
        "unique",
        {"columns": ["patient_id"]},
        {"patient_id": ["a", "a", "b", "c"]},
        ("warn", 4, 2),
        severity="warning",
        threshold={"max_fraction": 0.25},
    ),
    case(
        "unique/max_count",
        "unique",
        {"columns": ["patient_id"]},
        {"patient_id": ["a", "a", "b", "c"]},
        ("pass", 4, 2),
        threshold={"max_count": 2},
    ),
]


@pytest.mark.parametrize("c", CASES)
def test_uniqueness(c: Case) -> None:
    check_case(c)


def test_every_uniqueness_check_is_covered() -> None:
    assert {c.name for c in uniqueness.CHECKS} <= checks_covered(CASES)


def test_samples_are_the_repeated_rows_sorted_by_key() -> None:
    rule = make_rule("unique", {"columns": ["prescription_id", "item_no"]}, table=OP)
    data = {"prescription_id": ["p2", "p1", "p2", "p1", "p3"], "item_no": [1, 1, 1, 2, 1]}
    r = run_one(data, rule)
    assert [(s["prescription_id"], s["item_no"]) for s in r.samples] == [("p2", 1), ("p2", 1)]


def test_samples_respect_the_limit() -> None:
    rule = make_rule("unique", {"columns": ["patient_id"]})
    r = run_one({"patient_id": ["a"] * 10}, rule, samples=3)
    assert r.failed == 10 and len(r.samples) == 3
