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
    from dq.report._render import TEMPLATES

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


# ------------------------------------------------------------------- campaign page, round 2
def test_growth_story_contributions_no_upload_and_median(campaign):
    """Each unit's contribution is its relative change ÷ units; the units whose before batch
    had no table at all are flagged; the figures without them and the median are recomputed
    from the stored scores."""
    import statistics

    root, store = campaign
    report = build_campaign(store, "2020-08", "2020-09")
    nothing = {
        p.name for p in (root / "batch" / "2020-08").iterdir() if p.is_dir() and not list(p.glob("*.parquet"))
    }
    assert "H022" in nothing  # 江苏省口腔医院 uploaded nothing in 2018-03
    b = dict(store.scores("2020-08").select("unit_id", "score").iter_rows())
    a = dict(store.scores("2020-09").select("unit_id", "score").iter_rows())
    for k in report.kinds:
        ids = [u.unit_id for u in k.units]
        rel = {u: (a[u] - b[u]) / b[u] * 100 for u in ids}
        assert {u.unit_id for u in k.units if u.no_upload_before} == nothing & set(ids)
        for u in k.units:
            assert u.contribution == pytest.approx(rel[u.unit_id] / len(ids), abs=0.006)
        assert sum(u.contribution for u in k.units) == pytest.approx(k.growth_per_unit, abs=0.05)
        assert k.median_growth == pytest.approx(statistics.median(rel.values()), abs=0.006)
        kept = [rel[u] for u in ids if u not in nothing]
        assert k.growth_without_no_upload == pytest.approx(sum(kept) / len(kept), abs=0.006)
        assert k.no_upload_share == pytest.approx(
            sum(rel[u] for u in ids if u in nothing) / len(ids), abs=0.02
        )
    hosp = next(k for k in report.kinds if k.kind == "hospital")
    assert hosp.no_upload >= 1 and hosp.growth_without_no_upload < hosp.growth_per_unit


def test_grade_table_and_dimension_means(campaign):
    from dq.scoring.scores import grade_for, load_scoring

    _, store = campaign
    cfg = load_scoring()
    report = build_campaign(store, "2020-08", "2020-09")
    b = dict(store.scores("2020-08").select("unit_id", "score").iter_rows())
    a = dict(store.scores("2020-09").select("unit_id", "score").iter_rows())
    fb, fa = store.scores("2020-08", facet=None), store.scores("2020-09", facet=None)
    for k in report.kinds:
        ids = [u.unit_id for u in k.units]
        assert sum(n for row in k.grades.values() for n in row.values()) == len(ids)
        for u in ids:
            assert k.grades[grade_for(b[u], cfg)][grade_for(a[u], cfg)] >= 1
        skip = {u.unit_id for u in k.units if u.no_upload_before}
        for d in k.dimensions:
            sb = fb.filter(
                pl.col("unit_id").is_in(ids)
                & ~pl.col("unit_id").is_in(list(skip))
                & (pl.col("facet") == d.key)
            )
            sa = fa.filter(pl.col("unit_id").is_in(ids) & (pl.col("facet") == d.key))
            assert d.n_before == sb["score"].drop_nulls().len()
            assert d.before == pytest.approx(sb["score"].drop_nulls().mean(), abs=0.006)
            assert d.after == pytest.approx(sa["score"].drop_nulls().mean(), abs=0.006)
        assert {d.key for d in k.dimensions} >= {"completeness", "conformance"}


def test_rules_regained_in_overall_score_points(campaign):
    """A rule's points regained are the units' overall-score losses (dq explain) before minus
    after: never more than 100 per unit, and the same figures dq explain prints."""
    from dq.scoring.explain import unit_losses

    _, store = campaign
    report = build_campaign(store, "2020-08", "2020-09")
    assert report.rules
    ids = [u.unit_id for k in report.kinds for u in k.units]
    lost = {
        p: {u: {x.rule: x.exact for x in unit_losses(store, p, u).losses} for u in ids}
        for p in ("2020-08", "2020-09")
    }
    g = report.rules[0]
    before = sum(lost["2020-08"][u].get(g.rule, 0.0) for u in ids)
    after = sum(lost["2020-09"][u].get(g.rule, 0.0) for u in ids)
    assert g.lost_before == pytest.approx(before, abs=0.02) and g.lost_after == pytest.approx(after, abs=0.02)
    assert g.regained == pytest.approx(before - after, abs=0.02)
    assert g.per_unit == pytest.approx(g.regained / g.units, abs=0.01)


