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
    # the word list's hole (issue 18): a quote inside a comment made the subquery look like text
    "visit_type = 'x' /* ' */ OR visit_type IN (SELECT column_1 FROM read_csv('{path}')) /* ' */",
    "visit_type = 'x' -- ' \n OR visit_type IN (SELECT column_1 FROM read_csv('{path}'))",
    "visit_type IN (SELECT column_1 FROM read_csv('{path}'))",
    "(SELECT count(*) FROM read_parquet('{path}')) > 0",
    "visit_type = '1'; SELECT 1",
    "read_csv('{path}') IS NOT NULL",
    "visit_type IN (WITH t AS (SELECT 1 AS x) SELECT x FROM t)",
    "getenv('HOME') = 'x'",
    "visit_type = $$x$$ OR EXISTS (SELECT 1 FROM read_csv('{path}'))",
    "visit_type = (SELECT column_1 FROM read_csv('{path}') LIMIT 1)",
    "pg_read_file('{path}') IS NOT NULL",
    "visit_type IN (SELECT * FROM '{path}')",
    "visit_type = 'x' UNION SELECT column_1 FROM read_csv('{path}')",
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
        "  - id: HX-001\n    title: {zh: 测试, en: test}\n    dimension: completeness\n"
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
    assert "suite hostile.visits" in p.stderr and str(path) in p.stderr, p.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("template", HOSTILE[:3])
