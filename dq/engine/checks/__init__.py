"""The check catalogue: one registry read by the suite loader, ``dq checks`` and the docs.

Adding a check means adding a :class:`~dq.engine.checks.base.CheckDef` (with its parameters as a
:class:`~dq.engine.checks.base.CheckParams` class) to the ``CHECKS`` tuple of its family module;
nothing else needs to change.
"""

from __future__ import annotations

from typing import Any

from dq.engine.checks._completeness import CHECKS as COMPLETENESS
from dq.engine.checks._conformance import CHECKS as CONFORMANCE
from dq.engine.checks._consistency import CHECKS as CONSISTENCY
from dq.engine.checks._peers import CHECKS as PEERS
from dq.engine.checks._plausibility import CHECKS as PLAUSIBILITY
from dq.engine.checks._timeliness import CHECKS as TIMELINESS
from dq.engine.checks._uniqueness import CHECKS as UNIQUENESS
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
from dq.engine.checks.history import CHECKS as HISTORY
from dq.engine.checks.statistics import CHECKS as STATISTICS
from dq.engine.checks.values import CHECKS as VALUES

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
    COMPLETENESS,
    CONFORMANCE,
    PLAUSIBILITY,
    UNIQUENESS,
    TIMELINESS,
    CONSISTENCY,
    PEERS,
    HISTORY,
    VALUES,
    STATISTICS,
)

REGISTRY: dict[str, CheckDef[Any]] = {}
for _family in _FAMILIES:
    for _check in _family:
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
