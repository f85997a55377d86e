"""docs/suites.md: its examples make a project dq accepts, and it documents every key the
loaders read (dq.toml, catalogue, suite, rule, scoring)."""

from __future__ import annotations

import re
from pathlib import Path

from dq.engine.suite import DEFAULT_KEYS, RULE_KEYS, SUITE_KEYS
from dq.io.catalogue import COLUMN_KEYS, TABLE_KEYS, TOP_KEYS
from dq.project import load_project, validate_project

REPO = Path(__file__).resolve().parents[1]
DOC = (REPO / "docs" / "suites.md").read_text(encoding="utf-8")


def block(lang: str, first_line: str) -> str:
    """The fenced ``lang`` block of the doc whose first line is ``first_line``."""
    for m in re.finditer(rf"```{lang}\n(.*?)```", DOC, re.S):
        if m.group(1).startswith(first_line):
            return m.group(1)
    raise AssertionError(f"no {lang} block starting {first_line!r}")


def test_the_examples_make_a_valid_project(tmp_path: Path) -> None:
    (tmp_path / "suites").mkdir()
    (tmp_path / "dq.toml").write_text(block("toml", "# dq.toml"), encoding="utf-8")
    (tmp_path / "catalogue.yaml").write_text(block("yaml", "# catalogue"), encoding="utf-8")
    (tmp_path / "suites" / "orders.yaml").write_text(block("yaml", "# suite"), encoding="utf-8")
    (tmp_path / "scoring.yaml").write_text(block("yaml", "# scoring"), encoding="utf-8")
    (tmp_path / "institutions.csv").write_text(block("csv", "unit_id,"), encoding="utf-8")
    (tmp_path / "contacts.csv").write_text("unit_id,to,cc,language\n", encoding="utf-8")
    project = load_project(tmp_path)
    assert validate_project(project) == []
    assert project.warnings == ()  # every key of the example is known; [database] is reserved
    (suite,) = project.suites()
    assert [r.id for r in suite.rules] == ["ORD-010", "ORD-100", "ORD-300", "ORD-301"]
    orders = project.catalogue().table("orders")
    assert orders is not None and orders.links == (("customer_id", "customer.customer_id"),)
    assert [c.name for c in orders.columns][-1] == "ship_date"  # upload_time: false
    d = project.defaults
    assert (d.lang, d.samples, d.threads, d.smtp_port, d.smtp_tls) == ("en", 3, 4, 587, "starttls")
    assert len(project.registry()) == 2


def test_every_key_is_documented() -> None:
    from dq.project import PROJECT_KEYS, RULES_KEYS, SETTING_KEYS

    keys = {f"project.{k}" for k in PROJECT_KEYS} | {f"rules.{k}" for k in RULES_KEYS}
    keys |= {f"{s}.{k}" for s, k in SETTING_KEYS}
    keys |= (
        set(TOP_KEYS) | {f"tables.<name>.{k}" for k in TABLE_KEYS} | {f"columns[].{k}" for k in COLUMN_KEYS}
    )
    keys |= set(SUITE_KEYS) | set(RULE_KEYS) | set(DEFAULT_KEYS)
    missing = sorted(k for k in keys if f"`{k}`" not in DOC)
    assert missing == []


def test_dq_checks_name_shows_one_check_with_an_example_that_loads(capsys) -> None:
    import json

    from dq.cli import main
    from dq.engine.checks import REGISTRY
    from dq.engine.suite import suite_from_data
    from dq.io.catalogue import load_catalogue

    for name in REGISTRY:
        assert main(["checks", name, "--format", "json"]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert doc["schema_version"] == 1 and doc["name"] == name
        assert [p["name"] for p in doc["params"]] == [p.name for p in REGISTRY[name].params]
        ex = doc["example"]
        if ex["suite"] is not None:  # a rule of the bundled suites, as written there: it loads
            rule = {**ex["rule"], "id": "X-001"}
            suite = suite_from_data(
                {"suite": "x", "table": ex["table"], "rules": [rule]}, "<x>", load_catalogue()
            )
            assert suite.rules[0].check == name
    assert main(["checks", "in_set"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("in_set (conformance): ")
    assert "nulls and blanks: null and blank values are not evaluated" in out
    assert "example rule (from " in out and "check: in_set" in out
    assert main(["checks", "in_sett"]) == 2
    assert "unknown check 'in_sett'; did you mean 'in_set'?" in capsys.readouterr().err
