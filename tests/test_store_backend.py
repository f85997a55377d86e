"""The store's backend interface (dq.store.backend), each operation on both implementations: a
local folder, and fsspec on ``memory://`` and on a local ``file://`` file system (the fsspec
backend opened directly, not the folder ``open_backend`` makes of a ``file://`` URL). Then the
store above them: the same files and the same reads whichever backend holds them, a damaged file
(deliveries included) skipped, named and listed alike, and a store laid out as dq has always
written it (files written here by hand with plain Polars) read as before."""

from __future__ import annotations

import io
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from dq.errors import InputError, OutputError, StoreError
from dq.store.backend import FsspecBackend, LocalBackend, StoreBackend, open_backend
from dq.store.deliveries import DeliveryEvent, DeliveryLog
from dq.store.history import LOCK_NAME, Store

fsspec = pytest.importorskip("fsspec")

KINDS = ("local", "memory", "fsspec-file")


def _backend(kind: str, tmp_path: Path) -> StoreBackend:
    if kind == "local":
        return LocalBackend(tmp_path / "history")
    if kind == "memory":
        return FsspecBackend(f"memory://dq-backend-{uuid.uuid4().hex[:8]}/history")
    return FsspecBackend(f"file://{tmp_path}/history")


@pytest.fixture(params=KINDS)
def backend(request, tmp_path: Path) -> StoreBackend:
    return _backend(request.param, tmp_path)


def _parquet(frame: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.write_parquet(buf)
    return buf.getvalue()


def _read_source(source) -> pl.DataFrame:
    return pl.read_parquet(io.BytesIO(source) if isinstance(source, bytes) else source)


# --------------------------------------------------------------------------- the interface
def test_open_backend_chooses_by_the_root() -> None:
    assert isinstance(open_backend("/tmp/somewhere/history"), LocalBackend)
    assert isinstance(open_backend("file:///tmp/somewhere/history"), LocalBackend)  # the folder it names
    assert open_backend("file:///tmp/somewhere/history").root == Path("/tmp/somewhere/history")
    memory = open_backend("memory://dq-choose/history/")
    assert isinstance(memory, FsspecBackend) and memory.root == "memory://dq-choose/history"


def test_write_read_and_replace(backend: StoreBackend) -> None:
    assert not backend.exists()
    assert backend.read("scores", "period=2020-09", "a.parquet") is None
    one = _parquet(pl.DataFrame({"x": [1, 2]}))
    where = backend.write(one, "scores", "period=2020-09", "a.parquet")
    assert backend.exists()
    assert where == backend.location("scores", "period=2020-09", "a.parquet")
    assert backend.read("scores", "period=2020-09", "a.parquet") == one
    two = _parquet(pl.DataFrame({"x": [3, 4, 5]}))
    backend.write(two, "scores", "period=2020-09", "a.parquet")  # replaced whole
    assert backend.read("scores", "period=2020-09", "a.parquet") == two
    # nothing but the file itself: no temporary file left beside it
    assert [f.rel for f in backend.walk()] == [("scores", "period=2020-09", "a.parquet")]


def test_listing_skips_hidden_files_and_keys_change_with_the_file(backend: StoreBackend) -> None:
    data = _parquet(pl.DataFrame({"x": [1]}))
    backend.write(data, "runs", "period=2020-09", "r2.parquet")
    backend.write(data, "runs", "period=2020-08", "r1.parquet")
    backend.write(data, "runs", "period=2020-09", ".r3.parquet.1a2b3c4d.tmp")  # a writer's temporary file
    backend.write(data, "runs", "period=2020-09", "notes.txt")  # a stray file
    backend.write(b"held", LOCK_NAME)
    listed = backend.glob("runs", "period=*")
    assert [f.rel for f in listed] == [
        ("runs", "period=2020-08", "r1.parquet"),
        ("runs", "period=2020-09", "r2.parquet"),
    ]
    assert [f.name for f in backend.glob("runs", "period=2020-09")] == ["r2.parquet"]
    assert backend.glob("scores", "period=*") == []  # a folder not written yet
    # walk: every file that is not hidden, the stray one too (dq history --check names it)
    assert [f.rel for f in backend.walk()] == [
        ("runs", "period=2020-08", "r1.parquet"),
        ("runs", "period=2020-09", "notes.txt"),
        ("runs", "period=2020-09", "r2.parquet"),
    ]
    before = listed[1].key
    backend.write(
        _parquet(pl.DataFrame({"x": [1, 2, 3], "y": ["a", "b", "c"]})), "runs", "period=2020-09", "r2.parquet"
    )
    after = backend.glob("runs", "period=2020-09")[0].key
    assert before != after  # a cache keyed by it never serves the old file


def test_sources_are_what_polars_reads(backend: StoreBackend) -> None:
    frame = pl.DataFrame({"unit_id": ["H001", "H002"], "score": [90.5, 71.0]})
    backend.write(_parquet(frame), "scores", "period=2020-09", "a.parquet")
    backend.write(b"PAR1 not parquet", "scores", "period=2020-09", "b.parquet")
    files = backend.glob("scores", "period=2020-09")
    sources = backend.sources(files)
    assert set(sources) == {f.key for f in files}
    assert _read_source(sources[files[0].key]).equals(frame)
    with pytest.raises(Exception, match=r"(?i)parquet|magic|footer|out of spec"):
        _read_source(sources[files[1].key])


def test_a_write_that_cannot_be_done_is_the_backends_error_and_leaves_nothing(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "history")
    backend.write(b"x", "scores", "period=2020-09", "a.parquet")
    (tmp_path / "history" / "results").write_text("a file where a folder should be")
    with pytest.raises(OSError):
        backend.write(b"y", "results", "period=2020-09", "a.parquet")
    store = Store(backend)
    with pytest.raises(
        OutputError, match=r"history/results/period=2020-09/a\.parquet: cannot write to the store"
    ):
        store.write_frame(pl.DataFrame({"x": [1]}), "results", "period=2020-09", "a.parquet")
    assert not [p for p in (tmp_path / "history").rglob("*") if p.name.startswith(".")]


def test_a_local_store_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "history").write_text("not a folder")
    with pytest.raises(StoreError, match="is a file, not a history store"):
        open_backend(tmp_path / "history")