def test_units_that_fell_show_their_largest_new_losses(campaign):
    from dq.scoring.explain import unit_losses

    _, store = campaign
    report = build_campaign(store, "2020-08", "2020-09")
    for u in report.regressed:
        b = {x.rule: x.exact for x in unit_losses(store, "2020-08", u.unit_id).losses}
        a = {x.rule: x.exact for x in unit_losses(store, "2020-09", u.unit_id).losses}
        grew = sorted((-(a[r] - b.get(r, 0.0)), r) for r in a if a[r] - b.get(r, 0.0) > 0.005)
        assert [x.rule for x in u.new_losses] == [r for _, r in grew[:3]]
    assert all(not u.new_losses for k in report.kinds for u in k.units if (u.change or 0) >= 0)


def test_districts_in_registry_order_with_change(campaign):
    from dq.io.registry import Registry

    _, store = campaign
    report = build_campaign(store, "2020-08", "2020-09")
    order = [u.district for u in Registry.load().units("district")]
    got = [d.district for d in report.districts]
    assert got == [d for d in order if d in got]
    for d in report.districts:
        if d.platform_before is not None and d.platform_after is not None:
            assert d.platform_change == pytest.approx(d.platform_after - d.platform_before, abs=0.006)
    assert report.districts_without_hospitals == tuple(
        d.district for d in report.districts if not d.hospitals
    )


