"""The unit report's view: one unit and period (:func:`build_unit_report`, or
:class:`PeriodData` for every unit of a period with the store read once)."""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from dq import __version__
from dq.engine.checks import DIMENSIONS
from dq.engine.messages import render_message
from dq.engine.results import Status
from dq.io.catalogue import Catalogue, load_catalogue
from dq.report._common import (
    FAILING,
    GENERIC_MESSAGE,
    RATE_STATUSES,
    Bar,
    Day,
    SampleTable,
    TrendPoint,
    classify_changes,
    fmt_num,
    fmt_pct,
    generated_now,
    grade_name,
    kind_label,
    kind_of,
    rank_of,
    rule_title,
    sample_table,
    short_error,
    table_label,
    threshold_text,
)
from dq.report._history import HistoryFlag, flagged_periods, history_flags
from dq.report.data import previous_results, read_period, rule_history
from dq.report.i18n import dimension_label, period_label, tr
from dq.scoring.explain import Loss, rule_losses
from dq.scoring.scores import ScoringConfig, UnitStatus, load_scoring
from dq.store.history import Store


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
    loss: float = 0.0  # overall-score points lost (its share of 100 − score, dq.scoring.explain)
    loss_text: str = ""
    table_label: str = ""  # the table's title from the catalogue ('' for the submission summary)
    count_unit: str = ""  # what the failures count: 条 (rows), 天 (days), 张 (tables), 项
    since: str = ""  # label of the first month of the unbroken run of months failing up to now
    spark: tuple[tuple[str, int | None], ...] = ()  # (month label, failures) of up to 12 months


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
class TopFix:
    rule: str
    title: str
    table: str
    points: float
    text: str  # "+1.23 分"


MAX_CARDS = 10
SPARK_MONTHS = 12


@dataclass(frozen=True)
class Peers:
    """The scores of the unit's kind this month: how many, lower quartile, median, upper."""

    n: int
    q1: float
    median: float
    q3: float


def peers_of(scores: Iterable[float]) -> Peers | None:
    """Quartiles (inclusive method) of ``scores``; None when there are none."""
    import statistics

    xs = sorted(float(x) for x in scores)
    if not xs:
        return None
    if len(xs) == 1:
        return Peers(1, xs[0], xs[0], xs[0])
    q1, med, q3 = statistics.quantiles(xs, n=4, method="inclusive")
    return Peers(len(xs), round(q1, 2), round(med, 2), round(q3, 2))


def count_unit(row: Mapping[str, Any], lang: str) -> str:
    """What a rule's failures count: rows of a table, days or tables of the submission, or
    items (a submission figure)."""
    if str(row.get("table") or "") != "submission_summary":
        return tr(lang, "unit_rows")
    cols = str(row.get("columns") or "")
    first = cols.split(",")[0] if cols else ""
    if "days" in first:
        return tr(lang, "unit_days")
    if "tables" in first or "declared" in first or "uploaded_not" in first:
        return tr(lang, "unit_tables")
    return tr(lang, "unit_items")


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
    history: tuple[HistoryFlag, ...] = ()  # metrics flagged against the unit's history
    lost: float | None = None  # 100 − score
    loss_parts: tuple[Bar, ...] = ()  # points lost by part (score = points lost)
    loss_dims: tuple[Bar, ...] = ()  # points lost by dimension
    top_fixes: tuple[TopFix, ...] = ()  # the five fixes that would gain most
    fix_files: tuple[tuple[str, str], ...] = ()  # (label, href) of the rows-to-fix files
    change: float | None = None  # score − the unit's score of its previous scored month
    previous_label: str = ""  # that month
    peers: Peers | None = None  # the kind's median and quartiles this month
    not_assessed: bool = False  # nothing uploaded: record dimensions are not assessed

    @property
    def cards(self) -> tuple[FailingRule, ...]:
        """The failing rules shown as cards (samples, fix): the :data:`MAX_CARDS` costliest;
        every failing rule is in the table, and every listed row in the workbook."""
        return self.failing[:MAX_CARDS]


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
        text = tr(lang, f"rate_{status}") if status in RATE_STATUSES[1:] else "—"
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


def uploaded_nothing(summary: Mapping[str, Any]) -> bool:
    """The unit's submission summary shows no data at all: no row and no table uploaded."""
    return not (summary.get("data_volume") or 0) and not (summary.get("uploaded_tables") or 0)


def _failing_rule(
    r: Mapping[str, Any], change: str | None, cat: Catalogue, lang: str, loss: Loss | None = None
) -> FailingRule:
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
        title=rule_title(r, lang),
        table=str(r.get("table") or ""),
        dimension=dim,
        dimension_label=dimension_label(dim, lang),
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
            pct=fmt_pct(None if frac is None else 100 * frac),
            unit=count_unit(r, lang),
        ),
        threshold_text=threshold_text(r.get("max_fraction"), r.get("max_count"), lang, count_unit(r, lang)),
        lost_text=tr(lang, "points_lost", lost=fmt_num(lost), max=fmt_num(max_points)),
        message=""
        if GENERIC_MESSAGE.match(message)
        else render_message(message, r.get("message_args"), lang),
        samples=sample_table(r.get("samples"), str(r.get("table") or ""), cat, lang),
        fix=fix or tr(lang, "no_fix"),
        change=change,
        change_label=tr(lang, f"change_{change}") if change else "",
        loss=loss.points if loss else 0.0,
        loss_text=tr(lang, "loss_points", points=f"{loss.points:.2f}")
        if loss and loss.points >= 0.005
        else "",
        table_label=table_label(str(r.get("table") or ""), cat, lang),
        count_unit=count_unit(r, lang),
    )


