"""Uniqueness: single and compound keys; every row of a repeated key fails (as in GX)."""

from __future__ import annotations

from collections import Counter

import polars as pl
import pytest
from conftest import Case, case, check_case, checks_covered, make_rule, run_one
from hypothesis import given, settings
from hypothesis import strategies as st

from dq.engine.checks import _uniqueness as uniqueness
from dq.engine.checks._uniqueness import repeated_rows

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


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["p1", "p2", "p3", "", " ", None]),
            st.sampled_from([1, 2, None]),
            st.sampled_from(["1", "2"]),
        ),
        max_size=30,
    )
)
def test_compound_key_counts_match_a_plain_count(rows) -> None:
    # Rows the `when` leaves out and rows with a blank key part share keys with evaluated rows:
    # only the evaluated rows are compared, and every row of a key seen twice among them fails.
    rule = make_rule("unique", {"columns": ["prescription_id", "item_no"]}, table=OP, when="drug_code = '1'")
    data = {
        "prescription_id": [r[0] for r in rows],
        "item_no": [r[1] for r in rows],
        "drug_code": [r[2] for r in rows],
    }
    keys = [(p, i) for p, i, k in rows if k == "1" and p is not None and p.strip() and i is not None]
    seen = Counter(keys)
    r = run_one(data, rule)
    assert (r.evaluated, r.failed) == (len(keys), sum(n for n in seen.values() if n > 1))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.integers(0, 3)), max_size=40),
    st.integers(1, 4),
)
def test_repeated_rows_are_exact_whatever_the_hash(rows, buckets) -> None:
    # A hash with 1-4 values makes unequal keys collide all the time: the flags stay those of a
    # full comparison, because colliding rows are compared in full.
    keys = pl.DataFrame(
        {"k": [r[0] for r in rows], "n": [r[1] for r in rows]}, schema={"k": pl.String, "n": pl.Int64}
    )
    coarse = (keys.hash_rows() % buckets).to_numpy()
    assert repeated_rows(keys, coarse).tolist() == keys.is_duplicated().to_list()
