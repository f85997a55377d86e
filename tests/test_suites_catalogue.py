"""The record-level suites (rules/suites/hospital, rules/suites/district) against the catalogue.

1. Every suite loads and `dq suites validate` exits 0; rule ids are unique and follow the
   per-table prefix scheme documented in rules/README.md.
2. Coverage: every table of both kinds has a suite; every required column a not_null rule, every
   code-set column an in_set rule, every key a unique rule, every date/datetime column a
   date_parse rule, every event time a timeliness rule.
3. A small, hand-built CLEAN extract per kind (Parquet + manifest, read by the real reader)
   passes every rule: no fail, no warn, no error.
4. Corrupting one row makes exactly the expected rule fail, with failed == 1.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
import yaml

from dq.engine.evaluate import audit_extract
from dq.engine.results import RuleResult
from dq.engine.suite import Suite, load_suites
from dq.io.catalogue import default_rules_dir, load_catalogue
from dq.io.sources import open_extract

RULES = default_rules_dir()
RECORD_DIRS = {"hospital": RULES / "suites" / "hospital", "district": RULES / "suites" / "district"}
CAT = load_catalogue()
PERIOD = "2020-09"
NOW = dt.datetime(2020, 10, 15, 12, 0, 0)  # the audit moment: after the period

# Rule-id prefix per table (documented in rules/README.md).
PREFIX = {
    "patient_index": "PI",
    "outpatient_visit": "OV",
    "outpatient_prescription": "OP",
    "inpatient_record": "IR",
    "inpatient_diagnosis": "DX",
    "surgery_record": "SR",
    "lab_report": "LR",
    "lab_result": "LI",
    "exam_report": "EX",
    "fee_settlement": "FS",
    "resident_record": "RR",
    "hypertension_followup": "HT",
    "diabetes_followup": "DM",
    "community_visit": "CV",
    "vaccination_record": "VR",
    "family_doctor_contract": "FD",
}


# ---------------------------------------------------------------- loading and coverage
@functools.cache
def _record_suites() -> tuple[Suite, ...]:
    """The 16 record-level suites, loaded once (loading dry-compiles every rule)."""
    return tuple(load_suites(list(RECORD_DIRS.values()), catalogue=CAT))


@pytest.fixture(scope="module")
def record_suites() -> dict[str, Suite]:
    return {s.table: s for s in _record_suites()}


def test_all_suites_load():
    suites = load_suites()  # every suite of the repository, raises SuiteError on any problem
    ids = [r.id for s in suites for r in s.rules]
    assert len(ids) == len(set(ids))


def test_cli_validate_exits_0():
    proc = subprocess.run(
        [sys.executable, "-m", "dq", "suites", "validate"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok:")


def test_one_suite_per_table_of_each_kind(record_suites):
    for kind, folder in RECORD_DIRS.items():
        tables = CAT.tables_of(kind)
        assert tables, kind
        for t in tables:
            s = record_suites.get(t)
            assert s is not None, f"no suite for {kind} table {t}"
            assert s.kind == kind and s.id == f"{kind}.{t}"
            assert Path(s.source).resolve() == (folder / f"{t}.yaml").resolve()
    assert set(record_suites) == set(CAT.tables_of("hospital")) | set(CAT.tables_of("district"))


def test_rule_id_scheme(record_suites):
    for table, s in record_suites.items():
        for r in s.rules:
            assert re.fullmatch(rf"{PREFIX[table]}-\d{{3}}", r.id), r.id
        numbers = [int(r.id[-3:]) for r in s.rules]
        assert numbers == sorted(numbers), f"{table}: ids out of order"


def test_readme_documents_every_suite_and_prefix():
    text = (RULES / "README.md").read_text(encoding="utf-8")
    for table, prefix in PREFIX.items():
        kind = CAT.table(table).kind
        assert f"`{prefix}-`" in text, prefix
        assert f"suites/{kind}/{table}.yaml" in text, table


def _rules(s: Suite, check: str) -> list:
    return [r for r in s.rules if r.check == check]


def test_required_columns_have_not_null(record_suites):
    for table, s in record_suites.items():
        covered = {r.params.column for r in _rules(s, "not_null") if r.when is None}
        required = {c.name for c in CAT.table(table).columns if c.required}
        assert "upload_time" in required
        assert required <= covered, f"{table}: {required - covered}"


def test_code_set_columns_have_in_set(record_suites):
    for table, s in record_suites.items():
        covered = {(r.params.column, r.params.code_set) for r in _rules(s, "in_set")}
        wanted = {(c.name, c.code_set) for c in CAT.table(table).columns if c.code_set}
        assert wanted <= covered, f"{table}: {wanted - covered}"


def test_keys_have_unique(record_suites):
    for table, s in record_suites.items():
        key = list(CAT.table(table).key)
        assert key, table
        rules = [r for r in _rules(s, "unique") if list(r.params.columns) == key and r.when is None]
        assert len(rules) == 1 and rules[0].severity == "critical", table


def test_temporal_columns_have_date_parse(record_suites):
    for table, s in record_suites.items():
        covered = {r.params.column: r.params.type for r in _rules(s, "date_parse")}
        for c in CAT.table(table).columns:
            if c.type in ("date", "datetime"):
                assert covered.get(c.name) == c.type, f"{table}.{c.name}"


def test_table_level_and_timeliness_rules(record_suites):
    for table, s in record_suites.items():
        spec = CAT.table(table)
        (cp,) = _rules(s, "columns_present")
        assert cp.severity == "critical"
        (rc,) = _rules(s, "row_count")
        assert rc.params.min == 1
        if spec.event_time:
            cols = [r.params.column for r in _rules(s, "upload_timeliness")]
            assert cols == [spec.event_time], table
        for r in _rules(s, "foreign_key"):
            assert r.severity in ("critical", "warning"), r.id
    for kind in RECORD_DIRS:
        busiest = CAT.kinds[kind]["outpatient_table"]
        days = [
            (t, r)
            for t, s in record_suites.items()
            if CAT.table(t).kind == kind
            for r in _rules(s, "upload_days")
        ]
        assert [t for t, _ in days] == [busiest]
        assert days[0][1].threshold.max_count == 0


def test_rules_are_bilingual_and_actionable(record_suites):
    cjk = re.compile(r"[\u4e00-\u9fff]")
    for s in record_suites.values():
        assert cjk.search(s.title_zh) and s.title_en and s.title_zh != s.title_en
        for r in s.rules:
            assert cjk.search(r.title_zh) and r.title_en and not cjk.search(r.title_en), r.id
            assert cjk.search(r.fix_zh) and len(r.fix_en) > 20 and r.fix_zh != r.fix_en, r.id


def test_tolerances_are_explained(record_suites):
    """A rule whose threshold is not the strict default says why in a YAML comment."""
    for s in record_suites.values():
        text = Path(s.source).read_text(encoding="utf-8")
        blocks = {b.split("\n", 1)[0].strip(): b for b in text.split("  - id: ")[1:]}
        for r in s.rules:
            if r.threshold.max_fraction == 0 and r.threshold.max_count is None:
                continue
            assert r.severity == "warning", f"{r.id}: a tolerance on a blocking rule"
            assert re.search(r"(?m)^\s*#|\s#\s", blocks[r.id]), f"{r.id}: say why in a comment"


# ---------------------------------------------------------------- a clean extract per kind
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id18(birth: str, area: str, seq: str) -> str:
    """A valid GB 11643-1999 number; the last digit of ``seq`` is odd for men."""
    first17 = area + birth + seq
    s = sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return first17 + "10X98765432"[s % 11]


def t(day: int, hour: int = 0, minute: int = 0, month: int = 9, year: int = 2020) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute)


def d(day: int, month: int = 9, year: int = 2020) -> dt.date:
    return dt.date(year, month, day)


def _frame(table: str, rows: list[dict]) -> pl.DataFrame:
    """Rows -> a frame with the catalogue's column types (every column of the table)."""
    spec = CAT.table(table)
    schema = {c.name: c.dtype for c in spec.columns}
    return pl.DataFrame([{c: r.get(c) for c in schema} for r in rows], schema=schema)


