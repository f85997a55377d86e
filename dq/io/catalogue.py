"""The table catalogue: tables, columns, types, code sets and pii tags per kind of unit.

It is read from a project's catalogue (the bundled one: ``rules/catalogue.yaml``, the upload
specification as data). Every table gets an ``upload_time`` column (datetime, required) in addition
to the columns the file lists, unless the catalogue says ``upload_time: false`` (a project's own
tables). docs/suites.md documents every key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from dq.errors import InputError, Problem, SuiteError
from dq.io.yamlio import line_index, line_of, load_yaml

__all__ = [
    "POLARS_TYPES",
    "Catalogue",
    "Column",
    "FrameColumn",
    "TableSpec",
    "default_rules_dir",
    "frame_table",
    "load_catalogue",
    "parse_catalogue",
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
    format: str | None = None  # a regular expression every value matches (documentation; dq suggest)
    label_zh: str | None = None  # what a hospital's IT staff call the field (rows to fix, reports)
    label_en: str | None = None

    def label(self, lang: str) -> str | None:
        """The column's label in ``lang`` (zh or en; the other one when only it is given)."""
        first, other = (self.label_en, self.label_zh) if lang == "en" else (self.label_zh, self.label_en)
        return first or other

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
    links: tuple[tuple[str, str], ...] = ()  # (column, "table.column") this table refers to
    patient: str | None = None  # the column naming the patient (or resident) a row is about

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def pii(self) -> dict[str, str]:
        return {c.name: c.pii for c in self.columns if c.pii}


# The catalogue's kind of type of a Polars dtype (a frame's own column).
_KINDS_OF_DTYPE = (
    (lambda t: t == pl.String or t == pl.Categorical or t == pl.Enum, "str"),
    (lambda t: t.is_integer(), "int"),
    (lambda t: t.is_numeric(), "decimal"),
    (lambda t: t == pl.Date, "date"),
    (lambda t: isinstance(t, pl.Datetime), "datetime"),
)


@dataclass(frozen=True)
class FrameColumn(Column):
    """A column of a frame outside the catalogue: the catalogue's kind of type and its own dtype."""

    frame_dtype: pl.DataType | None = None

    @property
    def dtype(self) -> pl.DataType:
        return self.frame_dtype if self.frame_dtype is not None else super().dtype


def frame_table(name: str, schema: Mapping[str, pl.DataType]) -> TableSpec:
    """A catalogue table for a frame's own columns (:func:`dq.validate` of a frame that is not a
    catalogue table, and the GX import's checks of a foreign frame)."""
    cols = []
    for col, dtype in schema.items():
        kind = next((k for test, k in _KINDS_OF_DTYPE if test(dtype)), "str")
        cols.append(FrameColumn(col, kind, False, None, None, frame_dtype=dtype))
    return TableSpec(name=name, kind="", title_zh=name, title_en=name, columns=tuple(cols))


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

    def heading(self, table: str, column: str, lang: str = "zh") -> str:
        """A column as a reader sees it above a table of rows: its label with the field name
        beside, ``就诊时间 (visit_time)`` (the name alone without a label); a column looked up
        from another table, ``patient_index__name``, as ``患者基本信息·姓名 (name)``; a
        ``__raw`` copy as its column."""
        column = column.removesuffix("__raw")
        if "__" in column and not column.startswith("__"):
            other, col = column.split("__", 1)
            spec = self.tables.get(other)
            if spec is not None:
                title = spec.title_zh if lang == "zh" else spec.title_en
                label = self.label(other, col, lang)
                return f"{title}·{label} ({col})" if label and label != col else f"{title}·{col}"
        label = self.label(table, column, lang)
        return f"{label} ({column})" if label and label != column else column

    def label(self, table: str, column: str, lang: str = "zh") -> str | None:
        """The catalogue's label of a column of ``table`` in ``lang`` (a looked-up
        ``other__col`` is ``other``'s; a ``__raw`` copy is its column's); None without one."""
        column = column.removesuffix("__raw")
        if "__" in column and not column.startswith("__"):
            table, column = column.split("__", 1)
        spec = self.tables.get(table)
        col = spec.column(column) if spec is not None else None
        return col.label(lang) if col is not None else None


