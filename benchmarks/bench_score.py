"""Benchmark: generate a synthetic city-month with `dq synth`, then audit and score it with `dq score`.

Prints, per scale: rows, generation time and peak memory, scoring time, rows per second and peak
memory of the scoring process; then projects the time at scale 1.0 (a real month, ~10^8 rows) from
a straight line through the measured points. Each step runs in its own process so that peak RSS
is that step's alone.

    .venv/bin/python benchmarks/bench_score.py --scales 0.1 0.3 [--streaming] [--keep]

Not a test: CI does not run it. Data go to benchmarks/data/ (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PERIOD = "2020-09"


def measure(cmd: list[str]) -> tuple[float, float, str]:
    """Run a command in a child process; return (seconds, the child's peak RSS in MB, stdout)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t
        code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if code not in (0, 1):  # dq score exits 1 when a unit errored; that is reported below
            sys.exit(f"failed ({code}): {' '.join(cmd)}\n{err.read()[-2000:]}")
        return seconds, usage.ru_maxrss / 1024, out.read()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scales", type=float, nargs="+", default=[0.1, 0.3])
    ap.add_argument("--streaming", action="store_true", help="score with Polars' streaming engine")
    ap.add_argument("--keep", action="store_true", help="keep generated data")
    ap.add_argument("--samples", type=int, default=5)
    args = ap.parse_args()
    py = sys.executable
    print(f"python {platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}")
    rows_out = []
    for scale in args.scales:
        root = HERE / "data" / f"city-{scale:g}"
        store = HERE / "data" / f"history-{scale:g}"
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(store, ignore_errors=True)
        gen_s, gen_mb, _ = measure(
            [
                py,
                "-m",
                "dq.synth",
                "--out",
                str(root),
                "--period",
                PERIOD,
                "--scale",
                str(scale),
                "--no-progress",
            ]
        )
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
        cmd += ["--samples", str(args.samples)] + (["--streaming"] if args.streaming else [])
        score_s, score_mb, out = measure(cmd)
        payload = json.loads(out)
        truth = json.loads((root / PERIOD / "truth.json").read_text())
        rows = sum(u["total_rows"] for u in truth["units"].values())
        size_mb = sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) / 2**20
        rows_out.append((scale, rows, size_mb, gen_s, gen_mb, score_s, score_mb, len(payload["errors"])))
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print()
    print(
        f"{'scale':>6} {'rows':>12} {'MB on disk':>10} {'synth s':>8} {'synth MB':>9} {'score s':>8} "
        f"{'rows/s':>10} {'score MB':>9} {'errors':>6}"
    )
    for scale, rows, size, gs, gm, ss, sm, errs in rows_out:
        rate = rows / ss
        print(f"{scale:>6g} {rows:>12,} {size:>10.0f} {gs:>8.1f} {gm:>9.0f}", end=" ")
        print(f"{ss:>8.1f} {rate:>10,.0f} {sm:>9.0f} {errs:>6}")
    if len(rows_out) >= 2:
        (s1, _, _, _, _, t1, m1, _), (s2, _, _, _, _, t2, m2, _) = rows_out[0], rows_out[-1]
        slope = (t2 - t1) / (s2 - s1)
        fixed = t1 - slope * s1
        mem_slope = (m2 - m1) / (s2 - s1)
        print(
            f"\nprojected at scale 1.0: {fixed + slope:.0f} s to audit and score "
            f"(target <= 180 s), peak RSS ~{m1 + mem_slope * (1 - s1):.0f} MB (target <= 4096 MB), "
            "by a straight line through the first and last scale"
        )


if __name__ == "__main__":
    main()