def test_validation_never_opens_a_file(tmp_path: Path, template: str):
    """A FIFO in the expression: reading it would block for ever (nothing writes to it). The
    validation must come back, refusing the rule; the subprocess timeout is only a guard."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    path = suite_file(tmp_path, template.format(path=fifo))
    p = subprocess.run(
        [sys.executable, "-m", "dq", "suites", "validate", str(path)],
        capture_output=True, text=True, timeout=120, env=ENV,
    )  # fmt: skip
    assert p.returncode == 2, p.stdout + p.stderr
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


def test_the_refusal_names_the_construct_not_the_expression():
    with pytest.raises(CheckError, match=r"SELECT \(a subquery\) is not allowed") as info:
        check_pure("x IN (select secret_column from t)")
    assert "secret_column" not in str(info.value)
    with pytest.raises(CheckError, match="function READ_CSV is not allowed"):
        check_pure("read_csv('x') IS NULL")
    with pytest.raises(CheckError, match="a comment is not allowed"):
        check_pure("a /* comment */ = 1")


# Everything below is refused by the grammar: not in the allow-list of docs/checks.md.
REFUSED = [
    "a -- a comment",
    "a = 1 /* a comment */",
    "foo(a) = 1",  # an unknown function
    "regexp_like(a, 'x')",
    "a ~ 'x'",
    "t.a = 1",  # a column of another table
    "a = $$x$$",  # dollar quoting
    "a = E'\\x41'",
    "x'41' = a",
    "a = ANY(ARRAY[1])",
    "a[1] = 2",
    "a = ?",
    "a = $1",
    "@a = 1",
    "a IS b",
    "CAST(a AS VARCHAR(10)) = 'x'",
    "a LIKE 'x' ESCAPE '!'",
    "a = current_user",
    "current_date > a",
    "INTERVAL '1 fortnight' > a",
    "DATE_PART('foo', a) = 1",
    "a;",
    "a = 1; b = 2",
    "1" * 60,  # a number of 60 digits
    '"a""b" = 1',  # a column name with a quote
    "(" * 300 + "a" + ")" * 300,
    "",
    "   ",
    "a = " + "1 + " * 3000 + "1",  # longer than MAX_EXPRESSION_CHARS
]


@pytest.mark.parametrize("text", REFUSED)
def test_the_grammar_refuses(text: str):
    with pytest.raises(CheckError):
        check_pure(text)


@pytest.mark.parametrize("text", ["a ~ 'x'", "foo(a) = 1", "a /* c */ = 1", "a = 1; b = 2"])
def test_suites_validate_names_the_rule(tmp_path: Path, text: str):
    with pytest.raises(SuiteError) as info:
        dq.load_suites([suite_file(tmp_path, text)])
    (problem,) = info.value.problems
    assert (problem.rule, problem.suite, problem.field) == ("HX-001", "hostile.visits", "when")
    assert problem.file.endswith("hostile.yaml")


# Everything the allow-list holds: each is parsed by Polars to the same expression whether it is
# given as written or as rendered from the checked tree.
ALLOWED = [
    "a + b * 2 >= c",
    "a - -b = 0",
    "(a + b) * c <> 0",
    "a % 2 = 0 AND a / b > 1.5e3",
    "a != b OR NOT c",
    "visit_type NOT IN ('1', '2') OR NOT a",
    "a BETWEEN 1 AND 2 AND b NOT BETWEEN 3 AND 4",
    "a LIKE 'x%' OR b NOT LIKE '%y' OR c ILIKE 'z'",
    "a IS NULL OR b IS NOT NULL OR c IS TRUE OR d IS NOT FALSE",
    "(a IS DISTINCT FROM b) AND (c IS NOT DISTINCT FROM d)",
    "CASE WHEN a > 1 THEN 'x' WHEN a > 0 THEN 'y' ELSE 'z' END = 'x'",
    "CASE a WHEN 1 THEN 2 ELSE 3 END = 2",
    "CAST(a AS INT) > 2 AND b::double < 1",
    "DATE '2020-01-01' <= d",
    "visit_time - INTERVAL '1 hour' < t AND u + INTERVAL '2 days' > t",
    "EXTRACT(YEAR FROM d) = 2020 AND DATE_PART('epoch', t) > 0",
    "LENGTH(x) = 18 AND CHAR_LENGTH(y) = 2",
    "SUBSTR(x, 1, 6) = '320106' AND SUBSTRING(y, 7) = 'a'",
    "LEFT(x, 2) = RIGHT(y, 2)",
    "TRIM(x) <> '' AND LTRIM(y) <> '' AND RTRIM(z) <> ''",
    "LOWER(x) = UPPER(y)",
    "ABS(a - b) <= 0.5 AND ROUND(c, 2) = 1.25 AND ROUND(d) = 1",
    "CEIL(a) = FLOOR(b)",
    "NULLIF(a, 0) IS NULL",
    "LEAST(a, b, c) > 0 AND GREATEST(a, 1) > 0 AND COALESCE(a, b, 0) > 0",
    "CONCAT(a, b) = 'ab' AND a || b = 'ab'",
    "STARTS_WITH(x, '32') AND ENDS_WITH(x, 'X')",
    "measure = '个'",
    "x = 'it''s' AND y = 'back\\slash'",
    "name = 'select * from t; drop table x /* not a comment */'",
    '"from" IS NOT NULL',
]


@pytest.mark.parametrize("text", ALLOWED)
def test_the_rendered_expression_is_the_one_written(text: str):
    rendered = check_pure(text)
    assert pl.sql_expr(rendered).meta.eq(pl.sql_expr(text)), rendered


def test_polars_is_handed_the_tree_that_was_checked():
    """Polars before 2.2 read ``a IS DISTINCT FROM b AND c`` as ``a IS DISTINCT FROM (b AND c)``;
    the grammar reads it as SQL does and hands Polars that reading in explicit parentheses, so
    no Polars version's precedence decides what a rule means."""
    rendered = check_pure("a IS DISTINCT FROM b AND c")
    assert '("a" IS DISTINCT FROM "b")' in rendered, rendered
    assert pl.sql_expr(rendered).meta.eq(pl.sql_expr("(a IS DISTINCT FROM b) AND c"))


def test_every_shipped_expression_passes_and_renders_as_written():
    """Every expression of the bundled suites is accepted, and Polars builds the same expression
    from the rendered text as from the text as written (the shipped results cannot change)."""
    from dq.engine.checks import REGISTRY

    seen = 0
    for suite in dq.load_suites():
        for rule in suite.rules:
            texts = [rule.when] if rule.when else []
            for p in REGISTRY[rule.check].params:
                value = rule.params.as_mapping().get(p.name)
                if isinstance(value, str) and (p.kind == "sql" or p.name in ("left", "right")):
                    texts.append(value)
            for text in texts:
                assert pl.sql_expr(check_pure(text)).meta.eq(pl.sql_expr(text)), (rule.id, text)
                seen += 1
    assert seen > 50