COLUMN_KEYS = {"name", "type", "required", "code_set", "pii", "scale", "format", "description", "label"}
TABLE_KEYS = {"kind", "title", "key", "event_time", "patient", "columns", "links", "description"}
#: The label of the ``upload_time`` column the loader adds to every table.
UPLOAD_TIME_LABEL = {"zh": "上传时间", "en": "upload time"}
MAX_LABEL_CHARS = 60
TOP_KEYS = {"version", "code_sets", "kinds", "tables", "upload_time"}


def _column(raw: Any, where: tuple[str | int, ...], problems: list[_Found]) -> Column | None:
    if not isinstance(raw, dict):
        problems.append((where, None, "a column must be a mapping {name: ..., type: ...}"))
        return None
    for key in sorted(set(raw) - COLUMN_KEYS, key=str):
        problems.append(((*where, key), None, f"unknown key {key!r} (one of {sorted(COLUMN_KEYS)})"))
    name, typ = raw.get("name"), raw.get("type")
    if not isinstance(name, str) or not name.strip():
        problems.append(((*where, "name"), None, "a column needs a name"))
        return None
    if typ not in POLARS_TYPES:
        problems.append(
            ((*where, "type"), None, f"column {name!r}: type must be one of {list(POLARS_TYPES)}")
        )
        return None
    pii = raw.get("pii")
    if pii is not None and pii not in PII_KINDS:
        problems.append(((*where, "pii"), None, f"column {name}: pii must be one of {PII_KINDS}"))
    scale = raw.get("scale")
    if scale is not None and (typ != "decimal" or not isinstance(scale, int) or not 0 <= scale <= 10):
        problems.append(((*where, "scale"), None, f"column {name}: scale is 0..10, for decimal columns"))
        scale = None
    fmt = raw.get("format")
    if fmt is not None:
        try:
            re.compile(str(fmt))
        except re.error as exc:
            problems.append(
                ((*where, "format"), None, f"column {name}: format is not a regular expression ({exc})")
            )
            fmt = None
    label = _label(raw.get("label"), (*where, "label"), name, problems)
    return Column(name, typ, bool(raw.get("required", False)), raw.get("code_set"), pii, scale,
                  None if fmt is None else str(fmt), label.get("zh"), label.get("en"))  # fmt: skip


def _label(raw: Any, where: tuple[str | int, ...], name: str, problems: list[_Found]) -> dict[str, str]:
    """A column's optional ``label``: ``{zh: 就诊时间, en: visit time}`` (either may be left
    out) or one text for both; short plain text."""
    if raw is None:
        return {}
    if isinstance(raw, str):
        raw = {"zh": raw, "en": raw}
    if not isinstance(raw, dict) or set(raw) - {"zh", "en"}:
        problems.append((where, None, f"column {name}: label is {{zh: ..., en: ...}} or one text"))
        return {}
    out: dict[str, str] = {}
    for lang, text in raw.items():
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_LABEL_CHARS or "\n" in text:
            problems.append(
                (
                    (*where, lang),
                    None,
                    f"column {name}: label.{lang} is one line of at most {MAX_LABEL_CHARS} characters",
                )
            )
            continue
        out[lang] = text.strip()
    return out


_Found = tuple[tuple[str | int, ...], str | None, str]


