"""Readers: Parquet, CSV (UTF-8 with/without BOM, GB18030), xlsx; coercion; manifests; reference."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
import yaml
from conftest import CATALOGUE, make_rule

from dq.engine.evaluate import evaluate_frame
from dq.errors import InputError
from dq.io.period import Period
from dq.io.sources import detect_encoding, open_extract, read_table

D, DT = dt.date, dt.datetime
PI_CSV = (
    "patient_id,name,sex_code,birth_date,phone,upload_time\n"
    "p1,王小明,1,1990-01-01,13812345678,2020-09-01 08:00:00\n"
    "p2,李四,2,19900202,,2020-09-02T09:30:00\n"
)


def write_csv(path: Path, text: str, encoding: str = "utf-8", bom: bool = False) -> Path:
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding))
    return path


def collect(path: Path, **kw) -> pl.DataFrame:
    """The table's own columns as read (the row number the reader adds is tested on its own)."""
    df = read_table(path, catalogue=CATALOGUE, **kw).frame.collect()
    assert df["__dq_row"].to_list() == list(range(df.height))
    return df.drop("__dq_row")


def expect_pi(df: pl.DataFrame) -> None:
    assert df.columns[:6] == ["patient_id", "name", "sex_code", "birth_date", "phone", "upload_time"]
    assert df.schema["birth_date"] == pl.Date and df.schema["upload_time"] == pl.Datetime("us")
    assert df["name"].to_list() == ["王小明", "李四"]
    assert df["birth_date"].to_list() == [D(1990, 1, 1), D(1990, 2, 2)]
    assert df["upload_time"].to_list() == [DT(2020, 9, 1, 8), DT(2020, 9, 2, 9, 30)]
    assert df["birth_date__raw"].to_list() == ["1990-01-01", "19900202"]


# ------------------------------------------------------------------ CSV and encodings
def test_csv_utf8_without_bom(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "patient_index.csv", PI_CSV)
    assert detect_encoding(f) == "utf-8"
    df = collect(f)
    expect_pi(df)
    assert df["phone"].to_list() == ["13812345678", ""]  # an empty field stays an empty string


def test_csv_utf8_with_bom(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "patient_index.csv", PI_CSV, bom=True)
    assert detect_encoding(f) == "utf-8"
    expect_pi(collect(f))  # the BOM does not end up in the first column's name


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_a_ragged_csv_row_is_named_by_number_without_its_values(tmp_path: Path, encoding: str) -> None:
    # A quoted value spanning two lines makes the row and line numbers differ.
    text = (
        PI_CSV
        + 'p3,"王\n五",1,1990-03-03,,2020-09-03 08:00:00\n'
        + "p4,赵六,1,1990-04-04,13912345678,2020-09-04 08:00:00,320102199001011234\n"
    )
    f = write_csv(tmp_path / "patient_index.csv", text, encoding=encoding)
    with pytest.raises(InputError) as exc:
        collect(f)
    msg = str(exc.value)
    assert "row 4 (line 6) has 7 fields, 1 more fields than the header" in msg
    assert str(f) in msg and "3201021990" not in msg and "赵六" not in msg


def test_csv_gb18030_detected(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "patient_index.csv", PI_CSV, encoding="gb18030")
    assert detect_encoding(f) == "gb18030"
    expect_pi(collect(f))


@pytest.mark.parametrize("encoding", ["gbk", "GB18030", "gb2312", "cp936"])
def test_csv_gb_explicit_encoding(tmp_path: Path, encoding: str) -> None:
    f = write_csv(tmp_path / "patient_index.csv", PI_CSV, encoding="gbk")
    expect_pi(collect(f, encoding=encoding))


def test_small_gbk_file_whose_only_chinese_is_at_the_end(tmp_path: Path) -> None:
    # The undecodable UTF-8 bytes are within the last 3 bytes of a file read whole: still GBK.
    f = write_csv(tmp_path / "patient_index.csv", "patient_id,name\np1,张\n", encoding="gbk")
    assert detect_encoding(f) == "gb18030"
    assert collect(f)["name"].to_list() == ["张"]


def test_a_multibyte_character_cut_by_the_sample_is_fine(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "x.csv", "name\n" + "王" * 100)
    # 5 + 3k bytes: a sample of 7 bytes ends inside the first 王.
    assert detect_encoding(f, sample_bytes=7) == "utf-8"


