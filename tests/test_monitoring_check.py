"""history_change: a unit's metric against its own earlier periods."""

from __future__ import annotations

import math

import polars as pl
import pytest

from dq.engine.checks.history import HistoryChange, Judgement, evaluate_history, seasonal_reference
from dq.engine.checks.history import judge as judge_typed
from tests.conftest import rule_dict, suite_yaml


def judge(metric: str, value: float, history, period: str, params, evaluated: int | None = None) -> Judgement:
    """The check's judge with a rule's parameters as YAML gives them (typed as the loader types them)."""
    typed = HistoryChange.of({"metric": metric, **params})
    return judge_typed(metric, value, history, period, typed, evaluated)


P = {
    "method": "robust_z",
    "window": 6,
    "min_history": 3,
    "direction": "both",
    "max_z": 3.5,
    "min_change": 0.3,
}
STEADY = [
    ("2020-01", 1000.0),
    ("2020-02", 1030.0),
    ("2020-03", 980.0),
    ("2020-04", 1010.0),
    ("2020-05", 995.0),
]


def test_robust_z_flags_a_halving_and_a_tripling_but_not_noise() -> None:
    assert not judge("summary.outpatient_uploaded", 1040, STEADY, "2020-06", P).flagged
    drop = judge("summary.outpatient_uploaded", 500, STEADY, "2020-06", P)
    assert drop.flagged and drop.applicable and drop.low is not None and 500 < drop.low < 1000
    assert drop.periods == tuple(p for p, _ in STEADY)
    assert judge("summary.outpatient_uploaded", 3000, STEADY, "2020-06", P).flagged
    # direction: a drop is not a rise
    assert not judge(
        "summary.outpatient_uploaded", 500, STEADY, "2020-06", {**P, "direction": "rise"}
    ).flagged
    assert not judge(
        "summary.outpatient_uploaded", 3000, STEADY, "2020-06", {**P, "direction": "drop"}
    ).flagged


def test_a_table_that_stops_is_flagged_and_a_flat_history_tolerates_small_changes() -> None:
    flat = [(f"2020-0{i}", 60.0) for i in range(1, 6)]
    assert judge("table.lab_report.rows", 0, flat, "2020-06", P).flagged
    j = judge("table.lab_report.rows", 50, flat, "2020-06", P)  # MAD 0: min_change keeps the range open
    assert not j.flagged and j.low is not None and math.isclose(j.low, 61 / 1.3 - 1)


def test_too_little_history_is_not_applicable_and_says_so() -> None:
    j = judge("summary.upload_days", 10, STEADY[:2], "2020-03", P)
    assert not j.applicable and not j.flagged
    assert "2 earlier period(s) stored, 3 needed" in j.describe()


def test_only_earlier_periods_count() -> None:
    later = [*STEADY, ("2020-07", 1.0), ("2020-08", 1.0), ("2020-09", 1.0)]  # a backfill of June
    j = judge("summary.outpatient_uploaded", 1000, later, "2020-06", P)
    assert not j.flagged and "2020-07" not in j.periods
    rerun = [*STEADY, ("2020-06", 1.0)]  # an earlier run of the same period is not history
    assert not judge("summary.outpatient_uploaded", 1000, rerun, "2020-06", P).flagged


def test_pct_change_against_the_previous_period() -> None:
    p = {**P, "method": "pct_change", "min": -0.4, "max": 1.0}
    j = judge("summary.data_volume", 590, STEADY, "2020-06", p)
    assert j.flagged and j.periods == ("2020-05",) and "-41%" in j.describe()
    assert not judge("summary.data_volume", 700, STEADY, "2020-06", p).flagged
    assert judge("summary.data_volume", 2000, STEADY, "2020-06", p).flagged


def test_spring_festival_months_are_matched_across_years() -> None:
    assert seasonal_reference("2021-02") == "2020-01"  # 春节 2021-02-12 and 2020-01-25
    assert seasonal_reference("2021-01") == "2020-02"
    assert seasonal_reference("2020-01") == "2019-02"  # 2019-02-05
    assert seasonal_reference("2021-07") == "2020-07"
    assert seasonal_reference("2023-01") == "2022-02"  # 2023-01-22, 2022-02-01
    assert seasonal_reference("2022-02") == "2021-02"


def series(months: list[str], festival: float = 0.65) -> list[tuple[str, float]]:
    from dq.engine.checks.history import SPRING_FESTIVAL

    out = []
    for i, p in enumerate(months):
        y, m = (int(x) for x in p.split("-"))
        v = 1000 * (1.01**i) * (1 + 0.02 * math.sin(i * 2.1))
        if SPRING_FESTIVAL[y].month == m:
            v *= festival
        out.append((p, v))
    return out


MONTHS_2020 = [f"2020-{m:02d}" for m in range(1, 13)] + ["2021-01"]


def test_seasonal_does_not_flag_spring_festival_with_a_year_of_history_but_robust_z_does() -> None:
    hist = series(MONTHS_2020)
    festive = 1000 * 1.01**13 * 0.65  # 2021-02, the Spring Festival month
    assert judge("summary.outpatient_uploaded", festive, hist, "2021-02", P).flagged
    j = judge("summary.outpatient_uploaded", festive, hist, "2021-02", {**P, "method": "seasonal"})
    assert not j.flagged and j.method == "seasonal" and "2020-01" in j.note
    # a real drop in the festival month is still caught
    assert judge(
        "summary.outpatient_uploaded", festive * 0.5, hist, "2021-02", {**P, "method": "seasonal"}
    ).flagged
    # without last year's month the seasonal method is robust_z, and says so
    short = judge("summary.outpatient_uploaded", 900, hist[3:], "2021-02", {**P, "method": "seasonal"})
    assert short.method == "robust_z" and "2020-01 not stored" in short.note


