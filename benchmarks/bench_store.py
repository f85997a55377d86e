"""The history store in a folder, behind ``memory://`` and on an S3-compatible server.

Scores the same synthetic batch into each store and times, side by side, ``dq score`` (audit,
score, one object or file per dataset and unit), reading every unit's latest scores (what
``dq history`` shows, a fresh Store each time: nothing cached) and loading a period's report
data (scores, results, summaries, previous runs). The S3 server is moto's on a loopback port, so
the figures show what the object-store path costs in requests and parsing, not a network's
latency; multiply the request counts by a real round trip for that.

    .venv/bin/python benchmarks/bench_store.py                 # 12 units at scale 0.002
    .venv/bin/python benchmarks/bench_store.py --units 30 --scale 0.005 --repeat 5

Needs ``pip install -e '.[test]'`` (s3fs and moto[s3], flask, flask-cors for the server).
"""

from __future__ import annotations

import argparse
import json
import logging
import socket
import tempfile
import time
from pathlib import Path

from dq.batch.local import score_batch
from dq.cli._history import history_rows
from dq.report.files import period_data
from dq.store.history import Store
from dq.synth import generate

PERIOD = "2020-09"
UNITS = ["H001", "H002", "H003", "H004", "H005", "H006", "H007", "H008", "H009", "H010", "H011",
         "H012", "H013", "H014", "H046", "D01", "D02", "D03", "D04", "D05"]  # fmt: skip


def _s3() -> tuple[object, dict]:
    import fsspec.config
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    options = {"endpoint_url": f"http://127.0.0.1:{port}", "key": "bench", "secret": "bench"}
    fsspec.config.conf["s3"] = options
    import s3fs

    s3fs.S3FileSystem(**options).mkdir("dq-bench")
    return server, options


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--units", type=int, default=12, help=f"units in the batch (at most {len(UNITS)})")
    ap.add_argument("--scale", type=float, default=0.002, help="synthetic scale (default 0.002)")
    ap.add_argument("--repeat", type=int, default=3, help="timed reads, best kept (default 3)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dq-bench-store-"))
    units = UNITS[: max(1, min(args.units, len(UNITS)))]
    generate(work, PERIOD, scale=args.scale, seed=5, units=units, progress=False)
    server, _ = _s3()
    stores = {"folder": str(work / "history"), "memory://": "memory://bench/history",
              "s3:// (loopback)": "s3://dq-bench/history"}  # fmt: skip
    figures: dict[str, dict[str, float]] = {}
    try:
        for name, root in stores.items():
            t = time.perf_counter()
            score_batch(work, PERIOD, Store(root), progress=False)
            score = time.perf_counter() - t
            history = _best(lambda root=root: history_rows(Store(root)), args.repeat)
            report = _best(lambda root=root: period_data(Store(root), PERIOD, "zh"), args.repeat)
            figures[name] = {"score_s": score, "history_s": history, "report_data_s": report}
    finally:
        server.stop()
    base = figures["folder"]
    print(f"{len(units)} units, scale {args.scale}; reads: best of {args.repeat}")
    print(f"{'store':18} {'dq score':>10} {'history':>10} {'report data':>12}   ratio to the folder")
    for name, f in figures.items():
        ratios = " ".join(f"{f[k] / base[k]:5.2f}" for k in ("score_s", "history_s", "report_data_s"))
        print(f"{name:18} {f['score_s']:9.2f}s {f['history_s']:9.3f}s {f['report_data_s']:11.3f}s   {ratios}")
    if args.json:
        print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