def sort_failing(rules: Iterable[FailingRule]) -> list[FailingRule]:
    """Most overall-score points lost first (then rule points); ties by severity (critical
    first), then rule id."""
    order = {"critical": 0, "error": 1, "warning": 2}
    return sorted(rules, key=lambda f: (-f.loss, -f.lost, order.get(f.severity, 3), f.rule))


class PeriodData:
    """The store's frames for one period, read once, to build every unit report of it."""

    def __init__(
        self,
        store: Store,
        period: str,
        lang: str = "zh",
        catalogue: Catalogue | None = None,
        scoring: ScoringConfig | None = None,
    ):
        """``catalogue`` and ``scoring``: the project's (default: the bundled ones), for table
        titles, column labels, the parts' weights and each rule's loss."""
        self.store, self.period, self.lang = store, period, lang
        self.cat = catalogue or load_catalogue()
        frames = read_period(store, period)
        self.facets, self.overall = frames.facets, frames.overall
        self.results, self.summaries, self.history = frames.results, frames.summaries, frames.history
        self.flags = frames.flags
        self.cfg = scoring or load_scoring()
        self.generated_at = generated_now()
        self.fix_files: dict[str, list[tuple[str, str]]] = {}  # unit -> (label, href), set by the writer
        self._rules_before: pl.DataFrame | None = None  # rule results of earlier months, read once

    def unit_ids(self) -> list[str]:
        return [] if self.overall.is_empty() else sorted(self.overall["unit_id"].to_list())

    def unit(self, unit_id: str) -> UnitReport:
        lang = self.lang
        mine = self.facets.filter(pl.col("unit_id") == unit_id) if not self.facets.is_empty() else self.facets
        if mine.is_empty():
            raise KeyError(f"unit {unit_id} has no score for {self.period}")
        facets = {r["facet"]: r for r in mine.iter_rows(named=True)}
        base = facets.get("overall") or next(iter(facets.values()))
        kind = kind_of(base.get("kind"))
        ok = base.get("status") == UnitStatus.OK
        score = base.get("score") if ok else None
        rank, of = (
            rank_of(self.overall.filter(pl.col("status") == UnitStatus.OK), unit_id) if ok else (None, None)
        )
        if score is None:
            rank, of = None, None
        parts = tuple(
            Bar(
                p,
                tr(lang, f"part_{p}"),
                facets.get(f"part:{p}", {}).get("score"),
                tr(lang, "part_weight", weight=fmt_num(100 * w)),
            )
            for p, w in self.cfg.parts.items()
        )
        trend = self._trend(unit_id)
        summary = None
        nothing = False
        if ok and not self.summaries.is_empty():
            rows = self.summaries.filter(pl.col("unit_id") == unit_id).to_dicts()
            summary = submission_view(rows[0], self.period, lang) if rows else None
            nothing = bool(rows) and uploaded_nothing(rows[0])
        # a unit that uploaded nothing is not assessed on any dimension: its rate checks would
        # pass trivially and show a green 100
        dims = tuple(
            Bar(d, tr(lang, f"dim_{d}"), None if nothing else facets.get(d, {}).get("score"))
            for d in DIMENSIONS
        )
        res = (
            self.results.filter(pl.col("unit_id") == unit_id).to_dicts()
            if ok and not self.results.is_empty()
            else []
        )
        losses = {x.rule: x for x in rule_losses(res, score, self.cfg)} if score is not None else {}
        failing, not_run, changes = self._rules(unit_id, res, losses) if ok else ((), (), Changes(None, ""))
        failing = self._with_history(unit_id, failing) if failing else failing
        summary_losses = self._loss_summary(losses, score)
        prev_score, prev_period = self._previous_score(unit_id)
        peers = None
        if score is not None:
            same = self.overall.filter(
                (pl.col("status") == UnitStatus.OK)
                & (pl.col("kind").fill_null("") == (base.get("kind") or ""))
            )
            peers = peers_of(same["score"].drop_nulls().to_list())
        return UnitReport(
            lang=lang,
            unit_id=unit_id,
            unit_name=str(base.get("unit_name") or unit_id),
            kind=kind,
            kind_label=kind_label(kind, lang),
            district=str(base.get("district") or ""),
            period=self.period,
            period_label=period_label(self.period, lang),
            status=UnitStatus.OK if ok else UnitStatus.ERROR,
            error="" if ok else short_error(str(base.get("error") or ""), self.period),
            score=score,
            grade=str(base.get("grade") or "") if ok else "",
            grade_label=grade_name(base.get("grade"), lang) if ok else "",
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
            history=tuple(history_flags(res, lang)),
            fix_files=tuple(self.fix_files.get(unit_id, ())),
            change=round(score - prev_score, 2) if score is not None and prev_score is not None else None,
            previous_label=period_label(prev_period, lang) if prev_period else "",
            peers=peers,
            not_assessed=nothing,
            **summary_losses,
        )

    def _previous_score(self, unit_id: str) -> tuple[float | None, str | None]:
        """The unit's overall score of its latest scored month before this one."""
        h = self.history
        if h.is_empty():
            return None, None
        rows = h.filter(
            (pl.col("unit_id") == unit_id)
            & (pl.col("period") < self.period)
            & (pl.col("status") == UnitStatus.OK)
        )
        if rows.is_empty():
            return None, None
        last = rows.sort("period").row(-1, named=True)
        return last["score"], last["period"]

    def _rule_history(self) -> pl.DataFrame:
        if self._rules_before is None:
            self._rules_before = rule_history(self.store, self.history, self.period)
        return self._rules_before

    def _with_history(self, unit_id: str, failing: Iterable[FailingRule]) -> list[FailingRule]:
        """Each failing rule with the first month of its unbroken run of failing months and its
        failures over the last :data:`SPARK_MONTHS` scored months (this one included)."""
        from dataclasses import replace

        hist = self._rule_history()
        mine = hist.filter(pl.col("unit_id") == unit_id) if not hist.is_empty() else hist
        periods = sorted(set(mine["period"].to_list())) if not mine.is_empty() else []
        by_rule: dict[str, dict[str, tuple[str, int | None]]] = {}
        for r in mine.iter_rows(named=True):
            by_rule.setdefault(r["rule"], {})[r["period"]] = (r["status"], r["failed"])
        months = [*periods, self.period][-SPARK_MONTHS:]
        out = []
        for f in failing:
            seen = by_rule.get(f.rule, {})
            since = self.period
            for p in reversed(periods):
                if seen.get(p, ("", None))[0] in FAILING:
                    since = p
                else:
                    break
            spark = tuple(
                (
                    period_label(p, self.lang),
                    f.failed if p == self.period else seen.get(p, ("", None))[1],
                )
                for p in months
            )
            out.append(replace(f, since=period_label(since, self.lang), spark=spark))
        return out

    def _loss_summary(self, losses: Mapping[str, Loss], score: float | None) -> dict[str, Any]:
        if score is None:
            return {}
        lang = self.lang
        parts: dict[str, float] = {}
        dims: dict[str, float] = {}
        for x in losses.values():
            parts[x.part] = parts.get(x.part, 0.0) + x.points
            dims[x.dimension] = dims.get(x.dimension, 0.0) + x.points
        top = sorted(losses.values(), key=lambda x: (-x.exact, x.rule))[:5]
        return {
            "lost": round(100.0 - score, 2),
            "loss_parts": tuple(
                Bar(p, tr(lang, f"part_{p}"), round(parts.get(p, 0.0), 2)) for p in self.cfg.parts
            ),
            "loss_dims": tuple(Bar(d, tr(lang, f"dim_{d}"), round(dims.get(d, 0.0), 2)) for d in DIMENSIONS),
            "top_fixes": tuple(
                TopFix(
                    x.rule,
                    (x.title_zh if lang == "zh" else x.title_en) or x.title_zh or x.rule,
                    x.table,
                    x.points,
                    tr(lang, "gain_points", points=f"{x.points:.2f}"),
                )
                for x in top
            ),
        }

    def _trend(self, unit_id: str) -> tuple[TrendPoint, ...]:
        if self.history.is_empty():
            return ()
        rows = self.history.filter(pl.col("unit_id") == unit_id).sort("period")
        flagged = flagged_periods(self.flags, unit_id)
        return tuple(
            TrendPoint(
                r["period"],
                period_label(r["period"], self.lang),
                r["score"] if r.get("status") == UnitStatus.OK else None,
                r["period"] == self.period,
                r["period"] in flagged,
            )
            for r in rows.iter_rows(named=True)
        )

    def _rules(self, unit_id: str, res: list[dict[str, Any]], losses: Mapping[str, Loss] | None = None):
        lang = self.lang
        prev_period, prev = previous_results(self.store, self.period, unit_id)
        has_prev = prev_period is not None and not prev.is_empty()
        classes = classify_changes(res, prev.to_dicts() if has_prev else None)
        change_of = {r: k for k in ("new", "persisting") for r in classes[k]}
        losses = losses or {}
        failing = sort_failing(
            _failing_rule(
                r, change_of.get(r["rule"]) if has_prev else None, self.cat, lang, losses.get(r["rule"])
            )
            for r in res
            if r.get("status") in FAILING
        )
        not_run = [RuleRef(r["rule"], rule_title(r, lang)) for r in res if r.get("status") == Status.ERROR]
        if not has_prev:
            return failing, not_run, Changes(None, tr(lang, "changes_none"))
        titles = {r["rule"]: rule_title(r, lang) for r in prev.to_dicts()} | {
            r["rule"]: rule_title(r, lang) for r in res
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