def test_the_lock_is_held_by_one_taker_at_a_time(backend: StoreBackend) -> None:
    first, second = backend.lock(LOCK_NAME, "dq score"), backend.lock(LOCK_NAME, "dq score")
    assert not second.held_by_other()
    with first.held():
        assert second.held_by_other()
        with pytest.raises(
            InputError, match=r"the store is in use by another dq run \(pid \d+ on .*dq score"
        ):
            second.acquire()
        # another lock name is another lock: dq send beside dq score
        other = backend.lock("deliveries/.send.lock", "dq send")
        with other.held():
            assert backend.lock("deliveries/.send.lock", "dq send").held_by_other()
    assert not second.held_by_other()
    with second.held():
        assert first.held_by_other()


def test_display_names_files_as_users_wrote_the_store(tmp_path: Path) -> None:
    local = LocalBackend(tmp_path / "history")
    assert local.display(local.location("scores", "x.parquet")) == str(
        tmp_path / "history" / "scores" / "x.parquet"
    )
    assert local.address() == str((tmp_path / "history").resolve())
    memory = FsspecBackend("memory://dq-display/history")
    assert (
        memory.display(memory.location("scores", "x.parquet"))
        == "memory://dq-display/history/scores/x.parquet"
    )
    assert memory.address() == "memory://dq-display/history"


# --------------------------------------------------------------------------- the store above them
PERIOD = "2020-09"


