"""Detection: dq finds every defect `dq synth` injects, with exactly the injected count.

Recall and precision are measured per defect kind: for every (unit, table, check) the failing
rows dq reports must equal the rows truth.json lists (nothing missed, nothing extra), and every
submission-level defect must fail the submission rule on its column, while no submission rule
fails without a defect that explains it (peer comparisons aside).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dq.synth import KINDS, SUBMISSION_KINDS, generate
from dq.synth.crosscheck import crosscheck

UNITS = ["H003", "D01"]  # one hospital and one district, both declaring their tables in 2018


@pytest.mark.parametrize(
    ("profile", "fmt", "seed", "every_kind"),
    [("before", "parquet", 1, False), ("after", "parquet", 1, False), ("before", "csv", 0, True)],
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
        assert set(per_kind) == set(KINDS) | set(SUBMISSION_KINDS)
