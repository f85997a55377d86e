"""Plausibility checks: between, compare, expression, ratio, in_period, not_future.

The audit moment is conftest.NOW (2020-10-15 12:00) unless a case passes its own ``now``.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from conftest import NOW, Case, case, check_case, checks_covered, make_rule, run

from dq.engine.checks import _plausibility as plausibility

D, DT = dt.date, dt.datetime
HF, IR, OP, FS, OV = (
    "hypertension_followup",
    "inpatient_record",
    "outpatient_prescription",
    "fee_settlement",
    "outpatient_visit",
)
ADMIT = DT(2020, 9, 1, 8, 0)

CASES = [
    # ---------------------------------------------------------------- between
    case(
        "between/integers-inclusive",
        "between",
        {"column": "sbp", "min": 60, "max": 250},
        {"sbp": [59, 60, 250, 251, None]},
        ("fail", 4, 2),
        table=HF,
    ),
    case(
        "between/min-exclusive",
        "between",
        {"column": "sbp", "min": 60, "min_inclusive": False},
        {"sbp": [60, 61]},
        ("fail", 2, 1),
        table=HF,
    ),
    case(
        "between/max-exclusive",
        "between",
        {"column": "sbp", "max": 250, "max_inclusive": False},
        {"sbp": [249, 250]},
        ("fail", 2, 1),
        table=HF,
    ),
    case(
        "between/decimals",
        "between",
        {"column": "total_amount", "min": 0},
        {"total_amount": [-0.01, 0.0, 10.5]},
        ("fail", 3, 1),
        table=FS,
    ),
    case(
        "between/dates-yaml-date-and-iso-text",
        "between",
        {"column": "followup_date", "min": D(2020, 1, 1), "max": "2020-12-31"},
        {"followup_date": [D(2019, 12, 31), D(2020, 1, 1), D(2020, 12, 31), D(2021, 1, 1)]},
        ("fail", 4, 2),
        table=HF,
    ),
    case(
        "between/datetimes",
        "between",
        {"column": "admission_time", "min": DT(2020, 9, 1), "max": "2020-09-30 23:59:59"},
        {"admission_time": [DT(2020, 8, 31, 23, 59, 59), DT(2020, 9, 1), DT(2020, 9, 30, 23, 59, 59)]},
        ("fail", 3, 1),
        table=IR,
    ),
    case(
        "between/date-bound-on-datetime-column-is-midnight",
        "between",
        {"column": "admission_time", "max": D(2020, 9, 1)},
        {"admission_time": [DT(2020, 9, 1), DT(2020, 9, 1, 0, 0, 1)]},
        ("fail", 2, 1),
        table=IR,
    ),
    case(
        "between/empty-table",
        "between",
        {"column": "sbp", "min": 60},
        {"sbp": []},
        ("not_applicable", 0, 0),
        table=HF,
    ),
    case(
        "between/all-null",
        "between",
        {"column": "sbp", "min": 60},
        {"sbp": [None, None]},
        ("not_applicable", 0, 0),
        table=HF,
    ),
    case(
        "between/text-column-at-runtime-is-an-error",
        "between",
        {"column": "sbp", "min": 60},
        {"sbp": ["120"]},
        ("error", 0, 0),
        table=HF,
        schema={"sbp": pl.String},
        message="column 'sbp' is text",
    ),
    # ---------------------------------------------------------------- compare
    case(
        "compare/columns",
        "compare",
        {"left": "discharge_time", "op": ">=", "right": "admission_time"},
        {
            "admission_time": [ADMIT, ADMIT, ADMIT, None],
            "discharge_time": [ADMIT, DT(2020, 8, 31), None, ADMIT],
        },
        ("fail", 2, 1),
        table=IR,
    ),
    case(
        "compare/sql-side-with-tolerance",
        "compare",
        {"left": "amount", "op": "==", "right": "quantity * unit_price", "tolerance": 0.01},
        {
            "quantity": [2.0, 2.0, 2.0, None],
            "unit_price": [3.0, 3.0, 3.0, 3.0],
            "amount": [6.0, 6.005, 6.02, 6.0],
        },
        ("fail", 3, 1),
        table=OP,
    ),
    case(
        "compare/exact-without-tolerance",
        "compare",
        {"left": "amount", "op": "==", "right": "quantity * unit_price"},
        {"quantity": [2.0, 2.0], "unit_price": [3.0, 3.0], "amount": [6.0, 6.005]},
        ("fail", 2, 1),
        table=OP,
    ),
    case(
        "compare/number-on-the-right",
        "compare",
        {"left": "quantity", "op": ">", "right": 0},
        {"quantity": [1.0, 0.0, -1.0]},
        ("fail", 3, 2),
        table=OP,
    ),
    case(
        "compare/sql-on-both-sides",
        "compare",
        {"left": "sbp - dbp", "op": ">=", "right": "dbp / 4"},
        {"sbp": [120, 90], "dbp": [80, 80]},
        ("fail", 2, 1),
        table=HF,
    ),
    case(
        "compare/not-equal-with-tolerance",
        "compare",
        {"left": "insurance_amount", "op": "!=", "right": "total_amount", "tolerance": 0.5},
        {"insurance_amount": [10.0, 10.4, 11.0], "total_amount": [10.0, 10.0, 10.0]},
        ("fail", 3, 2),
        table=FS,
    ),
    case(
        "compare/less-than-with-tolerance",
        "compare",
        {"left": "insurance_amount", "op": "<", "right": "total_amount", "tolerance": 0.5},
        {"insurance_amount": [10.4, 10.5, 9.0], "total_amount": [10.0, 10.0, 10.0]},
        ("fail", 3, 1),
        table=FS,
    ),
    case(
        "compare/greater-equal-with-tolerance",
        "compare",
        {"left": "self_pay_amount", "op": ">=", "right": "insurance_amount", "tolerance": 1},
        {"self_pay_amount": [9.0, 8.9], "insurance_amount": [10.0, 10.0]},
        ("fail", 2, 1),
        table=FS,
    ),
    case(
        "compare/datetime-literal",
        "compare",
        {"left": "discharge_time", "op": "<=", "right": DT(2020, 9, 30, 23, 59, 59)},
        {"discharge_time": [DT(2020, 9, 30), DT(2020, 10, 1)]},
        ("fail", 2, 1),
        table=IR,
    ),
    case(
        "compare/when",
        "compare",
        {"left": "discharge_time", "op": ">", "right": "admission_time"},
        {
            "admission_time": [ADMIT, ADMIT],
            "discharge_time": [ADMIT, ADMIT],
            "discharge_method": ["5", "1"],
        },
        ("fail", 1, 1),
        table=IR,
        when="discharge_method <> '5'",
    ),
    # ---------------------------------------------------------------- expression
    case(
        "expression/columns",
        "expression",
        {"expr": "sbp > dbp"},
        {"sbp": [120, 80, None], "dbp": [80, 120, 80]},
        ("fail", 2, 1),
        table=HF,
    ),
    case(
        "expression/sql-between-and-or",
        "expression",
        {"expr": "sbp BETWEEN 60 AND 250 AND (dbp < sbp OR dbp IS NULL)"},
        {"sbp": [120, 300, 120], "dbp": [80, 80, None]},
        ("fail", 3, 1),
        table=HF,
    ),
    case(
        "expression/case-when",
        "expression",
        {"expr": "CASE WHEN discharge_method = '5' THEN length_of_stay >= 0 ELSE length_of_stay > 0 END"},
        {"discharge_method": ["5", "1", "1"], "length_of_stay": [0, 0, 3]},
        ("fail", 3, 1),
        table=IR,
    ),
    case(
        "expression/empty-table",
        "expression",
        {"expr": "sbp > dbp"},
        {"sbp": [], "dbp": []},
        ("not_applicable", 0, 0),
        table=HF,
    ),
    # ---------------------------------------------------------------- ratio
    case(
        "ratio/percent-in-0-100",
        "ratio",
        {
            "numerator": "insurance_amount",
            "denominator": "total_amount",
            "scale": 100,
            "min": 0,
            "max": 100,
        },
        {
            "insurance_amount": [50.0, 150.0, 10.0, None, -1.0],
            "total_amount": [100.0, 100.0, 0.0, 100.0, 10.0],
        },
        ("fail", 3, 2),
        table=FS,
    ),
    case(
        "ratio/sql-numerator",
        "ratio",
        {
            "numerator": "insurance_amount + self_pay_amount",
            "denominator": "total_amount",
            "min": 0.99,
            "max": 1.01,
        },
        {"insurance_amount": [60.0, 60.0], "self_pay_amount": [40.0, 20.0], "total_amount": [100.0, 100.0]},
        ("fail", 2, 1),
        table=FS,
    ),
    # ---------------------------------------------------------------- in_period
    case(
        "in_period/datetime-bounds",
        "in_period",
        {"column": "visit_time"},
        {
            "visit_time": [
                DT(2020, 8, 31, 23, 59, 59),
                DT(2020, 9, 1),
                DT(2020, 9, 30, 23, 59, 59),
                DT(2020, 10, 1),
                None,
            ]
        },
        ("fail", 4, 2),
        table=OV,
        period="2020-09",
    ),
    case(
        "in_period/date-column",
        "in_period",
        {"column": "followup_date"},
        {"followup_date": [D(2020, 9, 30), D(2020, 10, 1)]},
        ("fail", 2, 1),
        table=HF,
        period="2020-09",
    ),
    case(
        "in_period/december-ends-at-new-year",
        "in_period",
        {"column": "followup_date"},
        {"followup_date": [D(2020, 12, 31), D(2021, 1, 1)]},
        ("fail", 2, 1),
        table=HF,
        period="2020-12",
    ),
    case(
        "in_period/needs-a-period",
        "in_period",
        {"column": "visit_time"},
        {"visit_time": [DT(2020, 9, 1)]},
        ("error", 0, 0),
        table=OV,
        message="--period",
    ),
    case(
        "in_period/empty-table",
        "in_period",
        {"column": "visit_time"},
        {"visit_time": []},
        ("not_applicable", 0, 0),
        table=OV,
        period="2020-09",
    ),
    # ---------------------------------------------------------------- not_future
    case(
        "not_future/datetime",
        "not_future",
        {"column": "visit_time"},
        {"visit_time": [NOW, NOW + dt.timedelta(seconds=1), None]},
        ("fail", 2, 1),
        table=OV,
    ),
    case(
        "not_future/date-today-is-not-future",
        "not_future",
        {"column": "followup_date"},
        {"followup_date": [NOW.date(), NOW.date() + dt.timedelta(days=1)]},
        ("fail", 2, 1),
        table=HF,
    ),
    case(
        "not_future/text-column-is-an-error",
        "not_future",
        {"column": "visit_time"},
        {"visit_time": ["2020-09-01"]},
        ("error", 0, 0),
        table=OV,
        schema={"visit_time": pl.String},
        message="not a date or datetime",
    ),
    case(
        "not_future/empty-table",
        "not_future",
        {"column": "visit_time"},
        {"visit_time": []},
        ("not_applicable", 0, 0),
        table=OV,
    ),
]


@pytest.mark.parametrize("c", CASES)
def test_plausibility(c: Case) -> None:
    check_case(c)


def test_every_plausibility_check_is_covered() -> None:
    assert {c.name for c in plausibility.CHECKS} <= checks_covered(CASES)


def test_not_future_uses_the_given_now() -> None:
    rule = make_rule("not_future", {"column": "visit_time"}, table=OV)
    data = {"visit_time": [DT(2021, 1, 1)]}
    assert run(data, rule, now=DT(2020, 12, 31))[rule.id].status == "fail"
    assert run(data, rule, now=DT(2021, 1, 1))[rule.id].status == "pass"


def test_a_runtime_type_clash_errors_only_its_rule() -> None:
    bad = make_rule("between", {"column": "sbp", "min": 60}, table=HF, id="BAD")
    good = make_rule("expression", {"expr": "dbp > 0"}, table=HF, id="GOOD")
    res = run({"sbp": ["120"], "dbp": [80]}, [bad, good], schema={"sbp": pl.String})
    assert res["BAD"].status == "error" and "text" in res["BAD"].message
    assert (res["GOOD"].status, res["GOOD"].evaluated) == ("pass", 1)
