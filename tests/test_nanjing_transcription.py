"""The newsletter transcription in datasets/nanjing: verified against the source text."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

NANJING = Path(__file__).resolve().parents[1] / "datasets" / "nanjing"


def _load_verify():
    spec = importlib.util.spec_from_file_location("nanjing_verify", NANJING / "verify.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up while executing it
    spec.loader.exec_module(module)
    return module


verify = _load_verify()

ROW_COUNTS = {  # 合计 rows included
    "2018-03_hotline_calls.csv": 10,
    "2018-03_hotline_cities.csv": 10,
    "2018-03_appointments.csv": 45,
    "2018-03_medical_cards.csv": 31,
    "2018-03_appointment_channels.csv": 14,
    "2018-03_test_report_uploads.csv": 23,
    "2018-03_family_doctor.csv": 13,
    "2018-03_scheduling.csv": 24,
    "2018-03_maternal_child.csv": 13,
    "2018-03_collection_district.csv": 12,
    "2018-03_collection_hospital.csv": 24,
    "2018-03_terminals.csv": 51,
    "2020-09_hotline_calls.csv": 9,
    "2020-09_hotline_cities.csv": 8,
    "2020-09_appointments.csv": 40,
    "2020-09_appointment_channels.csv": 9,
    "2020-09_collection_district.csv": 12,
    "2020-09_collection_hospital.csv": 25,
    "2020-09_terminals.csv": 50,
}
KEY_COLUMNS = ("unit", "channel", "city", "category")


def raw(name: str) -> pl.DataFrame:
    return pl.read_csv(NANJING / name, infer_schema=False)


def key_of(df: pl.DataFrame) -> str:
    return next(c for c in KEY_COLUMNS if c in df.columns)


def row(name: str, unit: str) -> dict[str, str]:
    df = raw(name)
    rows = df.filter(pl.col(key_of(df)) == unit).to_dicts()
    assert len(rows) == 1, (name, unit, rows)
    return rows[0]


def stated_and_sum(name: str, column: str, where: pl.Expr | None = None) -> tuple[Decimal, ...]:
    df = raw(name)
    key = key_of(df)
    body = df.filter(pl.col(key) != "合计")
    if where is not None:
        body = body.filter(where)
    (stated,) = df.filter(pl.col(key) == "合计")[column].to_list()
    return Decimal(stated), sum(Decimal(v) for v in body[column].to_list())


# ------------------------------------------------------------------------- verification
def test_verify_all_finds_no_problems():
    assert verify.verify_all() == []


def test_every_csv_is_declared_with_the_expected_row_count():
    assert {p.name for p in NANJING.glob("*.csv")} == set(ROW_COUNTS)
    assert {name: spec.rows for name, spec in verify.TABLES.items()} == ROW_COUNTS


@pytest.mark.parametrize("name", sorted(ROW_COUNTS))
def test_row_counts(name):
    assert raw(name).height == ROW_COUNTS[name]


@pytest.fixture
def nanjing_copy(tmp_path: Path) -> Path:
    shutil.copytree(NANJING, tmp_path / "nanjing", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path / "nanjing"


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "old", "new", "line"),
    [
        ("2018-03_collection_district.csv", "江北新区,64,133,40", "江北新区,64,133,41", 2),
        ("2018-03_collection_hospital.csv", "南京市第一医院,未反馈,85", "南京市第一医院,0,85", 3),
        ("2018-03_collection_hospital.csv", "南京鼓楼医院,开库采集,,", "南京鼓楼医院,开库采集,85,", 4),
        ("2018-03_medical_cards.csv", ",合计,194334", ",合计,194333", 32),
        ("2020-09_collection_district.csv", "938401", "938410", 2),
        ("2018-03_scheduling.csv", "部队医院,解放军第八一医院", "其他医院,解放军第八一医院", 22),
        ("2020-09_terminals.csv", "hospitals,南京市中心医院", "districts,南京市中心医院", 38),
    ],
)
def test_verify_reports_file_and_line_of_a_wrong_cell(nanjing_copy, name, old, new, line):
    _replace(nanjing_copy / name, old, new)
    problems = verify.verify_all(nanjing_copy)
    assert len(problems) == 1
    assert problems[0].startswith(f"{name} line {line} ")


def test_verify_reports_rows_out_of_order(nanjing_copy):
    path = nanjing_copy / "2018-03_maternal_child.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[1], lines[2] = lines[2], lines[1]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    problems = verify.verify_all(nanjing_copy)
    assert any("out of order" in p for p in problems), problems


def test_verify_reports_a_missing_row_through_the_row_count(nanjing_copy):
    path = nanjing_copy / "2020-09_collection_hospital.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
    assert verify.verify_all(nanjing_copy) == [
        "2020-09_collection_hospital.csv: 24 rows, expected 25 (合计 rows included)"
    ]


def test_verify_main_exit_codes(nanjing_copy, monkeypatch, capsys):
    assert verify.main() == 0
    monkeypatch.setattr(verify, "HERE", nanjing_copy)
    (nanjing_copy / "2018-03_hotline_cities.csv").unlink()
    assert verify.main() == 1
    assert "2018-03_hotline_cities.csv: file missing" in capsys.readouterr().err


def test_wrapped_marker_cells_match_but_numbers_stay_strict():
    text = verify.normalise("江北新区 64/133 40 39819760 27 41556\n未获取\n\n卫统数据\n447")
    assert verify.pattern_for("41556 未获取卫统数据 447").search(text)
    assert not verify.pattern_for("64/13 40").search(text)  # "64/133" is not "64/13"
    assert not verify.pattern_for("3 40").search(text)  # no match inside "64/133 40"
    assert not verify.pattern_for("4039819760").search(text)  # numbers need their space


# ------------------------------------------------------------------------- spot values
def test_spot_values():
    jiangbei = row("2018-03_collection_district.csv", "江北新区")
    assert (jiangbei["declared_tables"], jiangbei["required_tables"]) == ("64", "133")
    assert jiangbei["data_volume"] == "39819760"
    assert jiangbei["outpatient_rate"] == jiangbei["discharge_rate"] == "未获取卫统数据"
    assert (jiangbei["browser_deployments"], jiangbei["browser_calls"]) == ("127", "0")
    assert row("2018-03_collection_hospital.csv", "南京市胸科医院")["discharge_rate"] == "102.17"
    assert row("2020-09_collection_district.csv", "江宁区")["records_basic"] == "938401"
    gulou = row("2018-03_collection_hospital.csv", "南京鼓楼医院")
    assert (gulou["declared_tables"], gulou["required_tables"]) == ("开库采集", None)
    first = row("2018-03_collection_hospital.csv", "南京市第一医院")
    assert (first["declared_tables"], first["required_tables"]) == ("未反馈", "85")
    assert first["browser_deployments"] == "未部署"
    tcm = row("2018-03_collection_hospital.csv", "南京市中医院")
    assert (tcm["browser_deployments"], tcm["browser_calls"]) == ("212", "160618")
    assert row("2018-03_scheduling.csv", "南京市第二医院")["community_priority_weeks"] == ("第二周前 6天")
    assert row("2018-03_terminals.csv", "江苏省中医院")["registration_amount"] == "2448373.00"
    assert row("2020-09_terminals.csv", "江宁区")["section"] == "districts"
    assert row("2020-09_appointments.csv", "东部战区总医院(秦淮医疗区)")["total"] == "480"
    assert row("2018-03_test_report_uploads.csv", "南京鼓楼医院")["uploaded_reports"] == "370119"
    assert row("2018-03_family_doctor.csv", "合计")["progress"] is None


def test_two_column_tables_are_in_seq_order():
    cards = raw("2018-03_medical_cards.csv")
    assert cards["unit"].to_list()[14:17] == [
        "雨花台区妇幼保健所",
        "雨花台区赛虹桥社区卫生服务中心",
        "南京市雨花医院",
    ]
    assert raw("2020-09_appointment_channels.csv")["channel"].to_list()[:5] == [
        "健康南京客户端",
        "南京卫生12320微信平台",
        "12320快速预约",
        "江苏省预约挂号网",
        "我的南京客户端",
    ]


def test_total_rows_are_last_and_keep_printed_values():
    for name in ROW_COUNTS:
        df = raw(name)
        keys = df[key_of(df)].to_list()
        if "合计" in keys:
            assert keys.index("合计") == len(keys) - 1, name
    assert row("2018-03_medical_cards.csv", "合计")["cards_issued"] == "194334"
    assert row("2020-09_appointments.csv", "合计")["total"] == "433725"
    assert row("2018-03_hotline_cities.csv", "合计")["calls"] == "127185"


# ------------------------------------------------------------------------- totals vs sums
@pytest.mark.parametrize(
    ("name", "column", "stated", "computed"),
    [
        ("2018-03_appointment_channels.csv", "appointments", "98694", "98693"),
        ("2020-09_hotline_cities.csv", "calls", "127073", "127074"),
        ("2020-09_terminals.csv", "payment_amount", "274222456.80", "274222456.75"),
        ("2020-09_appointments.csv", "platform_12320", "101498", "91621"),
        ("2020-09_appointments.csv", "phone", "75225", "45930"),
        ("2020-09_appointments.csv", "clinic", "171338", "150372"),
        ("2020-09_appointments.csv", "third_party", "85664", "80828"),
        ("2020-09_appointments.csv", "total", "433725", "368751"),
    ],
)
def test_known_total_discrepancies(name, column, stated, computed):
    assert stated_and_sum(name, column) == (Decimal(stated), Decimal(computed))


def test_hotline_call_categories_do_not_add_up_in_2018_but_do_in_2020():
    calls = pl.col("measure") == "个"
    assert stated_and_sum("2018-03_hotline_calls.csv", "count", calls) == (97458, 97384)
    assert stated_and_sum("2020-09_hotline_calls.csv", "count", calls) == (89379, 89379)


@pytest.mark.parametrize(
    ("name", "columns"),
    [
        ("2018-03_appointments.csv", ["platform_12320", "phone", "clinic", "third_party", "total"]),
        ("2018-03_medical_cards.csv", ["cards_issued"]),
        ("2018-03_test_report_uploads.csv", ["uploaded_reports"]),
        ("2018-03_hotline_cities.csv", ["calls"]),
        ("2018-03_family_doctor.csv", ["community_orgs_appointment", "contracted_doctors"]),
        ("2018-03_maternal_child.csv", ["women_registered", "children_registered"]),
        ("2018-03_terminals.csv", ["terminals", "registration_amount", "payment_amount"]),
        ("2020-09_appointment_channels.csv", ["appointments"]),
        ("2020-09_terminals.csv", ["terminals", "registrations", "payments"]),
    ],
)
def test_totals_that_add_up(name, columns):
    for column in columns:
        stated, computed = stated_and_sum(name, column)
        assert stated == computed, (name, column)


def test_appointment_rows_add_up_to_their_total():
    parts = ["platform_12320", "phone", "clinic", "third_party"]
    for name in ("2018-03_appointments.csv", "2020-09_appointments.csv"):
        df = raw(name).with_columns(pl.col([*parts, "total"]).cast(pl.Int64))
        bad = df.filter(pl.sum_horizontal(parts) != pl.col("total"))
        assert bad.is_empty(), bad


def test_2020_appointment_total_row_is_internally_consistent_but_exceeds_the_rows():
    total = row("2020-09_appointments.csv", "合计")
    parts = ["platform_12320", "phone", "clinic", "third_party"]
    assert sum(int(total[c]) for c in parts) == int(total["total"])
    # the listed rows' phone bookings equal the hotline's 电话预约 for the month
    assert stated_and_sum("2020-09_appointments.csv", "phone")[1] == Decimal(
        row("2020-09_hotline_calls.csv", "phone_appointment")["count"]
    )
