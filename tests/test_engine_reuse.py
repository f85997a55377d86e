"""Plans kept between the units of a batch (one clock) never carry one unit's data to another."""

from __future__ import annotations

import polars as pl
from conftest import CATALOGUE, NOW, make_rule

from dq.engine.evaluate import evaluate_frame

OV = "outpatient_visit"


def test_a_foreign_key_looks_in_each_extracts_own_table() -> None:
    rule = make_rule(
        "foreign_key", {"column": "patient_id", "references": "patient_index.patient_id"}, table=OV
    )
    visits = pl.LazyFrame({"visit_id": ["v1", "v2", "v3"], "patient_id": ["p1", "p2", " "]})
    for known, failing in ((["p1"], ["p2"]), (["p1", "p2"], []), ([], ["p1", "p2"]), (["p2", None], ["p1"])):
        patients = pl.LazyFrame({"patient_id": known}, schema={"patient_id": pl.String})
        _, (res,) = evaluate_frame(
            visits, [rule], OV, catalogue=CATALOGUE, tables={"patient_index": patients}, now=NOW
        )
        assert (res.evaluated, res.failed) == (2, len(failing)), known
        assert [s["patient_id"] for s in res.samples] == failing


def test_expressions_kept_between_units_never_hold_a_units_referenced_keys() -> None:
    # A foreign key's plan holds the referenced keys of its own extract: keeping it for the next
    # unit would keep every unit's keys in memory for the whole batch (a city-month: +0.7 GB).
    import dq.engine.evaluate

    fk = make_rule(
        "foreign_key", {"column": "patient_id", "references": "patient_index.patient_id"}, table=OV, id="FK"
    )
    nn = make_rule("not_null", {"column": "visit_id"}, table=OV, id="NN")
    visits = pl.LazyFrame({"visit_id": ["v1", None], "patient_id": ["p1", "p2"]})
    dq.engine.evaluate._PASS.clear()
    for unit in range(3):
        patients = pl.LazyFrame({"patient_id": [f"p{unit}"]})
        _, results = evaluate_frame(
            visits, [fk, nn], OV, catalogue=CATALOGUE, tables={"patient_index": patients}, now=NOW
        )
        assert [r.status for r in results] == ["fail", "fail"]
    kept = [plan.rule.id for plan, _ in dq.engine.evaluate._PASS.values()]
    assert kept == ["NN"]  # the rule without joins, once for the three units
