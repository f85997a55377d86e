"""dq.report.model: the reports' view models, checked without any HTML.

Stores are written through the normal path (:meth:`dq.store.history.Store.write_unit`) with hand-made
results, so ranks, growth, change classes and the order of failing rules are known exactly.
"""

from __future__ import annotations

import json
import re

import polars as pl
import pytest

from dq.engine.checks import DIMENSIONS
from dq.engine.results import RuleResult
from dq.io.catalogue import load_catalogue
from dq.report.i18n import LABELS, period_label, tr
from dq.report.model import (
    PeriodData,
    build_campaign,
    build_index,
    classify_changes,
    growth,
    mask_sample,
    rank_of,
    report_filename,
    rule_gains,
    sample_table,
    submission_view,
    threshold_text,
)
from dq.scoring.scores import UnitScore, load_scoring, score_unit
from dq.store.history import Store

CAT = load_catalogue()
CFG = load_scoring()


# ------------------------------------------------------------------------------- helpers
def rr(
    rule: str,
    failed: int,
    evaluated: int = 100,
    *,
    status: str | None = None,
    weight: float = 1.0,
    severity: str = "error",
    max_fraction: float = 0.0,
    samples: tuple = (),
    table: str = "patient_index",
) -> RuleResult:
    return RuleResult(
        rule=rule,
        suite=f"hospital.{table}",
        table=table,
        check="not_null",
        columns=("id_no",),
        dimension="completeness",
        severity=severity,
        status=status or ("pass" if failed == 0 else "fail"),
        evaluated=evaluated,
        failed=failed,
        fail_fraction=failed / evaluated if evaluated else None,
        message=f"{failed} of {evaluated} fail ({100 * failed / max(evaluated, 1):.2f}%)",
        samples=samples,
        weight=weight,
        threshold={"max_fraction": max_fraction},
        title_zh=f"规则{rule}",
        title_en=f"Rule {rule}",
    )


def fixed_score(score: float) -> UnitScore:
    return UnitScore(score, "A" if score >= 90 else "D", {"submission": score, "records": None}, {}, ())


def write(store: Store, run, uid: str, kind: str, results=(), score: float | None = None, error=None):
    unit = {"unit_id": uid, "name": f"单位{uid}", "kind": kind, "district": "玄武区"}
    sc = fixed_score(score) if score is not None else (score_unit(list(results), CFG) if results else None)
    fixes = {r.rule: (f"修复{r.rule}", f"fix {r.rule}") for r in results}
    store.write_unit(run, unit, list(results), None if error else sc, None, fixes, error=error)


# ------------------------------------------------------------------------------- labels
def test_both_languages_have_every_label():
    assert set(LABELS["zh"]) == set(LABELS["en"])
    for lang in LABELS:
        assert all(v.strip() for v in LABELS[lang].values()), lang
    assert tr("zh", "rank_text", rank=3, of=24) == "第 3 / 24 名"
    assert tr("en", "rank_text", rank=3, of=24) == "No. 3 of 24"
    for d in DIMENSIONS:
        assert f"dim_{d}" in LABELS["en"]
    assert period_label("2020-09", "zh") == "2020年9月"
    assert period_label("2020-09", "en") == "September 2020"


# ------------------------------------------------------------------------------- ranks
def test_rank_among_units_of_the_same_kind_only():
    scores = pl.DataFrame(
        {
            "unit_id": ["H1", "H2", "H3", "H4", "D1", "D2", "H5"],
            "kind": ["hospital"] * 4 + ["district"] * 2 + ["hospital"],
            "score": [80.0, 95.0, 80.0, 60.0, 99.0, 70.0, None],
        }
    )
    assert rank_of(scores, "H2") == (1, 4)
    assert rank_of(scores, "H1") == (2, 4)  # tie with H3: both 2nd, next is 4th
    assert rank_of(scores, "H3") == (2, 4)
    assert rank_of(scores, "H4") == (4, 4)
    assert rank_of(scores, "D2") == (2, 2)
    assert rank_of(scores, "H5") == (None, None)  # no score, no rank
    assert rank_of(scores, "nope") == (None, None)


