"""The suite loader rejects every kind of mistake with a problem naming file, rule and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import CATALOGUE, rule_dict, suite_yaml

from dq.cli import main
from dq.engine.suite import Threshold, load_suites
from dq.errors import Problem, SuiteError

GOOD = rule_dict("not_null", {"column": "name"}, id="PI-001")


def write(tmp_path: Path, rules: list[dict[str, Any]] | None = None, name: str = "s.yaml", **kw: Any) -> Path:
    f = tmp_path / name
    f.write_text(suite_yaml(rules if rules is not None else [GOOD], **kw), encoding="utf-8")
    return f


def problems_of(*files: Path) -> list[Problem]:
    with pytest.raises(SuiteError) as info:
        load_suites(list(files), catalogue=CATALOGUE)
    assert str(info.value).startswith(f"{len(info.value.problems)} problem(s) in suites:")
    return info.value.problems


def the_problem(f: Path, rule: str | None, field: str | None, *fragments: str) -> Problem:
    """Load ``f``; exactly one problem is expected, about ``rule`` and ``field``."""
    problems = problems_of(f)
    assert len(problems) == 1, problems
    (p,) = problems
    assert (p.file, p.rule, p.field) == (str(f), rule, field), p
    for frag in fragments:
        assert frag in p.message, p
    # The printed form names all three too.
    text = str(p)
    assert text.startswith(str(f))
    if rule:
        assert f"rule {rule}" in text
    if field:
        assert f"field '{field}'" in text
    return p


def bad_rule(tmp_path: Path, field: str | None, *fragments: str, table: str = "patient_index", **rule: Any):
    """A suite with one rule built from ``rule``; its one problem is about ``field``."""
    check = rule.pop("check", "not_null")
    params = rule.pop("params", {"column": "name"})
    f = write(tmp_path, [rule_dict(check, params, id="R-9", **rule)], table=table)
    return the_problem(f, "R-9", field, *fragments)


# ------------------------------------------------------------------ the good case
def test_a_valid_suite_loads_with_defaults(tmp_path: Path) -> None:
    f = write(
        tmp_path,
        [GOOD, rule_dict("unique", {"columns": ["patient_id"]}, id="PI-002", threshold={"max_count": 2})],
        defaults={"severity": "warning", "threshold": {"max_fraction": 0.1}, "weight": 2},
    )
    (suite,) = load_suites([f], catalogue=CATALOGUE)
    a, b = suite.rules
    assert (a.severity, a.threshold, a.weight, a.dimension) == (
        "warning",
        Threshold(0.1, None),
        2.0,
        "completeness",
    )
    assert b.threshold == Threshold(None, 2)  # only a count: no fraction limit
    assert (a.source, a.suite, a.table) == (str(f), "test.suite", "patient_index")


# ------------------------------------------------------------------ suite-level problems
def test_unknown_top_level_key(tmp_path: Path) -> None:
    the_problem(write(tmp_path, owner="me"), None, "owner", "unknown key")


def test_unknown_table_with_suggestion(tmp_path: Path) -> None:
    the_problem(
        write(tmp_path, table="patient_idx"), None, "table", "unknown table 'patient_idx'", "patient_index"
    )


def test_invalid_kind(tmp_path: Path) -> None:
    the_problem(write(tmp_path, kind="clinic"), None, "kind", "'clinic'")


def test_unknown_defaults_key(tmp_path: Path) -> None:
    the_problem(write(tmp_path, defaults={"when": "x = 1"}), None, "defaults.when", "unknown key")


def test_missing_suite_id(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump({"title": "t", "table": "patient_index", "rules": [GOOD]}), encoding="utf-8")
    the_problem(f, None, "suite", "missing suite id")


def test_empty_rules_list(tmp_path: Path) -> None:
    the_problem(write(tmp_path, rules=[]), None, "rules", "non-empty list of rules")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"suite: x\nrules: [\n", "cannot read YAML"),
        (b"suite: \xff\xfe\n", "cannot read YAML"),
        (b"- just\n- a list\n", "must be a mapping"),
    ],
    ids=["syntax", "not-utf8", "not-a-mapping"],
)
def test_unreadable_yaml(tmp_path: Path, content: bytes, fragment: str) -> None:
    f = tmp_path / "s.yaml"
    f.write_bytes(content)
    the_problem(f, None, None, fragment)


def test_missing_file(tmp_path: Path) -> None:
    the_problem(tmp_path / "nope.yaml", None, None, "no such file")


def test_duplicate_suite_ids(tmp_path: Path) -> None:
    a = write(tmp_path, [GOOD], name="a.yaml")
    b = write(tmp_path, [rule_dict("not_null", {"column": "name"}, id="PI-777")], name="b.yaml")
    problems = problems_of(a, b)
    assert [(p.file, p.rule, p.field) for p in problems] == [(str(b), None, "suite")]
    assert "duplicate suite id 'test.suite'" in problems[0].message and str(a) in problems[0].message


def test_duplicate_rule_ids_across_files(tmp_path: Path) -> None:
    a = write(tmp_path, [GOOD], name="a.yaml", suite="one")
    b = write(tmp_path, [GOOD], name="b.yaml", suite="two")
    problems = problems_of(a, b)
    assert [(p.file, p.rule, p.field) for p in problems] == [(str(b), "PI-001", "id")]
    assert "duplicate rule id" in problems[0].message and str(a) in problems[0].message


def test_duplicate_rule_ids_in_one_file(tmp_path: Path) -> None:
    the_problem(write(tmp_path, [GOOD, GOOD]), "PI-001", "id", "duplicate rule id")


def test_folder_loading_finds_every_problem_of_every_file(tmp_path: Path) -> None:
    write(tmp_path, [rule_dict("not_nul", {"column": "name"}, id="A-1")], name="a.yaml", suite="a")
    write(
        tmp_path,
        [rule_dict("not_null", {"column": "name"}, id="B-1", severity="fatal")],
        name="b.yml",
        suite="b",
    )
    (tmp_path / "notes.txt").write_text("not a suite")
    problems = problems_of(tmp_path)
    assert {(Path(p.file).name, p.rule, p.field) for p in problems} == {
        ("a.yaml", "A-1", "check"),
        ("a.yaml", "A-1", "dimension"),  # no check, so no default dimension either
        ("b.yml", "B-1", "severity"),
    }


# ------------------------------------------------------------------ rule-level problems
def test_missing_rule_id(tmp_path: Path) -> None:
    raw = rule_dict("not_null", {"column": "name"})
    del raw["id"]
    the_problem(write(tmp_path, [raw]), "#1", "id", "missing rule id")


def test_rule_not_a_mapping(tmp_path: Path) -> None:
    the_problem(write(tmp_path, ["not_null"]), "#1", None, "must be a mapping")  # type: ignore[list-item]


def test_unknown_rule_key_with_suggestion(tmp_path: Path) -> None:
    bad_rule(tmp_path, "sevrity", "unknown key", "did you mean 'severity'?", sevrity="error")


def test_unknown_check_suggests_the_closest(tmp_path: Path) -> None:
    f = write(tmp_path, [rule_dict("not_nul", {"column": "name"}, id="R-9", dimension="completeness")])
    the_problem(f, "R-9", "check", "unknown check 'not_nul'", "did you mean 'not_null'?")


def test_unknown_parameter(tmp_path: Path) -> None:
    bad_rule(
        tmp_path,
        "params.col",
        "has no parameter 'col'",
        "did you mean 'column'?",
        params={"column": "name", "col": "x"},
    )


def test_missing_required_parameter(tmp_path: Path) -> None:
    bad_rule(tmp_path, "params.column", "missing required parameter", params={})


def test_params_not_a_mapping(tmp_path: Path) -> None:
    f = write(tmp_path, [{**rule_dict("not_null", id="R-9"), "params": ["name"]}])
    problems = problems_of(f)
    assert ("R-9", "params") in [(p.rule, p.field) for p in problems]


@pytest.mark.parametrize(
    ("check", "params", "field", "fragment"),
    [
        ("unique", {"columns": "patient_id"}, "params.columns", "a non-empty list of column names"),
        ("unique", {"columns": []}, "params.columns", "a non-empty list"),
        ("between", {"column": "birth_date", "min": True}, "params.min", "a number, text or date"),
        (
            "compare",
            {"left": "a", "op": ">", "right": "b", "tolerance": True},
            "params.tolerance",
            "a number",
        ),
        (
            "compare",
            {"left": "a", "op": ">", "right": "b", "tolerance": "0.1"},
            "params.tolerance",
            "a number",
        ),
        ("row_count", {"min": 1.5}, "params.min", "a whole number"),
        ("id_card", {"column": "id_no", "allow_legacy": "yes"}, "params.allow_legacy", "true or false"),
        ("in_set", {"column": "sex_code", "values": "1"}, "params.values", "a non-empty list of values"),
        ("not_null", {"column": "  "}, "params.column", "a column name"),
        ("not_null", {"column": ["name"]}, "params.column", "a column name"),
        ("regex", {"column": "name", "pattern": 5}, "params.pattern", "text"),
    ],
    ids=lambda v: v if isinstance(v, str) and v.startswith("params.") else None,
)
def test_mistyped_parameter(tmp_path: Path, check: str, params: dict, field: str, fragment: str) -> None:
    bad_rule(tmp_path, field, "expected", fragment, check=check, params=params)


def test_invalid_choice(tmp_path: Path) -> None:
    bad_rule(
        tmp_path,
        "params.op",
        "'=>' is not one of",
        check="compare",
        params={"left": "name", "op": "=>", "right": "name"},
    )


def test_invalid_dimension(tmp_path: Path) -> None:
    bad_rule(tmp_path, "dimension", "'accuracy' is not one of", dimension="accuracy")


def test_invalid_severity(tmp_path: Path) -> None:
    bad_rule(tmp_path, "severity", "'fatal' is not one of", severity="fatal")


@pytest.mark.parametrize(
    ("threshold", "field", "fragment"),
    [
        ({"max_fraction": 1.5}, "threshold.max_fraction", "not a number in [0, 1]"),
        ({"max_fraction": -0.1}, "threshold.max_fraction", "not a number in [0, 1]"),
        ({"max_fraction": True}, "threshold.max_fraction", "not a number in [0, 1]"),
        ({"max_count": -1}, "threshold.max_count", "not a whole number >= 0"),
        ({"max_count": 2.5}, "threshold.max_count", "not a whole number >= 0"),
        ({"max_rows": 3}, "threshold", "must be a mapping of max_fraction and/or max_count"),
        (0.1, "threshold", "must be a mapping"),
    ],
)
def test_invalid_threshold(tmp_path: Path, threshold: Any, field: str, fragment: str) -> None:
    bad_rule(tmp_path, field, fragment, threshold=threshold)


def test_invalid_threshold_in_defaults_is_reported_per_rule(tmp_path: Path) -> None:
    f = write(tmp_path, [GOOD], defaults={"threshold": {"max_fraction": 2}})
    the_problem(f, "PI-001", "threshold.max_fraction", "[0, 1]")


@pytest.mark.parametrize("weight", [-1, "heavy", True])
def test_invalid_weight(tmp_path: Path, weight: Any) -> None:
    bad_rule(tmp_path, "weight", "not a number >= 0", weight=weight)


@pytest.mark.parametrize("when", ["id_type = = '01'", "id_type >> 1", 5])
def test_when_that_does_not_parse(tmp_path: Path, when: Any) -> None:
    bad_rule(tmp_path, "when", when=when)


def test_when_on_an_unknown_column(tmp_path: Path) -> None:
    bad_rule(
        tmp_path,
        "when",
        "table patient_index has no column 'idtype'",
        "did you mean 'id_type'?",
        when="idtype = '01'",
    )


def test_unknown_column_for_the_table(tmp_path: Path) -> None:
    bad_rule(
        tmp_path,
        "params",
        "table patient_index has no column 'nmae'",
        "did you mean 'name'?",
        params={"column": "nmae"},
    )


def test_column_of_another_table(tmp_path: Path) -> None:
    bad_rule(
        tmp_path, "params", "no column 'visit_time'", check="not_future", params={"column": "visit_time"}
    )


def test_bad_regex(tmp_path: Path) -> None:
    bad_rule(
        tmp_path,
        "params",
        "invalid regex '([a-z'",
        check="regex",
        params={"column": "name", "pattern": "([a-z"},
    )


def test_unknown_code_set(tmp_path: Path) -> None:
    bad_rule(
        tmp_path,
        "params",
        "unknown code set 'gender'",
        check="in_set",
        params={"column": "sex_code", "code_set": "gender"},
    )


def test_in_set_without_values_or_code_set(tmp_path: Path) -> None:
    bad_rule(
        tmp_path, "params", "needs 'values' or 'code_set'", check="in_set", params={"column": "sex_code"}
    )


@pytest.mark.parametrize(
    ("check", "params", "field"),
    [
        ("expression", {"expr": "birth_date >"}, "params.expr"),
        ("compare", {"left": "birth_date <", "op": "<", "right": "birth_date"}, "params.left"),
        ("ratio", {"numerator": "(", "denominator": "1"}, "params.numerator"),
        ("compare", {"left": "birth_date", "op": "<", "right": "birth_date +"}, "params"),
    ],
    ids=["expression", "compare-left", "ratio", "compare-right"],
)
def test_sql_params_that_do_not_parse(tmp_path: Path, check: str, params: dict, field: str) -> None:
    bad_rule(tmp_path, field, "cannot parse expression", check=check, params=params)


def test_a_type_clash_found_at_load(tmp_path: Path) -> None:
    bad_rule(tmp_path, "params", "is text", check="between", params={"column": "name", "min": 1})


def test_a_rule_on_a_table_needing_a_reference_table_that_does_not_exist(tmp_path: Path) -> None:
    bad_rule(
        tmp_path,
        "params",
        "unknown table 'patients': not a table of the catalogue",
        check="foreign_key",
        params={"column": "patient_id", "references": "patients.patient_id"},
        table="outpatient_visit",
    )


@pytest.mark.parametrize(
    ("lookup", "field", "fragment"),
    [
        ({"table": "patient_index"}, "lookup", "must be {table: T, on: {local: remote}, columns: [..]}"),
        (
            {"table": "patient_index", "on": {"patient_id": "patient_id"}, "columns": "birth_date"},
            "lookup",
            "must be",
        ),
        (
            {"table": "patients", "on": {"patient_id": "patient_id"}, "columns": ["birth_date"]},
            "lookup.table",
            "unknown table",
        ),
        (
            {"table": "patient_index", "on": {"patient_id": "pid"}, "columns": ["birth_date"]},
            "lookup",
            "no column 'pid'",
        ),
        (
            {"table": "patient_index", "on": {"patient_id": "patient_id"}, "columns": ["dob"]},
            "lookup",
            "no column 'dob'",
        ),
    ],
    ids=["incomplete", "columns-not-a-list", "unknown-table", "unknown-key", "unknown-column"],
)
def test_bad_lookup(tmp_path: Path, lookup: dict, field: str, fragment: str) -> None:
    bad_rule(
        tmp_path,
        field,
        fragment,
        table="outpatient_visit",
        params={"column": "visit_id"},
        lookup=lookup,
    )


def test_a_good_lookup_adds_prefixed_columns(tmp_path: Path) -> None:
    lookup = {"table": "patient_index", "on": {"patient_id": "patient_id"}, "columns": ["birth_date"]}
    f = write(
        tmp_path,
        [
            rule_dict(
                "compare",
                {"left": "visit_time", "op": ">=", "right": "patient_index__birth_date"},
                lookup=lookup,
            )
        ],
        table="outpatient_visit",
    )
    (suite,) = load_suites([f], catalogue=CATALOGUE)
    assert suite.rules[0].lookup.alias("birth_date") == "patient_index__birth_date"


@pytest.mark.parametrize("title", [None, {"zh": "中文", "de": "x"}, ["a"]])
def test_bad_or_missing_title(tmp_path: Path, title: Any) -> None:
    raw = rule_dict("not_null", {"column": "name"}, id="R-9")
    if title is None:
        del raw["title"]
    else:
        raw["title"] = title
    problems = problems_of(write(tmp_path, [raw]))
    assert {(p.rule, p.field) for p in problems} == {("R-9", "title")}


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    f = write(
        tmp_path,
        [
            rule_dict("not_null", {"column": "name"}, id="R-1", severity="fatal"),
            rule_dict("between", {"column": "birth_date", "min": True}, id="R-2"),
            rule_dict("not_null", {"column": "name"}, id="R-3", weight=-2, when="x = = 1"),
        ],
    )
    problems = problems_of(f)
    assert [(p.rule, p.field) for p in problems] == [
        ("R-1", "severity"),
        ("R-2", "params.min"),
        ("R-3", "weight"),
        ("R-3", "when"),
    ]


# ------------------------------------------------------------------ the CLI
def test_cli_validate_bad_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = write(tmp_path, [rule_dict("not_nul", {"column": "name"}, id="R-9")])
    assert main(["suites", "validate", str(f)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dq: error:")
    # file:line of the rule's `check:` key, then suite, rule and field
    line = next(i for i, t in enumerate(f.read_text().splitlines(), 1) if "not_nul" in t)
    where = f"{f}:{line} suite test.suite rule R-9 field 'check'"
    assert f"{where}: unknown check 'not_nul'; did you mean 'not_null'?" in err


def test_cli_validate_good_file_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = write(tmp_path)
    assert main(["suites", "validate", str(f)]) == 0
    assert capsys.readouterr().out.strip() == "ok: 1 suites, 1 rules"


def test_cli_validate_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["suites", "validate", str(tmp_path / "nope.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_a_when_that_is_not_a_condition_is_found_at_load(tmp_path: Path) -> None:
    # The loader compiles rules as the engine does (dq.engine._plan.compile_rule), counts included, so
    # a text column used as a condition fails here rather than at the first audit.
    for check, params in [("row_count", {"min": 1}), ("not_null", {"column": "name"})]:
        bad_rule(
            tmp_path, "params", "does not compile with its when", check=check, params=params, when="name"
        )
