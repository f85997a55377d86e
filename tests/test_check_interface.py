"""The evaluator interface: a check declares what it needs and the engine provides it.

A check that needs the unit's history is registered here, in the test alone (no file of dq
changes): `dq score` judges it on the store's earlier periods, and the engine alone reports it
as not applicable, saying why.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from dq.batch.local import score_batch
from dq.engine.checks import REGISTRY
from dq.engine.checks.base import CheckDef, CheckParams, UnitHistory
from dq.engine.evaluate import evaluate_frame
from dq.engine.results import RuleResult, result_of
from dq.errors import NotApplicable
from dq.io.resources import rules_dir
from dq.scoring.summary import summary_frame
from dq.store.history import Store
from dq.synth import generate
from tests.conftest import rule_dict, suite_yaml

SEEN: list[UnitHistory] = []


class ToyParams(CheckParams):
    metric: str


def _judge(rules: Sequence[Any], unit: UnitHistory) -> list[RuleResult]:
    """Fails when the metric is below its value of the previous stored period."""
    SEEN.append(unit)
    out = []
    for rule in rules:
        metric = rule.params.metric
        before = unit.earlier.filter(pl.col("metric") == metric).sort("period")
        if before.is_empty() or metric not in unit.current:
            out.append(result_of(rule, "not_applicable", 0, 0, "no earlier period"))
            continue
        dropped = unit.current[metric] < before["value"][-1]
        out.append(result_of(rule, "fail" if dropped else "pass", 1, int(dropped), "vs last period"))
    return out


def _validate(p: Any, ctx: Any) -> Any:
    raise NotApplicable("needs the unit's history")


TOY = CheckDef(
    "toy_no_drop",
    "plausibility",
    "A metric does not fall below its previous period's value.",
    ToyParams,
    _validate,
    lambda p: [],
    needs=frozenset({"history"}),
    judge=_judge,
)


@pytest.fixture
def toy_check(monkeypatch, tmp_path: Path) -> Path:
    monkeypatch.setitem(REGISTRY, TOY.name, TOY)
    SEEN.clear()
    suite = tmp_path / "toy.yaml"
    rule = rule_dict("toy_no_drop", {"metric": "summary.data_volume"}, id="TOY-1")
    suite.write_text(suite_yaml([rule], table="submission_summary", suite="test.toy"), encoding="utf-8")
    return suite


def test_a_check_needing_history_is_judged_by_the_batch_without_touching_it(toy_check, tmp_path) -> None:
    store = Store(tmp_path / "store")
    suites = [rules_dir() / "suites", toy_check]
    results: dict[str, pl.DataFrame] = {}
    for i, period in enumerate(["2020-08", "2020-09"]):
        # the second month has fewer rows: scale halves
        generate(tmp_path / "batch", period, scale=0.001 / (i + 1), seed=3, units=["H001"], progress=False)
        score_batch(tmp_path / "batch", period, store, suite_paths=suites, progress=False, threads=1)
        res = store.results(period)
        results[period] = res.filter(pl.col("rule") == "TOY-1")
    first, second = (results[p].row(0, named=True) for p in ("2020-08", "2020-09"))
    assert first["status"] == "not_applicable"  # nothing stored before August
    assert (second["status"], second["evaluated"], second["failed"]) == ("fail", 1, 1)
    # what the engine gave the judge: this unit, this period, only earlier periods
    last = SEEN[-1]
    assert (last.unit_id, last.period) == ("H001", "2020-09")
    assert set(last.earlier["period"]) == {"2020-08"} and set(last.earlier["unit_id"]) == {"H001"}
    assert (
        last.current["summary.data_volume"]
        < last.earlier.filter(pl.col("metric") == "summary.data_volume")["value"][0]
    )


def test_the_engine_alone_says_the_rule_needs_the_history(toy_check) -> None:
    from dq.engine.suite import load_suites

    (suite,) = load_suites([toy_check])
    frame = summary_frame([{"unit_id": "H1", "kind": "hospital", "period": "2020-06"}]).lazy()
    _, (result,) = evaluate_frame(frame, suite.rules, "submission_summary", samples=0)
    assert result.status == "not_applicable" and "history" in result.message


def test_a_check_must_say_how_it_is_judged() -> None:
    with pytest.raises(TypeError, match="judge"):
        CheckDef("x", "plausibility", "", (), _validate, lambda p: [], needs=frozenset({"history"}))
    with pytest.raises(TypeError, match="unknown needs"):
        CheckDef("x", "plausibility", "", (), _validate, lambda p: [], needs=frozenset({"weather"}))
