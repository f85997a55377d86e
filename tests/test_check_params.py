"""Typed check parameters: one frozen dataclass per check, its defaults written once, on its fields.

The suite language's view of a check's parameters (``CheckDef.params``: kind, default, help,
choices; read by the loader, `dq checks` and docs/checks.md) is derived from the dataclass, the
loader builds the instance after validation, and a wrong value is a problem naming the file, the
rule and the parameter.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from datetime import date
from pathlib import Path

import pytest
from conftest import CATALOGUE, rule_dict, suite_yaml

import dq
from dq.cli import main
from dq.engine.checks import REGISTRY
from dq.engine.checks._consistency import RowTotal
from dq.engine.checks._plausibility import Between
from dq.engine.checks.base import (
    CheckDef,
    CheckParams,
    Column,
    Compiled,
    Context,
    Strs,
    param,
    texts,
)
from dq.engine.checks.history import HistoryChange
from dq.engine.suite import load_suites
from dq.errors import SuiteError

CHECKS_DIR = Path(dq.__file__).parent / "engine" / "checks"


# ------------------------------------------------------------------ defaults in one place
def test_there_are_51_checks_each_with_a_params_dataclass() -> None:
    assert len(REGISTRY) == 51
    for name, check in REGISTRY.items():
        cls = check.params_type
        assert issubclass(cls, CheckParams) and dataclasses.is_dataclass(cls), name
        assert cls.__dataclass_params__.frozen, name  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_each_parameter_default_is_the_dataclass_field_default(name: str) -> None:
    """What the loader, `dq checks` and the docs call a parameter's default is the field's."""
    check = REGISTRY[name]
    fields = {f.name: f for f in dataclasses.fields(check.params_type)}
    assert [p.name for p in check.params] == list(fields), name  # same parameters, same order
    for p in check.params:
        f = fields[p.name]
        has_default = f.default is not dataclasses.MISSING
        assert p.required is not has_default, (name, p.name)
        if has_default:
            # as YAML writes it: a tuple default is a list
            want = list(f.default) if isinstance(f.default, tuple) else f.default
            assert p.default == want and type(p.default) is type(want), (name, p.name, p.default)
        else:
            assert p.default is None, (name, p.name)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_a_rule_leaving_out_optional_parameters_gets_the_dataclass_defaults(name: str) -> None:
    check = REGISTRY[name]
    required = {p.name: _placeholder(p.kind, p.choices) for p in check.params if p.required}
    typed = check.params_type.of(required)
    assert isinstance(typed, check.params_type)
    for f in dataclasses.fields(typed):
        if f.name not in required:
            assert getattr(typed, f.name) == f.default, (name, f.name)
    # and back as YAML writes it: every parameter, the defaults as `dq checks` lists them
    assert typed.as_mapping() == {p.name: required.get(p.name, p.default) for p in check.params}


def test_no_check_module_writes_a_param_by_hand() -> None:
    """The Param records are derived (CheckParams.spec), never a second copy of the defaults."""
    for path in sorted(CHECKS_DIR.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        hand_written = [m.group(0) for m in re.finditer(r"\bParam\(\s*\"", text)]
        assert not hand_written, (path.name, hand_written)
    assert "HistoryParams" not in (CHECKS_DIR / "history.py").read_text(encoding="utf-8")


def test_choices_come_from_the_literal_type() -> None:
    method = next(p for p in REGISTRY["history_change"].params if p.name == "method")
    hint = typing.get_type_hints(HistoryChange)["method"]
    assert method.choices == typing.get_args(hint) == ("robust_z", "pct_change", "seasonal")
    assert method.default == "robust_z" == HistoryChange.__dataclass_fields__["method"].default


# ------------------------------------------------------------------ the loaded rule is typed
def test_a_loaded_rule_carries_its_typed_parameters(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    rules = [
        rule_dict("between", {"column": "birth_date", "min": date(1900, 1, 1)}, id="R-1"),
        rule_dict(
            "row_total",
            {"label_column": "name", "exclude_labels": "其中", "columns": ["patient_id"]},
            id="R-2",
        ),
    ]
    f.write_text(suite_yaml(rules), encoding="utf-8")
    (suite,) = load_suites([f], catalogue=CATALOGUE)
    between, total = suite.rules
    assert between.params == Between(column="birth_date", min=date(1900, 1, 1))
    assert (between.params.max, between.params.min_inclusive) == (None, True)
    assert isinstance(total.params, RowTotal)
    # text where text or a list of text is accepted stays as written (texts() reads either);
    # lists are tuples
    assert total.params.exclude_labels == "其中" and texts(total.params.exclude_labels) == ("其中",)
    assert total.params.columns == ("patient_id",)
    assert total.params.total_label == "合计" and total.params.tolerance == 0
    assert total.params.as_mapping()["exclude_labels"] == "其中"
    assert total.params.as_mapping()["columns"] == ["patient_id"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        total.params.total_label = "总计"  # type: ignore[misc]


def test_every_shipped_rule_survives_its_mapping() -> None:
    """as_mapping() is the public way back to YAML values: building again gives the same params."""
    n = 0
    for suite in dq.load_suites():
        for rule in suite.rules:
            again = type(rule.params).of(rule.params.as_mapping())
            assert again == rule.params, rule.id
            n += 1
    assert n > 300


# ------------------------------------------------------------------ wrong values: clear errors
@pytest.mark.parametrize(
    ("check", "params", "field", "message"),
    [
        ("history_change", {"metric": "summary.data_volume", "window": "six"}, "params.window",
         "expected a whole number, got 'six'"),
        ("history_change", {"metric": "summary.data_volume", "method": "mean"}, "params.method",
         "'mean' is not one of ['robust_z', 'pct_change', 'seasonal']"),
        ("between", {"column": "birth_date", "min_inclusive": "no"}, "params.min_inclusive",
         "expected true or false, got 'no'"),
        ("row_total", {"label_column": "name", "tolerance": [1]}, "params.tolerance",
         "expected a number, got [1]"),
    ],
)  # fmt: skip
def test_a_wrong_parameter_type_names_file_rule_and_parameter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], check: str, params: dict, field: str, message: str
) -> None:
    table = "submission_summary" if check == "history_change" else "patient_index"
    f = tmp_path / "bad.yaml"
    f.write_text(suite_yaml([rule_dict(check, params, id="R-7")], table=table), encoding="utf-8")
    with pytest.raises(SuiteError) as info:
        load_suites([f], catalogue=CATALOGUE)
    (problem,) = info.value.problems
    assert (problem.file, problem.rule, problem.field) == (str(f), "R-7", field)
    assert problem.message == message
    # the command says it the same way, with the line, and exits 2 (no traceback)
    assert main(["suites", "validate", str(f)]) == 2
    err = capsys.readouterr().err
    name = field.removeprefix("params.")
    line = next(i for i, t in enumerate(f.read_text(encoding="utf-8").splitlines(), 1) if f"{name}:" in t)
    assert f"{f}:{line} suite test.suite rule R-7 field '{field}': {message}" in err
    assert "Traceback" not in err


# ------------------------------------------------------------------ a new check's parameters
def _compile(p: typing.Any, ctx: Context) -> Compiled:
    raise AssertionError("not compiled here")


def test_a_parameter_type_without_a_kind_fails_where_the_check_is_defined() -> None:
    class Bad(CheckParams):
        column: Column
        names: list[str]  # a mutable list: the suite language's list of text is Strs

    with pytest.raises(TypeError, match=r"Bad\.names: .* is not a parameter type"):
        CheckDef("bad", "plausibility", "-", Bad, _compile, lambda p: [])


def test_an_optional_parameter_must_default_to_none() -> None:
    class Odd(CheckParams):
        limit: int | None = 3

    with pytest.raises(TypeError, match=r"Odd\.limit: an optional parameter defaults to None"):
        CheckDef("odd", "plausibility", "-", Odd, _compile, lambda p: [])


def test_a_check_defined_outside_dq_gets_the_same_treatment() -> None:
    class Mine(CheckParams):
        column: Column
        labels: Strs = ("a",)
        strict: bool = param(default=False, help="fail on ties")

    check = CheckDef("mine", "plausibility", "-", Mine, _compile, lambda p: [p.column])
    assert [(p.name, p.kind, p.required, p.default, p.help) for p in check.params] == [
        ("column", "column", True, None, ""),
        ("labels", "strs", False, ["a"], ""),
        ("strict", "bool", False, False, "fail on ties"),
    ]
    assert Mine.of({"column": "c", "labels": ["x", "y"]}).labels == ("x", "y")
    with pytest.raises(TypeError, match="column"):
        Mine.of({"labels": "x"})  # the required column is missing
    with pytest.raises(TypeError, match="no parameter 'colum'"):
        Mine.of({"colum": "x"})


def _placeholder(kind: str, choices: tuple) -> typing.Any:
    if choices:
        return choices[0]
    return {
        "column": "a", "columns": ["a"], "str": "text", "strs": ["t"], "number": 1.5, "int": 2,
        "bool": True, "values": ["x", 1], "scalar": 0, "sql": "a > 0",
    }[kind]  # fmt: skip
