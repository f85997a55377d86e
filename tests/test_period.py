"""The audited month: parsing, arithmetic, and the month's edges in every check and summary that
filters by it (00:00 of the next month's first day is outside, the last microsecond inside)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from dq.errors import UsageError
from dq.io.period import Period
from dq.scoring.summary import summary_exprs
from tests.conftest import CATALOGUE, make_rule, run_one

LAST = dt.datetime(2020, 9, 30, 23, 59, 59, 999999)  # the month's last instant
NEXT = dt.datetime(2020, 10, 1, 0, 0, 0)  # the next month's first
FIRST = dt.datetime(2020, 9, 1, 0, 0, 0)
BEFORE = dt.datetime(2020, 8, 31, 23, 59, 59, 999999)


@pytest.mark.parametrize(
    ("text", "year", "month", "days"),
    [("2020-09", 2020, 9, 30), ("2020-02", 2020, 2, 29), ("2019-02", 2019, 2, 28), ("2020-12", 2020, 12, 31)],
)
def test_parse_and_days(text: str, year: int, month: int, days: int) -> None:
    p = Period.parse(text)
    assert (p.year, p.month, p.days, str(p)) == (year, month, days, text)
    assert p.end - p.start == dt.timedelta(days=days)


@pytest.mark.parametrize(
    "text", ["2020-9", "202009", "2020-13", "2020-00", " 2020-09", "2020-09 ", "２０２０-09", 202009, None]
)
def test_only_the_zero_padded_month_is_a_period(text: object) -> None:
    with pytest.raises(UsageError, match="YYYY-MM"):
        Period.parse(text)
    assert not Period.is_period(text)


def test_arithmetic_crosses_years() -> None:
    p = Period.parse("2020-01")
    assert str(p.previous()) == "2019-12"
    assert str(Period.parse("2020-12").next()) == "2021-01"
    assert str(p.shift(-13)) == "2018-12"
    assert Period.parse("2021-03").index - p.index == 14
    assert Period.parse("2019-12") < p < Period.parse("2020-02")


def test_contains_is_half_open() -> None:
    p = Period.parse("2020-09")
    values = [BEFORE, FIRST, LAST, NEXT, None]
    got = pl.DataFrame({"t": values}).select(p.contains(pl.col("t"))).to_series().to_list()
    assert got == [False, True, True, False, None]
    assert [p.contains_value(v) for v in values[:4]] == [False, True, True, False]
    assert p.contains_value(dt.date(2020, 9, 30)) and not p.contains_value(dt.date(2020, 10, 1))


def test_in_period_check_at_the_months_edges() -> None:
    rule = make_rule("in_period", {"column": "report_time"}, table="lab_report")
    data = {"report_time": [BEFORE, FIRST, LAST, NEXT]}
    r = run_one(data, rule, period="2020-09")
    assert (r.evaluated, r.failed) == (4, 2)  # the first and the last value are outside


def test_upload_days_at_the_months_edges() -> None:
    rule = make_rule("upload_days", {"column": "upload_time"}, table="lab_report")
    # uploads at the very start and end of September, and one at 00:00 on 1 October
    r = run_one({"upload_time": [FIRST, LAST, NEXT]}, rule, period="2020-09")
    assert (r.evaluated, r.failed) == (30, 28)  # 1 and 30 September have an upload, nothing else


def test_summary_counts_rows_at_the_months_edges() -> None:
    frame = pl.LazyFrame({"upload_time": [BEFORE, FIRST, LAST, NEXT]})
    exprs = summary_exprs("lab_report", frame, "2020-09", CATALOGUE)
    row = frame.select(**exprs).collect().row(0, named=True)
    assert row["rows"] == 2
    assert sorted(row["days"]) == [dt.date(2020, 9, 1), dt.date(2020, 9, 30)]
