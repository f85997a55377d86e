"""View models of the reports: plain dataclasses of strings and numbers, no HTML.

Three pages, each built from the history store (:class:`dq.store.Store`):

* :class:`UnitReport`     one unit and period (:func:`build_unit_report`, or :class:`PeriodData`
                          for every unit of a period with the store read once);
* :class:`CampaignReport` two periods or two runs, before and after (:func:`build_campaign`);
* :class:`IndexPage`      every unit of a period (:func:`build_index`).

The pure helpers (:func:`classify_changes`, :func:`growth`, :func:`rule_gains`,
:func:`sample_table`, :func:`threshold_text`, :func:`rank_of`) are what the unit tests check.
Every label comes from :mod:`dq.report.i18n`, so a model is complete in one language.
"""

from __future__ import annotations

import calendar
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from dq import __version__
from dq.catalogue import Catalogue, load_catalogue
from dq.checks import DIMENSIONS
from dq.masking import mask_sample
from dq.report.i18n import period_label, tr
from dq.scoring import load_scoring, rank_units
from dq.store import Store

__all__ = [
    "Bar",
    "CampaignReport",
    "CampaignUnit",
    "Changes",
    "Day",
    "FailingRule",
    "IndexGroup",
    "IndexPage",
    "IndexRow",
    "KindGrowth",
    "PeriodData",
    "Rate",
    "RuleGain",
    "RuleRef",
    "SampleTable",
    "SubmissionView",
    "TrendPoint",
    "UnitReport",
    "build_campaign",
    "build_index",
    "build_unit_report",
    "classify_changes",
    "growth",
    "mask_sample",
    "rank_of",
    "report_filename",
    "resolve_side",
    "rule_gains",
    "sample_table",
    "threshold_text",
]

FAILING = ("fail", "warn")
KINDS_ORDER = ("district", "hospital")
PERIOD_RE = re.compile(r"^\d{4}-\d{2}$")
_RATE_STATUSES = ("reported", "no_reference", "not_published", "not_applicable")
_GENERIC_MESSAGE = re.compile(r"^\d+ of \d+ fail \([\d.]+%\)$")
MAX_SAMPLE_ROWS = 5
MAX_CELL = 80


# ----------------------------------------------------------------------------- small pieces
@dataclass(frozen=True)
class Bar:
    """One labelled score (a dimension or a part); ``score`` None = nothing evaluated."""

    key: str
    label: str
    score: float | None
    note: str = ""


@dataclass(frozen=True)
class TrendPoint:
    period: str
    label: str
    score: float | None
    current: bool = False


@dataclass(frozen=True)
class Day:
    day: int
    weekday: int  # 0 = Monday
    uploaded: bool


@dataclass(frozen=True)
class Rate:
    """Uploaded count against the official count (卫统数) for outpatient visits or discharges."""

    key: str
    label: str
    uploaded: int | None
    reference: int | None
    rate: float | None
    status: str  # reported | no_reference | not_published | not_applicable
    status_text: str  # shown instead of a rate when there is none ('' when reported)
    over: bool  # rate above 100 %


@dataclass(frozen=True)
class SubmissionView:
    declaration_status: str  # declared | not_reported | direct_db
    declared: int | None
    required: int | None
    declared_text: str  # "26 / 85", "未反馈 / 85", "开库采集"
    declared_note: str
    uploaded_tables: int | None
    data_volume: int | None
    upload_days: int | None
    days_in_period: int | None
    calendar: tuple[Day, ...]  # empty when the dates are unknown
    calendar_note: str  # why there is no calendar ('' when there is one)
    first_weekday: int  # weekday of day 1 (0 = Monday)
    rates: tuple[Rate, ...]
    records: tuple[tuple[str, int | None], ...]  # district health-record counts


@dataclass(frozen=True)
class SampleTable:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class FailingRule:
    rule: str
    title: str
    table: str
    dimension: str
    dimension_label: str
    severity: str
    severity_label: str
    status: str
    status_label: str
    points: float
    max_points: float
    lost: float
    failed: int
    evaluated: int
    fail_fraction: float | None
    counts_text: str
    threshold_text: str
    lost_text: str
    message: str  # the engine's detail, '' when it only repeats the counts
    samples: SampleTable
    fix: str
    change: str | None  # new | persisting | None (nothing to compare with)
    change_label: str


