"""Where a unit loses points, in overall-score points (``dq explain``).

A rule's *points* and *max points* (dq/scoring/scores.py) are in the rule's own currency: a rule worth 2
that earns 1 has lost 1 of its part's Σ w. The unit, however, is judged on its overall score, a
weighted mean of the parts (submission, records), each 100 × Σ points / Σ w. So the rule's share
of ``100 − score`` is

    loss(rule) = 100 × (part weight / Σ weights of the scored parts) × (w − points) / Σ w of its part

and the losses of a unit add up to ``100 − score`` exactly before rounding. :func:`rule_losses`
rounds them to hundredths with the largest-remainder method, so the rounded losses add up to
``100 − score`` of the stored (rounded) score to the hundredth as well; fixing a rule completely
gains about its loss (exactly, as long as its part keeps the same rules).

    >>> from dq.store.history import Store
    >>> from dq.scoring.explain import unit_losses
    >>> ul = unit_losses(Store("history"), "2020-09", "H022")   # doctest: +SKIP
    >>> ul.score, ul.losses[0].rule, ul.losses[0].points        # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from dq.engine.checks import DIMENSIONS
from dq.errors import InputError
from dq.scoring.scores import SUBMISSION_SUITE, ScoringConfig, UnitStatus, load_scoring

if TYPE_CHECKING:  # a store is passed in: scoring reads it, never imports it
    from dq.store.history import Store

__all__ = ["Loss", "UnitLosses", "rule_losses", "unit_losses"]


@dataclass(frozen=True)
class Loss:
    """One rule's loss in overall-score points."""

    rule: str
    title_zh: str
    title_en: str
    table: str
    dimension: str
    part: str  # submission | records
    severity: str
    status: str
    failed: int
    evaluated: int
    points: float  # overall-score points lost (rounded to hundredths)
    exact: float  # the same, unrounded

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class UnitLosses:
    unit_id: str
    unit_name: str
    kind: str
    period: str
    score: float
    grade: str
    losses: tuple[Loss, ...]  # largest first; rules that lost nothing are left out

    @property
    def lost(self) -> float:
        """``100 − score`` (the sum of the losses)."""
        return round(100.0 - self.score, 2)

    def by_part(self) -> dict[str, float]:
        out: dict[str, float] = {"submission": 0.0, "records": 0.0}
        for x in self.losses:
            out[x.part] = out.get(x.part, 0.0) + x.points
        return {k: round(v, 2) for k, v in out.items()}

    def by_dimension(self) -> dict[str, float]:
        out: dict[str, float] = dict.fromkeys(DIMENSIONS, 0.0)
        for x in self.losses:
            out[x.dimension] = out.get(x.dimension, 0.0) + x.points
        return {k: round(v, 2) for k, v in out.items()}

    def top(self, n: int = 5) -> tuple[Loss, ...]:
        """The ``n`` fixes that would gain most."""
        return self.losses[:n]

    def as_dict(self) -> dict[str, Any]:
        return {
            "unit_id": self.unit_id,
            "unit_name": self.unit_name,
            "kind": self.kind,
            "period": self.period,
            "score": self.score,
            "grade": self.grade,
            "lost": self.lost,
            "by_part": self.by_part(),
            "by_dimension": self.by_dimension(),
            "losses": [
                {
                    k: getattr(x, k)
                    for k in ("rule", "title_zh", "title_en", "table", "dimension", "part", "points")
                }
                for x in self.losses
            ],
        }


def _part(suite: str | None) -> str:
    return "submission" if suite == SUBMISSION_SUITE else "records"


def _apportion(exact: Sequence[float], total: float) -> list[float]:
    """Round ``exact`` to hundredths so that they add up to ``total`` (hundredths), moving the
    rounding to the values with the largest remainders (Hamilton's method)."""
    cents = [x * 100 for x in exact]
    floors = [math.floor(c) for c in cents]
    target = round(total * 100)
    extra = target - sum(floors)
    order = sorted(range(len(cents)), key=lambda i: (-(cents[i] - floors[i]), i))
    if extra >= 0:
        for i in order[: min(extra, len(order))]:
            floors[i] += 1
    else:  # the stored score was rounded up past the exact sum: take from the smallest remainders
        for i in list(reversed(order))[: min(-extra, len(order))]:
            floors[i] -= 1
    return [f / 100 for f in floors]


def rule_losses(
    results: Sequence[Mapping[str, Any]], score: float | None = None, cfg: ScoringConfig | None = None
) -> list[Loss]:
    """Each scored rule's loss in overall-score points, largest first (zero losses left out).

    ``results`` are stored result rows (``rule``, ``suite``, ``points``, ``max_points``, titles,
    ``table``, ``dimension``...); rows without points (error, not applicable) cost nothing. With
    ``score`` (the unit's stored score) the rounded losses add up to ``100 − score``.
    """
    cfg = cfg or load_scoring()
    scored = [r for r in results if r.get("points") is not None and r.get("max_points") is not None]
    totals: dict[str, float] = {}
    for r in scored:
        part = _part(r.get("suite"))
        totals[part] = totals.get(part, 0.0) + float(r["max_points"])
    weights = {p: w for p, w in cfg.parts.items() if totals.get(p)}
    wsum = sum(weights.values())
    if not wsum:
        return []
    rows, exact = [], []
    for r in scored:
        part = _part(r.get("suite"))
        lost = float(r["max_points"]) - float(r["points"])
        if lost <= 1e-12:
            continue
        rows.append((r, part))
        exact.append(100.0 * weights[part] / wsum * lost / totals[part])
    total = round(100.0 - score, 2) if score is not None else round(sum(exact), 2)
    rounded = _apportion(exact, total) if exact else []
    out = [
        Loss(
            rule=str(r["rule"]),
            title_zh=str(r.get("title_zh") or ""),
            title_en=str(r.get("title_en") or ""),
            table=str(r.get("table") or ""),
            dimension=str(r.get("dimension") or ""),
            part=part,
            severity=str(r.get("severity") or ""),
            status=str(r.get("status") or ""),
            failed=int(r.get("failed") or 0),
            evaluated=int(r.get("evaluated") or 0),
            points=p,
            exact=x,
        )
        for (r, part), x, p in zip(rows, exact, rounded, strict=True)
    ]
    return sorted(out, key=lambda x: (-x.exact, x.rule))


def unit_losses(store: Store, period: str, unit_id: str, cfg: ScoringConfig | None = None) -> UnitLosses:
    """The losses of ``unit_id``'s latest score for ``period`` in ``store``.

    Raises :class:`dq.errors.InputError` when the store has no score of the unit for the period
    (or the unit could not be audited).
    """
    scores = store.scores(period)
    mine = scores.filter(pl.col("unit_id") == unit_id) if not scores.is_empty() else scores
    if mine.is_empty():
        raise InputError(f"{store.root}: no score of unit {unit_id} for {period} (run `dq score` first)")
    row = mine.row(0, named=True)
    if row.get("status") != UnitStatus.OK or row.get("score") is None:
        why = row.get("error") or "no score"
        raise InputError(f"{store.root}: unit {unit_id} could not be audited for {period}: {why}")
    results = store.results(period, unit_id, run_id=row["run_id"])
    losses = rule_losses(results.to_dicts(), float(row["score"]), cfg)
    return UnitLosses(
        unit_id=unit_id,
        unit_name=str(row.get("unit_name") or unit_id),
        kind=str(row.get("kind") or ""),
        period=period,
        score=float(row["score"]),
        grade=str(row.get("grade") or ""),
        losses=tuple(losses),
    )
