"""The campaign view: two periods or two runs, before and after (:func:`build_campaign`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from dq.report.common import FAILING, KINDS_ORDER, _kind, _now, growth, kind_label
from dq.report.data import resolve_side, side_results, side_scores
from dq.store import Store


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
    b, a = side_scores(store, b_side), side_scores(store, a_side)
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
    rb, ra = side_results(store, b_side), side_results(store, a_side)
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
