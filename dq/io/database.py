"""Units read from a database: the platform's central database, or a 开库采集 unit's own.

A batch root may be a database URL instead of a folder::

    postgresql://HOST[:PORT]/DB[?service=NAME]     (ADBC, libpq: PGPASSWORD, ~/.pgpass, PGSERVICE)
    sqlite:///path/to/platform.db                  (ADBC's SQLite driver, opened read-only)
    duckdb:///path/to/platform.duckdb              (DuckDB, opened read-only)

The platform's layout: one table per catalogue table, each with a column naming the unit and the
upload time the platform stamped on every row; a unit's data for a period are its rows whose upload
time falls in that month. :class:`DatabaseLayout` names all of it (schema, the two columns, table
and column names that differ from the catalogue, the declarations and reference tables); its
defaults are the platform's usual names (docs/databases.md).

Reading is what a careful database client does: one query per unit and table, selecting only the
catalogue's columns that the table has, with the unit and the period's bounds as bound parameters
(on PostgreSQL bound once per unit into transaction settings that each query reads, so that ADBC
streams it through COPY: :meth:`Connection.unit_filter`; identifiers come from the catalogue and
the layout, always quoted; no text is built from data);
each unit reads in one read-only transaction with a statement timeout; rows arrive as Arrow record
batches (ADBC; DuckDB's own Arrow output) and a table larger than :attr:`DatabaseLayout.memory_rows`
is spilled batch by batch to a temporary Parquet file, so a unit never holds more than that many
rows of one table in memory. The Arrow result then goes through the file readers' coercion
(dq.io.sources.coerce_frame): the audit, summary, score, report and history code is the same
as for files.

Credentials: a password comes from the environment (``PGPASSWORD``), a password file
(``~/.pgpass``, ``PGPASSFILE``) or a service file (``PGSERVICE``, ``?service=``), libpq's own
conventions. A URL that carries a password still works but is masked (``user:***@host``) in every
message, log line and the store's run record (:func:`mask_url`).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import polars as pl

from dq.errors import DQError, InputError, UsageError
from dq.io.catalogue import Catalogue, load_catalogue
from dq.io.columns import ROW_INDEX
from dq.io.masking import describe_error
from dq.io.period import Period
from dq.io.sources import Extract, TableSource, coerce_frame

__all__ = [
    "SCHEMES",
    "DatabaseError",
    "DatabaseLayout",
    "DatabaseUnit",
    "UnreachableError",
    "connect",
    "database_file",
    "discover_database_units",
    "is_database_url",
    "mask_url",
    "open_database_unit",
    "reuse_connections",
]

SCHEMES = ("postgresql", "postgres", "sqlite", "duckdb")
_KINDS = ("hospital", "district")


class DatabaseError(InputError):
    """A database could not be read: names the masked URL (and the table, where one is at fault)."""


class UnreachableError(DatabaseError):
    """The server is down, refused the connection or the credentials: exit 2 before any write."""


def is_database_url(value: Any) -> bool:
    """True for ``postgresql://``, ``postgres://``, ``sqlite:///`` and ``duckdb:///`` URLs."""
    if not isinstance(value, str) or "://" not in value:
        return False
    return value.split("://", 1)[0].lower() in SCHEMES


_PASSWORD_IN_URL = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/?#@\s]*):(?P<pw>[^@/\s]*)@", re.I)
_PASSWORD_PARAM = re.compile(r"(?P<head>[?&]password=)[^&\s#]*", re.I)


def mask_url(text: str) -> str:
    """``text`` with every password of a URL in it replaced by ``***`` (``user:***@host``, and
    a ``password=`` query parameter); anything else unchanged."""
    text = _PASSWORD_IN_URL.sub(lambda m: f"{m.group('head')}:***@", text)
    return _PASSWORD_PARAM.sub(lambda m: f"{m.group('head')}***", text)


