"""The check catalogue: one registry read by the suite loader, ``dq checks`` and the docs.

Adding a check means adding a :class:`~dq.checks.base.CheckDef` to the ``CHECKS`` tuple of its
family module; nothing else needs to change.
"""

from __future__ import annotations

from dq.checks import (
    completeness,
    conformance,
    consistency,
    peers,
    plausibility,
    timeliness,
    uniqueness,
)
from dq.checks.base import DIMENSIONS, CheckDef, Compiled, Context, Join, Param

__all__ = ["DIMENSIONS", "REGISTRY", "CheckDef", "Compiled", "Context", "Join", "Param", "get"]

_FAMILIES = (completeness, conformance, plausibility, uniqueness, timeliness, consistency, peers)

REGISTRY: dict[str, CheckDef] = {}
for _family in _FAMILIES:
    for _check in _family.CHECKS:
        if _check.name in REGISTRY:  # pragma: no cover - a programming error
            raise RuntimeError(f"check {_check.name!r} is defined twice")
        REGISTRY[_check.name] = _check


def get(name: str) -> CheckDef | None:
    return REGISTRY.get(name)
