"""Detection of the history rules on synthetic monthly series (issue: monitoring).

Writes a series with injected events and the same series without them (dq.synth.series), scores
each month in order with ``dq score``'s library function into a fresh store, and prints, side by
side, events found and false alarms per 100 unit-months judged.

    python benchmarks/monitoring_detection.py [--months 2020-01:2021-06] [--units H021 H026 D03 D07]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from dq.batch.local import score_batch
from dq.store.history import Store
from dq.synth.series import DEFAULT_UNITS, detection, series


def run(months: str, units: list[str], seed: int, scale: float, events: bool, work: Path) -> dict:
    root = work / ("events" if events else "clean")
    t0 = time.perf_counter()
    truth = series(root, months, units=units, seed=seed, scale=scale, events=events, progress=False)
    t1 = time.perf_counter()
    store = Store(work / (root.name + "-store"))
    for m in truth["months"]:
        score_batch(root, m, store, progress=False)
    t2 = time.perf_counter()
    out = detection(truth, store)
    out["seconds"] = {"synth": round(t1 - t0, 1), "score": round(t2 - t1, 1)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--months", default="2020-01:2021-06")
    ap.add_argument("--units", nargs="+", default=list(DEFAULT_UNITS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scale", type=float, default=0.001)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        ev = run(a.months, a.units, a.seed, a.scale, True, Path(d))
        clean = run(a.months, a.units, a.seed, a.scale, False, Path(d))
    print(f"series {a.months}, units {' '.join(a.units)}, seed {a.seed}, scale {a.scale}")
    print(f"{'':32}{'with events':>14}{'clean':>14}")
    print(f"{'events found':32}{ev['found']:>9} of {ev['events']:<3}{'-':>14}")
    print(f"{'unit-months judged':32}{ev['unit_months_judged']:>14}{clean['unit_months_judged']:>14}")
    print(f"{'false alarms':32}{ev['false_alarms']:>14}{clean['false_alarms']:>14}")
    rate = "false alarms per 100 unit-months"
    print(f"{rate:32}{ev['false_alarms_per_100']:>14}{clean['false_alarms_per_100']:>14}")
    print(f"{'flags of persisting events':32}{ev['persisting_flags']:>14}{'-':>14}")
    for e in ev["detail"]:
        state = "found" if e["found"] else "MISSED"
        print(f"  {e['month']} {e['unit']:5} {e['kind']:12} {state:7} {', '.join(e['flagged'])}")
    if ev["false_alarm_unit_months"] or clean["false_alarm_unit_months"]:
        print(
            "false alarms:",
            json.dumps({"events": ev["false_alarm_unit_months"], "clean": clean["false_alarm_unit_months"]}),
        )


if __name__ == "__main__":
    main()
