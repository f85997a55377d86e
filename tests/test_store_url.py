"""The history store behind an fsspec URL: ``file://`` (the local folder it names), ``memory://``
and ``s3://`` on a real S3-compatible server on loopback (moto), for the library and the
commands that read the store, with the same results as a plain folder."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import polars as pl
import pytest

from dq.batch.local import score_batch
from dq.cli import main
from dq.errors import InputError, UsageError
from dq.store.history import LOCK_NAME, ObjectLock, Store
from dq.synth import generate

fsspec = pytest.importorskip("fsspec")

PERIOD = "2020-09"
UNITS = ["H001", "H004", "D01"]
SCORE_COLS = ["unit_id", "facet", "status", "score", "grade"]


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("batch")
    generate(out, PERIOD, scale=0.0005, seed=5, units=UNITS, progress=False)
    return out


@pytest.fixture(scope="module")
def folder(batch: Path, tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store(tmp_path_factory.mktemp("folder") / "history")
    score_batch(batch, PERIOD, store, progress=False)
    return store


def _scores(store: Store) -> pl.DataFrame:
    return store.scores(PERIOD, facet=None).select(SCORE_COLS).sort("unit_id", "facet")


def _plain(df: pl.DataFrame) -> pl.DataFrame:
    """Rows without what differs from run to run (ids, times), in a fixed order."""
    df = df.drop([c for c in ("run_id", "started_at") if c in df.columns])
    return df.select(sorted(df.columns)).sort(pl.all())


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _memory_url(name: str) -> str:
    fs = fsspec.filesystem("memory")
    if fs.exists(f"/{name}"):
        fs.rm(f"/{name}", recursive=True)
    return f"memory://{name}/history"


def test_a_memory_store_holds_what_a_folder_holds(batch: Path, folder: Store) -> None:
    store = Store(_memory_url("same"))
    assert store.remote and not store.exists()
    outcome = score_batch(batch, PERIOD, store, progress=False)
    assert not outcome.errors and store.exists()
    assert _scores(store).equals(_scores(folder))
    assert _plain(store.results(PERIOD)).equals(_plain(folder.results(PERIOD)))
    assert _plain(store.summaries(PERIOD)).equals(_plain(folder.summaries(PERIOD)))
    assert _plain(store.table_rows(PERIOD)).equals(_plain(folder.table_rows(PERIOD)))
    assert store.runs()["status"].to_list() == ["complete"]
    assert not store.locked() and store.problems() == []
    # no lock object and no temporary file left behind: only the five datasets and rows to fix
    names = {p.rsplit("/", 1)[-1] for p in fsspec.filesystem("memory").ls("/same/history", detail=False)}
    assert names == {"runs", "results", "scores", "summaries", "tables", "fixrows"}
    # a second run of the same period skips what is scored and, with nothing to do, records no run
    again = score_batch(batch, PERIOD, store, progress=False)
    assert all(u.skipped for u in again.units) and len(store.runs()) == 1


def test_a_damaged_object_is_skipped_with_a_warning_and_listed(batch: Path, folder: Store) -> None:
    warnings: list[str] = []
    url = _memory_url("damaged")
    score_batch(batch, PERIOD, Store(url), progress=False)
    fs = fsspec.filesystem("memory")
    fs.pipe_file(
        f"/damaged/history/scores/period={PERIOD}/20200101T000000-abcdef__H999.parquet", b"PAR1 junk"
    )
    store = Store(url, warn=warnings.append)
    assert _scores(store).equals(_scores(folder))  # the rest of the history stays usable
    assert len(warnings) == 1 and "__H999.parquet: unreadable store file skipped" in warnings[0]
    assert warnings[0].startswith("memory://damaged/history/scores/")
    problems = store.problems()
    assert [p for p, _ in problems] == [warnings[0].split(":")[0] + ":" + warnings[0].split(":")[1]]


def test_the_object_lock_refuses_a_second_writer_and_takes_over_a_dead_one(tmp_path: Path) -> None:
    url = _memory_url("locked")
    first, second = Store(url), Store(url)
    with first.lock():
        assert second.locked()
        with (
            pytest.raises(
                InputError,
                match=r"memory://locked/history: the store is in use by another dq run \(pid \d+ on",
            ),
            second.lock(),
        ):
            pass
    assert not second.locked()
    fs = fsspec.filesystem("memory")
    assert not fs.exists(f"/locked/history/{LOCK_NAME}")  # removed at the end of the run
    # a run killed on this host: its process is gone, the next run takes the lock over
    dead = _dead_pid()
    fs.pipe_file(f"/locked/history/{LOCK_NAME}", f"pid {dead} on {socket.gethostname()} since x".encode())
    assert not second.locked()
    with second.lock():
        assert f"pid {dead} " not in fs.cat_file(f"/locked/history/{LOCK_NAME}").decode()
    # a run of another host cannot be checked from here: refused, naming the object to delete
    fs.pipe_file(f"/locked/history/{LOCK_NAME}", b"pid 1 on another-host since 2026-12-01 00:00:00 UTC")
    with (
        pytest.raises(InputError, match=r"another-host.*delete memory://locked/history/\.dq-lock"),
        second.lock(),
    ):
        pass
    assert fs.exists(f"/locked/history/{LOCK_NAME}")  # a refused run leaves the holder's lock alone
    assert ObjectLock.stale(f"pid {dead} on {socket.gethostname()}")
    assert not ObjectLock.stale("pid 1 on another-host")


def _dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(proc.stdout)


def test_a_file_url_is_the_local_folder(tmp_path: Path) -> None:
    store = Store(f"file://{tmp_path}/history")
    assert not store.remote and store.root == tmp_path / "history"
    assert Store(f"file://localhost{tmp_path}/h%20x").root == tmp_path / "h x"
    with pytest.raises(UsageError, match="must name a path on this machine"):
        Store("file://otherhost/data/history")


def test_the_commands_on_a_file_url_store_give_the_folder_results(
    capsys, batch: Path, folder: Store, tmp_path: Path
) -> None:
    url = f"file://{tmp_path}/history"
    code, out, _ = _cli(
        capsys, "score", str(batch), "--period", PERIOD, "--store", url, "-q", "--format", "json"
    )
    assert code == 0
    ranking = {r["unit_id"]: r["score"] for r in json.loads(out)["ranking"]}
    assert (tmp_path / "history" / "scores" / f"period={PERIOD}").is_dir()  # the same files
    _compare_views(capsys, url, str(folder.root), ranking, tmp_path)


def _compare_views(capsys, url: str, plain: str, ranking: dict[str, float], tmp_path: Path) -> None:
    """``dq history``, ``dq explain`` and ``dq report all`` read the same from both stores."""
    views = []
    for store in (url, plain):
        code, out, err = _cli(capsys, "history", "--store", store, "--format", "json")
        assert code == 0, err
        rows = [{k: v for k, v in r.items() if k != "run_id"} for r in json.loads(out)["rows"]]
        code, out, err = _cli(
            capsys, "explain", "H001", "--period", PERIOD, "--store", store, "--format", "json"
        )
        assert code == 0, err
        explain = json.loads(out)
        views.append((rows, explain))
    assert views[0] == views[1]
    assert {r["unit_id"]: r["score"] for r in views[0][0]} == ranking
    pages = []
    for n, store in enumerate((url, plain)):
        out_dir = tmp_path / f"reports{n}"
        code, _, err = _cli(
            capsys, "report", "all", "--period", PERIOD, "--store", store, "--out", str(out_dir), "-q"
        )
        assert code == 0, err
        pages.append(sorted(p.name for p in (out_dir / PERIOD).glob("*.html")))
        index = (out_dir / PERIOD / "index.html").read_text(encoding="utf-8")
        assert all(uid in index for uid in UNITS)
    assert pages[0] == pages[1] and "index.html" in pages[0]


def test_the_commands_on_an_s3_store(capsys, batch: Path, folder: Store, tmp_path: Path) -> None:
    from s3server import s3_server

    with s3_server() as s3:
        url = f"s3://{s3['bucket']}/dq/history"
        argv = ["score", str(batch), "--period", PERIOD, "--store", url, "-q", "--format", "json"]
        code, out, err = _cli(capsys, *argv)
        assert code == 0, err
        ranking = {r["unit_id"]: r["score"] for r in json.loads(out)["ranking"]}
        assert _scores(Store(url)).equals(_scores(folder))
        _compare_views(capsys, url, str(folder.root), ranking, tmp_path)
        code, out, _ = _cli(capsys, "history", "--store", url, "--check")
        assert code == 0
        # while a run holds the store, a second one is refused with a one-line message (exit 2)
        with Store(url).lock():
            code, _, err = _cli(capsys, *argv, "--force")
        assert code == 2 and "the store is in use by another dq run" in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "nosuchproto://bucket/history",
            r"nosuchproto://bucket/history: cannot use this URL \(Protocol not known",
        ),
        ("gcs://bucket/history", r"gcs://bucket/history: .*install gcsfs"),
    ],
)
def test_an_unusable_url_is_a_one_line_error(capsys, url: str, expected: str) -> None:
    if url.startswith("gcs") and _installed("gcsfs"):
        pytest.skip("gcsfs is installed here")
    for argv in (["history", "--store", url], ["explain", "H001", "--period", PERIOD, "--store", url]):
        code, out, err = _cli(capsys, *argv)
        assert code == 2 and out == ""
        assert re.search(expected, err) and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_an_unreachable_object_store_is_a_one_line_error(capsys, monkeypatch) -> None:
    pytest.importorskip("s3fs")
    import fsspec.config

    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setitem(
        fsspec.config.conf,
        "s3",
        {"endpoint_url": f"http://127.0.0.1:{port}", "key": "x", "secret": "x",
         "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 2}},
    )  # fmt: skip
    code, _, err = _cli(capsys, "history", "--store", "s3://bucket/history")
    assert code == 2 and "s3://bucket/history: cannot reach the store" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_missing_store_behind_a_url_says_so(capsys) -> None:
    code, _, err = _cli(capsys, "history", "--store", _memory_url("empty"))
    assert code == 2 and "memory://empty/history: no history store here" in err


def _installed(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


class _Inbox:
    """An aiosmtpd handler keeping what it accepts."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.content)
        return "250 OK"


