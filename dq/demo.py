"""`dq demo`: the main job end to end on the bundled data, for a first look.

1. scores the newsletters' published summaries of 2018-03 and 2020-09 and checks their tables;
2. generates a small synthetic city month before (2020-08) and after (2020-09) a data-quality
   campaign, with known defects;
3. audits and scores every unit of both months into a history store;
4. renders every unit report, the index pages and the campaign reports.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

__all__ = ["configure_parser", "run"]

BEFORE, AFTER = "2020-08", "2020-09"
PUBLISHED = ("2018-03", "2020-09")


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="demo", help="output folder (default: demo)")
    p.add_argument("--scale", type=float, default=0.001, help="synthetic volume scale (default 0.001)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    p.add_argument("--fresh", action="store_true", help="delete OUT first")


def run(args: argparse.Namespace) -> int:
    from dq.batch import score_batch, score_published
    from dq.report.cli import render_campaign_file, render_period
    from dq.store import Store
    from dq.synth import generate

    out = Path(args.out)
    if args.fresh and out.exists():
        shutil.rmtree(out)
    t0 = time.perf_counter()

    def say(msg: str) -> None:
        print(f"[{time.perf_counter() - t0:6.1f}s] {msg}", file=sys.stderr)

    published = Store(out / "history-published")
    published_reports = out / "reports-published"
    for period in PUBLISHED:
        say(f"scoring the published summaries of {period}")
        outcome = score_published(period, published)
        for f in outcome.findings:
            if f.status in ("fail", "warn"):
                say(f"  table finding {f.rule}: {f.message}")
        render_period(published, period, published_reports, lang=args.lang, echo=None)
    render_campaign_file(published, *PUBLISHED, published_reports, lang=args.lang)

    batch, store, reports = out / "batch", Store(out / "history"), out / "reports"
    for period, profile in ((BEFORE, "before"), (AFTER, "after")):
        if not (batch / period).exists():
            say(f"generating the synthetic batch {period} ({profile} the campaign, scale {args.scale:g})")
            generate(batch, period, scale=args.scale, seed=args.seed, profile=profile, progress=False)
        say(f"auditing and scoring {period}")
        outcome = score_batch(batch, period, store, progress=sys.stderr.isatty())
        say(f"  {len(outcome.units)} units, {outcome.rows:,} rows, {len(outcome.errors)} errors")
        render_period(store, period, reports, lang=args.lang, echo=None)
    campaign = render_campaign_file(store, BEFORE, AFTER, reports, lang=args.lang)[0]

    print(f"published summaries: {published_reports / PUBLISHED[1] / 'index.html'}")
    print(f"published campaign:  {published_reports / f'campaign_{PUBLISHED[0]}_{PUBLISHED[1]}.html'}")
    print(f"synthetic month:     {reports / AFTER / 'index.html'}")
    print(f"synthetic campaign:  {campaign}")
    print(f"history:             {store.root} (dq history --store {store.root})")
    return 0