@dataclass(frozen=True)
class RuleRef:
    rule: str
    title: str


@dataclass(frozen=True)
class Changes:
    previous_period: str | None
    previous_label: str
    fixed: tuple[RuleRef, ...] = ()
    new: tuple[RuleRef, ...] = ()
    persisting: tuple[RuleRef, ...] = ()
    gone: tuple[RuleRef, ...] = ()  # failed before, not evaluated now (error / not applicable)


@dataclass(frozen=True)
class UnitReport:
    lang: str
    unit_id: str
    unit_name: str
    kind: str
    kind_label: str
    district: str
    period: str
    period_label: str
    status: str  # ok | error
    error: str
    score: float | None
    grade: str
    grade_label: str
    rank: int | None
    of: int | None
    rank_text: str
    rank_among: str
    parts: tuple[Bar, ...]
    dimensions: tuple[Bar, ...]
    trend: tuple[TrendPoint, ...]
    submission: SubmissionView | None
    failing: tuple[FailingRule, ...]
    not_run: tuple[RuleRef, ...]
    changes: Changes
    run_id: str
    generated_at: str
    dq_version: str = __version__


# ----------------------------------------------------------------------------- pure helpers
def _fmt_pct(x: float | None, digits: int = 2) -> str:
    return "—" if x is None else f"{x:.{digits}f}%"


def _fmt_num(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:.2f}".rstrip("0").rstrip(".") if x != int(x) else str(int(x))


def threshold_text(max_fraction: float | None, max_count: int | None, lang: str) -> str:
    """The rule's threshold in words: no failure allowed, a share, or a count."""
    parts = []
    if max_fraction:
        parts.append(tr(lang, "threshold_fraction", pct=_fmt_pct(100 * max_fraction).replace(".00%", "%")))
    if max_count:
        parts.append(tr(lang, "threshold_count", n=max_count))
    if not parts:
        return tr(lang, "threshold_none")
    return ("；" if lang == "zh" else "; ").join(parts)


def report_filename(unit_id: str) -> str:
    """The unit report's file name (the unit id, reduced to safe characters)."""
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in str(unit_id)).lstrip(".")
    return f"{safe or '_'}.html"


def _cell(value: Any, lang: str) -> str:
    if value is None:
        return "（空）" if lang == "zh" else "(empty)"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def sample_table(samples: str | Sequence[Mapping[str, Any]] | None, table: str, cat: Catalogue, lang: str):
    """The stored samples (JSON text or rows) as a small masked table."""
    if isinstance(samples, str):
        try:
            rows = json.loads(samples) if samples.strip() else []
        except json.JSONDecodeError:
            rows = []
    else:
        rows = list(samples or [])
    rows = [r for r in rows if isinstance(r, Mapping)][:MAX_SAMPLE_ROWS]
    masked = [mask_sample(r, table, cat) for r in rows]
    columns = tuple(dict.fromkeys(k for r in masked for k in r))
    body = tuple(tuple(_cell(r.get(c), lang) for c in columns) for r in masked)
    return SampleTable(columns, body)


def classify_changes(
    current: Iterable[Mapping[str, Any]], previous: Iterable[Mapping[str, Any]] | None
) -> dict[str, list[str]]:
    """Compare two runs' rule results (dicts with ``rule`` and ``status``).

    Returns rule ids by class: ``new`` (failing now, not failing before), ``persisting`` (failing
    in both), ``fixed`` (failing before, passing now) and ``gone`` (failing before, neither failing
    nor passing now: could not run, not applicable or absent). Failing = status fail or warn.
    With no previous run (``previous`` None) every list is empty: there is nothing to compare.
    """
    out: dict[str, list[str]] = {"fixed": [], "new": [], "persisting": [], "gone": []}
    if previous is None:
        return out
    now = {r["rule"]: r["status"] for r in current}
    before = {r["rule"]: r["status"] for r in previous}
    for rule, status in now.items():
        if status in FAILING:
            out["persisting" if before.get(rule) in FAILING else "new"].append(rule)
    for rule, status in before.items():
        if status not in FAILING or now.get(rule) in FAILING:
            continue
        out["fixed" if now.get(rule) == "pass" else "gone"].append(rule)
    return {k: sorted(v) for k, v in out.items()}


