"""The campaign view: two periods or two runs, before and after (:func:`build_campaign`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from dq.errors import UsageError
from dq.report.common import FAILING, KINDS_ORDER, _kind, _now, growth, kind_label, report_filename
from dq.report.data import Side, resolve_side, side_results, side_scores
from dq.scoring.scores import district_rollup
from dq.store.history import Store

# The 2020 newsletter's figures for the city's first campaign (average growth of the units'
# scores, per kind): what `dq demo` compares its synthetic campaign with.
NEWSLETTER_GROWTH = {"district": 26.01, "hospital": 42.49}


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
class DistrictRow:
    """A district: its platform's score and its hospitals' mean, before and after."""

    district: str
    platform_id: str | None
    platform_before: float | None
    platform_after: float | None
    hospitals: int  # hospitals of the district scored on both sides
    hospitals_before: float | None
    hospitals_after: float | None


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

    def figures(self) -> dict:
        """Per kind: units compared, mean before and after, average per-unit growth (%) and
        growth of the mean (%) -- what ``dq report campaign --format json`` prints."""
        return {
            "before": self.before_period,
            "after": self.after_period,
            "sources": list(self.sources),
            "kinds": {
                k.kind: {
                    "units": k.n,
                    "units_in_growth": k.n_growth,
                    "mean_before": k.mean_before,
                    "mean_after": k.mean_after,
                    "growth_per_unit": k.growth_per_unit,
                    "growth_of_mean": k.growth_of_mean,
                    "improved": k.improved,
                    "regressed": k.regressed,
                }
                for k in self.kinds
            },
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


def build_campaign(
    store: Store, before: str, after: str, lang: str = "zh", *, mixed: bool = False
) -> CampaignReport:
    """The campaign from ``before`` to ``after`` (periods YYYY-MM or run ids).

    Raises :class:`dq.errors.UsageError` when before is not earlier than after, or when the
    sides mix published and batch scores and ``mixed`` is false.
    """
    b_side, a_side = resolve_side(store, before, lang), resolve_side(store, after, lang)
    b, a = side_scores(store, b_side), side_scores(store, a_side)
    sources = set(b["source"].drop_nulls().to_list()) | set(a["source"].drop_nulls().to_list())
    check_sides(store, b_side, a_side, sources, mixed)
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
        districts=_districts(b, a, {u.unit_id for u in both}),
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
        generated_at=_now(),
    )


def _districts(b: pl.DataFrame, a: pl.DataFrame, both: set[str]) -> tuple[DistrictRow, ...]:
    """Per district, the platform's score and its hospitals' mean on each side (units scored
    on both sides only, so the two means cover the same hospitals)."""
    cols = ["unit_id", "unit_name", "kind", "district", "score"]
    rb = district_rollup(b.filter(pl.col("unit_id").is_in(list(both))).select(cols))
    ra = district_rollup(a.filter(pl.col("unit_id").is_in(list(both))).select(cols))
    if rb.is_empty() and ra.is_empty():
        return ()
    j = rb.join(ra, on="district", how="full", coalesce=True, suffix="_a")
    out = []
    for r in j.sort("district").iter_rows(named=True):
        if not r["district"]:
            continue
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
