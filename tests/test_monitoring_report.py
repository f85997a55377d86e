"""The reports show the history rules: flagged months marked on the trend, the section
"与历史相比 / Compared with history" with each flagged metric's value and expected range, and the
index marking units with a flagged drop."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures_results import record_result

from dq.engine.checks.history import evaluate_history
from dq.engine.metrics import load_metrics, unit_metrics
from dq.engine.suite import load_suites
from dq.report._index import build_index
from dq.report._render import render_index, render_unit
from dq.report.model import PeriodData
from dq.scoring.scores import load_scoring, score_unit
from dq.scoring.summary import summary_frame
from dq.store.history import Store

MONTHS = ["2020-01", "2020-02", "2020-03", "2020-04", "2020-05", "2020-06"]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Store:
    """Two hospitals over six months; in 2020-06 H1's lab_report stops (0 rows), H2 is steady."""
    rules = [r for s in load_suites() for r in s.rules if r.check == "history_change"]
    cfg = load_scoring()
    st = Store(tmp_path_factory.mktemp("h") / "store")
    for i, period in enumerate(MONTHS):
        run = st.begin_run(period, "h", "batch")
        for uid in ("H1", "H2"):
            stopped = uid == "H1" and period == "2020-06"
            tables = {"outpatient_visit": 1000 + 10 * i, **({} if stopped else {"lab_report": 400 + 5 * i})}
            summary = dict.fromkeys(summary_frame([]).columns) | {
                "period": period, "unit_id": uid, "unit_name": f"医院{uid}", "kind": "hospital",
                "outpatient_uploaded": 1000 + 10 * i, "upload_days": 28,
            }  # fmt: skip
            results = [record_result(1)]
            history = load_metrics(st, unit_id=uid)
            results += evaluate_history(
                rules, period, unit_metrics(results, summary, tables), history, summary
            )
            unit = {"unit_id": uid, "name": f"医院{uid}", "kind": "hospital", "district": "玄武区"}
            st.write_unit(run, unit, results, score_unit(results, cfg), summary, tables=tables)
        st.finish_run(run, 2, 0)
    return st


def test_the_unit_report_lists_flagged_metrics_and_marks_the_month(store: Store) -> None:
    data = PeriodData(store, "2020-06", "en")
    r = data.unit("H1")
    assert [(h.rule, h.metric, h.value, h.direction) for h in r.history] == [
        ("HIS-001", "table.lab_report.rows", "0", "drop")
    ]
    assert r.history[0].periods == "2020-01..2020-05" and r.history[0].expected.endswith(", ∞]")
    assert [p.period for p in r.trend if p.flagged] == ["2020-06"]
    assert data.unit("H2").history == () and not any(p.flagged for p in data.unit("H2").trend)

    html = render_unit(r)
    assert "Compared with history" in html and "table.lab_report.rows" in html
    assert r.history[0].expected in html and 'class="history-flag"' in html
    zh = render_unit(PeriodData(store, "2020-06", "zh").unit("H1"))
    assert "与历史相比" in zh and "预期范围" in zh
    steady = render_unit(data.unit("H2"))
    assert "No metric is outside the range" in steady and 'class="history-flag"' not in steady


def test_the_index_marks_units_with_a_flagged_drop(store: Store) -> None:
    page = build_index(PeriodData(store, "2020-06", "en"))
    rows = {row.unit_id: row for g in page.groups for row in g.rows}
    assert rows["H1"].history_drop and not rows["H2"].history_drop
    html = render_index(page)
    assert html.count('class="history-drop"') == 1
    earlier = build_index(PeriodData(store, "2020-05", "en"))
    assert not any(row.history_drop for g in earlier.groups for row in g.rows)


def test_a_store_without_history_rules_renders_as_before(tmp_path: Path) -> None:
    st = Store(tmp_path / "s")
    run = st.begin_run("2020-06", "h", "batch")
    results = [record_result(0)]
    st.write_unit(
        run,
        {"unit_id": "H9", "name": "H9", "kind": "hospital"},
        results,
        score_unit(results, load_scoring()),
        None,
    )
    r = PeriodData(st, "2020-06", "en").unit("H9")
    assert r.history == () and not any(p.flagged for p in r.trend)
