"""The campaign: growth figures per kind (library and `dq report campaign --format json`), the
refusals (before not earlier than after, published mixed with batch scores), the district view,
the per-unit chart with links, and a unit report's losses adding up to 100 − score.

A real synthetic campaign (scale 0.001, a few units): 2020-08 before governance, 2020-09 after.
"""

from __future__ import annotations

import json
import re

import polars as pl
import pytest

from dq.batch.local import score_batch, score_published
from dq.cli import main
from dq.errors import UsageError
from dq.report.campaign import build_campaign
from dq.report.files import render_campaign_file, render_period
from dq.report.model import PeriodData
from dq.store.history import Store
from dq.synth import generate

UNITS = ["D01", "D02", "D06", "H002", "H003", "H010", "H017", "H022"]


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    root = tmp_path_factory.mktemp("campaign")
    store = Store(root / "history")
    for period, profile in (("2020-08", "before"), ("2020-09", "after")):
        generate(root / "batch", period, scale=0.001, seed=5, profile=profile, units=UNITS, progress=False)
        score_batch(root / "batch", period, store, progress=False, fix_rows=50)
    return root, store


def _expected(store: Store) -> dict[str, dict[str, float]]:
    b = store.scores("2020-08").select("unit_id", "kind", pl.col("score").alias("b"))
    a = store.scores("2020-09").select("unit_id", pl.col("score").alias("a"))
    j = b.join(a, on="unit_id")
    out = {}
    for kind in ("district", "hospital"):
        k = j.filter(pl.col("kind") == kind)
        mb, ma = k["b"].mean(), k["a"].mean()
        out[kind] = {
            "units": k.height,
            "growth_per_unit": ((k["a"] - k["b"]) / k["b"] * 100).mean(),
            "growth_of_mean": (ma - mb) / mb * 100,
            "mean_before": mb,
            "mean_after": ma,
        }
    return out


