"""`dq audit`: JSON shape, text output, --output, samples, exit codes 0 / 1 / 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import id18, rule_dict, suite_yaml

from dq.cli import main
from dq.engine.results import RuleResult

GOOD_ID = id18()
PI_CSV = (
    "patient_id,id_type,id_no,name,sex_code,birth_date,phone,upload_time\n"
    f"p1,01,{GOOD_ID},王小明,1,1990-01-01,13812345678,2020-09-01 08:00:00\n"
    f"p2,01,{GOOD_ID[:17]}0,李四,2,1990-02-30,13900001111,2020-09-02 08:00:00\n"
)
RESULT_KEYS = [
    "rule", "suite", "table", "check", "columns", "dimension", "severity", "status",
    "evaluated", "failed", "fail_fraction", "message", "samples",
]  # fmt: skip


@pytest.fixture
def extract(tmp_path: Path) -> Path:
    d = tmp_path / "H001"
    d.mkdir()
    manifest = {"unit_id": "H001", "name": "测试医院", "kind": "hospital", "period": "2020-09"}
    (d / "manifest.yaml").write_text(yaml.safe_dump(manifest, allow_unicode=True), encoding="utf-8")
    (d / "patient_index.csv").write_text(PI_CSV, encoding="utf-8")
    return d


def suite(tmp_path: Path, *rules: dict[str, Any], name: str = "s.yaml") -> Path:
    f = tmp_path / name
    f.write_text(suite_yaml(list(rules), suite=f"t.{name}", kind="hospital"), encoding="utf-8")
    return f


PASSING = rule_dict("not_null", {"column": "name"}, id="PI-001")
WARNING = rule_dict("date_parse", {"column": "birth_date", "type": "date"}, id="PI-002", severity="warning")
FAILING = rule_dict("id_card", {"column": "id_no"}, id="PI-003", when="id_type = '01'")
CRITICAL = rule_dict("in_set", {"column": "sex_code", "values": ["1"]}, id="PI-004", severity="critical")


def audit(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["audit", *args])
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------------------ JSON
def test_json_shape(tmp_path: Path, extract: Path, capsys) -> None:
    s = suite(tmp_path, PASSING, WARNING, FAILING)
    code, out, _ = audit(capsys, str(extract), "--suite", str(s), "--format", "json")
    doc = json.loads(out)
    assert code == 1
    assert list(doc) == ["schema_version", "unit", "period", "tables", "results", "summary", "problems"]
    assert doc["schema_version"] == 1
    assert doc["unit"] == {
        "unit_id": "H001",
        "name": "测试医院",
        "kind": "hospital",
        "period": "2020-09",
        "collection_mode": "upload",
    }
    assert doc["period"] == "2020-09"
    assert doc["tables"] == [
        {"table": "patient_index", "rows": 2, "file": str(extract / "patient_index.csv")}
    ]
    assert doc["problems"] == []
    for r in doc["results"]:
        assert list(r)[: len(RESULT_KEYS)] == RESULT_KEYS
        assert set(r) == set(RuleResult.__dataclass_fields__)
        assert RuleResult.from_dict(r).to_dict() == r  # round trip
    first, warn, fail = doc["results"]
    assert first == {
        **first,
        "rule": "PI-001",
        "suite": "t.s.yaml",
        "table": "patient_index",
        "check": "not_null",
        "columns": ["name"],
        "dimension": "completeness",
        "severity": "error",
        "status": "pass",
        "evaluated": 2,
        "failed": 0,
        "fail_fraction": 0.0,
        "samples": [],
    }
    assert (warn["status"], warn["evaluated"], warn["failed"], warn["fail_fraction"]) == ("warn", 2, 1, 0.5)
    assert warn["samples"] == [{"patient_id": "p2", "birth_date": None, "birth_date__raw": "1990-02-30"}]
    assert (fail["status"], fail["failed"]) == ("fail", 1)
    assert fail["samples"] == [{"patient_id": "p2", "id_no": GOOD_ID[:6] + "********" + GOOD_ID[14:17] + "0"}]
    assert doc["summary"] == {
        "rules": 3,
        "pass": 1,
        "warn": 1,
        "fail": 1,
        "error": 0,
        "not_applicable": 0,
        "failed_rules": ["PI-003"],
        "passed": False,
    }


def test_json_not_applicable_and_error_results(tmp_path: Path, extract: Path, capsys) -> None:
    s = suite(tmp_path, rule_dict("in_period", {"column": "birth_date"}, id="PI-009"))
    ov = tmp_path / "ov.yaml"
    ov.write_text(
        suite_yaml([rule_dict("row_count", {"min": 1}, id="OV-001")], table="outpatient_visit", suite="t.ov"),
        encoding="utf-8",
    )
    code, out, _ = audit(capsys, str(extract), "--suite", str(s), "--suite", str(ov), "--format", "json")
    results = {r["rule"]: r for r in json.loads(out)["results"]}
    assert results["OV-001"]["status"] == "not_applicable"
    assert results["OV-001"]["fail_fraction"] is None
    assert results["PI-009"]["status"] == "fail"  # birth dates are not in the audited month
    assert code == 1


def test_samples_option(tmp_path: Path, extract: Path, capsys) -> None:
    s = suite(tmp_path, FAILING)
    _, out, _ = audit(capsys, str(extract), "--suite", str(s), "--format", "json", "--samples", "0")
    assert json.loads(out)["results"][0]["samples"] == []


def test_pii_is_masked_in_json(tmp_path: Path, extract: Path, capsys) -> None:
    s = suite(tmp_path, rule_dict("compare", {"left": "name", "op": "==", "right": "phone"}, id="X"))
    _, out, _ = audit(capsys, str(extract), "--suite", str(s), "--format", "json")
    assert "王小明" not in out and "13812345678" not in out and GOOD_ID not in out
    assert json.loads(out)["results"][0]["samples"][0] == {
        "patient_id": "p1",
        "name": "王**",
        "phone": "138****5678",
    }


def test_output_file(tmp_path: Path, extract: Path, capsys) -> None:
    s = suite(tmp_path, PASSING)
    target = tmp_path / "out" / "audit.json"
    target.parent.mkdir()
    code, out, _ = audit(capsys, str(extract), "--suite", str(s), "--format", "json", "--output", str(target))
    assert (code, out) == (0, "")
    assert json.loads(target.read_text(encoding="utf-8"))["summary"]["passed"] is True


def test_output_file_text(tmp_path: Path, extract: Path, capsys) -> None:
    s = suite(tmp_path, PASSING)
    target = tmp_path / "audit.txt"
    code, out, _ = audit(capsys, str(extract), "-o", str(target), "--suite", str(s))
    assert (code, out) == (0, "")
    text = target.read_text(encoding="utf-8")
    assert text.splitlines()[0] == "dq audit 测试医院 (H001) · period 2020-09 · 1 table(s) · 2 rows"
    assert "\x1b[" not in text


# ------------------------------------------------------------------ text
def test_plain_text_when_piped(tmp_path: Path, extract: Path, capsys) -> None:
    s = suite(tmp_path, PASSING, WARNING, FAILING)
    code, out, _ = audit(capsys, str(extract), "--suite", str(s))
    lines = out.splitlines()
    assert code == 1
    assert lines[0] == "dq audit 测试医院 (H001) · period 2020-09 · 1 table(s) · 2 rows"
    assert lines[1].split() == ["patient_index", "2", "rows"]
    # only what did not pass, the failure (error severity) before the warning
    assert lines[3].split()[:3] == ["FAIL", "PI-003", "patient_index"]
    assert lines[4].split()[:4] == ["1", "of", "2", "fail"]
    assert lines[5].startswith("      · ")
    assert [ln.split()[0] for ln in lines if ln[:4] in ("FAIL", "WARN", "PASS")] == ["FAIL", "WARN"]
    assert lines[-1].startswith("3 rules: 1 pass, 1 warn, 1 fail, 0 error, 0 not applicable")
    assert "\x1b[" not in out  # no colour codes in a pipe


def test_single_file_audit(tmp_path: Path, extract: Path, capsys) -> None:
    s = suite(tmp_path, PASSING, FAILING)
    code, out, _ = audit(capsys, str(extract / "patient_index.csv"), "--suite", str(s), "--format", "json")
    doc = json.loads(out)
    assert code == 1
    assert doc["unit"] == {"kind": "hospital", "name": "patient_index.csv"} and doc["period"] is None
    assert [r["status"] for r in doc["results"]] == ["pass", "fail"]


def test_period_option_overrides_the_manifest(tmp_path: Path, extract: Path, capsys) -> None:
    s = suite(tmp_path, rule_dict("upload_days", {}, id="UD", severity="warning"))
    code, out, _ = audit(capsys, str(extract), "--suite", str(s), "--format", "json", "--period", "2020-10")
    doc = json.loads(out)
    assert code == 0 and doc["period"] == "2020-10"
    assert (doc["results"][0]["evaluated"], doc["results"][0]["failed"]) == (31, 31)


def test_ignored_files_are_warned_about(tmp_path: Path, extract: Path, capsys) -> None:
    (extract / "notes.csv").write_text("a\n1\n", encoding="utf-8")
    code, _, err = audit(capsys, str(extract), "--suite", str(suite(tmp_path, PASSING)))
    assert code == 0
    assert "dq: warning: notes.csv: not a table of the catalogue; ignored" in err


# ------------------------------------------------------------------ exit codes
@pytest.mark.parametrize(
    ("rules", "code"),
    [
        ([PASSING], 0),
        ([PASSING, WARNING], 0),  # warnings do not fail the audit
        ([PASSING, FAILING], 1),
        ([CRITICAL], 1),
        ([{**FAILING, "threshold": {"max_fraction": 0.5}}], 0),
        ([{**FAILING, "severity": "warning"}], 0),
    ],
    ids=["pass", "warning", "error-fails", "critical-fails", "within-threshold", "downgraded"],
)
def test_exit_codes(tmp_path: Path, extract: Path, capsys, rules, code: int) -> None:
    assert audit(capsys, str(extract), "--suite", str(suite(tmp_path, *rules)))[0] == code


def test_exit_2_for_a_bad_suite(tmp_path: Path, extract: Path, capsys) -> None:
    s = suite(tmp_path, rule_dict("not_nul", {"column": "name"}, id="PI-001"))
    code, out, err = audit(capsys, str(extract), "--suite", str(s))
    assert (code, out) == (2, "")
    assert f"{s} rule PI-001 field 'check'" in err


def test_exit_2_for_an_unreadable_file(tmp_path: Path, extract: Path, capsys) -> None:
    (extract / "patient_index.csv").write_bytes(PI_CSV.encode("utf-16"))
    code, _, err = audit(capsys, str(extract), "--suite", str(suite(tmp_path, PASSING)))
    assert code == 2
    assert f"{extract / 'patient_index.csv'}: neither UTF-8 nor GB18030" in err


def test_exit_2_for_a_bad_manifest(tmp_path: Path, extract: Path, capsys) -> None:
    (extract / "manifest.yaml").write_text("kind: clinic\n", encoding="utf-8")
    code, _, err = audit(capsys, str(extract), "--suite", str(suite(tmp_path, PASSING)))
    assert code == 2 and str(extract / "manifest.yaml") in err


def test_exit_2_for_a_missing_path(tmp_path: Path, capsys) -> None:
    code, _, err = audit(capsys, str(tmp_path / "nowhere"), "--suite", str(suite(tmp_path, PASSING)))
    assert code == 2 and "no such file or folder" in err


def test_exit_2_for_a_bad_period(tmp_path: Path, extract: Path, capsys) -> None:
    code, _, err = audit(
        capsys, str(extract), "--suite", str(suite(tmp_path, PASSING)), "--period", "2020-13"
    )
    assert code == 2 and "a period is a month written YYYY-MM" in err and "2020-13" not in err


def test_exit_2_for_a_table_file_no_suite_targets(tmp_path: Path, capsys) -> None:
    f = tmp_path / "whatever.csv"
    f.write_text("a\n1\n", encoding="utf-8")
    code, _, err = audit(capsys, str(f), "--suite", str(suite(tmp_path, PASSING)))
    assert code == 2 and "not a table of the catalogue; name the file's table with --table" in err


def test_exit_2_for_an_unknown_format(extract: Path, capsys) -> None:
    assert main(["audit", str(extract), "--format", "xml"]) == 2
