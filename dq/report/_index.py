"""The index view: every unit of a period, grouped by kind (:func:`build_index`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from dq.engine.checks import DIMENSIONS
from dq.report._common import FAILING, KINDS_ORDER, grade_name, kind_label, report_filename
from dq.report._history import drop_units
from dq.report._unit import PeriodData, uploaded_nothing
from dq.report.data import registry_order
from dq.report.i18n import dimension_label, period_label, tr
from dq.scoring.scores import UnitStatus, district_rollup, rank_units


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
    history_drop: bool = False  # a metric fell below the unit's history
    change: float | None = None  # score − the unit's score of its previous scored period
    kind: str = ""
    dims: tuple[float | None, ...] = ()  # per dimension (DIMENSIONS order); None = not assessed


@dataclass(frozen=True)
class IndexGroup:
    kind: str
    label: str
    rows: tuple[IndexRow, ...]
    mean: float | None
    of: int
    grades: tuple[tuple[str, int], ...] = ()  # (grade, units) A–D


@dataclass(frozen=True)
class IndexDistrict:
    """A district of the month: its platform's score and its hospitals' count and mean."""

    district: str
    platform_id: str | None
    platform_href: str | None
    platform_score: float | None
    hospitals: int
    hospital_mean: float | None


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
    previous: tuple[str, str] | None = None  # (label, href) of the previous month's index
    next: tuple[str, str] | None = None  # (label, href) of the next month's index
    districts: tuple[IndexDistrict, ...] = ()  # in the registry's order
    dimensions: tuple[tuple[str, str], ...] = ()  # (key, label) of the dimension columns

    @property
    def district_names(self) -> tuple[str, ...]:
        names = [d.district for d in self.districts]
        extra = sorted({r.district for g in self.groups for r in g.rows if r.district} - set(names))
        return tuple(names + extra)


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
        drops = drop_units(res)
        if not res.is_empty():
            counts = res.filter(pl.col("status").is_in(FAILING)).group_by("unit_id").len()
            failing = dict(counts.iter_rows())
        prev = _previous_scores(data)
        dim_scores: dict[tuple[str, str], float | None] = {
            (r["unit_id"], r["facet"]): r["score"]
            for r in data.facets.filter(pl.col("facet").is_in(list(DIMENSIONS))).iter_rows(named=True)
        }
        nothing = set()
        if not data.summaries.is_empty():
            nothing = {r["unit_id"] for r in data.summaries.iter_rows(named=True) if uploaded_nothing(r)}
        ranked = rank_units(
            overall.with_columns(
                pl.when(pl.col("status") == UnitStatus.OK)
                .then(pl.col("score"))
                .otherwise(None)
                .alias("score"),
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
                ok = r["status"] == UnitStatus.OK
                n += 1
                errors += not ok
                rows.append(
                    IndexRow(
                        unit_id=r["unit_id"],
                        href=report_filename(r["unit_id"]),
                        unit_name=str(r["unit_name"] or r["unit_id"]),
                        district=str(r["district"] or ""),
                        status=UnitStatus.OK if ok else UnitStatus.ERROR,
                        status_label=tr(lang, "status_ok" if ok else "status_unreadable"),
                        score=r["score"],
                        grade=str(r["grade"] or "") if ok else "",
                        grade_label=grade_name(r["grade"], lang) if ok else "",
                        rank=r["rank"],
                        submission=parts.get((r["unit_id"], "part:submission")) if ok else None,
                        records=parts.get((r["unit_id"], "part:records")) if ok else None,
                        failing=failing.get(r["unit_id"], 0) if ok else 0,
                        history_drop=ok and r["unit_id"] in drops,
                        change=(
                            round(r["score"] - prev[r["unit_id"]], 2)
                            if ok and r["score"] is not None and prev.get(r["unit_id"]) is not None
                            else None
                        ),
                        kind=kind,
                        dims=tuple(
                            None if not ok or r["unit_id"] in nothing else dim_scores.get((r["unit_id"], d))
                            for d in DIMENSIONS
                        ),
                    )
                )
            scored = [x.score for x in rows if x.score is not None]
            mean = round(sum(scored) / len(scored), 2) if scored else None
            by_grade = {g: sum(1 for x in rows if x.grade == g) for g in ("A", "B", "C", "D")}
            groups.append(
                IndexGroup(
                    kind,
                    kind_label(kind, lang, plural=True),
                    tuple(rows),
                    mean,
                    len(scored),
                    tuple(by_grade.items()),
                )
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
        districts=_districts(data),
        dimensions=tuple((d, dimension_label(d, lang)) for d in DIMENSIONS),
        **_neighbours(data),
    )


def _districts(data: PeriodData) -> tuple[IndexDistrict, ...]:
    """Per district in the registry's order (others after), the platform's score and the
    number and mean of its hospitals scored this month."""
    ok = (
        data.overall.filter(pl.col("status") == UnitStatus.OK)
        if not data.overall.is_empty()
        else data.overall
    )
    if ok.is_empty():
        return ()
    roll = district_rollup(ok.select("unit_id", "unit_name", "kind", "district", "score"))
    order = registry_order()
    rows = sorted(
        (r for r in roll.iter_rows(named=True) if r["district"]),
        key=lambda r: (order.get(r["district"], len(order)), r["district"]),
    )
    return tuple(
        IndexDistrict(
            r["district"],
            r["platform_id"],
            report_filename(r["platform_id"]) if r["platform_id"] else None,
            r["platform_score"],
            int(r["hospitals_scored"] or 0),
            r["hospital_mean"],
        )
        for r in rows
    )


def _previous_scores(data: PeriodData) -> dict[str, float | None]:
    """Each unit's overall score in its latest scored period before this one."""
    h = data.history
    if h.is_empty():
        return {}
    earlier = h.filter((pl.col("period") < data.period) & (pl.col("status") == UnitStatus.OK))
    if earlier.is_empty():
        return {}
    last = earlier.sort("period").group_by("unit_id").agg(pl.col("score").last())
    return dict(last.iter_rows())


def _neighbours(data: PeriodData) -> dict[str, tuple[str, str] | None]:
    """Links to the index pages of the stored months just before and after this one."""
    periods = data.store.periods()
    before = [p for p in periods if p < data.period]
    after = [p for p in periods if p > data.period]
    link = lambda p: (period_label(p, data.lang), f"../{p}/index.html")  # noqa: E731
    return {"previous": link(before[-1]) if before else None, "next": link(after[0]) if after else None}