def hospital_tables() -> dict[str, pl.DataFrame]:
    pid = {
        "P1": id18("19800312", "320106", "101"),  # man
        "P2": id18("19751120", "320102", "202"),  # woman
        "P3": id18("20150601", "320115", "031"),  # boy
    }
    patients = [
        dict(patient_id="P1", id_type="01", id_no=pid["P1"], name="张伟", sex_code="1",
             birth_date=d(12, 3, 1980), phone="13912345678", address_code="320106"),
        dict(patient_id="P2", id_type="01", id_no=pid["P2"], name="王芳", sex_code="2",
             birth_date=d(20, 11, 1975), phone="025-83456789", address_code="320102"),
        dict(patient_id="P3", id_type="01", id_no=pid["P3"], name="李明", sex_code="1",
             birth_date=d(1, 6, 2015), address_code="320115"),
        dict(patient_id="P4", id_type="03", id_no="E12345678", name="Anna Smith", sex_code="2",
             birth_date=d(1, 1, 1990), phone="+8613800001111", address_code="110101"),
        dict(patient_id="P5", name="无名氏001", sex_code="9", birth_date=d(7, 7, 1960)),
    ]  # fmt: skip
    for p in patients:
        p["upload_time"] = t(1, 8)
    visits = [
        dict(visit_id=f"V{n:02d}", patient_id=f"P{(n - 1) % 5 + 1}", visit_type="1239"[n % 4],
             visit_time=t(n, 9), dept_code="D01", doctor_id="DR1",
             diagnosis_code=["J18.9", "I10.x00", "E11.900", "I10.x00x002"][n % 4],
             diagnosis_name="诊断", total_fee=50.5, upload_time=t(n, 11))
        for n in range(1, 31)
    ]  # one visit a day, so the month has uploads on every day  # fmt: skip
    prescriptions = [
        dict(prescription_id="RX1", item_no=1, visit_id="V01", drug_code="X01", drug_name="阿莫西林",
             quantity=2.0, unit_price=3.5, amount=7.0, upload_time=t(1, 11)),
        dict(prescription_id="RX1", item_no=2, visit_id="V01", drug_code="X02", drug_name="布洛芬",
             quantity=1.0, unit_price=12.3, amount=12.3, upload_time=t(1, 11)),
        dict(prescription_id="RX2", item_no=1, visit_id="V02", drug_code="X01", drug_name="阿莫西林",
             quantity=3.0, unit_price=3.5, amount=10.5, upload_time=t(2, 11)),
    ]  # fmt: skip
    stays = [
        dict(inpatient_id="I1", patient_id="P1", admission_time=t(28, 10, month=8),
             discharge_time=t(3, 9), dept_code="D10", diagnosis_code="J18.900", discharge_method="1",
             length_of_stay=6, total_fee=5000.0, upload_time=t(3, 12)),
        dict(inpatient_id="I2", patient_id="P2", admission_time=t(10, 8), discharge_time=t(15, 10),
             dept_code="D11", diagnosis_code="E11.900", discharge_method="2", length_of_stay=5,
             total_fee=8000.0, upload_time=t(15, 12)),
        dict(inpatient_id="I3", patient_id="P3", admission_time=t(28, 8), dept_code="D12",
             diagnosis_code="I21.000", upload_time=t(28, 9)),  # still in hospital
    ]  # fmt: skip
    diagnoses = [
        dict(inpatient_id="I1", diag_seq=1, diag_type="1", diagnosis_code="J18.900", upload_time=t(3, 12)),
        dict(inpatient_id="I1", diag_seq=2, diag_type="2", diagnosis_code="I10.x00", upload_time=t(3, 12)),
        dict(inpatient_id="I2", diag_seq=1, diag_type="1", diagnosis_code="E11.900", upload_time=t(15, 12)),
        dict(inpatient_id="I3", diag_seq=1, diag_type="1", diagnosis_code="I21.000", upload_time=t(28, 9)),
    ]
    surgeries = [
        dict(surgery_id="S1", inpatient_id="I1", operation_code="96.7201", operation_time=t(1, 10),
             upload_time=t(1, 12)),
        dict(surgery_id="S2", inpatient_id="I2", operation_code="81.5100", operation_time=t(11, 9),
             upload_time=t(11, 12)),
    ]  # fmt: skip
    lab_reports = [
        dict(report_id="L1", patient_id="P1", visit_id="V01", specimen_time=t(1, 9, 30),
             report_time=t(1, 11), upload_time=t(1, 12)),
        dict(report_id="L2", patient_id="P2", visit_id="I2", specimen_time=t(11, 7),
             report_time=t(11, 10), upload_time=t(11, 12)),
        dict(report_id="L3", patient_id="P4", specimen_time=t(31, 16, month=8),
             report_time=t(1, 9), upload_time=t(1, 10)),  # specimen of last month, no visit
    ]  # fmt: skip
    lab_results = [
        dict(report_id="L1", item_code="WBC", item_name="白细胞", result_value="6.5", unit="10^9/L",
             abnormal_flag="N", upload_time=t(1, 12)),
        dict(report_id="L1", item_code="HGB", item_name="血红蛋白", result_value="130", unit="g/L",
             abnormal_flag="N", upload_time=t(1, 12)),
        dict(report_id="L2", item_code="GLU", item_name="葡萄糖", result_value="8.1", unit="mmol/L",
             abnormal_flag="H", upload_time=t(11, 12)),
        dict(report_id="L3", item_code="HBSAG", item_name="乙肝表面抗原", result_value="阴性",
             upload_time=t(1, 10)),
    ]  # fmt: skip
    exams = [
        dict(report_id="E1", patient_id="P3", modality="CT", exam_time=t(2, 10), report_time=t(2, 15),
             upload_time=t(2, 16)),
        dict(report_id="E2", patient_id="P4", modality="US", exam_time=t(20, 14),
             report_time=t(20, 14, 30), upload_time=t(20, 18)),
    ]  # fmt: skip
    settlements = [
        dict(settlement_id="F1", visit_id="V01", settle_time=t(1, 10), total_amount=100.0,
             insurance_amount=60.0, self_pay_amount=40.0, upload_time=t(1, 11)),
        dict(settlement_id="F2", visit_id="I1", settle_time=t(3, 9, 30), total_amount=5000.0,
             insurance_amount=3500.0, self_pay_amount=1500.0, upload_time=t(3, 12)),
        dict(settlement_id="F3", visit_id="V03", settle_time=t(3, 10), total_amount=20.0,
             self_pay_amount=20.0, upload_time=t(3, 11)),  # no insurance
    ]  # fmt: skip
    rows = {
        "patient_index": patients, "outpatient_visit": visits,
        "outpatient_prescription": prescriptions, "inpatient_record": stays,
        "inpatient_diagnosis": diagnoses, "surgery_record": surgeries, "lab_report": lab_reports,
        "lab_result": lab_results, "exam_report": exams, "fee_settlement": settlements,
    }  # fmt: skip
    return {name: _frame(name, r) for name, r in rows.items()}


