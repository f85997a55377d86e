"""Scoring a batch on a Dask cluster: each unit's audit and summary is a task on a worker.

``dq score ROOT --period P --workers N`` starts a local cluster of N worker processes (one task
at a time each, Polars' threads split between them); ``--scheduler ADDRESS`` uses a running
cluster (``dask scheduler`` / ``dask worker``). Everything else runs on the client exactly as in
the single-process path (:func:`dq.batch.local.score_batch`): units already scored are skipped, each
finished unit is committed to the store as it arrives, the peer checks of the submission suite,
the scores and the history are computed there, so the scores are the same.

What the cluster brings, and what it does not replace:

* a unit is the unit of work: :func:`dq.batch.local.audit_unit` runs as one task per unit folder;
  its outcome (results, summary, table rows -- a few kB) comes back to the client;
* a worker that dies mid-unit (killed, out of memory, machine lost) has its unit run again on
  another worker by Dask's scheduler (up to ``distributed.scheduler.allowed-failures`` times,
  default 3); a unit that keeps killing workers becomes that unit's error, like a broken extract;
* a broken extract is still isolated inside its task: it returns an outcome with an error;
* limits: a local cluster's workers get ``--memory-limit`` (Dask's nanny restarts a worker past
  it, and a unit that keeps doing so becomes that unit's error as above); a reader that aborts
  natively kills its worker, with the same outcome. The CPU and wall-time limits of
  :mod:`dq.io.isolation` are not applied on a cluster (a hung unit holds its worker: set Dask's own
  timeouts, docs/scale.md);
* with ``--reports`` the unit reports render as tasks too, a share of the units per worker, and
  the period's index on the client.

Paths: the batch root may be a folder every worker sees (a shared file system) or an fsspec URL
(``s3://bucket/batches``, ``gcs://…``, ``file:///…``): each worker then copies one unit folder
at a time to its local temporary folder, audits it and deletes the copy. The history store is
written by the client only (a folder, or a URL such as ``s3://bucket/dq/history``, see
:class:`dq.store.history.Store`); for ``--reports`` the workers read it, so it must be a folder they see
too or a URL they can reach with their own credentials, and they write the reports to ``--out``,
a folder they must all see.

Dask is optional (``pip install 'dq[cluster]'``): it is imported only here, on this path.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dq.errors import UsageError
from dq.io.urls import is_url, url_name

if TYPE_CHECKING:
    from distributed import Client

    from dq.batch.local import BatchOutcome, UnitOutcome
    from dq.store.history import Store

__all__ = [
    "cluster_client",
    "dask_map_units",
    "polars_threads_per_worker",
    "score_batch_on_cluster",
]

EXTRA_HINT = "install the cluster extra: pip install 'dq[cluster]'"


def _require_dask() -> None:
    try:
        import distributed  # noqa: F401
    except ImportError as exc:
        raise UsageError(f"--workers/--scheduler run on Dask, which is not installed; {EXTRA_HINT}") from exc


def polars_threads_per_worker(workers: int, cores: int | None = None) -> int:
    """Polars threads per worker process so that ``workers`` processes share the cores."""
    cores = cores or os.cpu_count() or 1
    return max(1, cores // max(1, workers))


@contextmanager
def cluster_client(
    workers: int | None = None,
    scheduler: str | None = None,
    *,
    threads: int | None = None,
    memory_limit: int | None = None,
) -> Iterator[Client]:
    """A Dask client: on a new local cluster of ``workers`` processes, or on ``scheduler``.

    Local workers run one task at a time each, with ``POLARS_MAX_THREADS`` set in the worker
    process before Polars is imported (``threads``, default: the cores split between workers),
    and ``memory_limit`` bytes each (Dask's nanny restarts a worker past it; default: Dask's,
    the machine's memory split between the workers). On an existing cluster the workers' own
    settings apply (see docs/scale.md).
    """
    _require_dask()
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise UsageError(
                f"{scheduler}: cannot reach the Dask scheduler ({exc}); start one with `dask scheduler`"
            ) from exc
        with client:
            yield client
        return
    n = workers or 1
    if n < 1:
        raise UsageError(f"--workers must be at least 1, got {n}")
    env = {"POLARS_MAX_THREADS": str(threads or polars_threads_per_worker(n))}
    with (
        LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            env=env,
            memory_limit=memory_limit if memory_limit else "auto",
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _failed(path: str | Path, exc: BaseException) -> UnitOutcome:
    """The outcome of a unit whose task itself failed (e.g. it kept killing workers)."""
    from dq.batch.local import UnitOutcome, unit_from_dir
    from dq.io.masking import describe_error, mask_text

    unit = unit_from_dir(Path(path)) if not is_url(path) else {"unit_id": url_name(path)}
    unit = {"name": unit["unit_id"], "kind": None, "district": None, **unit}
    for internal in ("from_folder", "manifest_error"):
        unit.pop(internal, None)
    if type(exc).__name__ == "KilledWorker":
        msg = f"{unit['unit_id']}: the workers auditing it died repeatedly (out of memory?); not scored"
    else:
        msg = f"{unit['unit_id']}: the cluster could not run its audit ({describe_error(exc)})"
    return UnitOutcome(unit, error=mask_text(msg, 2000), folder=str(path))


def dask_map_units(
    client: Client, on_done: Callable[[int, int], None] | None = None
) -> Callable[[Callable[[Any], UnitOutcome], Sequence[Any]], Iterable[UnitOutcome]]:
    """A ``map_units`` for :func:`dq.batch.local.score_batch`: one task per unit on ``client``'s
    cluster, outcomes yielded as they finish (in any order)."""

    def map_units(fn: Callable[[Any], UnitOutcome], paths: Sequence[Any]) -> Iterator[UnitOutcome]:
        from distributed import as_completed

        paths = list(paths)
        if not paths:
            return
        token = uuid.uuid4().hex[:8]
        keys = [f"dq-unit-{url_name(p)}-{token}" for p in paths]
        # pure=False: a unit is audited again on every run, never taken from a cache.
        futures = client.map(fn, paths, key=keys, pure=False)
        where = {f.key: p for f, p in zip(futures, paths, strict=True)}
        for n, fut in enumerate(as_completed(futures), start=1):
            try:
                out = fut.result()
            except Exception as exc:
                out = _failed(where[fut.key], exc)
            fut.release()
            if on_done:
                on_done(n, len(paths))
            yield out

    return map_units


def score_batch_on_cluster(
    root: str | Path,
    period: str,
    store: Store,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    threads: int | None = None,
    then: Callable[[Client], object] | None = None,
    memory_limit: int | None = None,
    **options: Any,
) -> BatchOutcome:
    """:func:`dq.batch.local.score_batch` with each unit audited as a task on a Dask cluster (a new
    local one of ``workers`` processes, or the one at ``scheduler``); ``then(client)`` runs after
    the batch on the same cluster (the CLI renders the reports there:
    :func:`dq.report.cluster.render_reports_on_cluster`); ``memory_limit``: bytes per local worker
    (see :func:`cluster_client`). ``options`` go to ``score_batch``; its ``limits`` (the worker
    processes of :mod:`dq.io.isolation`) do not apply here: Dask's workers are the processes."""
    from dq.batch.local import score_batch

    if not workers and not scheduler:
        raise UsageError("give --workers N or --scheduler ADDRESS")
    with cluster_client(workers, scheduler, threads=threads, memory_limit=memory_limit) as client:
        outcome = score_batch(root, period, store, map_units=dask_map_units(client), **options)
        if then is not None:
            then(client)
    return outcome
