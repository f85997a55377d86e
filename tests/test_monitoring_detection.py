"""History rules on synthetic monthly series: every injected event flagged in its month, and
(almost) nothing flagged on the same series without events. Each month is scored in order by
dq.batch.local.score_batch, the function behind `dq score`, into one store."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from dq.batch.local import score_batch
from dq.cli import main
from dq.engine.suite import load_suites
from dq.store.history import Store
from dq.synth.series import EVENT_KINDS, detection, month_range, series

MONTHS = "2020-01:2021-02"  # 春节: 2020-01-25 and 2021-02-12 (the clean series)
EVENT_MONTHS = "2020-01:2020-10"  # the series with events: each event has 4 or more months before it
UNITS = ["H026", "D03"]


@pytest.fixture(scope="module")
def cached_suites():
    """Loading (and validating) every suite takes seconds; every month here uses the same."""
    import dq.batch.local

    loaded = load_suites()
    with pytest.MonkeyPatch.context() as m:
        m.setattr(dq.batch.local, "load_suites", lambda paths=None, *a, **k: loaded)
        yield


def scored_series(work: Path, events: bool) -> tuple[dict, Store]:
    root = work / ("events" if events else "clean")
    truth = series(
        root, EVENT_MONTHS if events else MONTHS, units=UNITS, seed=0, events=events, progress=False
    )
    store = Store(work / f"{root.name}-store")
    for m in truth["months"]:
        score_batch(root, m, store, progress=False)
    return truth, store


@pytest.mark.slow
def test_every_injected_event_is_flagged_in_its_month(tmp_path, cached_suites) -> None:
    truth, store = scored_series(tmp_path, events=True)
    assert truth["months"] == month_range(EVENT_MONTHS) and len(truth["months"]) == 10
    assert sorted(e["kind"] for e in truth["events"]) == sorted(EVENT_KINDS)
    for u in UNITS:  # the Spring Festival month is lower
        f = truth["factors"][u]
        assert f["2020-01"] < 0.85 * min(f["2020-03"], f["2020-04"])
    stop = next(e for e in truth["events"] if e["kind"] == "table_stops")
    assert stop["until"] == truth["months"][-1] and stop["metrics"] == [f"table.{stop['table']}.rows"]

    got = detection(truth, store)
    missed = [(e["unit"], e["month"], e["kind"], e["flagged"]) for e in got["detail"] if not e["found"]]
    assert got["events"] == 4 and missed == []
    # outside the events' months, nothing is flagged
    assert got["false_alarms"] == 0, got["false_alarm_unit_months"]


@pytest.mark.slow
def test_the_clean_series_has_at_most_one_false_alarm_per_100_unit_months(tmp_path, cached_suites) -> None:
    truth, store = scored_series(tmp_path, events=False)
    got = detection(truth, store)
    assert got["events"] == 0 and got["unit_months_judged"] >= 20
    for u in UNITS:  # Spring Festival months are lower, in January 2020 and February 2021
        f = truth["factors"][u]
        assert f["2020-01"] < 0.85 * f["2020-03"] and f["2021-02"] < 0.85 * f["2020-12"]
    assert got["false_alarms_per_100"] <= 1.0, got["false_alarm_unit_months"]

    # the Spring Festival month is judged against last year's festival month, and passes
    res = store.results("2021-02").filter(pl.col("rule") == "HIS-003")
    assert res.height == len(UNITS)
    for row in res.iter_rows(named=True):
        assert row["status"] == "pass"
        assert "seasonal effect" in row["message"] and "from 2020-01" in row["message"]

    # too little history: not applicable, and the message says why
    early = store.results("2020-02").filter(pl.col("check") == "history_change")
    assert set(early["status"]) == {"not_applicable"}
    assert any("1 earlier period(s) stored, 3 needed" in m for m in early["message"])

    # a re-run of a period is compared with the other periods only, never with itself
    before = store.results("2020-08").filter(pl.col("check") == "history_change").sort("unit_id", "rule")
    score_batch(tmp_path / "clean", "2020-08", store, force=True, progress=False)
    after = store.results("2020-08").filter(pl.col("check") == "history_change").sort("unit_id", "rule")
    assert before["run_id"][0] != after["run_id"][0]
    cols = ["unit_id", "rule", "status", "message"]
    assert after.select(cols).equals(before.select(cols))
    assert after.filter(pl.col("message").str.contains("2020-08")).is_empty()


def test_dq_synth_months_writes_a_batch_per_month(tmp_path, capsys) -> None:
    rc = main(
        ["synth", "--out", str(tmp_path), "--months", "2020-11:2021-01", "--units", "H026", "--no-progress"]
    )
    assert rc == 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["2020-11", "2020-12", "2021-01"]
    truth = json.loads((tmp_path / "truth.json").read_text(encoding="utf-8"))
    assert truth["months"] == ["2020-11", "2020-12", "2021-01"] and truth["units"] == ["H026"]
    assert "3 months" in capsys.readouterr().out
    assert main(["synth", "--out", str(tmp_path), "--months", "2021-01:2020-11"]) == 2
    assert main(["synth", "--out", str(tmp_path), "--months", "2020-1:2020-11"]) == 2
    # --period or --months, not both
    assert main(["synth", "--out", str(tmp_path), "--months", "2020-11:2021-01", "--period", "2020-01"]) == 2