def district_tables() -> dict[str, pl.DataFrame]:
    residents = [
        dict(record_id="R1", id_no=id18("19560214", "320115", "013"), name="赵强", sex_code="1",
             birth_date=d(14, 2, 1956), address_code="320115", create_date=d(1, 3, 2015),
             doctor_id="GP1", upload_time=t(1, 18, month=3, year=2015)),
        dict(record_id="R2", id_no=id18("19620930", "320115", "024"), name="钱丽", sex_code="2",
             birth_date=d(30, 9, 1962), address_code="320115", create_date=d(10, 5, 2016),
             doctor_id="GP1", upload_time=t(10, 18, month=5, year=2016)),
        dict(record_id="R3", id_no=id18("19700101", "320115", "035"), name="孙军", sex_code="1",
             birth_date=d(1, 1, 1970), address_code="320115", create_date=d(15, 1, 2018),
             doctor_id="GP2", upload_time=t(15, 18, month=1, year=2018)),
        dict(record_id="R4", id_no=id18("19881231", "320115", "046"), name="李娜", sex_code="2",
             birth_date=d(31, 12, 1988), address_code="320115", create_date=d(2),
             upload_time=t(2, 17)),
        dict(record_id="R5", id_no=id18("20200910", "320115", "051"), name="周小宝", sex_code="1",
             birth_date=d(10), address_code="320115", create_date=d(10), upload_time=t(10, 16)),
    ]  # fmt: skip
    hypertension = [
        dict(followup_id="H1", record_id="R1", followup_date=d(5), sbp=150, dbp=95, upload_time=t(5, 18)),
        dict(followup_id="H2", record_id="R2", followup_date=d(12), sbp=138, dbp=88, upload_time=t(12, 18)),
        # cumulative table: an earlier follow-up is legitimate
        dict(followup_id="H3", record_id="R1", followup_date=d(5, 6), sbp=145, dbp=92,
             upload_time=t(5, 18, month=6)),
    ]  # fmt: skip
    diabetes = [
        dict(followup_id="G1", record_id="R3", followup_date=d(8), fasting_glucose=7.2, upload_time=t(8, 18)),
        dict(followup_id="G2", record_id="R1", followup_date=d(20), fasting_glucose=6.4,
             upload_time=t(21, 9)),
    ]  # fmt: skip
    visits = [
        dict(visit_id=f"C{n:02d}", record_id=["R1", "R2", "R3", "R4", None][n % 5], visit_time=t(n, 8, 30),
             diagnosis_code=["I10.x00", "J06.900", "E11.900"][n % 3], total_fee=15.0, upload_time=t(n, 12))
        for n in range(1, 31)
    ]  # fmt: skip
    vaccinations = [
        dict(vaccination_id="VA1", record_id="R5", vaccine_code="HepB", dose_seq=1,
             vaccination_date=d(10), upload_time=t(10, 15)),
        dict(vaccination_id="VA2", record_id="R1", vaccine_code="Flu", dose_seq=1,
             vaccination_date=d(5), upload_time=t(5, 15)),
        dict(vaccination_id="VA3", record_id="R5", vaccine_code="BCG", dose_seq=1,
             vaccination_date=d(10), upload_time=t(10, 15)),
    ]  # fmt: skip
    contracts = [
        dict(contract_id="FC1", record_id="R1", doctor_id="GP1", sign_date=d(1, 10, 2019),
             end_date=d(30, 9), upload_time=t(1, 17, month=10, year=2019)),  # signed last year
        dict(contract_id="FC2", record_id="R2", doctor_id="GP1", sign_date=d(15),
             end_date=d(14, 9, 2021), upload_time=t(15, 17)),
    ]  # fmt: skip
    rows = {
        "resident_record": residents, "hypertension_followup": hypertension,
        "diabetes_followup": diabetes, "community_visit": visits,
        "vaccination_record": vaccinations, "family_doctor_contract": contracts,
    }  # fmt: skip
    return {name: _frame(name, r) for name, r in rows.items()}


