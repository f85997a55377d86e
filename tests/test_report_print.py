"""Reports on paper and for every reader: the running header with unit, month and "page n of m"
on every printed page (headless Chromium prints to PDF, pypdf reads the text back), no sort hint
and no wrapped grade chip on paper, ``scope`` on every table header, text colours of at least
4.5:1 computed from the stylesheet, and decimals shown with their column's scale."""

from __future__ import annotations

import base64
import re
import unicodedata
from html.parser import HTMLParser
from io import BytesIO

import pytest
from test_report_browser import CHROMIUM, Browser

from dq.engine.results import RuleResult
from dq.io.catalogue import load_catalogue
from dq.report._common import sample_table
from dq.report._render import TEMPLATES, css_string, print_header
from dq.report.files import render_campaign_file, render_period
from dq.scoring.scores import load_scoring, score_unit
from dq.store.history import Store

# ------------------------------------------------------------------------------- data
SAMPLES = (
    {"visit_id": "V1", "total_fee": -105.96000000000001, "dept_code": ""},
    {"visit_id": "V2", "total_fee": 12.5, "dept_code": "   "},
)


def result(rule: str, failed: int) -> RuleResult:
    return RuleResult(
        rule=rule, suite="hospital.outpatient_visit", table="outpatient_visit", check="between",
        columns=("total_fee",), dimension="plausibility", severity="error",
        status="fail" if failed else "pass", evaluated=100, failed=failed, fail_fraction=failed / 100,
        message=f"{failed} of 100 fail", samples=SAMPLES if failed else (), threshold={"max_fraction": 0.0},
        title_zh=f"费用不为负 {rule}", title_en=f"Fee not negative {rule}",
    )  # fmt: skip


UNITS = (
    ("H001", "hospital", '南京鼓楼医院<b>"x"', "鼓楼区"),
    ("H002", "hospital", "南京市儿童医院", "鼓楼区"),
    ("D04", "district", "鼓楼区", "鼓楼区"),
)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    base = tmp_path_factory.mktemp("print")
    store, out, cfg = Store(base / "history"), base / "reports", load_scoring()
    for step, period in enumerate(("2020-08", "2020-09")):
        run = store.begin_run(period, "h", "batch")
        for i, (uid, kind, name, district) in enumerate(UNITS):
            # enough failing rules that a unit report runs over several pages
            res = [result(f"OV-{100 + j}", (j + i + 1) * (2 - step)) for j in range(14)]
            unit = {"unit_id": uid, "name": name, "kind": kind, "district": district}
            store.write_unit(run, unit, res, score_unit(res, cfg), None)
        store.finish_run(run, len(UNITS), 0)
    for period in ("2020-08", "2020-09"):
        render_period(store, period, out, echo=None)
        render_period(store, period, out / "en", lang="en", echo=None)
    render_campaign_file(store, "2020-08", "2020-09", out)
    render_campaign_file(store, "2020-08", "2020-09", out / "en", lang="en")
    return out


def html_pages(out):
    return sorted(p for p in out.rglob("*.html"))