def test_explicit_utf8_on_a_gb_file_names_the_file(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "patient_index.csv", PI_CSV, encoding="gb18030")
    with pytest.raises(InputError, match=r"patient_index\.csv: not valid UTF-8 at byte \d+"):
        read_table(f, catalogue=CATALOGUE, encoding="utf-8")


def test_neither_utf8_nor_gb_names_the_file(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "patient_index.csv", PI_CSV, encoding="utf-16")
    with pytest.raises(InputError) as info:
        read_table(f, catalogue=CATALOGUE)
    assert str(info.value).startswith(f"{f}: neither UTF-8 nor GB18030")
    assert "save it as UTF-8 or GB18030" in str(info.value)  # dq score has no --encoding to suggest


def test_unsupported_encoding(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "patient_index.csv", PI_CSV)
    with pytest.raises(InputError, match="unsupported encoding 'latin-1'"):
        read_table(f, catalogue=CATALOGUE, encoding="latin-1")


# ------------------------------------------------------------------ Parquet and xlsx
def test_parquet_typed(tmp_path: Path) -> None:
    f = tmp_path / "patient_index.parquet"
    pl.DataFrame(
        {
            "patient_id": ["p1"],
            "name": ["王小明"],
            "birth_date": [D(1990, 1, 1)],
            "upload_time": [DT(2020, 9, 1, 8)],
        }
    ).write_parquet(f)
    df = collect(f)
    assert df.schema == pl.Schema(
        {"patient_id": pl.String, "name": pl.String, "birth_date": pl.Date, "upload_time": pl.Datetime("us")}
    )  # nothing to parse, so no __raw companions


def test_parquet_text_style(tmp_path: Path) -> None:
    f = tmp_path / "hypertension_followup.parquet"
    pl.DataFrame(
        {"followup_id": ["f1", "f2"], "followup_date": ["20200901", "2020-09-31"], "sbp": ["120", "abc"]}
    ).write_parquet(f)
    df = collect(f)
    assert df["followup_date"].to_list() == [D(2020, 9, 1), None]
    assert df["followup_date__raw"].to_list() == ["20200901", "2020-09-31"]
    assert df.schema["sbp"] == pl.Int64 and df["sbp"].to_list() == [120, None]
    assert df["sbp__raw"].to_list() == ["120", "abc"]


def test_parquet_other_native_types_are_cast(tmp_path: Path) -> None:
    f = tmp_path / "inpatient_record.parquet"
    pl.DataFrame(
        {
            "inpatient_id": [1001],  # a number where text is expected
            "admission_time": [D(2020, 9, 1)],  # a date where a datetime is expected
            "length_of_stay": pl.Series([3], dtype=pl.Int32),
            "total_fee": [100],  # an integer where a decimal is expected
        }
    ).write_parquet(f)
    df = collect(f)
    assert df.schema == pl.Schema(
        {
            "inpatient_id": pl.String,
            "admission_time": pl.Datetime("us"),
            "length_of_stay": pl.Int64,
            "total_fee": pl.Float64,
        }
    )
    assert df.row(0) == ("1001", DT(2020, 9, 1), 3, 100.0)


def test_xlsx(tmp_path: Path) -> None:
    f = tmp_path / "patient_index.xlsx"
    pl.DataFrame(
        {
            "patient_id": ["p1", "p2", "p3"],
            "name": ["王小明", "李四", "赵六"],
            "birth_date": ["1990-01-01", "19900202", "1990-02-30"],
            "upload_time": [DT(2020, 9, 1, 8), DT(2020, 9, 2, 9, 30), None],
        }
    ).write_excel(f)
    df = collect(f)
    assert df["name"].to_list() == ["王小明", "李四", "赵六"]
    assert df["birth_date"].to_list() == [D(1990, 1, 1), D(1990, 2, 2), None]
    assert df["birth_date__raw"].to_list() == ["1990-01-01", "19900202", "1990-02-30"]
    assert df["upload_time"].to_list() == [DT(2020, 9, 1, 8), DT(2020, 9, 2, 9, 30), None]


@pytest.mark.parametrize("name", ["patient_index.parquet", "patient_index.xlsx"])
def test_corrupt_file_names_the_file(tmp_path: Path, name: str) -> None:
    f = tmp_path / name
    f.write_bytes(b"this is not the format it claims")
    with pytest.raises(InputError) as info:
        collect(f)
    assert str(info.value).startswith(f"{f}: cannot read")


def test_unsupported_suffix_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "patient_index.json").write_text("{}")
    with pytest.raises(InputError, match=r"unsupported file type '\.json'"):
        read_table(tmp_path / "patient_index.json", catalogue=CATALOGUE)
    with pytest.raises(InputError, match="no such file"):
        read_table(tmp_path / "nope.csv", catalogue=CATALOGUE)


