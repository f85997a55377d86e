"""Scoring a whole batch: audit every unit, derive summaries, run the submission suite, score, store.

One broken extract never stops the batch: it becomes a unit with status ``error`` (and no
score), listed at the end. Units already scored for the period are skipped unless ``force``.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from dq.catalogue import default_rules_dir, load_catalogue
from dq.engine import audit_extract, evaluate_frame
from dq.errors import DQError, InputError
from dq.published import data_dir as published_data_dir
from dq.results import RuleResult
from dq.scoring import UnitScore, load_scoring, rank_units, score_unit
from dq.sources import open_extract, parse_period
from dq.store import Run, Store, suites_hash
from dq.suite import Rule, Suite, load_suites
from dq.summary import summarize, summary_frame
from dq.yamlio import load_yaml

__all__ = ["BatchOutcome", "UnitOutcome", "evaluate_submissions", "score_batch", "score_published"]

SUBMISSION_TABLE = "submission_summary"


@dataclass
class UnitOutcome:
    unit: dict[str, Any]
    results: list[RuleResult] = field(default_factory=list)
    summary: dict[str, Any] | None = None
    tables: dict[str, int | None] | None = None  # rows of each uploaded table
    score: UnitScore | None = None
    error: str | None = None
    seconds: float = 0.0
    skipped: bool = False

    @property
    def unit_id(self) -> str:
        return str(self.unit["unit_id"])


@dataclass
class BatchOutcome:
    run: Run
    units: list[UnitOutcome]
    ranking: pl.DataFrame
    findings: list[RuleResult] = field(default_factory=list)  # table-level (published) findings
    rows: int = 0
    seconds: float = 0.0

    @property
    def errors(self) -> list[UnitOutcome]:
        return [u for u in self.units if u.error]


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def evaluate_submissions(summaries: pl.DataFrame, suites: Sequence[Suite]) -> dict[str, list[RuleResult]]:
    """Run the submission suite(s) once per unit over ALL summaries (so peer checks see the peers).

    Each rule is narrowed to one unit by adding ``unit_id = '…'`` to its ``when`` condition, so
    aggregate checks count that unit's row while window checks (peer outliers, identical values)
    still compare it with every other row.
    """
    rules = [r for s in suites if s.table == SUBMISSION_TABLE for r in s.rules]
    out: dict[str, list[RuleResult]] = {}
    frame = summaries.lazy()
    for uid in summaries["unit_id"].to_list():
        cond = f"unit_id = {_sql_str(uid)}"
        narrowed: list[Rule] = [replace(r, when=f"({r.when}) AND {cond}" if r.when else cond) for r in rules]
        _, results = evaluate_frame(frame, narrowed, SUBMISSION_TABLE, samples=0)
        out[uid] = results
    return out


def _unit_from_dir(path: Path) -> dict[str, Any]:
    """The unit of an extract folder before it is opened: the id it is stored under is the
    manifest's (unit_id, else org_code, as :attr:`dq.sources.Extract.unit_id`), else the folder's
    name, so resuming recognises units whose folder is named otherwise."""
    uid = path.name
    try:
        m = load_yaml((path / "manifest.yaml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        m = None
    if isinstance(m, dict) and (m.get("unit_id") or m.get("org_code")):
        uid = str(m.get("unit_id") or m.get("org_code"))
    return {"unit_id": uid, "name": uid, "kind": None, "district": None}


def _progress(enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("[bold]scoring[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=not enabled,
        transient=False,
    )


def score_batch(
    root: str | Path,
    period: str,
    store: Store,
    *,
    suite_paths: Sequence[str | Path] | None = None,
    force: bool = False,
    samples: int = 5,
    streaming: bool = False,
    log: Callable[[str], None] | None = None,
    progress: bool | None = None,
) -> BatchOutcome:
    """Audit and score every unit under ``root/period`` and append the results to ``store``."""
    t0 = time.perf_counter()
    parse_period(period)
    base = Path(root) / period
    if not base.is_dir():
        raise InputError(f"{base}: no such batch folder (expected ROOT/{period}/<unit>/)")
    unit_dirs = sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not unit_dirs:
        raise InputError(f"{base}: the batch has no unit folders")
    cat = load_catalogue()
    suites = load_suites(suite_paths)
    record_suites = [s for s in suites if s.table != SUBMISSION_TABLE and s.kind != "published"]
    cfg = load_scoring()
    fixes = {r.id: (r.fix_zh, r.fix_en) for s in suites for r in s.rules}
    run = store.begin_run(period, suites_hash([default_rules_dir()]), "batch", str(Path(root).resolve()))
    done = set() if force else store.scored_units(period)
    outcomes: list[UnitOutcome] = []
    total_rows = 0
    show = sys.stderr.isatty() if progress is None else progress
    with _progress(show) as bar:
        task = bar.add_task("", total=len(unit_dirs))
        for d in unit_dirs:
            bar.update(task, description=d.name)
            unit = _unit_from_dir(d)
            if unit["unit_id"] in done:
                outcomes.append(UnitOutcome(unit, skipped=True))
                bar.advance(task)
                continue
            t = time.perf_counter()
            out = UnitOutcome(unit)
            try:
                ext = open_extract(d, catalogue=cat)
                m = ext.manifest
                out.unit = {
                    "unit_id": ext.unit_id,
                    "name": m.get("name") or ext.unit_id,
                    "kind": m.get("kind"),
                    "district": m.get("district"),
                }
                if ext.period and ext.period != period:
                    raise InputError(f"{d}/manifest.yaml: period {ext.period} is not the batch's {period}")
                audit = audit_extract(ext, record_suites, period=period, samples=samples, streaming=streaming)
                out.results = list(audit.results)
                out.summary = summarize(ext, period, cat)
                out.tables = {ti.table: ti.rows for ti in audit.tables}
                total_rows += sum(ti.rows or 0 for ti in audit.tables)
            except DQError as exc:
                out.error = str(exc)
            except Exception as exc:  # one broken site never stops the batch
                out.error = f"{type(exc).__name__}: {exc}"
                if log:
                    log(traceback.format_exc())
            out.seconds = time.perf_counter() - t
            outcomes.append(out)
            if log and not show:
                state = "error" if out.error else "ok"
                log(f"[{len(outcomes)}/{len(unit_dirs)}] {out.unit_id} {state} ({out.seconds:.1f}s)")
            bar.advance(task)

    # Submission suite over every summary of the period (stored ones too, for the peer checks).
    rows = [o.summary for o in outcomes if o.summary]
    previous = store.summaries(period)
    if not previous.is_empty():
        fresh = {r["unit_id"] for r in rows}
        keep = [c for c in summary_frame([]).columns if c in previous.columns]
        old = previous.filter(~pl.col("unit_id").is_in(list(fresh))).select(keep)
        rows += old.with_columns(pl.lit(period).alias("period")).to_dicts()
    frame = summary_frame(rows)
    sub = evaluate_submissions(frame, suites) if rows else {}
    for o in outcomes:
        if o.skipped or o.error:
            continue
        o.results += sub.get(o.unit_id, [])
        o.score = score_unit(o.results, cfg)
    for o in outcomes:
        if not o.skipped:
            store.write_unit(run, o.unit, o.results, o.score, o.summary, fixes, o.error, o.tables)
    errors = sum(1 for o in outcomes if o.error)
    store.finish_run(run, sum(1 for o in outcomes if not o.skipped), errors)
    ranking = _ranking(store, period)
    return BatchOutcome(run, outcomes, ranking, rows=total_rows, seconds=time.perf_counter() - t0)


def _ranking(store: Store, period: str) -> pl.DataFrame:
    all_facets = store.scores(period, facet=None)
    if all_facets.is_empty():
        return pl.DataFrame()
    overall = all_facets.filter(pl.col("facet") == "overall")
    parts = (
        all_facets.filter(pl.col("facet").str.starts_with("part:"))
        .with_columns(pl.col("facet").str.strip_prefix("part:"))
        .pivot(on="facet", index="unit_id", values="score")
    )
    ranked = rank_units(
        overall.select("unit_id", "unit_name", "kind", "district", "status", "error", "score", "grade")
    )
    if not parts.is_empty():
        ranked = ranked.join(parts, on="unit_id", how="left")
    return ranked.sort(["kind", "rank", "unit_id"], nulls_last=True)


def score_published(
    period: str,
    store: Store,
    *,
    root: str | Path | None = None,
    suite_paths: Sequence[str | Path] | None = None,
) -> BatchOutcome:
    """Score the newsletters' published summaries with the submission suite, and check the
    published tables' totals. Units are scored on the submission part only."""
    from dq.published import load_collection
    from dq.registry import Registry

    t0 = time.perf_counter()
    parse_period(period)
    data_root = published_data_dir(root)
    frames = []
    for kind in ("district", "hospital"):
        try:
            frames.append(load_collection(period, kind, root=data_root))
        except FileNotFoundError:
            continue
    if not frames:
        have = sorted({f.name[:7] for f in data_root.glob("*_collection_*.csv")})
        raise InputError(
            f"{data_root}: no published collection tables for {period}"
            f" (periods there: {', '.join(have) or 'none'})"
        )
    published = pl.concat(frames, how="diagonal_relaxed")
    frame = summary_frame(published.to_dicts())
    suites = load_suites(suite_paths)
    cfg = load_scoring()
    fixes = {r.id: (r.fix_zh, r.fix_en) for s in suites for r in s.rules}
    registry = Registry.load()
    run = store.begin_run(
        period, suites_hash([default_rules_dir()]), "published", str(data_root)
    )
    sub = evaluate_submissions(frame, suites)
    outcomes = []
    for row in frame.to_dicts():
        inst = registry.get(row["unit_id"])
        unit = {
            "unit_id": row["unit_id"],
            "name": row["unit_name"],
            "kind": row["kind"],
            "district": (inst.district if inst else None)
            or (row["unit_name"] if row["kind"] == "district" else None),
        }
        results = sub[row["unit_id"]]
        o = UnitOutcome(unit, results, row, score=score_unit(results, cfg))
        store.write_unit(run, unit, results, o.score, row, fixes)
        outcomes.append(o)
    findings = check_published_tables(period, data_root, suites)
    store.finish_run(run, len(outcomes), 0)
    return BatchOutcome(run, outcomes, _ranking(store, period), findings, seconds=time.perf_counter() - t0)


def check_published_tables(period: str, root: Path | None, suites: Sequence[Suite]) -> list[RuleResult]:
    """Run the published-table suites (row totals) on ``<root>/<period>_<name>.csv``."""
    folder = published_data_dir(root)
    by_table = {s.table: s for s in suites if s.kind == "published"}
    findings: list[RuleResult] = []
    for f in sorted(folder.glob(f"{period}_*.csv")):
        table = "pub_" + f.stem.split("_", 1)[1]
        if table not in by_table:
            continue
        lf = pl.scan_csv(f, infer_schema=False)
        _, results = evaluate_frame(lf, by_table[table].rules, table, samples=0)
        findings += [replace(r, message=f"{f.name}: {r.message}") for r in results]
    return findings
