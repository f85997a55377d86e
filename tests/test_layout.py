"""The repository's layout: the specification at the top, every package of dq in the build."""

from __future__ import annotations

import tomllib
from pathlib import Path

from dq.io.resources import data_dir, rules_dir

ROOT = Path(__file__).resolve().parents[1]


def test_specification_is_read_from_the_top_level_folders() -> None:
    # A source checkout reads the one copy in place: rules/ and datasets/ beside dq/.
    assert rules_dir() == ROOT / "rules"
    assert data_dir() == ROOT / "datasets"
    assert (rules_dir() / "catalogue.yaml").is_file()
    assert (data_dir() / "institutions.csv").is_file()
    assert not (ROOT / "dq" / "rules").exists() and not (ROOT / "dq" / "data").exists()


def test_build_lists_every_package_of_the_tree() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    listed = set(config["packages"])
    in_tree = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "dq").rglob("__init__.py")}
    assert listed - {"dq.rules", "dq.data"} == in_tree
    assert config["package-dir"] == {"dq.rules": "rules", "dq.data": "datasets"}


# ------------------------------------------------------------------------------ layers
# The floors of dq, bottom first (docs/design.md): a module imports from its own floor and below.
FLOORS = ("errors", "io", "engine", "scoring", "store", "batch", "report", "delivery", "interop",
          "synth", "api", "demo", "cli")  # fmt: skip


def _imports() -> list[tuple[str, int, str, list[str]]]:
    """(module, line, imported module, names) of every import of a dq module inside dq."""
    import ast

    found = []
    for path in sorted((ROOT / "dq").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = {
            id(n)
            for block in ast.walk(tree)
            if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
            for n in ast.walk(block)
        }
        for node in ast.walk(tree):
            if id(node) in typing_only:  # a type annotation's import: no dependency at run time
                continue
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "dq":
                found.append((module, node.lineno, node.module, [a.name for a in node.names]))
            elif isinstance(node, ast.Import):
                dq_names = [a.name for a in node.names if a.name.split(".")[0] == "dq"]
                found += [(module, node.lineno, name, []) for name in dq_names]
    return found


def _floor(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in FLOORS else None


def test_no_module_takes_another_modules_private_names() -> None:
    private = [
        f"{m}:{line} from {target} import {name}"
        for m, line, target, names in _imports()
        for name in names
        if name.startswith("_") and not name.startswith("__")
    ]
    assert private == []


def _is_module(dotted: str) -> bool:
    return (ROOT / (dotted.replace(".", "/") + ".py")).is_file()


def test_internal_modules_are_imported_only_by_their_own_package() -> None:
    """A module whose name starts with ``_`` is internal to its package: no other package of dq
    imports it (tests may, to test it)."""
    outside = []
    for m, line, target, names in _imports():
        for dotted in [target, *(f"{target}.{n}" for n in names)]:
            parts = dotted.split(".")
            internal = [i for i, part in enumerate(parts) if part.startswith("_") and part[1:2] != "_"]
            if not internal or not _is_module(".".join(parts[: internal[0] + 1])):
                continue
            owner = ".".join(parts[: internal[0]])
            if not (m == owner or m.startswith(owner + ".")):
                outside.append(f"{m}:{line} -> {dotted}")
    assert outside == []


def test_imports_go_down_the_floors() -> None:
    upward = [
        f"{m}:{line} -> {target}"
        for m, line, target, _ in _imports()
        if not m.endswith("__main__")  # an entry point runs the command line
        and (a := _floor(m)) is not None
        and (b := _floor(target)) is not None
        and FLOORS.index(b) > FLOORS.index(a)
    ]
    assert upward == []


def test_the_public_surface_is_pinned() -> None:
    import dq

    assert sorted(dq.__all__) == sorted(
        ["SCHEMA_VERSION", "AuditResult", "CheckError", "DQError", "InputError", "NotApplicable",
         "OutputError", "Problem", "Project", "PublishedError", "RegistryError", "Rule", "RuleResult",
         "Status", "StoreError", "Suite", "SuiteError", "TableInfo", "UnknownUnitError", "UsageError",
         "__version__", "audit", "load_project", "load_suites", "results_frame", "validate"]
    )  # fmt: skip
    for name in dq.__all__:
        assert getattr(dq, name) is not None
    # each floor's public modules (a module whose name starts with _ is internal to its floor)
    public = {
        floor: sorted(p.stem for p in (ROOT / "dq" / floor).glob("*.py") if not p.stem.startswith("_"))
        for floor in FLOORS
        if (ROOT / "dq" / floor).is_dir()
    }
    assert public == {
        "io": ["catalogue", "columns", "database", "isolation", "masking", "outputs", "period", "published",
               "registry", "resources", "sources", "terminal", "urls", "yamlio"],
        "engine": ["evaluate", "messages", "metrics", "results", "suggest", "suite"],
        "scoring": ["explain", "scores", "summary"],
        "store": ["backend", "deliveries", "history"],
        "batch": ["cluster", "fixlist", "local"],
        "report": ["campaign", "chromium", "cluster", "data", "files", "i18n", "mailed", "model"],
        "delivery": ["contacts", "send"],
        "interop": ["gx", "gx_import"],
        "synth": ["crosscheck", "database", "generate", "province", "series"],
        "cli": [],
    }  # fmt: skip
    checks = sorted(p.stem for p in (ROOT / "dq/engine/checks").glob("*.py") if not p.stem.startswith("_"))
    assert checks == ["base", "history", "statistics", "values"]