def parse_catalogue(path: str | Path) -> tuple[Catalogue, list[Problem]]:
    """Read a catalogue file: what could be read of it, and every problem found (each with the
    file and line it is about). :func:`load_catalogue` raises on any problem; ``dq suites
    validate`` goes on to check the suites against what could be read."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
        raw = load_yaml(text, source=str(p)) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError, InputError) as exc:
        return Catalogue({}, {}, path=str(p)), [Problem(str(p), None, None, f"cannot read catalogue: {exc}")]
    if not isinstance(raw, dict):
        return Catalogue({}, {}, path=str(p)), [Problem(str(p), None, None, "a catalogue must be a mapping")]
    found: list[_Found] = []
    for key in sorted(set(raw) - TOP_KEYS, key=str):
        found.append(((key,), None, f"unknown key {key!r} (one of {sorted(TOP_KEYS)})"))
    code_sets: dict[str, dict[str, str]] = {}
    for name, values in (raw.get("code_sets") or {}).items():
        if not isinstance(values, dict):
            found.append((("code_sets", name), None, "a code set maps each code to its label"))
            continue
        code_sets[str(name)] = {str(k): str(v) for k, v in values.items()}
    add_upload_time = raw.get("upload_time", True)
    if not isinstance(add_upload_time, bool):
        found.append(
            (("upload_time",), None, "upload_time is true (every table has a required upload_time) or false")
        )
        add_upload_time = True
    tables: dict[str, TableSpec] = {}
    traws = raw.get("tables") or {}
    if not isinstance(traws, dict):
        found.append((("tables",), None, "tables must map each table name to its declaration"))
        traws = {}
    for tname, traw in traws.items():
        at: tuple[str | int, ...] = ("tables", tname)
        if not isinstance(traw, dict):
            found.append((at, None, f"table {tname}: must be a mapping with columns"))
            continue
        for key in sorted(set(traw) - TABLE_KEYS, key=str):
            found.append(
                ((*at, key), None, f"table {tname}: unknown key {key!r} (one of {sorted(TABLE_KEYS)})")
            )
        craw = traw.get("columns") or []
        if not isinstance(craw, list):
            found.append(((*at, "columns"), None, f"table {tname}: columns must be a list"))
            craw = []
        cols = [c for c in (_column(c, (*at, "columns", i), found) for i, c in enumerate(craw)) if c]
        for i, c in enumerate(cols):
            if c.code_set and c.code_set not in code_sets:
                found.append(((*at, "columns", i, "code_set"), None, f"unknown code set {c.code_set!r}"))
        names = [c.name for c in cols]
        for n in {n for n in names if names.count(n) > 1}:
            found.append(((*at, "columns"), None, f"table {tname}: column {n!r} declared twice"))
        if add_upload_time and "upload_time" not in names:
            cols.append(Column("upload_time", "datetime", True, label_zh=UPLOAD_TIME_LABEL["zh"],
                               label_en=UPLOAD_TIME_LABEL["en"]))  # fmt: skip
        key = traw.get("key") or ()
        key = (key,) if isinstance(key, str) else tuple(key)
        for k in key:
            if k not in names:
                found.append(((*at, "key"), None, f"table {tname}: key column {k!r} is not a column"))
        event_time = traw.get("event_time")
        if event_time is not None and event_time not in [c.name for c in cols]:
            found.append(
                ((*at, "event_time"), None, f"table {tname}: event_time {event_time!r} is not a column")
            )
        patient = traw.get("patient")
        if patient is not None and patient not in [c.name for c in cols]:
            found.append(((*at, "patient"), None, f"table {tname}: patient {patient!r} is not a column"))
            patient = None
        links = traw.get("links") or {}
        if not isinstance(links, dict):
            found.append(((*at, "links"), None, f"table {tname}: links map a column to 'table.column'"))
            links = {}
        title = traw.get("title") or {}
        if isinstance(title, str):
            title = {"zh": title, "en": title}
        tables[tname] = TableSpec(
            name=tname,
            kind=traw.get("kind", "any"),
            title_zh=title.get("zh", tname),
            title_en=title.get("en", tname),
            columns=tuple(cols),
            key=key,
            event_time=event_time,
            links=tuple((str(c), str(t)) for c, t in links.items()),
            patient=patient,
        )
    for tname, spec in tables.items():
        for col, target in spec.links:
            at = ("tables", tname, "links", col)
            other, _, ocol = target.partition(".")
            if spec.column(col) is None:
                found.append((at, None, f"table {tname}: link from {col!r}, which is not a column"))
            elif other not in tables or tables[other].column(ocol) is None:
                found.append((at, None, f"table {tname}: link to {target!r}, which is not a 'table.column'"))
    kinds = raw.get("kinds") or {}
    for kind, kraw in kinds.items():
        for t in (kraw or {}).get("tables", []):
            if t not in tables:
                found.append((("kinds", kind, "tables"), f"kinds.{kind}", f"unknown table {t!r}"))
    index = line_index(text) if found else {}
    problems = [
        Problem(str(p), None, fld or ".".join(map(str, at)), msg, line=line_of(index, at))
        for at, fld, msg in found
    ]
    return Catalogue(tables=tables, code_sets=code_sets, kinds=kinds, path=str(p)), problems


@cache
def _load_cached(path: str, stamp: tuple[int, int] | None = None) -> Catalogue:
    catalogue, problems = parse_catalogue(path)
    if problems:
        raise SuiteError(problems)
    return catalogue


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """Load (and cache) the catalogue; by default ``rules/catalogue.yaml``."""
    p = Path(path) if path else default_rules_dir() / "catalogue.yaml"
    p = p.resolve()
    try:
        st = p.stat()
        stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)  # an edited file is read again
    except OSError:
        stamp = None
    return _load_cached(str(p), stamp)
