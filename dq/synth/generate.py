"""``dq synth``: a batch of synthetic site extracts with known defects and their truth.

Layout written (the contract dq's engine reads)::

    OUT/<period>/<unit_id>/manifest.yaml
    OUT/<period>/<unit_id>/reference.csv        (when an official count exists)
    OUT/<period>/<unit_id>/<table>.parquet|csv  (one per uploaded table)
    OUT/<period>/truth.json                     (every injected defect, with its count)

truth.json::

    {"generated_by": "dq synth", "period", "seed", "profile", "scale", "format",
     "kinds": [kinds present], "missing_kinds": [kinds no unit of this batch could carry],
     "defects": [{"unit", "table" (null for declaration kinds), "kind", "check", "columns",
                  "rows", "origin": seeded|newsletter|coverage|persisting|new, ...extras}],
     "units": {unit_id: {"style", "date_format", "encoding", "collection_mode",
                         "declared_tables", "uploaded_tables", "rows": {table: n},
                         "total_rows", "target_rows", "reference", "missing_days", ...}}}

``rows`` is what dq should count: violating rows; for ``duplicate_key`` every row of a repeated
key; for ``diag_main_count`` the stays (``group_rows`` = their diagnosis rows); for submission
kinds the figure (missing days, tables, 1). Extras: ``days`` (missing_upload_days), ``tables``
(declaration kinds), ``uploaded``/``reference``/``rate`` (over_reporting), ``also`` (another check
that necessarily sees the same fact). Units without ``reference`` have no reference.csv (the rate
cannot be computed, which the submission suite reports as a warning); their "reference" is {}.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from dq.errors import UsageError
from dq.io.catalogue import load_catalogue
from dq.io.outputs import ensure_dir
from dq.io.terminal import terminal_console
from dq.synth._defects import (
    CHECK_OF,
    UnitDefects,
    apply_rows,
    apply_text,
    plan_batch,
    select_rows,
    truth_count,
)
from dq.synth._plan import SynthMonth, UnitPlan, load_units, parse_period
from dq.synth._tables import EVENT_COLUMNS, UnitData
from dq.synth._values import load_reference, stable_hash
from dq.synth._writer import TableWriter, to_text

__all__ = ["CHUNK_ROWS", "generate"]

CHUNK_ROWS = 500_000
FORMATS = ("parquet", "csv")


def _is_ours(directory: Path) -> bool:
    m = directory / "manifest.yaml"
    try:
        return m.is_file() and "generated_by: dq synth" in m.read_text(encoding="utf-8")
    except OSError:
        return False


def _count_in_period(ud: UnitData, plan: UnitDefects, table: str) -> int:
    """Rows of ``table`` whose event time lies in the period, after the defects."""
    if table in ud.plan.absent:
        return 0
    n = ud.n[table]
    for d in plan.row_defects(table):
        gone = ("event_out_of_period", "unparseable_date", "null_required")  # no event time in the period
        if d.kind in gone and d.columns[0] == EVENT_COLUMNS[table]:
            n -= len(d.picked)
        elif d.kind == "duplicate_key":
            n += len(d.picked)
    return n


# Upload rates of the newsletter rows follow them within the rules' bounds: below 30 % the
# submission suite's low-rate rules fire (SUB-009/010), above 100 % the plausibility ones.
LOW_RATE = 30.0


def _reference(
    ud: UnitData, plan: UnitDefects, seed: int
) -> tuple[dict[str, int], dict[str, Any], list[dict[str, Any]]]:
    """Official counts for reference.csv (empty when none), the over-reporting details, and the
    submission-level truth of the newsletter row's own rates (too low, or above 100 %)."""
    up = ud.plan
    if not up.reference_available:
        return {}, {}, []
    rng = np.random.default_rng([seed & 0xFFFFFFFF, up.key, stable_hash("reference")])
    metrics = {"outpatient_visits": "outpatient_visit" if up.kind == "hospital" else "community_visit"}
    if up.kind == "hospital":
        metrics["discharges"] = "inpatient_record"
    over = {d.columns[0]: d for d in plan.defects if d.kind == "over_reporting"}
    values, details, truth = {}, {}, []
    for metric, table in metrics.items():
        uploaded = _count_in_period(ud, plan, table)
        ratio = rng.uniform(0.88, 0.99)
        published = up.published_rates.get(metric)
        if metric in over:
            value = min(uploaded - 1, math.floor(uploaded * over[metric].detail["share"]))
            details[metric] = {
                "uploaded": uploaded,
                "reference": value,
                "rate": round(100 * uploaded / value, 2),
            }
        elif uploaded == 0:
            # nothing uploaded (the row's 0): the official count is what the unit would have had
            value = max(1, ud.n[table])
            kind = "under_reporting"
        elif published is None:
            value = math.ceil(uploaded / ratio)
        elif published < LOW_RATE:
            # the row's rate, kept below the bound after rounding (a 0 % row still uploads)
            value = math.ceil(uploaded * 100 / min(max(published, 1.0), LOW_RATE - 0.5))
            kind = "under_reporting"
        elif published <= 100:
            value = math.floor(uploaded * 100 / published)  # rate in [published, 100]
        else:
            value = min(uploaded - 1, math.ceil(uploaded * 100 / published))
            kind = "over_reporting"
        low = uploaded == 0 or (published is not None and not LOW_RATE <= published <= 100)
        if metric not in over and low:
            truth.append(
                {
                    "unit": up.unit_id,
                    "table": table,
                    "kind": kind,
                    "check": "between",
                    "columns": [metric],
                    "rows": 1,
                    "uploaded": uploaded,
                    "reference": int(value),
                    "rate": round(100 * uploaded / value, 2),
                    "origin": "newsletter",
                }
            )
        values[metric] = int(value)
    return values, details, truth


