"""Where dq finds the specification it ships: the catalogue, suites, scoring, registry and lists.

The repository keeps them at its top level, as the one copy: ``rules/`` (catalogue, scoring,
suites) and ``datasets/`` (the unit registry, reference value lists, the newsletters' tables).
The build maps them into the package as ``dq/rules`` and ``dq/data`` (``package-dir`` in
pyproject.toml), so an installed wheel works from any directory; a source checkout or an editable
install reads them in place.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

__all__ = ["data_dir", "published_dir", "rules_dir"]


def _shipped(inside: str, top: str) -> Path:
    # dq is installed as a regular (unzipped) package, so its resources are plain files.
    package = Path(str(files("dq")))
    installed = package / inside
    if installed.is_dir():
        return installed
    return package.parent / top  # a source checkout: the repository's top-level folder


def rules_dir() -> Path:
    """``rules/``: catalogue.yaml, scoring.yaml and the default suites."""
    return _shipped("rules", "rules")


def data_dir() -> Path:
    """``datasets/``: the unit registry, reference value lists and the newsletters' tables."""
    return _shipped("data", "datasets")


def published_dir(name: str = "nanjing") -> Path:
    """A bundled set of published tables (``datasets/<name>``); ``nanjing`` is the one shipped."""
    return data_dir() / name
