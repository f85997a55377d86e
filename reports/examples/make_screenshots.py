"""Regenerate the example screenshots of the reports.

    .venv/bin/python reports/examples/make_screenshots.py

Takes one headless-Chromium screenshot (1200 wide) of each page type:

    unit.png            the unit report of 东南大学附属中大医院 (H008), 2020-09, scored from the
                        newsletters' published summaries (submission figures only)
    unit_synthetic.png  a hospital of the calibrated demo *before* the campaign (2020-08), the one
                        whose report shows most failing rules with samples (--synthetic-unit to
                        choose): where it loses points, the calendar, masked samples, rows to fix
    campaign.png        the demo's synthetic campaign 2020-08 → 2020-09 (per-unit chart, districts)
    index.png           the demo's index of 2020-09

The demo part runs :func:`dq.demo.run_demo` (scale 0.001, seed 7), exactly as ``dq demo`` does.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from dq.report.chromium import FLAGS, find_chromium

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def screenshot(chromium: str, page: Path, png: Path, profile: Path, size: str = "1200,2400") -> None:
    subprocess.run(
        [
            chromium,
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--screenshot={png}",
            f"--window-size={size}",
            page.resolve().as_uri(),
        ],
        check=True,
        timeout=120,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    print(png)


def richest_unit(store, period: str) -> str:
    """The hospital whose report of ``period`` shows most failing rules with masked samples (a
    unit that uploaded nothing has none), ties by unit id."""
    import polars as pl

    scores = store.scores(period).filter((pl.col("kind") == "hospital") & (pl.col("status") == "ok"))
    res = store.results(period).filter(
        pl.col("unit_id").is_in(scores["unit_id"].to_list())
        & pl.col("status").is_in(["fail", "warn"])
        & (pl.col("samples").fill_null("[]") != "[]")
    )
    counts = res.group_by("unit_id").len().sort(["len", "unit_id"], descending=[True, False])
    return counts["unit_id"][0] if counts.height else scores["unit_id"].sort()[0]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--unit", default="H008", help="unit of the unit screenshot (default H008)")
    ap.add_argument("--out", type=Path, default=HERE, help="folder for the PNGs (default: this folder)")
    ap.add_argument("--synthetic", action="store_true", help=argparse.SUPPRESS)  # kept: always done now
    ap.add_argument(
        "--synthetic-unit",
        default="auto",
        help="hospital of the record-level screenshot (default: most failing rules with samples)",
    )
    args = ap.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from dq.batch.local import score_published
    from dq.report.files import render_campaign_file, render_period
    from dq.store.history import Store

    chromium = find_chromium() or shutil.which("chromium-browser")
    if chromium is None:
        print("make_screenshots: chromium is not installed (apt-get install chromium fonts-noto-cjk)")
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dq-shots-") as tmp:
        work = Path(tmp)
        store, reports = Store(work / "history"), work / "reports"
        for period in ("2018-03", "2020-09"):
            score_published(period, store, root=REPO / "dq" / "data" / "nanjing")
            render_period(store, period, reports, echo=None)
        render_campaign_file(store, "2018-03", "2020-09", reports)
        screenshot(chromium, reports / "2020-09" / f"{args.unit}.html", args.out / "unit.png", work / "p")
        from dq.demo import run_demo

        paths = run_demo(work / "demo", scale=0.001, seed=7)
        synth = work / "demo" / "reports"
        unit = args.synthetic_unit
        if unit == "auto":
            unit = richest_unit(Store(work / "demo" / "history"), "2020-08")
        print(f"record-level example: {unit}")
        screenshot(
            chromium,
            synth / "2020-08" / f"{unit}.html",
            args.out / "unit_synthetic.png",
            work / "p",
            "1200,3000",
        )
        screenshot(
            chromium, Path(paths["synthetic_campaign"]), args.out / "campaign.png", work / "p", "1200,3000"
        )
        screenshot(chromium, synth / "2020-09" / "index.html", args.out / "index.png", work / "p")
    return 0


if __name__ == "__main__":
    sys.exit(main())
