"""Scores from audit results: pure functions, configured by ``rules/scoring.yaml``.

The formula (also in rules/scoring.yaml and docs/scoring.md): a rule that passes its threshold
earns its weight w; otherwise it earns ``w * clamp((p - Z) / (T - Z), 0, 1)`` where p is its pass
rate, T the target pass rate (1 - max_fraction) and Z the pass rate at which it earns nothing.
Subscores are 100 * Σ points / Σ w. The unit score is a weighted mean of the submission part and
the record-level part. Rules that could not run (error) or had nothing to evaluate earn and cost
nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from dq.engine.checks import DIMENSIONS
from dq.engine.results import RuleResult, Status
from dq.errors import InputError, Problem, SuiteError
from dq.io.catalogue import default_rules_dir
from dq.io.yamlio import load_yaml

__all__ = [
    "RulePoints",
    "ScoringConfig",
    "UnitScore",
    "UnitStatus",
    "district_rollup",
    "grade_for",
    "load_scoring",
    "rank_units",
    "rule_points",
    "score_unit",
]

SUBMISSION_SUITE = "submission"
SCORED = (Status.PASS, Status.WARN, Status.FAIL)


class UnitStatus(StrEnum):
    """What became of a unit in a batch. The store's scores carry ``ok`` or ``error`` in their
    ``status`` column (the same text as these members: a :class:`~enum.StrEnum` is its value);
    ``skipped`` is a batch's own (already scored for the period, not audited again) and is never
    stored."""

    OK = "ok"  # audited and scored
    ERROR = "error"  # could not be audited (its ``error`` says why) or its folder was refused
    SKIPPED = "skipped"  # already scored for the period: kept, not audited again


@dataclass(frozen=True)
class ScoringConfig:
    zero_at_default: float = 0.9
    zero_at_suites: Mapping[str, float] = field(default_factory=lambda: {SUBMISSION_SUITE: 0.0})
    severity_factor: Mapping[str, float] = field(
        default_factory=lambda: {"warning": 0.5, "error": 1.0, "critical": 2.0}
    )
    parts: Mapping[str, float] = field(default_factory=lambda: {"submission": 0.4, "records": 0.6})
    grades: tuple[tuple[str, str, float], ...] = (
        ("A", "优", 90),
        ("B", "良", 80),
        ("C", "中", 60),
        ("D", "差", 0),
    )

    def zero_at(self, suite: str) -> float:
        return float(self.zero_at_suites.get(suite, self.zero_at_default))


def load_scoring(path: str | Path | None = None) -> ScoringConfig:
    p = Path(path) if path else default_rules_dir() / "scoring.yaml"
    try:
        raw = load_yaml(p.read_text(encoding="utf-8")) or {}
        zero = raw.get("zero_at", {})
        cfg = ScoringConfig(
            zero_at_default=float(zero.get("default", 0.9)),
            zero_at_suites={k: float(v) for k, v in (zero.get("suites") or {}).items()},
            severity_factor={k: float(v) for k, v in raw["severity_factor"].items()},
            parts={k: float(v) for k, v in raw["parts"].items()},
            grades=tuple((g["grade"], g.get("zh", g["grade"]), float(g["min"])) for g in raw["grades"]),
        )
    except (OSError, yaml.YAMLError, InputError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SuiteError([Problem(str(p), None, None, f"invalid scoring config: {exc}")]) from exc
    bad = [k for k in cfg.parts if k not in ("submission", "records")]
    if bad or not 0 <= cfg.zero_at_default < 1:
        raise SuiteError(
            [Problem(str(p), None, "parts/zero_at", "parts are submission|records; zero_at in [0, 1)")]
        )
    return cfg


@dataclass(frozen=True)
class RulePoints:
    rule: str
    part: str
    dimension: str
    points: float
    max_points: float

    @property
    def lost(self) -> float:
        return self.max_points - self.points


def rule_points(r: RuleResult, cfg: ScoringConfig) -> RulePoints | None:
    """Points of one result, or None when it is not scored (error, not applicable)."""
    if r.status not in SCORED or not r.evaluated:
        return None
    w = r.weight * cfg.severity_factor.get(r.severity, 1.0)
    part = "submission" if r.suite == SUBMISSION_SUITE else "records"
    if r.status == Status.PASS:
        return RulePoints(r.rule, part, r.dimension, w, w)
    p = 1.0 - r.failed / r.evaluated
    max_fraction = r.threshold.get("max_fraction") if r.threshold else 0.0
    target = 1.0 - (max_fraction or 0.0)
    zero = min(cfg.zero_at(r.suite), target - 1e-9)
    share = min(max((p - zero) / (target - zero), 0.0), 1.0)
    return RulePoints(r.rule, part, r.dimension, w * share, w)


def _pct(points: Iterable[RulePoints]) -> float | None:
    pts = list(points)
    total = sum(x.max_points for x in pts)
    return round(100.0 * sum(x.points for x in pts) / total, 2) if total else None


def grade_for(score: float | None, cfg: ScoringConfig) -> str | None:
    if score is None:
        return None
    return next((g for g, _, lo in cfg.grades if score >= lo), cfg.grades[-1][0])


@dataclass(frozen=True)
class UnitScore:
    score: float | None
    grade: str | None
    parts: Mapping[str, float | None]
    dimensions: Mapping[str, float | None]
    points: tuple[RulePoints, ...]

    def rows(self) -> list[dict[str, Any]]:
        """Long form: one row per facet (overall, part:…, each dimension)."""
        out = [{"facet": "overall", "score": self.score}]
        out += [{"facet": f"part:{k}", "score": v} for k, v in self.parts.items()]
        out += [{"facet": d, "score": v} for d, v in self.dimensions.items()]
        return out


def score_unit(results: Sequence[RuleResult], cfg: ScoringConfig) -> UnitScore:
    pts = tuple(p for p in (rule_points(r, cfg) for r in results) if p is not None)
    parts: dict[str, float | None] = {name: _pct(p for p in pts if p.part == name) for name in cfg.parts}
    dims: dict[str, float | None] = {d: _pct(p for p in pts if p.dimension == d) for d in DIMENSIONS}
    scored = {k: (v, cfg.parts[k]) for k, v in parts.items() if v is not None}
    total_w = sum(w for _, w in scored.values())
    score = round(sum(v * w for v, w in scored.values()) / total_w, 2) if total_w else None
    return UnitScore(score, grade_for(score, cfg), parts, dims, pts)


def rank_units(scores: pl.DataFrame) -> pl.DataFrame:
    """Add ``rank`` (1 = best) among units of the same kind; units without a score get none."""
    return scores.with_columns(
        pl.col("score").rank(method="min", descending=True).over("kind").cast(pl.Int64).alias("rank"),
        pl.col("score").is_not_null().sum().over("kind").alias("of"),
    )


def district_rollup(units: pl.DataFrame) -> pl.DataFrame:
    """Per district: the district platform's own score and the mean of its hospitals' scores.

    ``units`` has columns unit_id, unit_name, kind, district, score.
    """
    platform = units.filter(pl.col("kind") == "district").select(
        pl.col("district"), pl.col("unit_id").alias("platform_id"), pl.col("score").alias("platform_score")
    )
    hospitals = (
        units.filter((pl.col("kind") == "hospital") & pl.col("district").is_not_null())
        .group_by("district")
        .agg(
            pl.col("score").mean().round(2).alias("hospital_mean"),
            pl.col("score").is_not_null().sum().alias("hospitals_scored"),
            pl.len().alias("hospitals"),
        )
    )
    return (
        platform.join(hospitals, on="district", how="full", coalesce=True)
        # A district platform without hospitals has 0 of them, not an unknown number.
        .with_columns(pl.col("hospitals_scored", "hospitals").fill_null(0))
        .sort("district")
    )
