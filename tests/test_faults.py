"""Faults during a batch: a killed process, two writers on one store, a corrupt store file.

Each fault is real: ``dq score`` runs in a subprocess that is killed with SIGKILL; two processes
start on one store; bytes of a stored file are overwritten.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from test_batch import hospital

from dq.store.history import Store

P = "2020-09"
UNITS = [f"H{i:03d}" for i in range(1, 7)]
SLOW_UNIT, SLOW_ROWS = "H003", 2_000_000


def dq_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "dq", *args]


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(Path(__file__).resolve().parents[1]) + os.pathsep + e.get("PYTHONPATH", "")
    e["NO_COLOR"] = "1"
    return e


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("faults")
    for uid in UNITS:
        # H003 is large, so the batch is still busy with it when a test stops or kills the
        # process after the first two units were committed (12 rows each would all be done
        # before the signal lands on a loaded machine).
        hospital(root / P / uid, uid, SLOW_ROWS if uid == SLOW_UNIT else 12)
    return root


def score_json(batch: Path, store: Path) -> tuple[int, dict, str]:
    p = subprocess.run(
        dq_cmd("score", str(batch), "--period", P, "--store", str(store), "--format", "json"),
        capture_output=True, text=True, env=env(), timeout=300,
    )  # fmt: skip
    assert "Traceback" not in p.stderr, p.stderr
    return p.returncode, json.loads(p.stdout), p.stderr


def test_sigkill_mid_batch_keeps_finished_units_and_resumes(batch: Path, tmp_path: Path):
    store = tmp_path / "history"
    proc = subprocess.Popen(
        dq_cmd("score", str(batch), "--period", P, "--store", str(store)),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env(),
    )  # fmt: skip
    finished: list[str] = []
    assert proc.stderr is not None
    for line in proc.stderr:  # "[n/N] H001 ok (0.4s)" once a unit is committed
        if line.startswith("[") and " ok " in line:
            finished.append(line.split()[1])
            if len(finished) == 2:
                proc.send_signal(signal.SIGKILL)
                break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert len(finished) == 2

    st = Store(store)
    (run,) = st.runs().to_dicts()
    assert run["status"] == "interrupted"  # its row said running; its process is gone
    kept = st.scores(P)
    assert set(finished) <= set(kept["unit_id"]) < set(UNITS)
    assert kept["score"].is_not_null().all()

    # The next run recognises the interrupted one, keeps what it finished, scores the rest.
    rc, out, err = score_json(batch, store)
    assert rc == 0, err
    assert set(finished) <= set(out["skipped"])
    assert not set(out["skipped"]) & {u for u in UNITS if u not in kept["unit_id"].to_list()}
    ranking = {r["unit_id"]: r for r in out["ranking"]}
    assert set(ranking) == set(UNITS)
    assert all(r["status"] == "ok" and r["score"] is not None for r in ranking.values())
    runs = st.runs()
    assert runs["status"].to_list() == ["interrupted", "complete"]
    # Units finished by the killed run are adopted by the resumed one, with final peer scores:
    # every unit's submission rules were evaluated against all six peers.
    latest = st.scores(P)
    assert set(latest["run_id"]) == {out["run_id"]}
    results = st.results(P)
    sub = results.filter(pl.col("suite") == "submission")
    assert set(sub["unit_id"]) == set(UNITS)

    # Same data, same scores as a batch that was never interrupted.
    clean = tmp_path / "clean"
    rc, out_clean, _ = score_json(batch, clean)
    assert rc == 0
    a = {r["unit_id"]: r["score"] for r in out["ranking"]}
    b = {r["unit_id"]: r["score"] for r in out_clean["ranking"]}
    assert a == b


@pytest.mark.slow
@pytest.mark.parametrize("threads", ["1", "3"])
def test_ctrl_c_stops_between_units_and_records_the_run(batch: Path, tmp_path: Path, threads: str):
    # A SIGINT used to land inside a Polars query that was calling dq's Python column code:
    # the query failed, the engine took it for a broken rule and the batch went on. Now the
    # batch stops at the next unit boundary, says so, and records what it finished.
    store = tmp_path / "history"
    proc = subprocess.Popen(
        dq_cmd("score", str(batch), "--period", P, "--store", str(store), "--threads", threads),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env(),
    )  # fmt: skip
    assert proc.stderr is not None
    finished: list[str] = []
    for line in proc.stderr:
        if line.startswith("[") and " ok " in line:
            finished.append(line.split()[1])
            if len(finished) == 2:
                proc.send_signal(signal.SIGINT)
                break
    rest = proc.stderr.read()
    proc.wait(timeout=60)
    assert proc.returncode == 130, rest
    assert "dq: interrupted" in rest and "Traceback" not in rest

    st = Store(store)
    (run,) = st.runs().to_dicts()
    assert run["status"] == "interrupted" and run["finished_at"] is not None
    kept = set(st.scores(P)["unit_id"])
    assert set(finished) <= kept < set(UNITS) and run["units"] == len(kept)
    record = pl.col("suite") != "submission"  # the submission rules' peers differ until resumed
    cols = ["unit_id", "rule", "status", "evaluated", "failed"]
    got = st.results(P).filter(record).select(cols).sort("unit_id", "rule")

    rc, out, err = score_json(batch, store)  # resumed: the rest is scored
    assert rc == 0, err
    assert set(out["skipped"]) == kept
    assert {r["unit_id"] for r in out["ranking"]} == set(UNITS)
    # The units it finished are what an uninterrupted run gives them: no rule broken by it.
    clean = tmp_path / "clean"
    assert score_json(batch, clean)[0] == 0
    want = Store(clean).results(P).filter(record & pl.col("unit_id").is_in(sorted(kept)))
    assert got.height > 0 and got.equals(want.select(cols).sort("unit_id", "rule"))


def test_two_concurrent_runs_on_one_store(batch: Path, tmp_path: Path):
    store = tmp_path / "history"
    first = subprocess.Popen(
        dq_cmd("score", str(batch), "--period", P, "--store", str(store)),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env(),
    )  # fmt: skip
    assert first.stderr is not None
    # Once the first run holds the lock (it logs each unit it commits), stop it there, so the
    # second certainly starts while the first is mid-batch.
    line = first.stderr.readline()
    assert line.startswith("["), line
    first.send_signal(signal.SIGSTOP)
    try:
        second = subprocess.run(
            dq_cmd("score", str(batch), "--period", P, "--store", str(store)),
            capture_output=True, text=True, env=env(), timeout=120,
        )  # fmt: skip
    finally:
        first.send_signal(signal.SIGCONT)
    rest = first.stderr.read()
    first.wait(timeout=300)
    assert first.returncode == 0, rest
    assert second.returncode == 2
    assert "Traceback" not in second.stderr
    assert str(store) in second.stderr and "in use by another dq run" in second.stderr
    assert f"pid {first.pid}" in second.stderr
    # The first run is whole and alone in the store.
    st = Store(store)
    assert st.runs()["status"].to_list() == ["complete"]
    assert set(st.scores(P)["unit_id"]) == set(UNITS)
    # Once it is done the store is free again.
    time.sleep(0.1)
    rc, out, _ = score_json(batch, store)
    assert rc == 0 and sorted(out["skipped"]) == UNITS


def run_dq(*args: str, **kwargs) -> subprocess.CompletedProcess:
    p = subprocess.run(dq_cmd(*args), capture_output=True, text=True, env=env(), timeout=300, **kwargs)
    assert "Traceback" not in p.stderr + p.stdout, p.stderr
    return p


def test_a_corrupt_store_file_is_named_skipped_and_reported(batch: Path, tmp_path: Path):
    store = tmp_path / "history"
    rc, out, _ = score_json(batch, store)
    assert rc == 0
    # Truncate H002's scores file and replace H003's results file with junk.
    (scores_h2,) = (store / "scores").rglob("*__H002.parquet")
    scores_h2.write_bytes(scores_h2.read_bytes()[:60])
    (results_h3,) = (store / "results").rglob("*__H003.parquet")
    results_h3.write_bytes(b"not parquet at all")

    p = run_dq("history", "--store", str(store), "--format", "json")
    assert p.returncode == 0
    assert str(scores_h2) in p.stderr and "unreadable store file skipped" in p.stderr
    shown = {r["unit_id"] for r in json.loads(p.stdout)["rows"]}
    assert shown == set(UNITS) - {"H002"}  # the rest of the history stays usable

    p = run_dq("history", "--store", str(store), "--check", "--format", "json")
    assert p.returncode == 1
    doc = json.loads(p.stdout)
    assert doc["schema_version"] == 1 and doc["store"] == str(store) and doc["checked"] > 2
    assert {r["file"] for r in doc["problems"]} == {str(scores_h2), str(results_h3)}
    assert {r["folder"] for r in doc["problems"]} == {"scores", "results"}

    p = run_dq("report", "all", "--period", P, "--store", str(store), "--out", str(tmp_path / "r"))
    assert p.returncode == 0, p.stderr
    assert str(results_h3) in p.stderr
    assert (tmp_path / "r" / P / "index.html").is_file()

    # Scoring again re-scores the unit whose score was lost, and skips the others.
    rc, out, err = score_json(batch, store)
    assert rc == 0, err
    assert sorted(out["skipped"]) == sorted(set(UNITS) - {"H002"})
    assert {r["unit_id"] for r in out["ranking"]} == set(UNITS)


def _immutable(path: Path, on: bool) -> bool:
    """Make ``path`` read-only for this process: chmod for a user, chattr +i for root."""
    if os.geteuid() != 0:
        path.chmod(0o555 if on else 0o755)
        return True
    return subprocess.run(["chattr", "+i" if on else "-i", str(path)], capture_output=True).returncode == 0


def test_a_read_only_store_is_an_input_error_naming_it(batch: Path, tmp_path: Path):
    store = tmp_path / "history"
    rc, _, _ = score_json(batch, store)
    assert rc == 0
    before = sorted(p for p in store.rglob("*") if p.is_file())
    folders = [store, *(p for p in store.rglob("*") if p.is_dir())]
    if not all(_immutable(f, True) for f in folders):
        for f in folders:
            _immutable(f, False)
        pytest.skip("cannot make a folder read-only here")
    try:
        p = run_dq("score", str(batch), "--period", P, "--store", str(store), "--force")
    finally:
        for f in folders:
            _immutable(f, False)
    assert p.returncode == 2
    assert str(store) in p.stderr and ("not permitted" in p.stderr or "denied" in p.stderr), p.stderr
    assert sorted(p for p in store.rglob("*") if p.is_file()) == before  # nothing half-written
    assert Store(store).runs()["status"].to_list() == ["complete"]


def test_a_full_disk_is_an_input_error_and_leaves_whole_files(batch: Path, tmp_path: Path):
    """A file-size limit makes every write past 12 KB fail as on a full disk (EFBIG)."""
    import resource

    store = tmp_path / "history"

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (12 << 10, 12 << 10))

    p = run_dq("score", str(batch), "--period", P, "--store", str(store), preexec_fn=limited)
    assert p.returncode == 2, p.stderr
    assert str(store) in p.stderr and "cannot write to the store" in p.stderr
    assert not [f for f in store.rglob("*.tmp")]  # no temporary file left behind
    st = Store(store)
    assert st.problems() == []  # every file there is whole
    assert st.runs()["status"].to_list() in (["failed"], ["interrupted"])
    # Once there is room again, the batch resumes.
    rc, out, _ = score_json(batch, store)
    assert rc == 0 and {r["unit_id"] for r in out["ranking"]} == set(UNITS)