def rank_of(scores: pl.DataFrame, unit_id: str) -> tuple[int | None, int | None]:
    """(rank, number of ranked units) of ``unit_id`` among the units of its kind (1 = best)."""
    if scores.is_empty() or unit_id not in scores["unit_id"].to_list():
        return None, None
    ranked = rank_units(scores.select("unit_id", "kind", "score").with_columns(pl.col("kind").fill_null("")))
    row = ranked.filter(pl.col("unit_id") == unit_id).row(0, named=True)
    return row["rank"], (row["of"] if row["rank"] is not None else None)


def growth(pairs: Sequence[tuple[float, float]]) -> tuple[float | None, float | None, int]:
    """(mean over units of (after − before) / before × 100, relative change of the mean × 100, n).

    Units with a before score of 0 have no relative change and are left out of the first measure
    (n counts the units it averages); the second uses every pair.
    """
    rel = [(a - b) / b * 100 for b, a in pairs if b]
    per_unit = sum(rel) / len(rel) if rel else None
    mean_b = sum(b for b, _ in pairs) / len(pairs) if pairs else None
    mean_a = sum(a for _, a in pairs) / len(pairs) if pairs else None
    of_mean = (mean_a - mean_b) / mean_b * 100 if mean_b else None  # type: ignore[operator]
    return per_unit, of_mean, len(rel)


@dataclass(frozen=True)
class RuleGain:
    rule: str
    title: str
    units: int  # units scored on the rule in both runs
    lost_before: float
    lost_after: float
    regained: float
    fail_to_pass: int
    pass_to_fail: int


def rule_gains(before: pl.DataFrame, after: pl.DataFrame, lang: str, limit: int = 10) -> list[RuleGain]:
    """Rules ordered by points regained, then by units gone from fail to pass.

    Only (unit, rule) pairs scored in both runs count (points not null in both). A rule appears
    if it regained points or more units went from fail to pass than from pass to fail.
    """
    cols = ["unit_id", "rule", "status", "points", "max_points", "title_zh", "title_en"]
    if before.is_empty() or after.is_empty():
        return []
    b = before.select(cols).filter(pl.col("points").is_not_null())
    a = after.select(cols).filter(pl.col("points").is_not_null())
    both = b.join(a, on=["unit_id", "rule"], suffix="_a")
    if both.is_empty():
        return []
    agg = (
        both.with_columns(
            (pl.col("max_points") - pl.col("points")).alias("lb"),
            (pl.col("max_points_a") - pl.col("points_a")).alias("la"),
            (pl.col("status").is_in(FAILING) & (pl.col("status_a") == "pass")).alias("f2p"),
            ((pl.col("status") == "pass") & pl.col("status_a").is_in(FAILING)).alias("p2f"),
        )
        .group_by("rule")
        .agg(
            pl.len().alias("units"),
            pl.col("lb").sum(),
            pl.col("la").sum(),
            pl.col("f2p").sum(),
            pl.col("p2f").sum(),
            pl.col("title_zh_a").drop_nulls().first(),
            pl.col("title_en_a").drop_nulls().first(),
        )
        .with_columns((pl.col("lb") - pl.col("la")).round(4).alias("regained"))
        .filter((pl.col("regained") > 0) | (pl.col("f2p") > pl.col("p2f")))
        .sort(["regained", "f2p", "rule"], descending=[True, True, False])
        .head(limit)
    )
    out = []
    for r in agg.iter_rows(named=True):
        title = (r["title_zh_a"] if lang == "zh" else r["title_en_a"]) or r["title_zh_a"] or r["rule"]
        out.append(
            RuleGain(
                r["rule"],
                title,
                r["units"],
                round(r["lb"], 2),
                round(r["la"], 2),
                round(r["regained"], 2),
                int(r["f2p"]),
                int(r["p2f"]),
            )
        )
    return out


# ----------------------------------------------------------------------------- labels
def kind_label(kind: str | None, lang: str, plural: bool = False) -> str:
    k = kind if kind in KINDS_ORDER else "other"
    return tr(lang, f"kinds_{k}" if plural else f"kind_{k}")


def _kind(kind: str | None) -> str:
    return kind if kind in KINDS_ORDER else "other"


