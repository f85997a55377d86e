"""The engine: one-pass evaluation, error isolation, samples and masking, audits of extracts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
import yaml
from conftest import CATALOGUE, NOW, id18, make_rule, rule_dict, run, suite_yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from dq.engine.evaluate import audit_extract, evaluate_frame
from dq.engine.suite import load_suites
from dq.io.sources import open_extract

D, DT = dt.date, dt.datetime
OV = "outpatient_visit"
LOOKUP = {"table": "patient_index", "on": {"patient_id": "patient_id"}, "columns": ["birth_date"]}


def _ov_rules():
    specs = [
        ("not_null", {"column": "visit_id"}, None, None),
        ("unique", {"columns": ["visit_id"]}, None, None),
        ("in_set", {"column": "visit_type", "code_set": "visit_type"}, None, None),
        ("icd10", {"column": "diagnosis_code"}, None, None),
        ("between", {"column": "total_fee", "min": 0, "max": 500}, None, None),
        ("compare", {"left": "upload_time", "op": ">=", "right": "visit_time"}, None, None),
        ("not_future", {"column": "visit_time"}, None, None),
        ("in_period", {"column": "visit_time"}, None, None),
        ("upload_timeliness", {}, None, None),
        ("upload_days", {}, None, None),
        ("row_count", {"min": 3}, None, None),
        ("foreign_key", {"column": "patient_id", "references": "patient_index.patient_id"}, None, None),
        ("group_count", {"group_by": ["patient_id"], "condition": "visit_type = '2'", "max": 1}, None, None),
        ("expression", {"expr": "total_fee < 100 OR visit_type = '2'"}, None, None),
        ("not_null", {"column": "doctor_id"}, "visit_type = '1'", None),
        ("columns_present", {}, None, None),
        ("compare", {"left": "visit_time", "op": ">", "right": "patient_index__birth_date"}, None, LOOKUP),
        ("length", {"column": "dept_code", "min": 2}, "total_fee > 10", None),
    ]
    return [
        make_rule(check, params, when, table=OV, id=f"OV-{i:03d}", lookup=lookup)
        for i, (check, params, when, lookup) in enumerate(specs)
    ]


RULES = _ov_rules()
PATIENTS = pl.DataFrame(
    {"patient_id": ["p1", "p2", "p2"], "birth_date": [D(1990, 1, 1), D(2020, 9, 5), D(2020, 9, 5)]},
    schema={"patient_id": pl.String, "birth_date": pl.Date},
)
T = DT(2020, 9, 3, 10)
VISITS = {
    "visit_id": ["v1", "v2", "v2", None, "v5", "v6"],
    "patient_id": ["p1", "p2", "p9", "p1", "", "p2"],
    "visit_type": ["1", "2", "2", "7", "1", "2"],
    "visit_time": [T, T, DT(2020, 10, 20), T, None, DT(2020, 8, 31)],
    "dept_code": ["A1", "B", None, "C3", "D", "E"],
    "doctor_id": [None, "d", "d", None, "", "d"],
    "diagnosis_code": ["J18.9", "j18", "I10.x00x002", "", "E11.900", "X"],
    "total_fee": [10.0, 600.0, None, -1.0, 50.0, 120.0],
    "upload_time": [
        T + dt.timedelta(hours=1),
        T - dt.timedelta(hours=1),
        DT(2020, 9, 4),
        T,
        T,
        DT(2020, 9, 10),
    ],
}


def _key(r):
    # Sample order is not compared: a join needed by another rule may reorder rows (see the report).
    return (r.status, r.evaluated, r.failed, r.message, sorted(map(repr, r.samples)))


def _evaluate(data, rules, **kw):
    # More samples than rows, so that every failing row is shown whatever the row order.
    return run(data, rules, OV, tables={"patient_index": PATIENTS}, period="2020-09", samples=20, **kw)


def test_one_pass_equals_each_rule_alone() -> None:
    together = _evaluate(VISITS, RULES)
    assert list(together) == [r.id for r in RULES]
    for rule in RULES:
        alone = _evaluate(VISITS, [rule])[rule.id]
        assert _key(together[rule.id]) == _key(alone), rule.id
    # The fixture is meant to exercise every outcome except error.
    assert {r.status for r in together.values()} == {"pass", "fail"}
    assert all(r.evaluated > 0 for r in together.values())


_values = {
    "visit_id": st.sampled_from(["v1", "v2", "v3", None, ""]),
    "patient_id": st.sampled_from(["p1", "p2", "p9", None, " "]),
    "visit_type": st.sampled_from(["1", "2", "9", "x", None]),
    "visit_time": st.sampled_from([T, DT(2020, 8, 31, 23), DT(2020, 10, 30), None]),
    "dept_code": st.sampled_from(["A1", "B", None]),
    "doctor_id": st.sampled_from(["d", "", None]),
    "diagnosis_code": st.sampled_from(["J18.9", "J18.", None, ""]),
    "total_fee": st.sampled_from([0.0, 50.0, 700.0, -3.0, None]),
    "upload_time": st.sampled_from([T, DT(2020, 9, 20), None]),
}


@settings(
    max_examples=8,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: keeps a failure fast to report
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(st.fixed_dictionaries(_values), max_size=8))
def test_one_pass_equals_each_rule_alone_on_random_tables(rows) -> None:
    data = {c: [r[c] for r in rows] for c in _values}
    together = _evaluate(data, RULES)
    for rule in RULES:
        assert _key(together[rule.id]) == _key(_evaluate(data, [rule])[rule.id]), rule.id


def test_streaming_gives_the_same_counts() -> None:
    rules = RULES[:5]
    frame = pl.DataFrame(VISITS).lazy()
    _, a = evaluate_frame(frame, rules, OV, catalogue=CATALOGUE, now=NOW)
    _, b = evaluate_frame(frame, rules, OV, catalogue=CATALOGUE, now=NOW, streaming=True)
    assert [_key(r) for r in a] == [_key(r) for r in b]


def test_row_count_and_empty_table_message() -> None:
    rule = make_rule("not_null", {"column": "visit_id"}, table=OV)
    n, (r,) = evaluate_frame(pl.LazyFrame({"visit_id": []}, schema={"visit_id": pl.String}), [rule], OV)
    assert n == 0
    assert (r.status, r.message, r.fail_fraction) == ("not_applicable", "table is empty", None)


# ------------------------------------------------------------------ errors stay in their rule
def test_a_rule_that_cannot_run_errors_alone() -> None:
    rules = [
        make_rule("not_null", {"column": "doctor_id"}, table=OV, id="MISSING"),
        make_rule("between", {"column": "total_fee", "min": 0}, table=OV, id="CLASH"),
        make_rule("expression", {"expr": "CAST(dept_code AS INTEGER) > 0"}, table=OV, id="RUNTIME"),
        make_rule(
            "not_null", {"column": "visit_id"}, table=OV, id="WHEN", when="CAST(dept_code AS INTEGER) > 0"
        ),
        make_rule("not_null", {"column": "visit_id"}, table=OV, id="GOOD"),
        make_rule("unique", {"columns": ["visit_id"]}, table=OV, id="GOOD2"),
    ]
    data = {"visit_id": ["v1", "v1", None], "dept_code": ["1", "x", "2"], "total_fee": ["1", "2", "3"]}
    res = run(data, rules, schema={"total_fee": pl.String})
    assert list(res) == [r.id for r in rules]
    assert (res["MISSING"].status, res["MISSING"].message) == (
        "error",
        "column(s) missing from outpatient_visit: doctor_id",
    )
    assert res["CLASH"].status == "error" and "column 'total_fee' is text" in res["CLASH"].message
    for rid in ("RUNTIME", "WHEN"):
        assert res[rid].status == "error" and res[rid].message.startswith("cannot evaluate:"), rid
        assert "dept_code" in res[rid].message
        assert (res[rid].evaluated, res[rid].failed, res[rid].samples) == (0, 0, ())
    assert (res["GOOD"].status, res["GOOD"].evaluated, res["GOOD"].failed) == ("fail", 3, 1)
    assert (res["GOOD2"].status, res["GOOD2"].evaluated, res["GOOD2"].failed) == ("fail", 2, 2)


def test_a_missing_when_column_is_an_error() -> None:
    rule = make_rule("not_null", {"column": "visit_id"}, table=OV, when="visit_type = '1'")
    r = run({"visit_id": ["v1"]}, rule)[rule.id]
    assert (r.status, r.message) == ("error", "column(s) missing from outpatient_visit: visit_type")


def test_a_lookup_table_missing_from_the_extract_is_not_applicable() -> None:
    # The missing table is the submission suite's finding; the rule has nothing to judge.
    r = run(VISITS, RULES[-2], OV)[RULES[-2].id]
    assert (r.status, r.message) == ("not_applicable", "lookup table 'patient_index' was not uploaded")


def test_lookup_does_not_duplicate_rows() -> None:
    rule = RULES[-2]  # visit_time > patient's birth date, p2 appears twice in PATIENTS
    data = {"visit_id": ["v1", "v2", "v3"], "patient_id": ["p2", "p2", "p1"], "visit_time": [T, T, T]}
    res = _evaluate(data, [rule, make_rule("not_null", {"column": "visit_id"}, table=OV, id="N")])
    assert (res[rule.id].evaluated, res[rule.id].failed) == (3, 2)
    assert res["N"].evaluated == 3
    assert [s["patient_index__birth_date"] for s in res[rule.id].samples] == ["2020-09-05", "2020-09-05"]


# ------------------------------------------------------------------ samples
def _names(n: int) -> dict:
    return {"patient_id": [f"p{i}" for i in range(n)], "name": ["王小明"] * n}


def test_samples_only_for_failing_rules_and_at_most_n() -> None:
    failing = make_rule("length", {"column": "name", "max": 2}, id="F")
    warning = make_rule("length", {"column": "name", "max": 2}, id="W", severity="warning")
    passing = make_rule("not_null", {"column": "name"}, id="P")
    tolerated = make_rule("length", {"column": "name", "max": 2}, id="T", threshold={"max_fraction": 1})
    res = run(_names(9), [failing, warning, passing, tolerated], samples=4)
    assert (res["F"].status, len(res["F"].samples)) == ("fail", 4)
    assert (res["W"].status, len(res["W"].samples)) == ("warn", 4)
    assert (res["P"].status, res["P"].samples) == ("pass", ())
    assert (res["T"].status, res["T"].samples) == ("pass", ())  # within the threshold: no samples
    assert [s["patient_id"] for s in res["F"].samples] == ["p0", "p1", "p2", "p3"]


def test_fewer_failures_than_n() -> None:
    rule = make_rule("length", {"column": "name", "max": 2})
    r = run({"patient_id": ["a", "b"], "name": ["王小明", "王五"]}, rule, samples=5)[rule.id]
    assert r.samples == ({"patient_id": "a", "name": "王**"},)


def test_samples_zero_means_none() -> None:
    rules = [
        make_rule("length", {"column": "name", "max": 2}),
        make_rule("unique", {"columns": ["name"]}, id="U"),
    ]
    res = run(_names(3), rules, samples=0)
    assert all(r.status == "fail" and r.samples == () for r in res.values())


def test_table_level_checks_have_no_samples() -> None:
    rule = make_rule("row_count", {"max": 1})
    assert run(_names(3), rule)[rule.id].samples == ()


def test_pii_columns_are_masked_in_samples() -> None:
    bad_id = id18()[:17] + ("0" if id18()[17] != "0" else "1")
    rules = [
        make_rule("id_card", {"column": "id_no"}, id="ID"),
        make_rule("length", {"column": "name", "max": 2}, id="NAME"),
        make_rule("regex", {"column": "phone", "pattern": "^0"}, id="PHONE"),
        make_rule("compare", {"left": "name", "op": "==", "right": "phone"}, id="BOTH"),
    ]
    data = {"patient_id": ["p1"], "id_no": [bad_id], "name": ["王小明"], "phone": ["13812345678"]}
    res = run(data, rules)
    assert res["ID"].samples == ({"patient_id": "p1", "id_no": bad_id[:6] + "*" * 8 + bad_id[-4:]},)
    assert res["NAME"].samples == ({"patient_id": "p1", "name": "王**"},)
    assert res["PHONE"].samples == ({"patient_id": "p1", "phone": "138****5678"},)
    assert res["BOTH"].samples == ({"patient_id": "p1", "name": "王**", "phone": "138****5678"},)


def test_raw_text_of_a_pii_column_is_masked_too() -> None:
    rule = make_rule("date_parse", {"column": "id_no"})
    data = {"patient_id": ["p1"], "id_no": [None], "id_no__raw": ["320106199001011234"]}
    r = run(data, rule, schema={"id_no": pl.String, "id_no__raw": pl.String})[rule.id]
    assert r.samples == ({"patient_id": "p1", "id_no": None, "id_no__raw": "320106********1234"},)


def test_pii_of_a_lookup_table_is_masked() -> None:
    lookup = {"table": "patient_index", "on": {"patient_id": "patient_id"}, "columns": ["birth_date", "name"]}
    rule = make_rule(
        "compare",
        {"left": "visit_time", "op": ">=", "right": "patient_index__birth_date"},
        table=OV,
        lookup=lookup,
    )
    patients = {"patient_id": ["p1"], "birth_date": [D(2021, 1, 1)], "name": ["王小明"]}
    r = run(
        {"visit_id": ["v1"], "patient_id": ["p1"], "visit_time": [T]},
        rule,
        tables={"patient_index": patients},
    )
    assert r[rule.id].samples[0]["patient_index__name"] == "王**"


def test_samples_are_json_ready() -> None:
    rule = make_rule("not_future", {"column": "visit_time"}, table=OV)
    r = run({"visit_id": ["v1"], "visit_time": [DT(2030, 1, 1, 8, 30)]}, rule)[rule.id]
    assert r.samples == ({"visit_id": "v1", "visit_time": "2030-01-01 08:30:00"},)


# ------------------------------------------------------------------ audits of extracts
def _extract(tmp_path: Path, kind: str = "hospital") -> Path:
    d = tmp_path / "ex"
    d.mkdir()
    manifest = {"unit_id": "H1", "name": "医院", "kind": kind, "period": "2020-09", "generated_by": "test"}
    (d / "manifest.yaml").write_text(yaml.safe_dump(manifest, allow_unicode=True), encoding="utf-8")
    (d / "patient_index.csv").write_text("patient_id,name\np1,王小明\np1,\n", encoding="utf-8")
    (d / "lab_report.csv").write_text("report_id\nr1\n", encoding="utf-8")
    return d


def _suites(tmp_path: Path):
    s = tmp_path / "suites"
    s.mkdir()
    (s / "pi.yaml").write_text(
        suite_yaml(
            [
                rule_dict("not_null", {"column": "name"}, id="PI-1"),
                rule_dict("unique", {"columns": ["patient_id"]}, id="PI-2", severity="warning"),
            ],
            suite="h.pi",
            kind="hospital",
        ),
        encoding="utf-8",
    )
    (s / "ov.yaml").write_text(
        suite_yaml([rule_dict("row_count", {"min": 1}, id="OV-1")], table=OV, suite="h.ov", kind="hospital"),
        encoding="utf-8",
    )
    (s / "rr.yaml").write_text(
        suite_yaml(
            [rule_dict("row_count", {"min": 1}, id="RR-1")],
            table="resident_record",
            suite="d.rr",
            kind="district",
        ),
        encoding="utf-8",
    )
    return load_suites([s], catalogue=CATALOGUE)


def test_audit_extract(tmp_path: Path) -> None:
    audit = audit_extract(open_extract(_extract(tmp_path), catalogue=CATALOGUE), _suites(tmp_path), now=NOW)
    assert audit.unit == {
        "unit_id": "H1",
        "name": "医院",
        "kind": "hospital",
        "period": "2020-09",
        "collection_mode": "upload",
    }
    assert audit.period == "2020-09"
    by_id = {r.rule: r for r in audit.results}
    assert set(by_id) == {"PI-1", "PI-2", "OV-1"}  # the district suite does not apply
    assert (by_id["PI-1"].status, by_id["PI-1"].failed) == ("fail", 1)
    assert by_id["PI-2"].status == "warn"
    assert (by_id["OV-1"].status, by_id["OV-1"].message) == (
        "not_applicable",
        "table outpatient_visit was not uploaded",
    )
    tables = {t.table: (t.rows, Path(t.file).name) for t in audit.tables}
    assert tables == {"patient_index": (2, "patient_index.csv"), "lab_report": (None, "lab_report.csv")}
    assert audit.summary["failed_rules"] == ["PI-1"] and audit.exit_code == 1


def test_audit_period_argument_overrides_the_manifest(tmp_path: Path) -> None:
    ex = open_extract(_extract(tmp_path), catalogue=CATALOGUE)
    assert audit_extract(ex, _suites(tmp_path), period="2020-10").period == "2020-10"


@pytest.mark.parametrize(
    "interrupt",
    [KeyboardInterrupt(), pl.exceptions.ComputeError("KeyboardInterrupt: in the expression col(...)")],
)
def test_an_interrupt_inside_a_query_is_not_taken_for_a_broken_rule(interrupt) -> None:
    # Polars runs Python column functions inside its queries: a Ctrl-C landing in one comes back
    # as such, or (from Polars' own threads) as a query error naming it. The engine must not
    # isolate either as the rule's own error and go on.
    def interrupted(values: pl.Series) -> pl.Series:
        raise interrupt

    frame = pl.LazyFrame({"visit_id": ["v1", "v2"]}).with_columns(
        pl.col("visit_id").map_batches(interrupted, return_dtype=pl.String)
    )
    rule = make_rule("not_null", {"column": "visit_id"}, table=OV)
    with pytest.raises(KeyboardInterrupt):
        evaluate_frame(frame, [rule], OV, catalogue=CATALOGUE, now=NOW)
