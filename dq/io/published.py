"""Published figures: the newsletters' tables (``datasets/nanjing/*.csv``) as typed frames.

The raw CSVs keep every cell as printed (markers such as 未反馈 stay text). This module turns
the 数据采集情况 (data collection) tables into *submission summaries*, one row per unit, with the
markers carried by status columns instead of fake numbers:

=====================  ===============================================================
column                 meaning
=====================  ===============================================================
declaration_status     ``declared`` (a number was printed), ``not_reported`` (未反馈),
                       ``direct_db`` (开库采集: the platform reads the unit's database)
*_rate_status          ``reported``, ``no_reference`` (未获取卫统数据: no official count),
                       ``not_published`` (the issue prints no rate column)
=====================  ===============================================================

A marker never becomes 0: the number is null and the status says why.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from dq.errors import PublishedError
from dq.io.period import Period
from dq.io.registry import Registry

__all__ = [
    "SUMMARY_SCHEMA",
    "available_periods",
    "data_dir",
    "load_collection",
    "load_table",
]

SUMMARY_SCHEMA: dict[str, pl.DataType] = {
    "period": pl.String(),
    "unit_id": pl.String(),
    "unit_name": pl.String(),
    "kind": pl.String(),
    "declaration_status": pl.String(),
    "declared_tables": pl.Int64(),
    "required_tables": pl.Int64(),
    "uploaded_tables": pl.Int64(),
    "data_volume": pl.Int64(),
    "upload_days": pl.Int64(),
    "days_in_period": pl.Int64(),
    "outpatient_uploaded": pl.Int64(),
    "outpatient_rate": pl.Float64(),
    "outpatient_rate_status": pl.String(),
    "discharge_uploaded": pl.Int64(),
    "discharge_rate": pl.Float64(),
    "discharge_rate_status": pl.String(),
    "records_basic": pl.Int64(),
    "records_hypertension": pl.Int64(),
    "records_diabetes": pl.Int64(),
    "source": pl.String(),
}

KINDS = ("hospital", "district")
TOTAL = "合计"
DECLARATION_MARKERS = {"未反馈": "not_reported", "开库采集": "direct_db"}
RATE_MARKERS = {"未获取卫统数据": "no_reference"}

_INT = re.compile(r"\d+")
_DECIMAL = re.compile(r"\d+(\.\d+)?")
_COLLECTION_FILE = re.compile(r"(\d{4}-\d{2})_collection_(hospital|district)\.csv")


def data_dir(root: str | Path | None = None) -> Path:
    """Folder holding the newsletter CSVs: ``root`` as a folder, or the name of a bundled set
    (``nanjing``, the default, shipped in ``datasets/nanjing``)."""
    from dq.errors import InputError
    from dq.io.resources import data_dir as bundled
    from dq.io.resources import published_dir

    if root is None:
        return published_dir()
    path = Path(root)
    if path.is_dir():
        return path
    if path.name == str(root) and any((bundled() / str(root)).glob("*_collection_*.csv")):
        return published_dir(str(root))
    raise InputError(f"{root}: neither a folder of published tables nor a bundled set (bundled: nanjing)")


def available_periods(root: str | Path | None = None) -> list[str]:
    """Periods (``YYYY-MM``) that have at least one 数据采集情况 table, sorted."""
    folder = data_dir(root)
    periods = {
        m.group(1) for p in folder.glob("*_collection_*.csv") if (m := _COLLECTION_FILE.fullmatch(p.name))
    }
    return sorted(periods)


def load_table(name: str, root: str | Path | None = None) -> pl.DataFrame:
    """A raw newsletter table (e.g. ``"2018-03_terminals"``), every column as text, 合计 included.

    Empty cells are null; nothing else is converted.
    """
    folder = data_dir(root)
    file = folder / (name if name.endswith(".csv") else f"{name}.csv")
    if not file.is_file():
        known = ", ".join(sorted(p.stem for p in folder.glob("*.csv"))) or "none"
        raise PublishedError(f"no table {name!r} in {folder}; available: {known}")
    return pl.read_csv(file, infer_schema=False, encoding="utf8")


def _days_in_period(period: str) -> int:
    if not Period.is_period(period):
        raise PublishedError(f"period must look like 'YYYY-MM', got {period!r}")
    return Period.parse(period).days


class _Row:
    """Parses the cells of one CSV row, with errors naming the file, line and unit."""

    def __init__(self, file: str, line_no: int, row: dict[str, str | None]):
        self.file = file
        self.line_no = line_no
        self.row = row

    def where(self, column: str) -> str:
        return f"{self.file} line {self.line_no} ({self.row.get('unit')!r}), column {column!r}"

    def cell(self, column: str) -> str | None:
        value = self.row.get(column)
        return value.strip() if value is not None and value.strip() else None

    def integer(self, column: str, *, optional: bool = False) -> int | None:
        value = self.cell(column)
        if value is None:
            if optional:
                return None
            raise PublishedError(f"{self.where(column)}: empty cell, expected a whole number")
        if not _INT.fullmatch(value):
            raise PublishedError(
                f"{self.where(column)}: {value!r} is neither a whole number nor a known marker"
            )
        return int(value)

    def declaration(self) -> tuple[str, int | None, int | None]:
        declared = self.cell("declared_tables")
        if declared is None:
            raise PublishedError(f"{self.where('declared_tables')}: empty cell")
        if declared in DECLARATION_MARKERS:
            status, declared_n = DECLARATION_MARKERS[declared], None
        elif _INT.fullmatch(declared):
            status, declared_n = "declared", int(declared)
        else:
            markers = ", ".join(DECLARATION_MARKERS)
            raise PublishedError(
                f"{self.where('declared_tables')}: {declared!r} is neither a whole number "
                f"nor a known marker ({markers})"
            )
        # 开库采集 is printed without a "/required" part; every other form has one.
        required = self.integer("required_tables", optional=status == "direct_db")
        return status, declared_n, required

    def rate(self, column: str) -> tuple[float | None, str]:
        if column not in self.row:
            return None, "not_published"
        value = self.cell(column)
        if value is None:
            raise PublishedError(f"{self.where(column)}: empty cell, expected a rate or a marker")
        if value in RATE_MARKERS:
            return None, RATE_MARKERS[value]
        if not _DECIMAL.fullmatch(value):
            markers = ", ".join(RATE_MARKERS)
            raise PublishedError(
                f"{self.where(column)}: {value!r} is neither a number nor a known marker ({markers})"
            )
        return float(value), "reported"


def load_collection(
    period: str,
    kind: str,
    root: str | Path | None = None,
    registry: Registry | None = None,
) -> pl.DataFrame:
    """The period's 数据采集情况 table for ``kind`` ('hospital'|'district') as submission summaries.

    One row per unit in printed order (a 合计 row, if any, is left out; use :func:`load_table`
    for the raw table). Columns and types: :data:`SUMMARY_SCHEMA`. Units are resolved through the
    registry (``datasets/institutions.csv`` unless ``registry`` is given). Raises
    :class:`~dq.errors.PublishedError` (a ``ValueError``) naming the file, line and column for any
    cell that is neither a number nor a known marker.
    """
    if kind not in KINDS:
        raise PublishedError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    days = _days_in_period(period)
    name = f"{period}_collection_{kind}.csv"
    file = data_dir(root) / name
    if not file.is_file():
        periods = ", ".join(available_periods(root)) or "none"
        raise PublishedError(f"no {kind} collection table for {period!r} ({file}); periods: {periods}")
    registry = registry if registry is not None else Registry.load()
    raw = load_table(name, root)
    if "unit" not in raw.columns:
        raise PublishedError(f"{name}: no 'unit' column")

    records = []
    for line_no, row in enumerate(raw.iter_rows(named=True), start=2):
        cells = _Row(name, line_no, row)
        unit_name = cells.cell("unit")
        if unit_name is None:
            raise PublishedError(f"{name} line {line_no}: empty unit name")
        if unit_name == TOTAL:
            continue
        inst = registry.resolve(unit_name, context=f"{name} line {line_no}")
        if inst.kind != kind:
            raise PublishedError(
                f"{name} line {line_no}: {unit_name!r} is a {inst.kind} ({inst.unit_id}) "
                f"in the registry, but this is the {kind} table"
            )
        status, declared, required = cells.declaration()
        outpatient_rate, outpatient_status = cells.rate("outpatient_rate")
        discharge_rate, discharge_status = cells.rate("discharge_rate")
        is_district = kind == "district"
        records.append(
            {
                "period": period,
                "unit_id": inst.unit_id,
                "unit_name": unit_name,
                "kind": kind,
                "declaration_status": status,
                "declared_tables": declared,
                "required_tables": required,
                "uploaded_tables": cells.integer("uploaded_tables"),
                "data_volume": cells.integer("data_volume"),
                "upload_days": cells.integer("upload_days"),
                "days_in_period": days,
                "outpatient_uploaded": cells.integer("outpatient_uploaded"),
                "outpatient_rate": outpatient_rate,
                "outpatient_rate_status": outpatient_status,
                "discharge_uploaded": cells.integer("discharge_uploaded"),
                "discharge_rate": discharge_rate,
                "discharge_rate_status": discharge_status,
                "records_basic": cells.integer("records_basic") if is_district else None,
                "records_hypertension": (cells.integer("records_hypertension") if is_district else None),
                "records_diabetes": cells.integer("records_diabetes") if is_district else None,
                "source": name,
            }
        )
    return pl.DataFrame(records, schema=SUMMARY_SCHEMA)
