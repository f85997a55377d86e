"""dq.report rendering: every report of a scored batch is safe to hand out.

The batch is scored through the normal path (``score_batch``: extract → engine → store), for two
periods, with:

* the synthetic units of ``dq synth`` (H022, D01, profile before then after) when the generator
  is importable — their patient and resident tables carry seeded, unmasked identity numbers,
  names and phone numbers;
* always, a hand-made hospital extract (H900) whose patient index holds raw 18-digit identity
  numbers (some with a wrong check character, some duplicated), full names and 11-digit phone
  numbers of an invalid format, so that the failing rules' samples must carry pii columns; its
  name carries a script tag and an attribute-breaking quote;
* an extract that cannot be read (H999, wrong period in its manifest).

Masking happens upstream (the engine masks samples before they are stored, shown by
``test_samples_are_masked_upstream``) and again in the report model. The scans then check every
rendered page for any raw identity number, phone number or full name present in the data.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest

from dq.batch.local import score_batch
from dq.cli import main
from dq.engine.results import RuleResult
from dq.io.catalogue import default_rules_dir, load_catalogue
from dq.report._render import render_unit
from dq.report.files import render_campaign_file, render_period
from dq.report.model import PeriodData
from dq.scoring.scores import load_scoring, score_unit
from dq.store.history import Store

XSS = "<script>alert(1)</script>"
ATTR = '" onload="alert(2)'
SUITES = [
    default_rules_dir() / "suites" / "submission",
    default_rules_dir() / "suites" / "hospital" / "patient_index.yaml",
    default_rules_dir() / "suites" / "district" / "resident_record.yaml",
]
PERIODS = (("2020-08", "before"), ("2020-09", "after"))
ID_RE = re.compile(
    r"(?<![0-9])[1-8][0-9]{5}(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx](?![0-9])"
)
PHONE_RE = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")
_W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)

try:
    from dq.synth.generate import generate as synth_generate
except ImportError:  # the generator is optional here; the hand-made unit is always there
    synth_generate = None


def id18(first17: str) -> str:
    return first17 + "10X98765432"[sum(int(c) * w for c, w in zip(first17, _W, strict=True)) % 11]


def handmade_unit(folder: Path, period: str, fixed: bool) -> None:
    """Hospital H900: raw pii; in the 'fixed' month fewer problems (so some rules get fixed)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.yaml").write_text(
        "unit_id: H900\n"
        f"name: {json.dumps('测试医院' + XSS + ATTR, ensure_ascii=False)}\n"
        "kind: hospital\ndistrict: 鼓楼区\n"
        f"period: {period}\n"
        "declared_tables: [patient_index, outpatient_visit]\n",
        encoding="utf-8",
    )
    (folder / "reference.csv").write_text("metric,value\noutpatient_visits,100\ndischarges,10\n")
    good = [id18(f"32010619{80 + i:02d}0{1 + i % 9}1{i % 10}12{i % 10}") for i in range(12)]
    bad_check = [g[:17] + ("0" if g[17] != "0" else "1") for g in good[:3]]
    names = [
        "王小明",
        "李建国",
        "张晓燕",
        "赵志强",
        "陈美玲",
        "刘德华",
        "周杰",
        "吴敏",
        "郑秀英",
        "孙立",
        "马丽",
        "朱红",
    ]
    phones = ["12812345678", "10987654321", "13812345678", "15900001111"] + ["13912340000"] * 8
    id_nos = (
        [*bad_check, good[3], good[3]] if not fixed else [good[0], good[1], good[2], good[3], good[4]]
    ) + good[5:]
    year, month = (int(x) for x in period.split("-"))
    days = (1, 2, 5, 9, 12, 20) if not fixed else tuple(range(1, 29))
    rows = []
    for i, (idn, name, phone) in enumerate(zip(id_nos, names, phones, strict=False)):
        birth = f"19{idn[8:10]}-{idn[10:12]}-{idn[12:14]}"
        sex = "1" if int(idn[16]) % 2 else "2"
        rows.append(
            {
                "patient_id": f"P{i:04d}",
                "id_type": "01",
                "id_no": idn,
                "name": name,
                "sex_code": sex,
                "birth_date": birth,
                "phone": phone if not fixed or i > 1 else "13812345678",
                "address_code": "320106",
                "upload_time": f"{year}-{month:02d}-{days[i % len(days)]:02d} 08:00:00",
            }
        )
    pl.DataFrame(rows).write_csv(folder / "patient_index.csv")


def broken_unit(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.yaml").write_text(
        "unit_id: H999\nname: 读不出医院\nkind: hospital\nperiod: 2019-01\n", encoding="utf-8"
    )