def _grade_label(grade: str | None, lang: str) -> str:
    return tr(lang, f"grade_{grade}") if grade in ("A", "B", "C", "D") else ""


def _title(row: Mapping[str, Any], lang: str) -> str:
    own = row.get(f"title_{lang}") or ""
    other = row.get("title_en" if lang == "zh" else "title_zh") or ""
    return own or other or str(row.get("rule") or "")


def _short_error(error: str, period: str) -> str:
    """The batch's error without the server's folders: ``/srv/batch/2020-09/H1/x`` → ``H1/x``."""
    return re.sub(r"[^\s'\"]*/" + re.escape(period) + "/", "", error)


def _now() -> str:
    return datetime.now(UTC).astimezone().strftime("%Y-%m-%d %H:%M")


# ----------------------------------------------------------------------------- unit report
def _calendar(period: str, dates: str | None, days_total: int | None) -> tuple[tuple[Day, ...], int]:
    try:
        year, month = (int(x) for x in period.split("-"))
        first, n = calendar.monthrange(year, month)
    except ValueError:
        return (), 0
    n = days_total or n
    if dates is None:
        return (), first
    on = {int(x) for x in str(dates).split(",") if x.strip().isdigit()}
    days = tuple(Day(d, (first + d - 1) % 7, d in on) for d in range(1, n + 1))
    return days, first


def _rate(row: Mapping[str, Any], key: str, lang: str) -> Rate:
    status = row.get(f"{key}_rate_status") or "not_published"
    rate = row.get(f"{key}_rate")
    if status == "reported" and rate is not None:
        text = ""
    else:
        text = tr(lang, f"rate_{status}") if status in _RATE_STATUSES[1:] else "—"
    return Rate(
        key=key,
        label=tr(lang, key),
        uploaded=row.get(f"{key}_uploaded"),
        reference=row.get(f"{key}_reference"),
        rate=rate if status == "reported" else None,
        status=status,
        status_text=text,
        over=bool(status == "reported" and rate is not None and rate > 100),
    )


def submission_view(row: Mapping[str, Any], period: str, lang: str) -> SubmissionView:
    """The submission figures of a summary row, markers kept as markers."""
    status = row.get("declaration_status") or "declared"
    declared, required = row.get("declared_tables"), row.get("required_tables")
    req = "—" if required is None else str(required)
    if status == "not_reported":
        text, note = f"{tr(lang, 'declared_not_reported')} / {req}", tr(lang, "declared_not_reported_note")
    elif status == "direct_db":
        text, note = tr(lang, "declared_direct_db"), tr(lang, "declared_direct_db_note")
    else:
        text, note = f"{'—' if declared is None else declared} / {req}", ""
    days_total = row.get("days_in_period")
    cal, first = _calendar(period, row.get("upload_dates"), days_total)
    upload_days = row.get("upload_days")
    if cal:
        cal_note = ""
    elif upload_days is not None:
        cal_note = tr(lang, "calendar_count_only", days=upload_days)
    else:
        cal_note = tr(lang, "calendar_unknown")
    rates = [_rate(row, "outpatient", lang)]
    if row.get("kind") != "district" or row.get("discharge_rate_status") not in (None, "not_applicable"):
        rates.append(_rate(row, "discharge", lang))
    records: tuple[tuple[str, int | None], ...] = ()
    if row.get("kind") == "district":
        records = tuple(
            (tr(lang, f"records_{k}"), row.get(f"records_{k}")) for k in ("basic", "hypertension", "diabetes")
        )
    return SubmissionView(
        declaration_status=status,
        declared=declared,
        required=required,
        declared_text=text,
        declared_note=note,
        uploaded_tables=row.get("uploaded_tables"),
        data_volume=row.get("data_volume"),
        upload_days=upload_days,
        days_in_period=days_total,
        calendar=cal,
        calendar_note=cal_note,
        first_weekday=first,
        rates=tuple(rates),
        records=records,
    )


