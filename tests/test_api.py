"""The public Python API: dq.audit, dq.validate, the exported names and the error hierarchy."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import polars as pl
import pytest
import yaml

import dq
from dq.engine.results import STATUSES
from dq.engine.suite import load_suites

REPO = Path(__file__).resolve().parents[1]
EXTRACT = REPO / "examples" / "extract"


def test_the_readme_example_works_as_written() -> None:
    assert (
        dq.validate(
            pl.DataFrame({"a": [1, None]}), [{"id": "A1", "check": "not_null", "params": {"column": "a"}}]
        )[0].failed
        == 1
    )


def test_every_exported_name_resolves_and_is_documented() -> None:
    api_md = (REPO / "docs" / "api.md").read_text(encoding="utf-8")
    for name in dq.__all__:
        assert getattr(dq, name) is not None
        if name != "__version__":
            assert f"`{name}" in api_md or f"dq.{name}" in api_md, name
    with pytest.raises(AttributeError):
        _ = dq.no_such_name


def test_every_exported_error_is_a_dqerror() -> None:
    errors = [getattr(dq, n) for n in dq.__all__ if inspect.isclass(getattr(dq, n))]
    errors = [e for e in errors if issubclass(e, Exception)]
    assert len(errors) >= 10
    assert all(issubclass(e, dq.DQError) for e in errors)


@pytest.mark.parametrize("lazy", [False, True])
def test_validate_any_frame(lazy: bool) -> None:
    frame = pl.DataFrame({"amount": [1.5, -2.0, None, 4.0], "code": ["a", "b", "b", "x"]})
    rules = [
        {"id": "N", "check": "not_null", "params": {"column": "amount"}},
        {"id": "R", "check": "between", "params": {"column": "amount", "min": 0}},
        {
            "id": "S",
            "check": "in_set",
            "params": {"column": "code", "values": ["a", "b"]},
            "severity": "warning",
        },
    ]
    got = dq.validate(frame.lazy() if lazy else frame, rules)
    assert [(r.rule, r.status, r.evaluated, r.failed) for r in got] == [
        ("N", "fail", 4, 1),
        ("R", "fail", 3, 1),
        ("S", "warn", 4, 1),
    ]
    assert got[1].samples == ({"amount": -2.0},)


def test_validate_rules_as_yaml_string_file_and_suite(tmp_path: Path) -> None:
    frame = pl.DataFrame({"n": [1, 5, 9]})
    listed = "- {id: B, check: between, params: {column: n, max: 4}}\n"
    suite_text = (
        "suite: mine\nrules:\n  - {id: B, title: n small, check: between, params: {column: n, max: 4}}\n"
    )
    f = tmp_path / "mine.yaml"
    f.write_text(suite_text, encoding="utf-8")
    for rules in (listed, suite_text, f, str(f)):
        (r,) = dq.validate(frame, rules)
        assert (r.rule, r.failed, r.evaluated) == ("B", 2, 3), rules
    assert r.suite == "mine"


def test_validate_with_loaded_suites() -> None:
    (suite,) = [s for s in dq.load_suites() if s.table == "patient_index"]
    frame = pl.read_parquet(EXTRACT / "patient_index.parquet")
    got = dq.validate(frame, suite)
    assert [r.rule for r in got] == [r.id for r in suite.rules]
    assert [r.rule for r in dq.validate(frame, list(suite.rules[:2]))] == [r.id for r in suite.rules[:2]]


def test_validate_lists_every_problem_like_the_loader(tmp_path: Path) -> None:
    rules = [
        {"id": "X1", "title": "t", "check": "not_nul", "params": {"column": "name"}},
        {"id": "X2", "title": "t", "check": "not_null", "params": {"column": "nmae"}},
        {
            "id": "X3",
            "title": "t",
            "check": "between",
            "params": {"column": "birth_date"},
            "severity": "high",
        },
        {"id": "X4", "title": "t", "check": "not_null", "params": {"column": "name"}},
        {"id": "X4", "title": "t", "check": "not_null", "params": {"column": "id_no"}},
    ]
    with pytest.raises(dq.SuiteError) as exc:
        dq.validate(pl.DataFrame({"name": ["x"]}), rules, table="patient_index")
    f = tmp_path / "s.yaml"
    f.write_text(
        yaml.safe_dump({"suite": "validate", "table": "patient_index", "rules": rules}), encoding="utf-8"
    )
    with pytest.raises(dq.SuiteError) as from_file:
        load_suites([f])

    def strip(problems):
        return sorted((p.rule, p.field, p.message.replace(str(f), "<rules>")) for p in problems)

    assert strip(exc.value.problems) == strip(from_file.value.problems)
    fields = {(p.rule, p.field) for p in exc.value.problems}
    assert {("X1", "check"), ("X2", "params"), ("X3", "severity"), ("X4", "id")} <= fields
    assert "did you mean 'name'" in str(exc.value)


def test_validate_checks_rules_against_the_frames_own_columns() -> None:
    with pytest.raises(dq.SuiteError, match="table frame has no column 'b'"):
        dq.validate(pl.DataFrame({"a": [1]}), [{"id": "A", "check": "not_null", "params": {"column": "b"}}])


def test_validate_with_a_catalogue_table_types_text_and_masks_identifiers() -> None:
    frame = pl.DataFrame(
        {
            "patient_id": ["p1", "p2"],
            "id_no": ["320106199001011234", None],
            "birth_date": ["19900101", "2099-01-01"],
        }
    )
    rules = [
        {"id": "I", "check": "not_null", "params": {"column": "id_no"}},
        {"id": "D", "check": "between", "params": {"column": "birth_date", "max": "2030-01-01"}},
        {"id": "U", "check": "in_set", "params": {"column": "id_no", "values": ["x"]}},
    ]
    got = {r.rule: r for r in dq.validate(frame, rules, table="patient_index", period="2020-09")}
    assert (got["D"].failed, got["D"].evaluated) == (1, 2)  # the text dates were parsed
    text = json.dumps([r.to_dict() for r in got.values()], ensure_ascii=False)
    assert "320106199001011234" not in text
    assert "320106********1234" in text


def test_validate_refuses_what_is_not_a_frame_and_bad_values() -> None:
    rule = [{"id": "A", "check": "not_null", "params": {"column": "a"}}]
    with pytest.raises(dq.UsageError, match="Polars DataFrame"):
        dq.validate({"a": [1]}, rule)  # type: ignore[arg-type]
    with pytest.raises(dq.UsageError, match="YYYY-MM"):
        dq.validate(pl.DataFrame({"a": [1]}), rule, period="2020-9")
    with pytest.raises(dq.UsageError, match="samples"):
        dq.validate(pl.DataFrame({"a": [1]}), rule, samples=-1)
    with pytest.raises(dq.SuiteError, match="no such file"):
        dq.validate(pl.DataFrame({"a": [1]}), "missing.yaml")
    with pytest.raises(dq.SuiteError, match="list of rule"):
        dq.validate(pl.DataFrame({"a": [1]}), 42)  # type: ignore[arg-type]


def test_audit_an_extract_and_convert_to_a_frame() -> None:
    result = dq.audit(EXTRACT, samples=2)
    assert isinstance(result, dq.AuditResult)
    frame = result.to_frame()
    assert frame.height == len(result.results) > 100
    counts = frame.group_by("status").len()
    by_status = dict(zip(counts["status"], counts["len"], strict=True))
    assert by_status == {k: v for k, v in result.summary.items() if k in STATUSES and v}
    assert all(len(r.samples) <= 2 for r in result.results)
    failing = frame.filter(pl.col("status") == "fail")
    assert failing.height and (failing["failed"] > 0).all()
    d = result.to_dict()
    assert d["schema_version"] == dq.SCHEMA_VERSION == 1
    assert dq.results_frame([]).columns == frame.columns


def test_audit_one_file_names_its_table(tmp_path: Path) -> None:
    f = tmp_path / "patients_2020.parquet"
    pl.read_parquet(EXTRACT / "patient_index.parquet").write_parquet(f)
    result = dq.audit(f, table="patient_index")
    assert {r.table for r in result.results} == {"patient_index"}
    assert all(r.status != "not_applicable" or "uploaded" not in r.message for r in result.results)
    with pytest.raises(dq.UsageError, match="did you mean 'patient_index'"):
        dq.audit(f, table="patient_idx")
    with pytest.raises(dq.UsageError, match="'patients_2020' is not a table of the catalogue"):
        dq.audit(f)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"period": "2020-9"}, "YYYY-MM"),
        ({"samples": -1}, "samples"),
        ({"table": "patient_index"}, "single file"),
    ],
)
def test_audit_usage_errors(kwargs, match) -> None:
    with pytest.raises(dq.UsageError, match=match):
        dq.audit(EXTRACT, **kwargs)


def test_docs_api_examples_run(tmp_path: Path, monkeypatch) -> None:
    """Every ```python block of docs/api.md runs, in order, in one namespace, from the repo root."""
    text = (REPO / "docs" / "api.md").read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0] for b in text.split("```python\n")[1:]]
    assert len(blocks) >= 4
    monkeypatch.chdir(REPO)
    namespace: dict = {"__name__": "docs_api", "TMP": tmp_path}
    for i, block in enumerate(blocks):
        exec(compile(block, f"docs/api.md block {i + 1}", "exec"), namespace)


def test_readme_python_example_runs(monkeypatch) -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0] for b in text.split("```python\n")[1:]]
    assert blocks and "dq.validate(" in blocks[0]
    monkeypatch.chdir(REPO)
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {"__name__": "readme"})


def test_results_have_a_short_repr_and_an_html_one() -> None:
    import dq

    result = dq.audit("examples/extract")
    text = repr(result)
    blocking = result.summary["failed_rules"]
    assert text.startswith("<AuditResult H014 2020-09:") and len(text) < 300
    assert f"{result.summary['fail']} fail" in text and blocking[0] in text and "more" in text
    html = result._repr_html_()
    failing = [r for r in result.results if r.status in ("fail", "warn", "error")]
    assert html.count("<tr>") == 1 + len(failing)
    one = failing[0]
    assert repr(one) == f"<RuleResult {one.rule} {one.status} {one.failed}/{one.evaluated} ({one.table})>"
