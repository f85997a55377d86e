"""Compare dq's audit of a synthetic batch with its truth.json: ``python -m dq.synth.crosscheck DIR``.

For every unit the extract suites run in-process, then the submission suite over all summaries.
Failures are summed per (unit, table, check, columns) -- the rule and the columns it looks at, so
one rule's extra rows cannot hide another rule's miss -- and compared with the truth's rows for
the same key (a defect names the check and the columns it broke);
submission-level kinds are matched to the submission rules that should fire. Prints one line per
mismatch (expected vs found, with the rules involved) and a per-kind recall table; exits 1 when
anything differs. Useful both to validate the generator and to measure the engine.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

__all__ = ["crosscheck", "main"]

# submission kind -> the submission_summary column whose rule must fail
SUBMISSION_COLUMNS = {
    "not_reported": ("declaration_status",),
    "declared_not_uploaded": ("declared_not_uploaded",),
    # an undeclared required table is also one declared table short of the required ones
    "uploaded_not_declared": ("uploaded_not_declared", "required_tables"),
    "missing_upload_days": ("upload_days",),
    "over_reporting": ("outpatient_rate", "discharge_rate"),
    "under_reporting": ("outpatient_rate", "discharge_rate"),
    # a row that uploaded nothing (of a kind): the truth names the columns (data_volume,
    # outpatient_uploaded, discharge_uploaded) and what follows from them ("explains")
    "no_upload": (),
}


def _columns(columns) -> tuple[str, ...]:
    """The columns a rule or defect is about, order aside (compare's sides, a key's parts)."""
    return tuple(sorted(columns or ()))


def _rule_for(columns: tuple[str, ...], candidates: set[tuple[str, ...]]) -> tuple[str, ...]:
    """The columns of the rule a defect on ``columns`` should make fail: the rule of the same
    check on exactly those columns, else the narrowest one that covers them (a defect in the
    sex digit of an ID number is the finding of the rule on ID, birth date and sex)."""
    if columns in candidates:
        return columns
    covering = sorted((c for c in candidates if set(columns) <= set(c)), key=lambda c: (len(c), c))
    return covering[0] if covering else columns


def crosscheck(batch: Path) -> dict[str, Any]:
    """Audit ``batch`` (OUT/<period>) with dq and compare with its truth.json."""
    from dq.batch.local import evaluate_submissions
    from dq.engine.evaluate import audit_extract
    from dq.engine.results import Status
    from dq.engine.suite import load_suites
    from dq.io.sources import open_extract
    from dq.scoring.summary import summarize, summary_frame

    truth = json.loads((batch / "truth.json").read_text(encoding="utf-8"))
    suites = load_suites()
    found: dict[tuple, int] = defaultdict(int)
    rules: dict[tuple, list[str]] = defaultdict(list)
    # (unit, table, check) -> the columns of each rule of that check that ran on the table
    rule_columns: dict[tuple, set[tuple[str, ...]]] = defaultdict(set)
    errors: list[str] = []
    summaries = []
    for unit in truth["units"]:
        extract = open_extract(batch / unit)
        audit = audit_extract(extract, suites, samples=0)
        for r in audit.results:
            if r.status == Status.ERROR:
                errors.append(f"{unit} {r.rule}: {r.message}")
            rule_columns[(unit, r.table, r.check)].add(_columns(r.columns))
            if r.failed:
                key = (unit, r.table, r.check, _columns(r.columns))
                found[key] += r.failed
                rules[key].append(f"{r.rule}={r.failed}")
        summaries.append(summarize(extract))
    expected: dict[tuple, int] = defaultdict(int)
    kind_of: dict[tuple, set[str]] = defaultdict(set)
    for d in truth["defects"]:
        if d["table"] and d["kind"] not in ("over_reporting", "under_reporting"):
            cols = _rule_for(_columns(d["columns"]), rule_columns[(d["unit"], d["table"], d["check"])])
            key = (d["unit"], d["table"], d["check"], cols)
            expected[key] += d["rows"]
            kind_of[key].add(d["kind"])
    sub = evaluate_submissions(summary_frame(summaries), suites)
    sub_failed = {u: {(r.rule, tuple(r.columns)) for r in res if r.failed} for u, res in sub.items()}

    mismatches = []
    per_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # kind -> [expected, matched]
    for key in sorted(set(expected) | set(found), key=str):
        e, f = expected.get(key, 0), found.get(key, 0)
        for k in kind_of.get(key, ()):
            per_kind[k][0] += 1
            per_kind[k][1] += int(e == f)
        if e != f:
            mismatches.append(
                {
                    "unit": key[0],
                    "table": key[1],
                    "check": key[2],
                    "columns": list(key[3]),
                    "expected": e,
                    "found": f,
                    "kinds": sorted(kind_of.get(key, ())),
                    "rules": rules.get(key, []),
                }
            )
    for d in truth["defects"]:
        if d["kind"] not in SUBMISSION_COLUMNS:
            continue
        cols = SUBMISSION_COLUMNS[d["kind"]]
        if d["kind"] in ("over_reporting", "under_reporting"):
            cols = ("outpatient_rate",) if d["columns"] == ["outpatient_visits"] else ("discharge_rate",)
        elif d["kind"] == "no_upload":
            cols = tuple(d["columns"])
        hit = [rule for rule, rc in sub_failed.get(d["unit"], ()) if set(rc) & set(cols)]
        per_kind[d["kind"]][0] += 1
        per_kind[d["kind"]][1] += int(bool(hit))
        if not hit:
            mismatches.append(
                {
                    "unit": d["unit"],
                    "table": "submission_summary",
                    "check": d["check"],
                    "expected": d["rows"],
                    "found": 0,
                    "kinds": [d["kind"]],
                    "rules": [],
                }
            )
    # submission rules that fail although no submission-level defect explains them
    explained: dict[str, set[str]] = defaultdict(set)
    for d in truth["defects"]:
        if d["kind"] in SUBMISSION_COLUMNS:
            explained[d["unit"]].update(SUBMISSION_COLUMNS[d["kind"]])
            explained[d["unit"]].update(d.get("explains", ()))
            if d["kind"] == "no_upload":
                explained[d["unit"]].update(d["columns"])
    for unit, summary in truth["units"].items():
        if not summary.get("reference"):  # no reference.csv: the rate cannot be computed
            explained[unit].update(("outpatient_rate_status", "discharge_rate_status"))
    peer_checks = {
        r.id
        for s in suites
        if s.table == "submission_summary"
        for r in s.rules
        if r.check in ("peer_outlier",)
    }
    notes = []
    for unit, failed in sorted(sub_failed.items()):
        for rule, cols in sorted(failed):
            if rule in peer_checks:  # comparisons with the other units follow the newsletters
                notes.append(f"{unit} {rule}({','.join(cols)})")
                continue
            if not set(cols) & explained.get(unit, set()):
                mismatches.append(
                    {
                        "unit": unit,
                        "table": "submission_summary",
                        "check": rule,
                        "expected": 0,
                        "found": 1,
                        "kinds": [],
                        "rules": [f"{rule}({','.join(cols)})"],
                    }
                )
    return {"mismatches": mismatches, "per_kind": dict(per_kind), "errors": errors, "notes": notes}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m dq.synth.crosscheck", description=__doc__.splitlines()[0])
    p.add_argument("batch", type=Path, help="OUT/<period> folder written by dq synth")
    args = p.parse_args(argv)
    out = crosscheck(args.batch)
    for m in out["mismatches"]:
        print(
            f"MISMATCH {m['unit']} {m['table']} {m['check']}({','.join(m.get('columns', []))}):"
            f" expected {m['expected']} found "
            f"{m['found']} kinds={','.join(m['kinds']) or '-'} rules={' '.join(m['rules']) or '-'}"
        )
    for e in out["errors"]:
        print(f"ERROR {e}")
    for n in out["notes"]:
        print(f"note: peer comparison failed (not a synthetic defect): {n}")
    print(f"{'kind':28} defects matched")
    for kind, (n, ok) in sorted(out["per_kind"].items()):
        print(f"{kind:28} {n:7} {ok:7}")
    print(f"{len(out['mismatches'])} mismatches, {len(out['errors'])} rule errors")
    return 1 if out["mismatches"] or out["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