def _failing_rule(r: Mapping[str, Any], change: str | None, cat: Catalogue, lang: str) -> FailingRule:
    points = float(r.get("points") or 0.0)
    max_points = float(r.get("max_points") or 0.0)
    lost = round(max_points - points, 2)
    evaluated, failed = int(r.get("evaluated") or 0), int(r.get("failed") or 0)
    frac = r.get("fail_fraction")
    if frac is None and evaluated:
        frac = failed / evaluated
    message = str(r.get("message") or "")
    fix = (r.get(f"fix_{lang}") or r.get("fix_en" if lang == "zh" else "fix_zh") or "").strip()
    dim, sev, status = str(r.get("dimension") or ""), str(r.get("severity") or ""), str(r.get("status"))
    return FailingRule(
        rule=str(r["rule"]),
        title=_title(r, lang),
        table=str(r.get("table") or ""),
        dimension=dim,
        dimension_label=tr(lang, f"dim_{dim}") if dim in DIMENSIONS else dim,
        severity=sev,
        severity_label=tr(lang, f"severity_{sev}") if sev in ("warning", "error", "critical") else sev,
        status=status,
        status_label=tr(lang, f"status_{status}"),
        points=round(points, 2),
        max_points=round(max_points, 2),
        lost=lost,
        failed=failed,
        evaluated=evaluated,
        fail_fraction=frac,
        counts_text=tr(
            lang,
            "failed_of",
            failed=f"{failed:,}",
            evaluated=f"{evaluated:,}",
            pct=_fmt_pct(None if frac is None else 100 * frac),
        ),
        threshold_text=threshold_text(r.get("max_fraction"), r.get("max_count"), lang),
        lost_text=tr(lang, "points_lost", lost=_fmt_num(lost), max=_fmt_num(max_points)),
        message="" if _GENERIC_MESSAGE.match(message) else message,
        samples=sample_table(r.get("samples"), str(r.get("table") or ""), cat, lang),
        fix=fix or tr(lang, "no_fix"),
        change=change,
        change_label=tr(lang, f"change_{change}") if change else "",
    )


def sort_failing(rules: Iterable[FailingRule]) -> list[FailingRule]:
    """Most points lost first; ties by severity (critical first), then rule id."""
    order = {"critical": 0, "error": 1, "warning": 2}
    return sorted(rules, key=lambda f: (-f.lost, order.get(f.severity, 3), f.rule))


