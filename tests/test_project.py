"""Rule projects (dq.toml): how a command finds one, what it reads, what it refuses, and that the
bundled specification is a project like any other."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dq.cli import main
from dq.errors import SuiteError
from dq.project import (
    bundled_project_file,
    find_project,
    init_project,
    load_project,
    parse_project,
    validate_project,
)

REPO = Path(__file__).resolve().parents[1]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def line_of(path: Path, fragment: str) -> int:
    return next(i for i, t in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if fragment in t)


# ------------------------------------------------------------------ finding a project
def test_found_by_option_then_env_then_upward_then_bundled(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    init_project(a)
    init_project(b)
    deep = a / "x" / "y"
    deep.mkdir(parents=True)
    env = {"DQ_PROJECT": str(b)}
    assert find_project(a, env=env, cwd=deep)[0] == (a / "dq.toml").resolve()
    assert find_project(None, env=env, cwd=deep)[0] == (b / "dq.toml").resolve()
    assert find_project(None, env={}, cwd=deep) == (
        (a / "dq.toml").resolve(),
        f"dq.toml above {deep.resolve()}",
    )
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    assert find_project(None, env={}, cwd=outside) == (bundled_project_file(), "bundled")


def test_a_named_folder_without_dq_toml_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match=r"no dq\.toml here .*dq init"):
        find_project(tmp_path, env={})
    with pytest.raises(SuiteError, match="DQ_PROJECT"):
        find_project(None, env={"DQ_PROJECT": str(tmp_path)})


def test_the_bundled_project_is_the_shipped_specification() -> None:
    p = load_project(bundled_project_file())
    assert p.bundled and p.name == "nanjing"
    assert p.catalogue_path.name == "catalogue.yaml" and p.registry_path.name == "institutions.csv"
    assert len(p.suites()) == 26  # 16 record suites, the submission suite, 9 published
    assert validate_project(p) == []
    # Its store and reports stay in the working folder, not inside the package.
    assert (p.defaults.store, p.defaults.reports) == ("history", "reports")


# ------------------------------------------------------------------ reading dq.toml
def write_toml(tmp_path: Path, text: str) -> Path:
    init_project(tmp_path / "p")
    f = tmp_path / "p" / "dq.toml"
    f.write_text(text, encoding="utf-8")
    return f


def test_values_and_where_they_come_from(tmp_path: Path) -> None:
    f = write_toml(
        tmp_path,
        '[defaults]\nstore = "/data/history"\nlang = "en"\nsamples = 0\n'
        '[smtp]\nhost = "smtp.example.org"\nport = 465\ntls = "ssl"\nsender = "dq@example.org"\n',
    )
    p = load_project(f.parent)
    d = p.defaults
    assert (d.store, d.lang, d.samples, d.smtp_host, d.smtp_port, d.smtp_tls) == (
        "/data/history",
        "en",
        0,
        "smtp.example.org",
        465,
        "ssl",
    )
    assert p.origins["defaults.lang"] == f"{f}:3"
    assert p.origins["defaults.smtp_port"] == f"{f}:7"
    assert "defaults.reports" not in p.origins  # a built-in default
    assert p.defaults.reports == "reports"
    q = p.override(lang="zh", samples=None)
    assert (q.defaults.lang, q.defaults.samples, q.origins["defaults.lang"]) == ("zh", 0, "command line")


def test_unknown_keys_warn_with_line_and_sections_are_kept(tmp_path: Path) -> None:
    f = write_toml(
        tmp_path,
        '[defaults]\nlang = "en"\nlanguage = "zh"\n\n[database]\nschema = "ods"\n\n[extras]\na = 1\n',
    )
    p, problems = parse_project(f)
    assert problems == []
    assert p.warnings == (
        f"{f}:8: unknown section [extras] (kept, not read by this version of dq)",
        f"{f}:3: unknown key 'language' in [defaults] (ignored; known: contacts, lang, reports, samples, "
        "store, threads)",
    )
    # [database] is the database source's (docs/databases.md): kept for it, no warning
    assert p.section("database") == {"schema": "ods"}
    assert p.database_layout().schema == "ods" and p.origins["database.schema"] == f"{f}:6"
    shown = {v["key"]: v for v in p.to_dict()["values"]}
    assert shown["database.schema"] == {"key": "database.schema", "value": "ods", "from": f"{f}:6"}
    assert p.section("extras") == {"a": 1}


def test_bad_values_and_a_password_are_problems_with_lines(tmp_path: Path) -> None:
    f = write_toml(
        tmp_path,
        '[rules]\ncatalogue = "nowhere.yaml"\n[defaults]\nlang = "fr"\nsamples = -1\n'
        '[smtp]\nhost = "h"\npassword = "s3cret"\n',
    )
    with pytest.raises(SuiteError) as info:
        load_project(f.parent)
    got = {(p.field, p.line) for p in info.value.problems}
    assert got == {
        ("rules.catalogue", 2),
        ("defaults.lang", 4),
        ("defaults.samples", 5),
        ("smtp.password", 8),
    }
    text = str(info.value)
    assert f"{f}:8 field 'smtp.password': never put a password in dq.toml" in text
    assert "s3cret" not in text


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    f = write_toml(tmp_path, '[defaults]\nlang = "en"\nsamples = \n')
    with pytest.raises(SuiteError) as info:
        load_project(f.parent)
    (p,) = info.value.problems
    assert (p.file, p.line) == (str(f), 3) and "not valid TOML" in p.message


# ------------------------------------------------------------------ dq init
def test_init_refuses_a_folder_that_is_not_empty(tmp_path: Path, capsys) -> None:
    (tmp_path / "keep.txt").write_text("mine", encoding="utf-8")
    code, _, err = run(capsys, "init", str(tmp_path))
    assert code == 2 and "not empty" in err and "--force" in err
    assert run(capsys, "init", str(tmp_path), "--force")[0] == 0
    assert (tmp_path / "keep.txt").read_text(encoding="utf-8") == "mine"
    assert {"dq.toml", "catalogue.yaml", "scoring.yaml", "institutions.csv", "README.md", "suites"} <= {
        p.name for p in tmp_path.iterdir()
    }


def test_init_from_nanjing_is_a_working_copy(tmp_path: Path, capsys) -> None:
    assert run(capsys, "init", str(tmp_path / "nj"), "--from", "nanjing")[0] == 0
    p = load_project(tmp_path / "nj")
    assert not p.bundled and p.catalogue_path == (tmp_path / "nj" / "catalogue.yaml").resolve()
    code, out, _ = run(capsys, "suites", "validate", "--project", str(tmp_path / "nj"), "--format", "json")
    assert code == 0 and json.loads(out)["suites"] == 26
    # the copy is the project now: an audit with it uses its catalogue and suites
    code, out, _ = run(
        capsys, "audit", str(REPO / "examples/extract"), "--project", str(tmp_path / "nj"), "--format", "json"
    )
    assert code == 1 and len(json.loads(out)["results"]) == 194


# ------------------------------------------------------------------ dq project show
def test_project_show_says_what_is_in_force_and_where_from(tmp_path: Path, capsys) -> None:
    f = write_toml(tmp_path, '[rules]\nsuites = ["suites"]\n[defaults]\nsamples = 2\n')
    code, out, _ = run(capsys, "project", "show", "--project", str(f.parent), "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["schema_version"] == 1 and doc["file"] == str(f)
    assert doc["found_by"] == f"--project {f.parent}"
    values = {v["key"]: v for v in doc["values"]}
    assert values["defaults.samples"] == {"key": "defaults.samples", "value": 2, "from": f"{f}:4"}
    assert values["defaults.lang"] == {"key": "defaults.lang", "value": "zh", "from": "built-in default"}
    assert values["rules.suites"]["value"] == [str(f.parent / "suites")]


def test_the_bundled_project_works_from_any_folder(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("DQ_PROJECT", None)
    got = subprocess.run(
        [sys.executable, "-m", "dq", "project", "show", "--format", "json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(got.stdout)["bundled"] is True
    got = subprocess.run(
        [sys.executable, "-m", "dq", "suites", "validate"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert (got.returncode, got.stdout) == (0, "ok: 26 suites, 312 rules\n".replace("312", str(_rules())))


def _rules() -> int:
    return sum(len(s.rules) for s in load_project(bundled_project_file()).suites())


# ------------------------------------------------------------------ a whole project, every problem
def test_suites_validate_reports_every_problem_of_a_project_with_lines(tmp_path: Path, capsys) -> None:
    root = tmp_path / "p"
    init_project(root)
    (root / "dq.toml").write_text((root / "dq.toml").read_text() + "\n[smtp]\nport = 0\n", encoding="utf-8")
    cat = root / "catalogue.yaml"
    cat.write_text(
        cat.read_text() + "  orders:\n    key: [order_id]\n    columns:\n"
        "      - {name: order_id, type: str, required: true}\n"
        "      - {name: amount, type: money}\n",
        encoding="utf-8",
    )
    (root / "suites" / "orders.yaml").write_text(
        "suite: p.orders\ntable: orders\ntitle: Orders\nrules:\n"
        "  - id: O-1\n    title: t\n    check: not_null\n    params: {column: order_no}\n",
        encoding="utf-8",
    )
    (root / "suites" / "items.yaml").write_text(
        "suite: p.items\ntable: items\ntitle: Items\nrules:\n"
        "  - id: I-1\n    title: t\n    check: not_null\n    params: {column: item_id}\n",
        encoding="utf-8",
    )
    (root / "scoring.yaml").write_text("version: 1\nparts: {records: 1}\n", encoding="utf-8")
    code, out, err = run(capsys, "suites", "validate", "--project", str(root))
    assert code == 2 and out == ""
    lines = [ln.strip() for ln in err.splitlines() if ln.strip().startswith(f"- {tmp_path}")]
    toml, suites = root / "dq.toml", root / "suites"
    expected = [
        f"- {toml}:{line_of(toml, 'port = 0')} field 'smtp.port'",
        f"- {cat}:{line_of(cat, 'type: money')} field 'tables.orders.columns.1.type'",
        f"- {suites / 'items.yaml'}:2 field 'table': unknown table 'items'; declare it in the catalogue",
        f"- {suites / 'orders.yaml'}:{line_of(suites / 'orders.yaml', 'order_no')} suite p.orders rule O-1 "
        "field 'params'",
        f"- {root / 'scoring.yaml'}",
    ]
    assert len(lines) == len(expected), err
    for want in expected:
        assert any(ln.startswith(want) for ln in lines), (want, err)


def test_a_suite_for_an_undeclared_table_is_refused_with_the_lines_to_add(tmp_path: Path) -> None:
    root = tmp_path / "p"
    init_project(root)
    (root / "suites" / "orders.yaml").write_text(
        "suite: p.orders\ntable: orders\ntitle: Orders\nrules:\n"
        "  - {id: O-1, title: t, check: not_null, params: {column: order_id}}\n"
        "  - {id: O-2, title: t, check: between, params: {column: amount, min: 0}}\n",
        encoding="utf-8",
    )
    with pytest.raises(SuiteError) as info:
        load_project(root).suites()
    (p,) = info.value.problems
    assert p.field == "table" and p.line == 2
    entry = p.message.split("e.g.\n", 1)[1].split("\n    (`dq suggest", 1)[0]
    # the lines, pasted under the catalogue's tables:, declare the table and its suite loads
    cat = root / "catalogue.yaml"
    body = "\n".join(ln[4:] for ln in entry.splitlines()[1:])
    assert "- {name: amount, type: str}   # type: str|int|decimal|date|datetime" in body
    body = body.replace("{name: amount, type: str}", "{name: amount, type: decimal}")  # the user's edit
    cat.write_text(cat.read_text() + body + "\n", encoding="utf-8")
    (suite,) = load_project(root).suites()
    assert [r.id for r in suite.rules] == ["O-1", "O-2"]
    assert [c.name for c in load_project(root).catalogue().table("orders").columns] == ["order_id", "amount"]


def test_send_takes_contacts_from_the_project_or_asks_for_them(tmp_path: Path, capsys) -> None:
    init_project(tmp_path / "p")
    code, _, err = run(capsys, "send", "--period", "2020-09", "--dry-run", "--project", str(tmp_path / "p"))
    assert code == 2 and "give --contacts FILE (or contacts in the project's [defaults])" in err
    toml = tmp_path / "p" / "dq.toml"
    text = toml.read_text().replace('# contacts = "contacts.csv"', 'contacts = "c.csv"')
    toml.write_text(text, encoding="utf-8")
    code, _, err = run(capsys, "send", "--period", "2020-09", "--dry-run", "--project", str(tmp_path / "p"))
    assert code == 2 and str(tmp_path / "p" / "c.csv") in err  # the project's contacts file was used