def _estimate(up: UnitPlan) -> int:
    """Rough rows of a unit before its skeleton is drawn (for the progress bar only)."""
    c = up.counts
    if up.kind == "hospital":
        v, d = c["outpatient_visit"], c["inpatient_record"]
        items = 1 + max(0.1, 3 * up.factor - 1)
        return int(c["patient_index"] + v * (2 + items) + d * 5.4 + c["lab_report"] * 7.5 + c["exam_report"])
    return int(sum(c.values()))


def _prepare(
    up: UnitPlan, ud_plan: UnitDefects, period: SynthMonth, seed: int, taken: dict[str, set[int]]
) -> UnitData:
    """Build the unit's skeleton and pick its defect rows. At small scales many units sit at the
    minimum size, and identical outpatient counts or data volumes across units are a finding of
    their own (the submission suite flags them): add a visit until both differ from the others'."""
    table = "outpatient_visit" if up.kind == "hospital" else "community_visit"
    for _ in range(100):
        ud = UnitData(up, period, seed, ud_plan.missing_days, load_reference()).build()
        select_rows(ud, ud_plan, seed)
        visits = _count_in_period(ud, ud_plan, table)
        volume = sum(ud.n[t] for t in up.tables if t not in ud_plan.dropped and t not in up.absent) + sum(
            len(d.picked) for d in ud_plan.row_defects() if d.kind == "duplicate_key"
        )
        if table in up.absent:  # no visits uploaded: nothing to tell apart
            break
        if visits not in taken["visits"] and volume not in taken["volume"]:
            break
        up.counts[table] += 1
    taken["visits"].add(visits)
    taken["volume"].add(volume)
    return ud


