"""Acceptance on real data (issue "Scoring", item 6): dq on the newsletters' published figures.

``dq.batch.local.score_published`` scores the 2018-03 and 2020-09 数据采集情况 tables with the
submission suite and checks every published table's 合计. Every expectation here is recomputed
from the CSVs with the plain ``csv`` module (no dq, no Polars), and compared with what dq
reports, both ways: dq must report every oddity, and nothing else.
"""

from __future__ import annotations

import calendar
import csv
import importlib.util
import math
import statistics
import sys
from collections.abc import Callable, Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pytest

from dq.batch.local import BatchOutcome, score_published
from dq.engine.results import RuleResult
from dq.engine.suite import load_suites
from dq.store.history import Store

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "datasets" / "nanjing"
PERIODS = ("2018-03", "2020-09")
FOUND = ("fail", "warn")


# ----------------------------------------------------------------------------- plain CSV side
def read(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def collection(period: str) -> Iterator[tuple[str, dict[str, str]]]:
    """(kind, row) of the period's 数据采集情况 tables."""
    for kind in ("district", "hospital"):
        f = DATA / f"{period}_collection_{kind}.csv"
        if f.exists():
            for row in read(f.name):
                yield kind, {k: (v or "").strip() for k, v in row.items()}


def days_in(period: str) -> int:
    y, m = map(int, period.split("-"))
    return calendar.monthrange(y, m)[1]


def number(cell: str | None) -> float | None:
    """A printed number, or None for markers (未获取卫统数据, …) and absent columns."""
    try:
        return float(cell) if cell else None
    except ValueError:
        return None


def count(row: dict[str, str], col: str) -> int:
    return int(row[col])


def declared(row: dict[str, str]) -> int | None:
    return int(row["declared_tables"]) if row["declared_tables"].isdigit() else None


# What each submission rule must find, as a predicate over a printed row (and the period's days).
Pred = Callable[[str, dict[str, str], int], bool]
EXPECTED_BY_RULE: dict[str, Pred] = {
    # 未反馈 = declaration not reported (开库采集 is exempt)
    "SUB-001": lambda k, r, d: r["declared_tables"] == "未反馈",
    # more than 10 % of the required tables not declared
    "SUB-002": lambda k, r, d: (
        declared(r) is not None
        and (count(r, "required_tables") - declared(r)) / count(r, "required_tables") > 0.1
    ),
    # fewer tables uploaded than declared
    "SUB-003": lambda k, r, d: declared(r) is not None and count(r, "uploaded_tables") < declared(r),
    "SUB-004": lambda k, r, d: declared(r) is not None and count(r, "uploaded_tables") > declared(r),
    # upload days short of the month's days
    "SUB-005": lambda k, r, d: count(r, "upload_days") < d,
    "SUB-006": lambda k, r, d: count(r, "upload_days") > d,
    # rates above 100
    "SUB-007": lambda k, r, d: (number(r.get("outpatient_rate")) or 0) > 100,
    "SUB-008": lambda k, r, d: (number(r.get("discharge_rate")) or 0) > 100,
    # rates below 30 (warning)
    "SUB-009": lambda k, r, d: (x := number(r.get("outpatient_rate"))) is not None and x < 30,
    "SUB-010": lambda k, r, d: (x := number(r.get("discharge_rate"))) is not None and x < 30,
    # 未获取卫统数据: no official count
    "SUB-011": lambda k, r, d: r.get("outpatient_rate") == "未获取卫统数据",
    "SUB-012": lambda k, r, d: k == "hospital" and r.get("discharge_rate") == "未获取卫统数据",
    # nothing uploaded at all
    "SUB-013": lambda k, r, d: count(r, "data_volume") == 0,
    # rows uploaded, but no visit / no discharge
    "SUB-014": lambda k, r, d: count(r, "data_volume") > 0 and count(r, "outpatient_uploaded") == 0,
    "SUB-015": lambda k, r, d: (
        k == "hospital" and count(r, "data_volume") > 0 and count(r, "discharge_uploaded") == 0
    ),
    # hypertension / diabetes records are subsets of the basic records
    "SUB-016": lambda k, r, d: (
        k == "district" and count(r, "records_hypertension") > count(r, "records_basic")
    ),
    "SUB-017": lambda k, r, d: k == "district" and count(r, "records_diabetes") > count(r, "records_basic"),
}


def expected_units(period: str, rule: str) -> set[str]:
    pred = EXPECTED_BY_RULE[rule]
    return {r["unit"] for k, r in collection(period) if pred(k, r, days_in(period))}


def expected_peer_outliers(period: str, column: str, max_z: float = 3.5) -> set[str]:
    """Districts whose log(column / basic) has a robust z below -max_z (median / MAD * 0.6745)."""
    rows = [r for k, r in collection(period) if k == "district"]
    logs = {
        r["unit"]: math.log(int(r[column]) / int(r["records_basic"]))
        for r in rows
        if int(r[column]) > 0 and int(r["records_basic"]) > 0
    }
    med = statistics.median(logs.values())
    mad = statistics.median(abs(x - med) for x in logs.values())
    return {u for u, x in logs.items() if 0.6745 * (x - med) / mad < -max_z}


def expected_identical(period: str, column: str) -> set[str]:
    values: dict[str, list[str]] = {}
    for _, r in collection(period):
        if int(r[column]) != 0:
            values.setdefault(r[column], []).append(r["unit"])
    return {u for units in values.values() if len(units) > 1 for u in units}


def fmt(d: Decimal) -> str:
    """As dq prints a sum: whole numbers without decimals, else two decimals."""
    return str(int(d)) if d == d.to_integral_value() else f"{d:.2f}"


LABELS = ("unit", "channel", "city", "category")


def total_mismatches(period: str) -> set[tuple[str, str, str, str]]:
    """(file, column, stated, computed) for every 合计 cell that is not the sum of its rows."""
    out = set()
    for f in sorted(DATA.glob(f"{period}_*.csv")):
        rows = read(f.name)
        label = next((c for c in LABELS if rows and c in rows[0]), None)
        totals = [r for r in rows if label and (r[label] or "").strip() == "合计"]
        if not totals:
            continue
        (total,) = totals
        parts = [r for r in rows if r is not total]
        if "measure" in total:  # hotline: calls (个) are totalled, 12345 work orders (件) are not
            parts = [r for r in parts if r["measure"] == total["measure"]]
        for col, stated in total.items():
            if col in ("seq", label) or not stated:
                continue
            try:
                stated_d = Decimal(stated)
            except InvalidOperation:
                continue
            computed = sum((Decimal(r[col]) for r in parts if r[col]), Decimal(0))
            if computed != stated_d:
                out.add((f.name, col, fmt(stated_d), fmt(computed)))
    return out


def row_total_mismatches(period: str) -> set[tuple[str, str]]:
    """Appointments rows whose 总计/小计 is not the sum of their four channels."""
    rows = read(f"{period}_appointments.csv")
    chans = ("platform_12320", "phone", "clinic", "third_party")
    return {(period, r["unit"]) for r in rows if sum(int(r[c]) for c in chans) != int(r["total"])}


# ----------------------------------------------------------------------------- dq side
@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict[str, BatchOutcome]:
    store = Store(tmp_path_factory.mktemp("published") / "history")
    # The submission and published suites are all these figures need (loading the record-level
    # suites too would only cost time).
    suites = [REPO / "rules" / "suites" / "submission", REPO / "rules" / "suites" / "published"]
    return {p: score_published(p, store, suite_paths=suites) for p in PERIODS}


def found(outcome: BatchOutcome, rule: str, statuses=FOUND) -> set[str]:
    """Printed names of the units for which dq reports ``rule``."""
    return {
        str(u.unit["name"])
        for u in outcome.units
        for r in u.results
        if r.rule == rule and r.status in statuses
    }


def result(outcome: BatchOutcome, name: str, rule: str) -> RuleResult:
    (u,) = [u for u in outcome.units if u.unit["name"] == name]
    (r,) = [r for r in u.results if r.rule == rule]
    return r


def print_findings(outcome: BatchOutcome) -> list[str]:
    """The findings table (unit, rule, status, message); printed with ``pytest -s``."""
    lines = [f"== {outcome.run.period}: findings"]
    for f in outcome.findings:
        if f.status in FOUND:
            lines.append(f"  {'(table)':<28} {f.rule:<12} {f.status:<5} {f.message}")
    for u in sorted(outcome.units, key=lambda u: u.unit_id):
        for r in u.results:
            if r.status in FOUND:
                lines.append(f"  {u.unit['name']:<28} {r.rule:<12} {r.status:<5} {r.message}")
    print("\n".join(lines))
    return lines


# ----------------------------------------------------------------------------- tests
def test_every_unit_is_scored(outcomes):
    for period, o in outcomes.items():
        names = {r["unit"] for _, r in collection(period)}
        assert {str(u.unit["name"]) for u in o.units} == names
        assert all(u.error is None and u.score is not None for u in o.units)
        # the published figures are scored on the submission part only
        assert all(u.score.parts["records"] is None for u in o.units)
        assert all(u.score.score == u.score.parts["submission"] for u in o.units)
        errors = [(u.unit_id, r.rule, r.message) for u in o.units for r in u.results if r.status == "error"]
        assert errors == []
    assert len(outcomes["2018-03"].units) == 36 and len(outcomes["2020-09"].units) == 37


@pytest.mark.parametrize("period", PERIODS)
@pytest.mark.parametrize("rule", sorted(EXPECTED_BY_RULE))
def test_dq_reports_exactly_the_oddities_of_the_csv(outcomes, period, rule):
    expected = expected_units(period, rule)
    assert found(outcomes[period], rule) == expected, f"{period} {rule}"


def test_rates_above_100(outcomes):
    o = outcomes["2018-03"]
    over = expected_units("2018-03", "SUB-007") | expected_units("2018-03", "SUB-008")
    assert {"南京市胸科医院", "南京市第二医院", "南京医科大学第二附属医院"} <= over
    assert found(o, "SUB-008") == {"南京市胸科医院", "南京市第二医院", "南京医科大学第二附属医院"}
    assert found(o, "SUB-007") == expected_units("2018-03", "SUB-007")
    # 2020 prints no rates at all: not computable, never a finding
    assert found(outcomes["2020-09"], "SUB-007", ("pass", "fail", "warn")) == set()
    r = result(o, "南京市第二医院", "SUB-008")
    assert (r.status, r.severity, r.evaluated, r.failed) == ("fail", "error", 1, 1)


def test_not_reported_declarations(outcomes):
    assert len(expected_units("2018-03", "SUB-001")) == 12  # README: 12 hospitals in 2018
    assert len(expected_units("2020-09", "SUB-001")) == 8  # and 8 in 2020
    # 开库采集 (direct database collection) has no declaration to report
    for name in ("南京鼓楼医院", "南京市中心医院", "南京市口腔医院"):
        assert result(outcomes["2018-03"], name, "SUB-001").status == "not_applicable"


def test_upload_days_shortfall_counts_the_missing_days(outcomes):
    for period, o in outcomes.items():
        d = days_in(period)
        for _, row in collection(period):
            r = result(o, row["unit"], "SUB-005")
            missing = d - int(row["upload_days"])
            assert (r.evaluated, r.failed) == (d, missing), row["unit"]
            assert r.status == ("fail" if missing else "pass")
    assert "东南大学附属中大医院" in found(outcomes["2018-03"], "SUB-005")  # 21/31
    assert {"南京医科大学附属眼科医院", "南京市第二医院"} <= found(outcomes["2020-09"], "SUB-005")


def test_zero_uploads_are_critical(outcomes):
    assert expected_units("2018-03", "SUB-013") == {"江苏省口腔医院", "中科院皮研所"}
    assert expected_units("2020-09", "SUB-013") == set()
    for name in ("江苏省口腔医院", "中科院皮研所"):
        r = result(outcomes["2018-03"], name, "SUB-013")
        assert (r.status, r.severity) == ("fail", "critical")


def test_subset_violations(outcomes):
    o = outcomes["2018-03"]
    assert found(o, "SUB-016") == {"江北新区"} and found(o, "SUB-017") == {"江北新区"}
    assert expected_units("2020-09", "SUB-016") == expected_units("2020-09", "SUB-017") == set()


@pytest.mark.parametrize("period", PERIODS)
@pytest.mark.parametrize(
    ("rule", "column"), [("SUB-018", "records_hypertension"), ("SUB-019", "records_diabetes")]
)
def test_peer_outliers(outcomes, period, rule, column):
    expected = expected_peer_outliers(period, column)
    assert found(outcomes[period], rule) == expected
    # every district is judged (12 districts, each against its 11 peers and itself)
    judged = found(outcomes[period], rule, ("pass", "warn"))
    assert len(judged) == 12


def test_peer_outliers_found():
    assert expected_peer_outliers("2018-03", "records_hypertension") == {"栖霞区"}  # 27 of 68530
    assert expected_peer_outliers("2018-03", "records_diabetes") == set()
    assert expected_peer_outliers("2020-09", "records_hypertension") == {"鼓楼区"}
    assert expected_peer_outliers("2020-09", "records_diabetes") == {"鼓楼区", "栖霞区"}


@pytest.mark.parametrize("period", PERIODS)
@pytest.mark.parametrize(("rule", "column"), [("SUB-020", "data_volume"), ("SUB-021", "outpatient_uploaded")])
def test_identical_figures(outcomes, period, rule, column):
    assert found(outcomes[period], rule) == expected_identical(period, column)


def test_identical_outpatient_count_2020():
    # 雨花台区 and 东南大学附属中大医院 both print 153233 outpatient visits in September 2020
    assert expected_identical("2020-09", "outpatient_uploaded") == {"雨花台区", "东南大学附属中大医院"}


@pytest.mark.parametrize("period", PERIODS)
def test_every_total_mismatch_with_stated_and_computed(outcomes, period):
    expected = total_mismatches(period)
    failing = [f for f in outcomes[period].findings if f.status in FOUND]
    for file, col, stated, computed in expected:
        msgs = [f.message for f in failing if f.message.startswith(f"{file}:")]
        assert any(f"{col}: stated {stated}, computed {computed}" in m for m in msgs), (file, col, msgs)
    # and nothing else: every failing table is one the plain sums disagree with, column by column
    reported = {
        (f.message.split(":", 1)[0], part.split(":")[0].strip())
        for f in failing
        for part in f.message.split("sum of rows:", 1)[1].split(";")
    }
    assert reported == {(file, col) for file, col, _, _ in expected}
    # every published table with a suite was checked, and errors are none
    assert all(f.status != "error" for f in outcomes[period].findings)


def test_the_known_total_mismatches():
    assert total_mismatches("2018-03") == {
        ("2018-03_appointment_channels.csv", "appointments", "98694", "98693"),
        ("2018-03_hotline_calls.csv", "count", "97458", "97384"),
    }
    assert total_mismatches("2020-09") == {
        ("2020-09_hotline_cities.csv", "calls", "127073", "127074"),
        ("2020-09_terminals.csv", "payment_amount", "274222456.80", "274222456.75"),
        ("2020-09_appointments.csv", "platform_12320", "101498", "91621"),
        ("2020-09_appointments.csv", "phone", "75225", "45930"),
        ("2020-09_appointments.csv", "clinic", "171338", "150372"),
        ("2020-09_appointments.csv", "third_party", "85664", "80828"),
        ("2020-09_appointments.csv", "total", "433725", "368751"),
    }


@pytest.mark.parametrize("period", PERIODS)
def test_appointment_row_totals(outcomes, period):
    # every row's 总计/小计 is the sum of its channels: PUB-APT-002 passes
    assert row_total_mismatches(period) == set()
    (r,) = [f for f in outcomes[period].findings if f.rule == "PUB-APT-002"]
    assert r.status == "pass" and r.evaluated == len(read(f"{period}_appointments.csv"))


def test_findings_table_and_doc(outcomes):
    """print_findings lists every finding; scripts/published_findings.py renders each one."""
    spec = importlib.util.spec_from_file_location(
        "published_findings", REPO / "scripts" / "published_findings.py"
    )
    assert spec and spec.loader
    script = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = script  # dataclasses look their module up
    try:
        spec.loader.exec_module(script)
    finally:
        del sys.modules[spec.name]
    rules = {r.id: r for s in load_suites([REPO / "rules" / "suites" / "submission"]) for r in s.rules}
    doc = script.render(outcomes, rules)
    for period, o in outcomes.items():
        lines = print_findings(o)
        n_units = sum(1 for u in o.units for r in u.results if r.status in FOUND)
        n_tables = sum(1 for f in o.findings if f.status in FOUND)
        assert len(lines) == 1 + n_units + n_tables
        unit_rows = script.unit_findings(o, rules)
        assert len(unit_rows) == n_units
        for f in unit_rows:
            assert f"| {f.unit} | {f.unit_id} | {f.kind} | {f.rule} | {f.status} | {f.stated} |" in doc
        table_rows = script.table_findings(o)
        assert {(t.file, t.column, t.stated, t.computed) for t in table_rows} == total_mismatches(period)
    # the printed values of the headline findings are in the doc
    for text in (
        "discharge rate 102.17 %",
        "discharge rate 115.42 %",
        "discharge rate 104.14 %",
        "hypertension 16385 > basic 3535",
        "27 / 68530",
        "| 江苏省口腔医院 | H022 | hospital | SUB-013 | fail | data volume 0, 0 upload days | > 0 |",
        "≤ 100 %",
        "≥ 30 %",
        "| 2018-03_appointment_channels.csv | PUB-CHN-001 | appointments | 98694 | 98693 | 1 |",
        "| 2020-09_terminals.csv | PUB-TRM-001 | payment_amount | 274222456.80 | 274222456.75 | 0.05 |",
    ):
        assert text in doc, text
