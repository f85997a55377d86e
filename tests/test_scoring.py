"""dq.scoring.scores: the scoring formula as pure functions, checked against hand-computed examples.

The formula (rules/scoring.yaml, docs/scoring.md), for a rule with status pass / warn / fail:

    w      = weight * severity_factor            (warning 0.5, error 1, critical 2)
    p      = 1 - failed / evaluated              (pass rate)
    T      = 1 - max_fraction                    (1 when only max_count is set)
    Z      = zero_at: 0.9 for record-level suites, 0.0 for the submission suite
    points = w                                   if the rule passed
           = w * clamp((p - Z) / (T - Z), 0, 1)  otherwise

Every expected number below is worked out by hand in the comment next to it.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest
import yaml

from dq.engine.results import RuleResult
from dq.errors import SuiteError
from dq.io.catalogue import default_rules_dir
from dq.scoring.scores import (
    ScoringConfig,
    district_rollup,
    grade_for,
    load_scoring,
    rank_units,
    rule_points,
    score_unit,
)

CFG = load_scoring()
ERR = {"max_fraction": 0.0, "max_count": None}  # the suites' default threshold


def rr(
    rule: str = "R-001",
    *,
    suite: str = "hospital.outpatient_visit",
    status: str = "fail",
    evaluated: int = 100,
    failed: int = 0,
    severity: str = "error",
    weight: float = 1.0,
    threshold: dict | None = None,
    dimension: str = "completeness",
) -> RuleResult:
    return RuleResult(
        rule=rule,
        suite=suite,
        table="t",
        check="not_null",
        columns=("c",),
        dimension=dimension,
        severity=severity,
        status=status,
        evaluated=evaluated,
        failed=failed,
        fail_fraction=failed / evaluated if evaluated else None,
        message="",
        weight=weight,
        threshold=dict(ERR if threshold is None else threshold),
    )


def test_config_is_the_documented_one():
    # The hand computations below rely on these values of rules/scoring.yaml.
    assert CFG.zero_at("hospital.outpatient_visit") == 0.9
    assert CFG.zero_at("district.resident_record") == 0.9
    assert CFG.zero_at("submission") == 0.0
    assert dict(CFG.severity_factor) == {"warning": 0.5, "error": 1.0, "critical": 2.0}
    assert dict(CFG.parts) == {"submission": 0.4, "records": 0.6}
    assert [(g, lo) for g, _, lo in CFG.grades] == [("A", 90), ("B", 80), ("C", 60), ("D", 0)]
    assert [zh for _, zh, _ in CFG.grades] == ["优", "良", "中", "差"]


def test_dataclass_defaults_equal_the_yaml():
    # ScoringConfig() must describe the same formula as rules/scoring.yaml.
    assert ScoringConfig() == CFG


# ----------------------------------------------------------------------------- rule_points
def test_pass_earns_its_full_weight():
    # weight 2, severity error (factor 1): w = 2; passed -> 2 of 2 points.
    p = rule_points(rr(status="pass", evaluated=50, failed=0, weight=2), CFG)
    assert p is not None
    assert (p.points, p.max_points, p.lost) == (2.0, 2.0, 0.0)
    assert (p.part, p.dimension, p.rule) == ("records", "completeness", "R-001")


def test_pass_within_a_tolerance_still_earns_everything():
    # 3 of 100 fail but max_fraction 0.05 lets it pass: points = w = 1.
    p = rule_points(rr(status="pass", failed=3, threshold={"max_fraction": 0.05, "max_count": None}), CFG)
    assert p is not None and p.points == 1.0


@pytest.mark.parametrize(
    ("failed", "expected"),
    [
        (5, 0.5),  # p = 0.95: (0.95 - 0.9) / (1 - 0.9) = 0.05 / 0.1 = 0.5  -> half the points
        (1, 0.9),  # p = 0.99: (0.99 - 0.9) / 0.1 = 0.9
        (10, 0.0),  # p = 0.90: (0.90 - 0.9) / 0.1 = 0  -> nothing at zero_at
        (15, 0.0),  # p = 0.85: (0.85 - 0.9) / 0.1 = -0.5, clamped to 0
        (100, 0.0),  # p = 0: clamped to 0
    ],
)
def test_fail_max_fraction_0_zero_at_0_9(failed, expected):
    p = rule_points(rr(failed=failed), CFG)
    assert p is not None
    assert p.max_points == 1.0
    assert p.points == pytest.approx(expected)


def test_fail_max_fraction_0_1_in_the_submission_suite():
    # SUB-002-like: 64 of 85 required tables declared, 21 missing, weight 3.
    # p = 64/85 = 0.752941; T = 1 - 0.1 = 0.9; Z = 0 (submission)
    # share = 0.752941 / 0.9 = 0.836601; points = 3 * 0.836601 = 2.509804
    r = rr(
        "SUB-002",
        suite="submission",
        evaluated=85,
        failed=21,
        weight=3,
        threshold={"max_fraction": 0.1, "max_count": None},
    )
    p = rule_points(r, CFG)
    assert p is not None
    assert p.part == "submission"
    assert p.points == pytest.approx(3 * (64 / 85) / 0.9)
    assert p.points == pytest.approx(2.509804, abs=1e-6)
    assert p.max_points == 3.0


def test_fail_max_fraction_0_05_record_level():
    # T = 0.95, Z = 0.9, p = 0.92: (0.92 - 0.9) / (0.95 - 0.9) = 0.02 / 0.05 = 0.4
    p = rule_points(rr(failed=8, threshold={"max_fraction": 0.05, "max_count": None}), CFG)
    assert p is not None and p.points == pytest.approx(0.4)


def test_fail_max_fraction_0_1_record_level_is_a_step():
    # T = 0.9 = zero_at: Z is capped just below T, so any failing pass rate earns nothing.
    # p = 0.89: (0.89 - 0.9) / ~0 -> clamped to 0.
    p = rule_points(rr(failed=11, threshold={"max_fraction": 0.1, "max_count": None}), CFG)
    assert p is not None and p.points == 0.0 and p.max_points == 1.0


def test_fail_max_count_only_threshold():
    # {max_count: 10} without max_fraction -> T = 1.
    # 30 of 1000 fail: p = 0.97; (0.97 - 0.9) / (1 - 0.9) = 0.7
    r = rr(evaluated=1000, failed=30, threshold={"max_fraction": None, "max_count": 10})
    p = rule_points(r, CFG)
    assert p is not None and p.points == pytest.approx(0.7)


def test_fail_submission_upload_days_is_linear():
    # SUB-005: 27 upload days of 31 -> failed 4; weight 2; Z = 0, T = 1
    # share = (27/31 - 0) / (1 - 0) = 0.870968; points = 2 * 0.870968 = 1.741935
    p = rule_points(rr("SUB-005", suite="submission", evaluated=31, failed=4, weight=2), CFG)
    assert p is not None and p.points == pytest.approx(1.741935, abs=1e-6)


@pytest.mark.parametrize(
    ("severity", "status", "max_points", "points"),
    [
        # weight 2 * 0.5 = 1; p = 0.95 -> share 0.5 -> 0.5 points
        ("warning", "warn", 1.0, 0.5),
        # weight 2 * 1 = 2; share 0.5 -> 1
        ("error", "fail", 2.0, 1.0),
        # weight 2 * 2 = 4; share 0.5 -> 2
        ("critical", "fail", 4.0, 2.0),
    ],
)
def test_severity_factor(severity, status, max_points, points):
    p = rule_points(rr(severity=severity, status=status, failed=5, weight=2), CFG)
    assert p is not None
    assert p.max_points == pytest.approx(max_points)
    assert p.points == pytest.approx(points)


@pytest.mark.parametrize(
    ("status", "evaluated"),
    [("error", 0), ("not_applicable", 0), ("error", 10), ("fail", 0), ("pass", 0)],
)
def test_unscored_results_give_none(status, evaluated):
    assert rule_points(rr(status=status, evaluated=evaluated), CFG) is None


# ----------------------------------------------------------------------------- score_unit
def example_results() -> list[RuleResult]:
    sub = {"suite": "submission"}
    return [
        # submission part
        rr("SUB-005", **sub, evaluated=31, failed=4, weight=2, dimension="timeliness"),  # 1.741935 / 2
        rr("SUB-001", **sub, status="pass", evaluated=1, weight=2),  # 2 / 2
        rr("SUB-009", **sub, status="warn", evaluated=1, failed=1, weight=2, severity="warning"),  # 0 / 1
        # record-level part
        rr("R-1", status="pass"),  # 1 / 1 completeness
        rr("R-2", failed=5, dimension="conformance"),  # p .95 -> 0.5 / 1
        rr("R-3", failed=2, severity="critical", dimension="uniqueness"),  # w 2, p .98 -> .8 -> 1.6 / 2
        rr("R-4", status="error", evaluated=0, dimension="timeliness"),  # not scored
        rr("R-5", status="not_applicable", evaluated=0, dimension="plausibility"),  # not scored
    ]


def test_score_unit_hand_computed():
    s = score_unit(example_results(), CFG)
    # submission: (1.741935 + 2 + 0) / (2 + 2 + 1) = 3.741935 / 5 = 74.84 %
    # records:    (1 + 0.5 + 1.6) / (1 + 1 + 2)   = 3.1 / 4       = 77.50 %
    assert dict(s.parts) == {"submission": 74.84, "records": 77.5}
    # unit: 0.4 * 74.84 + 0.6 * 77.5 = 29.936 + 46.5 = 76.436 -> 76.44, grade C (60 <= x < 80)
    assert s.score == 76.44
    assert s.grade == "C"
    # dimensions:
    #   completeness: SUB-001 2/2, SUB-009 0/1, R-1 1/1 -> 3/4 = 75.0
    #   timeliness:   SUB-005 1.741935/2 = 87.10 (R-4 errored: neither earns nor costs)
    #   conformance:  0.5/1 = 50.0;  uniqueness: 1.6/2 = 80.0
    #   plausibility: only a not_applicable rule -> None; consistency: no rule -> None
    assert dict(s.dimensions) == {
        "completeness": 75.0,
        "conformance": 50.0,
        "plausibility": None,
        "uniqueness": 80.0,
        "timeliness": 87.1,
        "consistency": None,
    }
    assert [p.rule for p in s.points] == ["SUB-005", "SUB-001", "SUB-009", "R-1", "R-2", "R-3"]
    rows = {r["facet"]: r["score"] for r in s.rows()}
    assert rows["overall"] == 76.44
    assert rows["part:submission"] == 74.84 and rows["part:records"] == 77.5
    assert rows["uniqueness"] == 80.0 and rows["consistency"] is None


def test_score_unit_one_part_missing_is_renormalised():
    results = example_results()
    only_sub = score_unit([r for r in results if r.suite == "submission"], CFG)
    # records part absent -> weights renormalised: 0.4 * 74.84 / 0.4 = 74.84
    assert only_sub.parts == {"submission": 74.84, "records": None}
    assert only_sub.score == 74.84 and only_sub.grade == "C"
    only_rec = score_unit([r for r in results if r.suite != "submission"], CFG)
    # 0.6 * 77.5 / 0.6 = 77.5
    assert only_rec.parts == {"submission": None, "records": 77.5}
    assert only_rec.score == 77.5


def test_score_unit_with_errors_only_has_no_score():
    s = score_unit([rr(status="error", evaluated=0), rr(status="not_applicable", evaluated=0)], CFG)
    assert s.score is None and s.grade is None
    assert s.parts == {"submission": None, "records": None}
    assert s.points == ()


def test_score_unit_all_pass_is_100():
    s = score_unit([rr(status="pass"), rr("SUB-001", suite="submission", status="pass", evaluated=1)], CFG)
    assert s.score == 100.0 and s.grade == "A"


def test_score_unit_custom_parts_weights():
    # With parts 0.5 / 0.5: (74.84 + 77.5) / 2 = 76.17
    cfg = replace(CFG, parts={"submission": 0.5, "records": 0.5})
    assert score_unit(example_results(), cfg).score == 76.17


@pytest.mark.parametrize(
    ("score", "grade"),
    [
        (100.0, "A"),
        (90.0, "A"),
        (89.99, "B"),
        (80.0, "B"),
        (79.99, "C"),
        (60.0, "C"),
        (59.99, "D"),
        (0.0, "D"),
        (None, None),
    ],
)
def test_grade_boundaries(score, grade):
    assert grade_for(score, CFG) == grade


# ----------------------------------------------------------------------------- rank_units
def test_rank_units_ties_min_per_kind_and_nulls():
    df = pl.DataFrame(
        {
            "unit_id": ["H1", "H2", "H3", "H4", "H5", "D1", "D2", "D3"],
            "kind": ["hospital"] * 5 + ["district"] * 3,
            "score": [90.0, 85.0, 85.0, 70.0, None, 95.0, 60.0, 95.0],
        }
    )
    out = rank_units(df)
    ranks = dict(zip(out["unit_id"], out["rank"], strict=True))
    # hospitals: 90 -> 1; 85, 85 -> 2, 2 (method min); 70 -> 4 (not 3); no score -> no rank
    assert [ranks[u] for u in ("H1", "H2", "H3", "H4", "H5")] == [1, 2, 2, 4, None]
    # districts are ranked among themselves: 95, 95 -> 1, 1; 60 -> 3
    assert [ranks[u] for u in ("D1", "D2", "D3")] == [1, 3, 1]
    of = dict(zip(out["unit_id"], out["of"], strict=True))
    assert of["H1"] == 4 and of["H5"] == 4  # units with a score among the hospitals
    assert of["D1"] == 3
    assert out["rank"].dtype == pl.Int64


# ----------------------------------------------------------------------------- district_rollup
def test_district_rollup():
    units = pl.DataFrame(
        {
            "unit_id": ["D1", "D2", "H1", "H2", "H3", "H4", "H5", "H6"],
            "unit_name": ["玄武区", "秦淮区", "h1", "h2", "h3", "h4", "h5", "h6"],
            "kind": ["district", "district"] + ["hospital"] * 6,
            "district": ["玄武区", "秦淮区", "玄武区", "玄武区", "玄武区", None, "江宁区", None],
            "score": [80.0, 70.0, 90.0, 81.0, None, 50.0, 60.0, 99.0],
        }
    )
    out = {r["district"]: r for r in district_rollup(units).to_dicts()}
    # hospitals without a district (H4, H6) belong to no row
    assert sorted(out) == ["江宁区", "玄武区", "秦淮区"]
    x = out["玄武区"]
    # platform D1 = 80; hospitals H1 90, H2 81, H3 unscored: mean (90 + 81) / 2 = 85.5
    assert (x["platform_id"], x["platform_score"], x["hospital_mean"]) == ("D1", 80.0, 85.5)
    assert (x["hospitals_scored"], x["hospitals"]) == (2, 3)
    # a district platform without hospitals: no mean, zero hospitals
    q = out["秦淮区"]
    assert (q["platform_id"], q["platform_score"], q["hospital_mean"]) == ("D2", 70.0, None)
    assert (q["hospitals_scored"], q["hospitals"]) == (0, 0)
    # hospitals of a district whose platform was not scored still roll up
    j = out["江宁区"]
    assert (j["platform_id"], j["platform_score"], j["hospital_mean"], j["hospitals"]) == (
        None,
        None,
        60.0,
        1,
    )


def test_district_rollup_mean_is_rounded():
    units = pl.DataFrame(
        {
            "unit_id": ["D1", "H1", "H2", "H3"],
            "unit_name": ["d", "a", "b", "c"],
            "kind": ["district", "hospital", "hospital", "hospital"],
            "district": ["d", "d", "d", "d"],
            "score": [None, 80.0, 85.0, 91.0],
        }
    )
    (row,) = district_rollup(units).to_dicts()
    # (80 + 85 + 91) / 3 = 85.3333 -> 85.33; the platform has no score
    assert row["hospital_mean"] == 85.33 and row["platform_score"] is None


# ----------------------------------------------------------------------------- config
def test_load_scoring_rejects_bad_config(tmp_path: Path):
    bad = tmp_path / "scoring.yaml"
    bad.write_text("zero_at: {default: 1.5}\nseverity_factor: {error: 1}\nparts: {records: 1}\ngrades: []\n")
    with pytest.raises(SuiteError, match="zero_at"):
        load_scoring(bad)
    bad.write_text("severity_factor: {error: 1}\n")  # no parts, no grades
    with pytest.raises(SuiteError, match="invalid scoring config"):
        load_scoring(bad)
    bad.write_text("severity_factor: {error: 1}\nparts: {elsewhere: 1}\ngrades: []\n")
    with pytest.raises(SuiteError, match="parts"):
        load_scoring(bad)


def test_load_scoring_custom_values(tmp_path: Path):
    f = tmp_path / "scoring.yaml"
    f.write_text(
        "zero_at: {default: 0.8, suites: {hospital.x: 0.5}}\n"
        "severity_factor: {warning: 0.25, error: 1, critical: 3}\n"
        "parts: {submission: 1, records: 3}\n"
        "grades: [{grade: P, min: 50}, {grade: F, min: 0}]\n"
    )
    cfg = load_scoring(f)
    assert cfg.zero_at("hospital.x") == 0.5 and cfg.zero_at("other") == 0.8
    # p = 0.95, Z = 0.8: (0.95 - 0.8) / 0.2 = 0.75; warning w = 2 * 0.25 = 0.5 -> 0.375
    p = rule_points(rr(status="warn", severity="warning", weight=2, failed=5), cfg)
    assert p is not None and p.points == pytest.approx(0.375) and p.max_points == 0.5
    assert grade_for(50, cfg) == "P" and grade_for(49.9, cfg) == "F"


def test_docs_state_the_configured_formula():
    """The YAML block of docs/scoring.md is rules/scoring.yaml (comments and version aside)."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "scoring.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"```yaml\n(.*?)```", doc, flags=re.S)
    configured = yaml.safe_load((default_rules_dir() / "scoring.yaml").read_text(encoding="utf-8"))
    configured.pop("version", None)
    assert yaml.safe_load(block) == configured
