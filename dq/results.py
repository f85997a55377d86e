"""Plain, typed, JSON-serialisable outcomes of an audit.

The plan of a check is a :class:`dq.suite.Rule`; its outcome is a :class:`RuleResult`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

__all__ = [
    "DIMENSIONS",
    "SEVERITIES",
    "STATUSES",
    "AuditResult",
    "Dimension",
    "RuleResult",
    "Severity",
    "Status",
    "TableInfo",
    "status_for",
]

Status = Literal["pass", "warn", "fail", "error", "not_applicable"]
Severity = Literal["warning", "error", "critical"]
Dimension = Literal["completeness", "conformance", "plausibility", "uniqueness", "timeliness", "consistency"]
STATUSES: tuple[Status, ...] = get_args(Status)
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
DIMENSIONS: tuple[Dimension, ...] = get_args(Dimension)


@dataclass(frozen=True)
class RuleResult:
    rule: str
    suite: str
    table: str
    check: str
    columns: tuple[str, ...]
    dimension: Dimension
    severity: Severity
    status: Status
    evaluated: int
    failed: int
    fail_fraction: float | None
    message: str
    samples: tuple[dict[str, Any], ...] = ()
    weight: float = 1.0
    threshold: dict[str, Any] = field(default_factory=dict)
    title_zh: str = ""
    title_en: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["columns"] = list(self.columns)
        d["samples"] = [dict(s) for s in self.samples]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RuleResult:
        d = dict(d)
        d["columns"] = tuple(d.get("columns") or ())
        d["samples"] = tuple(d.get("samples") or ())
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class TableInfo:
    table: str
    rows: int | None
    file: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AuditResult:
    unit: dict[str, Any]
    period: str | None
    tables: tuple[TableInfo, ...]
    results: tuple[RuleResult, ...]
    problems: tuple[str, ...] = ()
    # Values of audit_extract's ``extra`` aggregates, by table (not part of the audit's output).
    extra: dict[str, dict[str, Any]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def summary(self) -> dict[str, Any]:
        counts = Counter(r.status for r in self.results)
        # A rule of severity error or critical that failed, or that could not run, blocks.
        blocking = [
            r.rule
            for r in self.results
            if r.status in ("fail", "error") and r.severity in ("error", "critical")
        ]
        return {
            "rules": len(self.results),
            **{s: counts.get(s, 0) for s in STATUSES},
            "failed_rules": blocking,
            "passed": not blocking,
        }

    @property
    def exit_code(self) -> int:
        return 0 if self.summary["passed"] else 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "period": self.period,
            "tables": [t.to_dict() for t in self.tables],
            "results": [r.to_dict() for r in self.results],
            "summary": self.summary,
            "problems": list(self.problems),
        }


def status_for(failed: int, evaluated: int, severity: Severity, exceeded: bool) -> Status:
    if evaluated == 0:
        return "not_applicable"
    if not exceeded:
        return "pass"
    return "warn" if severity == "warning" else "fail"