def test_campaign_page_axes_footer_and_json(campaign, capsys):
    root, store = campaign
    out = root / "reports2"
    page = render_campaign_file(store, "2020-08", "2020-09", out)[0].read_text(encoding="utf-8")
    report = build_campaign(store, "2020-08", "2020-09")
    # both kinds' charts on one 0–100 axis
    for svg in re.findall(r'<svg class="chart (?:dumbbell|dots)".*?</svg>', page, flags=re.S):
        ticks = [int(x) for x in re.findall(r'<text class="axis"[^>]*>(\d+)</text>', svg)]
        assert ticks[0] == 0 and ticks[-1] == 100, ticks
    # the bottom row's relative-change cell is the mean of the units' growths, not growth of the mean
    for k in report.kinds:
        pu = f"{'+' if k.growth_per_unit > 0 else '−'}{abs(k.growth_per_unit):,.2f}%"
        foot = re.findall(r"<tfoot>.*?</tfoot>", page, flags=re.S)
        assert any(pu in f for f in foot)
        om = f"{abs(k.growth_of_mean):,.2f}%"
        assert not any(f'<td class="n">+{om}</td>' in f for f in foot)
    assert "挽回分数（各单位合计）" in page and "均为综合得分" in page
    args = ["report", "campaign", "--before", "2020-08", "--after", "2020-09", "--store", str(store.root)]
    assert main([*args, "--out", str(out), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema_version"]
    hosp = doc["kinds"]["hospital"]
    for key in ("median_growth", "growth_without_no_upload", "no_upload_before", "grades", "dimensions"):
        assert key in hosp
    assert [d["district"] for d in doc["districts"]] == [d.district for d in report.districts]
    assert all("platform_change" in d for d in doc["districts"])


# ------------------------------------------------------------------- the short unit report
def test_unit_report_page_one_figures(campaign):
    import statistics

    _, store = campaign
    data = PeriodData(store, "2020-09")
    scores = store.scores("2020-09")
    before = dict(store.scores("2020-08").select("unit_id", "score").iter_rows())
    for uid in data.unit_ids():
        r = data.unit(uid)
        same = scores.filter(pl.col("kind") == r.kind)["score"].to_list()
        q1, med, q3 = statistics.quantiles(same, n=4, method="inclusive")
        assert (r.peers.n, r.peers.q1, r.peers.median, r.peers.q3) == (
            len(same),
            pytest.approx(q1, abs=0.006),
            pytest.approx(med, abs=0.006),
            pytest.approx(q3, abs=0.006),
        )
        assert r.change == pytest.approx(r.score - before[uid], abs=0.006)
        assert r.previous_label == "2020年8月"
        assert len(r.top_fixes) <= 5


def test_unit_report_table_of_every_failing_rule_and_ten_cards(campaign):
    from dq.report._render import render_unit

    _, store = campaign
    data = PeriodData(store, "2020-09")
    res_b, res_a = store.results("2020-08"), store.results("2020-09")
    for uid in data.unit_ids():
        r = data.unit(uid)
        failing_now = res_a.filter((pl.col("unit_id") == uid) & pl.col("status").is_in(["fail", "warn"]))
        assert {f.rule for f in r.failing} == set(failing_now["rule"].to_list())
        assert len(r.cards) == min(10, len(r.failing))
        assert [f.rule for f in r.cards] == [f.rule for f in r.failing[:10]]
        was = dict(res_b.filter(pl.col("unit_id") == uid).select("rule", "status").iter_rows())
        failed_before = dict(res_b.filter(pl.col("unit_id") == uid).select("rule", "failed").iter_rows())
        for f in r.failing:
            since = "2020年8月" if was.get(f.rule) in ("fail", "warn") else "2020年9月"
            assert f.since == since, f.rule
            assert f.spark[-1] == ("2020年9月", f.failed)
            assert f.spark[0] == ("2020年8月", failed_before.get(f.rule))
            if f.rule == "SUB-005":
                assert f.count_unit == "天" and "天" in f.counts_text
            elif f.table != "submission_summary":
                assert f.count_unit == "条"
        html = render_unit(r)
        assert html.count('<article class="rule') == len(r.cards)
        assert all(f'id="row-{f.rule}"' in html for f in r.failing)
        for anchor in re.findall(r'href="#([^"]+)"', html):
            assert f'id="{anchor}"' in html, anchor
        assert "−0.00" not in html and "-0.00" not in html


def test_a_unit_that_uploaded_nothing_is_not_assessed(campaign):
    from dq.report._render import render_unit

    _, store = campaign
    r = PeriodData(store, "2020-08").unit("H022")  # nothing uploaded in 2020-08
    assert r.not_assessed
    assert all(b.score is None for b in r.dimensions)
    html = render_unit(r)
    dims = re.search(r'<svg class="chart bars"[^>]*aria-label="各维度得分".*?</svg>', html, flags=re.S).group(
        0
    )
    assert "100.00" not in dims and "未评估" in dims
    assert "本月没有上传任何数据" in html
    assert not PeriodData(store, "2020-09").unit("H022").not_assessed


def test_reports_use_the_projects_own_grades(campaign, capsys, tmp_path):
    """A centre's project with its own grade thresholds: `dq report campaign --project` grades
    every unit by them (not by the bundled scoring), as the scores were."""
    _, store = campaign
    assert main(["init", str(tmp_path / "own"), "--from", "nanjing"]) == 0
    scoring = tmp_path / "own" / "scoring.yaml"
    text = scoring.read_text(encoding="utf-8")
    for grade, bundled, own in (("A", 90, 99.9), ("B", 80, 99.8), ("C", 60, 99.7)):
        old = f"min: {bundled}}}"
        assert old in text, grade
        text = text.replace(old, f"min: {own}}}", 1)
    scoring.write_text(text, encoding="utf-8")
    capsys.readouterr()
    args = ["report", "campaign", "--before", "2020-08", "--after", "2020-09", "--store", str(store.root),
            "--out", str(tmp_path / "r"), "--format", "json"]  # fmt: skip
    assert main(args) == 0
    bundled = json.loads(capsys.readouterr().out)
    assert main([*args, "--project", str(tmp_path / "own")]) == 0
    own = json.loads(capsys.readouterr().out)
    b = store.scores("2020-08").select("unit_id", "kind", pl.col("score").alias("b"))
    j = b.join(store.scores("2020-09").select("unit_id", pl.col("score").alias("a")), on="unit_id")
    for kind in ("district", "hospital"):
        k = j.filter(pl.col("kind") == kind)

        def own_grade(s: float) -> str:
            return "A" if s >= 99.9 else "B" if s >= 99.8 else "C" if s >= 99.7 else "D"

        want: dict[str, dict[str, int]] = {}
        for sb, sa in zip(k["b"].to_list(), k["a"].to_list(), strict=True):
            row = want.setdefault(own_grade(sb), {})
            row[own_grade(sa)] = row.get(own_grade(sa), 0) + 1
        got = {g: {h: n for h, n in row.items() if n} for g, row in own["kinds"][kind]["grades"].items()}
        assert {g: row for g, row in got.items() if row} == want
    # the bundled grades differ on this campaign, so the test sees which scoring was used
    assert own["kinds"]["hospital"]["grades"] != bundled["kinds"]["hospital"]["grades"]