def test_send_records_its_deliveries_in_a_store_behind_a_url(capsys, batch: Path, tmp_path: Path) -> None:
    aiosmtpd = pytest.importorskip("aiosmtpd.controller")
    from dq.report.files import render_period
    from dq.store.deliveries import DeliveryLog

    url = _memory_url("send")
    store = Store(url)
    score_batch(batch, PERIOD, store, progress=False)
    render_period(store, PERIOD, tmp_path / "reports", echo=None)
    contacts = tmp_path / "contacts.csv"
    lines = ["unit_id,to,cc,language", *(f"{u},q@{u.lower()}.example.org,,zh" for u in UNITS)]
    contacts.write_text("\n".join(lines) + "\n", encoding="utf-8")
    inbox = _Inbox()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    smtp = aiosmtpd.Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        argv = ["send", "--period", PERIOD, "--store", url, "--reports", str(tmp_path / "reports")]
        argv += ["--contacts", str(contacts), "--smtp", f"127.0.0.1:{port}", "--from", "dq@example.org"]
        code, _, err = _cli(capsys, *argv, "-q")
        assert code == 0, err
        assert len(inbox.messages) == len(UNITS)
        assert DeliveryLog(Store(url)).sent_units(PERIOD) == set(UNITS)
        code, _, err = _cli(capsys, *argv, "-q")  # the record behind the URL: nothing sent twice
        assert code == 0, err
        assert len(inbox.messages) == len(UNITS)
    finally:
        smtp.stop()
    fs = fsspec.filesystem("memory")
    events = fs.glob(f"/send/history/deliveries/period={PERIOD}/*.parquet")
    assert len(events) == 2 * len(UNITS)  # a "sending" and a "sent" event per unit, one object each
    assert not fs.exists("/send/history/deliveries/.send.lock")


def test_an_s3_store_without_s3fs_says_what_to_install(capsys, monkeypatch) -> None:
    import sys

    import fsspec.registry  # noqa: F401

    registry = sys.modules["fsspec.registry"]._registry  # fsspec.registry is the mapping itself
    monkeypatch.setitem(sys.modules, "s3fs", None)  # as if s3fs were not installed
    monkeypatch.delitem(registry, "s3", raising=False)
    code, out, err = _cli(capsys, "history", "--store", "s3://bucket/dq/history")
    assert code == 2 and out == ""
    assert "s3://bucket/dq/history: Install s3fs to access S3 (pip install 'dq[s3]')" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
