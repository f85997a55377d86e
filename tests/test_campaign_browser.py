"""The campaign and the calibrated unit reports in headless Chromium: the per-unit chart is drawn
and its unit names link to the unit reports, which load cleanly with their losses section and
rows-to-fix links; both pages print to PDF in a bounded number of A4 pages.

Uses the DevTools client of tests/test_report_browser.py on a real synthetic campaign
(scale 0.001, a few units).
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from test_report_browser import CHROMIUM, Browser

from dq.batch.local import score_batch
from dq.report.files import render_campaign_file, render_period
from dq.store.history import Store
from dq.synth import generate

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"
)

UNITS = ["D03", "H004", "H009", "H021"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("campaign-browser")
    store, out = Store(root / "history"), root / "reports"
    for period, profile in (("2020-08", "before"), ("2020-09", "after")):
        generate(root / "batch", period, scale=0.001, seed=3, profile=profile, units=UNITS, progress=False)
        score_batch(root / "batch", period, store, progress=False, fix_rows=20)
        render_period(store, period, out, echo=None)
    campaign = render_campaign_file(store, "2020-08", "2020-09", out)[0]
    return out, campaign


def _pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page[^s]", pdf))


def test_per_unit_chart_links_to_unit_reports(site, tmp_path):
    out, campaign = site
    browser = Browser(tmp_path / "profile")
    try:
        s = browser.open(campaign.resolve().as_uri())
        assert browser.problems(s) == []
        size = browser.evaluate(
            s, "[...document.querySelectorAll('svg.dumbbell')].map(e => e.getBoundingClientRect().width)"
        )
        assert len(size) == 2 and all(w > 300 for w in size)
        # every dot and line carries its value in a <title>
        untitled = browser.evaluate(
            s,
            "[...document.querySelectorAll('svg.dumbbell circle, svg.dumbbell line.db-link')]"
            ".filter(e => !e.querySelector('title')).length",
        )
        assert untitled == 0
        hrefs = browser.evaluate(
            s, "[...document.querySelectorAll('svg.dumbbell a')].map(a => a.href.baseVal)"
        )
        assert sorted(Path(h).stem for h in hrefs) == sorted(UNITS)
        # follow the first link as a reader would; forget the campaign page's own load event
        # first, or waiting for "the" load event returns at once, before the unit report loads
        loaded = ("Page.loadEventFired", s)
        browser.events = [e for e in browser.events if (e.get("method"), e.get("sessionId")) != loaded]
        browser.evaluate(s, "document.querySelector('svg.dumbbell a').dispatchEvent(new MouseEvent('click'))")
        browser.wait_event("Page.loadEventFired", s)
        here = browser.evaluate(s, "location.href")
        target = Path(unquote(urlparse(here).path))
        assert target.parent == (out / "2020-09").resolve() and target.stem in UNITS
        assert browser.problems(s) == []
        assert browser.evaluate(s, "!!document.querySelector('#losses')")
        links = browser.evaluate(
            s, "[...document.querySelectorAll('.fix-files a')].map(a => a.getAttribute('href'))"
        )
        for href in links:
            assert (target.parent / href).is_file()
        # a top fix links to its rule's card on the same page
        anchors = browser.evaluate(
            s, "[...document.querySelectorAll('.top-fixes a')].map(a => a.getAttribute('href'))"
        )
        for a in anchors:
            assert browser.evaluate(s, f"!!document.getElementById({a[1:]!r})")
    finally:
        browser.close()


def test_print_to_pdf_page_counts(site, tmp_path):
    out, campaign = site
    browser = Browser(tmp_path / "profile")
    try:
        counts = {}
        pages = (
            ("campaign", campaign),
            ("unit_before", out / "2020-08" / "H004.html"),
            ("unit_after", out / "2020-09" / "H004.html"),
        )
        for name, path in pages:
            s = browser.open(path.resolve().as_uri())
            pdf = base64.b64decode(browser.send("Page.printToPDF", {"preferCSSPageSize": True}, s)["data"])
            assert pdf.startswith(b"%PDF")
            counts[name] = _pages(pdf)
            assert browser.problems(s) == [], name
        # A4: the campaign of four units stays short; a unit report grows with its findings (one
        # card per failing rule), so the month before governance prints longer than the month after
        assert 1 <= counts["campaign"] <= 8, counts
        assert 1 <= counts["unit_after"] < counts["unit_before"] <= 30, counts
    finally:
        browser.close()


def test_calendar_is_a_week_grid(site, tmp_path):
    out, _ = site
    browser = Browser(tmp_path / "profile")
    try:
        s = browser.open((out / "2020-08" / "H004.html").resolve().as_uri())
        labels = browser.evaluate(
            s, "[...document.querySelectorAll('svg.calendar .cal-wd')].map(t => t.textContent)"
        )
        assert labels == list("一二三四五六日")
        cells = browser.evaluate(
            s,
            "[...document.querySelectorAll('svg.calendar rect')].map(r => "
            "[+r.getAttribute('x'), +r.getAttribute('y'), r.querySelector('title').textContent])",
        )
        assert len(cells) == 31  # August 2020
        # 2020-08-01 is a Saturday: day 1 sits under 六, day 3 (Monday) starts the next row
        xs = sorted({c[0] for c in cells})
        assert len(xs) == 7 and cells[0][0] == xs[5] and cells[2][0] == xs[0] and cells[2][1] > cells[0][1]
        assert all(c[2].split()[0] == str(i + 1) for i, c in enumerate(cells))
        assert browser.problems(s) == []
    finally:
        browser.close()
