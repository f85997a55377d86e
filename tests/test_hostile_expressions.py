"""Suite expressions are pure: column expressions only, never a subquery, a file or the environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import dq
from dq.engine.checks.base import check_pure
from dq.errors import CheckError, SuiteError

SECRET = "dq-secret-line-that-must-not-appear"
ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}

HOSTILE = [
    "visit_type IN (SELECT column_1 FROM read_csv('{path}'))",
    "(SELECT count(*) FROM read_parquet('{path}')) > 0",
    "visit_type = '1'; SELECT 1",
    "read_csv('{path}') IS NOT NULL",
    "visit_type IN (WITH t AS (SELECT 1 AS x) SELECT x FROM t)",
    "getenv('HOME') = 'x'",
]


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    f = tmp_path / "secret.csv"
    f.write_text(f"{SECRET}\n{SECRET}\n", encoding="utf-8")
    return f


def suite_file(tmp_path: Path, when: str) -> Path:
    p = tmp_path / "hostile.yaml"
    when = when.replace("'", "''")
    p.write_text(
        "suite: hostile.visits\ntable: outpatient_visit\nkind: hospital\nrules:\n"
        "  - id: HX-001\n    title: {zh: 测试, en: test}\n    dimension: validity\n"
        f"    check: not_null\n    params: {{column: visit_id}}\n    when: '{when}'\n",
        encoding="utf-8",
    )
    return p


@pytest.mark.parametrize("template", HOSTILE)
def test_suites_validate_refuses_and_reads_nothing(tmp_path: Path, secret_file: Path, template: str):
    path = suite_file(tmp_path, template.format(path=secret_file))
    p = subprocess.run(
        [sys.executable, "-m", "dq", "suites", "validate", str(path)],
        capture_output=True, text=True, timeout=120, env=ENV,
    )  # fmt: skip
    assert p.returncode == 2, p.stdout + p.stderr
    assert SECRET not in p.stdout + p.stderr
    assert "Traceback" not in p.stderr
    assert "HX-001" in p.stderr and "not a column expression" in p.stderr, p.stderr


@pytest.mark.parametrize("template", HOSTILE)
def test_the_api_refuses_too(secret_file: Path, template: str):
    rule = {
        "id": "HX-1",
        "check": "not_null",
        "params": {"column": "a"},
        "when": template.format(path=secret_file),
    }
    with pytest.raises(SuiteError) as info:
        dq.validate(pl.DataFrame({"a": [1, None], "visit_type": ["1", "2"]}), [rule])
    assert SECRET not in str(info.value) and "not a column expression" in str(info.value)


@pytest.mark.parametrize(
    "text",
    [
        "upper(dept_code) = 'X'",
        "a + b * 2 >= c",
        "name = 'select * from t; drop table x'",  # words inside a literal are text
        '"from" IS NOT NULL',  # a quoted column name
        "visit_type IN ('1', '2') AND coalesce(x, 0) > 0",
    ],
)
def test_column_expressions_pass(text: str):
    check_pure(text)


def test_the_refusal_names_the_word_not_the_expression():
    with pytest.raises(CheckError, match="SELECT is not allowed"):
        check_pure("x IN (select 1)")