class PeriodData:
    """The store's frames for one period, read once, to build every unit report of it."""

    def __init__(self, store: Store, period: str, lang: str = "zh", catalogue: Catalogue | None = None):
        self.store, self.period, self.lang = store, period, lang
        self.cat = catalogue or load_catalogue()
        self.facets = store.scores(period, facet=None)
        self.overall = (
            self.facets.filter(pl.col("facet") == "overall") if not self.facets.is_empty() else self.facets
        )
        self.results = store.results(period)
        self.summaries = store.summaries(period)
        allp = store.scores(None)
        self.history = allp.filter(pl.col("period") <= period) if not allp.is_empty() else allp
        self.cfg = load_scoring()
        self.generated_at = _now()

    def unit_ids(self) -> list[str]:
        return [] if self.overall.is_empty() else sorted(self.overall["unit_id"].to_list())

    def unit(self, unit_id: str) -> UnitReport:
        lang = self.lang
        mine = self.facets.filter(pl.col("unit_id") == unit_id) if not self.facets.is_empty() else self.facets
        if mine.is_empty():
            raise KeyError(f"unit {unit_id} has no score for {self.period}")
        facets = {r["facet"]: r for r in mine.iter_rows(named=True)}
        base = facets.get("overall") or next(iter(facets.values()))
        kind = _kind(base.get("kind"))
        ok = base.get("status") == "ok"
        score = base.get("score") if ok else None
        rank, of = rank_of(self.overall.filter(pl.col("status") == "ok"), unit_id) if ok else (None, None)
        if score is None:
            rank, of = None, None
        parts = tuple(
            Bar(
                p,
                tr(lang, f"part_{p}"),
                facets.get(f"part:{p}", {}).get("score"),
                tr(lang, "part_weight", weight=_fmt_num(100 * w)),
            )
            for p, w in self.cfg.parts.items()
        )
        dims = tuple(Bar(d, tr(lang, f"dim_{d}"), facets.get(d, {}).get("score")) for d in DIMENSIONS)
        trend = self._trend(unit_id)
        summary = None
        if ok and not self.summaries.is_empty():
            rows = self.summaries.filter(pl.col("unit_id") == unit_id).to_dicts()
            summary = submission_view(rows[0], self.period, lang) if rows else None
        res = (
            self.results.filter(pl.col("unit_id") == unit_id).to_dicts()
            if ok and not self.results.is_empty()
            else []
        )
        failing, not_run, changes = self._rules(unit_id, res) if ok else ((), (), Changes(None, ""))
        return UnitReport(
            lang=lang,
            unit_id=unit_id,
            unit_name=str(base.get("unit_name") or unit_id),
            kind=kind,
            kind_label=kind_label(kind, lang),
            district=str(base.get("district") or ""),
            period=self.period,
            period_label=period_label(self.period, lang),
            status="ok" if ok else "error",
            error="" if ok else _short_error(str(base.get("error") or ""), self.period),
            score=score,
            grade=str(base.get("grade") or "") if ok else "",
            grade_label=_grade_label(base.get("grade"), lang) if ok else "",
            rank=rank,
            of=of,
            rank_text=tr(lang, "rank_text", rank=rank, of=of) if rank else tr(lang, "no_rank"),
            rank_among=tr(lang, "rank_among", kinds=kind_label(kind, lang, plural=True)),
            parts=parts,
            dimensions=dims,
            trend=trend,
            submission=summary,
            failing=tuple(failing),
            not_run=tuple(not_run),
            changes=changes,
            run_id=str(base.get("run_id") or ""),
            generated_at=self.generated_at,
        )

    def _trend(self, unit_id: str) -> tuple[TrendPoint, ...]:
        if self.history.is_empty():
            return ()
        rows = self.history.filter(pl.col("unit_id") == unit_id).sort("period")
        return tuple(
            TrendPoint(
                r["period"],
                period_label(r["period"], self.lang),
                r["score"] if r.get("status") == "ok" else None,
                r["period"] == self.period,
            )
            for r in rows.iter_rows(named=True)
        )

    def _rules(self, unit_id: str, res: list[dict[str, Any]]):
        lang = self.lang
        prev_period, prev = self.store.previous_results(self.period, unit_id)
        has_prev = prev_period is not None and not prev.is_empty()
        classes = classify_changes(res, prev.to_dicts() if has_prev else None)
        change_of = {r: k for k in ("new", "persisting") for r in classes[k]}
        failing = sort_failing(
            _failing_rule(r, change_of.get(r["rule"]) if has_prev else None, self.cat, lang)
            for r in res
            if r.get("status") in FAILING
        )
        not_run = [RuleRef(r["rule"], _title(r, lang)) for r in res if r.get("status") == "error"]
        if not has_prev:
            return failing, not_run, Changes(None, tr(lang, "changes_none"))
        titles = {r["rule"]: _title(r, lang) for r in prev.to_dicts()} | {
            r["rule"]: _title(r, lang) for r in res
        }
        assert prev_period is not None
        label = period_label(prev_period, lang)
        if prev_period == self.period:
            label += " (earlier run)" if lang == "en" else "（同月较早一次评分）"
        refs = {k: tuple(RuleRef(r, titles.get(r, r)) for r in v) for k, v in classes.items()}
        changes = Changes(
            prev_period,
            tr(lang, "changes_previous", period=label),
            refs["fixed"],
            refs["new"],
            refs["persisting"],
            refs["gone"],
        )
        return failing, not_run, changes


def build_unit_report(store: Store, period: str, unit_id: str, lang: str = "zh") -> UnitReport:
    return PeriodData(store, period, lang).unit(unit_id)


# ----------------------------------------------------------------------------- index page
@dataclass(frozen=True)
class IndexRow:
    unit_id: str
    href: str
    unit_name: str
    district: str
    status: str
    status_label: str
    score: float | None
    grade: str
    grade_label: str
    rank: int | None
    submission: float | None
    records: float | None
    failing: int


@dataclass(frozen=True)
class IndexGroup:
    kind: str
    label: str
    rows: tuple[IndexRow, ...]
    mean: float | None
    of: int


@dataclass(frozen=True)
class IndexPage:
    lang: str
    period: str
    period_label: str
    n: int
    errors: int
    groups: tuple[IndexGroup, ...]
    campaigns: tuple[tuple[str, str], ...]  # (label, href)
    generated_at: str


