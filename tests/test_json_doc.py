"""docs/json.md documents every field `dq audit` and `dq score` print with --format json."""

from __future__ import annotations

import json
import re
from pathlib import Path

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
