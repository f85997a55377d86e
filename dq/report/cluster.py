"""Rendering a period's reports on a Dask cluster: a share of the units per worker.

``dq score ROOT --workers N --reports`` renders on the cluster that scored the batch (see
:func:`dq.batch.cluster.score_batch_on_cluster`'s ``then``). The workers must see the store and the
output folder (a shared folder, or a store URL they reach with their own credentials).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from distributed import Client

    from dq.io.catalogue import Catalogue
    from dq.scoring.scores import ScoringConfig
    from dq.store.history import Store

__all__ = ["render_reports_on_cluster"]


def _render_units(
    store_root: str,
    period: str,
    unit_ids: list[str],
    out_dir: str,
    lang: str,
    catalogue: Catalogue | None = None,
    scoring: ScoringConfig | None = None,
) -> list[str]:
    """On a worker: render the reports of some units of a period (the store read once)."""
    from dq.io.outputs import atomic_write_text, safe_filename
    from dq.report._render import render_unit
    from dq.report.files import period_data
    from dq.report.model import report_filename
    from dq.store.history import Store

    data = period_data(Store(store_root), period, lang, catalogue=catalogue, scoring=scoring)
    folder = Path(out_dir) / safe_filename(period)
    return [
        str(atomic_write_text(folder / report_filename(uid), render_unit(data.unit(uid)))) for uid in unit_ids
    ]


def render_reports_on_cluster(
    client: Client,
    store: Store,
    period: str,
    out_dir: str | Path,
    *,
    lang: str = "zh",
    echo: Callable[[str], None] | None = None,
    catalogue: Catalogue | None = None,
    scoring: ScoringConfig | None = None,
) -> list[Path]:
    """Render every unit report of ``period`` as tasks (a share of the units per worker), then
    the period's index on the client. The workers must see ``store`` and ``out_dir``."""
    from dq.report.files import period_data, render_index_file

    t = time.perf_counter()
    data = period_data(store, period, lang, catalogue=catalogue, scoring=scoring)
    ids = list(data.unit_ids())
    n = max(1, len(client.scheduler_info().get("workers", {})))
    chunks = [ids[i::n] for i in range(n) if ids[i::n]]
    root = store.backend.address()  # as the workers open it: an absolute path, or the URL
    out = str(Path(out_dir).resolve())
    futures = client.map(_render_units, [root] * len(chunks), [period] * len(chunks), chunks,
                         [out] * len(chunks), [lang] * len(chunks), [catalogue] * len(chunks),
                         [scoring] * len(chunks), pure=False)  # fmt: skip
    written = [Path(p) for part in client.gather(futures) for p in part]
    written.append(render_index_file(data, Path(out_dir)))
    if echo:
        echo(f"{len(written)} report files in {time.perf_counter() - t:.1f}s")
    return written
