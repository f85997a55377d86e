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
