"""dq.io.published: the 数据采集情况 tables as typed submission summaries."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from dq.io.published import (
    SUMMARY_SCHEMA,
    available_periods,
    data_dir,
    load_collection,
    load_table,
)
from dq.io.registry import UnknownUnitError

COLUMNS = [
    "period",
    "unit_id",
    "unit_name",
    "kind",
    "declaration_status",
    "declared_tables",
    "required_tables",
    "uploaded_tables",
    "data_volume",
    "upload_days",
    "days_in_period",
    "outpatient_uploaded",
    "outpatient_rate",
    "outpatient_rate_status",
    "discharge_uploaded",
    "discharge_rate",
    "discharge_rate_status",
    "records_basic",
    "records_hypertension",
    "records_diabetes",
    "source",
]


@pytest.fixture(scope="module")
def frames() -> dict[tuple[str, str], pl.DataFrame]:
    return {
        (period, kind): load_collection(period, kind)
        for period in ("2018-03", "2020-09")
        for kind in ("district", "hospital")
    }


def unit(df: pl.DataFrame, name: str) -> dict:
    rows = df.filter(pl.col("unit_name") == name).to_dicts()
    assert len(rows) == 1, name
    return rows[0]


def test_available_periods():
    assert available_periods() == ["2018-03", "2020-09"]


@pytest.mark.parametrize(
    ("period", "kind", "rows", "days"),
    [
        ("2018-03", "district", 12, 31),
        ("2018-03", "hospital", 24, 31),
        ("2020-09", "district", 12, 30),
        ("2020-09", "hospital", 25, 30),
    ],
)
def test_shape_schema_and_constants(frames, period, kind, rows, days):
    df = frames[period, kind]
    assert df.columns == COLUMNS
    assert df.schema == pl.Schema(SUMMARY_SCHEMA)
    assert df.height == rows
    assert df["unit_id"].is_unique().all()
    assert df["unit_id"].null_count() == 0
    assert set(df["period"]) == {period}
    assert set(df["kind"]) == {kind}
    assert set(df["days_in_period"]) == {days}
    assert set(df["source"]) == {f"{period}_collection_{kind}.csv"}
    assert "合计" not in df["unit_name"].to_list()


def test_units_keep_printed_names_and_order(frames):
    df = frames["2018-03", "hospital"]
    assert df["unit_name"].to_list()[:3] == ["南京市妇幼保健院", "南京市第一医院", "南京鼓楼医院"]
    assert (
        unit(df, "解放军南京总医院")["unit_id"]
        == unit(frames["2020-09", "hospital"], "东部战区总医院")["unit_id"]
    )
    assert (
        unit(df, "南医大眼科医院")["unit_id"]
        == unit(frames["2020-09", "hospital"], "南京医科大学附属眼科医院")["unit_id"]
    )


def test_declared_district_2018(frames):
    row = unit(frames["2018-03", "district"], "江北新区")
    assert row["unit_id"] == "D12"
    assert row["declaration_status"] == "declared"
    assert (row["declared_tables"], row["required_tables"]) == (64, 133)
    assert row["uploaded_tables"] == 40
    assert row["data_volume"] == 39819760
    assert row["upload_days"] == 27
    assert row["outpatient_uploaded"] == 41556
    assert row["outpatient_rate"] is None
    assert row["outpatient_rate_status"] == "no_reference"
    assert row["discharge_rate"] is None
    assert row["discharge_rate_status"] == "no_reference"
    assert (row["records_basic"], row["records_hypertension"], row["records_diabetes"]) == (
        3535,
        16385,
        4881,
    )


def test_not_reported_declaration(frames):
    row = unit(frames["2018-03", "hospital"], "南京市第一医院")
    assert row["declaration_status"] == "not_reported"
    assert row["declared_tables"] is None
    assert row["required_tables"] == 85
    assert row["outpatient_rate"] == pytest.approx(58.18)
    assert row["outpatient_rate_status"] == "reported"


def test_direct_db_collection(frames):
    row = unit(frames["2018-03", "hospital"], "南京鼓楼医院")
    assert row["declaration_status"] == "direct_db"
    assert row["declared_tables"] is None
    assert row["required_tables"] is None
    assert row["uploaded_tables"] == 37
    statuses = frames["2018-03", "hospital"]["declaration_status"].value_counts(sort=True)
    assert dict(statuses.iter_rows()) == {"not_reported": 12, "declared": 9, "direct_db": 3}


def test_rates_are_floats_and_may_exceed_100(frames):
    df = frames["2018-03", "hospital"]
    assert unit(df, "南京市胸科医院")["discharge_rate"] == pytest.approx(102.17)
    over = df.filter((pl.col("outpatient_rate") > 100) | (pl.col("discharge_rate") > 100))
    assert sorted(over["unit_name"]) == sorted(
        ["南京市胸科医院", "南京市第二医院", "南京医科大学第二附属医院"]
    )
    # a printed 0 rate stays 0 (reported), it is not a marker
    zero = unit(frames["2018-03", "district"], "六合区")
    assert (zero["outpatient_rate"], zero["outpatient_rate_status"]) == (0.0, "reported")


def test_no_reference_hospital(frames):
    row = unit(frames["2018-03", "hospital"], "解放军南京总医院")
    assert row["outpatient_uploaded"] == 168952
    assert row["outpatient_rate_status"] == row["discharge_rate_status"] == "no_reference"
    assert row["outpatient_rate"] is None and row["discharge_rate"] is None


def test_2020_rates_not_published(frames):
    for kind in ("district", "hospital"):
        df = frames["2020-09", kind]
        assert set(df["outpatient_rate_status"]) == {"not_published"}
        assert set(df["discharge_rate_status"]) == {"not_published"}
        assert df["outpatient_rate"].null_count() == df.height
        assert df["discharge_rate"].null_count() == df.height


def test_2020_values(frames):
    row = unit(frames["2020-09", "district"], "江宁区")
    assert row["records_basic"] == 938401
    assert (row["declared_tables"], row["required_tables"]) == (52, 129)
    hospital = unit(frames["2020-09", "hospital"], "江苏省人民医院")
    assert hospital["declaration_status"] == "not_reported"
    assert (hospital["declared_tables"], hospital["required_tables"]) == (None, 83)
    assert unit(frames["2020-09", "hospital"], "南京鼓楼医院")["declaration_status"] == "declared"


def test_records_only_for_districts(frames):
    for period in ("2018-03", "2020-09"):
        hospitals = frames[period, "hospital"]
        for column in ("records_basic", "records_hypertension", "records_diabetes"):
            assert hospitals[column].null_count() == hospitals.height
            assert frames[period, "district"][column].null_count() == 0


def test_load_table_is_raw_text_with_totals():
    df = load_table("2018-03_medical_cards")
    assert set(df.dtypes) == {pl.String}
    assert df.row(-1) == (None, "合计", "194334")
    assert load_table("2018-03_medical_cards.csv").equals(df)
    with pytest.raises(ValueError, match=r"no table '2018-03_nothing'.*2018-03_terminals"):
        load_table("2018-03_nothing")


def test_bad_arguments():
    with pytest.raises(ValueError, match="kind must be one of hospital, district"):
        load_collection("2018-03", "community")
    with pytest.raises(ValueError, match=r"no hospital collection table for '2019-01'.*2018-03"):
        load_collection("2019-01", "hospital")
    with pytest.raises(ValueError, match="YYYY-MM"):
        load_collection("March 2018", "hospital")


@pytest.fixture
def copy_root(tmp_path: Path) -> Path:
    root = tmp_path / "nanjing"
    root.mkdir()
    for file in data_dir().glob("*_collection_*.csv"):
        shutil.copy(file, root / file.name)
    return root


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "南京市第一医院,未反馈,85",
            "南京市第一医院,不详,85",
            r"2018-03_collection_hospital\.csv line 3 \('南京市第一医院'\), "
            r"column 'declared_tables': '不详' is neither",
        ),
        (
            "南京市胸科医院,27,85,27,1171500,31,44,0.35",
            "南京市胸科医院,27,85,27,1171500,31,44,n/a",
            r"line 9 \('南京市胸科医院'\), column 'outpatient_rate': 'n/a' is neither",
        ),
        (
            "南京市中医院,未反馈,85,28",
            "南京市中医院,未反馈,85,未反馈",
            r"line 8 \('南京市中医院'\), column 'uploaded_tables': '未反馈' is neither",
        ),
        (
            "南京市儿童医院,56,85,",
            "南京市儿童医院,56,,",
            r"line 6 \('南京市儿童医院'\), column 'required_tables': empty cell",
        ),
    ],
)
def test_unknown_cells_raise_value_error_naming_file_and_row(copy_root, old, new, message):
    _replace(copy_root / "2018-03_collection_hospital.csv", old, new)
    with pytest.raises(ValueError, match=message):
        load_collection("2018-03", "hospital", root=copy_root)


def test_marker_never_becomes_zero_even_in_number_columns(copy_root):
    _replace(
        copy_root / "2020-09_collection_district.csv",
        "江宁区,52,129,52,11167174,30,491947",
        "江宁区,52,129,52,11167174,30,未反馈",
    )
    with pytest.raises(ValueError, match="column 'outpatient_uploaded': '未反馈'"):
        load_collection("2020-09", "district", root=copy_root)


def test_unknown_unit_names_file_and_line(copy_root):
    _replace(copy_root / "2020-09_collection_hospital.csv", "南京脑科医院,", "南京脑科病院,")
    with pytest.raises(UnknownUnitError, match=r"2020-09_collection_hospital\.csv line 17") as exc:
        load_collection("2020-09", "hospital", root=copy_root)
    assert "南京脑科医院" in exc.value.candidates


def test_unit_of_the_wrong_kind(copy_root):
    _replace(copy_root / "2020-09_collection_district.csv", "建邺区,", "南京市中心医院,")
    with pytest.raises(ValueError, match=r"'南京市中心医院' is a hospital .*district table"):
        load_collection("2020-09", "district", root=copy_root)


def test_total_row_is_excluded(copy_root):
    path = copy_root / "2020-09_collection_district.csv"
    with path.open("a", encoding="utf-8") as fh:
        fh.write("合计,,,,1,1,1,1,1,1,1\n")
    assert load_collection("2020-09", "district", root=copy_root).height == 12
    assert available_periods(copy_root) == ["2018-03", "2020-09"]