def _write_unit(
    ud: UnitData,
    root: Path,
    up: UnitPlan,
    ud_plan: UnitDefects,
    period: SynthMonth,
    seed: int,
    profile: str,
    fmt: str,
    progress: Progress,
    task: Any,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    cat = load_catalogue()
    unit_dir = root / up.unit_id
    if unit_dir.exists():
        shutil.rmtree(unit_dir)
    unit_dir.mkdir(parents=True)

    uploaded = [t for t in up.tables if t not in ud_plan.dropped and t not in up.absent]
    # replace this unit's estimate in the progress total by its exact row count
    total = progress.tasks[0].total or 0
    progress.update(task, total=total - _estimate(up) + sum(ud.n[t] for t in uploaded))
    rows_written: dict[str, int] = {}
    for table in uploaded:
        spec = cat.tables[table]
        n = ud.n[table]
        with TableWriter(unit_dir, spec, fmt, up.style, up.encoding) as w:
            for start in range(0, n, CHUNK_ROWS):
                stop = min(n, start + CHUNK_ROWS)
                df = ud.chunk(table, start, stop)
                df = apply_rows(ud, ud_plan, table, df, start, stop, seed)
                if w.text:
                    df = to_text(df, spec, up.compact_dates)
                    df = apply_text(ud, ud_plan, table, df, start, stop, seed)
                w.write(df)
                progress.advance(task, stop - start)
            rows_written[table] = w.rows

    reference, over, rate_truth = _reference(ud, ud_plan, seed)
    if reference:
        lines = ["metric,value", *(f"{k},{v}" for k, v in reference.items())]
        (unit_dir / "reference.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    manifest: dict[str, Any] = {
        "unit_id": up.unit_id,
        "org_code": up.org_code,
        "name": up.name,
        "kind": up.kind,
        "district": up.district,
        "period": period.label,
        "collection_mode": ud_plan.collection_mode,
    }
    declared = None
    if ud_plan.collection_mode == "upload" and ud_plan.reported:
        declared = [
            t for t in up.tables if (t in uploaded and t not in ud_plan.undeclared) or t in ud_plan.dropped
        ]
        manifest["declared_tables"] = declared
    manifest.update({"generated_by": "dq synth", "seed": seed, "profile": profile})
    (unit_dir / "manifest.yaml").write_text(
        yaml.safe_dump(manifest, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )

    truth: list[dict[str, Any]] = []
    for d in ud_plan.defects:
        count = truth_count(d)
        if count <= 0:
            continue
        entry: dict[str, Any] = {
            "unit": up.unit_id,
            "table": d.table,
            "kind": d.kind,
            "check": d.check,
            "columns": list(d.columns),
            "rows": count,
        }
        if d.kind in ("declared_not_uploaded", "uploaded_not_declared"):
            entry["columns"] = ["declared_tables"]
            entry["tables"] = list(d.detail["tables"])
            if d.kind == "uploaded_not_declared":
                # the same fact seen from the other side: fewer tables declared than required
                entry["also"] = [{"check": "proportion", "columns": ["required_tables", "declared_tables"]}]
        elif d.kind == "no_upload":
            entry["tables"] = list(d.detail["tables"])
            entry["explains"] = list(d.detail["explains"])
        elif d.kind == "missing_upload_days":
            entry["days"] = list(d.detail["days"])
        elif d.kind == "over_reporting":
            entry.update(over.get(d.columns[0], {}))
        elif d.kind == "diag_main_count":
            entry["group_rows"] = d.detail["group_rows"]
        entry["origin"] = d.origin
        truth.append(entry)
    truth.extend(rate_truth)

    summary = {
        "name": up.name,
        "kind": up.kind,
        "style": "text" if fmt == "csv" or up.style == "text" else "typed",
        "date_format": ("compact" if up.compact_dates else "iso")
        if fmt == "csv" or up.style == "text"
        else None,
        "encoding": up.encoding if fmt == "csv" else None,
        "collection_mode": ud_plan.collection_mode,
        "declared_tables": declared,
        "uploaded_tables": uploaded,
        "rows": rows_written,
        "total_rows": sum(rows_written.values()),
        "target_rows": up.target_rows,
        "source_period": up.source_period,
        "reference": reference,  # {} when the unit has no reference.csv
        "missing_days": [d + 1 for d in ud_plan.missing_days],
    }
    return truth, summary


def no_defects(plans: list[UnitPlan], uds: dict[str, UnitDefects]) -> None:
    """An ``adjust`` for :func:`generate` that plants no defect at all (``dq synth --clean``):
    every unit declares what it uploads, uploads every day, and its rows follow the
    specification; ``truth.json`` lists no defect."""
    for ud in uds.values():
        ud.defects.clear()
        ud.missing_days.clear()
        ud.dropped.clear()
        ud.undeclared.clear()
        ud.reported = True


def generate(
    out: Path,
    period: str,
    scale: float = 0.001,
    seed: int = 0,
    profile: str = "steady",
    units: list[str] | None = None,
    fmt: str = "parquet",
    progress: bool = True,
    adjust: Callable[[list[UnitPlan], dict[str, UnitDefects]], None] | None = None,
) -> Path:
    """Write a batch of synthetic extracts under ``out/<period>/``; return that directory.

    ``adjust`` (optional) may change the units' plans and defect plans before anything is drawn
    (volumes, tables that stop, defect rates); :mod:`dq.synth.series` uses it for monthly series.
    """
    if fmt not in FORMATS:
        raise UsageError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if not scale > 0:
        raise UsageError(f"scale must be positive, got {scale}")
    if seed < 0:
        raise UsageError(f"seed must be non-negative, got {seed}")
    per = parse_period(period)
    plans = load_units(per, scale, seed, units, fmt, profile=profile)
    uds = plan_batch(plans, per, seed, profile)
    if adjust is not None:
        adjust(plans, uds)

    root = ensure_dir(Path(out) / per.label)
    keep = {p.unit_id for p in plans}
    for child in sorted(root.iterdir()):
        if child.is_dir() and child.name not in keep and _is_ours(child):
            shutil.rmtree(child)

    estimate = sum(_estimate(p) for p in plans)
    show = progress and sys.stderr.isatty()
    truth: list[dict[str, Any]] = []
    summaries: dict[str, Any] = {}
    with Progress(
        TextColumn("[bold]dq synth[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=not show,
        transient=True,
        console=terminal_console(sys.stderr),
    ) as bar:
        task = bar.add_task(period, total=estimate)
        taken: dict[str, set[int]] = {"visits": set(), "volume": set()}
        for p in plans:
            bar.update(task, description=f"{period} {p.unit_id}")
            ud = _prepare(p, uds[p.unit_id], per, seed, taken)
            t, s = _write_unit(ud, root, p, uds[p.unit_id], per, seed, profile, fmt, bar, task)
            truth.extend(t)
            summaries[p.unit_id] = s

    doc = {
        "generated_by": "dq synth",
        "period": per.label,
        "seed": seed,
        "profile": profile,
        "scale": scale,
        "format": fmt,
        "kinds": sorted({t["kind"] for t in truth}),
        # kinds no unit of this batch could carry (e.g. district-only kinds in a hospital batch)
        "missing_kinds": [k for k in CHECK_OF if k not in {t["kind"] for t in truth}],
        "defects": truth,
        "units": summaries,
    }
    (root / "truth.json").write_text(
        json.dumps(doc, ensure_ascii=False, indent=1, default=_json_default) + "\n", encoding="utf-8"
    )
    return root


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o).__name__)
