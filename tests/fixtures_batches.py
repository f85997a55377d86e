"""A small synthetic batch with one broken extract, for tests that score it more than one way."""

from __future__ import annotations

from pathlib import Path

from dq.synth import generate

PERIOD = "2020-09"
UNITS = ["H001", "H004", "H014", "H046", "D01", "D05"]


def batch_with_a_broken_unit(out: Path, seed: int) -> Path:
    """Six units at scale 0.0005 under ``out/2020-09/``, and H999, whose manifest names a kind
    dq does not know: that unit's error on every path. Returns ``out`` (the batch root)."""
    root = generate(out, PERIOD, scale=0.0005, seed=seed, units=UNITS, progress=False)
    broken = root / "H999"
    broken.mkdir()
    (broken / "manifest.yaml").write_text("unit_id: H999\nkind: clinic\n", encoding="utf-8")
    return out
