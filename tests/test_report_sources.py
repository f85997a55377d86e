"""Published and batch scores are never compared: separate default stores, and within a store
that holds both, the reports only compare a unit with months of its own source."""

from __future__ import annotations

from dq.cli import main
from dq.engine.results import RuleResult
from dq.report._index import build_index
from dq.report.model import PeriodData
from dq.scoring.scores import load_scoring, score_unit
from dq.store.history import Store


def test_published_runs_default_to_their_own_store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["score", "--published", "nanjing", "--period", "2018-03", "-q"]) == 0
    published = Store(tmp_path / "history-published")
    assert published.exists() and not (tmp_path / "history").exists()
    assert set(published.runs()["source"].to_list()) == {"published"}
    # an explicit --store still wins
    assert main(["score", "--published", "nanjing", "--period", "2018-03", "--store", "mine", "-q"]) == 0
    assert Store(tmp_path / "mine").exists() and not (tmp_path / "history").exists()


def result(rule: str, failed: int, weight: float = 1.0) -> RuleResult:
    return RuleResult(
        rule=rule, suite="hospital.outpatient_visit", table="outpatient_visit", check="not_null",
        columns=("visit_id",), dimension="completeness", severity="error",
        status="fail" if failed else "pass", evaluated=100, failed=failed, fail_fraction=failed / 100,
        message=f"{failed} of 100 fail", threshold={"max_fraction": 0.0}, title_zh=rule, title_en=rule,
        weight=weight,
    )  # fmt: skip


def test_a_store_holding_both_sources_compares_each_month_with_its_own_source(tmp_path):
    store, cfg = Store(tmp_path / "both"), load_scoring()
    unit = {"unit_id": "H001", "name": "南京鼓楼医院", "kind": "hospital", "district": "鼓楼区"}
    # batch 2020-07 (OV-1 fails), published 2020-08 (OV-2 fails), batch 2020-09 (both fail)
    months = (("2020-07", "batch", {"OV-1": 30}), ("2020-08", "published", {"OV-2": 60}),
              ("2020-09", "batch", {"OV-1": 10, "OV-2": 5}))  # fmt: skip
    scores = {}
    for period, source, failing in months:
        run = store.begin_run(period, "h", source)
        res = [result(r, failing.get(r, 0), w) for r, w in (("OV-1", 1), ("OV-2", 2), ("OV-3", 4))]
        s = score_unit(res, cfg)
        scores[period] = s.score
        store.write_unit(run, unit, res, s, None)
        store.finish_run(run, 1, 0)
    assert scores["2020-07"] != scores["2020-08"]  # so the change tells which month it came from

    sept = PeriodData(store, "2020-09", "en").unit("H001")
    assert [p.period for p in sept.trend] == ["2020-07", "2020-09"]  # not the published August
    assert sept.changes.previous_period == "2020-07"
    assert [r.rule for r in sept.changes.persisting] == ["OV-1"] and [r.rule for r in sept.changes.new] == [
        "OV-2"
    ]
    (row,) = [r for g in build_index(PeriodData(store, "2020-09", "en")).groups for r in g.rows]
    assert abs(row.change - (scores["2020-09"] - scores["2020-07"])) < 0.011

    aug = PeriodData(store, "2020-08", "zh").unit("H001")
    assert [p.period for p in aug.trend] == ["2020-08"]  # the batch July is not its history
    assert aug.changes.previous_period is None
    (row,) = [r for g in build_index(PeriodData(store, "2020-08", "zh")).groups for r in g.rows]
    assert row.change is None
