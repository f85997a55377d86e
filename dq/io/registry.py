"""Registry of the units (接入单位 and other bodies) named in the Nanjing newsletters.

The registry lives in ``datasets/institutions.csv`` (columns ``unit_id, name, kind, category,
district, aliases``). Printed names differ between tables and issues (``解放军南京总医院`` /
``南京军区南京总医院`` / ``东部战区总医院``), so every lookup goes through :meth:`Registry.resolve`,
which accepts the canonical name or any alias, ignoring whitespace and full-width/half-width
differences (``（湖山路）`` equals ``(湖山路)``).

    dq.errors.InputError (and LookupError)
    └── UnknownUnitError    a name or id is not in the registry (message lists 3 candidates)
    dq.errors.InputError (and ValueError)
    └── RegistryError       the registry file itself is invalid (lists every problem)
    dq.errors.UsageError    an unknown kind or category, no collection tables for a period
"""

from __future__ import annotations

import csv
import difflib
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from dq.errors import InputError, UsageError

__all__ = [
    "CATEGORIES",
    "KINDS",
    "Institution",
    "Registry",
    "RegistryError",
    "UnknownUnitError",
    "default_registry_path",
    "normalise_name",
]

KINDS = ("hospital", "district")
CATEGORIES = ("hospital", "community", "maternal_child", "district", "other")
COLUMNS = ("unit_id", "name", "kind", "category", "district", "aliases")

# An optional city prefix (P01-H001) names units of a province's registry (dq.synth.province).
_ID_PATTERNS = {
    "district": re.compile(r"(?:P\d{2}-)?D\d{2}"),
    "community": re.compile(r"(?:P\d{2}-)?C\d{3}"),
}
_DEFAULT_ID_PATTERN = re.compile(r"(?:P\d{2}-)?H\d{3}")
_WHITESPACE = re.compile(r"\s+")


def default_registry_path() -> Path:
    """``datasets/institutions.csv``, shipped inside the package."""
    from dq.io.resources import data_dir

    return data_dir() / "institutions.csv"


def normalise_name(name: str) -> str:
    """Key used for matching names: NFKC (full-width brackets/digits → ASCII), no whitespace."""
    return _WHITESPACE.sub("", unicodedata.normalize("NFKC", name))


@dataclass(frozen=True)
class Institution:
    """One unit: a hospital (or community centre, maternal-child body, other) or a district."""

    unit_id: str
    name: str
    kind: str
    category: str
    district: str | None
    aliases: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """The canonical name followed by every alias."""
        return (self.name, *self.aliases)


class UnknownUnitError(InputError, LookupError):
    """A unit name or id is not in the registry; ``candidates`` holds the 3 closest names."""

    def __init__(self, name: str, candidates: list[str], context: str | None = None):
        self.name = name
        self.candidates = list(candidates)
        self.context = context
        where = f"{context}: " if context else ""
        closest = ", ".join(repr(c) for c in self.candidates) or "none"
        super().__init__(f"{where}unknown unit {name!r}; closest registry names: {closest}")

    def __reduce__(self):  # keep the exception picklable despite the custom signature
        return (type(self), (self.name, self.candidates, self.context))


class RegistryError(InputError, ValueError):
    """The registry CSV is invalid. ``problems`` lists every problem found."""

    def __init__(self, path: Path, problems: list[str]):
        self.path = path
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{path}: {len(self.problems)} problem(s) in the unit registry:\n{lines}")


