"""dq.store.history: the score history, a Hive-partitioned Parquet dataset written atomically."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

import dq
from dq.engine.results import RuleResult
from dq.errors import OutputError
from dq.io.catalogue import default_rules_dir
from dq.scoring.scores import load_scoring, score_unit
from dq.store.history import RESULT_SCHEMA, SCORE_SCHEMA, Store, suites_hash

CFG = load_scoring()


def result(
    rule: str, failed: int, evaluated: int = 100, suite: str = "hospital.outpatient_visit"
) -> RuleResult:
    return RuleResult(
        rule=rule,
        suite=suite,
        table="outpatient_visit",
        check="not_null",
        columns=("visit_id",),
        dimension="completeness",
        severity="error",
        status="pass" if failed == 0 else "fail",
        evaluated=evaluated,
        failed=failed,
        fail_fraction=failed / evaluated,
        message=f"{failed} of {evaluated} fail",
        samples=({"visit_id": "V1"},) if failed else (),
        threshold={"max_fraction": 0.0, "max_count": None},
    )


def unit(uid: str, kind: str = "hospital", district: str | None = "玄武区") -> dict:
    return {"unit_id": uid, "name": f"单位{uid}", "kind": kind, "district": district}


def write(store: Store, run, uid: str, failed: int, *, error: str | None = None, summary=None) -> None:
    """One unit with one record-level rule: failed of 100 -> score 100 * (1 - failed / 10)."""
    if error:
        store.write_unit(run, unit(uid), [], None, None, error=error)
        return
    results = [result("OV-010", failed)]
    store.write_unit(run, unit(uid), results, score_unit(results, CFG), summary, {"OV-010": ("补齐", "fill")})


def scored(store: Store, period: str | None = None) -> dict[str, float | None]:
    df = store.scores(period)
    return dict(zip(df["unit_id"], df["score"], strict=True))


def visible_files(root: Path) -> list[Path]:
    """The store's data files (its writer lock file apart)."""
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name != ".dq-lock")


# ----------------------------------------------------------------------------- atomic writes
def test_writes_leave_no_temporary_files(tmp_path: Path):
    store = Store(tmp_path / "h")
    run = store.begin_run("2020-09", "abc", "batch", "/data")
    write(store, run, "H001", 0, summary=None)
    write(store, run, "H002", 5)
    store.finish_run(run, 2, 0)
    files = visible_files(tmp_path / "h")
    assert files, "nothing written"
    assert all(f.suffix == ".parquet" and not f.name.startswith(".") for f in files), files
    rel = {str(f.relative_to(tmp_path / "h")) for f in files}
    assert rel == {
        f"runs/period=2020-09/{run.run_id}.parquet",
        f"results/period=2020-09/{run.run_id}__H001.parquet",
        f"results/period=2020-09/{run.run_id}__H002.parquet",
        f"scores/period=2020-09/{run.run_id}__H001.parquet",
        f"scores/period=2020-09/{run.run_id}__H002.parquet",
    }