def build_index(data: PeriodData, campaigns: Sequence[tuple[str, str]] = ()) -> IndexPage:
    lang = data.lang
    overall = data.overall
    groups: list[IndexGroup] = []
    n = errors = 0
    if not overall.is_empty():
        facets = data.facets.filter(pl.col("facet").is_in(["part:submission", "part:records"]))
        parts: dict[tuple[str, str], float | None] = {
            (r["unit_id"], r["facet"]): r["score"] for r in facets.iter_rows(named=True)
        }
        res = data.results
        failing: dict[str, int] = {}
        if not res.is_empty():
            counts = res.filter(pl.col("status").is_in(FAILING)).group_by("unit_id").len()
            failing = dict(counts.iter_rows())
        ranked = rank_units(
            overall.with_columns(
                pl.when(pl.col("status") == "ok").then(pl.col("score")).otherwise(None).alias("score"),
                pl.col("kind").fill_null("other"),
            )
        )
        kinds = sorted(
            set(ranked["kind"].to_list()), key=lambda k: (KINDS_ORDER.index(k) if k in KINDS_ORDER else 9, k)
        )
        for kind in kinds:
            sub = ranked.filter(pl.col("kind") == kind).sort(["rank", "unit_id"], nulls_last=True)
            rows = []
            for r in sub.iter_rows(named=True):
                ok = r["status"] == "ok"
                n += 1
                errors += not ok
                rows.append(
                    IndexRow(
                        unit_id=r["unit_id"],
                        href=report_filename(r["unit_id"]),
                        unit_name=str(r["unit_name"] or r["unit_id"]),
                        district=str(r["district"] or ""),
                        status="ok" if ok else "error",
                        status_label=tr(lang, "status_ok" if ok else "status_unreadable"),
                        score=r["score"],
                        grade=str(r["grade"] or "") if ok else "",
                        grade_label=_grade_label(r["grade"], lang) if ok else "",
                        rank=r["rank"],
                        submission=parts.get((r["unit_id"], "part:submission")) if ok else None,
                        records=parts.get((r["unit_id"], "part:records")) if ok else None,
                        failing=failing.get(r["unit_id"], 0) if ok else 0,
                    )
                )
            scored = [x.score for x in rows if x.score is not None]
            mean = round(sum(scored) / len(scored), 2) if scored else None
            groups.append(
                IndexGroup(kind, kind_label(kind, lang, plural=True), tuple(rows), mean, len(scored))
            )
    return IndexPage(
        lang=lang,
        period=data.period,
        period_label=period_label(data.period, lang),
        n=n,
        errors=errors,
        groups=tuple(groups),
        campaigns=tuple(campaigns),
        generated_at=data.generated_at,
    )


# ----------------------------------------------------------------------------- campaign
@dataclass(frozen=True)
class Side:
    """One side of a campaign: a period (latest scores) or one run."""

    period: str
    run_id: str | None
    label: str


def resolve_side(store: Store, spec: str, lang: str) -> Side:
    """``2020-09`` (the period's latest scores) or a run id (that run's scores)."""
    if PERIOD_RE.match(spec):
        return Side(spec, None, period_label(spec, lang))
    runs = store.runs()
    hit = runs.filter(pl.col("run_id") == spec) if not runs.is_empty() else runs
    if hit.is_empty():
        from dq.errors import InputError

        raise InputError(f"{spec}: neither a period (YYYY-MM) nor a run id in {store.root}")
    period = hit["period"][0]
    return Side(period, spec, f"{period_label(period, lang)} · {spec}")


def _side_scores(store: Store, side: Side) -> pl.DataFrame:
    if side.run_id is None:
        df = store.scores(side.period)
    else:
        files = sorted(Path(store.root, "scores").glob(f"period={side.period}/{side.run_id}__*.parquet"))
        df = (
            pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")
            if files
            else pl.DataFrame()
        )
        if not df.is_empty():
            df = df.filter(pl.col("facet") == "overall")
    if df.is_empty():
        return pl.DataFrame(
            schema={
                "unit_id": pl.String,
                "unit_name": pl.String,
                "kind": pl.String,
                "district": pl.String,
                "score": pl.Float64,
            }
        )
    return df.filter(pl.col("status") == "ok").select("unit_id", "unit_name", "kind", "district", "score")