def raw_pii(root: Path) -> dict[str, set[str]]:
    """Every value of a pii column in every table file of the batch."""
    cat = load_catalogue()
    found: dict[str, set[str]] = {"id": set(), "name": set(), "phone": set()}
    for f in root.rglob("*"):
        spec = cat.table(f.stem) if f.suffix in (".csv", ".parquet") else None
        if spec is None or not spec.pii:
            continue
        df = pl.read_csv(f, infer_schema=False) if f.suffix == ".csv" else pl.read_parquet(f)
        for col, how in spec.pii.items():
            if col in df.columns:
                found[how] |= {str(v) for v in df[col].drop_nulls().to_list() if str(v).strip()}
    return found


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    base = tmp_path_factory.mktemp("report-batch")
    root, store, out = base / "batch", Store(base / "history"), base / "reports"
    for period, profile in PERIODS:
        if synth_generate is not None:
            synth_generate(
                root, period, scale=0.0002, seed=7, profile=profile, units=["H022", "D01"], progress=False
            )
        handmade_unit(root / period / "H900", period, fixed=profile == "after")
        if profile == "after":
            broken_unit(root / period / "H999")
        score_batch(root, period, store, suite_paths=SUITES, progress=False)
    written = []
    for period, _ in PERIODS:
        written += render_period(store, period, out, echo=None)
        written += render_period(store, period, out / "en", lang="en", echo=None)
    written += render_campaign_file(store, "2020-08", "2020-09", out)
    written += render_campaign_file(store, "2020-08", "2020-09", out / "en", lang="en")
    pages = {p: p.read_text(encoding="utf-8") for p in dict.fromkeys(written) if p.suffix != ".xlsx"}
    return {"root": root, "store": store, "out": out, "pages": pages, "pii": raw_pii(root)}


def page(batch, rel: str) -> str:
    return batch["pages"][batch["out"] / rel]


# ------------------------------------------------------------------------------- privacy
def test_samples_are_masked_upstream(batch):
    """The store already holds masked samples: masking happens in the engine, not only here."""
    res = batch["store"].results("2020-08", "H900")
    samples = [row for text in res["samples"].to_list() for row in json.loads(text)]
    with_id = [r["id_no"] for r in samples if r.get("id_no")]
    assert with_id, "the hand-made unit must fail rules whose samples carry id_no"
    assert all("*" in v for v in with_id)
    phones = [r["phone"] for r in samples if r.get("phone")]
    assert phones and all("****" in v for v in phones)


def test_every_report_is_free_of_unmasked_pii(batch):
    pii = batch["pii"]
    assert len(pii["id"]) >= 10 and len(pii["phone"]) >= 3 and len(pii["name"]) >= 10
    names = {n for n in pii["name"] if len(n) >= 2}
    assert len(batch["pages"]) >= 12
    for path, html in batch["pages"].items():
        assert not ID_RE.search(html), f"{path}: unmasked identity number {ID_RE.search(html)}"
        assert not PHONE_RE.search(html), f"{path}: unmasked phone number {PHONE_RE.search(html)}"
        leaked = [v for v in (*pii["id"], *pii["phone"], *names) if v in html]
        assert not leaked, f"{path}: raw pii {leaked[:5]}"
    unit = page(batch, "2020-08/H900.html")
    assert "********" in unit  # masked identity numbers are shown
    assert "****" in unit


def test_no_external_reference_in_any_page(batch):
    for path, html in batch["pages"].items():
        for needle in ("http://", "https://", 'src="//', "src='//", "@import", "url(", "<link", "<img"):
            assert needle not in html, f"{path}: {needle}"
        for m in re.finditer(r'(?:src|href)="([^"]*)"', html):
            assert not re.match(r"^[a-z][a-z0-9+.-]*:|^//", m.group(1)), f"{path}: {m.group(0)}"


def test_script_and_attribute_injection_render_inert(batch):
    for path, html in batch["pages"].items():
        assert XSS not in html, path
        assert 'onload="' not in html, path
        assert html.count("<script") == (path.name == "index.html"), path  # only the index sorter
    unit = page(batch, "2020-09/H900.html")
    assert "测试医院&lt;script&gt;alert(1)&lt;/script&gt;&#34; onload=&#34;alert(2)" in unit
    assert "测试医院&lt;script&gt;" in page(batch, "2020-09/index.html")
    assert "测试医院&lt;script&gt;" in page(batch, "campaign_2020-08_2020-09.html")


