"""A monthly series of synthetic batches with known events, to measure history checks.

``dq synth --months 2020-01:2020-12`` writes one batch per month (``OUT/<month>/``, each made by
:func:`dq.synth.generate` with the same seed, so a unit keeps its defects and styles) in which
every unit's volumes follow

* a trend (a growth rate per unit, -0.5 % to +1.5 % a month),
* seasonality: a mild yearly wave (±4 %) and the Spring Festival month, 30 % lower every year
  (January or February, see :data:`dq.engine.checks.history.SPRING_FESTIVAL`),
* noise (log-normal, σ = 3 %),

and ``OUT/truth.json`` lists the injected events (unless ``events=False``: a clean series):

* ``table_stops`` -- a table the unit declares stops arriving from that month on,
* ``level_drop`` -- the unit's outpatient visits (and what follows them) halve from that month on,
* ``spike`` -- one table triples for that month (a duplicate load),
* ``rule_jump`` -- one of the unit's defects is eight times as frequent for that month.

truth.json::

    {"generated_by": "dq synth --months", "months": [...], "seed", "scale", "units": [...],
     "events": [{"unit", "month", "kind", "table", "metrics": [metric names that should flag],
                 "until": last month affected, ...}],
     "factors": {unit: {month: volume factor}}}
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dq.engine.checks.history import SPRING_FESTIVAL
from dq.engine.results import FLAGGED, Status
from dq.errors import UsageError
from dq.synth._defects import DROPPABLE, Defect, UnitDefects
from dq.synth._plan import UnitPlan
from dq.synth._values import stable_hash
from dq.synth.generate import generate

__all__ = ["EVENT_KINDS", "detection", "month_range", "series"]

EVENT_KINDS = ("table_stops", "level_drop", "spike", "rule_jump")
FESTIVAL_FACTOR = 0.7
NOISE = 0.03
DEFAULT_UNITS = ("H021", "H026", "D03", "D07")
_SIMPLE_KINDS = ("duplicate_key", "diag_main_count")  # counted in groups: not rate × rows


def month_range(text: str) -> list[str]:
    """``2020-01:2020-12`` → every month from the first to the last, inclusive."""
    try:
        first, last = text.split(":")
        y0, m0 = (int(x) for x in first.split("-"))
        y1, m1 = (int(x) for x in last.split("-"))
        if not (1 <= m0 <= 12 and 1 <= m1 <= 12 and len(first) == len(last) == 7):
            raise ValueError
    except ValueError as exc:
        raise UsageError(f"months must be YYYY-MM:YYYY-MM, got {text!r}") from exc
    a, b = 12 * y0 + m0 - 1, 12 * y1 + m1 - 1
    if b < a:
        raise UsageError(f"months {text!r}: the last month is before the first")
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(a, b + 1)]


def _outpatient(kind: str) -> str:
    return "outpatient_visit" if kind == "hospital" else "community_visit"


def _spike_table(kind: str) -> str:
    return "lab_report" if kind == "hospital" else "community_visit"


def _factors(units: list[str], months: list[str], seed: int) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for u in units:
        rng = np.random.default_rng([seed & 0xFFFFFFFF, stable_hash("series", u)])
        growth = rng.uniform(-0.005, 0.015)
        phase = rng.uniform(0, 2 * math.pi)
        f = {}
        for i, m in enumerate(months):
            y, mo = (int(x) for x in m.split("-"))
            v = (1 + growth) ** i * (1 + 0.04 * math.sin(2 * math.pi * mo / 12 + phase))
            if y in SPRING_FESTIVAL and SPRING_FESTIVAL[y].month == mo:
                v *= FESTIVAL_FACTOR
            f[m] = float(v * math.exp(rng.normal(0, NOISE)))
        out[u] = f
    return out


def _plan_events(units: list[str], months: list[str], seed: int) -> list[dict[str, Any]]:
    """One event per kind, each in a different unit where possible, in months that have at least
    three earlier months (so the history rules can judge them)."""
    eligible = months[4:] if len(months) > 4 else []
    if not eligible or not units:
        return []
    rng = np.random.default_rng([seed & 0xFFFFFFFF, stable_hash("series-events")])
    order = [units[i] for i in rng.permutation(len(units))]
    events = []
    taken: dict[str, set[str]] = {}
    for i, kind in enumerate(EVENT_KINDS):
        unit = order[i % len(order)]
        free = [m for m in eligible if m not in taken.get(unit, set())]
        if not free:
            continue
        month = free[int(rng.integers(0, len(free)))]
        persists = kind in ("table_stops", "level_drop")
        until = months[-1] if persists else month
        taken.setdefault(unit, set()).update(m for m in months if month <= m <= until)
        events.append({"unit": unit, "month": month, "kind": kind, "until": until})
    return events


def _scale_counts(up: UnitPlan, factor: float, only: str | None = None) -> None:
    for t in list(up.counts):
        if only is None or t == only:
            up.counts[t] = max(1, round(up.counts[t] * factor))
    if up.kind == "district":  # keep the generator's own caps (follow-ups of adults, vaccines)
        records = up.counts["resident_record"]
        cap = int((records - math.ceil(records / 10)) * 0.6)
        for t in ("hypertension_followup", "diabetes_followup"):
            up.counts[t] = min(up.counts[t], cap)
        slots = math.ceil(records / 10) * 31 // 2
        up.counts["vaccination_record"] = min(up.counts["vaccination_record"], slots)


# Every month starts from the plans of one reference month (28 days, so its missing upload
# days exist in every month): a unit keeps its volumes, styles and defects from month to month,
# and only what the series changes (trend, season, noise, events) differs.
REFERENCE = "2019-02"
_COPIED = (
    "declaration_status", "source_period", "published_upload_days", "published_days",
    "reference_available", "factor", "target_rows", "style", "compact_dates", "encoding",
)  # fmt: skip


def _reference(
    ids: list[str], seed: int, scale: float, fmt: str
) -> tuple[list[UnitPlan], dict[str, UnitDefects]]:
    from dq.synth._defects import plan_batch
    from dq.synth._plan import load_units, parse_period

    per = parse_period(REFERENCE)
    plans = load_units(per, scale, seed, ids, fmt)
    return plans, plan_batch(plans, per, seed, "steady")


def _adjuster(
    month: str,
    factors: dict[str, dict[str, float]],
    events: list[dict[str, Any]],
    reference: Callable[[], tuple[list[UnitPlan], dict[str, UnitDefects]]],
) -> Callable[[list[UnitPlan], dict[str, UnitDefects]], None]:
    def adjust(plans: list[UnitPlan], uds: dict[str, UnitDefects]) -> None:
        ref_plans, ref_uds = reference()
        by_id = {p.unit_id: p for p in ref_plans}
        for up in plans:
            ref = by_id[up.unit_id]
            for name in _COPIED:
                setattr(up, name, getattr(ref, name))
            up.counts = dict(ref.counts)
            uds[up.unit_id] = ud = ref_uds[up.unit_id]
            _scale_counts(up, factors[up.unit_id][month])
            for ev in events:
                if ev["unit"] != up.unit_id or not ev["month"] <= month <= ev["until"]:
                    continue
                if ev["kind"] == "level_drop":
                    _scale_counts(up, 0.5, only=ev["table"])
                elif ev["kind"] == "spike":
                    _scale_counts(up, 3.0, only=ev["table"])
                elif ev["kind"] == "table_stops" and ev["table"] not in ud.dropped:
                    ud.dropped.append(ev["table"])
                    if ud.collection_mode == "upload" and ud.reported:
                        detail = {"tables": [ev["table"]]}
                        ud.defects.append(Defect("declared_not_uploaded", None, (), figure=1, detail=detail))
                elif ev["kind"] == "rule_jump":
                    for d in ud.row_defects(ev["table"]):
                        if d.kind == ev["defect"] and tuple(d.columns) == tuple(ev["columns"]):
                            d.rate = min(0.5, d.rate * 8)

    return adjust


def _resolve_events(
    events: list[dict[str, Any]], months: list[str], units: list[str], seed: int, scale: float
) -> list[dict[str, Any]]:
    """Fix each event's table (and defect) from the units' plans, and the metrics it should flag."""
    plans, uds = _reference(units, seed, scale, "parquet")
    by_id = {p.unit_id: p for p in plans}
    out = []
    for ev in events:
        up, ud = by_id[ev["unit"]], uds[ev["unit"]]
        ev = dict(ev)
        if ev["kind"] == "level_drop":
            ev["table"] = _outpatient(up.kind)
            ev["metrics"] = ["summary.outpatient_uploaded", f"table.{ev['table']}.rows"]
        elif ev["kind"] == "spike":
            ev["table"] = _spike_table(up.kind)
            ev["metrics"] = [f"table.{ev['table']}.rows"]
        elif ev["kind"] == "table_stops":
            busy = {d.table for d in ud.row_defects()} | set(ud.dropped) | set(ud.undeclared)
            free = [t for t in DROPPABLE[up.kind] if t not in busy] or [
                t for t in DROPPABLE[up.kind] if t not in ud.dropped
            ]
            if not free:
                continue
            ev["table"] = free[0]
            ev["metrics"] = [f"table.{ev['table']}.rows"]
        elif ev["kind"] == "rule_jump":
            simple = [
                d for d in ud.row_defects() if d.kind not in _SIMPLE_KINDS and d.table not in ud.dropped
            ]
            if not simple:
                continue
            d = max(simple, key=lambda d: up.counts.get(d.table or "", 0))
            ev.update({"table": d.table, "defect": d.kind, "check": d.check, "columns": list(d.columns)})
            ev["metrics"] = [f"rule.*.fail_fraction (a {d.check} rule on {d.table})"]
        out.append(ev)
    return out


def series(
    out: Path,
    months: str | list[str],
    *,
    scale: float = 0.001,
    seed: int = 0,
    units: list[str] | None = None,
    events: bool = True,
    fmt: str = "parquet",
    progress: bool = True,
) -> dict[str, Any]:
    """Write one synthetic batch per month under ``out`` and ``out/truth.json``; return the truth."""
    months = month_range(months) if isinstance(months, str) else list(months)
    ids = list(units or DEFAULT_UNITS)
    factors = _factors(ids, months, seed)
    planned = _resolve_events(_plan_events(ids, months, seed), months, ids, seed, scale) if events else []
    out = Path(out)

    def reference() -> tuple[list[UnitPlan], dict[str, UnitDefects]]:
        return _reference(ids, seed, scale, fmt)

    for m in months:
        adjust = _adjuster(m, factors, planned, reference)
        generate(out, m, scale=scale, seed=seed, units=ids, fmt=fmt, progress=progress, adjust=adjust)
    truth = {
        "generated_by": "dq synth --months",
        "months": months,
        "seed": seed,
        "scale": scale,
        "units": ids,
        "events": planned,
        "factors": factors,
    }
    (out / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return truth


def detection(truth: dict[str, Any], store: Any) -> dict[str, Any]:
    """Compare the history rules' flags in ``store`` with the series' events.

    A flag is a ``history_change`` result that warns or fails. An event is found when its unit
    is flagged in the event's month on one of the event's metrics (for ``rule_jump``: any rule
    fail fraction). Flags of a unit-month that no event explains are false alarms; flags in the
    later months of a persisting event (a table still stopped, a level still low) are counted
    apart. Rates are per 100 unit-months judged (units with a history rule that could run).
    """
    import polars as pl

    months = truth["months"]
    flags: dict[tuple[str, str], set[str]] = {}
    judged = 0
    for m in months:
        res = store.results(m)
        if res.is_empty():
            continue
        hist = res.filter(pl.col("check") == "history_change")
        judged += hist.filter(pl.col("status").is_in([Status.PASS, *sorted(FLAGGED)]))["unit_id"].n_unique()
        for row in hist.filter(pl.col("status").is_in(sorted(FLAGGED))).iter_rows(named=True):
            metrics = {s["metric"] for s in json.loads(row["samples"] or "[]") if s.get("flagged")}
            flags.setdefault((row["unit_id"], m), set()).update(metrics or {row["rule"]})
    found, explained = [], set()
    for ev in truth["events"]:
        key = (ev["unit"], ev["month"])
        got = flags.get(key, set())
        if ev["kind"] == "rule_jump":
            hit = any(g.startswith("rule.") for g in got)
        else:
            hit = bool(got & set(ev["metrics"]))
        found.append({**ev, "found": hit, "flagged": sorted(got)})
        for m in months:
            if ev["month"] <= m <= ev["until"]:
                explained.add((ev["unit"], m))
    false = sorted(k for k in flags if k not in explained)
    persisting = sorted(
        k for k in flags if k in explained and k not in {(e["unit"], e["month"]) for e in found}
    )
    return {
        "events": len(found),
        "found": sum(1 for e in found if e["found"]),
        "detail": found,
        "unit_months_judged": judged,
        "false_alarms": len(false),
        "false_alarm_unit_months": [f"{u} {m}" for u, m in false],
        "false_alarms_per_100": round(100 * len(false) / judged, 2) if judged else None,
        "persisting_flags": len(persisting),
    }
