"""``dq gx``: dq suites exported as GX 1.x expectation suites validate like dq.

The exported dict must load into ``gx.ExpectationSuite(**d)``, and validating a frame with the
loaded suite must give, for every exported rule, GX ``unexpected_count`` == dq ``failed`` (and GX
success == dq pass, which checks ``mostly`` = 1 - max_fraction). The frame is handed to GX as a
user of the export would: blank strings as nulls (dq counts them as missing, GX does not).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dq.cli import main
from dq.engine.evaluate import evaluate_frame
from dq.engine.suite import Suite, load_suites
from dq.interop.gx import batch_frame, rule_expectation, to_gx_suite
from dq.io.catalogue import load_catalogue

pytestmark = pytest.mark.filterwarnings("ignore:This pattern is interpreted as a regular expression")

gx = pytest.importorskip("great_expectations")

CATALOGUE = load_catalogue()
TABLE = "outpatient_visit"
ICD10 = r"^[A-Z][0-9]{2}(\.[0-9x][0-9]{0,2}(x[0-9]{3})?)?$"


def _rule(rid: str, check: str, params: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"id": rid, "title": {"zh": rid, "en": rid}, "check": check, "params": params, **extra}


RULES = [
    _rule("GX-01", "not_null", {"column": "visit_id"}, severity="critical"),
    _rule("GX-02", "not_null", {"column": "diagnosis_code"}, threshold={"max_fraction": 0.25}),
    _rule("GX-03", "in_set", {"column": "visit_type", "code_set": "visit_type"}),
    _rule("GX-04", "in_set", {"column": "dept_code", "values": ["A01", "B02", "C03"]}, severity="warning"),
    _rule("GX-05", "icd10", {"column": "diagnosis_code"}),
    _rule("GX-06", "regex", {"column": "patient_id", "pattern": ICD10}),
    _rule("GX-07", "regex", {"column": "patient_id", "pattern": "^P[0-9]+"}),
    _rule("GX-08", "length", {"column": "dept_code", "min": 3, "max": 3}),
    _rule("GX-09", "between", {"column": "total_fee", "min": 0, "max": 500, "max_inclusive": False}),
    _rule(
        "GX-10", "between", {"column": "visit_time", "min": dt.date(2020, 1, 1), "max": dt.date(2020, 1, 31)}
    ),
    _rule("GX-11", "unique", {"columns": ["visit_id"]}),
    _rule("GX-12", "unique", {"columns": ["patient_id", "visit_time"]}),
    _rule("GX-13", "compare", {"left": "upload_time", "op": ">=", "right": "visit_time"}),
    _rule("GX-14", "compare", {"left": "visit_time", "op": "<", "right": "upload_time"}),
    _rule("GX-15", "compare", {"left": "total_fee", "op": ">", "right": 0}),
    _rule("GX-16", "compare", {"left": "total_fee", "op": "!=", "right": 999}),
    _rule("GX-17", "row_count", {"min": 1, "max": 30}),
    _rule("GX-18", "unique", {"columns": ["patient_id"]}, threshold={"max_fraction": 0.5}),
    # not exported:
    _rule("GX-19", "not_null", {"column": "doctor_id"}, when="visit_type = '1'"),
    _rule("GX-20", "compare", {"left": "total_fee", "op": "==", "right": "total_fee * 1", "tolerance": 0.01}),
    _rule("GX-21", "columns_present", {}),
    _rule("GX-22", "upload_timeliness", {"max_days": 3}),
    _rule("GX-23", "compare", {"left": "total_fee", "op": "<=", "right": "total_fee + 1"}),
]
NOT_EXPORTED = {"GX-19", "GX-20", "GX-21", "GX-22", "GX-23"}


@pytest.fixture(scope="module")
def suite_file(tmp_path_factory) -> Path:
    doc = {
        "suite": "gx.export_test",
        "title": {"zh": "导出", "en": "Export"},
        "table": TABLE,
        "kind": "hospital",
        "rules": RULES,
    }
    path = tmp_path_factory.mktemp("gx_export") / "outpatient.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def suite(suite_file) -> Suite:
    (s,) = load_suites([suite_file], catalogue=CATALOGUE)
    return s


@pytest.fixture(scope="module")
def exported(suite) -> dict[str, Any]:
    return to_gx_suite(suite, CATALOGUE)


@pytest.fixture(scope="module")
def gx_batch_definition():
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    asset = context.data_sources.add_pandas("export").add_dataframe_asset("frame")
    return asset.add_batch_definition_whole_dataframe("whole")


# ---------------------------------------------------------------- the exported document
def test_export_is_json_and_lists_what_is_not_exported(exported):
    doc = json.loads(json.dumps(exported))  # JSON-able as is
    assert doc["name"] == "gx.export_test"
    exported_ids = [e["meta"]["dq_rule"] for e in doc["expectations"]]
    assert exported_ids == [r["id"] for r in RULES if r["id"] not in NOT_EXPORTED]
    skipped = {s["rule"]: s for s in doc["meta"]["dq_not_exported"]}
    assert set(skipped) == NOT_EXPORTED
    assert "when" in skipped["GX-19"]["reason"]
    assert "tolerance" in skipped["GX-20"]["reason"]
    assert "no GX equivalent" in skipped["GX-21"]["reason"]
    assert "expression" in skipped["GX-23"]["reason"]


def test_export_kwargs_and_meta(exported):
    by_rule = {e["meta"]["dq_rule"]: e for e in exported["expectations"]}
    assert by_rule["GX-01"]["type"] == "expect_column_values_to_not_be_null"
    assert by_rule["GX-01"]["meta"]["dq_severity"] == "critical"
    assert by_rule["GX-04"]["severity"] == "warning"
    assert by_rule["GX-02"]["kwargs"]["mostly"] == 0.75
    assert "mostly" not in by_rule["GX-01"]["kwargs"]
    assert by_rule["GX-03"]["kwargs"]["value_set"] == ["1", "2", "3", "9"]
    assert by_rule["GX-05"]["kwargs"]["regex"] == ICD10
    assert by_rule["GX-09"]["kwargs"] == {
        "column": "total_fee", "min_value": 0, "max_value": 500, "strict_min": False, "strict_max": True,
    }  # fmt: skip
    # dates (YAML dates or ISO text) become midnight datetimes: GX parses them into datetimes
    assert by_rule["GX-10"]["kwargs"]["min_value"] == "2020-01-01 00:00:00"
    assert by_rule["GX-10"]["kwargs"]["max_value"] == "2020-01-31 00:00:00"
    assert by_rule["GX-12"]["type"] == "expect_compound_columns_to_be_unique"
    assert by_rule["GX-12"]["kwargs"]["ignore_row_if"] == "any_value_is_missing"
    assert by_rule["GX-14"]["kwargs"] == {
        "column_A": "upload_time", "column_B": "visit_time", "or_equal": False,
        "ignore_row_if": "either_value_is_missing",
    }  # fmt: skip
    assert by_rule["GX-15"]["kwargs"] == {"column": "total_fee", "min_value": 0, "strict_min": True}
    assert by_rule["GX-16"]["type"] == "expect_column_values_to_not_be_in_set"
    assert by_rule["GX-17"]["kwargs"] == {"min_value": 1, "max_value": 30}


def test_export_loads_into_gx(exported):
    s = gx.ExpectationSuite(**json.loads(json.dumps(exported)))
    assert s.name == "gx.export_test"
    assert len(s.expectations) == len(exported["expectations"])
    assert s.expectations[1].mostly == 0.75
    assert {type(e).__name__ for e in s.expectations} >= {
        "ExpectColumnValuesToNotBeNull",
        "ExpectColumnValuesToBeInSet",
        "ExpectColumnValuesToMatchRegex",
        "ExpectColumnValueLengthsToBeBetween",
        "ExpectColumnValuesToBeBetween",
        "ExpectColumnValuesToBeUnique",
        "ExpectCompoundColumnsToBeUnique",
        "ExpectColumnPairValuesAToBeGreaterThanB",
        "ExpectColumnValuesToNotBeInSet",
        "ExpectTableRowCountToBeBetween",
    }


# ---------------------------------------------------------------- same counts as dq
def _gx_frame(df: pl.DataFrame):
    """What a GX user validates: the frame as dq.interop.gx.batch_frame hands it over."""
    return batch_frame(df, TABLE, CATALOGUE)


def _compare(suite: Suite, exported: dict[str, Any], batch_definition, df: pl.DataFrame) -> None:
    _, results = evaluate_frame(df.lazy(), suite.rules, TABLE, catalogue=CATALOGUE, samples=0)
    dq = {r.rule: r for r in results}
    gx_suite = gx.ExpectationSuite(**json.loads(json.dumps(exported)))
    batch = batch_definition.get_batch(batch_parameters={"dataframe": _gx_frame(df)})
    validation = batch.validate(gx_suite)
    seen = set()
    for res in validation.results:
        rid = res.expectation_config.meta["dq_rule"]
        seen.add(rid)
        info = res.exception_info or {}
        raised = info.get("raised_exception") or any(
            isinstance(v, dict) and v.get("raised_exception") for v in info.values()
        )
        assert not raised, (rid, info)
        r = dq[rid]
        assert r.status != "error", r
        if r.check == "row_count":
            assert r.failed == (0 if res.success else 1), rid
        else:
            assert r.failed == res.result["unexpected_count"], (rid, r, res.result)
        assert (r.status in ("pass", "not_applicable")) == res.success, (rid, r, res.result)
    assert seen == {r["id"] for r in RULES} - NOT_EXPORTED


def _visits(**cols: list[Any]) -> pl.DataFrame:
    spec = CATALOGUE.table(TABLE)
    assert spec is not None
    n = len(next(iter(cols.values())))
    return pl.DataFrame(
        [pl.Series(c.name, cols.get(c.name, [None] * n), dtype=c.dtype) for c in spec.columns]
    )


def test_exported_suite_counts_match_dq(suite, exported, gx_batch_definition):
    t = dt.datetime(2020, 1, 5, 9, 30)
    df = _visits(
        visit_id=["V1", "V2", "V2", "", None, "V6", "V7", "V8"],
        patient_id=["P1", "P1", "X2", "P3", " ", "P4", None, "P5"],
        visit_type=["1", "2", "4", "", None, "9", "1", "0"],
        visit_time=[t, t, t, t + dt.timedelta(days=40), None, t, t, dt.datetime(2019, 12, 31)],
        dept_code=["A01", "A01", "B2", "C03", "D04", None, "  ", "B02"],
        diagnosis_code=["J18.9", "I10.x00x002", "j18", "", None, "A00", "Z99.99x123", "J18.9\t"],
        total_fee=[10.0, 0.0, -1.0, 500.0, None, 499.99, 999.0, 20.0],
        upload_time=[t, t - dt.timedelta(hours=1), t, t, t, None, t + dt.timedelta(days=1), t],
    )
    _compare(suite, exported, gx_batch_definition, df)


def test_exported_suite_on_empty_frame(suite, exported, gx_batch_definition):
    _compare(suite, exported, gx_batch_definition, _visits(visit_id=[]))


TEXT = st.one_of(st.none(), st.sampled_from(["A01", "B02", "C03", "P1", "P22", "J18.9", "1", "2", "", " "]))
TIMES = st.one_of(st.none(), st.datetimes(dt.datetime(2019, 12, 31), dt.datetime(2020, 2, 1)))
FEES = st.one_of(st.none(), st.sampled_from([-1.0, 0.0, 0.5, 499.99, 500.0, 999.0]))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), n=st.integers(0, 25))
def test_exported_suite_counts_match_dq_random(suite, exported, gx_batch_definition, data, n):
    rows = st.lists
    df = _visits(
        visit_id=data.draw(rows(TEXT, min_size=n, max_size=n)),
        patient_id=data.draw(rows(TEXT, min_size=n, max_size=n)),
        visit_type=data.draw(rows(TEXT, min_size=n, max_size=n)),
        visit_time=data.draw(rows(TIMES, min_size=n, max_size=n)),
        dept_code=data.draw(rows(TEXT, min_size=n, max_size=n)),
        diagnosis_code=data.draw(rows(TEXT, min_size=n, max_size=n)),
        total_fee=data.draw(rows(FEES, min_size=n, max_size=n)),
        upload_time=data.draw(rows(TIMES, min_size=n, max_size=n)),
    )
    _compare(suite, exported, gx_batch_definition, df)


# ---------------------------------------------------------------- mapping details
def test_in_set_values_follow_the_column_type(tmp_path):
    doc = {
        "suite": "gx.types",
        "table": "outpatient_prescription",
        "rules": [
            _rule("T-1", "in_set", {"column": "item_no", "values": [1, 2]}),
            _rule("T-2", "in_set", {"column": "drug_code", "values": [1, "2"]}),
        ],
    }
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    (s,) = load_suites([path], catalogue=CATALOGUE)
    one, two = (rule_expectation(r, CATALOGUE)[1]["value_set"] for r in s.rules)
    assert (one, two) == ([1, 2], ["1", "2"])


# ---------------------------------------------------------------- CLI
def test_cli_writes_one_json_per_suite(suite_file, tmp_path, capsys):
    out = tmp_path / "gx"
    assert main(["gx", str(suite_file), "--out", str(out)]) == 0
    (written,) = sorted(out.glob("*.json"))
    assert written.name == "gx.export_test.json"
    doc = json.loads(written.read_text(encoding="utf-8"))
    assert gx.ExpectationSuite(**doc).name == "gx.export_test"
    assert "18 expectations, 5 rules not exported" in capsys.readouterr().err


def test_cli_stdout(suite_file, capsys):
    assert main(["gx", str(suite_file)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["name"] == "gx.export_test"
    assert len(doc["expectations"]) == len(RULES) - len(NOT_EXPORTED)


def test_cli_invalid_suite_is_a_usage_error(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("suite: x\ntable: nope\nrules: []\n", encoding="utf-8")
    assert main(["gx", str(bad)]) == 2
    assert "unknown table" in capsys.readouterr().err


# ---------------------------------------------------------------- each check's own mapping
def test_every_mapped_expectation_type_exists_in_gx():
    from dq.engine.checks import REGISTRY

    mapped = {c.name: c.gx.expectations for c in REGISTRY.values() if c.gx is not None}
    assert {"not_null", "in_set", "regex", "icd10", "icd9cm3", "length", "between", "unique"} <= set(mapped)
    for check, types in mapped.items():
        for t in types:
            cls = "".join(w.capitalize() for w in t.split("_"))
            assert hasattr(gx.expectations, cls), (check, t)


def test_exported_types_are_the_ones_each_check_declares(exported):
    from dq.engine.checks import REGISTRY

    for e in exported["expectations"]:
        assert e["type"] in REGISTRY[e["meta"]["dq_check"]].gx.expectations, e
