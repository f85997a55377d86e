"""The check catalogue: one registry read by the suite loader, ``dq checks`` and the docs.

Adding a check means adding a :class:`~dq.engine.checks.base.CheckDef` (with its parameters as a
:class:`~dq.engine.checks.base.CheckParams` class) to the ``CHECKS`` tuple of its family module;
nothing else needs to change.
"""

from __future__ import annotations

from typing import Any

from dq.engine.checks import (
    _completeness,
    _conformance,
    _consistency,
    _peers,
    _plausibility,
    _timeliness,
    _uniqueness,
    history,
    statistics,
    values,
)
from dq.engine.checks.base import (
    DIMENSIONS,
    Aggregate,
    CheckDef,
    CheckParams,
    Compiled,
    Context,
    Join,
    Param,
    RowLevel,
)

__all__ = [
    "DIMENSIONS",
    "REGISTRY",
    "Aggregate",
    "CheckDef",
    "CheckParams",
    "Compiled",
    "Context",
    "Join",
    "Param",
    "RowLevel",
    "check_catalogue",
    "get",
]

_FAMILIES = (
    _completeness,
    _conformance,
    _plausibility,
    _uniqueness,
    _timeliness,
    _consistency,
    _peers,
    history,
    values,
    statistics,
)

REGISTRY: dict[str, CheckDef[Any]] = {}
for _family in _FAMILIES:
    for _check in _family.CHECKS:
        if _check.name in REGISTRY:  # pragma: no cover - a programming error
            raise RuntimeError(f"check {_check.name!r} is defined twice")
        REGISTRY[_check.name] = _check


def get(name: str) -> CheckDef[Any] | None:
    return REGISTRY.get(name)


def check_catalogue() -> list[dict[str, Any]]:
    """The check registry as plain data (read by `dq checks` and the docs)."""
    return [
        {
            "name": c.name,
            "dimension": c.dimension,
            "summary": c.summary,
            "params": [
                {"name": p.name, "kind": p.kind, "required": p.required, "default": p.default}
                for p in c.params
            ],
            "nulls": c.null_semantics,
            "gx": c.gx_equivalent,
        }
        for c in REGISTRY.values()
    ]