def test_unit_report_rank_text_and_no_other_unit(tmp_path):
    store = Store(tmp_path)
    run = store.begin_run("2020-09", "h", "test")
    for uid, s in (("H1", 70.0), ("H2", 90.0), ("H3", 80.0)):
        write(store, run, uid, "hospital", score=s)
    write(store, run, "D1", "district", score=10.0)
    write(store, run, "H9", "hospital", error="/srv/batch/2020-09/H9/manifest.yaml: bad manifest")
    store.finish_run(run, 5, 1)
    data = PeriodData(store, "2020-09")
    r = data.unit("H3")
    assert (r.rank, r.of, r.rank_text) == (2, 3, "第 2 / 3 名")
    assert r.rank_among == "在各医院中"
    bad = data.unit("H9")
    assert bad.status == "error" and bad.score is None and bad.rank is None
    assert bad.error == "H9/manifest.yaml: bad manifest"  # the server's folders are left out
    assert tr("en", "rank_text", rank=2, of=3) == PeriodData(store, "2020-09", "en").unit("H3").rank_text


def test_a_stored_error_is_shown_masked(tmp_path):
    """An error stored before dq masked names when storing (or by another tool) is masked when
    the report shows it."""
    store = Store(tmp_path)
    run = store.begin_run("2020-09", "h", "test")
    ident, name = "110105197501010213", "欧阳秀英"
    write(store, run, "H9", "hospital", error=f"/srv/batch/2020-09/{ident}/{name}.csv: a FIFO")
    store.finish_run(run, 1, 1)
    shown = PeriodData(store, "2020-09").unit("H9").error
    assert ident not in shown and name[1:] not in shown, shown
    assert shown.endswith(".csv: a FIFO") and shown.startswith(ident[:6]), shown


# ------------------------------------------------------------------------------- growth
def test_growth_matches_a_hand_computed_example():
    # +50 %, +10 %, −10 %  → mean of relative changes = 50 / 3 = 16.67 %
    # means 76.67 → 84.33  → relative change of the mean = 10 %
    pairs = [(50.0, 75.0), (80.0, 88.0), (100.0, 90.0)]
    per_unit, of_mean, n = growth(pairs)
    assert n == 3
    assert per_unit == pytest.approx(50 / 3)
    assert of_mean == pytest.approx(10.0)
    # a unit at 0 has no relative change: left out of the per-unit mean only
    per_unit0, of_mean0, n0 = growth([*pairs, (0.0, 30.0)])
    assert n0 == 3 and per_unit0 == pytest.approx(50 / 3)
    assert of_mean0 == pytest.approx(
        ((75 + 88 + 90 + 30) / 4 - (50 + 80 + 100) / 4) / ((50 + 80 + 100) / 4) * 100
    )
    assert growth([]) == (None, None, 0)


def test_campaign_per_kind_both_measures_and_units_in_one_period(tmp_path):
    store = Store(tmp_path)
    before = {"H1": 50.0, "H2": 80.0, "H3": 100.0, "D1": 40.0, "D2": 60.0, "H8": 70.0}
    after = {"H1": 75.0, "H2": 88.0, "H3": 90.0, "D1": 60.0, "D2": 60.0, "H9": 99.0}
    for period, scores in (("2018-03", before), ("2020-09", after)):
        run = store.begin_run(period, "h", "test")
        for uid, s in scores.items():
            write(store, run, uid, "district" if uid.startswith("D") else "hospital", score=s)
        store.finish_run(run, len(scores), 0)
    c = build_campaign(store, "2018-03", "2020-09")
    kinds = {k.kind: k for k in c.kinds}
    assert [k.kind for k in c.kinds] == ["district", "hospital"]
    h = kinds["hospital"]
    assert (h.n, h.improved, h.regressed) == (3, 2, 1)
    assert h.growth_per_unit == pytest.approx(16.67)
    assert h.growth_of_mean == pytest.approx(10.0)
    d = kinds["district"]
    assert d.growth_per_unit == pytest.approx(25.0)  # (+50 % + 0 %) / 2
    assert d.growth_of_mean == pytest.approx(20.0)  # 50 → 60
    assert [u.unit_id for u in c.regressed] == ["H3"]
    assert {u.unit_id for u in c.only_one} == {"H8", "H9"}
    h1 = next(u for u in h.units if u.unit_id == "H1")
    assert (h1.change, h1.rel_change) == (25.0, 50.0)
    # the same with run ids instead of periods
    runs = store.runs()
    c2 = build_campaign(store, runs["run_id"][0], runs["run_id"][1], "en")
    assert {k.kind: k.growth_per_unit for k in c2.kinds} == {"district": 25.0, "hospital": 16.67}


