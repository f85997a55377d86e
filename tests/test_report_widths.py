"""The reports at phone width (390 px) and desktop width (1280 px) in headless Chromium: no page
wider than the screen (wide tables and charts scroll inside their box), chart text no smaller
than 9 px on screen, no table header broken one character a line; and the index's filters work
with JavaScript and every row shows without it.

A real synthetic campaign (scale 0.001, a few units), as in tests/test_campaign_browser.py.
"""

from __future__ import annotations

import pytest
from test_report_browser import CHROMIUM, Browser

from dq.batch.local import score_batch
from dq.report.files import render_campaign_file, render_period
from dq.store.history import Store
from dq.synth import generate

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"
)

UNITS = ["D03", "D04", "H004", "H009", "H021", "H022"]
WIDTHS = (390, 1280)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("widths")
    store, out = Store(root / "history"), root / "reports"
    for period, profile in (("2020-08", "before"), ("2020-09", "after")):
        generate(root / "batch", period, scale=0.001, seed=3, profile=profile, units=UNITS, progress=False)
        score_batch(root / "batch", period, store, progress=False, fix_rows=20)
        render_period(store, period, out, echo=None)
    campaign = render_campaign_file(store, "2020-08", "2020-09", out)[0]
    return {
        "campaign": campaign,
        "index": out / "2020-09" / "index.html",
        "unit": out / "2020-08" / "H004.html",
    }


MEASURE = """(() => {
  const doc = document.documentElement;
  const small = [...document.querySelectorAll('svg.chart text')]
    .filter(t => t.getClientRects().length && getComputedStyle(t).display !== 'none')
    .map(t => t.getBoundingClientRect().height)
    .filter(h => h > 0 && h < 9);
  const broken = [...document.querySelectorAll('th')]
    .filter(th => th.getClientRects().length)
    .filter(th => {
      const lh = parseFloat(getComputedStyle(th).lineHeight) || 18;
      const text = th.textContent.trim();
      return text.length > 2 && th.getBoundingClientRect().height > 3.5 * lh;
    }).map(th => th.textContent.trim());
  return {overflow: doc.scrollWidth - doc.clientWidth, small: small.length, broken};
})()"""


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("page", ["campaign", "index", "unit"])
def test_readable_at_phone_and_desktop_width(site, tmp_path, page, width):
    browser = Browser(tmp_path / "profile")
    try:
        s = browser.open(site[page].resolve().as_uri(), width=width, height=900)
        assert browser.problems(s) == []
        got = browser.evaluate(s, MEASURE)
        assert got["overflow"] <= 1, got  # the page itself never scrolls sideways
        assert got["small"] == 0, got
        assert got["broken"] == [], got
    finally:
        browser.close()


def test_index_filters_with_and_without_javascript(site, tmp_path):
    index = site["index"]
    html = index.read_text(encoding="utf-8")
    # without JavaScript: the filter form is hidden and every unit's row is in the page
    assert 'id="filters" hidden' in html
    for uid in UNITS:
        assert f"{uid}.html" in html
    browser = Browser(tmp_path / "profile")
    try:
        s = browser.open(index.resolve().as_uri(), width=1280)
        visible = (
            "[...document.querySelectorAll('section.unit-group tbody tr')]"
            ".filter(r => !r.hidden && r.closest('section').hidden === false)"
            ".map(r => r.dataset.name.split(' ').pop())"
        )
        assert browser.evaluate(s, "document.getElementById('filters').hidden") is False
        assert sorted(browser.evaluate(s, visible)) == sorted(UNITS)

        def choose(el: str, value: str) -> None:
            browser.evaluate(
                s,
                f"(() => {{ const e = document.getElementById({el!r}); e.value = {value!r};"
                " e.dispatchEvent(new Event(e.tagName === 'INPUT' ? 'input' : 'change')); })()",
            )

        choose("f-kind", "district")
        assert sorted(browser.evaluate(s, visible)) == ["D03", "D04"]
        choose("f-kind", "")
        district = browser.evaluate(s, "document.querySelector('tr[data-name*=\"H004\"]').dataset.district")
        choose("f-district", district)
        rows = browser.evaluate(
            s,
            f"[...document.querySelectorAll('tr[data-district=\"{district}\"]')]"
            ".map(r => r.dataset.name.split(' ').pop())",
        )
        assert sorted(browser.evaluate(s, visible)) == sorted(rows)
        choose("f-district", "")
        grade = browser.evaluate(s, "document.querySelector('tr[data-name*=\"H009\"]').dataset.grade")
        choose("f-grade", grade)
        got = browser.evaluate(s, visible)
        assert "H009" in got and all(
            browser.evaluate(s, f"document.querySelector('tr[data-name*=\"{u}\"]').dataset.grade") == grade
            for u in got
        )
        choose("f-grade", "")
        choose("f-search", "h02")
        assert browser.evaluate(s, visible) == ["H021", "H022"] or sorted(browser.evaluate(s, visible)) == [
            "H021",
            "H022",
        ]
        assert browser.problems(s) == []
    finally:
        browser.close()
