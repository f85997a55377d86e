"""Units audited in threads of one process (`dq score --threads N`, the default): the same
results as one unit after the other, within the row budget, and errors still isolated."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import polars as pl
import pytest
from fixtures_batches import PERIOD, batch_with_a_broken_unit

from dq.batch.local import in_threads, score_batch, unit_rows_hint
from dq.cli import main
from dq.store.history import Store


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return batch_with_a_broken_unit(tmp_path_factory.mktemp("batch"), seed=11)  # H999 is broken


def _stored(store: Store) -> dict[str, pl.DataFrame]:
    """Everything a run stored but its id: results, scores, summaries, table counts, fix rows."""
    out = {}
    for kind, keys in (
        ("results", ["unit_id", "rule"]),
        ("scores", ["unit_id", "facet"]),
        ("summaries", ["unit_id"]),
        ("tables", ["unit_id", "table"]),
        ("fixrows", ["unit_id", "rule", "n"]),
    ):
        out[kind] = pl.read_parquet(Path(store.root) / kind / "**" / "*.parquet").drop("run_id").sort(keys)
    return out


def test_threads_store_exactly_what_one_unit_at_a_time_stores(batch: Path, tmp_path: Path) -> None:
    one = Store(tmp_path / "one")
    many = Store(tmp_path / "many")
    a = score_batch(batch, PERIOD, one, progress=False, threads=1)
    b = score_batch(batch, PERIOD, many, progress=False, threads=3)
    assert [u.unit_id for u in a.units] == [u.unit_id for u in b.units]  # folder order, not finish order
    assert [u.unit_id for u in b.errors] == ["H999"]
    assert "manifest.yaml" in b.errors[0].error
    x, y = _stored(one), _stored(many)
    for kind in x:
        assert x[kind].height > 0, kind
        assert x[kind].equals(y[kind]), kind


def _unit(root: Path, name: str, rows: int) -> Path:
    d = root / name
    d.mkdir(parents=True)
    pl.DataFrame({"x": range(rows)}).write_parquet(d / "outpatient_visit.parquet")
    (d / "notes.txt").write_text("not a table")
    return d


def test_units_run_together_only_within_the_row_budget(tmp_path: Path) -> None:
    small = [_unit(tmp_path, f"S{i}", 100) for i in range(6)]
    big = _unit(tmp_path, "BIG", 1_000)
    assert unit_rows_hint(small[0]) == 100 and unit_rows_hint(big) == 1_000
    lock = threading.Lock()
    active: list[str] = []
    seen: dict[str, list[str]] = {}  # unit -> units in flight while it ran

    def fn(path: Path) -> str:
        with lock:
            active.append(path.name)
            seen[path.name] = list(active)
        time.sleep(0.05)
        with lock:
            seen[path.name] = sorted(set(seen[path.name]) | set(active))
            active.remove(path.name)
        return path.name

    paths = [*small[:3], big, *small[3:]]
    got = list(in_threads(fn, paths, threads=3, budget=500))
    assert sorted(got) == sorted(p.name for p in paths)
    assert max(len(v) for v in seen.values()) <= 3
    assert max(len(v) for v in seen.values()) > 1  # the small units did overlap
    assert seen["BIG"] == ["BIG"]  # larger than the budget: alone


def test_an_exception_in_a_thread_reaches_the_caller(tmp_path: Path) -> None:
    paths = [_unit(tmp_path, f"U{i}", 10) for i in range(4)]

    def fn(path: Path) -> str:
        if path.name == "U2":
            raise MemoryError("out of memory in U2")
        return path.name

    with pytest.raises(MemoryError, match="U2"):
        list(in_threads(fn, paths, threads=2))


@pytest.mark.parametrize(
    "args, message",
    [
        (["--threads", "0"], "expected a whole number ≥ 1"),
        (["--threads", "2", "--workers", "2"], "not allowed with argument"),
    ],
)
def test_threads_option_errors_are_usage_errors(tmp_path: Path, capsys, args, message) -> None:
    assert main(["score", str(tmp_path), "--period", PERIOD, "--store", str(tmp_path / "h"), *args]) == 2
    assert message in capsys.readouterr().err