TABLES = {"hospital": hospital_tables, "district": district_tables}


def write_extract(root: Path, kind: str, tables: dict[str, pl.DataFrame], csv: tuple[str, ...] = ()) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    manifest = {
        "unit_id": f"TEST-{kind}", "name": f"测试{kind}", "kind": kind, "district": "江宁区",
        "period": PERIOD, "declared_tables": sorted(tables), "collection_mode": "upload",
    }  # fmt: skip
    (root / "manifest.yaml").write_text(yaml.safe_dump(manifest, allow_unicode=True), encoding="utf-8")
    for name, df in tables.items():
        if name in csv:
            df.write_csv(root / f"{name}.csv")
        else:
            df.write_parquet(root / f"{name}.parquet")
    return root


def audit(root: Path) -> dict[str, RuleResult]:
    extract = open_extract(root, catalogue=CAT)
    assert not extract.problems
    result = audit_extract(extract, _record_suites(), catalogue=CAT, now=NOW)
    assert result.period == PERIOD
    return {r.rule: r for r in result.results}


@pytest.mark.parametrize("kind", ["hospital", "district"])
def test_clean_extract_passes_every_rule(kind, tmp_path, record_suites):
    results = audit(write_extract(tmp_path / kind, kind, TABLES[kind]()))
    expected = {r.id for t in CAT.tables_of(kind) for r in record_suites[t].rules}
    assert set(results) == expected
    bad = {
        rid: (r.status, r.failed, r.message) for rid, r in results.items() if r.status != "pass" or r.failed
    }
    assert not bad
    # ... and every rule saw rows: the clean data exercises the whole suite
    assert all(r.evaluated > 0 for r in results.values())


