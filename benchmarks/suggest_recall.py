"""How good are the suites `dq suggest` drafts? Measured on synthetic data with known defects.

1. A new, empty project (`dq init --from empty`: no table declared).
2. `dq suggest` on one clean extract per kind of unit (`dq synth --clean`, seed A): every table's
   catalogue entry (types inferred from the CSV text) and draft suite are written into it.
3. Clean batch of another seed (B, also `--clean`): every unit is audited with the project; the
   figure is the number of drafted rules that fail (the draft should pass clean data).
4. Defective batch (seed C, profile `before`: the most defects): every unit is audited; a defect
   kind of `truth.json` is found when, in a unit that has it, a drafted rule on its table and one
   of its columns fails, that rule failed on no clean unit (a rule that fails on clean data
   finds nothing), and no other defect kind of that unit and table touches the rule's columns
   (an ambiguous failure is not counted). Submission-level kinds (declaration, upload days, rates) are not the
   business of a record suite and are counted apart.

    python benchmarks/suggest_recall.py [--scale 0.002] [--units H001 H002 H003 D01 D02]

The figures are in docs/suites.md ("How good is a drafted suite"). tests/test_suggest.py runs
:func:`measure` on a small scale and checks the clean-pass property and a recall floor.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import dq
from dq.engine.suggest import suggest, taken_prefixes, write_drafts
from dq.project import init_project, load_project
from dq.synth._defects import SUBMISSION_KINDS
from dq.synth.generate import generate, no_defects

DEFAULT_UNITS = ["H001", "H002", "H003", "H005", "D01", "D02"]
LEARN_FROM = {"hospital": "H001", "district": "D01"}


def _only(kind: str) -> Any:
    """An ``adjust`` for :func:`generate` that keeps the defects of one kind and nothing else."""

    def adjust(plans: Any, uds: Any) -> None:
        kept = {u: [d for d in ud.defects if d.kind == kind] for u, ud in uds.items()}
        no_defects(plans, uds)
        for u, ud in uds.items():
            ud.defects.extend(kept[u])

    return adjust


def measure(
    work: Path,
    *,
    scale: float = 0.002,
    units: list[str] | None = None,
    seeds: tuple[int, int, int] = (1, 2, 3),
    max_units_per_kind: int = 2,
) -> dict[str, Any]:
    units = units or DEFAULT_UNITS
    learn_seed, clean_seed, bad_seed = seeds
    period = "2020-09"
    t0 = time.perf_counter()
    opts: dict[str, Any] = dict(scale=scale, units=units, fmt="csv", progress=False)
    learn = generate(work / "learn", period, seed=learn_seed, adjust=no_defects, **opts)
    clean = generate(work / "clean", period, seed=clean_seed, adjust=no_defects, **opts)
    bad = generate(work / "bad", period, seed=bad_seed, profile="before", **opts)
    t1 = time.perf_counter()

    init_project(work / "project", "empty")
    project = load_project(work / "project")
    drafts = []
    for unit in LEARN_FROM.values():
        if (learn / unit).is_dir():
            d = suggest(learn / unit, project=project, taken_prefixes=taken_prefixes(project.suites()))
            write_drafts(d, project)
            drafts += d
            project = load_project(work / "project")
    suites = project.suites()
    rules = {r.id: r for s in suites for r in s.rules}
    t2 = time.perf_counter()

    clean_fail: list[str] = []
    noisy: set[str] = set()  # rules that fail on clean data: their failures prove nothing
    clean_units = 0
    for u in sorted(p for p in clean.iterdir() if p.is_dir()):
        res = dq.audit(u, project=project, samples=0)
        clean_units += 1
        clean_fail += [
            f"{u.name} {r.rule} ({r.check} {','.join(r.columns)}): {r.message}"
            for r in res.results
            if r.status in ("fail", "error")
        ]
        noisy |= {r.rule for r in res.results if r.status in ("fail", "error")}

    # Which kinds the defective batch has, and where; then each record-level kind alone, in the
    # units that have it (the same seed: the same defects), so a failing rule is attributable.
    truth = json.loads((bad / "truth.json").read_text(encoding="utf-8"))
    record = [d for d in truth["defects"] if d["table"] is not None and d["kind"] not in SUBMISSION_KINDS]
    submission = sorted({d["kind"] for d in truth["defects"]} - {d["kind"] for d in record})
    kinds: dict[str, bool] = {}
    for kind in sorted({d["kind"] for d in record}):
        where = sorted({d["unit"] for d in record if d["kind"] == kind})[:max_units_per_kind]
        root = generate(
            work / f"kind-{kind}",
            period,
            seed=bad_seed,
            profile="before",
            adjust=_only(kind),
            **{**opts, "units": where},
        )
        mine = json.loads((root / "truth.json").read_text(encoding="utf-8"))["defects"]
        hit = False
        for u in where:
            res = dq.audit(root / u, project=project, samples=0)
            fails = [r for r in res.results if r.status == "fail" and r.rule not in noisy]
            for d in (d for d in mine if d["unit"] == u and d["kind"] == kind):
                hit = hit or any(
                    r.table == d["table"] and (set(r.columns) & set(d["columns"]) or r.check == "unique")
                    for r in fails
                )
        kinds[kind] = hit
    t3 = time.perf_counter()

    found = sorted(k for k, v in kinds.items() if v)
    missed = sorted(k for k, v in kinds.items() if not v)
    return {
        "scale": scale,
        "units": units,
        "tables_learnt": len(drafts),
        "rules_drafted": len(rules),
        "rules_by_check": dict(sorted(_count(r.check for r in rules.values()).items())),
        "clean_units": clean_units,
        "clean_failures": clean_fail,
        "record_kinds": len(kinds),
        "found": found,
        "missed": missed,
        "recall": round(len(found) / len(kinds), 3) if kinds else None,
        "submission_kinds": submission,
        "seconds": {"synth": round(t1 - t0, 1), "suggest": round(t2 - t1, 1), "audit": round(t3 - t2, 1)},
    }


def _count(items: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for x in items:
        out[x] = out.get(x, 0) + 1
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=0.002)
    ap.add_argument("--units", nargs="+", default=DEFAULT_UNITS)
    ap.add_argument("--seeds", type=int, nargs=3, default=(1, 2, 3))
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        m = measure(Path(tmp), scale=a.scale, units=a.units, seeds=tuple(a.seeds))
    if a.json:
        print(json.dumps(m, indent=2, ensure_ascii=False))
        return
    print(
        f"learnt from {', '.join(LEARN_FROM.values())} (clean, seed {a.seeds[0]}), scale {a.scale}: "
        f"{m['tables_learnt']} tables, {m['rules_drafted']} rules"
    )
    print("  rules by check: " + ", ".join(f"{k} {v}" for k, v in m["rules_by_check"].items()))
    print(
        f"clean batch (seed {a.seeds[1]}), {m['clean_units']} units: {len(m['clean_failures'])} failing rules"
    )
    for f in m["clean_failures"][:20]:
        print(f"  {f}")
    print(
        f"defective batch (seed {a.seeds[2]}, before): {len(m['found'])} of {m['record_kinds']} record-level "
        f"defect kinds found, recall {m['recall']:.0%}"
    )
    print(f"  found:  {', '.join(m['found'])}")
    print(f"  missed: {', '.join(m['missed'])}")
    print(f"  submission-level kinds (out of a record suite's reach): {', '.join(m['submission_kinds'])}")
    print(f"seconds: {m['seconds']}")


if __name__ == "__main__":
    main()