def _crashing_write(monkeypatch):
    """Make the store's file writes put half the bytes on disk, then fail (disk full, killed, …)."""
    real = Path.write_bytes

    def half_then_crash(self, data):
        real(self, data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", half_then_crash)


def test_crash_mid_write_leaves_no_partial_file_visible(tmp_path: Path, monkeypatch):
    store = Store(tmp_path / "h")
    run = store.begin_run("2020-09", "abc", "batch")
    write(store, run, "H001", 0)
    before = visible_files(tmp_path / "h")
    with monkeypatch.context() as m:
        _crashing_write(m)
        with pytest.raises(OutputError, match="No space"):
            write(store, run, "H002", 5)
        with pytest.raises(OutputError, match="No space"):
            store.finish_run(run, 2, 0)  # would replace the existing runs file
    # Nothing new is visible, not even a temporary file, and what was there is intact.
    assert visible_files(tmp_path / "h") == before
    assert scored(store) == {"H001": 100.0}
    # The run could not record its end; once its lock is released it reads as interrupted.
    runs = store.runs()
    assert runs.height == 1 and runs["status"][0] == "interrupted"


def test_partial_temp_file_of_a_killed_process_is_ignored(tmp_path: Path):
    store = Store(tmp_path / "h")
    run = store.begin_run("2020-09", "abc", "batch")
    write(store, run, "H001", 0)
    # A process killed between writing and renaming leaves its temporary file behind.
    for kind in ("scores", "results", "runs"):
        folder = tmp_path / "h" / kind / "period=2020-09"
        (folder / f".{run.run_id}__H002.parquet.1a2b3c4d.tmp").write_bytes(b"PAR1\x00\x00partial")
    assert scored(store) == {"H001": 100.0}
    assert store.runs().height == 1
    assert store.results("2020-09")["unit_id"].unique().to_list() == ["H001"]
    plain = pl.scan_parquet(tmp_path / "h" / "scores" / "**" / "*.parquet", hive_partitioning=True)
    assert plain.collect()["unit_id"].unique().to_list() == ["H001"]


# ----------------------------------------------------------------------------- runs and latest scores
def test_two_runs_of_a_period_are_kept_and_scores_are_the_latest(tmp_path: Path):
    store = Store(tmp_path / "h")
    r1 = store.begin_run("2020-09", "abc", "batch")
    write(store, r1, "H001", 5)  # 50
    write(store, r1, "H002", 2)  # 80
    store.finish_run(r1, 2, 0)
    r2 = store.begin_run("2020-09", "abc", "batch")
    write(store, r2, "H001", 1)  # 90: re-scored
    store.finish_run(r2, 1, 0)
    assert r2.started_at > r1.started_at
    runs = store.runs()
    assert runs["run_id"].to_list() == [r1.run_id, r2.run_id]
    # every run's rows are kept ...
    raw = pl.read_parquet(tmp_path / "h" / "scores" / "**" / "*.parquet", hive_partitioning=True)
    assert raw.filter(pl.col("facet") == "overall").height == 3
    # ... and scores() returns each unit's latest
    assert scored(store, "2020-09") == {"H001": 90.0, "H002": 80.0}
    latest = store.scores("2020-09")
    assert dict(zip(latest["unit_id"], latest["run_id"], strict=True)) == {
        "H001": r2.run_id,
        "H002": r1.run_id,
    }
    assert dict(zip(latest["unit_id"], latest["grade"], strict=True)) == {"H001": "A", "H002": "B"}
    # every facet, and the results of the latest run only
    facets = store.scores("2020-09", facet=None).filter(pl.col("unit_id") == "H001")
    assert set(facets["facet"]) == {"overall", "part:submission", "part:records", *CFG_DIMS}
    res = store.results("2020-09", "H001")
    assert res["run_id"].to_list() == [r2.run_id] and res["failed"].to_list() == [1]
    assert res["fix_zh"].to_list() == ["补齐"] and res["points"].to_list() == [pytest.approx(0.9)]
    old = store.results("2020-09", "H001", run_id=r1.run_id)
    assert old["failed"].to_list() == [5]


CFG_DIMS = ("completeness", "conformance", "plausibility", "uniqueness", "timeliness", "consistency")


def test_scored_units_for_resume(tmp_path: Path):
    store = Store(tmp_path / "h")
    assert store.scored_units("2020-09") == set()
    r1 = store.begin_run("2020-09", "abc", "batch")
    write(store, r1, "H001", 0)
    write(store, r1, "H002", 0)
    write(store, r1, "BAD", 0, error="BAD/manifest.yaml: cannot read manifest")
    # a run that never finished (crashed) still counts for what it wrote
    assert store.scored_units("2020-09") == {"H001", "H002"}
    r2 = store.begin_run("2020-09", "abc", "batch")
    write(store, r2, "H002", 0, error="H002/outpatient_visit.parquet: cannot read parquet file")
    store.finish_run(r2, 1, 1)
    # H002's latest attempt failed: it is scored again on resume
    assert store.scored_units("2020-09") == {"H001"}
    assert store.scored_units("2020-10") == set()
    err = store.scores("2020-09").filter(pl.col("unit_id") == "H002").row(0, named=True)
    assert err["status"] == "error" and err["score"] is None and "outpatient_visit.parquet" in err["error"]


def test_history_of_a_unit_across_periods(tmp_path: Path):
    store = Store(tmp_path / "h")
    for period, failed in (("2020-10", 3), ("2020-08", 5), ("2020-09", 4), ("2020-09", 2)):
        run = store.begin_run(period, "abc", "batch")
        write(store, run, "H001", failed)
        write(store, run, "H002", 0)
        store.finish_run(run, 2, 0)
    hist = store.history("H001")
    # oldest first; 2020-09's latest run (2 failed -> 80) wins over its first (4 -> 60)
    assert hist["period"].to_list() == ["2020-08", "2020-09", "2020-10"]
    assert hist["score"].to_list() == [50.0, 80.0, 70.0]
    assert set(hist["unit_id"]) == {"H001"} and set(hist["facet"]) == {"overall"}
    assert store.periods() == ["2020-08", "2020-09", "2020-10"]
    assert store.history("NOPE").is_empty()


def test_previous_results(tmp_path: Path):
    store = Store(tmp_path / "h")
    assert store.previous_results("2020-09", "H001")[0] is None
    r8 = store.begin_run("2020-08", "abc", "batch")
    write(store, r8, "H001", 5)
    # only one run of the unit so far: nothing before it
    period, res = store.previous_results("2020-08", "H001")
    assert period is None and res.is_empty()
    r9 = store.begin_run("2020-09", "abc", "batch")
    write(store, r9, "H001", 4)
    # the run before the latest 2020-09 run is the 2020-08 one
    period, res = store.previous_results("2020-09", "H001")
    assert period == "2020-08" and res["run_id"].to_list() == [r8.run_id] and res["failed"].to_list() == [5]
    # a second run of 2020-09: its predecessor is the first 2020-09 run
    r9b = store.begin_run("2020-09", "abc", "batch")
    write(store, r9b, "H001", 1)
    period, res = store.previous_results("2020-09", "H001")
    assert period == "2020-09" and res["run_id"].to_list() == [r9.run_id]
    # an errored run is not a comparison point
    r9c = store.begin_run("2020-09", "abc", "batch")
    write(store, r9c, "H001", 0, error="boom")
    period, res = store.previous_results("2020-09", "H001")
    assert res["run_id"].to_list() == [r9.run_id]
    # later periods do not count as "previous"
    r10 = store.begin_run("2020-10", "abc", "batch")
    write(store, r10, "H001", 0)
    period, res = store.previous_results("2020-09", "H001")
    assert period == "2020-09" and res["run_id"].to_list() == [r9.run_id]


def test_previous_results_after_a_backfill(tmp_path: Path):
    # 2020-09 scored first, then the missed 2020-08 batch is scored (backfill): 2020-08 is still
    # the period before 2020-09, although its run started later.
    store = Store(tmp_path / "h")
    r9 = store.begin_run("2020-09", "abc", "batch")
    write(store, r9, "H001", 4)
    r8 = store.begin_run("2020-08", "abc", "batch")
    write(store, r8, "H001", 5)
    period, res = store.previous_results("2020-09", "H001")
    assert period == "2020-08" and res["run_id"].to_list() == [r8.run_id]
    assert store.previous_results("2020-08", "H001")[0] is None


def test_previous_results_without_a_run_in_the_period(tmp_path: Path):
    # Not scored for 2020-09 (yet): the previous results are the latest earlier ones.
    store = Store(tmp_path / "h")
    r8 = store.begin_run("2020-08", "abc", "batch")
    write(store, r8, "H001", 5)
    period, res = store.previous_results("2020-09", "H001")
    assert period == "2020-08" and res["run_id"].to_list() == [r8.run_id]


def test_runs_metadata(tmp_path: Path):
    store = Store(tmp_path / "h")
    h = suites_hash([default_rules_dir()])
    run = store.begin_run("2020-09", h, "batch", "/data/batches")
    mid = store.runs().row(0, named=True)
    assert mid["status"] == "running" and mid["finished_at"] is None
    write(store, run, "H001", 0)
    write(store, run, "BAD", 0, error="boom")
    store.finish_run(run, 2, 1)
    (row,) = store.runs().to_dicts()
    assert re.fullmatch(r"\d{8}T\d{6}-[0-9a-f]{6}", row["run_id"])
    assert row["run_id"] == run.run_id and row["period"] == "2020-09"
    assert row["status"] == "complete"
    assert row["started_at"] <= row["finished_at"] <= datetime.now(UTC)
    assert row["started_at"].tzinfo is not None
    assert row["dq_version"] == dq.__version__
    assert row["suites_hash"] == h and re.fullmatch(r"[0-9a-f]{16}", h)
    assert (row["source"], row["root"], row["units"], row["errors"]) == ("batch", "/data/batches", 2, 1)


def test_suites_hash_follows_the_rule_files(tmp_path: Path):
    rules = tmp_path / "rules"
    (rules / "suites").mkdir(parents=True)
    (rules / "suites" / "a.yaml").write_text("suite: a\n")
    (rules / "scoring.yaml").write_text("version: 1\n")
    (rules / "notes.txt").write_text("ignored")
    h1 = suites_hash([rules])
    assert suites_hash([rules]) == h1  # deterministic
    (rules / "notes.txt").write_text("still ignored")
    assert suites_hash([rules]) == h1  # only YAML counts
    (rules / "suites" / "a.yaml").write_text("suite: a  # changed\n")
    assert suites_hash([rules]) != h1


def test_summaries_are_stored(tmp_path: Path):
    store = Store(tmp_path / "h")
    run = store.begin_run("2020-09", "abc", "batch")
    summary = {"period": "2020-09", "unit_id": "H001", "unit_name": "x", "kind": "hospital", "data_volume": 8}
    write(store, run, "H001", 0, summary=summary)
    df = store.summaries("2020-09")
    assert df["unit_id"].to_list() == ["H001"] and df["data_volume"].to_list() == [8]
    assert df["period"].to_list() == ["2020-09"] and df["run_id"].to_list() == [run.run_id]


def test_empty_store_reads_empty_frames(tmp_path: Path):
    store = Store(tmp_path / "none")
    assert store.runs().is_empty() and store.periods() == []
    assert store.scores().is_empty() and set(SCORE_SCHEMA) <= set(store.scores().columns)
    assert store.results("2020-09").is_empty() and set(RESULT_SCHEMA) <= set(store.results("2020-09").columns)
    assert store.history("H001").is_empty()


# ----------------------------------------------------------------------------- reading it elsewhere
@pytest.fixture
def two_periods(tmp_path: Path) -> Path:
    store = Store(tmp_path / "h")
    for period in ("2020-08", "2020-09"):
        run = store.begin_run(period, "abc", "batch")
        write(store, run, "H001", 1)
        write(store, run, "H002", 3)
        store.finish_run(run, 2, 0)
    return tmp_path / "h"


def test_plain_polars_reads_the_dataset(two_periods: Path):
    lf = pl.scan_parquet(two_periods / "scores/**/*.parquet", hive_partitioning=True)
    df = lf.filter(pl.col("facet") == "overall").collect()
    assert "period" in df.columns
    assert df["period"].cast(pl.String).sort().to_list() == ["2020-08", "2020-08", "2020-09", "2020-09"]
    assert df.sort("period", "unit_id")["score"].to_list() == [90.0, 70.0, 90.0, 70.0]
    runs = pl.read_parquet(two_periods / "runs/**/*.parquet", hive_partitioning=True)
    assert runs.height == 2 and set(runs["status"]) == {"complete"}


def test_duckdb_reads_the_dataset(two_periods: Path):
    duckdb = pytest.importorskip("duckdb")
    con = duckdb.connect()
    rows = con.execute(
        "SELECT period, count(*)"
        f" FROM read_parquet('{two_periods}/scores/*/*.parquet', hive_partitioning=true)"
        " WHERE facet = 'overall' GROUP BY period ORDER BY period"
    ).fetchall()
    assert [(str(p), n) for p, n in rows] == [("2020-08", 2), ("2020-09", 2)]
