"""Detection: dq finds every defect `dq synth` injects, with exactly the injected count.

Recall and precision are measured per defect kind: for every (unit, table, check, columns) -- the
rule and the columns it looks at, so no rule can hide another one's miss -- the failing
rows dq reports must equal the rows truth.json lists (nothing missed, nothing extra), and every
submission-level defect must fail the submission rule on its column, while no submission rule
fails without a defect that explains it (peer comparisons aside).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dq.engine.suite import load_suites
from dq.synth import KINDS, SUBMISSION_KINDS, generate
from dq.synth.crosscheck import crosscheck

UNITS = ["H003", "D01"]  # one hospital and one district, both declaring their tables in 2018


@pytest.mark.parametrize(
    ("profile", "fmt", "seed", "every_kind"),
    [("before", "parquet", 1, False), ("after", "parquet", 1, False), ("before", "csv", 2, True)],
)
def test_every_injected_defect_is_found_exactly(
    tmp_path: Path, profile: str, fmt: str, seed: int, every_kind: bool
) -> None:
    batch = generate(
        tmp_path, "2020-09", scale=0.001, seed=seed, profile=profile, units=UNITS, fmt=fmt, progress=False
    )
    batch = batch if (batch / "truth.json").exists() else tmp_path / "2020-09"
    out = crosscheck(batch)
    assert out["errors"] == [], "rules could not run"
    assert out["mismatches"] == [], "dq's counts differ from truth.json"
    per_kind = out["per_kind"]
    recall = {kind: matched / n for kind, (n, matched) in per_kind.items()}
    assert all(r == 1.0 for r in recall.values()), recall
    assert len(per_kind) >= (20 if profile == "before" else 5)  # after governance most are fixed
    if every_kind:
        # With this seed the pair carries every kind the generator knows.
        # (no_upload follows a newsletter row that uploaded nothing: not these units')
        assert set(per_kind) == set(KINDS) | set(SUBMISSION_KINDS) - {"no_upload"}


def test_rows_found_by_another_rule_of_the_same_check_are_a_mismatch(tmp_path: Path) -> None:
    """Counts are compared per rule and column: a defect's rows found by another compare rule
    of the same table (one rule's miss hidden by another's extra rows) do not add up."""
    batch = generate(tmp_path, "2020-09", scale=0.001, seed=0, units=["H001"], progress=False)
    batch = batch if (batch / "truth.json").exists() else tmp_path / "2020-09"
    truth = json.loads((batch / "truth.json").read_text(encoding="utf-8"))
    compare = {}
    for s in load_suites():
        for r in s.rules:
            if r.check == "compare" and not r.when:
                compare.setdefault(s.table, set()).add(tuple(sorted(r.columns)))
    for d in truth["defects"]:
        own = tuple(sorted(d["columns"]))
        others = sorted(c for c in compare.get(d["table"], ()) if c != own and not set(own) <= set(c))
        if d["check"] == "compare" and own in compare[d["table"]] and others:
            d["columns"] = list(others[0])  # the truth now credits the rows to another rule
            break
    else:
        pytest.fail("no compare defect in a table with two compare rules")
    (batch / "truth.json").write_text(json.dumps(truth), encoding="utf-8")
    out = crosscheck(batch)
    assert sorted(
        (tuple(m["columns"]), m["expected"] > 0, m["found"] > 0) for m in out["mismatches"]
    ) == sorted([(own, False, True), (others[0], True, False)])


@pytest.mark.parametrize(
    ("profile", "fmt", "seed", "units"),
    [
        # 2018-03: H022 uploaded nothing, H004 no visit and no discharge, D09 no community visit
        ("before", "csv", 2, ["H022", "H004", "D09", "H021"]),
        # 2020-09: H006 and H007 uploaded no discharge; D05 gets worse after the campaign
        ("after", "parquet", 3, ["H006", "H007", "D05", "D06"]),
    ],
)
def test_campaign_profiles_are_found_exactly(
    tmp_path: Path, profile: str, fmt: str, seed: int, units: list[str]
) -> None:
    """The campaign profiles' wider defects (blanks in every column whose other rules skip a
    missing value, unparseable values in every parsed column of text exports, tables a row
    uploaded nothing of, units that get worse) are counted exactly too."""
    batch = generate(
        tmp_path, "2020-09", scale=0.001, seed=seed, profile=profile, units=units, fmt=fmt, progress=False
    )
    out = crosscheck(batch)
    assert out["errors"] == [] and out["mismatches"] == []
    truth = json.loads((batch / "truth.json").read_text(encoding="utf-8"))
    nothing = {d["unit"]: d for d in truth["defects"] if d["kind"] == "no_upload"}
    for unit, summary in truth["units"].items():
        absent = set(nothing.get(unit, {}).get("tables", ()))
        assert not absent & set(summary["uploaded_tables"])
        assert not absent & {p.stem for p in (batch / unit).iterdir()}
    if profile == "before":
        assert set(nothing) == {"H022", "H004", "D09"}
        assert nothing["D09"]["tables"] == ["community_visit"]
        # parse failures beyond the optional discharge time, blanks beyond the original columns
        parsed = {(d["table"], d["columns"][0]) for d in truth["defects"] if d["kind"] == "unparseable_date"}
        assert len(parsed) > 5
    else:
        assert set(nothing) == {"H006", "H007"}
        assert all(d["columns"] == ["discharge_uploaded"] for d in nothing.values())
        assert any(d["origin"] == "new" and d["kind"] == "missing_upload_days" for d in truth["defects"])