class Registry:
    """All known units, looked up by name/alias (:meth:`resolve`) or id (:meth:`get`)."""

    def __init__(self, institutions: list[Institution], path: Path | None = None):
        self.path = path
        self._units: dict[str, Institution] = {}
        self._by_key: dict[str, Institution] = {}
        self._display: dict[str, str] = {}
        problems: list[str] = []
        for inst in institutions:
            if inst.unit_id in self._units:
                problems.append(f"duplicate unit_id {inst.unit_id}")
                continue
            self._units[inst.unit_id] = inst
            for name in inst.names:
                key = normalise_name(name)
                other = self._by_key.get(key)
                if other is not None:
                    problems.append(
                        f"name {name!r} of {inst.unit_id} clashes with "
                        f"{self._display[key]!r} of {other.unit_id}"
                    )
                    continue
                self._by_key[key] = inst
                self._display[key] = name
        if problems:
            raise RegistryError(path or Path("<registry>"), problems)

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path | None = None) -> Registry:
        """Read and validate a registry CSV (default: :func:`default_registry_path`)."""
        path = Path(path) if path is not None else default_registry_path()
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise RegistryError(path, [f"cannot read: {exc}"]) from exc
        reader = csv.DictReader(text.splitlines())
        header = tuple(reader.fieldnames or ())
        if header != COLUMNS:
            raise RegistryError(path, [f"header must be {','.join(COLUMNS)}, got {header}"])
        problems: list[str] = []
        institutions: list[Institution] = []
        for line_no, row in enumerate(reader, start=2):
            where = f"line {line_no}"
            if None in row or any(v is None for v in row.values()):
                problems.append(f"{where}: expected {len(COLUMNS)} cells")
                continue
            cells = {k: v.strip() for k, v in row.items()}
            unit_id, name, kind, category = (
                cells["unit_id"],
                cells["name"],
                cells["kind"],
                cells["category"],
            )
            row_problems = []
            if not name:
                row_problems.append("empty name")
            if kind not in KINDS:
                row_problems.append(f"kind {kind!r} not one of {', '.join(KINDS)}")
            if category not in CATEGORIES:
                row_problems.append(f"category {category!r} not one of {', '.join(CATEGORIES)}")
            if (kind == "district") != (category == "district"):
                row_problems.append(f"kind {kind!r} does not fit category {category!r}")
            pattern = _ID_PATTERNS.get(category, _DEFAULT_ID_PATTERN)
            if not pattern.fullmatch(unit_id):
                row_problems.append(f"unit_id {unit_id!r} does not match {pattern.pattern} for {category!r}")
            aliases = tuple(a.strip() for a in cells["aliases"].split("|") if a.strip())
            if row_problems:
                problems.extend(f"{where} ({unit_id or name}): {p}" for p in row_problems)
                continue
            institutions.append(
                Institution(
                    unit_id=unit_id,
                    name=name,
                    kind=kind,
                    category=category,
                    district=cells["district"] or None,
                    aliases=aliases,
                )
            )
        if problems:
            raise RegistryError(path, problems)
        return cls(institutions, path=path)

    # -- lookups ----------------------------------------------------------------------------
    def resolve(self, name: str, context: str | None = None) -> Institution:
        """The unit printed as ``name`` (canonical name or alias, whitespace/width-insensitive)."""
        key = normalise_name(name)
        inst = self._by_key.get(key)
        if inst is None:
            raise UnknownUnitError(name, self._closest(key, self._by_key, self._display), context)
        return inst

    def get(self, unit_id: str) -> Institution:
        """The unit with this id."""
        inst = self._units.get(unit_id)
        if inst is None:
            ids = {u: u for u in self._units}
            raise UnknownUnitError(unit_id, self._closest(unit_id, ids, ids))
        return inst

    def units(self, kind: str | None = None, category: str | None = None) -> list[Institution]:
        """Units in registry order, optionally filtered by kind and/or category."""
        if kind is not None and kind not in KINDS:
            raise UsageError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
        if category is not None and category not in CATEGORIES:
            raise UsageError(f"category must be one of {', '.join(CATEGORIES)}, got {category!r}")
        return [
            u
            for u in self._units.values()
            if (kind is None or u.kind == kind) and (category is None or u.category == category)
        ]

    def collection_units(self, period: str, root: str | Path | None = None) -> list[Institution]:
        """Units in the period's 数据采集情况 tables (districts first, then hospitals)."""
        root = Path(root) if root is not None else self._nanjing_dir()
        files = [root / f"{period}_collection_{kind}.csv" for kind in ("district", "hospital")]
        existing = [f for f in files if f.exists()]
        if not existing:
            raise UsageError(f"no collection tables for period {period!r} under {root}")
        out: list[Institution] = []
        for file in existing:
            with file.open(encoding="utf-8", newline="") as fh:
                for line_no, row in enumerate(csv.DictReader(fh), start=2):
                    if row["unit"] == "合计":
                        continue
                    inst = self.resolve(row["unit"], context=f"{file.name} line {line_no}")
                    if inst not in out:
                        out.append(inst)
        return out

    def __len__(self) -> int:
        return len(self._units)

    def __iter__(self) -> Iterator[Institution]:
        return iter(self._units.values())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and normalise_name(name) in self._by_key

    # -- helpers ----------------------------------------------------------------------------
    def _nanjing_dir(self) -> Path:
        base = self.path.parent if self.path is not None else default_registry_path().parent
        return base / "nanjing"

    @staticmethod
    def _closest(key: str, index: Mapping[str, object], display: Mapping[str, str]) -> list[str]:
        keys = difflib.get_close_matches(key, list(index), n=3, cutoff=0.0)
        return [display[k] for k in keys]
