"""Consistency checks: foreign_key, row_total, group_count (id_card_matches is in
test_conformance.py with the other ID number checks)."""

from __future__ import annotations

from collections import Counter

import pytest
from conftest import Case, case, check_case, checks_covered, make_rule, run, run_one
from hypothesis import given, settings
from hypothesis import strategies as st

from dq.engine.checks import _consistency as consistency

OV, FS, ID = "outpatient_visit", "fee_settlement", "inpatient_diagnosis"
PATIENTS = {"patient_index": {"patient_id": ["p1", "p2", "p2"]}}  # a repeated key must not duplicate rows
VISITS_AND_STAYS = {
    "outpatient_visit": {"visit_id": ["v1", "v2"]},
    "inpatient_record": {"inpatient_id": ["i1"]},
}
ROWS = {"label_column": "settlement_id", "columns": ["total_amount", "insurance_amount"]}


def _sheet(labels, totals, insurance):
    return {"settlement_id": labels, "total_amount": totals, "insurance_amount": insurance}


CASES = [
    # ---------------------------------------------------------------- foreign_key
    case(
        "foreign_key/single-reference",
        "foreign_key",
        {"column": "patient_id", "references": "patient_index.patient_id"},
        {"patient_id": ["p1", "p2", "p3", None, ""]},
        ("fail", 3, 1),
        table=OV,
        tables=PATIENTS,
    ),
    case(
        "foreign_key/union-of-references",
        "foreign_key",
        {"column": "visit_id", "references": ["outpatient_visit.visit_id", "inpatient_record.inpatient_id"]},
        {"visit_id": ["v1", "i1", "v3", "i2"]},
        ("fail", 4, 2),
        table="lab_report",
        tables=VISITS_AND_STAYS,
    ),
    case(
        "foreign_key/empty-table",
        "foreign_key",
        {"column": "patient_id", "references": "patient_index.patient_id"},
        {"patient_id": []},
        ("not_applicable", 0, 0),
        table=OV,
        tables=PATIENTS,
    ),
    case(
        "foreign_key/empty-referenced-table-fails-every-row",
        "foreign_key",
        {"column": "patient_id", "references": "patient_index.patient_id"},
        {"patient_id": ["p1", "p2"]},
        ("fail", 2, 2),
        table=OV,
        tables={"patient_index": {"patient_id": []}},
    ),
    case(
        "foreign_key/referenced-table-not-in-extract",
        "foreign_key",
        {"column": "patient_id", "references": "patient_index.patient_id"},
        {"patient_id": ["p1"]},
        ("not_applicable", 0, 0),
        table=OV,
        message="referenced table 'patient_index' was not uploaded",
    ),
    case(
        "foreign_key/when",
        "foreign_key",
        {"column": "patient_id", "references": "patient_index.patient_id"},
        {"patient_id": ["p9", "p8", "p1"], "visit_type": ["3", "1", "1"]},
        ("fail", 2, 1),
        table=OV,
        tables=PATIENTS,
        when="visit_type <> '3'",
    ),
    # ---------------------------------------------------------------- row_total (row form)
    case(
        "row_total/total-row-adds-up",
        "row_total",
        ROWS,
        _sheet(["a", "b", "合计"], [1.0, 2.0, 3.0], [0.5, 0.5, 1.0]),
        ("pass", 2, 0),
        table=FS,
        message="合计 row equals the sum of rows in 2 column(s)",
    ),
    case(
        "row_total/total-row-does-not-add-up",
        "row_total",
        ROWS,
        _sheet(["a", "b", "小计", "合计"], [1.0, 2.0, 3.0, 3.0], [1.0, 1.0, 2.0, 5.0]),
        ("fail", 2, 1),
        table=FS,
        message="insurance_amount: stated 5, computed 2",
    ),
    case(
        "row_total/message-names-every-wrong-column",
        "row_total",
        ROWS,
        _sheet(["a", "合计"], [1.0, 4.0], [1.0, 2.0]),
        ("fail", 2, 2),
        table=FS,
        message="total_amount: stated 4, computed 1; insurance_amount: stated 2, computed 1",
    ),
    case(
        "row_total/tolerance",
        "row_total",
        {**ROWS, "tolerance": 0.5},
        _sheet(["a", "b", "合计"], [1.0, 2.0, 3.4], [1.0, 1.0, 2.6]),
        ("fail", 2, 1),
        table=FS,
    ),
    case(
        "row_total/label-trimmed-and-custom",
        "row_total",
        {**ROWS, "total_label": "总计"},
        _sheet(["a", " 总计 "], [1.0, 1.0], [2.0, 2.0]),
        ("pass", 2, 0),
        table=FS,
    ),
    case(
        "row_total/exclude_labels-as-text",
        "row_total",
        {**ROWS, "exclude_labels": "小计"},
        _sheet(["a", "b", "小计", "合计"], [1.0, 2.0, 3.0, 3.0], [1.0, 1.0, 2.0, 2.0]),
        ("pass", 2, 0),
        table=FS,
    ),
    case(
        "row_total/no-total-row-is-not-applicable",
        "row_total",
        ROWS,
        _sheet(["a", "b"], [1.0, 2.0], [1.0, 1.0]),
        ("not_applicable", 0, 0),
        table=FS,
    ),
    case(
        "row_total/when-restricts-the-rows-summed",
        "row_total",
        {"label_column": "settlement_id", "columns": ["total_amount"]},
        {
            "settlement_id": ["a", "b", "合计", "c"],
            "visit_id": ["x", "x", "x", "y"],
            "total_amount": [1.0, 2.0, 3.0, 99.0],
        },
        ("pass", 1, 0),
        table=FS,
        when="visit_id = 'x'",
    ),
    case(
        "row_total/warning",
        "row_total",
        ROWS,
        _sheet(["a", "合计"], [1.0, 2.0], [1.0, 1.0]),
        ("warn", 2, 1),
        table=FS,
        severity="warning",
    ),
    # ---------------------------------------------------------------- row_total (column form)
    case(
        "row_total/column-form",
        "row_total",
        {"total_column": "total_amount", "part_columns": ["insurance_amount", "self_pay_amount"]},
        {
            "total_amount": [100.0, 100.0, 100.0],
            "insurance_amount": [60.0, 60.0, None],
            "self_pay_amount": [40.0, 30.0, 40.0],
        },
        ("fail", 2, 1),
        table=FS,
    ),
    case(
        "row_total/column-form-tolerance",
        "row_total",
        {
            "total_column": "total_amount",
            "part_columns": ["insurance_amount", "self_pay_amount"],
            "tolerance": 0.01,
        },
        {
            "total_amount": [100.0, 100.0],
            "insurance_amount": [60.0, 60.0],
            "self_pay_amount": [40.005, 40.02],
        },
        ("fail", 2, 1),
        table=FS,
    ),
    # ---------------------------------------------------------------- group_count
    case(
        "group_count/one-primary-diagnosis-per-stay",
        "group_count",
        {"group_by": ["inpatient_id"], "condition": "diag_type = '1'", "min": 1, "max": 1},
        {
            "inpatient_id": ["A", "A", "B", "B", "C", None, ""],
            "diag_type": ["1", "2", "1", "1", "2", "1", "1"],
        },
        ("fail", 3, 2),
        table=ID,
    ),
    case(
        "group_count/all-groups-fine",
        "group_count",
        {"group_by": ["inpatient_id"], "condition": "diag_type = '1'", "max": 1},
        {"inpatient_id": ["A", "A", "B"], "diag_type": ["1", "2", "2"]},
        ("pass", 2, 0),
        table=ID,
    ),
    case(
        "group_count/compound-group",
        "group_count",
        {"group_by": ["prescription_id", "visit_id"], "condition": "item_no = 1", "min": 1},
        {"prescription_id": ["p1", "p1", "p2"], "visit_id": ["v1", "v2", "v1"], "item_no": [1, 2, 1]},
        ("fail", 3, 1),
        table="outpatient_prescription",
    ),
    case(
        "group_count/empty-table",
        "group_count",
        {"group_by": ["inpatient_id"], "condition": "diag_type = '1'", "min": 1},
        {"inpatient_id": [], "diag_type": []},
        ("not_applicable", 0, 0),
        table=ID,
    ),
    case(
        "group_count/when",
        "group_count",
        {"group_by": ["inpatient_id"], "condition": "diag_type = '1'", "min": 1},
        {"inpatient_id": ["A", "B", "B"], "diag_type": ["2", "2", "1"], "diagnosis_code": ["X", "Y", "Y"]},
        ("pass", 1, 0),
        table=ID,
        when="diagnosis_code = 'Y'",
    ),
]


