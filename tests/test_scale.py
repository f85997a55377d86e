"""The scale work: one pass per table gives the same summary as the separate light pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from dq.batch.local import SUBMISSION_TABLE
from dq.engine.evaluate import audit_extract
from dq.engine.suite import load_suites
from dq.io.catalogue import load_catalogue
from dq.io.sources import open_extract
from dq.scoring.summary import audit_and_summarize, summarize
from dq.synth import generate

PERIOD = "2020-09"


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synth")
    units = ["H001", "H014", "H046", "D01", "D05"]  # typed and text styles, both kinds
    return generate(root, PERIOD, scale=0.0005, seed=3, units=units, progress=False)


def test_summary_from_the_audit_pass_is_the_light_pass_summary(batch: Path) -> None:
    cat = load_catalogue()
    suites = [s for s in load_suites(None) if s.table != SUBMISSION_TABLE and s.kind != "published"]
    for d in sorted(p for p in batch.iterdir() if p.is_dir()):
        ext = open_extract(d, catalogue=cat)
        audit, summary = audit_and_summarize(ext, suites, PERIOD, catalogue=cat)
        assert summary == summarize(ext, PERIOD, cat), d.name
        assert summary["data_volume"] > 0
        # the audit itself is unchanged by the extra aggregates
        plain = audit_extract(ext, suites, period=PERIOD, catalogue=cat, now=None)
        assert [(r.rule, r.status, r.evaluated, r.failed) for r in audit.results] == [
            (r.rule, r.status, r.evaluated, r.failed) for r in plain.results
        ]


def test_a_province_is_k_cities_with_unique_ids_and_a_valid_registry(tmp_path: Path) -> None:
    import json

    from dq.io.registry import Registry
    from dq.synth.province import generate_province

    root = generate_province(tmp_path, PERIOD, 3, scale=0.0005, units=["H021", "D01"], progress=False)
    units = sorted(p.name for p in root.iterdir() if p.is_dir())
    assert units == [f"P0{k}-{u}" for k in (1, 2, 3) for u in ("D01", "H021")]
    registry = Registry.load(tmp_path / "institutions.csv")
    truth = json.loads((root / "truth.json").read_text(encoding="utf-8"))
    assert sorted(truth["units"]) == units
    assert {d["unit"] for d in truth["defects"]} <= set(units)
    for uid in units:
        ext = open_extract(root / uid)
        assert ext.unit_id == uid
        assert registry.get(uid).name == ext.manifest["name"]
    # each city is its own draw (seed + k): the same unit differs between cities
    rows = [truth["units"][f"P0{k}-H021"]["total_rows"] for k in (1, 2, 3)]
    assert len(set(rows)) > 1
