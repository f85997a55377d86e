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
    from dq.engine.checks import REGISTRY

    main(["checks", "--format", "markdown"])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| `")]
    assert sorted(r.split("`")[1] for r in rows) == sorted(REGISTRY)


# A path written in the docs: a Markdown link's target, or a backticked path under one of the
# repository's own top-level folders (a trailing ``:line`` or ``#anchor`` is not part of it).
_TOP = ("dq/", "rules/", "datasets/", "docs/", "tests/", "benchmarks/", "examples/", "scripts/", ".ci/")


def _doc_files() -> list[Path]:
    found = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for folder in ("rules", "datasets", "benchmarks", "examples", "reports"):
        found += sorted((ROOT / folder).rglob("*.md"))
    return found


def _paths_in(doc: Path) -> list[tuple[str, Path]]:
    import re

    text = doc.read_text(encoding="utf-8")
    out: list[tuple[str, Path]] = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith(("http://", "https://", "mailto:", "#")):
            continue
        out.append((target, (doc.parent / target.split("#")[0]).resolve()))
    for code in re.findall(r"`([^`\s]+)`", text):
        if code.startswith(_TOP) and not any(c in code for c in "*{}<>$|"):
            path = code.split("#")[0].split(":")[0].rstrip(".,")
            out.append((code, ROOT / path))
    return out


def _generated(path: Path) -> bool:
    """A folder the project writes and git ignores (``/benchmarks/data/``): named, never committed."""
    ignored = [
        line.strip().strip("/")
        for line in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
        if line.strip().startswith("/") and line.strip().endswith("/")
    ]
    rel = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else ""
    return any(rel == g or rel.startswith(g + "/") for g in ignored)


def test_every_path_named_in_the_docs_exists() -> None:
    missing = [
        f"{doc.relative_to(ROOT)}: {written}"
        for doc in _doc_files()
        for written, path in _paths_in(doc)
        if not path.exists() and not _generated(path)
    ]
    assert not missing, "paths in the docs that do not exist:\n" + "\n".join(missing)
