"""dq explain: each rule's loss in overall-score points, adding up to 100 − score.

The property is checked on real scored batches (synthetic, several seeds and both profiles,
scale 0.001, a few units each) and on the published 2018-03 summaries; the CLI's JSON is checked
against the library.
"""

from __future__ import annotations

import json

import pytest

from dq.batch.local import score_batch, score_published
from dq.cli import main
from dq.scoring.explain import rule_losses, unit_losses
from dq.scoring.scores import load_scoring
from dq.store.history import Store
from dq.synth import generate

UNITS = ["D01", "D05", "H001", "H010", "H022"]


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    out = []
    for seed, profile in ((1, "before"), (2, "before"), (3, "after")):
        root = tmp_path_factory.mktemp(f"b{seed}")
        generate(
            root / "batch", "2020-08", scale=0.001, seed=seed, profile=profile, units=UNITS, progress=False
        )
        store = Store(root / "history")
        score_batch(root / "batch", "2020-08", store, progress=False)
        out.append(store)
    return out


def _check_unit(store: Store, period: str, unit: str) -> None:
    ul = unit_losses(store, period, unit)
    total = sum(x.points for x in ul.losses)
    # rounded losses add up to 100 − stored score to the hundredth
    assert round(total, 2) == round(100 - ul.score, 2), (unit, total, ul.score)
    # and the exact losses within the score's own rounding (parts and score are rounded to 0.01)
    assert abs(sum(x.exact for x in ul.losses) - (100 - ul.score)) < 0.02
    assert all(x.points >= 0 for x in ul.losses)
    assert [x.exact for x in ul.losses] == sorted((x.exact for x in ul.losses), reverse=True)
    parts = ul.by_part()
    assert abs(sum(parts.values()) - ul.lost) < 0.011


def test_losses_add_up_on_synthetic_batches(stores):
    n = 0
    for store in stores:
        for unit in store.scores("2020-08")["unit_id"].to_list():
            _check_unit(store, "2020-08", unit)
            n += 1
    assert n == 3 * len(UNITS)


def test_losses_add_up_on_published_summaries(tmp_path):
    store = Store(tmp_path / "pub")
    score_published("2018-03", store)
    units = store.scores("2018-03")
    lossy = 0
    for uid, score in units.select("unit_id", "score").iter_rows():
        if score is None:
            continue
        _check_unit(store, "2018-03", uid)
        lossy += score < 100
    assert lossy > 10  # the 2018 tables have plenty of findings


def test_fixing_a_rule_gains_its_loss():
    cfg = load_scoring()
    rows = [
        {"rule": "S1", "suite": "submission", "points": 1.0, "max_points": 2.0, "dimension": "completeness"},
        {"rule": "S2", "suite": "submission", "points": 2.0, "max_points": 2.0, "dimension": "completeness"},
        {"rule": "R1", "suite": "hospital", "points": 0.0, "max_points": 1.0, "dimension": "conformance"},
        {"rule": "R2", "suite": "hospital", "points": 3.0, "max_points": 3.0, "dimension": "conformance"},
        {"rule": "E1", "suite": "hospital", "points": None, "max_points": None, "dimension": "conformance"},
    ]
    # submission 75, records 75: score 75
    losses = {x.rule: x.points for x in rule_losses(rows, 75.0, cfg)}
    assert losses == {"S1": pytest.approx(10.0), "R1": pytest.approx(15.0)}
    # without a records part the submission part is the whole score
    only = {x.rule: x.points for x in rule_losses(rows[:2], 75.0, cfg)}
    assert only == {"S1": pytest.approx(25.0)}


def test_cli_json_matches_library(stores, capsys):
    store = stores[0]
    unit = "H010"
    assert main(["explain", unit, "--period", "2020-08", "--store", str(store.root), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    ul = unit_losses(store, "2020-08", unit)
    assert doc["score"] == ul.score
    assert [x["rule"] for x in doc["losses"]] == [x.rule for x in ul.losses]
    assert set(doc["losses"][0]) >= {"rule", "title_zh", "title_en", "table", "dimension", "points"}
    assert round(sum(x["points"] for x in doc["losses"]), 2) == round(100 - doc["score"], 2)


def test_cli_table_names_dimensions_in_its_language(stores, capsys):
    """The terminal view names dimensions as the reports do (完整性 / Completeness), never by
    their stored keys."""
    from dq.report.i18n import LABELS

    store = stores[0]
    ul = unit_losses(store, "2020-08", "H010")
    dims = {x.dimension for x in ul.losses}
    for lang in ("zh", "en"):
        argv = ["explain", "H010", "--period", "2020-08", "--store", str(store.root), "--lang", lang]
        assert main([*argv, "--top", "0"]) == 0
        out = capsys.readouterr().out
        for d in dims:
            assert LABELS[lang][f"dim_{d}"] in out
        if lang == "zh":
            assert not any(d in out for d in dims)


def test_cli_unknown_unit_is_a_usage_error(stores, capsys):
    code = main(["explain", "H999", "--period", "2020-08", "--store", str(stores[0].root)])
    assert code == 2
    assert "H999" in capsys.readouterr().err


def test_cli_speaks_the_reports_words(stores, capsys):
    """dq explain names the parts and the score as the report does (上报情况, 数据质量, 综合得分:
    one term for each idea), and tables by their titles, never by internal names."""
    from dq.io.catalogue import load_catalogue
    from dq.report.i18n import LABELS
    from dq.report.model import table_label

    store = stores[0]
    ul = unit_losses(store, "2020-08", "H010")
    argv = ["explain", "H010", "--period", "2020-08", "--store", str(store.root), "--lang", "zh"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    zh = LABELS["zh"]
    assert zh["part_submission"] in out and zh["part_records"] in out and zh["overall_score"] in out
    assert "记录质量" not in out
    for x in ul.losses:
        assert table_label(x.table, load_catalogue(), "zh") in out
    assert not any(x.table in out for x in ul.losses)
    assert main([*argv[:-1], "en"]) == 0
    out = capsys.readouterr().out
    assert LABELS["en"]["part_records"] in out and "overall score" in out
