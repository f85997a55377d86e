"""Benchmark: a simulated province (K cities, `dq synth --cities K`) scored on one process and on
a local Dask cluster, with the cluster's per-unit scheduling overhead.

    .venv/bin/python benchmarks/bench_province.py --cities 13 --scale 0.01 --workers 2

Prints, on the same batch and in one run:

* ``dq score`` in one process and ``dq score --workers N`` (a LocalCluster of N processes, Polars
  threads split between them), each in its own child process, and their ratio;
* the cluster's per-unit overhead, measured two ways: a no-op task per unit (pure Dask
  scheduling and result transfer), and the wall time of the cluster run times the workers
  less the time the units' audits took (as measured inside the tasks), per unit;
* rows, units, cost per million rows (CPU-seconds of the machine per 10^6 rows: wall × cores).

The batch is kept in benchmarks/data/province-<K>x<scale>/ (git-ignored) and reused.
Not a test: CI does not run it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_score import PERIOD, measure

HERE = Path(__file__).resolve().parent


def noop(i: int) -> int:
    return i


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cities", type=int, default=13)
    ap.add_argument("--scale", type=float, default=0.01)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--skip-serial", action="store_true", help="only the cluster run")
    args = ap.parse_args()
    py = sys.executable
    cores = os.cpu_count() or 1
    print(f"python {platform.python_version()}, {cores} cores, {platform.machine()}")
    root = HERE / "data" / f"province-{args.cities}x{args.scale:g}"
    if not (root / PERIOD / "truth.json").exists():
        shutil.rmtree(root, ignore_errors=True)
        cmd = [py, "-m", "dq", "synth", "--out", str(root), "--period", PERIOD, "--scale", str(args.scale)]
        gen_s, _, _ = measure([*cmd, "--cities", str(args.cities), "--no-progress"])
        print(f"generated in {gen_s:.0f} s")
    truth = json.loads((root / PERIOD / "truth.json").read_text())
    units, rows = len(truth["units"]), sum(u["total_rows"] for u in truth["units"].values())
    store = HERE / "data" / f"history-province-{args.cities}x{args.scale:g}"
    serial = None
    if not args.skip_serial:
        shutil.rmtree(store, ignore_errors=True)
        cmd = [
            py,
            "-m",
            "dq",
            "score",
            str(root),
            "--period",
            PERIOD,
            "--store",
            str(store),
            "--format",
            "json",
        ]
        s, mb, out = measure(cmd)
        serial = (s, mb, len(json.loads(out)["errors"]))
    shutil.rmtree(store, ignore_errors=True)
    cluster = score_on_cluster(root, store, args.workers)
    shutil.rmtree(store, ignore_errors=True)

    print(f"\n{args.cities} cities, scale {args.scale:g}: {units} units, {rows:,} rows, {cores} cores")
    print(f"{'run':<26} {'seconds':>8} {'rows/s':>10} {'CPU-s per 1e6 rows':>19} {'errors':>6}")
    if serial:
        s, mb, errors = serial
        cost = s * cores / (rows / 1e6)
        print(f"{'dq score, one process':<26} {s:>8.1f} {rows / s:>10,.0f} {cost:>19.2f} {errors:>6}")
    startup, wall, busy, errors, per_task = cluster
    name = f"dq score --workers {args.workers}"
    print(f"{name:<26} {wall:>8.1f} {rows / wall:>10,.0f} {wall * cores / (rows / 1e6):>19.2f} {errors:>6}")
    print(f"(cluster start-up, not included above: {startup:.1f} s)")
    if serial:
        print(f"cluster / one process: {wall / serial[0]:.2f}x")
    per_unit = (wall * args.workers - busy) / units
    print(
        f"per-unit overhead on the cluster: {per_unit * 1000:.0f} ms (wall x workers - time in the "
        f"audits = {wall * args.workers:.1f} - {busy:.1f} s, over {units} units); "
        f"Dask alone (a no-op task per unit): {per_task * 1000:.1f} ms"
    )


def score_on_cluster(root: Path, store: Path, workers: int) -> tuple[float, float, float, int, float]:
    """(start-up s, wall s, sum of the units' audit seconds, errors, no-op seconds per task)."""
    from distributed import as_completed

    from dq.batch import score_batch
    from dq.distributed import cluster_client, dask_map_units
    from dq.store import Store

    t = time.perf_counter()
    with cluster_client(workers=workers) as client:
        client.gather(client.map(noop, range(workers * 4), pure=False))  # workers up and warm
        startup = time.perf_counter() - t
        t = time.perf_counter()
        outcome = score_batch(root, PERIOD, Store(store), map_units=dask_map_units(client), progress=False)
        wall = time.perf_counter() - t
        busy = sum(u.seconds for u in outcome.units)
        n = len(outcome.units)
        t = time.perf_counter()
        for f in as_completed(client.map(noop, range(10_000, 10_000 + n), pure=False)):
            f.result()
        per_task = (time.perf_counter() - t) / n
    return startup, wall, busy, len(outcome.errors), per_task


if __name__ == "__main__":
    main()