def _side_results(store: Store, side: Side) -> pl.DataFrame:
    return store.results(side.period, run_id=side.run_id)


@dataclass(frozen=True)
class CampaignUnit:
    unit_id: str
    unit_name: str
    kind: str
    kind_label: str
    district: str
    before: float | None
    after: float | None
    change: float | None  # after − before (points)
    rel_change: float | None  # (after − before) / before × 100


@dataclass(frozen=True)
class KindGrowth:
    kind: str
    label: str
    n: int  # units scored in both
    n_growth: int  # units in the per-unit average (before > 0)
    mean_before: float | None
    mean_after: float | None
    growth_per_unit: float | None  # mean of the units' relative changes, %
    growth_of_mean: float | None  # relative change of the mean, %
    improved: int
    regressed: int
    units: tuple[CampaignUnit, ...] = field(default=())


@dataclass(frozen=True)
class CampaignReport:
    lang: str
    before: str
    after: str
    before_period: str
    after_period: str
    kinds: tuple[KindGrowth, ...]
    rules: tuple[RuleGain, ...]
    regressed: tuple[CampaignUnit, ...]
    only_one: tuple[CampaignUnit, ...]
    generated_at: str


def build_campaign(store: Store, before: str, after: str, lang: str = "zh") -> CampaignReport:
    b_side, a_side = resolve_side(store, before, lang), resolve_side(store, after, lang)
    b, a = _side_scores(store, b_side), _side_scores(store, a_side)
    joined = b.join(a, on="unit_id", how="full", coalesce=True, suffix="_a")
    units: list[CampaignUnit] = []
    for r in joined.iter_rows(named=True):
        kind = _kind(r["kind_a"] or r["kind"])
        sb, sa = r["score"], r["score_a"]
        change = round(sa - sb, 2) if sb is not None and sa is not None else None
        rel = round((sa - sb) / sb * 100, 2) if change is not None and sb else None
        units.append(
            CampaignUnit(
                r["unit_id"],
                str(r["unit_name_a"] or r["unit_name"] or r["unit_id"]),
                kind,
                kind_label(kind, lang),
                str(r["district_a"] or r["district"] or ""),
                sb,
                sa,
                change,
                rel,
            )
        )
    both = [u for u in units if u.change is not None]
    kinds = sorted({u.kind for u in both}, key=lambda k: (KINDS_ORDER.index(k) if k in KINDS_ORDER else 9, k))
    groups = []
    for kind in kinds:
        mine = sorted(
            (u for u in both if u.kind == kind),
            key=lambda u: (-(u.change or 0), u.unit_id),
        )
        pairs = [(u.before, u.after) for u in mine]
        per_unit, of_mean, n_growth = growth(pairs)  # type: ignore[arg-type]
        mb = sum(p[0] for p in pairs) / len(pairs)  # type: ignore[misc]
        ma = sum(p[1] for p in pairs) / len(pairs)  # type: ignore[misc]
        groups.append(
            KindGrowth(
                kind,
                kind_label(kind, lang, plural=True),
                len(mine),
                n_growth,
                round(mb, 2),
                round(ma, 2),
                None if per_unit is None else round(per_unit, 2),
                None if of_mean is None else round(of_mean, 2),
                sum(1 for u in mine if (u.change or 0) > 0),
                sum(1 for u in mine if (u.change or 0) < 0),
                tuple(mine),
            )
        )
    ids = [u.unit_id for u in both]
    rb, ra = _side_results(store, b_side), _side_results(store, a_side)
    if not rb.is_empty():
        rb = rb.filter(pl.col("unit_id").is_in(ids))
    if not ra.is_empty():
        ra = ra.filter(pl.col("unit_id").is_in(ids))
    rules = rule_gains(rb, ra, lang)
    regressed = sorted((u for u in both if (u.change or 0) < 0), key=lambda u: (u.change, u.unit_id))
    only = sorted((u for u in units if u.change is None), key=lambda u: (u.kind, u.unit_id))
    return CampaignReport(
        lang=lang,
        before=b_side.label,
        after=a_side.label,
        before_period=b_side.period,
        after_period=a_side.period,
        kinds=tuple(groups),
        rules=tuple(rules),
        regressed=tuple(regressed),
        only_one=tuple(only),
        generated_at=_now(),
    )