def test_rule_text_and_samples_with_markup_render_inert(tmp_path):
    store = Store(tmp_path)
    run = store.begin_run("2020-09", "h", "test")
    r = RuleResult(
        rule="X-1",
        suite="hospital.patient_index",
        table="patient_index",
        check="not_null",
        columns=("name",),
        dimension="completeness",
        severity="error",
        status="fail",
        evaluated=10,
        failed=5,
        fail_fraction=0.5,
        message=f"bad {XSS} {ATTR}",
        samples=({"patient_id": XSS, "note": ATTR},),
        title_zh=XSS,
        title_en=ATTR,
    )
    unit = {"unit_id": "H1", "name": XSS, "kind": "hospital", "district": ATTR}
    store.write_unit(run, unit, [r], score_unit([r], load_scoring()), None, {"X-1": (XSS, ATTR)})
    store.finish_run(run, 1, 0)
    for lang in ("zh", "en"):
        html = render_unit(PeriodData(store, "2020-09", lang).unit("H1"))
        assert "<script" not in html and 'onload="' not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "bad &lt;script&gt;" in html  # the rule's message, escaped


# ------------------------------------------------------------------------------- content
def test_unit_report_sections(batch):
    html = page(batch, "2020-09/H900.html")
    for text in (
        "得分概览",
        "各维度得分",
        "历次得分",
        "数据上报情况",
        "未通过的规则",
        "与上次评分相比",
        "第 ",
        "整改建议",
        "上次评分：2020年8月",
        "已修复",
        'class="chart calendar"',
        "2 / 10",
    ):
        assert text in html, text
    assert "@page" in html and "size: A4" in html and "@media print" in html
    before = page(batch, "2020-08/H900.html")
    assert "不合格样例（已脱敏）" in before
    assert "没有更早的评分，无法比较。" in before
    en = page(batch, "en/2020-09/H900.html")
    for text in (
        "Scores",
        "Score by dimension",
        "Submission",
        "Rules not passed",
        "Since the previous scoring",
    ):
        assert text in en, text
    assert not re.search("得分概览|数据上报情况|未通过的规则|整改建议", en)


def test_errored_unit_report_says_why_and_has_no_score(batch):
    html = page(batch, "2020-09/H999.html")
    assert "本期数据无法读取" in html and "2019-01" in html  # the reason, from the batch
    assert "无得分" in html and "无排名" in html
    assert "各维度得分" not in html and 'class="g-score"' not in html
    en = page(batch, "en/2020-09/H999.html")
    assert "could not be read" in en and "No score" in en


def test_index_links_every_unit_and_the_campaign(batch):
    html = page(batch, "2020-09/index.html")
    ids = batch["store"].scores("2020-09")["unit_id"].to_list()
    for uid in ids:
        assert f'href="{uid}.html"' in html
        assert (batch["out"] / "2020-09" / f"{uid}.html").exists()
    assert 'href="../campaign_2020-08_2020-09.html"' in html
    assert "table.sortable" in html and 'data-sort="num"' in html


def test_campaign_report_defines_both_measures(batch):
    html = page(batch, "campaign_2020-08_2020-09.html")
    for text in (
        "平均增长率（按单位）",
        "平均分增长率",
        "（整改后 − 整改前）÷ 整改前 × 100%",
        "改进最多的规则",
        "得分下降的单位",
        'class="chart dots"',
        "2020年8月",
        "2020年9月",
    ):
        assert text in html, text
    en = page(batch, "en/campaign_2020-08_2020-09.html")
    assert "Average growth (per unit)" in en and "Growth of the mean score" in en


# ------------------------------------------------------------------------------- command line
def test_cli_actions_print_the_paths_written(batch, tmp_path, capsys):
    store = str(batch["store"].root)
    one = tmp_path / "one"
    assert main(["report", "unit", "H022", "--period", "2020-09", "--store", store, "--out", str(one)]) == 0
    printed = capsys.readouterr().out.split()
    assert printed[0] == str(one / "2020-09" / "H022.html")
    # every file the command wrote is listed: the report and its rows-to-fix files
    assert sorted(printed) == sorted(str(p) for p in (one / "2020-09").iterdir())
    assert {p.rsplit(".", 1)[1] for p in printed} == {"html", "csv", "xlsx"}
    assert (
        main(
            ["report", "all", "--period", "2020-09", "--store", store, "--out", str(tmp_path), "--lang", "en"]
        )
        == 0
    )
    lines = capsys.readouterr().out.split()
    assert str(tmp_path / "2020-09" / "index.html") in lines and len(lines) >= 3
    args = [
        "report",
        "campaign",
        "--before",
        "2020-08",
        "--after",
        "2020-09",
        "--store",
        store,
        "--out",
        str(tmp_path),
    ]
    assert main(args) == 0
    lines = capsys.readouterr().out.split()
    assert lines[0] == str(tmp_path / "campaign_2020-08_2020-09.html")
    assert 'href="../campaign_2020-08_2020-09.html"' in (tmp_path / "2020-09" / "index.html").read_text()
    assert (
        main(["report", "unit", "NOPE", "--period", "2020-09", "--store", store, "--out", str(tmp_path)]) == 2
    )
    assert main(["report", "all", "--period", "1999-01", "--store", store, "--out", str(tmp_path)]) == 2
