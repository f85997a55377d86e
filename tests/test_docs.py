"""The docs that are generated from code stay in step with it."""

from __future__ import annotations

from pathlib import Path

from dq.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_check_catalogue_doc_matches_the_registry(capsys) -> None:
    assert main(["checks", "--format", "markdown"]) == 0
    table = capsys.readouterr().out
    doc = (ROOT / "docs" / "checks.md").read_text(encoding="utf-8")
    assert table.strip() in doc, "docs/checks.md is stale: regenerate it with `dq checks --format markdown`"


def test_every_check_is_listed_once(capsys) -> None:
    from dq.checks import REGISTRY

    main(["checks", "--format", "markdown"])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| `")]
    assert sorted(r.split("`")[1] for r in rows) == sorted(REGISTRY)
