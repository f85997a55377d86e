"""The campaign view: two periods or two runs, before and after (:func:`build_campaign`).

Every points figure on the page is in **overall-score points** (the unit's 0–100 score, as in
``dq explain`` and the unit report): a rule's loss of a unit is its share of ``100 − score``
(:func:`dq.scoring.explain.rule_losses`), never the rule's own points.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from dq.engine.results import Status
from dq.errors import InputError, UsageError
from dq.report._common import (
    FAILING,
    KINDS_ORDER,
    generated_now,
    growth,
    kind_label,
    kind_of,
    report_filename,
)
from dq.report.data import (
    Side,
    registry_order,
    resolve_side,
    side_facets,
    side_results,
    side_scores,
    side_summaries,
)
from dq.report.i18n import dimension_label
from dq.scoring.scores import ScoringConfig, district_rollup, grade_for, load_scoring
from dq.store.history import Store

# The 2020 newsletter's figures for the city's first campaign (average growth of the units'
# scores, per kind): what `dq demo` compares its synthetic campaign with.
NEWSLETTER_GROWTH = {"district": 26.01, "hospital": 42.49}
GRADES = ("A", "B", "C", "D")


@dataclass(frozen=True)
class RuleGain:
    """A rule's points regained over the units scored on it in both runs, in overall-score
    points: ``lost_before`` and ``lost_after`` are sums over those units, ``per_unit`` is
    ``regained / units``."""

    rule: str
    title: str
    units: int  # units scored on the rule in both runs
    lost_before: float
    lost_after: float
    regained: float
    fail_to_pass: int
    pass_to_fail: int
    per_unit: float = 0.0


def with_losses(
    results: pl.DataFrame, scores: Mapping[str, float], cfg: ScoringConfig | None = None
) -> pl.DataFrame:
    """``results`` with a ``loss`` column: each rule's loss of its unit in overall-score points
    (:func:`dq.scoring.explain.rule_losses`, adding up to ``100 − score``); 0 for a rule that lost
    nothing, null for one not scored. Units without a score in ``scores`` keep null losses."""
    from dq.scoring.explain import rule_losses

    if results.is_empty():
        return results.with_columns(pl.lit(None, pl.Float64).alias("loss"))
    cfg = cfg or load_scoring()
    rows = []
    for (uid,), part in results.group_by("unit_id", maintain_order=True):
        score = scores.get(str(uid))
        if score is None:
            continue
        for x in rule_losses(part.to_dicts(), float(score), cfg):
            rows.append((str(uid), x.rule, x.exact))
    lost = pl.DataFrame(
        rows, schema={"unit_id": pl.String, "rule": pl.String, "_loss": pl.Float64}, orient="row"
    )
    out = results.join(lost, on=["unit_id", "rule"], how="left")
    scored = pl.col("points").is_not_null() & pl.col("unit_id").is_in(list(scores))
    return out.with_columns(
        pl.when(scored).then(pl.col("_loss").fill_null(0.0)).otherwise(None).alias("loss")
    ).drop("_loss")


def rule_gains(before: pl.DataFrame, after: pl.DataFrame, lang: str, limit: int = 10) -> list[RuleGain]:
    """Rules ordered by overall-score points regained, then by units gone from fail to pass.

    The frames carry a ``loss`` column (:func:`with_losses`). Only (unit, rule) pairs scored in
    both runs count (loss not null in both). A rule appears if it regained points or more units
    went from fail to pass than from pass to fail.
    """
    cols = ["unit_id", "rule", "status", "loss", "title_zh", "title_en"]
    if before.is_empty() or after.is_empty():
        return []
    b = before.select(cols).filter(pl.col("loss").is_not_null())
    a = after.select(cols).filter(pl.col("loss").is_not_null())
    both = b.join(a, on=["unit_id", "rule"], suffix="_a")
    if both.is_empty():
        return []
    agg = (
        both.with_columns(
            (pl.col("status").is_in(FAILING) & (pl.col("status_a") == Status.PASS)).alias("f2p"),
            ((pl.col("status") == Status.PASS) & pl.col("status_a").is_in(FAILING)).alias("p2f"),
        )
        .group_by("rule")
        .agg(
            pl.len().alias("units"),
            pl.col("loss").sum().alias("lb"),
            pl.col("loss_a").sum().alias("la"),
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
                round(r["regained"] / r["units"], 2),
            )
        )
    return out


@dataclass(frozen=True)
class NewLoss:
    """A rule that costs a unit more after than before (overall-score points)."""

    rule: str
    title: str
    before: float
    after: float

    @property
    def more(self) -> float:
        return round(self.after - self.before, 2)


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
    grade_before: str = ""
    grade_after: str = ""
    no_upload_before: bool = False  # the unit uploaded no data at all before
    contribution: float | None = None  # rel_change / units in the kind's average: its share of it
    new_losses: tuple[NewLoss, ...] = ()  # units that fell: the three rules that cost most more


@dataclass(frozen=True)
class DimensionMean:
    """A quality dimension's mean score over the kind's units assessed on it on each side."""

    key: str
    label: str
    before: float | None
    after: float | None
    n_before: int
    n_after: int

    @property
    def change(self) -> float | None:
        return None if self.before is None or self.after is None else round(self.after - self.before, 2)


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
    mean_change: float | None = None  # mean of the units' changes (= mean after − mean before)
    median_growth: float | None = None  # median of the units' relative changes, %
    no_upload: int = 0  # units that uploaded nothing before
    growth_without_no_upload: float | None = None  # the per-unit average without those units
    # grades before → after: {before grade: {after grade: units}}
    grades: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    dimensions: tuple[DimensionMean, ...] = ()

    @property
    def no_upload_share(self) -> float | None:
        """Points of the per-unit average growth that the no-upload units contribute."""
        if self.growth_per_unit is None:
            return None
        return round(sum(u.contribution or 0.0 for u in self.units if u.no_upload_before), 2)


@dataclass(frozen=True)
class DistrictRow:
    """A district: its platform's score and its hospitals' mean, before and after."""

    district: str
    platform_id: str | None
    platform_before: float | None
    platform_after: float | None
    hospitals: int  # hospitals of the district scored on both sides
    hospitals_before: float | None
    hospitals_after: float | None

    @property
    def platform_change(self) -> float | None:
        return _diff(self.platform_before, self.platform_after)

    @property
    def hospitals_change(self) -> float | None:
        return _diff(self.hospitals_before, self.hospitals_after)


def _diff(b: float | None, a: float | None) -> float | None:
    return None if b is None or a is None else round(a - b, 2)


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
    districts: tuple[DistrictRow, ...] = ()
    sources: tuple[str, ...] = ()  # run sources compared (batch, published)

    @property
    def districts_without_hospitals(self) -> tuple[str, ...]:
        return tuple(d.district for d in self.districts if not d.hospitals)

    def figures(self) -> dict:
        """Everything the page shows, as numbers -- what ``dq report campaign --format json``
        prints (docs/json.md)."""
        from dq.engine.results import SCHEMA_VERSION

        return {
            "schema_version": SCHEMA_VERSION,
            "before": self.before_period,
            "after": self.after_period,
            "sources": list(self.sources),
            "points": "overall-score points",
            "kinds": {k.kind: _kind_figures(k) for k in self.kinds},
            "rules": [
                {
                    "rule": g.rule,
                    "title": g.title,
                    "units": g.units,
                    "lost_before": g.lost_before,
                    "lost_after": g.lost_after,
                    "regained": g.regained,
                    "regained_per_unit": g.per_unit,
                    "fail_to_pass": g.fail_to_pass,
                    "pass_to_fail": g.pass_to_fail,
                }
                for g in self.rules
            ],
            "regressed": [_unit_figures(u) for u in self.regressed],
            "districts": [
                {
                    "district": d.district,
                    "platform_id": d.platform_id,
                    "platform_before": d.platform_before,
                    "platform_after": d.platform_after,
                    "platform_change": d.platform_change,
                    "hospitals": d.hospitals,
                    "hospitals_before": d.hospitals_before,
                    "hospitals_after": d.hospitals_after,
                    "hospitals_change": d.hospitals_change,
                }
                for d in self.districts
            ],
            "districts_without_hospitals": list(self.districts_without_hospitals),
            "only_one": [_unit_figures(u) for u in self.only_one],
        }


def _unit_figures(u: CampaignUnit) -> dict[str, Any]:
    out: dict[str, Any] = {
        "unit_id": u.unit_id,
        "unit_name": u.unit_name,
        "kind": u.kind,
        "district": u.district or None,
        "before": u.before,
        "after": u.after,
        "grade_before": u.grade_before or None,
        "grade_after": u.grade_after or None,
        "change": u.change,
        "rel_change": u.rel_change,
        "no_upload_before": u.no_upload_before,
        "contribution": u.contribution,
    }
    if u.new_losses:
        out["new_losses"] = [
            {"rule": x.rule, "title": x.title, "before": x.before, "after": x.after, "more": x.more}
            for x in u.new_losses
        ]
    return out


def _kind_figures(k: KindGrowth) -> dict[str, Any]:
    return {
        "units": k.n,
        "units_in_growth": k.n_growth,
        "mean_before": k.mean_before,
        "mean_after": k.mean_after,
        "mean_change": k.mean_change,
        "growth_per_unit": k.growth_per_unit,
        "growth_of_mean": k.growth_of_mean,
        "median_growth": k.median_growth,
        "no_upload_before": k.no_upload,
        "no_upload_contribution": k.no_upload_share,
        "growth_without_no_upload": k.growth_without_no_upload,
        "improved": k.improved,
        "regressed": k.regressed,
        "grades": {g: dict(row) for g, row in k.grades.items()},
        "dimensions": {
            d.key: {
                "before": d.before,
                "after": d.after,
                "change": d.change,
                "units_before": d.n_before,
                "units_after": d.n_after,
            }
            for d in k.dimensions
        },
        "units_detail": [_unit_figures(u) for u in k.units],
    }


def check_sides(store: Store, before: Side, after: Side, sources: set[str], mixed: bool = False) -> None:
    """Refuse a campaign whose before is not earlier than its after, or one that compares
    published scores with batch scores (unless ``mixed``): :class:`dq.errors.UsageError`."""
    if before.period > after.period:
        raise UsageError(f"the campaign's before ({before.period}) is later than its after ({after.period})")
    if before.period == after.period:
        earlier = False
        if before.run_id and after.run_id and before.run_id != after.run_id:
            runs = store.runs()
            started = dict(runs.select("run_id", "started_at").iter_rows())
            earlier = started.get(before.run_id) is not None and started[before.run_id] < started.get(
                after.run_id, started[before.run_id]
            )
        if not earlier:
            raise UsageError(
                f"the campaign's before and after are both {before.period}: give two periods, "
                "or two runs of the period, the earlier first"
            )
    known = {s for s in sources if s}
    if len(known) > 1 and not mixed:
        raise UsageError(
            f"{store.root}: the campaign would compare {' and '.join(sorted(known))} scores; "
            "keep them in separate stores, or pass --mixed to compare them anyway"
        )


def no_upload_units(summaries: pl.DataFrame) -> set[str]:
    """Units whose submission summary shows no data at all (data volume 0 and no table)."""
    if summaries.is_empty() or "data_volume" not in summaries.columns:
        return set()
    vol = pl.col("data_volume").fill_null(0) == 0
    if "uploaded_tables" in summaries.columns:
        vol = vol & (pl.col("uploaded_tables").fill_null(0) == 0)
    return set(summaries.filter(vol)["unit_id"].cast(pl.String).to_list())


def grade_table(units: Sequence[CampaignUnit]) -> dict[str, dict[str, int]]:
    """{grade before: {grade after: units}} over every grade, zeros included."""
    out = {g: dict.fromkeys(GRADES, 0) for g in GRADES}
    for u in units:
        if u.grade_before in out and u.grade_after in out[u.grade_before]:
            out[u.grade_before][u.grade_after] += 1
    return out


def dimension_means(
    facets_b: pl.DataFrame, facets_a: pl.DataFrame, ids: Sequence[str], skip_before: set[str], lang: str
) -> tuple[DimensionMean, ...]:
    """Per quality dimension, the mean score of ``ids`` on each side over the units assessed on
    it (a null dimension is not assessed; a unit that uploaded nothing is not assessed on any
    dimension of that side -- its rate checks pass trivially)."""
    from dq.engine.results import DIMENSIONS

    def means(f: pl.DataFrame, skip: set[str]) -> dict[str, tuple[float | None, int]]:
        if f.is_empty():
            return {}
        sub = f.filter(
            pl.col("unit_id").is_in(list(ids))
            & ~pl.col("unit_id").is_in(list(skip))
            & pl.col("score").is_not_null()
        )
        agg = sub.group_by("facet").agg(pl.col("score").mean().alias("m"), pl.len().alias("n"))
        return {r["facet"]: (round(r["m"], 2), int(r["n"])) for r in agg.iter_rows(named=True)}

    mb, ma = means(facets_b, skip_before), means(facets_a, set())
    out = []
    for d in DIMENSIONS:
        b, a = mb.get(d, (None, 0)), ma.get(d, (None, 0))
        if b[1] or a[1]:
            out.append(DimensionMean(d, dimension_label(d, lang), b[0], a[0], b[1], a[1]))
    return tuple(out)


def new_losses(
    rb: pl.DataFrame, ra: pl.DataFrame, unit_id: str, lang: str, n: int = 3
) -> tuple[NewLoss, ...]:
    """The ``n`` rules whose loss (overall-score points) grew most from before to after."""
    cols = ["rule", "loss", "title_zh", "title_en"]

    def mine(df: pl.DataFrame) -> dict[str, dict[str, Any]]:
        if df.is_empty():
            return {}
        sub = df.filter((pl.col("unit_id") == unit_id) & pl.col("loss").is_not_null()).select(cols)
        return {r["rule"]: r for r in sub.iter_rows(named=True)}

    b, a = mine(rb), mine(ra)
    grew = []
    for rule, r in a.items():
        before = b.get(rule, {}).get("loss") or 0.0
        if r["loss"] - before > 0.005:
            title = (r["title_zh"] if lang == "zh" else r["title_en"]) or r["title_zh"] or rule
            grew.append(
                (
                    -(r["loss"] - before),
                    rule,
                    NewLoss(rule, str(title), round(before, 2), round(r["loss"], 2)),
                )
            )
    grew.sort(key=lambda x: (x[0], x[1]))
    return tuple(x[2] for x in grew[:n])


def _no_scores(store: Store, spec: str, side: Side) -> str:
    """Why a campaign side has nothing to compare: the period (or run) named, and the periods
    the store does hold."""
    if side.run_id is not None:
        return f"{spec}: run {side.run_id} (of {side.period}) has no unit scored in {store.root}"
    runs = store.runs()
    known = sorted(set(runs["period"].drop_nulls().to_list())) if not runs.is_empty() else []
    held = f"periods in the store: {', '.join(known[-12:])}" if known else "the store holds no scores yet"
    return f"no scores for period {side.period} in {store.root} ({held}; run `dq score` first)"


def build_campaign(
    store: Store,
    before: str,
    after: str,
    lang: str = "zh",
    *,
    mixed: bool = False,
    scoring: ScoringConfig | None = None,
) -> CampaignReport:
    """The campaign from ``before`` to ``after`` (periods YYYY-MM or run ids).

    Raises :class:`dq.errors.UsageError` when before is not earlier than after, or when the
    sides mix published and batch scores and ``mixed`` is false; :class:`dq.errors.InputError`
    naming the period (or run) when a side has no score in the store.
    """
    b_side, a_side = resolve_side(store, before, lang), resolve_side(store, after, lang)
    b, a = side_scores(store, b_side), side_scores(store, a_side)
    for spec, side, scores in ((before, b_side, b), (after, a_side, a)):
        if scores.is_empty():
            raise InputError(_no_scores(store, spec, side))
    sources = set(b["source"].drop_nulls().to_list()) | set(a["source"].drop_nulls().to_list())
    check_sides(store, b_side, a_side, sources, mixed)
    cfg = scoring or load_scoring()  # the project's grades and weights, where it has its own
    nothing = no_upload_units(side_summaries(store, b_side))
    joined = b.join(a, on="unit_id", how="full", coalesce=True, suffix="_a")
    scored_b = {r[0]: r[1] for r in joined.select("unit_id", "score").iter_rows() if r[1] is not None}
    scored_a = {r[0]: r[1] for r in joined.select("unit_id", "score_a").iter_rows() if r[1] is not None}
    ids = sorted(set(scored_b) & set(scored_a))
    rb, ra = side_results(store, b_side), side_results(store, a_side)
    rb = with_losses(rb.filter(pl.col("unit_id").is_in(ids)) if not rb.is_empty() else rb, scored_b, cfg)
    ra = with_losses(ra.filter(pl.col("unit_id").is_in(ids)) if not ra.is_empty() else ra, scored_a, cfg)
    units: list[CampaignUnit] = []
    for r in joined.iter_rows(named=True):
        kind = kind_of(r["kind_a"] or r["kind"])
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
                grade_before=grade_for(sb, cfg) or "",
                grade_after=grade_for(sa, cfg) or "",
                no_upload_before=sb is not None and r["unit_id"] in nothing,
                new_losses=new_losses(rb, ra, r["unit_id"], lang)
                if change is not None and change < 0
                else (),
            )
        )
    both = [u for u in units if u.change is not None]
    kinds = sorted({u.kind for u in both}, key=lambda k: (KINDS_ORDER.index(k) if k in KINDS_ORDER else 9, k))
    fb, fa = side_facets(store, b_side), side_facets(store, a_side)
    groups = []
    for kind in kinds:
        mine = [u for u in both if u.kind == kind]
        pairs = [(u.before, u.after) for u in mine]
        per_unit, of_mean, n_growth = growth(pairs)  # type: ignore[arg-type]
        rel = {u.unit_id: _rel(u) for u in mine}
        rels = [x for x in rel.values() if x is not None]
        mine = sorted(
            (_with(u, contribution=_share(rel[u.unit_id], n_growth)) for u in mine),
            key=lambda u: (-(u.change or 0), u.unit_id),
        )
        kept = [(u.before, u.after) for u in mine if not u.no_upload_before]
        without = growth(kept)[0] if len(kept) < len(mine) else per_unit  # type: ignore[arg-type]
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
                mean_change=round(ma - mb, 2),
                median_growth=round(statistics.median(rels), 2) if rels else None,
                no_upload=sum(1 for u in mine if u.no_upload_before),
                growth_without_no_upload=None if without is None else round(without, 2),
                grades=grade_table(mine),
                dimensions=dimension_means(fb, fa, [u.unit_id for u in mine], nothing, lang),
            )
        )
    rules = rule_gains(rb, ra, lang)
    final = [u for k in groups for u in k.units]
    regressed = sorted((u for u in final if (u.change or 0) < 0), key=lambda u: (u.change, u.unit_id))
    only = sorted((u for u in units if u.change is None), key=lambda u: (u.kind, u.unit_id))
    return CampaignReport(
        districts=_districts(b, a, set(ids)),
        sources=tuple(sorted(sources)),
        lang=lang,
        before=b_side.label,
        after=a_side.label,
        before_period=b_side.period,
        after_period=a_side.period,
        kinds=tuple(groups),
        rules=tuple(rules),
        regressed=tuple(regressed),
        only_one=tuple(only),
        generated_at=generated_now(),
    )


def _rel(u: CampaignUnit) -> float | None:
    """The unit's relative change, %, unrounded (None when before is 0 or missing)."""
    if not u.before or u.after is None:
        return None
    return (u.after - u.before) / u.before * 100


