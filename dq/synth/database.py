"""A synthetic batch written into a database in the platform's layout (``dq synth --out URL``).

The batch is generated as files first (:func:`dq.synth.generate.generate`, in a temporary folder
or a given one), then loaded: one table per catalogue table holding every unit's rows with a
``unit_id`` column (the upload time is the catalogue's ``upload_time`` column), a declarations
table (``upload_declaration``: unit, period, name, kind, district, declared tables, collection
mode) and a reference table (``reference_count``: the units' ``reference.csv``), named by
:class:`dq.io.database.DatabaseLayout`.

Column types: a column has the catalogue's type (``timestamp``, ``date``, ``double precision``,
``bigint``, ``text``) unless some unit sent it as text that does not parse as that type (the
``unparseable_date`` defects of text-style units): then it is ``text`` and every unit's values are
kept as text, so that the database holds what the units sent and the readers find the same
defects. ``upload_time`` is always a timestamp (the platform stamps it). SQLite has no timestamp
type: dates and times are ISO text there (``YYYY-MM-DD HH:MM:SS``), which compares in time order.

Rows of a unit and period are replaced when loaded again (rerunning ``dq synth --out URL`` for the
same period gives the same database).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from dq.errors import DQError, InputError, UsageError
from dq.io.catalogue import Catalogue, TableSpec, load_catalogue
from dq.io.columns import raw_column
from dq.io.database import DatabaseLayout, UnreachableError, database_file, is_database_url, mask_url
from dq.io.masking import describe_error
from dq.io.sources import open_extract

__all__ = ["load_batch", "write_database"]

_SQL_TYPES = {
    "postgresql": {
        "str": "text",
        "int": "bigint",
        "decimal": "double precision",
        "date": "date",
        "datetime": "timestamp",
    },
    "duckdb": {
        "str": "VARCHAR",
        "int": "BIGINT",
        "decimal": "DOUBLE",
        "date": "DATE",
        "datetime": "TIMESTAMP",
    },
    "sqlite": {"str": "TEXT", "int": "INTEGER", "decimal": "REAL", "date": "TEXT", "datetime": "TEXT"},
}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class _Writer:
    """Statements and bulk loads for one database (read-write, unlike :mod:`dq.io.database`)."""

    def __init__(self, url: str, layout: DatabaseLayout):
        self.url, self.layout = url, layout
        self.scheme = url.split("://", 1)[0].lower()
        self.scheme = "postgresql" if self.scheme == "postgres" else self.scheme
        try:
            if self.scheme == "postgresql":
                import adbc_driver_postgresql.dbapi as pg

                uri = url if not url.lower().startswith("postgres://") else "postgresql" + url[8:]
                self.conn: Any = pg.connect(uri, autocommit=True)
            elif self.scheme == "sqlite":
                import adbc_driver_sqlite.dbapi as sq

                path = database_file(url)
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                self.conn = sq.connect(path, autocommit=True)
            else:
                import duckdb

                path = database_file(url)
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                self.conn = duckdb.connect(path)
        except ImportError as exc:
            raise UsageError(f"{mask_url(url)}: databases need dq[db] (pip install 'dq[db]'): {exc}") from exc
        except Exception as exc:
            raise UnreachableError(f"{mask_url(url)}: cannot connect ({describe_error(exc)})") from None

    def table(self, name: str) -> str:
        s = self.layout.schema
        return f"{_quote(s)}.{_quote(name)}" if s and self.scheme != "sqlite" else _quote(name)

    def execute(self, sql: str, params: list[Any] | None = None) -> None:
        if self.scheme == "duckdb":
            self.conn.execute(sql, params or [])
            return
        cur = self.conn.cursor()
        try:
            cur.execute(sql, parameters=tuple(params) if params else None)
        finally:
            cur.close()

    def column_types(self, table: str) -> dict[str, str] | None:
        """Column name → lower-case SQL type of an existing table, or None."""
        if self.scheme == "sqlite":
            sql, params = "SELECT name, type FROM pragma_table_info(?)", [table]
        else:
            schema = self.layout.schema
            where = f"table_schema = {self.p(2)}" if schema else "table_schema = current_schema()"
            sql = (
                f"SELECT column_name, data_type FROM information_schema.columns "
                f"WHERE table_name = {self.p(1)} AND {where}"
            )
            params = [table, schema] if schema else [table]
        if self.scheme == "duckdb":
            rows = self.conn.execute(sql, params).fetchall()
        else:
            cur = self.conn.cursor()
            try:
                cur.execute(sql, parameters=tuple(params))
                rows = cur.fetchall()
            finally:
                cur.close()
        return {str(n): str(t).lower() for n, t in rows} or None

    def next_row_number(self, table: str) -> int:
        col = _quote(self.layout.order_column or "row_id")
        sql = f"SELECT COALESCE(MAX({col}), 0) + 1 FROM {self.table(table)}"
        if self.scheme == "duckdb":
            return int(self.conn.execute(sql).fetchall()[0][0])
        cur = self.conn.cursor()
        try:
            cur.execute(sql)
            return int(cur.fetchone()[0])
        finally:
            cur.close()

    def p(self, n: int) -> str:
        return f"${n}" if self.scheme == "postgresql" else "?"

    def append(self, name: str, frame: pl.DataFrame) -> None:
        if frame.is_empty():
            return
        arrow = frame.to_arrow()
        if self.scheme == "duckdb":
            self.conn.register("dq_load", arrow)
            try:
                cols = ", ".join(_quote(c) for c in frame.columns)
                self.conn.execute(f"INSERT INTO {self.table(name)} ({cols}) SELECT {cols} FROM dq_load")
            finally:
                self.conn.unregister("dq_load")
            return
        cur = self.conn.cursor()
        try:
            schema = self.layout.schema if self.scheme == "postgresql" else None
            cur.adbc_ingest(name, arrow, mode="append", db_schema_name=schema)
        finally:
            cur.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()


def _column_types(frames: list[pl.DataFrame], spec: TableSpec) -> dict[str, str]:
    """Each column's type in the database: the catalogue's, or ``str`` where a unit sent text
    that does not parse as that type (``upload_time`` always keeps its type)."""
    out = {}
    for c in spec.columns:
        typ = c.type
        raw = raw_column(c.name)
        if c.type != "str" and c.name != "upload_time":
            for f in frames:
                if raw in f.columns:
                    bad = f.select(
                        (
                            pl.col(raw).is_not_null()
                            & (pl.col(raw).str.strip_chars() != "")
                            & pl.col(c.name).is_null()
                        ).any()
                    ).item()
                    if bad:
                        typ = "str"
                        break
        out[c.name] = typ
    return out


def _as_text(frame: pl.DataFrame, col: str) -> pl.Expr:
    raw = raw_column(col)
    if raw in frame.columns:
        return pl.col(raw)
    dtype = frame.schema.get(col)
    if dtype == pl.Datetime:
        return pl.col(col).dt.strftime("%Y-%m-%d %H:%M:%S%.f")
    return pl.col(col).cast(pl.String)


def _for_database(
    frame: pl.DataFrame,
    unit: str,
    types: Mapping[str, str],
    spec: TableSpec,
    scheme: str,
    layout: DatabaseLayout,
) -> pl.DataFrame:
    exprs = [pl.lit(unit, pl.String).alias(layout.unit_column)]
    for c in spec.columns:
        if c.name not in frame.columns:
            continue
        typ = types[c.name]
        name = layout.column_name(spec.name, c.name)
        if typ == "str" and c.type != "str":
            e = _as_text(frame, c.name)
        elif scheme == "sqlite" and typ == "datetime":
            e = pl.col(c.name).dt.strftime("%Y-%m-%d %H:%M:%S%.f")
        elif scheme == "sqlite" and typ == "date":
            e = pl.col(c.name).dt.strftime("%Y-%m-%d")
        else:
            e = pl.col(c.name).cast(c.dtype) if typ != "str" else pl.col(c.name).cast(pl.String)
        exprs.append(e.alias(name))
    return frame.select(exprs)


def load_batch(
    batch: str | Path, url: str, layout: DatabaseLayout | None = None, catalogue: Catalogue | None = None
) -> dict[str, int]:
    """Load a batch folder ``ROOT/<period>/`` (as ``dq synth`` writes it: one folder per unit)
    into the database at ``url`` in the platform's layout; returns rows loaded per table.
    A unit's earlier rows for the same period are replaced."""
    lay = layout or DatabaseLayout()
    cat = catalogue or load_catalogue()
    if not is_database_url(url):
        raise UsageError(f"{mask_url(url)}: not a database URL (postgresql://, sqlite:///, duckdb:///)")
    folder = Path(batch)
    units = sorted(p for p in folder.iterdir() if p.is_dir() and (p / "manifest.yaml").exists())
    if not units:
        raise InputError(f"{folder}: no unit folders to load")
    extracts = [open_extract(u, catalogue=cat) for u in units]
    period = str(extracts[0].period)
    for ext in extracts:
        if ext.period != period:
            raise InputError(f"{ext.root}: period {ext.period}, not the batch's {period}")
    w = _Writer(url, lay)
    loaded: dict[str, int] = {}
    try:
        if lay.schema and w.scheme != "sqlite":
            w.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(lay.schema)}")
        ids = [e.unit_id for e in extracts]
        for table in cat.tables_of("hospital") + cat.tables_of("district"):
            # one table at a time: memory holds the largest table of the batch, not the batch
            spec = cat.tables[table]
            frames = [(e.unit_id, e.tables[table].frame.collect()) for e in extracts if table in e.tables]
            types = _column_types([f for _, f in frames], spec)
            dbt = lay.table_name(table)
            _create_or_widen(w, dbt, spec, types, lay)
            _delete_units(w, dbt, ids, period, lay)
            n = 0
            first = w.next_row_number(dbt) if lay.order_column else 0
            for uid, frame in frames:
                out = _for_database(frame, uid, types, spec, w.scheme, lay)
                if lay.order_column:  # the platform's row numbers: the file's order, unit after unit
                    out = out.insert_column(1, pl.int_range(first, first + out.height, eager=True)
                                            .alias(lay.order_column))  # fmt: skip
                    first += out.height
                w.append(dbt, out)
                n += out.height
            loaded[table] = n
            del frames
        _write_declarations(w, extracts, period, lay)
    except DQError:
        raise
    except Exception as exc:
        raise InputError(f"{mask_url(url)}: cannot write the batch ({describe_error(exc)})") from None
    finally:
        w.close()
    return loaded


