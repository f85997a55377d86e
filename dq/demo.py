"""`dq demo`: the main job end to end on the bundled data, for a first look.

1. scores the newsletters' published summaries of 2018-03 and 2020-09 and checks their tables;
2. generates a small synthetic city month before (2020-08) and after (2020-09) a data-quality
   campaign, with known defects;
3. audits and scores every unit of both months into a history store;
4. renders every unit report, the index pages and the campaign reports;
5. writes each unit's e-mail of 2020-09 as an .eml file (a dry run of ``dq send``).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["TARGET_POINTS", "growth_lines", "run_demo"]

BEFORE, AFTER = "2020-08", "2020-09"
PUBLISHED = ("2018-03", "2020-09")


def run_demo(
    out: str | Path = "demo",
    *,
    scale: float = 0.001,
    seed: int = 7,
    lang: str = "zh",
    fresh: bool = False,
    say: Callable[[str], None] | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Run the main job end to end into ``out``; return the paths of what a user opens first
    (and under ``growth`` the campaign's growth lines)."""
    from dq.batch.local import score_batch, score_published
    from dq.engine.results import FLAGGED
    from dq.io.outputs import ensure_dir
    from dq.report.files import campaign_report, render_campaign_file, render_period
    from dq.store.history import Store
    from dq.synth import generate

    out = Path(out)
    if fresh and out.exists():
        shutil.rmtree(out)
    ensure_dir(out)
    say = say or (lambda _msg: None)
    published = Store(out / "history-published")
    published_reports = out / "reports-published"
    for period in PUBLISHED:
        say(f"scoring the published summaries of {period}")
        outcome = score_published(period, published)
        for f in outcome.findings:
            if f.status in FLAGGED:
                say(f"  table finding {f.rule}: {f.message}")
        render_period(published, period, published_reports, lang=lang, echo=None)
    render_campaign_file(published, *PUBLISHED, published_reports, lang=lang)

    batch, store, reports = out / "batch", Store(out / "history"), out / "reports"
    for period, profile in ((BEFORE, "before"), (AFTER, "after")):
        if not (batch / period).exists():
            say(f"generating the synthetic batch {period} ({profile} the campaign, scale {scale:g})")
            generate(batch, period, scale=scale, seed=seed, profile=profile, progress=False)
        say(f"auditing and scoring {period}")
        outcome = score_batch(batch, period, store, progress=progress)
        say(f"  {len(outcome.units)} units, {outcome.rows:,} rows, {len(outcome.errors)} errors")
        render_period(store, period, reports, lang=lang, echo=None)
    report = campaign_report(store, BEFORE, AFTER, lang)
    campaign = render_campaign_file(store, BEFORE, AFTER, reports, lang=lang, report=report)[0]
    for line in growth_lines(report):
        say(line)
    say(f"writing each unit's e-mail of {AFTER} (dry run of dq send, example.org addresses)")
    from dq.delivery.send import demo_outbox

    outbox = demo_outbox(store, AFTER, reports, out, lang=lang)

    return {
        "published_index": published_reports / PUBLISHED[1] / "index.html",
        "published_campaign": published_reports / f"campaign_{PUBLISHED[0]}_{PUBLISHED[1]}.html",
        "synthetic_index": reports / AFTER / "index.html",
        "synthetic_campaign": Path(campaign),
        "history": store.root,
        "outbox": outbox,
        "growth": growth_lines(report),
    }


# The synthetic campaign is calibrated to land within this many percentage points of the
# newsletter's average per-unit growth (docs/campaign.md).
TARGET_POINTS = 5.0


def growth_lines(report) -> list[str]:
    """The synthetic campaign's average per-unit growth per kind next to the newsletter's,
    whether it is within :data:`TARGET_POINTS` of it, the same without the units that uploaded
    nothing before and the median, the grades before and the units worse."""
    from dq.report.campaign import NEWSLETTER_GROWTH
    from dq.scoring.scores import grade_for, load_scoring

    cfg = load_scoring()
    names = {"district": "districts", "hospital": "hospitals"}
    out = []
    for k in report.kinds:
        paper = NEWSLETTER_GROWTH.get(k.kind)
        got = "—" if k.growth_per_unit is None else f"{k.growth_per_unit:+.2f}%"
        ref = ""
        if paper is not None:
            ref = f", newsletter {paper:+.2f}%"
            if k.growth_per_unit is not None:
                gap = k.growth_per_unit - paper
                verdict = "within" if abs(gap) <= TARGET_POINTS else "NOT within"
                ref += f" ({gap:+.2f} points: {verdict} the ±{TARGET_POINTS:g}-point target)"
        grades: dict[str, int] = {}
        for u in k.units:
            g = grade_for(u.before, cfg)
            if g is not None:
                grades[g] = grades.get(g, 0) + 1
        spread = " ".join(f"{g} {grades[g]}" for g, _, _ in cfg.grades if g in grades) or "—"
        worse = sum(1 for u in k.units if u.change is not None and u.change < 0)
        honest = f"median {_pct(k.median_growth)}"
        if k.no_upload:
            honest = (
                f"without the {k.no_upload} unit{'' if k.no_upload == 1 else 's'} that uploaded nothing "
                f"before {_pct(k.growth_without_no_upload)} (they add {_two(k.no_upload_share)} points), "
                + honest
            )
        out.append(
            f"campaign {report.before_period} → {report.after_period}, {names.get(k.kind, k.kind)}: "
            f"average growth per unit {got}{ref}; {honest} ({k.n} units, "
            f"mean {_two(k.mean_before)} → {_two(k.mean_after)}; "
            f"grades before {spread}; {worse} unit{'' if worse == 1 else 's'} worse after)"
        )
    return out


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:+.2f}%"


def _two(value: float | None) -> str:
    """A mean score as the reports print it: two decimals, or a dash when there is none."""
    return "—" if value is None else f"{value:.2f}"
