"""Synthetic site extracts with known defects (``dq synth``).

:func:`generate` writes ``OUT/<period>/<unit_id>/`` (manifest.yaml, reference.csv, one file per
uploaded table) and ``OUT/<period>/truth.json`` listing every injected defect with the check that
should catch it and the count dq should see. Modules: :mod:`~dq.synth._plan` (units, volumes,
styles), :mod:`~dq.synth._tables` (clean rows), :mod:`~dq.synth._defects` (defect plan and
injection), :mod:`~dq.synth._values` (IDs, names, codes), :mod:`~dq.synth._writer` (files),
:mod:`~dq.synth.crosscheck` (dq's audit of a batch against its truth).
"""

from dq.synth._defects import CHECK_OF, KINDS, SUBMISSION_KINDS
from dq.synth.generate import generate

__all__ = ["CHECK_OF", "KINDS", "SUBMISSION_KINDS", "generate"]