@pytest.mark.parametrize("c", CASES)
def test_consistency(c: Case) -> None:
    check_case(c)


def test_every_consistency_check_is_covered() -> None:
    assert {c.name for c in consistency.CHECKS} <= checks_covered(CASES)


def test_foreign_key_samples_are_the_orphans() -> None:
    rule = make_rule(
        "foreign_key", {"column": "patient_id", "references": "patient_index.patient_id"}, table=OV
    )
    r = run_one({"visit_id": ["v1", "v2"], "patient_id": ["p1", "p9"]}, rule, tables=PATIENTS)
    assert r.samples == ({"visit_id": "v2", "patient_id": "p9"},)


def test_group_count_samples_are_rows_of_failing_groups() -> None:
    rule = make_rule(
        "group_count",
        {"group_by": ["inpatient_id"], "condition": "diag_type = '1'", "min": 1, "max": 1},
        table=ID,
    )
    data = {"inpatient_id": ["A", "B", "B", "C"], "diag_seq": [1, 1, 2, 1], "diag_type": ["1", "1", "1", "2"]}
    r = run_one(data, rule)
    # Sorted by the group key (the order within a group is not specified).
    assert [s["inpatient_id"] for s in r.samples] == ["B", "B", "C"]
    assert sorted((s["inpatient_id"], s["diag_seq"]) for s in r.samples) == [("B", 1), ("B", 2), ("C", 1)]