def _fill(store: Store) -> str:
    """Two units through the store's writing API and one delivery event; returns the run id."""
    from dq.engine.results import RuleResult

    run = store.begin_run(PERIOD, "abc", "batch", "/data")
    for uid, failed in (("H001", 0), ("H002", 3)):
        r = RuleResult(rule="R1", suite="s", table="t", check="not_null", columns=("c",),
                       dimension="completeness", severity="error", status="fail" if failed else "pass",
                       evaluated=10, failed=failed,
                       fail_fraction=failed / 10, message="", samples=(), weight=1.0, threshold={},
                       title_zh="", title_en="")  # fmt: skip
        store.write_unit(run, {"unit_id": uid, "unit_name": uid}, [r], None, None, tables={"t": 10})
    store.finish_run(run, 2, 0)
    DeliveryLog(store).record(
        PERIOD,
        DeliveryEvent(unit_id="H001", status="sending", to=("a@example.org",), cc=(), message_id="<m1@x>",
                      subject="s", report_file="H001.html", report_sha256="0" * 64),
    )  # fmt: skip
    return run.run_id


def _plain(df: pl.DataFrame) -> pl.DataFrame:
    df = df.drop(
        [c for c in ("run_id", "started_at", "finished_at", "time", "dq_version") if c in df.columns]
    )
    return df.select(sorted(df.columns)).sort(pl.all())


@pytest.mark.parametrize("kind", KINDS[1:])
def test_every_backend_holds_the_same_files_and_reads_the_same(kind: str, tmp_path: Path) -> None:
    folder = Store(tmp_path / "folder")
    other = Store(_backend(kind, tmp_path))
    ids = [_fill(folder), _fill(other)]
    event = re.compile(r"\d{8}T\d{12}__(\w+)__(\w+)__[0-9a-f]{8}")  # time and a random part
    names = [
        sorted(
            event.sub(r"<time>__\1__\2__<id>", "/".join(f.rel)).replace(run_id, "<run>")
            for f in s.backend.walk()
        )
        for s, run_id in zip((folder, other), ids, strict=True)
    ]
    assert names[0] == names[1]
    assert len(names[0]) == 8  # runs, results ×2, scores ×2, tables ×2, one delivery event
    assert _plain(folder.results(PERIOD)).equals(_plain(other.results(PERIOD)))
    assert _plain(folder.scores(PERIOD)).equals(_plain(other.scores(PERIOD)))
    assert _plain(folder.table_rows(PERIOD)).equals(_plain(other.table_rows(PERIOD)))
    assert _plain(DeliveryLog(folder).events(PERIOD)).equals(_plain(DeliveryLog(other).events(PERIOD)))
    assert folder.runs()["status"].to_list() == other.runs()["status"].to_list() == ["complete"]
    assert not other.locked() and other.problems() == []


@pytest.mark.parametrize("kind", KINDS)
def test_a_damaged_file_of_any_folder_is_skipped_named_and_listed(kind: str, tmp_path: Path) -> None:
    warnings: list[str] = []
    store = Store(_backend(kind, tmp_path), warn=warnings.append)
    run_id = _fill(store)
    bad_score = store.backend.write(b"PAR1 junk", "scores", f"period={PERIOD}", f"{run_id}__H003.parquet")
    bad_event = store.backend.write(
        b"PAR1 junk", "deliveries", f"period={PERIOD}", "20200901T000000__H002__sent__x.parquet"
    )
    assert sorted(store.scores(PERIOD)["unit_id"].to_list()) == ["H001", "H002"]
    events = DeliveryLog(store).events(PERIOD)
    assert events["unit_id"].to_list() == ["H001"]  # the damaged event is not taken as "sent"
    shown = {store.display(bad_score), store.display(bad_event)}
    assert {w.split(": ")[0] for w in warnings} == shown
    assert all("unreadable store file skipped" in w and "dq history --check" in w for w in warnings)
    assert {(kind_, f) for kind_, f, _ in store.check()} == {
        ("scores", store.display(bad_score)),
        ("deliveries", store.display(bad_event)),
    }
    assert store.checked == 10