def test_rule_gains_points_regained_and_fail_to_pass():
    # losses in overall-score points (with_losses), not the rules' own points
    def frame(rows):
        return pl.DataFrame(
            rows,
            schema=["unit_id", "rule", "status", "loss", "title_zh", "title_en"],
            orient="row",
        )

    before = frame(
        [
            ("U1", "R1", "fail", 3.0, "甲", "A"),
            ("U2", "R1", "fail", 1.5, "甲", "A"),
            ("U1", "R2", "pass", 0.0, "乙", "B"),
            ("U2", "R2", "fail", 0.8, "乙", "B"),
            ("U1", "R3", "fail", 1.0, "丙", "C"),  # not scored after: ignored
        ]
    )
    after = frame(
        [
            ("U1", "R1", "pass", 0.0, "甲", "A"),
            ("U2", "R1", "fail", 0.5, "甲", "A"),
            ("U1", "R2", "fail", 1.0, "乙", "B"),
            ("U2", "R2", "pass", 0.0, "乙", "B"),
            ("U1", "R3", "not_applicable", None, "丙", "C"),
        ]
    )
    gains = rule_gains(before, after, "zh")
    assert [g.rule for g in gains] == ["R1"]  # R2: one up, one down, 0.2 points lost overall
    g = gains[0]
    assert (g.units, g.lost_before, g.lost_after, g.regained, g.per_unit, g.fail_to_pass, g.pass_to_fail) == (
        2,
        4.5,
        0.5,
        4.0,
        2.0,
        1,
        0,
    )
    assert g.title == "甲"


def test_with_losses_are_overall_score_points():
    # one records rule worth 2 of a records part of 4 (w 2 + 2) and one submission rule worth 1
    # of 1: the parts weigh as scoring.yaml says, and the losses add up to 100 − score
    from dq.report.campaign import with_losses
    from dq.scoring.scores import SUBMISSION_SUITE, load_scoring

    cfg = load_scoring()
    res = pl.DataFrame(
        {
            "unit_id": ["U1", "U1", "U1", "U1"],
            "rule": ["R1", "R2", "S1", "R9"],
            "suite": ["hospital", "hospital", SUBMISSION_SUITE, "hospital"],
            "status": ["fail", "pass", "fail", "not_applicable"],
            "points": [0.5, 2.0, 0.0, None],
            "max_points": [2.0, 2.0, 1.0, None],
        }
    )
    w_sub, w_rec = cfg.parts["submission"], cfg.parts["records"]
    sub_score, rec_score = 0.0, 100 * 2.5 / 4
    score = round((w_sub * sub_score + w_rec * rec_score) / (w_sub + w_rec), 2)
    out = dict(with_losses(res, {"U1": score}).select("rule", "loss").iter_rows())
    assert out["R1"] == pytest.approx(100 * w_rec / (w_sub + w_rec) * 1.5 / 4)
    assert out["S1"] == pytest.approx(100 * w_sub / (w_sub + w_rec))
    assert out["R2"] == 0.0 and out["R9"] is None
    assert out["R1"] + out["S1"] == pytest.approx(100 - score, abs=0.01)
    # a unit without a score has no losses
    assert with_losses(res, {})["loss"].is_null().all()