def test_two_foreign_keys_in_one_pass_do_not_clash() -> None:
    a = make_rule(
        "foreign_key", {"column": "patient_id", "references": "patient_index.patient_id"}, table=OV, id="A"
    )
    b = make_rule(
        "foreign_key", {"column": "visit_id", "references": "fee_settlement.visit_id"}, table=OV, id="B"
    )
    res = run(
        {"visit_id": ["v1", "v2", "v3"], "patient_id": ["p1", "p9", "p2"]},
        [a, b],
        tables={**PATIENTS, "fee_settlement": {"visit_id": ["v1", "v1", "v2"]}},
    )
    assert (res["A"].evaluated, res["A"].failed) == (3, 1)
    assert (res["B"].evaluated, res["B"].failed) == (3, 1)


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["A", "B", "C", "D", "", None]),
            st.sampled_from(["1", "2", None]),
            st.sampled_from(["Y", "N"]),
        ),
        max_size=30,
    ),
    lo=st.sampled_from([None, 0, 1, 2]),
    hi=st.sampled_from([None, 0, 1, 3]),
)
def test_group_count_matches_a_plain_count(rows, lo, hi) -> None:
    # Groups are the stays among the rows the `when` keeps (blank ids left out); a group fails
    # when its number of rows with diag_type 1 is out of [min, max], a group with none counting 0.
    params = {"group_by": ["inpatient_id"], "condition": "diag_type = '1'"}
    params |= {k: v for k, v in (("min", lo), ("max", hi)) if v is not None}
    if lo is None and hi is None:
        params["min"] = 1
        lo = 1
    rule = make_rule("group_count", params, table=ID, when="diagnosis_code = 'Y'")
    data = {
        "inpatient_id": [r[0] for r in rows],
        "diag_type": [r[1] for r in rows],
        "diagnosis_code": [r[2] for r in rows],
    }
    kept = [r for r in rows if r[2] == "Y" and r[0]]
    counts = Counter(r[0] for r in kept)
    meeting = Counter(r[0] for r in kept if r[1] == "1")
    bad = [g for g in counts if (lo is not None and meeting[g] < lo) or (hi is not None and meeting[g] > hi)]
    r = run_one(data, rule)
    assert (r.evaluated, r.failed) == (len(counts), len(bad))