def test_growth_figures_in_json(campaign, capsys):
    root, store = campaign
    args = ["report", "campaign", "--before", "2020-08", "--after", "2020-09", "--store", str(store.root)]
    assert main([*args, "--out", str(root / "r"), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    want = _expected(store)
    assert set(doc["kinds"]) == {"district", "hospital"}
    for kind, w in want.items():
        got = doc["kinds"][kind]
        assert got["units"] == w["units"]
        for key in ("growth_per_unit", "growth_of_mean", "mean_before", "mean_after"):
            assert got[key] == pytest.approx(w[key], abs=0.01), (kind, key)
    assert doc["sources"] == ["batch"]
    # governance helps: every kind grows on average
    assert all(doc["kinds"][k]["growth_per_unit"] > 0 for k in doc["kinds"])


def test_before_must_be_earlier(campaign, capsys):
    _, store = campaign
    with pytest.raises(UsageError):
        build_campaign(store, "2020-09", "2020-08")
    with pytest.raises(UsageError):
        build_campaign(store, "2020-09", "2020-09")
    args = ["report", "campaign", "--before", "2020-09", "--after", "2020-08", "--store", str(store.root)]
    assert main(args) == 2
    assert "--before" in capsys.readouterr().err


def test_published_and_batch_are_not_mixed_unless_asked(tmp_path, campaign, capsys):
    root, _ = campaign
    store = Store(tmp_path / "h")
    score_batch(root / "batch", "2020-08", store, progress=False, fix_rows=0)
    score_published("2020-09", store)
    with pytest.raises(UsageError, match="--mixed"):
        build_campaign(store, "2020-08", "2020-09")
    report = build_campaign(store, "2020-08", "2020-09", mixed=True)
    assert report.sources == ("batch", "published")
    base = ["report", "campaign", "--before", "2020-08", "--after", "2020-09", "--store", str(store.root)]
    assert main([*base, "--out", str(tmp_path / "r")]) == 2
    assert main([*base, "--out", str(tmp_path / "r"), "--mixed"]) == 0
    capsys.readouterr()


def test_district_view(campaign):
    _, store = campaign
    report = build_campaign(store, "2020-08", "2020-09")
    rows = {d.district: d for d in report.districts}
    b = store.scores("2020-08")
    a = store.scores("2020-09")
    for uid in ("D01", "D02", "D06"):
        name, score_b = b.filter(pl.col("unit_id") == uid).select("unit_name", "score").row(0)
        score_a = a.filter(pl.col("unit_id") == uid)["score"][0]
        assert rows[name].platform_before == score_b and rows[name].platform_after == score_a
    hosp = b.filter(pl.col("kind") == "hospital")
    for district, group in hosp.group_by("district"):
        row = rows[district[0]]
        assert row.hospitals == group.height
        assert row.hospitals_before == pytest.approx(group["score"].mean(), abs=0.01)


def test_campaign_page_has_the_per_unit_chart_and_links(campaign):
    root, store = campaign
    out = root / "reports"
    for period in ("2020-08", "2020-09"):
        render_period(store, period, out, echo=None)
    page = render_campaign_file(store, "2020-08", "2020-09", out)[0].read_text(encoding="utf-8")
    charts = re.findall(r'<svg class="chart dumbbell".*?</svg>', page, flags=re.S)
    assert len(charts) == 2  # one per kind
    names = re.findall(r'<a href="2020-09/([^"]+)\.html"><text class="db-name', page)
    assert sorted(names) == sorted(UNITS)
    for name in names:
        assert (out / "2020-09" / f"{name}.html").exists()
    # sorted by change: the changes printed on the right decrease down the chart
    for svg in charts:
        changes = [
            float(x.replace("−", "-")) for x in re.findall(r'class="db-change [a-z]+"[^>]*>([+−][\d.]+)', svg)
        ]
        assert changes == sorted(changes, reverse=True)
    assert 'id="districts"' in page


def test_unit_report_losses_add_up(campaign):
    _, store = campaign
    data = PeriodData(store, "2020-08")
    for uid in data.unit_ids():
        r = data.unit(uid)
        if r.score is None:
            continue
        assert r.lost == pytest.approx(100 - r.score, abs=0.001)
        parts = sum(b.score for b in r.loss_parts)
        dims = sum(b.score for b in r.loss_dims)
        assert parts == pytest.approx(r.lost, abs=0.02) and dims == pytest.approx(r.lost, abs=0.02)
        assert len(r.top_fixes) <= 5
        assert [x.points for x in r.top_fixes] == sorted((x.points for x in r.top_fixes), reverse=True)
        failing = sum(f.loss for f in r.failing)
        assert failing <= r.lost + 0.01


def test_samples_show_blanks_and_round_binary_noise():
    from dq.io.catalogue import load_catalogue
    from dq.report.model import sample_table

    rows = [
        {"visit_id": "V1", "dept_code": "", "total_fee": -105.96000000000001},
        {"visit_id": "V2", "dept_code": "  "},
    ]
    zh = sample_table(rows, "outpatient_visit", load_catalogue(), "zh")
    assert zh.rows[0] == ("V1", "（空字符串）", "-105.96")
    assert zh.rows[1][:2] == ("V2", "（2 个空白字符）")
    en = sample_table(rows, "outpatient_visit", load_catalogue(), "en")
    assert en.rows[0][1] == "(empty string)" and en.rows[1][1] == "(2 blank characters)"


def test_text_greys_have_enough_contrast():
    """WCAG AA: text colours of the report (muted and faint greys) reach 4.5:1 on the page and
    card backgrounds."""
    from dq.report.render import TEMPLATES

    css = (TEMPLATES / "report.css").read_text(encoding="utf-8")
    var = dict(re.findall(r"--([a-z]+):\s*(#[0-9a-fA-F]{6})", css))

    def lum(hex_: str) -> float:
        rgb = [int(hex_[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    def contrast(a: str, b: str) -> float:
        hi, lo = sorted((lum(a), lum(b)), reverse=True)
        return (hi + 0.05) / (lo + 0.05)

    for text in ("ink", "muted", "faint"):
        for bg in ("bg", "card"):
            assert contrast(var[text], var[bg]) >= 4.5, (text, bg, round(contrast(var[text], var[bg]), 2))


def test_index_shows_change_and_links_neighbouring_months(campaign):
    from dq.report.model import build_index

    _, store = campaign
    before = dict(store.scores("2020-08").select("unit_id", "score").iter_rows())
    page = build_index(PeriodData(store, "2020-09"))
    rows = [r for g in page.groups for r in g.rows]
    assert {r.unit_id for r in rows} == set(UNITS)
    for r in rows:
        assert r.change == pytest.approx(r.score - before[r.unit_id], abs=0.011)
    assert page.previous == ("2020年8月", "../2020-08/index.html") and page.next is None
    first = build_index(PeriodData(store, "2020-08"))
    assert first.previous is None and first.next == ("2020年9月", "../2020-09/index.html")
    assert all(r.change is None for g in first.groups for r in g.rows)