Mutation = Callable[[pl.DataFrame], pl.DataFrame]


def _set(match: dict[str, object], **changes: object) -> Mutation:
    """Change columns of the row(s) matching ``match``."""

    def mutate(df: pl.DataFrame) -> pl.DataFrame:
        hit = pl.all_horizontal([pl.col(c) == v for c, v in match.items()])
        assert df.filter(hit).height == 1
        new = [
            pl.when(hit).then(pl.lit(v, dtype=df.schema[c])).otherwise(pl.col(c)).alias(c)
            for c, v in changes.items()
        ]
        return df.with_columns(new)

    return mutate


def _drop(match: dict[str, object]) -> Mutation:
    return lambda df: df.filter(~pl.all_horizontal([pl.col(c) == v for c, v in match.items()]))


_R3 = id18("19700101", "320115", "035")
BAD_ID = _R3[:17] + ("0" if _R3[17] != "0" else "1")  # wrong check character

# (test id, table, mutation, the one rule expected to fail: "fail", or "warn" for a warning rule)
# fmt: off
CORRUPTIONS = [
    ("blank-name", "patient_index", _set({"patient_id": "P2"}, name="  "), "PI-011"),
    ("visit-type", "outpatient_visit", _set({"visit_id": "V05"}, visit_type="7"), "OV-110"),
    ("unknown-patient", "outpatient_visit", _set({"visit_id": "V10"}, patient_id="P99"), "OV-300"),
    ("missed-day", "outpatient_visit", _drop({"visit_id": "V15"}), "OV-501"),
    ("amount", "outpatient_prescription", _set({"drug_code": "X02"}, amount=13.3), "OP-301"),
    ("discharge-method", "inpatient_record", _set({"inpatient_id": "I2"}, discharge_method=None), "IR-016"),
    ("length-of-stay", "inpatient_record", _set({"inpatient_id": "I2"}, length_of_stay=9), "IR-301"),
    ("no-main-diagnosis", "inpatient_diagnosis", _set({"inpatient_id": "I3"}, diag_type="2"), "DX-301"),
    ("operation-after-stay", "surgery_record", _set({"surgery_id": "S2"}, inpatient_id="I1"), "SR-402"),
    ("report-first", "lab_report", _set({"report_id": "L1"}, specimen_time=t(1, 12)), "LR-400"),
    ("abnormal-flag", "lab_result", _set({"item_code": "GLU"}, abnormal_flag="↑"), "LI-110"),
    ("modality", "exam_report", _set({"report_id": "E2"}, modality="MRI"), "EX-110"),
    ("settlement-visit", "fee_settlement", _set({"settlement_id": "F3"}, visit_id="V99"), "FS-300"),
    ("self-pay", "fee_settlement", _set({"settlement_id": "F1"}, self_pay_amount=45.0), "FS-301"),
    ("late-settlement", "fee_settlement", _set({"settlement_id": "F2"}, upload_time=t(5, 12)), "FS-500"),
    ("id-check-char", "resident_record", _set({"record_id": "R3"}, id_no=BAD_ID), "RR-110"),
    ("id-sex", "resident_record", _set({"record_id": "R2"}, sex_code="1"), "RR-300"),
    ("dbp-above-sbp", "hypertension_followup", _set({"followup_id": "H2"}, dbp=140), "HT-402"),
    ("glucose-mg-dl", "diabetes_followup", _set({"followup_id": "G1"}, fasting_glucose=72.0), "DM-400"),
    ("icd10-case", "community_visit", _set({"visit_id": "C07"}, diagnosis_code="i10.x00"), "CV-110"),
    ("before-birth", "vaccination_record", _set({"vaccination_id": "VA2"}, record_id="R5"), "VR-401"),
    ("contract-end", "family_doctor_contract", _set({"contract_id": "FC2"}, end_date=d(15)), "FD-400"),
]
# fmt: on