def _create_or_widen(
    w: _Writer, dbt: str, spec: TableSpec, types: dict[str, str], lay: DatabaseLayout
) -> None:
    """Create the table, or (loaded before, e.g. an earlier month) make its column types and
    ``types`` agree: a column already text stays text (this batch's values are written as text);
    a typed column this batch needs as text becomes text (PostgreSQL, DuckDB)."""
    existing = w.column_types(dbt)
    if existing is None:
        cols = [f"{_quote(lay.unit_column)} {_SQL_TYPES[w.scheme]['str']} NOT NULL"]
        if lay.order_column:
            cols.append(f"{_quote(lay.order_column)} {_SQL_TYPES[w.scheme]['int']}")
        for c in spec.columns:
            cols.append(f"{_quote(lay.column_name(spec.name, c.name))} {_SQL_TYPES[w.scheme][types[c.name]]}")
        w.execute(f"CREATE TABLE {w.table(dbt)} ({', '.join(cols)})")
        if w.scheme != "duckdb":  # DuckDB's zone maps serve these filters; its indexes slow loads
            # what a platform database has and dq's per-unit queries use: unit, then upload time
            index = _quote(f"{dbt}_unit_upload"[:63])
            unit, up = _quote(lay.unit_column), _quote(lay.upload_time_column)
            w.execute(f"CREATE INDEX IF NOT EXISTS {index} ON {w.table(dbt)} ({unit}, {up})")
        return
    if lay.order_column and lay.order_column not in existing:
        w.execute(
            f"ALTER TABLE {w.table(dbt)} ADD COLUMN {_quote(lay.order_column)} {_SQL_TYPES[w.scheme]['int']}"
        )
    if w.scheme == "sqlite":  # dynamically typed: dates are ISO text already
        return
    for c in spec.columns:
        name = lay.column_name(spec.name, c.name)
        have = existing.get(name)
        if have is None or c.type == "str":
            continue
        is_text = have in ("text", "varchar", "character varying")
        if is_text:
            types[c.name] = "str"
        elif types[c.name] == "str":
            text = _SQL_TYPES[w.scheme]["str"]
            w.execute(f"ALTER TABLE {w.table(dbt)} ALTER COLUMN {_quote(name)} TYPE {text}")


