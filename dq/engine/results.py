"""Plain, typed, JSON-serialisable outcomes of an audit.

The plan of a check is a :class:`dq.engine.suite.Rule`; its outcome is a :class:`RuleResult`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:
    import polars as pl

    from dq.engine.suite import Rule

__all__ = [
    "DIMENSIONS",
    "FLAGGED",
    "SCHEMA_VERSION",
    "SEVERITIES",
    "STATUSES",
    "AuditResult",
    "Dimension",
    "RuleResult",
    "Severity",
    "Status",
    "TableInfo",
    "result_of",
    "results_frame",
    "status_for",
]


class Status(StrEnum):
    """A rule result's status. A :class:`~enum.StrEnum`: each member *is* its string value, so the
    stored Parquet, the JSON (docs/json.md) and the templates carry the same text as before
    (``Status.FAIL == "fail"``); code compares against the members."""

    PASS = "pass"  # evaluated, within its threshold
    WARN = "warn"  # over its threshold, severity warning
    FAIL = "fail"  # over its threshold, severity error or critical
    ERROR = "error"  # could not be evaluated (a broken rule or query)
    NOT_APPLICABLE = "not_applicable"  # nothing to evaluate (no rows, a table not uploaded)


Severity = Literal["warning", "error", "critical"]
Dimension = Literal["completeness", "conformance", "plausibility", "uniqueness", "timeliness", "consistency"]
STATUSES: tuple[Status, ...] = tuple(Status)
#: The statuses of a rule evaluated over its threshold (a warning or a failure).
FLAGGED: frozenset[Status] = frozenset({Status.WARN, Status.FAIL})
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
DIMENSIONS: tuple[Dimension, ...] = get_args(Dimension)
# Version of the JSON layout of AuditResult.to_dict() (docs/json.md); bumped on any incompatible
# change (a field removed, renamed or retyped). New fields may appear without a bump.
SCHEMA_VERSION = 1

FRAME_SCHEMA = {
    "rule": "String",
    "suite": "String",
    "table": "String",
    "check": "String",
    "columns": "List[String]",
    "dimension": "String",
    "severity": "String",
    "status": "String",
    "evaluated": "Int64",
    "failed": "Int64",
    "fail_fraction": "Float64",
    "max_fraction": "Float64",
    "max_count": "Int64",
    "weight": "Float64",
    "message": "String",
    "title_zh": "String",
    "title_en": "String",
    "samples": "String",
}


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
    # the failing rows' keys (and the rule's columns), masked, up to the audit's ``fix_rows``;
    # empty unless asked for (they feed the rows-to-fix files, see dq.batch.fixlist)
    fix_rows: tuple[dict[str, Any], ...] = ()

    def __post_init__(self) -> None:
        # a status read back from JSON or the store arrives as its string: hold the member
        if not isinstance(self.status, Status):
            try:
                object.__setattr__(self, "status", Status(self.status))
            except ValueError:
                raise ValueError(
                    f"rule {self.rule}: status {self.status!r} is not one of {', '.join(STATUSES)}"
                ) from None

    def __repr__(self) -> str:
        return f"<RuleResult {self.rule} {self.status} {self.failed}/{self.evaluated} ({self.table})>"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["status"] = self.status.value
        d["columns"] = list(self.columns)
        d["samples"] = [dict(s) for s in self.samples]
        d["fix_rows"] = [dict(s) for s in self.fix_rows]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RuleResult:
        d = dict(d)
        d["columns"] = tuple(d.get("columns") or ())
        d["samples"] = tuple(d.get("samples") or ())
        d["fix_rows"] = tuple(d.get("fix_rows") or ())
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
            if r.status in (Status.FAIL, Status.ERROR) and r.severity in ("error", "critical")
        ]
        return {
            "rules": len(self.results),
            **{s.value: counts.get(s, 0) for s in STATUSES},
            "failed_rules": blocking,
            "passed": not blocking,
        }

    @property
    def exit_code(self) -> int:
        return 0 if self.summary["passed"] else 1

    def __repr__(self) -> str:
        """One line: who, when, the counts and the rules that block (the first five)."""
        s = self.summary
        unit = self.unit.get("unit_id") or self.unit.get("name") or "?"
        counts = ", ".join(f"{s[k]} {k}" for k in STATUSES if s[k])
        blocking = s["failed_rules"]
        shown = ", ".join(blocking[:5]) + (f" (+{len(blocking) - 5} more)" if len(blocking) > 5 else "")
        verdict = f"blocking: {shown}" if blocking else "passed"
        return (
            f"<AuditResult {unit} {self.period or '-'}: {len(self.tables)} tables, "
            f"{s['rules']} rules ({counts}); {verdict}>"
        )

    def _repr_html_(self) -> str:
        """A small table for notebooks: the counts, then each rule that did not pass."""
        from html import escape

        s = self.summary
        rows = "".join(
            f"<tr><td>{escape(r.rule)}</td><td>{escape(r.table)}</td><td>{escape(r.status)}</td>"
            f"<td>{r.failed}/{r.evaluated}</td><td>{escape(str(r.message))}</td></tr>"
            for r in self.results
            if r.status in (Status.FAIL, Status.WARN, Status.ERROR)
        )
        head = escape(repr(self))
        return (
            f"<div><p>{head}</p><table><tr><th>rule</th><th>table</th><th>status</th>"
            f"<th>failed/evaluated</th><th>message</th></tr>{rows}</table>"
            f"<p>{s['pass']} passed, {s['not_applicable']} not applicable</p></div>"
        )

    def to_frame(self) -> pl.DataFrame:
        """One row per rule result (columns: :data:`FRAME_SCHEMA`; samples as JSON text)."""
        return results_frame(self.results)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "unit": self.unit,
            "period": self.period,
            "tables": [t.to_dict() for t in self.tables],
            "results": [r.to_dict() for r in self.results],
            "summary": self.summary,
            "problems": list(self.problems),
        }


def results_frame(results: Iterable[RuleResult]) -> pl.DataFrame:
    """Rule results as a Polars DataFrame, one row each (the samples as JSON text)."""
    import polars as pl

    rows = [
        {
            **{k: getattr(r, k) for k in FRAME_SCHEMA if hasattr(r, k) and k not in ("columns", "samples")},
            "columns": list(r.columns),
            "max_fraction": (r.threshold or {}).get("max_fraction"),
            "max_count": (r.threshold or {}).get("max_count"),
            "samples": json.dumps([dict(x) for x in r.samples], ensure_ascii=False, default=str),
        }
        for r in results
    ]
    schema = {
        k: pl.List(pl.String) if v == "List[String]" else getattr(pl, v) for k, v in FRAME_SCHEMA.items()
    }
    return pl.DataFrame(rows, schema=schema)


def status_for(failed: int, evaluated: int, severity: Severity, exceeded: bool) -> Status:
    if evaluated == 0:
        return Status.NOT_APPLICABLE
    if not exceeded:
        return Status.PASS
    return Status.WARN if severity == "warning" else Status.FAIL


def result_of(
    rule: Rule, status: Status, evaluated: int, failed: int, message: str, samples: Iterable = ()
) -> RuleResult:
    """The result of ``rule`` from its counts: the one constructor the engine and the checks
    that judge outside the one-pass query share (rule identity, weight, threshold, titles)."""
    try:
        columns = tuple(rule.columns)
    except Exception:  # columns of a rule whose params are broken
        columns = ()
    return RuleResult(
        rule=rule.id,
        suite=rule.suite,
        table=rule.table,
        check=rule.check,
        columns=columns,
        dimension=rule.dimension,
        severity=rule.severity,
        status=status,
        evaluated=int(evaluated),
        failed=int(failed),
        fail_fraction=(failed / evaluated) if evaluated else None,
        message=message,
        samples=tuple(samples),
        weight=rule.weight,
        threshold=rule.threshold.to_dict(),
        title_zh=rule.title_zh,
        title_en=rule.title_en,
    )
