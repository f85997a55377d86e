"""Great Expectations both ways, on raw extracts, with real GX 1.x.

* Export: the shipped suites, exported and validated by GX on a table loaded with
  ``dq.interop.gx.load_batch`` (dq's typing, blanks as null, uploaded text as ``<column>__raw``), count
  exactly what ``dq audit`` counts -- on examples/extract and on a small CSV extract from
  ``dq synth`` with an unparseable date added in a column that must not be null.
* Import: ``dq gx import`` of every exported suite gives dq suites that load with
  ``dq suites validate`` and count what the original rules count (export -> import round trip);
  a suite written with GX's own API imports what dq can express and lists the rest.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
import yaml

from dq.cli import main
from dq.engine.evaluate import audit_extract, evaluate_frame
from dq.engine.suite import load_suites
from dq.interop.gx import batch_frame, export_suites, import_suite, load_batch, validate_with_gx
from dq.io.catalogue import load_catalogue
from dq.io.sources import open_extract
from dq.synth import generate

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")

gx = pytest.importorskip("great_expectations")
gxe = pytest.importorskip("great_expectations.expectations")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "extract"
CATALOGUE = load_catalogue()


def dq_failed(extract: Path, suites) -> dict[str, int]:
    result = audit_extract(open_extract(extract, CATALOGUE), suites, samples=0, catalogue=CATALOGUE)
    return {r.rule: r.failed for r in result.results}


@pytest.fixture(scope="module")
def shipped():
    return load_suites(catalogue=CATALOGUE)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    """One hospital's CSV extract from dq synth, with one visit time that does not parse."""
    batch = generate(
        tmp_path_factory.mktemp("synth"), "2020-09", scale=0.0005, seed=5, units=["H001"], fmt="csv",
        progress=False,
    )  # fmt: skip
    unit = batch / "H001"
    visits = unit / "outpatient_visit.csv"
    df = pl.read_csv(visits, infer_schema=False)
    df = df.with_columns(
        pl.when(pl.int_range(pl.len()) == 3)
        .then(pl.lit("2020-09-31 08:00"))
        .otherwise("visit_time")
        .alias("visit_time")
    )
    df.write_csv(visits)
    return unit


# ------------------------------------------------------------------------------ export
@pytest.mark.parametrize("which", ["example", "synthetic"])
def test_exported_suites_count_like_dq_on_the_raw_extract(which, shipped, synthetic):
    extract = EXAMPLE if which == "example" else synthetic
    outcomes = validate_with_gx(extract, shipped, catalogue=CATALOGUE)
    dq = dq_failed(extract, shipped)
    assert len(outcomes) > 60
    assert [o for o in outcomes if o.error] == []  # nothing raises in GX
    differ = [(o.rule, o.expectation, dq[o.rule], o.failed) for o in outcomes if dq[o.rule] != o.failed]
    assert differ == []
    # the comparison has teeth: some exported rules do find rows
    assert sum(1 for o in outcomes if o.failed) >= 3
    if which == "synthetic":
        # The unparseable date is date_parse's finding in dq, not a missing value: GX agrees
        # because the exported not-null check reads the uploaded text (visit_time__raw).
        (ov,) = [o for o in outcomes if o.rule == "OV-013"] or [None]
        assert ov is not None and ov.expectation == "expect_column_values_to_not_be_null"
        frame = load_batch(extract / "outpatient_visit.csv", catalogue=CATALOGUE)
        assert frame["visit_time"].isna().sum() > frame["visit_time__raw"].isna().sum()


def test_load_batch_types_like_dq_and_blanks_are_null(tmp_path):
    f = tmp_path / "patient_index.csv"
    f.write_text(
        "patient_id,id_type,id_no,name,sex_code,birth_date,phone,address_code,upload_time\n"
        "P1,01,110101199003077777,张三,1,1990-03-07,, 320102,20200901080000\n"
        "P2,01,  ,李四,2,19900230,,320102,2020-09-01 08:00:00\n",
        encoding="utf-8",
    )
    frame = load_batch(f, catalogue=CATALOGUE)
    assert str(frame["birth_date"].dtype).startswith("datetime64")  # a date, as pandas has it
    assert frame["birth_date"].isna().tolist() == [False, True]  # Feb 30 does not parse...
    assert frame["birth_date__raw"].tolist() == ["1990-03-07", "19900230"]  # ...its text stays
    assert frame["id_no"].isna().tolist() == [False, True]  # blank -> null
    assert frame["phone"].isna().all()
    # a frame already typed (Parquet) gets the raw text of typed columns too
    visits = pl.DataFrame(
        {"visit_time": [None, dt.datetime(2020, 9, 1)]}, schema={"visit_time": pl.Datetime("us")}
    )
    typed = batch_frame(visits, "outpatient_visit", CATALOGUE)
    assert typed["visit_time__raw"].isna().tolist() == [True, False]


