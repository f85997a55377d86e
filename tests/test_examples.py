"""The shipped examples stay true: the sample extract's audit matches its truth file, and the
published-findings document is what the script renders today."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections import defaultdict
from pathlib import Path

from dq.cli import main
from dq.engine.suite import load_suites
from dq.io.catalogue import load_catalogue

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def test_audit_of_the_sample_extract_matches_its_truth_file(capsys) -> None:
    code = main(["audit", str(EXAMPLES / "extract"), "--format", "json", "--samples", "0"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1  # the extract has blocking findings
    truth = json.loads((EXAMPLES / "extract-truth.json").read_text(encoding="utf-8"))
    assert doc["unit"]["unit_id"] in truth["units"] and doc["period"] == truth["period"]
    cat = load_catalogue()

    # Rows truth.json lists per (table, check, columns); kinds that hit the same rule add up
    # (a bad checksum and a bad birth date both fail the ID-number rule). Defects on submission
    # figures (no table, or a column no table has) are the business of `dq score`, not `dq audit`.
    expected: dict[tuple[str, str, frozenset[str]], int] = defaultdict(int)
    for d in truth["defects"]:
        spec = cat.table(d["table"]) if d["table"] else None
        if spec is None or not all(spec.column(c) for c in d["columns"]):
            continue
        expected[(d["table"], d["check"], frozenset(d["columns"]))] += d["rows"]
    assert len(expected) >= 20

    results = doc["results"]
    explained: set[str] = set()
    for (table, check, columns), rows in expected.items():
        same = [r for r in results if r["table"] == table and r["check"] == check]
        hits = [r for r in same if frozenset(r["columns"]) == columns] or [
            r for r in same if columns <= frozenset(r["columns"])
        ]
        assert hits, f"no rule checks {check} on {table}.{sorted(columns)}"
        for r in hits:
            assert r["failed"] == rows, (r["rule"], r["failed"], rows)
            explained.add(r["rule"])
            # found rows pass only where the rule's threshold tolerates them
            if r["status"] == "pass":
                t = r["threshold"]
                assert (t["max_count"] or 0) >= rows or (t["max_fraction"] or 0) * r["evaluated"] >= rows, r[
                    "rule"
                ]
    unexplained = [
        r["rule"] for r in results if r["status"] in ("fail", "warn") and r["rule"] not in explained
    ]
    assert unexplained == [], "findings the truth file does not list"
    assert not [r["rule"] for r in results if r["status"] == "error"]


def test_published_findings_doc_is_a_fresh_render() -> None:
    spec = importlib.util.spec_from_file_location(
        "published_findings", REPO / "scripts" / "published_findings.py"
    )
    assert spec and spec.loader
    script = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = script  # dataclasses look their module up
    try:
        spec.loader.exec_module(script)
        rules = {r.id: r for s in load_suites() for r in s.rules}
        fresh = script.render(script.run(), rules)
    finally:
        del sys.modules[spec.name]
    on_disk = (REPO / "docs" / "findings-published.md").read_text(encoding="utf-8")
    assert fresh == on_disk, "docs/findings-published.md is stale: run scripts/published_findings.py"