# ------------------------------------------------------------------------------- changes
def test_classify_changes_fixed_new_persisting_gone():
    now = [
        {"rule": "A", "status": "pass"},
        {"rule": "B", "status": "fail"},
        {"rule": "C", "status": "warn"},
        {"rule": "D", "status": "not_applicable"},
        {"rule": "E", "status": "fail"},
    ]
    before = [
        {"rule": "A", "status": "fail"},
        {"rule": "B", "status": "fail"},
        {"rule": "C", "status": "pass"},
        {"rule": "D", "status": "warn"},
        {"rule": "F", "status": "fail"},
    ]
    assert classify_changes(now, before) == {
        "fixed": ["A"],
        "new": ["C", "E"],
        "persisting": ["B"],
        "gone": ["D", "F"],
    }
    assert classify_changes(now, None) == {"fixed": [], "new": [], "persisting": [], "gone": []}


def test_unit_report_changes_since_previous_run(tmp_path):
    store = Store(tmp_path)
    run = store.begin_run("2020-08", "h", "test")
    write(store, run, "H1", "hospital", [rr("R1", 5), rr("R2", 0), rr("R3", 3)])
    store.finish_run(run, 1, 0)
    first = PeriodData(store, "2020-08").unit("H1")
    assert first.changes.previous_period is None
    assert all(f.change is None for f in first.failing)
    run = store.begin_run("2020-09", "h", "test")
    write(store, run, "H1", "hospital", [rr("R1", 0), rr("R2", 4), rr("R3", 1)])
    store.finish_run(run, 1, 0)
    r = PeriodData(store, "2020-09").unit("H1")
    ch = r.changes
    assert ch.previous_period == "2020-08"
    assert [x.rule for x in ch.fixed] == ["R1"]
    assert [x.rule for x in ch.new] == ["R2"]
    assert [x.rule for x in ch.persisting] == ["R3"]
    assert {f.rule: f.change for f in r.failing} == {"R2": "new", "R3": "persisting"}
    assert [p.period for p in r.trend] == ["2020-08", "2020-09"]
    assert r.trend[-1].current and not r.trend[0].current


# ------------------------------------------------------------------------------- failing rules
def test_failing_rules_sorted_by_points_lost(tmp_path):
    store = Store(tmp_path)
    run = store.begin_run("2020-09", "h", "test")
    results = [
        rr("R-small", 1, weight=1.0),  # 1 % failing: loses 0.1 of 1
        rr("R-big", 50, weight=3.0),  # loses all 3
        rr("R-mid", 5, weight=2.0),  # 5 %: loses 2 * 0.5 = 1
        rr("R-warn", 8, weight=1.0, severity="warning", status="warn"),  # loses 0.5 * 0.8 = 0.4
        rr("R-ok", 0),
        rr("R-err", 0, 0, status="error"),
    ]
    write(store, run, "H1", "hospital", results)
    store.finish_run(run, 1, 0)
    r = PeriodData(store, "2020-09").unit("H1")
    assert [f.rule for f in r.failing] == ["R-big", "R-mid", "R-warn", "R-small"]
    assert [f.lost for f in r.failing] == [3.0, 1.0, 0.4, 0.1]
    big = r.failing[0]
    assert (big.failed, big.evaluated) == (50, 100)
    assert big.counts_text == "不合格 50 / 评估 100 条（50.00%）"
    assert big.threshold_text == "不允许不合格"
    assert big.fix == "修复R-big"
    assert big.title == "规则R-big"
    assert big.message == ""  # the generic "n of m fail" message is not repeated
    assert [x.rule for x in r.not_run] == ["R-err"]
    en = PeriodData(store, "2020-09", "en").unit("H1").failing[0]
    assert (en.fix, en.title, en.lost_text) == ("fix R-big", "Rule R-big", "−3 points (of 3)")