def test_cli_validate(capsys):
    # a lone table file is an extract too; the whole folder is covered above
    assert main(["gx", "validate", str(EXAMPLE / "outpatient_visit.parquet"), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["differ"] == 0 and len(out["expectations"]) >= 10
    assert {x["table"] for x in out["expectations"]} == {"outpatient_visit"}
    assert all(x["agree"] and x["dq_failed"] == x["gx_failed"] for x in out["expectations"])


# ------------------------------------------------------------------------------ import
@pytest.fixture(scope="module")
def round_trip(tmp_path_factory, shipped):
    """Every shipped suite exported, then imported back into a folder of dq suites."""
    tmp = tmp_path_factory.mktemp("round_trip")
    exported = export_suites(out=tmp / "gx")
    written = []
    for doc in exported:
        if not doc["expectations"]:
            continue
        imported = import_suite(doc["meta"]["dq_path"], catalogue=CATALOGUE)
        assert imported.not_imported == ()  # dq's own export is always expressible
        written.append(imported.write(tmp / "dq" / f"{doc['name']}.yaml"))
    return exported, tmp / "dq"


def test_imported_suites_validate(round_trip, capsys):
    _, folder = round_trip
    assert main(["suites", "validate", str(folder)]) == 0
    assert "ok:" in capsys.readouterr().out


@pytest.mark.parametrize("which", ["example", "synthetic"])
def test_export_import_round_trip_counts(which, round_trip, shipped, synthetic):
    exported, folder = round_trip
    extract = EXAMPLE if which == "example" else synthetic
    before = dq_failed(extract, shipped)
    after = dq_failed(extract, load_suites([folder], catalogue=CATALOGUE))
    ids = {e["meta"]["dq_rule"] for d in exported for e in d["expectations"]}
    # the extract's kind picks the same suites; every rule there is one that was exported
    assert set(after) <= ids and len(after) > 60
    assert after == {r: before[r] for r in after}
    assert any(after.values())


def _foreign_suite() -> dict:
    """A suite written with GX's own API, as a GX user would have it."""
    gx.get_context(mode="ephemeral")
    suite = gx.ExpectationSuite(
        name="clinic_visits",
        expectations=[
            gxe.ExpectColumnValuesToNotBeNull(column="visit_id"),
            gxe.ExpectColumnValuesToBeInSet(column="visit_type", value_set=["1", "2"], mostly=0.9),
            gxe.ExpectColumnValuesToNotBeInSet(column="dept_code", value_set=["X", "Y"]),
            gxe.ExpectColumnValuesToBeBetween(
                column="total_fee", min_value=0, max_value=100, strict_max=True
            ),
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="upload_time", column_B="visit_time", or_equal=True,
                ignore_row_if="either_value_is_missing",
            ),
            # 6: GX's default ignore_row_if for compound keys is not dq's
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["patient_id", "visit_time"]),
            gxe.ExpectColumnMeanToBeBetween(column="total_fee", min_value=1),  # 7: no dq check
            gxe.ExpectColumnValuesToNotBeNull(column="doctor_id", row_condition='visit_type=="1"',
                                              condition_parser="pandas"),  # 8: row_condition
            gxe.ExpectColumnValuesToNotBeNull(column="no_such_column"),  # 9: not in the table
            gxe.ExpectTableRowCountToBeBetween(min_value=1, max_value=10),
        ],
    )  # fmt: skip
    return json.loads(json.dumps(suite.to_json_dict(), default=str))


