"""docs/json.md documents every field `dq audit` and `dq score` print with --format json."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from dq.cli import main

REPO = Path(__file__).resolve().parents[1]
DOC = (REPO / "docs" / "json.md").read_text(encoding="utf-8")


# Names in the tables' code spans: `a`, `a, b`, `threshold.max_count`, `ranking[].rank`.
_TABLE_LINES = "\n".join(ln for ln in DOC.splitlines() if ln.startswith("|"))
NAMES = {
    part
    for span in re.findall(r"`([^`]+)`", _TABLE_LINES)
    for part in re.split(r"[\s,.…()\[\]]+", span)
    if part
}


def documented(name: str) -> bool:
    return name in NAMES


def test_every_audit_field_is_documented(capsys) -> None:
    assert main(["audit", str(REPO / "examples" / "extract"), "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    missing = [k for k in doc if not documented(k)]
    missing += [f"unit.{k}" for k in doc["unit"] if not documented(k)]
    missing += [f"tables[].{k}" for t in doc["tables"] for k in t if not documented(k)]
    for r in doc["results"]:
        missing += [f"results[].{k}" for k in r if not documented(k)]
        missing += [f"threshold.{k}" for k in r["threshold"] if f"`threshold.{k}`" not in DOC]
    missing += [f"summary.{k}" for k in doc["summary"] if not documented(k)]
    assert sorted(set(missing)) == []
    assert f'"schema_version": {doc["schema_version"]}' in DOC


def test_every_score_field_is_documented(capsys, tmp_path) -> None:
    argv = [
        "score",
        "--published",
        "nanjing",
        "--period",
        "2020-09",
        "--store",
        str(tmp_path / "h"),
        "--format",
        "json",
    ]
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    missing = [k for k in doc if f"| `{k}` |" not in DOC]
    missing += [f"ranking[].{k}" for row in doc["ranking"] for k in row if f"`ranking[].{k}`" not in DOC]
    for f in doc["findings"]:
        missing += [f"findings[].{k}" for k in f if not documented(k)]
    assert sorted(set(missing)) == []


def test_the_error_document_is_as_documented(capsys) -> None:
    assert main(["audit", "nowhere", "--format", "json"]) == 2
    err = json.loads(capsys.readouterr().out)
    assert list(err) == ["error"] and all(f"`error.{k}`" in DOC for k in err["error"])


# ----------------------------------------------------------------- every other command
def section(heading: str) -> str:
    """The text of the section whose heading starts with ``## `dq <heading>``."""
    start = DOC.index(f"## `dq {heading}")
    end = DOC.find("\n## ", start + 1)
    return DOC[start : end if end != -1 else None]


def names_in(text: str) -> set[str]:
    lines = "\n".join(ln for ln in text.splitlines() if ln.startswith("|"))
    return {
        part for span in re.findall(r"`([^`]+)`", lines) for part in re.split(r"[\s,.…()\[\]]+", span) if part
    }


def keys(doc: object, depth: int = 3) -> set[str]:
    """Every key of ``doc``'s objects, down to ``depth`` levels (items of lists included)."""
    if depth == 0:
        return set()
    if isinstance(doc, dict):
        return set(doc) | {k for v in doc.values() for k in keys(v, depth - 1)}
    if isinstance(doc, list):
        return {k for v in doc for k in keys(v, depth)}
    return set()


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("json-doc")
    store = str(base / "store")
    for period in ("2018-03", "2020-09"):
        assert main(["-q", "score", "--published", "nanjing", "--period", period, "--store", store]) == 0
    reports = str(base / "reports")
    assert main(["-q", "report", "all", "--period", "2020-09", "--store", store, "--out", reports]) == 0
    return {"store": store, "reports": reports, "base": str(base)}


COMMANDS = [
    ("history --format json", ["history", "--store", "{store}"]),
    ("history --format json", ["history", "--store", "{store}", "--runs"]),
    ("history --format json", ["history", "--store", "{store}", "--unit", "H014"]),
    ("history --format json", ["history", "--store", "{store}", "--deliveries"]),
    ("history --check", ["history", "--store", "{store}", "--check"]),
    ("suites list", ["suites", "list"]),
    ("suites list", ["suites", "validate"]),
    ("checks", ["checks"]),
    ("checks NAME", ["checks", "in_set"]),
    ("checks NAME", ["checks", "proportion"]),
    ("project show", ["project", "show"]),
    ("init", ["init", "{base}/proj"]),
    ("suggest", ["suggest", str(REPO / "examples/extract/patient_index.parquet"), "--table", "orders"]),
    ("report", ["report", "unit", "H014", "--period", "2020-09", "--store", "{store}", "--out", "{base}/r"]),
    ("report", ["report", "campaign", "--before", "2018-03", "--after", "2020-09", "--store", "{store}",
                "--out", "{base}/r"]),
    ("explain", ["explain", "H014", "--period", "2020-09", "--store", "{store}"]),
    ("synth", ["synth", "--out", "{base}/s", "--period", "2020-09", "--scale", "0.0005", "--units", "H001"]),
    ("gx export", ["gx", "export", "--out", "{base}/gx"]),
    ("send", ["send", "--period", "2020-09", "--store", "{store}", "--reports", "{reports}", "--contacts",
              str(REPO / "examples" / "contacts.csv"), "--dry-run", "--out", "{base}/outbox"]),
]  # fmt: skip


@pytest.mark.parametrize(("heading", "argv"), COMMANDS, ids=[" ".join(a[:2]) for _, a in COMMANDS])
def test_every_field_of_every_command_is_documented(capsys, work, heading, argv) -> None:
    code = main([a.format(**work) for a in argv] + ["--format", "json"])
    out = capsys.readouterr().out
    assert code in (0, 1), out
    doc = json.loads(out)
    assert isinstance(doc, dict) and next(iter(doc)) == "schema_version"
    assert doc["schema_version"] == json.loads(DOC_VERSION)
    missing = sorted(keys(doc) - names_in(section(heading)))
    assert missing == [], f"fields of `dq {' '.join(argv[:2])}` missing in docs/json.md: {missing}"


DOC_VERSION = re.search(r'"schema_version": (\d+)', DOC).group(1)  # type: ignore[union-attr]


def test_every_history_check_field_is_documented(capsys, tmp_path) -> None:
    folder = tmp_path / "h" / "scores" / "period=2020-09"
    folder.mkdir(parents=True)
    (folder / "x__H001.parquet").write_bytes(b"junk")
    assert main(["history", "--store", str(tmp_path / "h"), "--check", "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["problems"], doc
    missing = [k for k in doc if f"| `{k}` |" not in DOC]
    missing += [f"problems[].{k}" for p in doc["problems"] for k in p if f"`problems[].{k}`" not in DOC]
    assert sorted(set(missing)) == []
    assert doc["schema_version"] == 1 and doc["checked"] == 1