def test_a_store_laid_out_as_dq_writes_it_reads_as_before(tmp_path: Path) -> None:
    """Files written by hand with plain Polars where and as dq has always written them (the layout
    of docs/scoring.md, the column names and types of each folder): the store reads their values."""
    root = tmp_path / "history"
    run_id = "20200915T080000-abc123"
    started = datetime(2020, 9, 15, 8, 0, tzinfo=UTC)

    def put(frame: pl.DataFrame, *parts: str) -> None:
        path = root.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.write_parquet(path)

    ts = pl.Datetime("us", "UTC")
    put(pl.DataFrame({"run_id": [run_id], "started_at": [started], "finished_at": [started],
                      "status": ["complete"], "dq_version": ["0.1"], "suites_hash": ["h"],
                      "source": ["batch"], "root": ["/data"],
                      "units": [1], "errors": [0]}, schema_overrides={"started_at": ts, "finished_at": ts}),
        "runs", "period=2020-09", f"{run_id}.parquet")  # fmt: skip
    put(pl.DataFrame({"run_id": [run_id] * 2, "unit_id": ["H001"] * 2, "unit_name": ["一院"] * 2,
                      "kind": ["hospital"] * 2, "district": ["玄武"] * 2, "status": ["ok"] * 2,
                      "error": [None, None],
                      "facet": ["overall", "completeness"], "score": [87.5, 90.0], "grade": ["B", None]},
                     schema_overrides={"error": pl.String, "grade": pl.String}),
        "scores", "period=2020-09", f"{run_id}__H001.parquet")  # fmt: skip
    put(pl.DataFrame({"run_id": [run_id], "unit_id": ["H001"], "table": ["patients"], "rows": [1200]}),
        "tables", "period=2020-09", f"{run_id}__H001.parquet")  # fmt: skip
    put(pl.DataFrame({"unit_id": ["H001"], "status": ["sent"], "time": [started], "to": ["a@example.org"],
                      "message_id": ["<m@x>"]}, schema_overrides={"time": ts}),
        "deliveries", "period=2020-09", "20200915T090000000000__H001__sent__0a1b2c3d.parquet")  # fmt: skip
    for url in (str(root), f"file://{root}"):
        store = Store(url)
        assert store.problems() == []
        runs = store.runs()
        assert runs.select("run_id", "period", "status", "units").rows() == [
            (run_id, "2020-09", "complete", 1)
        ]
        assert runs["started_at"][0] == started
        scores = store.scores("2020-09", facet=None).sort("facet", descending=True)
        assert scores.select("unit_id", "unit_name", "facet", "score", "grade").rows() == [
            ("H001", "一院", "overall", 87.5, "B"),
            ("H001", "一院", "completeness", 90.0, None),
        ]
        assert store.table_rows("2020-09").select("unit_id", "table", "rows").rows() == [
            ("H001", "patients", 1200)
        ]
        assert DeliveryLog(store).sent_units("2020-09") == {"H001"}
        assert DeliveryLog(store).states("2020-09")["H001"].message_id == "<m@x>"


@pytest.mark.parametrize("kind", KINDS)
def test_a_file_rewritten_is_read_anew_by_the_same_store(kind: str, tmp_path: Path) -> None:
    """What a store remembers of a file (its footer's verdict, its bytes) is dropped once the file
    changes: another process may rewrite it (a run's row, ``running`` then ``complete``)."""
    store = Store(_backend(kind, tmp_path))
    parts = ("tables", f"period={PERIOD}", "20200901T000000-abcdef__H001.parquet")
    first = pl.DataFrame(
        {"run_id": ["20200901T000000-abcdef"], "unit_id": ["H001"], "table": ["t"], "rows": [5]}
    )
    store.write_frame(first, *parts)
    assert store.rows("tables")["rows"].to_list() == [5]
    second = pl.concat(
        [first, first.with_columns(pl.lit("u").alias("table"), pl.lit(70, pl.Int64).alias("rows"))]
    )
    store.backend.write(_parquet(second), *parts)  # as another process would
    assert store.rows("tables")["rows"].to_list() == [5, 70]
