"""Where dq finds the files it ships: the catalogue, suites, scoring, registry and reference lists.

Everything dq reads at run time lives inside the package (``dq/rules`` and ``dq/data``) and is
located with :mod:`importlib.resources`, so an installed wheel works from any directory.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

__all__ = ["data_dir", "published_dir", "rules_dir"]


def _package_path(*parts: str) -> Path:
    # dq is installed as a regular (unzipped) package, so its resources are plain files.
    return Path(str(files("dq").joinpath(*parts)))


def rules_dir() -> Path:
    """``dq/rules``: catalogue.yaml, scoring.yaml and the default suites."""
    return _package_path("rules")


def data_dir() -> Path:
    """``dq/data``: the unit registry, reference value lists and the newsletters' tables."""
    return _package_path("data")


def published_dir(name: str = "nanjing") -> Path:
    """A bundled set of published tables (``dq/data/<name>``); ``nanjing`` is the one shipped."""
    return data_dir() / name
