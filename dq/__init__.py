"""dq: a data-quality auditing rule engine for regional health information platforms.

The public API (docs/api.md)::

    import dq
    result = dq.audit("examples/extract")        # AuditResult; result.to_frame() is a Polars frame
    dq.validate(frame, rules)                    # list[RuleResult] for any Polars frame
    dq.load_suites(["my_rules/"])                # list[Suite] of validated Rules
    project = dq.load_project("my-centre")       # a rule project (dq.toml): its own tables and rules
    dq.audit("orders.csv", table="orders", project=project)

Every error a caller can cause is a :class:`dq.DQError`. Names are imported on first use, so
``import dq`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from dq.api import audit, validate
    from dq.engine.results import SCHEMA_VERSION, AuditResult, RuleResult, Status, TableInfo, results_frame
    from dq.engine.suite import Rule, Suite, load_suites
    from dq.errors import (
        CheckError,
        DQError,
        InputError,
        NotApplicable,
        OutputError,
        Problem,
        PublishedError,
        StoreError,
        SuiteError,
        UsageError,
    )
    from dq.io.registry import RegistryError, UnknownUnitError
    from dq.project import Project, load_project

_EXPORTS = {
    "audit": "dq.api",
    "validate": "dq.api",
    "load_suites": "dq.engine.suite",
    "Rule": "dq.engine.suite",
    "Suite": "dq.engine.suite",
    "AuditResult": "dq.engine.results",
    "RuleResult": "dq.engine.results",
    "Status": "dq.engine.results",
    "TableInfo": "dq.engine.results",
    "SCHEMA_VERSION": "dq.engine.results",
    "results_frame": "dq.engine.results",
    "DQError": "dq.errors",
    "SuiteError": "dq.errors",
    "Problem": "dq.errors",
    "InputError": "dq.errors",
    "UsageError": "dq.errors",
    "StoreError": "dq.errors",
    "PublishedError": "dq.errors",
    "OutputError": "dq.errors",
    "CheckError": "dq.errors",
    "NotApplicable": "dq.errors",
    "RegistryError": "dq.io.registry",
    "UnknownUnitError": "dq.io.registry",
    "Project": "dq.project",
    "load_project": "dq.project",
}

__all__ = [
    "SCHEMA_VERSION",
    "AuditResult",
    "CheckError",
    "DQError",
    "InputError",
    "NotApplicable",
    "OutputError",
    "Problem",
    "Project",
    "PublishedError",
    "RegistryError",
    "Rule",
    "RuleResult",
    "Status",
    "StoreError",
    "Suite",
    "SuiteError",
    "TableInfo",
    "UnknownUnitError",
    "UsageError",
    "__version__",
    "audit",
    "load_project",
    "load_suites",
    "results_frame",
    "validate",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dq' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
