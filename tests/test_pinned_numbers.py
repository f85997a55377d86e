"""Numbers pinned by an independent computation, so that a planted off-by-one, a dropped factor
or a one-sided comparison fails the suite (docs/design.md lists the bugs planted against it)."""

from __future__ import annotations

import math
import statistics

import polars as pl
import pytest

import dq
from dq.engine.checks.history import HistoryChange, Judgement
from dq.engine.checks.history import judge as judge_typed


def judge(metric: str, value: float, history, period: str, params, evaluated: int | None = None) -> Judgement:
    """The check's judge with a rule's parameters as YAML gives them (typed as the loader types them)."""
    typed = HistoryChange.of({"metric": metric, **params})
    return judge_typed(metric, value, history, period, typed, evaluated)


# ------------------------------------------------------------------ 合计 rows (row_total)
TOTALS = [{"id": "T1", "check": "row_total", "params": {"label_column": "unit"}}]


@pytest.mark.parametrize(
    ("total", "failed"),
    [(60, 0), (59, 1), (61, 1), (0, 1)],  # equal; below the sum of its parts; above; a zero total
)
def test_a_total_row_differing_either_way_fails(total: int, failed: int) -> None:
    frame = pl.DataFrame({"unit": ["甲医院", "乙医院", "丙医院", "合计"], "visits": [10, 20, 30, total]})
    (r,) = dq.validate(frame, TOTALS)
    assert (r.evaluated, r.failed) == (1, failed)


def test_a_total_within_the_tolerance_passes_and_beyond_it_fails() -> None:
    rules = [{**TOTALS[0], "params": {"label_column": "unit", "tolerance": 1}}]
    near = pl.DataFrame({"unit": ["a", "b", "合计"], "n": [10, 20, 29]})
    far = pl.DataFrame({"unit": ["a", "b", "合计"], "n": [10, 20, 28]})
    assert dq.validate(near, rules)[0].failed == 0
    assert dq.validate(far, rules)[0].failed == 1


# ------------------------------------------------------------------ history_change: robust_z
HISTORY = [("2020-01", 100.0), ("2020-02", 200.0), ("2020-03", 50.0), ("2020-04", 150.0),
           ("2020-05", 80.0), ("2020-06", 120.0)]  # fmt: skip
PARAMS = {"method": "robust_z", "window": 6, "min_history": 3, "max_z": 3.5, "min_change": 0.3}


def expected_range() -> tuple[float, float]:
    """docs/monitoring.md's robust_z, computed here from its definition: on log(value + 1), the
    median ± max_z × 1.4826 × MAD of the last `window` periods (never narrower than
    ± log(1 + min_change)), mapped back."""
    logs = [math.log(v + 1) for _, v in HISTORY]
    med = statistics.median(logs)
    mad = statistics.median(abs(x - med) for x in logs)
    half = max(3.5 * 1.4826 * mad, math.log1p(0.3))
    return math.exp(med - half) - 1, math.exp(med + half) - 1


def test_robust_z_range_on_a_fixed_history() -> None:
    low, high = expected_range()
    j = judge("table.outpatient_visit.rows", 100.0, HISTORY, "2020-07", PARAMS)
    assert j.applicable and not j.flagged
    assert j.low == pytest.approx(low, rel=1e-9) and j.high == pytest.approx(high, rel=1e-9)
    # just inside and just outside each end
    edges = ((low * 1.01, False), (low * 0.99, True), (high * 0.99, False), (high * 1.01, True))
    for value, flagged in edges:
        assert judge("table.outpatient_visit.rows", value, HISTORY, "2020-07", PARAMS).flagged is flagged


def test_min_history_exactly_met_is_applicable_one_less_is_not() -> None:
    params = {**PARAMS, "min_history": 4}
    assert judge("summary.data_volume", 100.0, HISTORY[:4], "2020-07", params).applicable
    short = judge("summary.data_volume", 100.0, HISTORY[:3], "2020-07", params)
    assert not short.applicable and not short.flagged


def test_only_earlier_periods_count_towards_the_history() -> None:
    # the judged period itself, and later ones, are never part of its own history
    rerun = [*HISTORY[:3], ("2020-07", 1e9), ("2020-08", 1e9)]
    j = judge("summary.data_volume", 100.0, rerun, "2020-07", {**PARAMS, "min_history": 4})
    assert not j.applicable
