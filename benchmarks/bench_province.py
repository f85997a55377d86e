"""Benchmark: a simulated province (K cities, `dq synth --cities K`) scored on one process and on
a local Dask cluster, with the cluster's per-unit scheduling overhead.

    .venv/bin/python benchmarks/bench_province.py --cities 13 --scale 0.01 --workers 2

Prints, on the same batch and in one run:

* ``dq score`` in one process and ``dq score --workers N`` (a LocalCluster of N processes, Polars
  threads split between them), each in its own child process, and their ratio;
* the cluster's per-unit overhead, measured two ways: a no-op task per unit (pure Dask
  scheduling and result transfer), and the wall time of the cluster run times the workers
  less the time the units' audits took (as measured inside the tasks), per unit;
* rows, units, cost per million rows and per unit in CPU-seconds (the scoring process's, or the
  client's plus every worker's): on a shared machine CPU time is steadier than wall-clock.

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
from bench_score import CPU, PERIOD, measure

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
        s, _, out = measure(cmd)
        serial = (s, CPU["last"], len(json.loads(out)["errors"]))
    shutil.rmtree(store, ignore_errors=True)
    cluster = score_on_cluster(root, store, args.workers)
    shutil.rmtree(store, ignore_errors=True)

    print(f"\n{args.cities} cities, scale {args.scale:g}: {units} units, {rows:,} rows, {cores} cores")
    print(
        f"{'run':<26} {'seconds':>8} {'CPU-s':>8} {'CPU-s per 1e6 rows':>19} {'CPU-ms per unit':>16} "
        f"{'errors':>6}"
    )
    if serial:
        s, cpu, errors = serial
        print(
            f"{'dq score, one process':<26} {s:>8.1f} {cpu:>8.1f} {cpu / (rows / 1e6):>19.2f} "
            f"{cpu / units * 1000:>16.0f} {errors:>6}"
        )
    startup, wall, cpu_c, cpu_w, busy, errors, per_task = cluster
    cpu = cpu_c + cpu_w
    name = f"dq score --workers {args.workers}"
    print(
        f"{name:<26} {wall:>8.1f} {cpu:>8.1f} {cpu / (rows / 1e6):>19.2f} {cpu / units * 1000:>16.0f} "
        f"{errors:>6}"
    )
    print(
        f"  of which client {cpu_c:.1f} CPU-s (commits, peers, scores, store), workers {cpu_w:.1f} CPU-s; "
        f"cluster start-up {startup:.1f} s, not included"
    )
    if serial:
        print(
            f"cluster / one process: {wall / serial[0]:.2f}x wall, {cpu / serial[1]:.2f}x CPU; cluster "
            f"overhead per unit: {(cpu - serial[1]) / units * 1000:.0f} CPU-ms"
        )
    print(
        f"Dask alone (a no-op task per unit, {units} tasks): {per_task * 1000:.1f} ms wall per task; "
        f"time in the units' audits {busy:.1f} s of {wall * args.workers:.1f} worker-seconds"
    )


def _cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def score_on_cluster(
    root: Path, store: Path, workers: int
) -> tuple[float, float, float, float, float, int, float]:
    """(start-up s, wall s, client CPU-s, workers' CPU-s, sum of the units' audit seconds, errors,
    no-op seconds per task)."""
    from distributed import as_completed

    from dq.batch.cluster import cluster_client, dask_map_units
    from dq.batch.local import score_batch
    from dq.store.history import Store

    t = time.perf_counter()
    with cluster_client(workers=workers) as client:
        client.gather(client.map(noop, range(workers * 4), pure=False))  # workers up and warm
        startup = time.perf_counter() - t
        before = client.run(_cpu)
        c0 = _cpu()
        t = time.perf_counter()
        outcome = score_batch(root, PERIOD, Store(store), map_units=dask_map_units(client), progress=False)
        wall = time.perf_counter() - t
        cpu_client = _cpu() - c0
        after = client.run(_cpu)
        cpu_workers = sum(after[w] - before[w] for w in after if w in before)
        busy = sum(u.seconds for u in outcome.units)
        n = len(outcome.units)
        t = time.perf_counter()
        for f in as_completed(client.map(noop, range(10_000, 10_000 + n), pure=False)):
            f.result()
        per_task = (time.perf_counter() - t) / n
    return startup, wall, cpu_client, cpu_workers, busy, len(outcome.errors), per_task


if __name__ == "__main__":
    main()