def test_threshold_text():
    assert threshold_text(0.0, None, "zh") == "不允许不合格"
    assert threshold_text(None, None, "en") == "no failure allowed"
    assert threshold_text(0.05, None, "zh") == "不合格比例 ≤ 5%"
    assert threshold_text(0.005, None, "en") == "failing share ≤ 0.50%"
    assert threshold_text(None, 10, "en") == "at most 10 failing"
    assert threshold_text(None, 10, "zh") == "不合格 ≤ 10 条"
    assert threshold_text(None, 2, "zh", "天") == "不合格 ≤ 2 天"  # days of the submission, not rows


# ------------------------------------------------------------------------------- masking
RAW_ID, RAW_NAME, RAW_PHONE = "320106199001011234", "王小明", "13812345678"


def test_masked_samples_stay_masked_and_raw_ones_get_masked():
    masked = {"patient_id": "P1", "id_no": "320106********1234", "name": "王**", "phone": "138****5678"}
    assert mask_sample(masked, "patient_index", CAT) == masked  # idempotent: already masked upstream
    raw = {"patient_id": "P1", "id_no": RAW_ID, "name": RAW_NAME, "phone": RAW_PHONE, "id_no__raw": RAW_ID}
    assert mask_sample(raw, "patient_index", CAT) == {
        "patient_id": "P1",
        "id_no": "320106********1234",
        "name": "王**",
        "phone": "138****5678",
        "id_no__raw": "320106********1234",
    }
    # a looked-up column from another table (<table>__<column>) and a pii name seen elsewhere
    looked = mask_sample({"patient_index__name": RAW_NAME, "id_no": RAW_ID}, "outpatient_visit", CAT)
    assert looked == {"patient_index__name": "王**", "id_no": "320106********1234"}


def test_sample_table_from_stored_json(tmp_path):
    rows = [{"patient_id": "P1", "id_no": RAW_ID, "name": None}, {"patient_id": "P2", "phone": RAW_PHONE}]
    t = sample_table(json.dumps(rows, ensure_ascii=False), "patient_index", CAT, "zh")
    assert t.columns == ("patient_id", "id_no", "name", "phone")
    assert t.rows[0] == ("P1", "320106********1234", "（空）", "（空）")
    assert t.rows[1][3] == "138****5678"
    assert sample_table("not json", "patient_index", CAT, "zh").rows == ()


def test_report_masks_samples_read_from_the_store(tmp_path):
    store = Store(tmp_path)
    run = store.begin_run("2020-09", "h", "test")
    samples = ({"patient_id": "P1", "id_no": "320106********1234", "name": "王**"},)
    write(store, run, "H1", "hospital", [rr("R1", 3, samples=samples)])
    store.finish_run(run, 1, 0)
    f = PeriodData(store, "2020-09").unit("H1").failing[0]
    assert f.samples.columns == ("patient_id", "id_no", "name")
    assert f.samples.rows == (("P1", "320106********1234", "王**"),)


# ------------------------------------------------------------------------------- submission
def summary(**kw):
    base = {
        "kind": "hospital",
        "declaration_status": "declared",
        "declared_tables": 26,
        "required_tables": 85,
        "uploaded_tables": 13,
        "data_volume": 1000,
        "upload_days": 3,
        "upload_dates": "1,2,5",
        "days_in_period": 30,
        "outpatient_uploaded": 120,
        "outpatient_reference": 100,
        "outpatient_rate": 120.0,
        "outpatient_rate_status": "reported",
        "discharge_uploaded": 5,
        "discharge_reference": None,
        "discharge_rate": None,
        "discharge_rate_status": "no_reference",
    }
    return base | kw


