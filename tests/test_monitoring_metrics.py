"""dq.metrics: the figures a unit's history is judged on, read back from the score store."""

from __future__ import annotations

from pathlib import Path

from dq.store import Store


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