def _share(rel: float | None, n: int) -> float | None:
    return None if rel is None or not n else round(rel / n, 2)


def _with(u: CampaignUnit, **changes: Any) -> CampaignUnit:
    from dataclasses import replace

    return replace(u, **changes)


def _districts(b: pl.DataFrame, a: pl.DataFrame, both: set[str]) -> tuple[DistrictRow, ...]:
    """Per district in the registry's order (others after, by name), the platform's score and
    its hospitals' mean on each side (units scored on both sides only, so the two means cover
    the same hospitals)."""
    cols = ["unit_id", "unit_name", "kind", "district", "score"]
    rb = district_rollup(b.filter(pl.col("unit_id").is_in(list(both))).select(cols))
    ra = district_rollup(a.filter(pl.col("unit_id").is_in(list(both))).select(cols))
    if rb.is_empty() and ra.is_empty():
        return ()
    j = rb.join(ra, on="district", how="full", coalesce=True, suffix="_a")
    order = registry_order()
    rows = sorted(
        (r for r in j.iter_rows(named=True) if r["district"]),
        key=lambda r: (order.get(r["district"], len(order)), r["district"]),
    )
    out = []
    for r in rows:
        out.append(
            DistrictRow(
                district=str(r["district"]),
                platform_id=r["platform_id"] or r["platform_id_a"],
                platform_before=r["platform_score"],
                platform_after=r["platform_score_a"],
                hospitals=int(r["hospitals_scored"] or 0),
                hospitals_before=r["hospital_mean"],
                hospitals_after=r["hospital_mean_a"],
            )
        )
    return tuple(out)


def unit_href(period: str, unit_id: str) -> str:
    """Link from a campaign page (in the reports folder) to a unit's report of ``period``."""
    return f"{period}/{report_filename(unit_id)}"
