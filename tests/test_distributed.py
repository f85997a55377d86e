"""Scoring on a real Dask LocalCluster (2 worker processes) gives the serial run's scores, even
when a worker process is killed while it audits a unit."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import polars as pl
import pytest

distributed = pytest.importorskip("distributed")

from fixtures_batches import PERIOD, UNITS, batch_with_a_broken_unit  # noqa: E402

from dq.batch.cluster import (  # noqa: E402
    cluster_client,
    dask_map_units,
    polars_threads_per_worker,
    score_batch_on_cluster,
)
from dq.batch.local import score_batch  # noqa: E402
from dq.report.cluster import render_reports_on_cluster  # noqa: E402
from dq.store.history import Store  # noqa: E402


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return batch_with_a_broken_unit(tmp_path_factory.mktemp("batch"), seed=5)  # H999 is broken


@pytest.fixture(scope="module")
def serial(batch: Path, tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    store = Store(tmp_path_factory.mktemp("serial"))
    score_batch(batch, PERIOD, store, progress=False)
    return _scores(store)


@pytest.fixture(scope="module")
def client():
    with cluster_client(workers=2) as c:
        yield c


def _scores(store: Store) -> pl.DataFrame:
    df = store.scores(PERIOD, facet=None)
    return df.select("unit_id", "facet", "status", "error", "score", "grade").sort("unit_id", "facet")


def test_polars_threads_are_split_between_the_workers(client) -> None:
    def threads() -> tuple[str | None, int]:
        import polars

        return os.environ.get("POLARS_MAX_THREADS"), polars.thread_pool_size()

    got = set(client.run(threads).values())
    n = polars_threads_per_worker(2)
    assert got == {(str(n), n)}


def test_a_killed_worker_has_its_unit_retried_and_the_scores_are_the_serial_ones(
    client, batch: Path, serial: pl.DataFrame, tmp_path: Path
) -> None:
    before = client.run(os.getpid)
    killed: list[int] = []

    def kill_a_busy_worker(done: int, total: int) -> None:
        if killed:
            return
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # wait until a worker is auditing a unit
            busy = [addr for addr, keys in client.processing().items() if keys]
            if busy:
                pid = before.get(busy[0])
                if pid:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                return
            time.sleep(0.05)

    store = Store(tmp_path / "history")
    outcome = score_batch(
        batch, PERIOD, store, progress=False, map_units=dask_map_units(client, on_done=kill_a_busy_worker)
    )
    assert killed, "no worker was busy after the first unit: nothing was killed"
    assert killed[0] not in client.run(os.getpid).values()  # it died for real (the nanny restarted it)
    assert [u.unit_id for u in outcome.errors] == ["H999"]
    assert _scores(store).equals(serial)
    assert len(serial.filter(pl.col("facet") == "overall")) == len(UNITS) + 1


def test_an_existing_cluster_by_address_a_url_root_and_reports_as_tasks(
    client, batch: Path, serial: pl.DataFrame, tmp_path: Path
) -> None:
    store = Store(tmp_path / "history")
    address = client.scheduler.address
    out = tmp_path / "reports"
    url = f"file://{batch}"  # an fsspec URL: each worker copies its unit folder locally

    def reports(client) -> None:
        render_reports_on_cluster(client, store, PERIOD, out)

    outcome = score_batch_on_cluster(url, PERIOD, store, scheduler=address, then=reports, progress=False)
    assert [u.unit_id for u in outcome.errors] == ["H999"]
    assert (
        outcome.errors[0].error is not None
        and f"{url}/{PERIOD}/H999/manifest.yaml" in outcome.errors[0].error
    )
    assert _scores(store).drop("error").equals(serial.drop("error"))
    pages = {p.name for p in (out / PERIOD).glob("*.html")}
    assert "index.html" in pages
    assert len(pages) == len(UNITS) + 2  # every unit (the broken one too) and the index


def test_workers_2_with_the_store_and_the_batch_root_on_s3_and_reports_read_from_the_store_url(
    capsys, monkeypatch, batch: Path, serial: pl.DataFrame, tmp_path: Path
) -> None:
    """``dq score --workers 2 --store s3://…`` on a real S3-compatible server: the new workers get
    the endpoint from ``FSSPEC_S3`` in their environment, as workers of a real cluster would."""
    from s3server import s3_server

    from dq.cli import main

    with s3_server() as s3:
        import s3fs

        fs = s3fs.S3FileSystem(**s3["options"])
        fs.put(f"{batch}/{PERIOD}", f"{s3['bucket']}/batches/{PERIOD}", recursive=True)
        for k, v in s3["env"].items():
            monkeypatch.setenv(k, v)
        root, url = f"s3://{s3['bucket']}/batches", f"s3://{s3['bucket']}/dq/history"
        out = tmp_path / "reports"
        argv = [
            "score",
            root,
            "--period",
            PERIOD,
            "--store",
            url,
            "--workers",
            "2",
            "--reports",
            "--out",
            str(out),
        ]
        code = main([*argv, "-q", "--format", "json"])
        _, err = capsys.readouterr()
        assert code == 1, err  # H999's broken extract: that unit's error, the others scored
        assert _scores(Store(url)).drop("error").equals(serial.drop("error"))
        pages = {p.name for p in (out / PERIOD).glob("*.html")}  # rendered by the workers
        assert "index.html" in pages and len(pages) == len(UNITS) + 2
        assert fs.exists(f"{s3['bucket']}/dq/history/scores/period={PERIOD}")
        assert not fs.exists(f"{s3['bucket']}/dq/history/.dq-lock")  # released at the end