@dataclass(frozen=True)
class DatabaseLayout:
    """Where the platform's database keeps each unit's data (defaults: the platform's usual names).

    ``schema``: the schema of every table (None: the connection's default, e.g. ``public``).
    ``unit_column`` / ``upload_time_column``: in every data table, the unit's id and the time the
    platform received the row; a unit's period is its rows with ``start <= upload_time < end``.
    ``tables``: catalogue table → database table, where the names differ. ``columns``:
    ``"table.column"`` (catalogue names) → database column, where they differ.
    ``declarations_table``: one row per unit and period (columns ``unit_id``, ``period``,
    ``name``, ``kind``, ``district``, ``declared_tables`` as comma-separated names or null for
    "not stated", ``collection_mode`` ``upload`` | ``direct_db``, ``source_url`` for a 开库采集
    unit whose data sit in its own database); absent table or row: nothing stated.
    ``reference_table``: official counts (``unit_id``, ``period``, ``metric``, ``value``), as a
    folder's ``reference.csv``. ``expected_units``: ``registry`` (the unit registry's units are
    scored even with nothing uploaded, as not uploaded), ``declared`` (the declarations table's
    units of the period) or ``none`` (only units with rows). ``unit_sources``: unit id → database
    URL of a 开库采集 unit's own database (same layout), overriding ``source_url``.
    ``order_column``: a table's row number (the platform's auto-increment id), where the table has
    it: a unit's rows are read in that order, so failing-row samples are the same every time (a
    database has no order of its own); None, or a table without it: the database's order.
    ``statement_timeout_s``: each query's limit; ``memory_rows``: rows of one table held in
    memory before it is spilled to a temporary Parquet file; ``batch_rows``: Arrow batch size.
    """

    schema: str | None = None
    unit_column: str = "unit_id"
    upload_time_column: str = "upload_time"
    tables: Mapping[str, str] = field(default_factory=dict)
    columns: Mapping[str, str] = field(default_factory=dict)
    declarations_table: str | None = "upload_declaration"
    reference_table: str | None = "reference_count"
    expected_units: str = "registry"
    unit_sources: Mapping[str, str] = field(default_factory=dict)
    order_column: str | None = "row_id"
    statement_timeout_s: float = 300.0
    memory_rows: int = 2_000_000
    batch_rows: int = 65_536

    def __post_init__(self) -> None:
        if self.expected_units not in ("registry", "declared", "none"):
            raise UsageError(
                f"database layout: expected_units is registry, declared or none, got {self.expected_units!r}"
            )
        for name in ("unit_column", "upload_time_column"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value or "\x00" in value:
                raise UsageError(f"database layout: {name} must be a column name")
        if not (self.statement_timeout_s > 0 and self.memory_rows > 0 and self.batch_rows > 0):
            raise UsageError("database layout: statement_timeout_s, memory_rows and batch_rows must be > 0")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> DatabaseLayout:
        """A layout from a mapping (a ``[database]`` section of a project file, command-line
        options): keys are the field names; unknown keys and wrong types are a
        :class:`UsageError` naming the key. ``tables``, ``columns`` and ``unit_sources`` are
        mappings of names."""
        data = dict(data or {})
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise UsageError(
                f"database layout: unknown key(s) {', '.join(map(str, unknown))} (known: {', '.join(known)})"
            )
        out: dict[str, Any] = {}
        for key, value in data.items():
            if key == "columns" and isinstance(value, Mapping):
                # {"table.column": "dbcol"}, or by table: {"table": {"column": "dbcol"}} (TOML)
                flat: dict[Any, Any] = {}
                for k, v in value.items():
                    if isinstance(v, Mapping):
                        flat.update({f"{k}.{c}": d for c, d in v.items()})
                    else:
                        flat[k] = v
                value = flat
            if key in ("tables", "columns", "unit_sources"):
                if not isinstance(value, Mapping) or not all(
                    isinstance(k, str) and k and isinstance(v, str) and v for k, v in value.items()
                ):
                    raise UsageError(f"database layout: {key} must map names to names")
                if key == "columns" and not all("." in k for k in value):
                    raise UsageError(f"database layout: {key} keys are TABLE.COLUMN (catalogue names)")
                if key == "unit_sources":
                    for unit, url in value.items():
                        if not is_database_url(url):
                            raise UsageError(
                                f"database layout: unit_sources: {unit}: {mask_url(url)} is not a "
                                "database URL (postgresql://, sqlite:///, duckdb:///)"
                            )
                out[key] = dict(value)
            elif key in ("statement_timeout_s",):
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise UsageError(f"database layout: {key} must be a number of seconds")
                out[key] = float(value)
            elif key in ("memory_rows", "batch_rows"):
                if isinstance(value, bool) or not isinstance(value, int):
                    raise UsageError(f"database layout: {key} must be a whole number")
                out[key] = value
            elif value in (None, "") and key in (
                "schema",
                "declarations_table",
                "reference_table",
                "order_column",
            ):
                out[key] = None  # "" (TOML has no null) or None: there is none
            elif not isinstance(value, str):
                raise UsageError(f"database layout: {key} must be a name")
            else:
                out[key] = value
        return cls(**out)

    @classmethod
    def known_keys(cls) -> tuple[str, ...]:
        """The layout's keys (its field names): a ``[database]`` section's known keys."""
        return tuple(f.name for f in fields(cls))

    def to_mapping(self) -> dict[str, Any]:
        """The layout as :meth:`from_mapping` takes it (every key)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: dict(v) if isinstance(v, Mapping) else v for k, v in out.items()}

    def check(self, catalogue: Catalogue) -> list[tuple[str, str]]:
        """(key, problem) for every name of ``tables`` and ``columns`` that is not the catalogue's
        (a renamed table or column that does not exist would never be read)."""
        found: list[tuple[str, str]] = []
        for table in self.tables:
            if catalogue.table(table) is None:
                found.append((f"tables.{table}", f"{table} is not a table of the catalogue"))
        for key in self.columns:
            table, _, column = key.partition(".")
            spec = catalogue.table(table)
            if spec is None:
                found.append((f"columns.{key}", f"{table} is not a table of the catalogue"))
            elif column not in {c.name for c in spec.columns}:
                found.append(
                    (f"columns.{key}", f"{column} is not a column of table {table} in the catalogue")
                )
        return found

    def table_name(self, table: str) -> str:
        return self.tables.get(table, table)

    def column_name(self, table: str, column: str) -> str:
        """The database column of a catalogue column (the catalogue's ``upload_time`` is the
        layout's upload-time column)."""
        default = self.upload_time_column if column == "upload_time" else column
        return self.columns.get(f"{table}.{column}", default)


@dataclass(frozen=True, eq=False)  # compared (and hashed) by identity: one object per unit of a batch
class DatabaseUnit:
    """One unit of a database batch: what :func:`dq.batch.audit_unit` is given instead of a
    folder (picklable: it can be audited in another process)."""

    url: str  # the database holding the unit's data (may carry a password: never shown)
    unit_id: str
    period: str
    layout: DatabaseLayout = field(default_factory=DatabaseLayout)
    rows: int = 0  # rows the unit has in the period (sizes the batch's memory budget)
    info: Mapping[str, Any] = field(default_factory=dict)  # declarations and registry facts

    def __str__(self) -> str:
        uid = self.unit_id if len(self.unit_id) <= 64 else self.unit_id[:61] + "..."
        return f"{mask_url(self.url)} unit {uid}"


# -- connections ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Url:
    scheme: str  # postgresql | sqlite | duckdb
    url: str
    host: str
    path: str  # sqlite / duckdb file

    @property
    def masked(self) -> str:
        return mask_url(self.url)


def database_file(url: str) -> str:
    """The file a ``sqlite:`` or ``duckdb:`` URL names, as SQLAlchemy reads them: three slashes
    and a relative path (``sqlite:///platform.db``), four for an absolute one
    (``sqlite:////data/platform.db``)."""
    return unquote(urlsplit(url).path)[1:]


def _parse(url: str) -> _Url:
    if not is_database_url(url):
        raise UsageError(f"{mask_url(url)}: not a database URL (postgresql://, sqlite:///, duckdb:///)")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("postgresql", "postgres"):
        host = parts.hostname or dict(parse_qsl(parts.query)).get("host") or "localhost"
        if parts.port:
            host = f"{host}:{parts.port}"
        return _Url("postgresql", url, host, "")
    if parts.netloc not in ("", "localhost"):
        raise UsageError(f"{mask_url(url)}: a {scheme} URL names a file on this machine ({scheme}:///path)")
    path = database_file(url)
    if not path:
        raise UsageError(f"{mask_url(url)}: no database file in the URL ({scheme}:///path/to/file)")
    return _Url(scheme, url, "localhost", path)


def _clean(exc: BaseException, url: _Url) -> str:
    """An error's first line with any password or query text left out."""
    text = str(exc).strip()
    for marker in ("\nQuery was:", "Query was:"):
        text = text.split(marker, 1)[0]
    text = text.replace("[libpq] ", "").replace("IO: ", "").strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    parts = urlsplit(url.url)
    if parts.password:
        first = first.replace(parts.password, "***")
    return mask_url(describe_error(RuntimeError(first))).removeprefix("RuntimeError: ")


class Connection:
    """One connection to a platform database; read-only use, one unit's transaction at a time."""

    def __init__(self, url: str, layout: DatabaseLayout):
        self.where = _parse(url)
        self.layout = layout
        self._conn: Any = None
        self._columns: dict[str, list[str] | None] = {}
        self._types: dict[str, dict[str, str]] = {}
        self._refused: dict[str, list[str]] = {}
        try:
            self._conn = self._open()
        except DQError:
            raise
        except Exception as exc:
            raise UnreachableError(
                f"{self.where.masked}: cannot connect to {self.where.host} ({_clean(exc, self.where)})"
            ) from None

    # -- backends
    def _open(self) -> Any:
        w = self.where
        if w.scheme == "postgresql":
            import adbc_driver_postgresql.dbapi as pg

            uri = w.url if not w.url.lower().startswith("postgres://") else "postgresql" + w.url[8:]
            return pg.connect(uri, autocommit=True)
        if not Path(w.path).is_file():
            raise UnreachableError(f"{w.masked}: no such database file")
        if w.scheme == "sqlite":
            from urllib.parse import quote

            import adbc_driver_sqlite.dbapi as sq

            return sq.connect(f"file:{quote(os.path.abspath(w.path))}?mode=ro", autocommit=True)
        import duckdb

        return duckdb.connect(w.path, read_only=True)

    @property
    def _param(self) -> str:
        return "?" if self.where.scheme in ("sqlite", "duckdb") else "$"

    def _placeholder(self, n: int) -> str:
        return "?" if self._param == "?" else f"${n}"

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement; returns an object with ``fetch_record_batch()`` (Arrow batches)."""
        timer = None
        if self.where.scheme == "duckdb":
            # DuckDB has no statement timeout: interrupt a query that runs past it
            timer = threading.Timer(self.layout.statement_timeout_s, self._conn.interrupt)
            timer.daemon = True
            timer.start()
            try:
                rel = self._conn.sql(sql, params=list(params) if params else None)
                return _DuckResult(rel, self.layout.batch_rows, timer)
            except BaseException:
                timer.cancel()
                raise
        cur = self._conn.cursor()
        if self.where.scheme == "sqlite":
            timer = threading.Timer(self.layout.statement_timeout_s, cur.adbc_cancel)
            timer.daemon = True
            timer.start()
        try:
            cur.execute(sql, parameters=tuple(params) if params else None)
        except BaseException:
            if timer:
                timer.cancel()
            cur.close()
            raise
        return _AdbcResult(cur, timer)

    @contextlib.contextmanager
    def read_only(self) -> Iterator[None]:
        """A read-only transaction with the layout's statement timeout (ended with ROLLBACK)."""
        s = self.where.scheme
        try:
            self._begin(s)
        except DQError:
            raise
        except Exception as exc:
            raise DatabaseError(
                f"{self.where.masked}: cannot begin a read-only transaction on {self.where.host} "
                f"({_clean(exc, self.where)})"
            ) from None
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                if s == "duckdb":
                    self._conn.execute("ROLLBACK")
                else:
                    self._execute("ROLLBACK").close()

    def alive(self) -> bool:
        """Whether the connection still answers (a kept connection, before its next unit)."""
        if self.where.scheme != "postgresql":
            return self._conn is not None
        try:
            self._execute("SELECT 1").close()
            return True
        except Exception:
            return False

    def _begin(self, s: str) -> None:
        if s == "postgresql":
            self._execute("BEGIN READ ONLY").close()
            ms = max(1, int(self.layout.statement_timeout_s * 1000))
            self._execute(f"SET LOCAL statement_timeout = {ms}").close()  # a number we made, not data
            # A unit's queries are cheap to plan and run once: JIT compilation cost more than it
            # saved (~80 ms of server CPU a query at scale 0.1, measured; benchmarks/README.md).
            # A unit's rows are a slice of each table found by the (unit, upload time) index: a
            # bitmap scan reads just the slice's pages, in the table's order, where the planner
            # chose a whole-table scan for a large unit (3.3x the pages for a unit with a quarter
            # of a table) or a plain index scan that visits the slice's rows in upload-time
            # order. Without such an index the table is scanned as before.
            for setting in ("jit", "enable_seqscan", "enable_indexscan"):
                self._execute(f"SET LOCAL {setting} = off").close()  # fixed text, no data
        elif s == "sqlite":
            self._execute("BEGIN").close()
        else:
            self._conn.execute("BEGIN TRANSACTION READ ONLY")

    # -- names
    def quote(self, name: str) -> str:
        """An identifier, quoted (embedded quotes doubled)."""
        if "\x00" in name:
            raise UsageError("a table or column name cannot contain a NUL character")
        return '"' + name.replace('"', '""') + '"'

    def qualified(self, table: str) -> str:
        name = self.quote(table)
        return f"{self.quote(self.layout.schema)}.{name}" if self.layout.schema else name

    def columns(self, table: str) -> list[str] | None:
        """The columns of a database table (None when there is no such table)."""
        if table in self._columns:
            return self._columns[table]
        s = self.where.scheme
        if s == "sqlite":
            sql = "SELECT name FROM pragma_table_info(?) ORDER BY cid"
            params: list[Any] = [table]
        elif s == "postgresql":
            # pg_attribute, not information_schema: the latter hides a table the user may not
            # read, which would pass for "not uploaded" instead of a permission error
            # with each column's type (the unit's bounds are cast to it) and whether this user
            # may read it (a column or table without SELECT is that table's error, not the unit's)
            sql = (
                "SELECT attname, format_type(atttypid, atttypmod), "
                "has_column_privilege(attrelid, attnum, 'SELECT') "
                "FROM pg_catalog.pg_attribute WHERE attrelid = to_regclass($1) "
                "AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
            )
            params = [self.qualified(table)]
        else:
            schema = self.layout.schema
            sql = (
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND "
                + ("table_schema = ?" if schema else "table_schema = current_schema()")
                + " ORDER BY ordinal_position"
            )
            params = [table, schema] if schema else [table]
        res = self._execute(sql, params)
        try:
            got = res.read_all()
        finally:
            res.close()
        names = [str(v) for v in got.column(0).to_pylist()]
        if s == "postgresql":
            types = [str(v) for v in got.column(1).to_pylist()]
            allowed = got.column(2).to_pylist()
            self._types[table] = dict(zip(names, types, strict=True))
            self._refused[table] = [n for n, ok in zip(names, allowed, strict=True) if not ok]
        self._columns[table] = names or None
        return self._columns[table]

    def refused(self, table: str) -> list[str]:
        """The columns of ``table`` this user may not read (PostgreSQL's privileges; after
        :meth:`columns`)."""
        return self._refused.get(table, [])

    def unit_filter(self, table: str, unit_id: str, period: str) -> tuple[list[str], list[Any]]:
        """The conditions selecting a unit's rows of a period in ``table``, and their parameters.

        SQLite and DuckDB: the unit and the bounds are the query's bound parameters. PostgreSQL:
        they are bound parameters of one ``set_config`` statement per unit
        (:meth:`bind_unit`), which each query reads back with ``current_setting`` (evaluated
        once, cast to the column's type): a query without parameters is streamed by ADBC with
        ``COPY … TO STDOUT`` batch by batch, where a query with parameters is held whole in the
        client's memory first. Either way no text of the query comes from data."""
        lay, p = self.layout, self._placeholder
        u, t = self.quote(lay.unit_column), self.quote(lay.upload_time_column)
        if self.where.scheme != "postgresql":
            start, end = self._bounds(period)
            return [f"{u} = {p(1)}", f"{t} >= {p(2)}", f"{t} < {p(3)}"], [unit_id, start, end]
        types = self._types.get(table, {})

        def setting(name: str, column: str) -> str:
            # the type is the server's own name for the column's type (format_type), not data
            return f"CAST((SELECT current_setting('dq.{name}')) AS {types.get(column) or 'text'})"

        ut = lay.upload_time_column
        return [
            f"{u} = {setting('unit', lay.unit_column)}",
            f"{t} >= {setting('start', ut)}",
            f"{t} < {setting('end', ut)}",
        ], []

    def savepoint(self) -> None:
        """PostgreSQL: a savepoint, so that one refused query does not abort the unit's transaction."""
        self._execute("SAVEPOINT dq_table").close()

    def rollback_to_savepoint(self) -> None:
        self._execute("ROLLBACK TO SAVEPOINT dq_table").close()

    def bind_unit(self, unit_id: str, period: str) -> None:
        """PostgreSQL: the unit and its period's bounds, as bound parameters, in settings local to
        the current (read-only) transaction that :meth:`unit_filter`'s conditions read."""
        if self.where.scheme != "postgresql":
            return
        start, end = (b.strftime("%Y-%m-%d %H:%M:%S") for b in self._bounds(period))
        self._execute(
            "SELECT set_config('dq.unit', $1, true), set_config('dq.start', $2, true), "
            "set_config('dq.end', $3, true)",
            [unit_id, start, end],
        ).close()

    def _bounds(self, period: str) -> tuple[Any, Any]:
        p = Period.parse(period)
        start, end = p.start, p.end
        if self.where.scheme == "sqlite":  # timestamps are ISO text in SQLite: compare as text
            return start.strftime("%Y-%m-%d %H:%M:%S"), end.strftime("%Y-%m-%d %H:%M:%S")
        return start, end

    def select(
        self, table: str, columns: Sequence[str], where: Sequence[str], params: Sequence[Any],
        order: str | None = None,
    ) -> Any:  # fmt: skip
        cols = ", ".join(self.quote(c) for c in columns)
        sql = f"SELECT {cols} FROM {self.qualified(table)}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        if order:
            sql += f" ORDER BY {self.quote(order)}"
        return self._execute(sql, params)


class _AdbcResult:
    def __init__(self, cur: Any, timer: threading.Timer | None):
        self.cur, self.timer = cur, timer

    def batches(self) -> Iterator[Any]:
        reader = self.cur.fetch_record_batch()
        yield from reader

    def read_all(self) -> Any:
        return self.cur.fetch_arrow_table()

    def close(self) -> None:
        if self.timer:
            self.timer.cancel()
        with contextlib.suppress(Exception):
            self.cur.close()


class _DuckResult:
    def __init__(self, rel: Any, rows: int, timer: threading.Timer):
        self.conn, self.rows, self.timer = rel, rows, timer  # a relation (None for a statement)

    def batches(self) -> Iterator[Any]:
        if self.conn is None:
            return
        reader = getattr(self.conn, "to_arrow_reader", None) or self.conn.fetch_record_batch
        yield from reader(self.rows)

    def read_all(self) -> Any:
        table = getattr(self.conn, "to_arrow_table", None) or self.conn.arrow
        return table()

    def close(self) -> None:
        self.timer.cancel()


def connect(url: str, layout: DatabaseLayout | None = None) -> Connection:
    """A :class:`Connection`; server down, connection refused or bad credentials raise
    :class:`UnreachableError` naming the host (the password never appears)."""
    return Connection(url, layout or DatabaseLayout())


# -- discovery --------------------------------------------------------------------------------


def _declarations(conn: Connection, period: str, unit: str | None = None) -> dict[str, dict[str, Any]]:
    """unit id → its row of the declarations table for ``period`` (empty without the table)."""
    lay = conn.layout
    if not lay.declarations_table:
        return {}
    have = conn.columns(lay.declarations_table)
    if not have:
        return {}
    want = [
        c
        for c in (
            "unit_id",
            "period",
            "name",
            "kind",
            "district",
            "declared_tables",
            "collection_mode",
            "source_url",
        )
        if c in have
    ]
    if "unit_id" not in want or "period" not in want:
        raise DatabaseError(
            f"{conn.where.masked}: table {lay.declarations_table} needs columns unit_id and period"
        )
    p = conn._placeholder
    where, params = [f"{conn.quote('period')} = {p(1)}"], [period]
    if unit is not None:
        where.append(f"{conn.quote('unit_id')} = {p(2)}")
        params.append(unit)
    res = conn.select(lay.declarations_table, want, where, params)
    try:
        rows = res.read_all().to_pylist()
    finally:
        res.close()
    return {str(r["unit_id"]): r for r in rows if r.get("unit_id") is not None}


def _reference(conn: Connection, period: str, unit: str) -> dict[str, float]:
    lay = conn.layout
    if not lay.reference_table or not conn.columns(lay.reference_table):
        return {}
    p = conn._placeholder
    res = conn.select(
        lay.reference_table,
        ["metric", "value"],
        [f"{conn.quote('unit_id')} = {p(1)}", f"{conn.quote('period')} = {p(2)}"],
        [unit, period],
    )
    try:
        rows = res.read_all().to_pylist()
    finally:
        res.close()
    out: dict[str, float] = {}
    for r in rows:
        try:
            out[str(r["metric"]).strip()] = float(r["value"])
        except (TypeError, ValueError):
            raise DatabaseError(
                f"{conn.where.masked}: table {lay.reference_table}: unit {unit} has a value that is not "
                "a number"
            ) from None
    return out


def _connection_lost(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(k in text for k in ("connection", "server closed", "terminating", "could not receive"))


def discover_database_units(
    url: str, period: str, layout: DatabaseLayout | None = None, catalogue: Catalogue | None = None
) -> list[DatabaseUnit]:
    """The units of ``period`` in the database at ``url``: every unit id with rows uploaded in
    the period (one ``GROUP BY`` query per catalogue table, which also sizes each unit), the
    declarations table's units of the period, and — with ``expected_units = registry`` — every
    unit of the registry, scored as not uploaded when it has nothing. Sorted by unit id.
    Raises :class:`UnreachableError` when the database cannot be reached."""
    Period.parse(period)
    lay = layout or DatabaseLayout()
    cat = catalogue or load_catalogue()
    rows: dict[str, int] = {}
    with connect(url, lay) as conn:
        try:
            start, end = conn._bounds(period)
            for table in cat.tables_of("hospital") + cat.tables_of("district"):
                dbt = lay.table_name(table)
                have = conn.columns(dbt)
                if not have or lay.unit_column not in have or lay.upload_time_column not in have:
                    continue
                u, t, p = conn.quote(lay.unit_column), conn.quote(lay.upload_time_column), conn._placeholder
                sql = (
                    f"SELECT {u}, COUNT(*) FROM {conn.qualified(dbt)} WHERE {t} >= {p(1)} AND {t} < {p(2)}"
                    f" GROUP BY {u}"
                )
                try:
                    res = conn._execute(sql, [start, end])
                except Exception as exc:
                    if _connection_lost(exc):
                        raise
                    # e.g. no permission on this table: each unit's audit reports it as that
                    # table's error; the units are still listed from the other tables
                    continue
                try:
                    got = res.read_all()
                finally:
                    res.close()
                for uid, n in zip(got.column(0).to_pylist(), got.column(1).to_pylist(), strict=True):
                    if uid is not None:
                        rows[str(uid)] = rows.get(str(uid), 0) + int(n or 0)
            declared = _declarations(conn, period)
        except DQError:
            raise
        except Exception as exc:
            raise DatabaseError(
                f"{conn.where.masked}: cannot list the units of {period} ({_clean(exc, conn.where)})"
            ) from None
    ids = set(rows)
    if lay.expected_units in ("declared", "registry"):
        ids |= set(declared)
    info: dict[str, dict[str, Any]] = {uid: dict(declared.get(uid) or {}) for uid in ids}
    if lay.expected_units == "registry":
        from dq.io.registry import Registry

        for inst in Registry.load().units():
            if inst.kind in _KINDS:
                ids.add(inst.unit_id)
                info.setdefault(inst.unit_id, {})
    for uid in ids | set(lay.unit_sources):
        info.setdefault(uid, {})
    ids |= set(lay.unit_sources)
    return [DatabaseUnit(url, uid, period, lay, rows.get(uid, 0), info[uid]) for uid in sorted(ids)]


# -- one unit ---------------------------------------------------------------------------------


def _registry_facts(unit_id: str) -> dict[str, Any]:
    from dq.io.registry import Registry

    try:
        inst = Registry.load().get(unit_id)
    except Exception:
        return {}
    return {"name": inst.name, "kind": inst.kind, "district": inst.district}


def _manifest(
    unit: DatabaseUnit, info: Mapping[str, Any], present: Sequence[str], cat: Catalogue
) -> dict[str, Any]:
    where = f"{unit}"
    facts = _registry_facts(unit.unit_id)
    kind = info.get("kind") or facts.get("kind")
    if not kind:  # the kind of the tables it uploaded
        kinds = {cat.tables[t].kind for t in present if t in cat.tables}
        kind = kinds.pop() if len(kinds) == 1 else None
    if kind not in _KINDS:
        none = "" if present else f"no rows in {unit.period}, and "
        raise DatabaseError(
            f"{where}: {none}the unit's kind (hospital or district) is not known: add it to "
            "the declarations table or the unit registry"
        )
    manifest: dict[str, Any] = {
        "unit_id": unit.unit_id,
        "name": info.get("name") or facts.get("name") or unit.unit_id,
        "kind": kind,
        "district": info.get("district") or facts.get("district"),
        "period": unit.period,
    }
    mode = info.get("collection_mode") or "upload"
    if mode not in ("upload", "direct_db"):
        raise DatabaseError(f"{where}: collection_mode must be upload or direct_db")
    manifest["collection_mode"] = mode
    declared = info.get("declared_tables")
    if declared is not None:
        manifest["declared_tables"] = [t.strip() for t in str(declared).split(",") if t.strip()]
    return manifest


def _to_frame(
    batches: Iterator[Any], spill: Path, limit: int, order: str | None = None, drop: bool = False
) -> tuple[pl.LazyFrame | None, int, Path | None]:
    """Arrow batches as one LazyFrame: in memory up to ``limit`` rows, else written batch by
    batch to ``spill`` (Parquet) and scanned from there. ``order``: a column to sort the rows by
    (the platform's row number; here rather than in the server, which would sort on disk past
    its ``work_mem``), dropped after with ``drop``."""
    import pyarrow as pa

    held: list[Any] = []
    n = 0
    writer: Any = None
    schema: Any = None
    try:
        for b in batches:
            b = _plain(b)
            schema = b.schema
            if writer is None and n + b.num_rows > limit:
                import pyarrow.parquet as pq

                writer = pq.ParquetWriter(spill, schema, compression="lz4")
                for h in held:
                    writer.write_batch(h)
                held = []
            if writer is not None:
                writer.write_batch(b)
            else:
                held.append(b)
            n += b.num_rows
    finally:
        if writer is not None:
            writer.close()
    if writer is not None:
        lazy = pl.scan_parquet(spill)
        if order:
            lazy = lazy.sort(order, nulls_last=True)
        return (lazy.drop(order) if order and drop else lazy), n, spill
    if schema is None:
        return None, 0, None
    frame = pl.from_arrow(pa.Table.from_batches(held, schema=schema))
    assert isinstance(frame, pl.DataFrame)
    if order:
        frame = frame.sort(order, nulls_last=True)
        if drop:
            frame = frame.drop(order)
    return frame.lazy(), n, None


def _plain(batch: Any) -> Any:
    """Extension types (PostgreSQL's numeric arrives as an opaque text extension) as their storage
    type; a timestamp with a time zone in Asia/Shanghai local time (as the file readers do), naive."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cols, names, changed = [], [], False
    for name, col in zip(batch.schema.names, batch.columns, strict=True):
        t = col.type
        if isinstance(t, pa.ExtensionType):
            col = col.storage
            changed = True
        if pa.types.is_timestamp(col.type) and col.type.tz is not None:
            col = pc.local_timestamp(col.cast(pa.timestamp(col.type.unit, "Asia/Shanghai")))
            changed = True
        if pa.types.is_large_string(col.type) or pa.types.is_string_view(col.type):
            col = col.cast(pa.string())
            changed = True
        cols.append(col)
        names.append(name)
    return pa.RecordBatch.from_arrays(cols, names=names) if changed else batch


@contextlib.contextmanager
def open_database_unit(unit: DatabaseUnit, catalogue: Catalogue | None = None) -> Iterator[Extract]:
    """The unit's :class:`~dq.io.sources.Extract` read from its database: one read-only transaction
    with the layout's statement timeout, one query per catalogue table of the unit's kind, the
    unit and period bound as parameters (:meth:`Connection.unit_filter`); a table with no row of
    the unit in the period is not uploaded. A 开库采集 unit
    with a source URL (``unit_sources`` or the declarations' ``source_url``) is read from that
    database instead. Spilled tables live in a temporary folder removed on exit.

    A table this database user may not read (no SELECT on it or on a column dq reads) is an
    error of that table: :attr:`~dq.io.sources.Extract.unreadable` names it and the audit reports
    its rules as errors; the other tables are read. A query past the statement timeout or
    another failure raises :class:`DatabaseError` naming the table; an unreachable server
    :class:`UnreachableError`. Within :func:`reuse_connections` (a batch) each thread keeps its
    connection for the next unit."""
    cat = catalogue or load_catalogue()
    lay = unit.layout
    info = dict(unit.info)
    tmp = Path(tempfile.mkdtemp(prefix="dq-db-"))
    try:
        with _connection(unit.url, lay) as central, central.read_only():
            # one connection and one read-only transaction for the unit's declarations, reference
            # counts and (unless it has a database of its own) its rows
            if not info and lay.declarations_table:
                info = dict(_declarations(central, unit.period, unit.unit_id).get(unit.unit_id) or {})
            reference = _reference(central, unit.period, unit.unit_id)
            source = lay.unit_sources.get(unit.unit_id) or info.get("source_url")
            if source and not is_database_url(str(source)):
                raise DatabaseError(f"{unit}: its source_url is not a database URL")
            data_url = str(source) if source else unit.url
            kind = info.get("kind") or _registry_facts(unit.unit_id).get("kind")
            both = cat.tables_of("hospital") + cat.tables_of("district")
            names = cat.tables_of(kind) if kind in _KINDS else both
            if not source:
                tables, problems, unreadable = _read_tables(central, unit, tmp, cat, names)
        if source:
            with _connection(data_url, lay) as own, own.read_only():
                tables, problems, unreadable = _read_tables(own, unit, tmp, cat, names)
        manifest = _manifest(unit, info, list(tables), cat)
        kind_tables = set(cat.tables_of(manifest["kind"]))
        for t in list(tables):
            if t not in kind_tables:
                problems.append(f"table {t}: rows of unit {unit.unit_id} in a table of another kind; ignored")
                del tables[t]
        for t in list(unreadable):
            if t not in kind_tables:
                del unreadable[t]
        problems += unreadable.values()
        yield Extract(
            Path(tmp), manifest, tables, reference, problems, where=mask_url(data_url), unreadable=unreadable
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


_POOLS: list[dict[tuple[int, str, int], Connection]] = []  # the open reuse_connections() blocks
_POOLS_LOCK = threading.Lock()


@contextlib.contextmanager
def reuse_connections() -> Iterator[None]:
    """Within this block :func:`open_database_unit` keeps each thread's connection to a database
    open for that thread's next unit (a batch logs in once per thread and database, not once
    per unit: a password login costs the server and dq ~0.1–0.3 s of CPU each); all are closed
    on exit. A connection that failed in a unit is closed, never reused."""
    pool: dict[tuple[int, str, int], Connection] = {}
    with _POOLS_LOCK:
        _POOLS.append(pool)
    try:
        yield
    finally:
        with _POOLS_LOCK:
            _POOLS.remove(pool)
            held = list(pool.values())
            pool.clear()
        for conn in held:
            conn.close()


@contextlib.contextmanager
def _connection(url: str, layout: DatabaseLayout) -> Iterator[Connection]:
    with _POOLS_LOCK:
        pool = _POOLS[-1] if _POOLS else None
        key = (threading.get_ident(), url, id(layout))
        conn = pool.pop(key, None) if pool is not None else None
    if conn is not None and not conn.alive():  # e.g. the server restarted since its last unit
        conn.close()
        conn = None
    if conn is None:
        conn = connect(url, layout)
    ok = False
    try:
        yield conn
        ok = True
    finally:
        with _POOLS_LOCK:
            keep = ok and pool is not None and any(p is pool for p in _POOLS)
            if keep and pool is not None:
                pool[key] = conn
        if not keep:
            conn.close()


def _permission_denied(exc: BaseException) -> bool:
    return getattr(exc, "sqlstate", None) == "42501" or "permission denied" in str(exc).lower()


def _read_tables(
    conn: Connection, unit: DatabaseUnit, tmp: Path, cat: Catalogue, names: Sequence[str]
) -> tuple[dict[str, TableSource], list[str], dict[str, str]]:
    """The unit's tables, the problems met, and the tables it may not read (table → why: an
    error of that table's rules, :attr:`dq.io.sources.Extract.unreadable`)."""
    lay = conn.layout
    tables: dict[str, TableSource] = {}
    problems: list[str] = []
    unreadable: dict[str, str] = {}
    # inside the caller's read-only transaction
    conn.bind_unit(unit.unit_id, unit.period)
    pg = conn.where.scheme == "postgresql"
    for table in names:
        spec = cat.tables[table]
        dbt = lay.table_name(table)
        where = f"{conn.where.masked} table {dbt}"
        try:
            have = conn.columns(dbt)
        except Exception as exc:
            raise DatabaseError(f"{where}: cannot read its columns ({_clean(exc, conn.where)})") from None
        if not have:
            continue
        if lay.unit_column not in have or lay.upload_time_column not in have:
            problems.append(f"{where}: no column {lay.unit_column} or {lay.upload_time_column}; not read")
            continue
        wanted = [(c.name, lay.column_name(table, c.name)) for c in spec.columns]
        chosen = [(name, db) for name, db in wanted if db in have]
        if not chosen:
            continue
        order = lay.order_column if lay.order_column in have else None
        read = [db for _, db in chosen]
        extra_order = order is not None and order not in read
        refused = set(conn.refused(dbt)) & {*read, lay.unit_column, lay.upload_time_column, order}
        if refused:
            unreadable[table] = (
                f"{where}: permission denied: this database user may not read "
                + ("the table" if set(refused) >= set(read) else f"column(s) {', '.join(sorted(refused))}")
                + f"; the rules of {table} could not run"
            )
            continue
        filters, params = conn.unit_filter(dbt, unit.unit_id, unit.period)
        try:
            if pg:
                conn.savepoint()
            res = conn.select(dbt, read + ([order] if extra_order and order else []), filters, params)
            try:
                frame, n, spilled = _to_frame(
                    res.batches(), tmp / f"{table}.parquet", lay.memory_rows, order, drop=False
                )
            finally:
                res.close()
        except DQError:
            raise
        except Exception as exc:
            if _permission_denied(exc) and not _connection_lost(exc):
                if pg:
                    conn.rollback_to_savepoint()
                unreadable[table] = (
                    f"{where}: cannot read the rows of unit {unit.unit_id} ({_clean(exc, conn.where)}); "
                    f"the rules of {table} could not run"
                )
                continue
            raise DatabaseError(
                f"{where}: cannot read the rows of unit {unit.unit_id} ({_clean(exc, conn.where)})"
            ) from None
        if frame is None or n == 0:
            continue  # nothing uploaded in the period: not uploaded
        renames = {db: name for name, db in chosen if db != name}
        if extra_order and order:  # the row id stays as the rows' locator (ROW_INDEX, dq.io.columns)
            renames[order] = ROW_INDEX
        if renames:
            frame = frame.rename(renames)
        frame = coerce_frame(where, frame, spec)
        tables[table] = TableSource(
            table, spilled or tmp / f"{table}.db", frame, spec, rows=n, where=where,
            row_key=order if extra_order else None,
        )  # fmt: skip
    return tables, problems, unreadable
