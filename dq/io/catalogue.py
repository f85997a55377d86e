"""The table catalogue: tables, columns, types, code sets and pii tags per kind of unit.

It is read from ``rules/catalogue.yaml`` (the upload specification as data). Every table gets an
``upload_time`` column (datetime, required) in addition to the columns the file lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from dq.errors import InputError, Problem, SuiteError
from dq.io.yamlio import load_yaml

__all__ = [
    "POLARS_TYPES",
    "Catalogue",
    "Column",
    "TableSpec",
    "default_rules_dir",
    "load_catalogue",
]

POLARS_TYPES: dict[str, pl.DataType] = {
    "str": pl.String(),
    "int": pl.Int64(),
    "decimal": pl.Float64(),
    "date": pl.Date(),
    "datetime": pl.Datetime("us"),
}
PII_KINDS = ("id", "name", "phone")


def default_rules_dir() -> Path:
    """The ``rules/`` folder shipped inside the package."""
    from dq.io.resources import rules_dir

    return rules_dir()


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = False
    code_set: str | None = None
    pii: str | None = None
    scale: int | None = None  # decimal places a decimal column is shown with (reports)

    @property
    def dtype(self) -> pl.DataType:
        return POLARS_TYPES[self.type]


@dataclass(frozen=True)
class TableSpec:
    name: str
    kind: str
    title_zh: str
    title_en: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    event_time: str | None = None

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def pii(self) -> dict[str, str]:
        return {c.name: c.pii for c in self.columns if c.pii}


@dataclass(frozen=True)
class Catalogue:
    tables: dict[str, TableSpec]
    code_sets: dict[str, dict[str, str]]
    kinds: dict[str, dict[str, Any]] = field(default_factory=dict)
    path: str = ""

    def tables_of(self, kind: str) -> list[str]:
        return list(self.kinds.get(kind, {}).get("tables", []))

    def table(self, name: str) -> TableSpec | None:
        return self.tables.get(name)

    def scale(self, table: str, column: str) -> int | None:
        """The scale of a decimal column of ``table`` (a looked-up ``other__col`` is ``other``'s;
        a ``__raw`` copy is text and has none); None for any other column."""
        if column.endswith("__raw"):
            return None
        if "__" in column:
            table, column = column.split("__", 1)
        spec = self.tables.get(table)
        col = spec.column(column) if spec is not None else None
        return col.scale if col is not None and col.type == "decimal" else None


def _column(raw: dict[str, Any], where: str, problems: list[Problem]) -> Column | None:
    allowed = {"name", "type", "required", "code_set", "pii", "scale"}
    for key in set(raw) - allowed:
        problems.append(Problem(where, None, key, "unknown key"))
    name, typ = raw.get("name"), raw.get("type")
    if not isinstance(name, str) or typ not in POLARS_TYPES:
        problems.append(
            Problem(where, None, "type", f"column {name!r}: type must be one of {list(POLARS_TYPES)}")
        )
        return None
    pii = raw.get("pii")
    if pii is not None and pii not in PII_KINDS:
        problems.append(Problem(where, None, "pii", f"column {name}: pii must be one of {PII_KINDS}"))
    scale = raw.get("scale")
    if scale is not None and (typ != "decimal" or not isinstance(scale, int) or not 0 <= scale <= 10):
        problems.append(Problem(where, None, "scale", f"column {name}: scale is 0..10, for decimal columns"))
        scale = None
    return Column(name, typ, bool(raw.get("required", False)), raw.get("code_set"), pii, scale)


@cache
def _load_cached(path: str) -> Catalogue:
    p = Path(path)
    try:
        raw = load_yaml(p.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError, InputError) as exc:
        raise SuiteError([Problem(str(p), None, None, f"cannot read catalogue: {exc}")]) from exc
    problems: list[Problem] = []
    code_sets = {
        name: {str(k): str(v) for k, v in (values or {}).items()}
        for name, values in (raw.get("code_sets") or {}).items()
    }
    tables: dict[str, TableSpec] = {}
    for tname, traw in (raw.get("tables") or {}).items():
        where = f"{p} table {tname}"
        cols = [c for c in (_column(c, where, problems) for c in traw.get("columns", [])) if c]
        for c in cols:
            if c.code_set and c.code_set not in code_sets:
                problems.append(Problem(where, None, "code_set", f"unknown code set {c.code_set!r}"))
        if not any(c.name == "upload_time" for c in cols):
            cols.append(Column("upload_time", "datetime", True))
        title = traw.get("title") or {}
        tables[tname] = TableSpec(
            name=tname,
            kind=traw.get("kind", ""),
            title_zh=title.get("zh", tname),
            title_en=title.get("en", tname),
            columns=tuple(cols),
            key=tuple(traw.get("key") or ()),
            event_time=traw.get("event_time"),
        )
    kinds = raw.get("kinds") or {}
    for kind, kraw in kinds.items():
        for t in kraw.get("tables", []):
            if t not in tables:
                problems.append(Problem(str(p), None, f"kinds.{kind}", f"unknown table {t!r}"))
    if problems:
        raise SuiteError(problems)
    return Catalogue(tables=tables, code_sets=code_sets, kinds=kinds, path=str(p))


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """Load (and cache) the catalogue; by default ``rules/catalogue.yaml``."""
    p = Path(path) if path else default_rules_dir() / "catalogue.yaml"
    return _load_cached(str(p.resolve()))
