"""Regenerate the example screenshots of the reports from the bundled published data.

    .venv/bin/python reports/examples/make_screenshots.py [--synthetic]

Scores the newsletters' published summaries of 2018-03 and 2020-09 (``datasets/nanjing``) into
a temporary history store, exactly as ``dq score --published`` does, renders the reports, and
takes one headless-Chromium screenshot (1200 × 2400) of each page type:

    unit.png       the unit report of 东南大学附属中大医院 (H008), 2020-09
    campaign.png   the campaign report 2018-03 → 2020-09
    index.png      the index of 2020-09

The published summaries have no record-level results (no samples) and no upload dates (no
calendar). ``--synthetic`` also writes ``unit_synthetic.png``: a hospital of a small
``dq synth`` batch, scored record by record, with the month's calendar and masked samples.
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--unit", default="H008", help="unit of the unit screenshot (default H008)")
    ap.add_argument("--out", type=Path, default=HERE, help="folder for the PNGs (default: this folder)")
    ap.add_argument("--synthetic", action="store_true", help="also unit_synthetic.png from a dq synth batch")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from dq.batch import score_batch, score_published
    from dq.report.files import render_campaign_file, render_period
    from dq.store import Store

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
        screenshot(chromium, reports / "campaign_2018-03_2020-09.html", args.out / "campaign.png", work / "p")
        screenshot(chromium, reports / "2020-09" / "index.html", args.out / "index.png", work / "p")
        if args.synthetic:
            from dq.synth.generate import generate

            syn, sstore = work / "synth", Store(work / "synth-history")
            for period, profile in (("2020-08", "before"), ("2020-09", "after")):
                generate(
                    syn,
                    period,
                    scale=0.0005,
                    seed=1,
                    profile=profile,
                    units=["H022", "H006", "D01"],
                    progress=False,
                )
                score_batch(syn, period, sstore, progress=False)
                render_period(sstore, period, work / "synth-reports", echo=None)
            screenshot(
                chromium,
                work / "synth-reports" / "2020-08" / "H022.html",
                args.out / "unit_synthetic.png",
                work / "p",
                "1200,3000",
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
