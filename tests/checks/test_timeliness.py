"""Timeliness: upload_timeliness (lag after the event) and upload_days (days of the month)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from conftest import Case, case, check_case, checks_covered, make_rule, run_one

from dq.engine.checks import _timeliness as timeliness

D, DT = dt.date, dt.datetime
OV, HF = "outpatient_visit", "hypertension_followup"
T0 = DT(2020, 9, 1, 8, 0)
DAY = dt.timedelta(days=1)
SEPT = [DT(2020, 9, d, 9) for d in range(1, 31)]

CASES = [
    # ---------------------------------------------------------------- upload_timeliness
    case(
        "upload_timeliness/datetime-one-day-boundary",
        "upload_timeliness",
        {},
        {
            "visit_time": [T0, T0, T0, None],
            "upload_time": [T0 + DAY, T0 + DAY + dt.timedelta(seconds=1), None, T0],
        },
        ("fail", 2, 1),
        table=OV,
    ),
    case(
        "upload_timeliness/max_days-fraction",
        "upload_timeliness",
        {"max_days": 0.5},
        {"visit_time": [T0, T0], "upload_time": [T0 + dt.timedelta(hours=12), T0 + dt.timedelta(hours=13)]},
        ("fail", 2, 1),
        table=OV,
    ),
    case(
        "upload_timeliness/date-event-compares-calendar-days",
        "upload_timeliness",
        {},
        {
            "followup_date": [D(2020, 9, 1), D(2020, 9, 1), D(2020, 9, 1)],
            "upload_time": [DT(2020, 9, 1, 23, 0), DT(2020, 9, 2, 23, 59), DT(2020, 9, 3, 0, 1)],
        },
        ("fail", 3, 1),
        table=HF,
    ),
    case(
        "upload_timeliness/explicit-column",
        "upload_timeliness",
        {"column": "admission_time", "max_days": 2},
        {"admission_time": [T0, T0], "upload_time": [T0 + 2 * DAY, T0 + 3 * DAY]},
        ("fail", 2, 1),
        table="inpatient_record",
    ),
    case(
        "upload_timeliness/text-event-column-is-an-error",
        "upload_timeliness",
        {},
        {"visit_time": ["2020-09-01"], "upload_time": [T0]},
        ("error", 0, 0),
        table=OV,
        schema={"visit_time": pl.String},
        message="not a date or datetime",
    ),
    case(
        "upload_timeliness/missing-default-event-column-is-an-error",
        "upload_timeliness",
        {},
        {"upload_time": [T0]},
        ("error", 0, 0),
        table=OV,
        message="column(s) missing from outpatient_visit: visit_time",
    ),
    case(
        "upload_timeliness/empty-table",
        "upload_timeliness",
        {},
        {"visit_time": [], "upload_time": []},
        ("not_applicable", 0, 0),
        table=OV,
    ),
    case(
        "upload_timeliness/warning",
        "upload_timeliness",
        {},
        {"visit_time": [T0], "upload_time": [T0 + 5 * DAY]},
        ("warn", 1, 1),
        table=OV,
        severity="warning",
    ),
    # ---------------------------------------------------------------- upload_days
    case(
        "upload_days/every-day",
        "upload_days",
        {},
        {"upload_time": SEPT},
        ("pass", 30, 0),
        table=OV,
        period="2020-09",
        message="uploads on all 30 days",
    ),
    case(
        "upload_days/missing-days-listed",
        "upload_days",
        {},
        {"upload_time": [t for t in SEPT if t.day not in (3, 17)] + [None]},
        ("fail", 30, 2),
        table=OV,
        period="2020-09",
        message="uploads on 28 of 30 days; no upload on day(s) 3, 17",
    ),
    case(
        "upload_days/outside-the-month-ignored",
        "upload_days",
        {},
        {"upload_time": [DT(2020, 8, 31, 23), DT(2020, 10, 1), *SEPT[1:]]},
        ("fail", 30, 1),
        table=OV,
        period="2020-09",
        message="no upload on day(s) 1",
    ),
    case(
        "upload_days/leap-february",
        "upload_days",
        {},
        {"upload_time": [DT(2020, 2, d) for d in range(1, 29)]},
        ("fail", 29, 1),
        table=OV,
        period="2020-02",
        message="day(s) 29",
    ),
    case(
        "upload_days/empty-table-misses-every-day",
        "upload_days",
        {},
        {"upload_time": []},
        ("fail", 30, 30),
        table=OV,
        period="2020-09",
    ),
    case(
        "upload_days/when-counts-matching-rows-only",
        "upload_days",
        {},
        {"upload_time": SEPT, "visit_type": ["1"] * 29 + ["2"]},
        ("fail", 30, 1),
        table=OV,
        period="2020-09",
        when="visit_type = '1'",
        message="day(s) 30",
    ),
    case(
        "upload_days/threshold",
        "upload_days",
        {},
        {"upload_time": SEPT[:-2]},
        ("pass", 30, 2),
        table=OV,
        period="2020-09",
        threshold={"max_count": 3},
    ),
    case(
        "upload_days/needs-a-period",
        "upload_days",
        {},
        {"upload_time": SEPT},
        ("error", 0, 0),
        table=OV,
        message="--period",
    ),
]


@pytest.mark.parametrize("c", CASES)
def test_timeliness(c: Case) -> None:
    check_case(c)


def test_every_timeliness_check_is_covered() -> None:
    assert {c.name for c in timeliness.CHECKS} <= checks_covered(CASES)


def test_upload_timeliness_default_event_column_is_the_tables() -> None:
    rule = make_rule("upload_timeliness", {}, table=OV)
    assert rule.columns == ["upload_time"]  # the event column is resolved from the catalogue
    r = run_one({"visit_time": [T0], "upload_time": [T0 + 3 * DAY]}, rule)
    assert (r.status, r.failed) == ("fail", 1)
