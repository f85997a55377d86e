"""Engine messages in the report's language.

A check's detail message is a :class:`dq.engine.messages.Message`: English text that also carries its key
and fields; the store keeps them (``message_args``) and a report renders the message in its own
language. Tested from the checks' real output (the engine on small frames, the history rules on a
stored history, a synthetic batch scored through the normal path) up to the rendered zh and en
pages.
"""

from __future__ import annotations

import datetime as dt
import re
import string

import polars as pl
import pytest

from dq.batch.local import score_batch
from dq.engine.checks.history import HistoryChange, Judgement, evaluate_history
from dq.engine.checks.history import judge as judge_typed
from dq.engine.messages import TEMPLATES, Message, message, message_args, render_args, render_message
from dq.engine.metrics import load_metrics, unit_metrics
from dq.engine.results import RuleResult
from dq.engine.suite import load_suites
from dq.io.catalogue import default_rules_dir, load_catalogue
from dq.report._render import render_unit
from dq.report.model import PeriodData
from dq.scoring.scores import load_scoring, score_unit
from dq.scoring.summary import summary_frame
from dq.store.history import Store
from tests.conftest import make_rule, run


def judge(metric: str, value: float, history, period: str, params, evaluated: int | None = None) -> Judgement:
    """The check's judge with a rule's parameters as YAML gives them (typed as the loader types them)."""
    typed = HistoryChange.of({"metric": metric, **params})
    return judge_typed(metric, value, history, period, typed, evaluated)


try:
    from dq.synth.generate import generate as synth_generate
except ImportError:  # pragma: no cover - the generator ships with dq
    synth_generate = None

# What may stay Latin inside a Chinese message: identifiers (metric names, columns, tables, types,
# rule ids), numbers, ISO months and the history methods' names.
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_*-]+)+|[a-z]+_[a-z0-9_]+|[A-Z][A-Za-z]*[0-9]+|-?∞")
ENGLISH_WORD = re.compile(r"\b[a-z]{3,}\b")


def _catalogue_names() -> set[str]:
    cat = load_catalogue()
    names = set(cat.tables)
    for spec in cat.tables.values():
        names |= {c.name for c in spec.columns} | {c.type for c in spec.columns}
    return names


CATALOGUE_NAMES = _catalogue_names()


def english_words(text: str) -> list[str]:
    """The English words of ``text`` once identifiers (the catalogue's tables, columns and types,
    metric names) are taken out."""
    words = ENGLISH_WORD.findall(IDENT.sub(" ", text))
    return [w for w in words if w not in CATALOGUE_NAMES]


def fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def test_every_template_has_both_languages_with_the_same_fields():
    for key, t in TEMPLATES.items():
        assert set(t) == {"en", "zh"}, key
        assert fields(t["en"]) == fields(t["zh"]), key
        assert not english_words(t["zh"].format(**dict.fromkeys(fields(t["zh"]), ""))), key


def test_a_message_is_its_english_text_and_survives_pickle_and_store_json():
    import copy
    import pickle

    m = message("upload_days.missing", days=28, total=31, missing=[3, 5, 9])
    assert m == "uploads on 28 of 31 days; no upload on day(s) 3, 5, 9"
    assert m.render("zh") == "31 天中有 28 天有上传；无上传的日期：3、5、9 日"
    for again in (pickle.loads(pickle.dumps(m)), copy.deepcopy(m)):
        assert isinstance(again, Message) and again.render("zh") == m.render("zh")
    assert render_args(message_args(m), "zh") == m.render("zh")
    assert message_args("plain text") is None
    # a stored message without args (older store, another writer) is shown as stored
    assert render_message("something else", None, "zh") == "something else"
    assert render_message("x", '{"key": "no.such.key"}', "zh") == "x"


ROWS = {"patient_id": ["P1"], "birth_date": [19900101]}


def check_messages() -> list[RuleResult]:
    """One result of each check that writes its own detail, from the real engine."""
    period = "2020-09"
    days = [dt.datetime(2020, 9, d, 10) for d in (1, 2, 5)]
    out = [
        run(ROWS, make_rule("columns_present", {}), schema={"birth_date": pl.Int64}),
        run(ROWS, make_rule("row_count", {"min": 5})),
        run(
            {"visit_id": ["V1", "V2", "V3"], "upload_time": days},
            make_rule("upload_days", {"column": "upload_time"}, table="outpatient_visit"),
            period=period,
        ),
        run(
            {
                "settlement_id": ["a", "b", "合计"],
                "total_amount": [1.0, 2.0, 4.0],
                "insurance_amount": [1.0, 1, 2],
            },
            make_rule(
                "row_total",
                {"label_column": "settlement_id", "columns": ["total_amount", "insurance_amount"]},
                table="fee_settlement",
            ),
        ),
    ]
    return [r for d in out for r in d.values()]