# ------------------------------------------------------------------ dates and datetimes
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020-09-01", D(2020, 9, 1)),
        ("20200901", D(2020, 9, 1)),
        ("2020/09/01", D(2020, 9, 1)),
        (" 2020-09-01 ", D(2020, 9, 1)),
        ("2020-09-01 08:30:00", D(2020, 9, 1)),  # a datetime where a date is expected keeps its date
        ("2020-09-31", None),
        ("2020-9-1x", None),
        ("01/09/2020", None),
    ],
)
def test_date_formats(tmp_path: Path, text: str, expected: dt.date | None) -> None:
    f = write_csv(tmp_path / "patient_index.csv", f"patient_id,birth_date\np1,{text}\n")
    df = collect(f)
    assert df["birth_date"].to_list() == [expected]
    assert df["birth_date__raw"].to_list() == [text]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020-09-01 08:30:15", DT(2020, 9, 1, 8, 30, 15)),
        ("2020-09-01T08:30:15", DT(2020, 9, 1, 8, 30, 15)),
        ("20200901083015", DT(2020, 9, 1, 8, 30, 15)),
        ("2020-09-01 08:30:15.250", DT(2020, 9, 1, 8, 30, 15, 250000)),
        ("2020-09-01T08:30:15.5", DT(2020, 9, 1, 8, 30, 15, 500000)),
        ("2020-09-01 08:30", DT(2020, 9, 1, 8, 30)),
        ("2020/09/01 08:30:15", DT(2020, 9, 1, 8, 30, 15)),
        ("2020-09-01", DT(2020, 9, 1)),
        ("20200901", DT(2020, 9, 1)),
        ("2020-09-01 24:00:00", None),
        ("tomorrow", None),
    ],
)
def test_datetime_formats(tmp_path: Path, text: str, expected: dt.datetime | None) -> None:
    f = write_csv(tmp_path / "outpatient_visit.csv", f"visit_id,visit_time\nv1,{text}\n")
    df = collect(f)
    assert df["visit_time"].to_list() == [expected]
    assert df["visit_time__raw"].to_list() == [text]


def test_unparseable_value_stays_visible_and_is_counted(tmp_path: Path) -> None:
    f = write_csv(
        tmp_path / "patient_index.csv",
        "patient_id,birth_date\np1,1990-01-01\np2,1990-02-30\np3,\np4,not a date\n",
    )
    src = read_table(f, catalogue=CATALOGUE)
    parse = make_rule("date_parse", {"column": "birth_date", "type": "date"}, id="DP")
    present = make_rule("not_null", {"column": "birth_date"}, id="NN")
    _, (dp, nn) = evaluate_frame(src.frame, [parse, present], "patient_index", catalogue=CATALOGUE)
    assert (dp.status, dp.evaluated, dp.failed) == ("fail", 3, 2)  # the blank is not_null's business
    assert [s["birth_date__raw"] for s in dp.samples] == ["1990-02-30", "not a date"]
    # Only the blank is missing: a value given but not parseable is date_parse's finding alone.
    assert (nn.evaluated, nn.failed) == (4, 1)


# ------------------------------------------------------------------ extracts and manifests
MANIFEST = {"unit_id": "H001", "name": "测试医院", "kind": "hospital", "period": "2020-09"}


def extract_dir(tmp_path: Path, manifest: dict | str | None = None, **files: str) -> Path:
    d = tmp_path / "extract"
    d.mkdir()
    m = MANIFEST if manifest is None else manifest
    (d / "manifest.yaml").write_text(
        m if isinstance(m, str) else yaml.safe_dump(m, allow_unicode=True), "utf-8"
    )
    for name, text in files.items():
        (d / name.replace("__", ".")).write_text(text, encoding="utf-8")
    return d


def test_open_extract_folder(tmp_path: Path) -> None:
    d = extract_dir(
        tmp_path,
        patient_index__csv=PI_CSV,
        notes__csv="a,b\n1,2\n",
        reference__csv="\ufeffmetric,value\noutpatient_visits, 1200\ndischarges,35.5\n",
    )
    ex = open_extract(d, catalogue=CATALOGUE)
    assert (ex.kind, ex.period, ex.unit_id) == ("hospital", "2020-09", "H001")
    assert list(ex.tables) == ["patient_index"]
    assert ex.manifest["collection_mode"] == "upload"  # the default
    assert ex.reference == {"outpatient_visits": 1200.0, "discharges": 35.5}
    assert ex.problems == ["notes.csv: not a table of the catalogue; ignored"]


