"""Benchmark: what the rows' locator costs the audit (the row number every reader adds).

One synthetic city-month (``dq synth``, Parquet or CSV) is audited unit by unit as ``dq score``
audits it (:func:`dq.scoring.summary.audit_and_summarize`, every record-level suite, the
submission summary in the same pass, up to 1,000 rows to fix per failing rule), in two ways, in
alternate rounds on the same extracts:

* **with locator**: the frames as the readers give them, ``__dq_row`` included, and the rows to
  fix turned into file and line (:func:`dq.io.sources.row_locators`);
* **without**: the same frames with ``__dq_row`` dropped before the audit (what dq did before).

Prints the best wall and CPU seconds of each and their ratio:

    .venv/bin/python benchmarks/bench_fixrows.py [--scale 0.02] [--format csv] [--rounds 3]

Not a test: CI does not run it. Data go to benchmarks/data/ (git-ignored).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PERIOD = "2020-09"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=0.02)
    ap.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--units", nargs="*", default=["H001", "H002", "H003", "H011", "D01", "D02"])
    args = ap.parse_args()

    import datetime as dt

    from dq.engine.suite import load_suites
    from dq.io.catalogue import load_catalogue
    from dq.io.columns import ROW_INDEX
    from dq.io.sources import open_extract
    from dq.scoring.summary import audit_and_summarize
    from dq.synth import generate

    data = HERE / "data" / f"fixrows-{args.format}-{args.scale}"
    if not (data / PERIOD).is_dir():
        generate(data, PERIOD, scale=args.scale, seed=1, profile="before", units=args.units,
                 fmt=args.format, progress=False)  # fmt: skip
    cat = load_catalogue()
    suites = load_suites(catalogue=cat)
    now = dt.datetime(2020, 10, 5)
    units = sorted(p for p in (data / PERIOD).iterdir() if p.is_dir())

    def run(located: bool) -> tuple[float, float, int, int]:
        wall0, cpu0 = time.perf_counter(), time.process_time()
        rows = listed = 0
        for unit in units:
            ext = open_extract(unit, catalogue=cat)
            if not located:
                ext.tables = {
                    n: dataclasses.replace(s, frame=s.frame.drop(ROW_INDEX, strict=False))
                    for n, s in ext.tables.items()
                }
            audit, _ = audit_and_summarize(ext, suites, PERIOD, catalogue=cat, now=now, fix_rows=1000)
            rows += sum(t.rows or 0 for t in audit.tables)
            listed += sum(len(r.fix_rows) for r in audit.results)
        return time.perf_counter() - wall0, time.process_time() - cpu0, rows, listed

    best: dict[bool, list[float]] = {True: [1e9, 1e9], False: [1e9, 1e9]}
    run(True)  # warm-up: compiled plans, file cache
    for _ in range(args.rounds):
        for located in (False, True):
            wall, cpu, rows, listed = run(located)
            best[located] = [min(best[located][0], wall), min(best[located][1], cpu)]
    print(f"{len(units)} units, {rows:,} rows ({args.format}), {listed:,} rows to fix, best of {args.rounds}")
    print("| audit | wall s | CPU s |")
    print("| --- | ---: | ---: |")
    for located, name in ((False, "without the row number"), (True, "with the row locator")):
        print(f"| {name} | {best[located][0]:.2f} | {best[located][1]:.2f} |")
    print(f"| ratio | {best[True][0] / best[False][0]:.3f}× | {best[True][1] / best[False][1]:.3f}× |")


if __name__ == "__main__":
    main()