def history_messages() -> list[str]:
    hist = [(f"2020-0{m}", 100.0 + m) for m in range(1, 7)]
    params = {"min": -0.5, "max": 1.0}
    out = [
        judge("table.lab_report.rows", 10.0, hist, "2020-07", {}).describe(),
        judge("table.lab_report.rows", 104.0, hist, "2020-07", {}).describe(),
        judge("table.lab_report.rows", 10.0, hist[:2], "2020-07", {}).describe(),
        judge("table.lab_report.rows", 10.0, hist, "2020-07", {"method": "pct_change", **params}).describe(),
        judge(
            "table.lab_report.rows",
            10.0,
            [("2020-06", 0.0)],
            "2020-07",
            {"method": "pct_change", **params, "min_history": 1},
        ).describe(),
        judge("summary.outpatient_uploaded", 10.0, hist, "2020-07", {"method": "seasonal"}).describe(),
        judge(
            "summary.outpatient_uploaded", 10.0, [*hist, ("2019-07", 90.0)], "2020-07", {"method": "seasonal"}
        ).describe(),
    ]
    rules = [r for s in load_suites() for r in s.rules if r.check == "history_change"]
    metrics = {"table.lab_report.rows": 1.0, "table.outpatient_visit.rows": 1000.0}
    frame = pl.DataFrame(
        [
            {"period": p, "metric": m, "value": v * (10 if "visit" in m else 1)}
            for p, v in hist
            for m in metrics
        ]
    )
    summary = dict.fromkeys(summary_frame([]).columns) | {"kind": "hospital", "upload_days": 28}
    out += [r.message for r in evaluate_history(rules, "2020-07", metrics, frame, summary)]
    out += [r.message for r in evaluate_history(rules, "2020-07", metrics, frame, None)]
    return out


def test_every_check_detail_is_a_message_readable_in_chinese():
    messages = [r.message for r in check_messages()] + history_messages()
    kinds = {m.key.split(".")[0] for m in messages if isinstance(m, Message)}
    assert {"columns", "row_count", "upload_days", "row_totals", "history"} <= kinds
    for m in messages:
        assert isinstance(m, Message), m
        zh = m.render("zh")
        assert zh != str(m) and not english_words(zh), (m, zh)
        assert m.render("en") == str(m)


# --------------------------------------------------------------------- through the store to pages
MONTHS = ["2020-03", "2020-04", "2020-05", "2020-06", "2020-07", "2020-08", "2020-09"]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Store:
    """H1 with a stored history whose lab_report stops in 2020-08; in 2020-09 a synthetic batch
    (H006 before the campaign: missing upload days) and H1's history again, scored normally."""
    base = tmp_path_factory.mktemp("messages")
    st = Store(base / "store")
    rules = [r for s in load_suites() for r in s.rules if r.check == "history_change"]
    cfg = load_scoring()
    for i, period in enumerate(MONTHS[:-1]):
        run_ = st.begin_run(period, "h", "batch")
        stopped = period == "2020-08"
        tables = {"outpatient_visit": 1000 + 10 * i, **({} if stopped else {"lab_report": 400 + 5 * i})}
        summary = dict.fromkeys(summary_frame([]).columns) | {
            "period": period, "unit_id": "H1", "unit_name": "医院H1", "kind": "hospital",
            "outpatient_uploaded": 1000 + 10 * i, "upload_days": 28,
        }  # fmt: skip
        results = evaluate_history(
            rules, period, unit_metrics([], summary, tables), load_metrics(st, unit_id="H1"), summary
        )
        results += check_messages()
        unit = {"unit_id": "H1", "name": "医院H1", "kind": "hospital", "district": "玄武区"}
        st.write_unit(run_, unit, results, score_unit(results, cfg), summary, tables=tables)
        st.finish_run(run_, 1, 0)
    if synth_generate is not None:
        root = base / "batch"
        synth_generate(
            root, "2020-09", scale=0.0002, seed=3, profile="before", units=["H006"], progress=False
        )
        suites = [
            default_rules_dir() / "suites" / "submission",
            default_rules_dir() / "suites" / "hospital" / "outpatient_visit.yaml",
        ]
        score_batch(root, "2020-09", st, suite_paths=suites, progress=False)
    return st


def shown_messages(st: Store, period: str, unit: str, lang: str) -> list[str]:
    return [f.message for f in PeriodData(st, period, lang).unit(unit).failing if f.message]


def test_stored_messages_keep_their_key_and_fields(store: Store):
    res = store.results("2020-08", "H1")
    assert res["message_args"].drop_nulls().len() == res.height  # every detail is structured
    flagged = res.filter(pl.col("rule") == "HIS-001")
    assert "table.lab_report.rows" in flagged["message"][0] and flagged["status"][0] != "pass"


def test_chinese_report_has_no_english_engine_message(store: Store):
    checked = 0
    for period, unit in (("2020-08", "H1"), ("2020-09", "H006")):
        if unit == "H006" and synth_generate is None:
            continue
        res = store.results(period, unit)
        english = {m for m in res.filter(pl.col("status").is_in(["fail", "warn"]))["message"].to_list()}
        zh = shown_messages(store, period, unit, "zh")
        en = shown_messages(store, period, unit, "en")
        assert zh and len(zh) == len(en)
        html = render_unit(PeriodData(store, period, "zh").unit(unit))
        for text in zh:
            assert not english_words(text), text
            assert text in html
        for text in english - {""}:
            if not re.match(r"^\d+ of \d+ fail", text):  # counts alone are not shown
                assert text not in html, text
        assert set(en) <= english  # the English report shows the engine's own text
        checked += len(zh)
    assert checked >= 4


@pytest.mark.skipif(synth_generate is None, reason="needs the synthetic generator")
def test_upload_days_detail_in_chinese(store: Store):
    zh = shown_messages(store, "2020-09", "H006", "zh")
    days = [m for m in zh if "无上传的日期" in m]
    assert days, zh
    assert re.fullmatch(r"\d+ 天中有 \d+ 天有上传；无上传的日期：[\d、]+ 日", days[0])