def test_submission_markers_rates_and_calendar():
    s = submission_view(summary(), "2020-09", "zh")
    assert s.declared_text == "26 / 85" and s.declared_note == ""
    out, dis = s.rates
    assert out.over and out.rate == 120.0 and out.status_text == ""
    assert not dis.over and dis.rate is None and dis.status_text == "未获取卫统数据"
    assert len(s.calendar) == 30
    assert [d.day for d in s.calendar if d.uploaded] == [1, 2, 5]
    assert s.calendar[0].weekday == 1  # 2020-09-01 was a Tuesday
    assert s.calendar_note == ""
    nr = submission_view(summary(declaration_status="not_reported", declared_tables=None), "2020-09", "zh")
    assert nr.declared_text == "未反馈 / 85"
    db = submission_view(summary(declaration_status="direct_db", required_tables=None), "2020-09", "zh")
    assert db.declared_text == "开库采集"
    assert submission_view(summary(), "2020-09", "en").rates[1].status_text.startswith("No official")
    # only the count is known: no calendar, and the page says so
    count_only = submission_view(summary(upload_dates=None, upload_days=29), "2018-03", "zh")
    assert count_only.calendar == ()
    assert "29" in count_only.calendar_note and "没有具体日期" in count_only.calendar_note
    unknown = submission_view(summary(upload_dates=None, upload_days=None), "2018-03", "en")
    assert unknown.calendar_note == "No upload-day figures."
    district = submission_view(
        summary(kind="district", discharge_rate_status="not_applicable", records_basic=10), "2020-09", "zh"
    )
    assert [r.key for r in district.rates] == ["outpatient"]
    assert district.records[0] == ("居民健康档案（份）", 10)


# ------------------------------------------------------------------------------- index
def test_index_groups_sorted_by_rank_with_errors_last(tmp_path):
    store = Store(tmp_path)
    run = store.begin_run("2020-09", "h", "test")
    for uid, s in (("H1", 70.0), ("H2", 90.0), ("D1", 80.0)):
        write(store, run, uid, "district" if uid[0] == "D" else "hospital", score=s)
    write(store, run, "H../9", "hospital", error="unreadable")
    store.finish_run(run, 4, 1)
    page = build_index(PeriodData(store, "2020-09"), [("a → b", "../campaign_a_b.html")])
    assert [g.kind for g in page.groups] == ["district", "hospital"]
    hosp = page.groups[1]
    assert [r.unit_id for r in hosp.rows] == ["H2", "H1", "H../9"]
    assert [r.rank for r in hosp.rows] == [1, 2, None]
    href = hosp.rows[-1].href
    assert href == report_filename("H../9") and re.fullmatch(r"H___9~[0-9a-f]{12}\.html", href), href
    assert report_filename("H.._9") != href  # two ids, two files
    assert (page.n, page.errors, hosp.mean, hosp.of) == (4, 1, 80.0, 2)
    assert page.campaigns == (("a → b", "../campaign_a_b.html"),)


def test_sample_headers_are_labels_raw_folded_internal_hidden():
    """Sample tables show the catalogue's labels with the field name beside, the text as uploaded
    in its own column (no ``__raw`` column), never dq's row number."""
    rows = [
        {"__dq_row": 7, "visit_id": "V1", "visit_time": None, "visit_time__raw": "2020-13-05 08:12:00",
         "patient_index__name": RAW_NAME},
        {"visit_id": "V2", "visit_time__raw": "2020-09-05 08:12:00", "visit_time": "2020-09-05 08:12:00"},
    ]  # fmt: skip
    zh = sample_table(rows, "outpatient_visit", CAT, "zh")
    assert zh.columns == ("visit_id", "visit_time", "patient_index__name")
    assert zh.headers == ("就诊流水号 (visit_id)", "就诊时间 (visit_time)", "患者基本信息·姓名 (name)")
    assert zh.rows[0][:3] == ("V1", "2020-13-05 08:12:00", "王**")
    assert zh.rows[1][1] == "2020-09-05 08:12:00"
    assert not any("__" in h for h in zh.headers)
    en = sample_table(rows, "outpatient_visit", CAT, "en")
    assert en.headers == ("visit number (visit_id)", "visit time (visit_time)", "Patient index·name")