def test_import_a_gx_suite_lists_what_dq_cannot_express(tmp_path, capsys):
    src = tmp_path / "clinic.json"
    src.write_text(json.dumps(_foreign_suite()), encoding="utf-8")
    out = tmp_path / "rules" / "clinic.yaml"
    assert main(["gx", "import", str(src), "--out", str(out), "--table", "outpatient_visit"]) == 0
    err = capsys.readouterr().err
    text = out.read_text(encoding="utf-8")
    for n, why in [(6, "ignore_row_if"), (7, "no dq check"), (8, "row_condition"), (9, "no_such_column")]:
        assert f"not imported: #{n} " in err and why in err
        assert f"#   - #{n} " in text  # and in the file's header
    assert "6 rules, 4 expectations not imported" in err
    doc = yaml.safe_load(text)
    assert [r["check"] for r in doc["rules"]] == [
        "not_null", "in_set", "expression", "between", "compare", "row_count",
    ]  # fmt: skip
    assert main(["suites", "validate", str(out)]) == 0
    capsys.readouterr()
    assert main(["gx", "import", str(src), "--table", "outpatient_visit", "--format", "json", "-q"]) == 0
    as_json = json.loads(capsys.readouterr().out)
    assert [n["index"] for n in as_json["not_imported"]] == [6, 7, 8, 9]
    assert as_json["suite"]["rules"] == doc["rules"] and as_json["file"] is None
    by_check = {r["check"]: r for r in doc["rules"]}
    assert by_check["in_set"]["threshold"] == {"max_fraction": 0.1}
    assert by_check["between"]["params"] == {
        "column": "total_fee",
        "min": 0,
        "max": 100,
        "max_inclusive": False,
    }


def test_imported_foreign_rules_count_like_gx(tmp_path):
    """The imported rules count on a frame what GX counts on the same frame (load_batch view)."""
    doc = _foreign_suite()
    imported = import_suite(doc, table="outpatient_visit", catalogue=CATALOGUE)
    (suite,) = load_suites([imported.write(tmp_path / "clinic.yaml")], catalogue=CATALOGUE)
    t = dt.datetime(2020, 9, 1, 8)
    df = pl.DataFrame(
        {
            "visit_id": ["V1", "", None, "V4", "V5", "V6"],
            "patient_id": ["P1", "P1", "P2", None, "P3", "P3"],
            "visit_type": ["1", "2", "3", "", "9", "2"],
            "visit_time": [t, t, None, t, t, t],
            "dept_code": ["A", "X", "Y", " ", None, "B"],
            "doctor_id": ["D1", None, None, None, None, None],
            "diagnosis_code": ["J18.9"] * 6,
            "diagnosis_name": ["x"] * 6,
            "total_fee": [0.0, 99.9, 100.0, None, -1.0, 5.0],
            "upload_time": [t, t - dt.timedelta(hours=1), t, None, t + dt.timedelta(days=1), t],
        },
        schema_overrides={"visit_time": pl.Datetime("us"), "upload_time": pl.Datetime("us")},
    )
    _, results = evaluate_frame(df.lazy(), suite.rules, "outpatient_visit", catalogue=CATALOGUE, samples=0)
    dq = {r.rule: r for r in results}
    context = gx.get_context(mode="ephemeral")
    asset = context.data_sources.add_pandas("p").add_dataframe_asset("a")
    batch = asset.add_batch_definition_whole_dataframe("w").get_batch(
        batch_parameters={"dataframe": batch_frame(df, "outpatient_visit", CATALOGUE)}
    )
    kept = [e for i, e in enumerate(doc["expectations"], 1) if i not in {6, 7, 8, 9}]
    validation = batch.validate(gx.ExpectationSuite(**dict(doc, expectations=kept)))
    assert len(validation.results) == len(suite.rules) == 6
    for rule, res in zip(suite.rules, validation.results, strict=True):
        gx_failed = res.result.get("unexpected_count", 0 if res.success else 1)
        assert dq[rule.id].failed == gx_failed, (
            rule.id,
            res.expectation_config.type,
            dq[rule.id],
            res.result,
        )
        assert (dq[rule.id].status in ("pass", "not_applicable")) == res.success, (rule.id, res.result)
    assert sum(dq[r.id].failed for r in suite.rules) >= 4


def test_import_errors_are_user_errors(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    assert main(["gx", "import", str(bad)]) == 2
    assert "not a JSON file" in capsys.readouterr().err
    foreign = tmp_path / "f.json"
    foreign.write_text(json.dumps(_foreign_suite()), encoding="utf-8")
    assert main(["gx", "import", str(foreign)]) == 2  # no meta.dq_table: the table is needed
    assert "--table" in capsys.readouterr().err
    assert main(["gx", "import", str(foreign), "--table", "outpatient_vist"]) == 2
    assert "did you mean 'outpatient_visit'" in capsys.readouterr().err