@pytest.fixture(scope="module")
def rules():
    import tempfile
    from pathlib import Path

    from dq.engine.suite import load_suites

    text = suite_yaml(
        [
            rule_dict("history_change", {"metric": "table.*.rows", "direction": "drop"}, id="H-1"),
            rule_dict(
                "history_change", {"metric": "summary.discharge_uploaded"}, id="H-2", when="kind = 'hospital'"
            ),
            rule_dict(
                "history_change",
                {"metric": "rule.*.fail_fraction", "direction": "rise", "min_change": 1.0},
                id="H-3",
            ),
        ],
        table="submission_summary",
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "h.yaml"
        f.write_text(text, encoding="utf-8")
        return {r.id: r for s in load_suites([f]) for r in s.rules}


def history_frame(rows: dict[str, list[tuple[str, float]]]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"period": p, "metric": m, "value": v} for m, vals in rows.items() for p, v in vals],
        schema={"period": pl.String, "metric": pl.String, "value": pl.Float64},
    )


def test_evaluate_history_counts_each_matching_metric_and_samples_the_history(rules) -> None:
    hist = history_frame(
        {
            "table.outpatient_visit.rows": STEADY,
            "table.lab_report.rows": [(p, v / 2) for p, v in STEADY],
            "rule.OV-1.fail_fraction": [(p, 0.01) for p, _ in STEADY],
            "rule.OV-2.fail_fraction": [(p, 0.0) for p, _ in STEADY],
        }
    )
    current = {
        "table.outpatient_visit.rows": 1000.0,
        "rule.OV-1.fail_fraction": 0.012,
        "rule.OV-2.fail_fraction": 0.2,
    }
    res = {
        r.rule: r
        for r in evaluate_history(list(rules.values()), "2020-06", current, hist, {"kind": "district"})
    }
    h1 = res["H-1"]  # lab_report was not uploaded this month: 0 rows
    assert (h1.status, h1.evaluated, h1.failed) == ("fail", 2, 1)
    assert "table.lab_report.rows = 0 outside expected [" in h1.message and "2020-01..2020-05" in h1.message
    assert [s["period"] for s in h1.samples] == ["2020-06", *(f"2020-0{m}" for m in range(1, 6))]
    assert h1.samples[0]["flagged"] is True and h1.samples[0]["value"] == 0
    assert res["H-2"].status == "not_applicable"  # when: hospitals only
    h3 = res["H-3"]
    assert (h3.evaluated, h3.failed) == (2, 1) and "rule.OV-2.fail_fraction" in h3.message
    # a hospital without discharge history: not applicable, with the reason
    h2 = evaluate_history(
        [rules["H-2"]], "2020-06", {"summary.discharge_uploaded": 5.0}, hist, {"kind": "hospital"}
    )[0]
    assert h2.status == "not_applicable" and "0 earlier period(s) stored" in h2.message
    no_summary = evaluate_history([rules["H-2"]], "2020-06", {"summary.discharge_uploaded": 5.0}, hist, None)[
        0
    ]
    assert no_summary.status == "not_applicable" and "no submission summary" in no_summary.message


def test_the_engine_alone_reports_history_rules_as_not_applicable(rules) -> None:
    from dq.engine.evaluate import evaluate_frame
    from dq.scoring.summary import summary_frame

    frame = summary_frame([{"unit_id": "H1", "kind": "hospital", "period": "2020-06"}]).lazy()
    _, results = evaluate_frame(frame, list(rules.values()), "submission_summary", samples=0)
    assert {r.status for r in results} == {"not_applicable"}


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"metric": "rows"}, "is not table.<table>.rows"),
        ({"metric": "summary.data_volume", "method": "pct_change"}, "needs min and/or max"),
        ({"metric": "summary.data_volume", "method": "sideways"}, "method"),
        ({"metric": "summary.data_volume", "window": 0}, "at least 1"),
        ({"metric": "summary.data_volume", "method": "pct_change", "min": 1, "max": 0}, "min is greater"),
    ],
)
def test_bad_params_are_reported_at_load(tmp_path, params, error) -> None:
    from dq.engine.suite import load_suites
    from dq.errors import SuiteError

    f = tmp_path / "bad.yaml"
    f.write_text(
        suite_yaml([rule_dict("history_change", params)], table="submission_summary"), encoding="utf-8"
    )
    with pytest.raises(SuiteError, match=error):
        load_suites([f])


def test_a_stray_failing_row_of_a_small_table_is_no_jump_but_five_are() -> None:
    p = {**P, "direction": "rise", "min_change": 1.0}
    zero = [(p_, 0.0) for p_, _ in STEADY]
    assert not judge("rule.SR-500.fail_fraction", 1 / 30, zero, "2020-06", p, evaluated=30).flagged
    assert judge("rule.SR-500.fail_fraction", 1 / 30, zero, "2020-06", p).flagged  # rows unknown: 1 %
    one = [(p_, 1 / 63) for p_, _ in STEADY]
    assert judge("rule.PI-111.fail_fraction", 5 / 63, one, "2020-06", p, evaluated=63).flagged


def test_a_one_off_anomaly_last_year_is_not_taken_for_a_season() -> None:
    months = [f"2020-{m:02d}" for m in range(1, 13)] + [f"2021-{m:02d}" for m in range(1, 6)]
    hist = [
        (p_, 3000.0 if p_ == "2020-06" else 1000.0 * (1 + 0.02 * math.sin(i))) for i, p_ in enumerate(months)
    ]
    seasonal = {**P, "method": "seasonal"}
    assert not judge("table.community_visit.rows", 1010, hist, "2021-06", seasonal).flagged
    assert judge("table.community_visit.rows", 400, hist, "2021-06", seasonal).flagged