# ------------------------------------------------------------------------------- scope
class Headers(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.th: list[dict[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        if tag == "th":
            self.th.append(dict(attrs))


def test_every_table_header_has_a_scope(site):
    pages = html_pages(site)
    assert len(pages) >= 8
    seen = 0
    for page in pages:
        parser = Headers()
        parser.feed(page.read_text(encoding="utf-8"))
        for th in parser.th:
            assert th.get("scope") in ("col", "row"), (page.name, th)
        seen += len(parser.th)
    assert seen > 50


# ------------------------------------------------------------------------------- decimals, blanks
def test_sample_decimals_use_the_column_scale_and_blanks_are_visible():
    cat = load_catalogue()
    assert cat.table("outpatient_visit").column("total_fee").scale == 2
    zh = sample_table(list(SAMPLES), "outpatient_visit", cat, "zh")
    fee = zh.columns.index("total_fee")
    assert [r[fee] for r in zh.rows] == ["-105.96", "12.50"]
    dept = zh.columns.index("dept_code")
    assert [r[dept] for r in zh.rows] == ["（空字符串）", "（3 个空白字符）"]
    en = sample_table(list(SAMPLES), "outpatient_visit", cat, "en")
    assert [r[dept] for r in en.rows] == ["(empty string)", "(3 blank characters)"]
    # a looked-up decimal column takes its own table's scale; text is never rounded
    looked = sample_table([{"outpatient_visit__total_fee": 3.14159, "visit_id": "3.14159"}], "fee_settlement",
                          cat, "en")  # fmt: skip
    assert looked.rows[0] == ("3.14", "3.14159")


def test_every_decimal_column_of_the_catalogue_has_a_scale():
    cat = load_catalogue()
    decimals = [(t, c.name, c.scale) for t, s in cat.tables.items() for c in s.columns if c.type == "decimal"]
    assert decimals and all(scale is not None for *_, scale in decimals), decimals


def test_unit_report_shows_samples_with_the_scale(site):
    html = (site / "2020-09" / "H001.html").read_text(encoding="utf-8")
    assert "-105.96<" in html and "12.50<" in html and "105.96000" not in html


# ------------------------------------------------------------------------------- contrast
def _hex(value: str, var: dict[str, str]) -> str | None:
    value = value.strip()
    m = re.fullmatch(r"var\(--([A-Za-z-]+)\)", value)
    if m:
        return var.get(m.group(1))
    if re.fullmatch(r"#[0-9a-fA-F]{6}", value):
        return value.lower()
    if re.fullmatch(r"#[0-9a-fA-F]{3}", value):
        return "#" + "".join(c * 2 for c in value[1:]).lower()
    return None


def _lum(h: str) -> float:
    rgb = [int(h[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((_lum(a), _lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


# SVG classes that are text (their fill is a text colour, drawn on the white card)
SVG_TEXT = re.compile(
    r"\btext\b|axis|label|value|empty|g-score|-t\b|cal-wd|db-name|db-change|dots-kind|point-label"
)


def test_text_colours_reach_4_5_to_1():
    css = (TEMPLATES / "report.css").read_text(encoding="utf-8")
    var = dict(re.findall(r"--([A-Za-z-]+):\s*(#[0-9a-fA-F]{6})", css))
    page_bgs = [var["card"], var["bg"]]
    masthead = re.findall(r"#[0-9a-fA-F]{6}", re.search(r"\.masthead \{([^}]*)\}", css).group(1))
    checked = []
    for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        selector = re.sub(r"/\*.*?\*/", "", selector, flags=re.S).strip()
        decl = {k.strip(): v.strip() for k, v in re.findall(r"([a-z-]+)\s*:\s*([^;]+)", body)}
        if selector.startswith("@") or not selector:
            continue
        colour = _hex(decl.get("color", ""), var)
        fill = _hex(decl.get("fill", ""), var)
        if colour is None and not (fill and SVG_TEXT.search(selector)):
            continue
        text = colour or fill
        if selector.startswith(".masthead") or selector.startswith((".brand", ".meta")):
            backgrounds = masthead  # white text on the masthead's gradient
        elif decl.get("background") and _hex(decl["background"], var):
            backgrounds = [_hex(decl["background"], var)]
        elif selector.startswith((".chart .c-", ".calendar .cal-on")) or "cal-on-t" in selector:
            continue  # shapes, not text (the calendar's day numbers are checked on their fill below)
        else:
            backgrounds = page_bgs
        for bg in backgrounds:
            ratio = contrast(text, bg)
            checked.append(selector)
            assert ratio >= 4.5, (selector, text, bg, round(ratio, 2))
    # the calendar's day numbers: white on an upload day, red on a missing day (on white)
    assert contrast("#ffffff", var["A"]) >= 4.5 and contrast(var["D"], "#ffffff") >= 4.5
    # grade chips and severity chips: each grade's colour on its own tint
    for g in "ABCD":
        assert contrast(var[g], var[f"{g}-soft"]) >= 4.5, g
    # the printed running header
    assert contrast("#4b5563", "#ffffff") >= 4.5 and "#4b5563" in str(print_header("x", "zh"))
    assert len(checked) > 40


# ------------------------------------------------------------------------------- print
def test_css_string_cannot_leave_the_string_or_the_style_element():
    s = css_string('a"b\\c</style><script>x</script>\n南京·2020年')
    assert s.startswith('"') and s.endswith('"')
    inner = s[1:-1]
    assert '"' not in inner.replace("\\", "") and "<" not in inner and "\n" not in inner
    assert "南京·2020年" in inner
    head = str(print_header("医院 · 2020年9月", "zh"))
    assert 'counter(page) " / " counter(pages)' in head and "@top-right" in head


def pdf_pages(pdf: bytes) -> list[str]:
    from pypdf import PdfReader

    # the text extractor gives some characters as their CJK radicals (⻚ for 页): NFKC maps most back
    texts = [unicodedata.normalize("NFKC", p.extract_text() or "") for p in PdfReader(BytesIO(pdf)).pages]
    return [t.translate(RADICALS) for t in texts]


RADICALS = str.maketrans({"⻚": "页", "⻔": "门", "⻓": "长", "⻅": "见"})


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_printed_pages_carry_a_running_header_with_page_n_of_m(site, tmp_path):
    pytest.importorskip("pypdf")
    browser = Browser(tmp_path / "profile")
    cases = (
        (site / "2020-08" / "H001.html", '南京鼓楼医院<b>"x" · 2020年8月 · 数据质量月报', "第 {i} / {n} 页"),
        (
            site / "en" / "2020-08" / "H001.html",
            "August 2020 · Monthly data-quality report",
            "Page {i} of {n}",
        ),
        (site / "2020-09" / "index.html", "数据质量月报目录 · 2020年9月", "第 {i} / {n} 页"),
        (
            site / "campaign_2020-08_2020-09.html",
            "数据质量整改成效报告 · 2020年8月 → 2020年9月",
            "第 {i} / {n} 页",
        ),
    )
    try:
        counts = {}
        for path, head, page_of in cases:
            s = browser.open(path.resolve().as_uri())
            pdf = base64.b64decode(browser.send("Page.printToPDF", {"preferCSSPageSize": True}, s)["data"])
            assert browser.problems(s) == [], path
            texts = pdf_pages(pdf)
            counts[path.name] = len(texts)
            for i, text in enumerate(texts, 1):
                first = text.splitlines()[0] if text else ""
                assert head in text, (path.name, i, first)
                assert page_of.format(i=i, n=len(texts)) in text, (path.name, i, first)
            if path.name == "index.html":
                assert "点击表头可排序" not in "".join(texts)  # the sort hint is for the screen only
                assert "点击表头可排序" in path.read_text(encoding="utf-8")
        assert counts["H001.html"] >= 2, counts  # the header repeats on every page
    finally:
        browser.close()


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_on_paper_grade_chips_do_not_wrap_and_no_sort_hint(site, tmp_path):
    browser = Browser(tmp_path / "profile")
    try:
        for path in (site / "2020-09" / "index.html", site / "en" / "2020-09" / "index.html"):
            s = browser.open(path.resolve().as_uri(), width=600)  # a narrow page, like A4 portrait
            browser.send("Emulation.setEmulatedMedia", {"media": "print"}, s)
            # one line each: a badge's height below 1.8 of its line height
            lines = browser.evaluate(
                s,
                "[...document.querySelectorAll('.grade-badge')].map(e => e.getBoundingClientRect().height"
                " / parseFloat(getComputedStyle(e).lineHeight))",
            )
            assert lines and all(n < 1.8 for n in lines), lines
            hint = browser.evaluate(s, "getComputedStyle(document.querySelector('.sort-hint')).display")
            assert hint == "none"
            # unit names keep at least 10 characters' width (they wrapped one character a line)
            names = browser.evaluate(
                s,
                "[...document.querySelectorAll('table.data tbody td:nth-child(2)')].map(td =>"
                " td.getBoundingClientRect().width / parseFloat(getComputedStyle(td).fontSize))",
            )
            assert names and min(names) >= 10, names
    finally:
        browser.close()


def test_rows_to_fix_round_decimals_to_the_column_scale(tmp_path):
    from dq.batch.fixlist import fix_rules, write_fix_files, write_fix_rows

    store = Store(tmp_path / "history")
    run = store.begin_run("2020-09", "h", "batch")
    r = result("OV-100", 2)
    rows = ({"visit_id": "V1", "total_fee": -105.96000000000001, "total_fee__raw": "-105.96000000000001"},
            {"visit_id": "V2", "total_fee": 0.1 + 0.2})  # fmt: skip
    r = RuleResult(**{**r.__dict__, "fix_rows": rows})
    unit = {"unit_id": "H001", "name": "南京鼓楼医院", "kind": "hospital", "district": "鼓楼区"}
    store.write_unit(run, unit, [r], score_unit([r], load_scoring()), None)
    write_fix_rows(store, run, "H001", [r])
    store.finish_run(run, 1, 0)
    (rule,) = fix_rules(store, "2020-09", "H001")
    fees = [x["total_fee"] for x in rule.rows]
    assert fees == [-105.96, 0.3]
    assert "total_fee__raw" not in rule.rows[0]  # folded into total_fee, which parsed
    paths = write_fix_files(store, "2020-09", "H001", tmp_path / "out", "zh")
    text = next(p for p in paths if str(p).endswith(".csv")).read_text(encoding="utf-8-sig")
    assert "总费用（元） (total_fee)=-105.96" in text and "(total_fee)=0.3" in text
    assert "0.30000000000000004" not in text and "105.96000000000001" not in text


# ------------------------------------------------------------------------------- length
MAX_UNIT_PAGES = 6


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory):
    """dq demo's synthetic campaign (every unit, scale 0.001, seed 7), both months rendered."""
    from dq.batch.local import score_batch
    from dq.demo import AFTER, BEFORE
    from dq.synth import generate

    base = tmp_path_factory.mktemp("demo-print")
    store, out = Store(base / "history"), base / "reports"
    for period, profile in ((BEFORE, "before"), (AFTER, "after")):
        generate(base / "batch", period, scale=0.001, seed=7, profile=profile, progress=False)
        score_batch(base / "batch", period, store, progress=False)
        render_period(store, period, out, echo=None)
    return out, (BEFORE, AFTER)


def _close_tabs(browser: Browser) -> None:
    """Close every page the browser holds (76 reports would otherwise stay open)."""
    for t in browser.send("Target.getTargets")["targetInfos"]:
        if t.get("type") == "page":
            browser.send("Target.closeTarget", {"targetId": t["targetId"]})


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_every_demo_unit_report_prints_on_at_most_six_a4_pages(demo_site, tmp_path):
    """The short unit report: every unit of the demo campaign, before and after, prints on at
    most six A4 pages (the full detail is in the rows-to-fix workbook)."""
    out, periods = demo_site
    browser = Browser(tmp_path / "profile")
    counts = {}
    try:
        for period in periods:
            for path in sorted((out / period).glob("*.html")):
                if path.name == "index.html":
                    continue
                s = browser.open(path.resolve().as_uri())
                pdf = base64.b64decode(
                    browser.send("Page.printToPDF", {"preferCSSPageSize": True}, s)["data"]
                )
                counts[(period, path.stem)] = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
                _close_tabs(browser)
    finally:
        browser.close()
    assert len(counts) == 2 * 38
    too_long = {k: n for k, n in counts.items() if n > MAX_UNIT_PAGES}
    assert not too_long, too_long
    assert all(n >= 1 for n in counts.values())