@pytest.mark.parametrize(("table", "mutate", "rule"), [pytest.param(*c[1:], id=c[0]) for c in CORRUPTIONS])
def test_one_corrupt_row_fails_exactly_one_rule(table, mutate, rule, tmp_path, record_suites):
    kind = CAT.table(table).kind
    tables = TABLES[kind]()
    tables[table] = mutate(tables[table])
    results = audit(write_extract(tmp_path / kind, kind, tables))
    failing = {rid: r.failed for rid, r in results.items() if r.failed}
    assert failing == {rule: 1}, {rid: results[rid].message for rid in failing}
    severity = next(r.severity for r in record_suites[table].rules if r.id == rule)
    assert results[rule].status == ("warn" if severity == "warning" else "fail")
    assert not [r.rule for r in results.values() if r.status == "error"]
    if results[rule].samples:  # row-level rules show the failing row
        assert len(results[rule].samples) == 1
        if rule == "RR-110":  # ... with the pii masked
            assert results[rule].samples[0]["id_no"] != BAD_ID


def test_unparseable_date_in_csv_counts_in_date_parse_only(tmp_path):
    """A CSV goes through the reader's text coercion; a bad date is kept in discharge_time__raw."""
    tables = hospital_tables()
    stays = tables["inpatient_record"].with_columns(
        pl.col("admission_time").cast(pl.String), pl.col("discharge_time").cast(pl.String)
    )
    bad = pl.when(pl.col("inpatient_id") == "I1").then(pl.lit("2020-09-3x 09:00"))
    tables["inpatient_record"] = stays.with_columns(
        bad.otherwise(pl.col("discharge_time")).alias("discharge_time")
    )
    results = audit(write_extract(tmp_path / "h", "hospital", tables, csv=("inpatient_record",)))
    failing = {rid: r.failed for rid, r in results.items() if r.failed}
    assert failing == {"IR-102": 1}
    assert results["IR-102"].samples[0]["discharge_time__raw"] == "2020-09-3x 09:00"
    assert not [r.rule for r in results.values() if r.status == "error"]