def _delete_units(w: _Writer, table: str, ids: list[str], period: str, lay: DatabaseLayout) -> None:
    from dq.io.period import Period

    p = Period.parse(period)
    start, end = p.start, p.end
    lo: Any = start.strftime("%Y-%m-%d %H:%M:%S") if w.scheme == "sqlite" else start
    hi: Any = end.strftime("%Y-%m-%d %H:%M:%S") if w.scheme == "sqlite" else end
    t = _quote(lay.upload_time_column)
    for uid in ids:
        w.execute(
            f"DELETE FROM {w.table(table)} WHERE {_quote(lay.unit_column)} = {w.p(1)} AND {t} >= {w.p(2)} "
            f"AND {t} < {w.p(3)}",
            [uid, lo, hi],
        )


def _write_declarations(w: _Writer, extracts: list[Any], period: str, lay: DatabaseLayout) -> None:
    text = _SQL_TYPES[w.scheme]["str"]
    if lay.declarations_table:
        cols = (
            "unit_id",
            "period",
            "name",
            "kind",
            "district",
            "declared_tables",
            "collection_mode",
            "source_url",
        )
        w.execute(
            f"CREATE TABLE IF NOT EXISTS {w.table(lay.declarations_table)} "
            f"({', '.join(f'{_quote(c)} {text}' for c in cols)})"
        )
        rows = []
        for ext in extracts:
            m = ext.manifest
            w.execute(
                f"DELETE FROM {w.table(lay.declarations_table)} WHERE {_quote('unit_id')} = {w.p(1)} "
                f"AND {_quote('period')} = {w.p(2)}",
                [ext.unit_id, period],
            )
            declared = m.get("declared_tables")
            rows.append(
                {
                    "unit_id": ext.unit_id,
                    "period": period,
                    "name": m.get("name"),
                    "kind": m.get("kind"),
                    "district": m.get("district"),
                    "declared_tables": None if declared is None else ",".join(declared),
                    "collection_mode": m.get("collection_mode") or "upload",
                    "source_url": None,
                }
            )
        w.append(lay.declarations_table, pl.DataFrame(rows, schema=dict.fromkeys(cols, pl.String)))
    if lay.reference_table:
        real = _SQL_TYPES[w.scheme]["decimal"]
        w.execute(
            f"CREATE TABLE IF NOT EXISTS {w.table(lay.reference_table)} ({_quote('unit_id')} {text}, "
            f"{_quote('period')} {text}, {_quote('metric')} {text}, {_quote('value')} {real})"
        )
        refs = []
        for ext in extracts:
            w.execute(
                f"DELETE FROM {w.table(lay.reference_table)} WHERE {_quote('unit_id')} = {w.p(1)} "
                f"AND {_quote('period')} = {w.p(2)}",
                [ext.unit_id, period],
            )
            refs += [
                {"unit_id": ext.unit_id, "period": period, "metric": k, "value": float(v)}
                for k, v in ext.reference.items()
            ]
        schema = {"unit_id": pl.String, "period": pl.String, "metric": pl.String, "value": pl.Float64}
        w.append(lay.reference_table, pl.DataFrame(refs, schema=schema))


def write_database(
    url: str, period: str, *, layout: DatabaseLayout | None = None, keep: Path | None = None, **options: Any
) -> dict[str, int]:
    """``dq synth --out URL``: generate the batch (``options`` as :func:`dq.synth.generate.generate`
    takes them, or a province with ``cities``) and load it into the database at ``url``. The
    files are written to ``keep`` when given (and kept: the same batch as files and in the
    database), else to a temporary folder that is removed. Returns the rows loaded per table."""
    import shutil
    import tempfile

    from dq.synth.generate import generate
    from dq.synth.province import generate_province

    tmp = None if keep is not None else Path(tempfile.mkdtemp(prefix="dq-synth-db-"))
    out = keep if keep is not None else tmp
    assert out is not None
    try:
        cities = options.pop("cities", None)
        options.pop("fmt", None)
        if cities:
            root = generate_province(out, period, cities, fmt="parquet", **options)
        else:
            root = generate(out, period, fmt="parquet", **options)
        return load_batch(root, url, layout)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
