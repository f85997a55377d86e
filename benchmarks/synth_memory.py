"""Time and peak memory of ``dq synth`` at several scales.

    .venv/bin/python benchmarks/synth_memory.py --scales 0.01 0.1 [--format parquet|csv]

Each scale runs in a fresh subprocess (so peak RSS is that run's own), writing to a temporary
folder that is removed afterwards. Prints rows, wall time, rows/s, peak RSS and size on disk.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import json, resource, sys, time
from pathlib import Path
from dq.synth import generate
t0 = time.perf_counter()
root = generate(Path(sys.argv[1]), "2020-09", scale=float(sys.argv[2]), seed=0, fmt=sys.argv[3],
                progress=False)
wall = time.perf_counter() - t0
truth = json.loads((root / "truth.json").read_text(encoding="utf-8"))
rows = sum(u["total_rows"] for u in truth["units"].values())
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"rows": rows, "wall_s": wall, "peak_mb": peak_kb / 1024,
                  "defects": len(truth["defects"])}))
"""


def run(scale: float, fmt: str) -> dict:
    out = Path(tempfile.mkdtemp(prefix="dq-synth-bench-"))
    try:
        t0 = time.perf_counter()
        p = subprocess.run(
            [sys.executable, "-c", CHILD, str(out), str(scale), fmt],
            capture_output=True,
            text=True,
            check=True,
        )
        res = json.loads(p.stdout.strip().splitlines()[-1])
        res["process_s"] = time.perf_counter() - t0
        res["disk_mb"] = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 2**20
        res["scale"] = scale
        return res
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", type=float, nargs="+", default=[0.01, 0.1])
    ap.add_argument("--format", dest="fmt", choices=("parquet", "csv"), default="parquet")
    args = ap.parse_args()
    print(f"{'scale':>7} {'rows':>12} {'wall s':>8} {'rows/s':>10} {'peak MB':>8} {'disk MB':>8}")
    for s in args.scales:
        r = run(s, args.fmt)
        print(
            f"{r['scale']:>7} {r['rows']:>12,} {r['wall_s']:>8.1f} {r['rows'] / r['wall_s']:>10,.0f} "
            f"{r['peak_mb']:>8.0f} {r['disk_mb']:>8.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