@pytest.mark.parametrize(
    ("manifest", "fragment"),
    [
        ({**MANIFEST, "kind": "clinic"}, "'kind' must be hospital or district, got 'clinic'"),
        ({**MANIFEST, "owner": "x"}, "unknown manifest key(s): owner"),
        ({**MANIFEST, "period": "2020-13"}, "'period': a period is a month written YYYY-MM"),
        ({**MANIFEST, "period": 202009}, "'period': a period is a month written YYYY-MM"),
        ({**MANIFEST, "declared_tables": "patient_index"}, "declared_tables must be a list"),
        ({**MANIFEST, "declared_tables": [1, 2]}, "declared_tables must be a list"),
        ({**MANIFEST, "collection_mode": "ftp"}, "collection_mode must be upload or direct_db"),
        ("- a\n- list\n", "the manifest must be a mapping"),
        ("kind: [unclosed\n", "not valid YAML"),
    ],
    ids=[
        "bad-kind",
        "unknown-key",
        "bad-period",
        "period-not-text",
        "declared-not-a-list",
        "declared-not-names",
        "bad-mode",
        "not-a-mapping",
        "bad-yaml",
    ],
)
def test_manifest_errors_name_the_file(tmp_path: Path, manifest, fragment: str) -> None:
    d = extract_dir(tmp_path, manifest)
    with pytest.raises(InputError) as info:
        open_extract(d, catalogue=CATALOGUE)
    msg = str(info.value)
    assert msg.startswith(str(d / "manifest.yaml")), msg
    assert fragment in msg


def test_folder_without_manifest(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not an extract"):
        open_extract(tmp_path, catalogue=CATALOGUE)


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or folder"):
        open_extract(tmp_path / "nope", catalogue=CATALOGUE)


def test_a_table_present_twice(tmp_path: Path) -> None:
    d = extract_dir(tmp_path, patient_index__csv=PI_CSV)
    pl.DataFrame({"patient_id": ["p1"]}).write_parquet(d / "patient_index.parquet")
    with pytest.raises(InputError, match="table patient_index is present twice"):
        open_extract(d, catalogue=CATALOGUE)


def test_bad_reference_row_names_file_and_row(tmp_path: Path) -> None:
    d = extract_dir(tmp_path, reference__csv="metric,value\nvisits,12\ndischarges,many\n")
    with pytest.raises(InputError) as info:
        open_extract(d, catalogue=CATALOGUE)
    assert str(info.value).startswith(f"{d / 'reference.csv'} row 3: expected columns metric,value")


def test_single_file_extract(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "patient_index.csv", PI_CSV)
    ex = open_extract(f, catalogue=CATALOGUE)
    assert ex.kind == "hospital"  # the table's kind
    assert ex.period is None and list(ex.tables) == ["patient_index"]
    assert ex.manifest == {"kind": "hospital", "name": "patient_index.csv"}
    assert ex.tables["patient_index"].frame.collect().height == 2


def test_single_file_of_an_unknown_table_is_read_untyped(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "whatever.csv", "a,b\n1,2\n")
    ex = open_extract(f, catalogue=CATALOGUE)
    assert ex.kind is None and ex.tables["whatever"].spec is None
    assert ex.tables["whatever"].frame.collect().schema == pl.Schema(
        {"__dq_row": pl.UInt32, "a": pl.String, "b": pl.String}
    )  # the row number the reader adds, then the file's columns


def test_an_uploaded_row_number_column_is_refused(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "whatever.csv", "a,__dq_row\n1,2\n")
    with pytest.raises(InputError, match="__dq_row clashes"):
        read_table(f, catalogue=CATALOGUE)


@pytest.mark.parametrize(
    ("period", "start", "end"),
    [
        ("2020-09", DT(2020, 9, 1), DT(2020, 10, 1)),
        ("2020-12", DT(2020, 12, 1), DT(2021, 1, 1)),
        ("2020-02", DT(2020, 2, 1), DT(2020, 3, 1)),
    ],
)
def test_parse_period(period: str, start: dt.datetime, end: dt.datetime) -> None:
    assert (Period.parse(period).start, Period.parse(period).end) == (start, end)


@pytest.mark.parametrize("period", ["2020-13", "202009", "2020/09", "2020-9", "", None])
def test_parse_period_rejects(period) -> None:
    with pytest.raises(InputError, match="a period is a month written YYYY-MM"):
        Period.parse(period)
