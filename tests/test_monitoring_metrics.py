"""dq.engine.metrics: the figures a unit's history is judged on, read back from the score store."""

from __future__ import annotations

from pathlib import Path

from dq.store.history import Store


def unit(uid: str, kind: str = "hospital") -> dict:
    return {"unit_id": uid, "name": f"单位{uid}", "kind": kind, "district": "玄武区"}


def test_store_keeps_table_rows_of_each_units_latest_run(tmp_path: Path) -> None:
    store = Store(tmp_path / "h")
    first = store.begin_run("2020-09", "h", "batch")
    store.write_unit(first, unit("H1"), [], None, None, tables={"outpatient_visit": 100, "lab_report": None})
    store.write_unit(first, unit("H2"), [], None, None, tables={"outpatient_visit": 7})
    store.write_unit(first, unit("H3"), [], None, None)  # no table counts known: nothing written
    again = store.begin_run("2020-09", "h", "batch")
    store.write_unit(again, unit("H1"), [], None, None, tables={"outpatient_visit": 90})
    other = store.begin_run("2020-10", "h", "batch")
    store.write_unit(other, unit("H1"), [], None, None, tables={"outpatient_visit": 80})

    sep = store.table_rows("2020-09").sort("unit_id")
    assert sep.select("unit_id", "table", "rows").rows() == [
        ("H1", "outpatient_visit", 90),
        ("H2", "outpatient_visit", 7),
    ]
    every = store.table_rows()
    assert sorted(every.filter(unit_id="H1")["rows"].to_list()) == [80, 90]
    assert Store(tmp_path / "empty").table_rows().columns == ["period", "run_id", "unit_id", "table", "rows"]


def rr(rule: str, failed: int, evaluated: int = 100, status: str | None = None, check: str = "not_null"):
    from dq.engine.results import RuleResult

    return RuleResult(
        rule=rule, suite="s", table="outpatient_visit", check=check, columns=("visit_id",),
        dimension="completeness", severity="error",
        status=status or ("pass" if failed == 0 else "fail"), evaluated=evaluated, failed=failed,
        fail_fraction=failed / evaluated if evaluated else None, message="",
    )  # fmt: skip


def test_unit_metrics_from_one_outcome() -> None:
    from dq.engine.metrics import unit_metrics

    m = unit_metrics(
        [rr("OV-1", 5), rr("OV-2", 0, 0, status="not_applicable"), rr("HIS-1", 1, 2, check="history_change")],
        {"outpatient_uploaded": 1200, "discharge_uploaded": None, "upload_days": 30, "unit_id": "H1"},
        {"outpatient_visit": 1200, "lab_report": None},
    )
    assert m == {
        "table.outpatient_visit.rows": 1200.0,
        "summary.outpatient_uploaded": 1200.0,
        "summary.upload_days": 30.0,
        "rule.OV-1.fail_fraction": 0.05,
    }


def test_load_metrics_reads_the_latest_run_of_each_period_and_counts_a_stopped_table_as_zero(
    tmp_path: Path,
) -> None:
    from dq.engine.metrics import load_metrics
    from dq.scoring.summary import summary_frame

    store = Store(tmp_path / "h")

    def write(period: str, visits: int, tables: dict, failed: int) -> None:
        run = store.begin_run(period, "h", "batch")
        summary = summary_frame([]).columns
        row = dict.fromkeys(summary) | {"period": period, "unit_id": "H1", "outpatient_uploaded": visits}
        store.write_unit(run, unit("H1"), [rr("OV-1", failed)], None, row, tables=tables)

    write("2020-01", 100, {"outpatient_visit": 100, "lab_report": 50}, 1)
    write("2020-01", 110, {"outpatient_visit": 110, "lab_report": 55}, 2)  # a re-run: this one counts
    write("2020-02", 120, {"outpatient_visit": 120}, 3)  # lab_report stopped
    m = load_metrics(store)
    got = {(r["period"], r["metric"]): r["value"] for r in m.to_dicts()}
    assert got[("2020-01", "summary.outpatient_uploaded")] == 110
    assert got[("2020-01", "table.lab_report.rows")] == 55
    assert got[("2020-02", "table.lab_report.rows")] == 0
    assert got[("2020-02", "rule.OV-1.fail_fraction")] == 0.03
    assert set(m["unit_id"]) == {"H1"}
    assert load_metrics(store, unit_id="H2").is_empty()
    assert load_metrics(store, periods=["2020-02"])["period"].unique().to_list() == ["2020-02"]
    assert load_metrics(Store(tmp_path / "none")).is_empty()
