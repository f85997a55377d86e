"""Score history: a Hive-partitioned Parquet dataset, one folder per period.

    <store>/runs/period=2020-09/<run_id>.parquet              one row: run metadata
    <store>/results/period=2020-09/<run_id>__<unit>.parquet    rule results of one unit
    <store>/scores/period=2020-09/<run_id>__<unit>.parquet     unit × facet scores
    <store>/summaries/period=2020-09/<run_id>__<unit>.parquet  the unit's submission summary
    <store>/tables/period=2020-09/<run_id>__<unit>.parquet     rows of each table the unit uploaded

Every file is written whole or not at all, one unit at a time, so an interrupted run keeps what
it finished and can be resumed. Every run is kept. The *latest* score
of a unit for a period is the one from the most recently started run that scored it. Plain
Polars reads it: ``pl.scan_parquet("<store>/scores/**/*.parquet", hive_partitioning=True)``;
DuckDB likewise with ``read_parquet('<store>/scores/*/*.parquet', hive_partitioning=true)``.

The store may be a folder or an fsspec URL (``s3://bucket/dq/history``, ``memory://…``;
``file:///…`` is the local folder it names and is handled as one). Where the files live is the
store's backend (:mod:`dq.store.backend`), chosen once when the :class:`Store` is opened: on a
folder a file is written to a temporary name and renamed and the writer's lock is an OS file
lock; on an object store each file is one object written in a single request and the lock is a
``.dq-lock`` object created only if absent (:class:`ObjectLock`; docs/scale.md says what that
does and does not guarantee). What the files mean and how they are read (every file against its
folder's schema, a file that cannot be combined skipped and named) is this module's, the same
for both.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import sys
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import polars as pl

from dq import __version__
from dq.engine.messages import message_args
from dq.engine.results import RuleResult
from dq.errors import OutputError, StoreError
from dq.io.masking import describe_error
from dq.io.outputs import safe_filename
from dq.io.period import Period
from dq.io.urls import first_line
from dq.scoring.scores import RulePoints, UnitScore
from dq.store._convert import castable, convert, type_name
from dq.store.backend import ObjectLock, Source, StoreBackend, StoredFile, WriterLock, open_backend

__all__ = [
    "DELIVERY_SCHEMA",
    "FIXROW_SCHEMA",
    "FOLDERS",
    "KEYS",
    "RESULT_SCHEMA",
    "RUN_SCHEMA",
    "RUN_STATUSES",
    "SCHEMAS",
    "SCORE_SCHEMA",
    "TABLE_SCHEMA",
    "ObjectLock",
    "Run",
    "Store",
    "conform",
    "folder_schema",
    "safe_name",
    "schema_problem",
    "suites_hash",
]

#: A run is ``running`` while its process holds the store's lock; it ends ``complete`` (every unit
#: was tried, some may have errors), ``failed`` (the batch stopped on an error of its own, e.g. the
#: store became unwritable) or ``interrupted`` (killed or stopped by the user; a ``running`` row
#: whose process is gone is read as ``interrupted``).
RUN_STATUSES = ("running", "complete", "failed", "interrupted")
LOCK_NAME = ".dq-lock"

RUN_SCHEMA: dict[str, Any] = {
    "run_id": pl.String,
    "started_at": pl.Datetime("us", "UTC"),
    "finished_at": pl.Datetime("us", "UTC"),
    "status": pl.String,
    "dq_version": pl.String,
    "suites_hash": pl.String,
    "source": pl.String,
    "root": pl.String,
    "units": pl.Int64,
    "errors": pl.Int64,
}
RESULT_SCHEMA: dict[str, Any] = {
    "run_id": pl.String,
    "unit_id": pl.String,
    "rule": pl.String,
    "suite": pl.String,
    "table": pl.String,
    "check": pl.String,
    "columns": pl.String,
    "dimension": pl.String,
    "severity": pl.String,
    "status": pl.String,
    "evaluated": pl.Int64,
    "failed": pl.Int64,
    "fail_fraction": pl.Float64,
    "max_fraction": pl.Float64,
    "max_count": pl.Int64,
    "weight": pl.Float64,
    "points": pl.Float64,
    "max_points": pl.Float64,
    "message": pl.String,
    "message_args": pl.String,  # the message's key and fields (dq.engine.messages), to render it in zh/en
    "samples": pl.String,
    "title_zh": pl.String,
    "title_en": pl.String,
    "fix_zh": pl.String,
    "fix_en": pl.String,
}
TABLE_SCHEMA: dict[str, Any] = {
    "run_id": pl.String,
    "unit_id": pl.String,
    "table": pl.String,
    "rows": pl.Int64,
}
SCORE_SCHEMA: dict[str, Any] = {
    "run_id": pl.String,
    "unit_id": pl.String,
    "unit_name": pl.String,
    "kind": pl.String,
    "district": pl.String,
    "status": pl.String,
    "error": pl.String,
    "facet": pl.String,
    "score": pl.Float64,
    "grade": pl.String,
}


DELIVERY_SCHEMA: dict[str, Any] = {
    "unit_id": pl.String,
    "status": pl.String,
    "time": pl.Datetime("us", "UTC"),
    "to": pl.String,
    "cc": pl.String,
    "refused": pl.String,
    "message_id": pl.String,
    "subject": pl.String,
    "report_file": pl.String,
    "report_sha256": pl.String,
    "attachments": pl.String,
    "score_run_id": pl.String,
    "smtp_host": pl.String,
    "attempts": pl.Int64,
    "error": pl.String,
    "dq_version": pl.String,
}
FIXROW_SCHEMA: dict[str, Any] = {
    "run_id": pl.String,
    "unit_id": pl.String,
    "rule": pl.String,
    "table": pl.String,
    "n": pl.Int64,
    "row": pl.String,
}

#: The columns of the files of each folder of the store: what the writers write, and what every
#: reader reads a file against (:func:`conform`). ``summaries`` is the catalogue's submission
#: summary (see :func:`folder_schema`).
SCHEMAS: dict[str, dict[str, Any]] = {
    "runs": RUN_SCHEMA,
    "results": RESULT_SCHEMA,
    "scores": SCORE_SCHEMA,
    "tables": TABLE_SCHEMA,
    "deliveries": DELIVERY_SCHEMA,
    "fixrows": FIXROW_SCHEMA,
}
#: The columns without which a file is not one of its folder's: it cannot be combined.
KEYS: dict[str, tuple[str, ...]] = {
    "runs": ("run_id", "started_at"),
    "results": ("run_id", "unit_id", "rule"),
    "scores": ("run_id", "unit_id", "facet"),
    "tables": ("run_id", "unit_id", "table"),
    "summaries": ("run_id", "unit_id"),
    "deliveries": ("unit_id", "status"),
    "fixrows": ("run_id", "unit_id", "rule"),
}
FOLDERS = ("runs", "results", "scores", "summaries", "tables", "fixrows", "deliveries")


def folder_schema(kind: str) -> dict[str, Any] | None:
    """The columns of the files under ``<store>/<kind>/`` (None for a folder dq does not know).
    A summary file holds the catalogue's submission summary (:data:`dq.scoring.summary.SUMMARY_SCHEMA`)
    with the ``run_id`` that wrote it instead of its ``period``."""
    if kind == "summaries":
        from dq.scoring.summary import SUMMARY_SCHEMA

        return {"run_id": pl.String, **{k: v for k, v in SUMMARY_SCHEMA.items() if k != "period"}}
    return SCHEMAS.get(kind)


def schema_problem(columns: Mapping[str, Any], kind: str) -> tuple[str | None, bool]:
    """What the columns of a file of folder ``kind`` say before its rows are read: (why it cannot
    be combined with the others, or None; whether its columns need no conversion at all)."""
    want = folder_schema(kind)
    if want is None:
        return None, True
    missing = [c for c in KEYS.get(kind, ()) if c not in columns]
    if missing:
        return f"not a {kind} file: no column {', '.join(missing)}", False
    bad = [
        f"column {c} holds {type_name(columns[c])}, not {type_name(t)}"
        for c, t in want.items()
        if c in columns and not castable(columns[c], t)
    ]
    if bad:
        return "; ".join(bad), False
    return None, all(columns[c] == t for c, t in want.items() if c in columns)


def conform(frame: pl.DataFrame, kind: str) -> pl.DataFrame:
    """The rows of one file of folder ``kind`` with that folder's columns, in order: a missing
    column is null, a column the schema does not have is left out, a column of another type is
    converted when that is safe and every value converts (``"85.5"`` → 85.5, 7 → ``"7"``, an ISO
    timestamp written as text → a timestamp). Otherwise a :class:`StoreError` says which column
    holds what (types and counts, never a value). A folder dq does not know keeps its columns."""
    want = folder_schema(kind)
    if want is None:
        return frame
    reason, exact = schema_problem(frame.schema, kind)
    if reason is not None:
        raise StoreError(reason)
    if exact and list(frame.columns) == list(want):
        return frame
    cols, bad = [], []
    for name, dtype in want.items():
        if name not in frame.columns:
            cols.append(pl.Series(name, [None] * frame.height, dtype=dtype))
            continue
        got = convert(frame[name], dtype)
        if isinstance(got, str):
            bad.append(got)
        else:
            cols.append(got)
    if bad:
        raise StoreError("; ".join(bad))
    return pl.DataFrame(cols)


def suites_hash(paths: Iterable[Path]) -> str:
    """SHA-256 over the files that define a run's judgement (suites, catalogue, scoring)."""
    h = hashlib.sha256()
    files: list[Path] = []
    for p in paths:
        files += sorted(p.rglob("*.yaml")) if p.is_dir() else [p]
    for f in sorted(set(files)):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Run:
    run_id: str
    period: str
    started_at: datetime
    suites_hash: str
    source: str
    root: str


#: The engine of the store's reads: small frames, where Polars' default (streaming) engine
#: costs about twice the in-memory one in fixed overhead.
SMALL: Final = "in-memory"


def safe_name(unit_id: str) -> str:
    """A file-name part for ``unit_id``: :func:`dq.io.outputs.safe_filename` (the id itself when it
    is short and plain, else a cleaned prefix plus a hash of the id, so that two ids never share
    a file and no name is too long)."""
    return safe_filename(unit_id)


_safe = safe_name


def _warn_stderr(message: str) -> None:
    print(f"dq: warning: {message}", file=sys.stderr)


#: The folders whose files are named ``<run_id>__<unit>.parquet`` by the run that wrote them.
_RUN_FILES = ("results", "scores", "summaries", "tables", "fixrows")


def _folder_period(name: str) -> str | None:
    """The month of a folder named ``period=YYYY-MM``, else None."""
    label = name.removeprefix("period=")
    return label if label != name and Period.is_period(label) else None


def _polars_source(source: Source) -> Any:
    """What a Polars reader takes for a backend's source (a path, or the file's bytes)."""
    if isinstance(source, BaseException):
        raise source
    return io.BytesIO(source) if isinstance(source, bytes) else source


class Store:
    """Read and write the history dataset rooted at ``root``.

    ``root`` is a folder, an fsspec URL (``s3://bucket/history``; ``file:///…`` is the local
    folder) or a :class:`~dq.store.backend.StoreBackend`. The backend is chosen once, here
    (:func:`~dq.store.backend.open_backend`); every read and write goes through it. For a URL
    :attr:`root` is the URL (a string), otherwise a :class:`Path`.

    A file of the store that cannot be read (truncated, not Parquet, a stray file) is skipped
    with a warning naming it (``warn``, default: standard error), so the rest of the history
    stays usable; :meth:`problems` lists them.
    """

    def __init__(self, root: str | Path | StoreBackend, warn: Callable[[str], None] | None = None):
        self.backend: StoreBackend = root if isinstance(root, StoreBackend) else open_backend(root)
        self.root: Path | str = self.backend.root
        self._lock_fh: WriterLock | None = None  # the writer lock while this object holds it
        self._auto_lock = False
        self.warn = warn or _warn_stderr
        self._warned: set[Any] = set()
        self._checked: dict[tuple, tuple[str | None, bool]] = {}  # file → (why not, scan as is)
        self._loaded: dict[tuple, tuple[pl.DataFrame | None, str | None]] = {}  # file → (rows, why not)
        self.checked = 0  # files seen by the last check()
        self._run_index: dict[str, str] | None = None  # run id → its period, see _run_periods

    @property
    def remote(self) -> bool:
        """True for a store behind an fsspec URL (an object store), False for a local folder.
        Informational: the store reads and writes the same way through either backend."""
        return self.backend.remote

    def exists(self) -> bool:
        """True when the store has been written to (its folder, or some object under its URL)."""
        return self.backend.exists()

    def location(self, *parts: str) -> Path | str:
        """A file or folder of the store (a :class:`Path`, or a path of the URL's file system)."""
        return self.backend.location(*parts)

    def display(self, location: Path | str) -> str:
        """``location`` as users see it (a path, or a full URL)."""
        return self.backend.display(location)

    def write_frame(self, frame: pl.DataFrame, *parts: str, what: str = "write to the store") -> Path | str:
        """Write ``frame`` as the Parquet file ``parts`` of the store, whole or not at all (a
        temporary file renamed on a folder, one object in one request on an object store). A
        store that cannot be written (read-only, full, not a folder) is an :class:`OutputError`
        naming the file: ``cannot <what>``."""
        return self._write(frame, parts, what)

    def read_frame(self, *parts: str) -> pl.DataFrame | None:
        """The Parquet file ``parts`` of the store in its folder's schema (:func:`conform`), or
        None when it does not exist, or when it cannot be read or combined: then, as every
        reader of the store does, it is skipped with a warning naming it (``dq history --check``
        lists it)."""
        path = self.location(*parts)
        try:
            data = self.backend.read(*parts)
            if data is None:
                return None
            frame = pl.read_parquet(io.BytesIO(data))
            return conform(frame, parts[0]) if parts else frame
        except FileNotFoundError:
            return None
        except StoreError as exc:
            self._skip(path, str(exc))
        except Exception as exc:
            self._skip(path, f"unreadable: {describe_error(exc)}")
        return None

    def _write(
        self, frame: pl.DataFrame, parts: tuple[str, ...], what: str = "write to the store"
    ) -> Path | str:
        buf = io.BytesIO()
        frame.write_parquet(buf)  # in memory: the backend writes the whole file in one go
        try:
            return self.backend.write(buf.getvalue(), *parts)
        except Exception as exc:
            reason = getattr(exc, "strerror", None) or first_line(exc)
            hint = f"; {self.backend.write_hint}" if self.backend.write_hint else ""
            where = self.display(self.location(*parts))
            raise OutputError(f"{where}: cannot {what} ({reason}){hint}") from exc

    # -- writing -------------------------------------------------------------------------
    def begin_run(self, period: str, suites_hash: str, source: str, root: str = "") -> Run:
        if self._lock_fh is None:  # a writer outside score_batch: hold the lock until finish_run
            self._acquire()
            self._auto_lock = True
        now = datetime.now(UTC)
        run_id = f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
        run = Run(run_id, period, now, suites_hash, source, root)
        self._write_run(run, "running", None, 0, 0)
        return run

    def finish_run(self, run: Run, units: int, errors: int, status: str = "complete") -> None:
        if status not in RUN_STATUSES[1:]:
            raise ValueError(f"status {status!r} is not one of {RUN_STATUSES[1:]}")
        try:
            self._write_run(run, status, datetime.now(UTC), units, errors)
        finally:
            if self._auto_lock:
                self._auto_lock = False
                self._release()

    # -- the writer's lock ---------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self):
        """Hold the store's writer lock (``<store>/.dq-lock``) for a batch.

        A second writer gets an :class:`InputError` naming the store and the process that holds
        it. On a folder the lock is an OS file lock: a killed process releases it, so a stale
        lock never blocks the next run. On an object store it is an :class:`ObjectLock`.
        Re-entrant within one :class:`Store` object.
        """
        if self._lock_fh is not None:
            yield
            return
        self._acquire()
        try:
            yield
        finally:
            self._release()

    def writer_lock(self, name: str = LOCK_NAME, what: str = "dq score") -> WriterLock:
        """A lock kept at ``name`` below the store (the backend's kind: an OS file lock on a folder,
        an :class:`ObjectLock` behind a URL); ``dq send`` holds ``deliveries/.send.lock``."""
        return self.backend.lock(name, what)

    def _acquire(self) -> None:
        lock = self.writer_lock()
        lock.acquire()
        self._lock_fh = lock

    def _release(self) -> None:
        if self._lock_fh is not None:
            self._lock_fh.release()
            self._lock_fh = None

    def locked(self) -> bool:
        """True while some process holds the store's writer lock."""
        return self._lock_fh is not None or self.writer_lock().held_by_other()

    def mark_interrupted(self) -> list[str]:
        """Rewrite the rows of runs still marked ``running`` whose process is gone as
        ``interrupted`` (call with the lock held). Returns their run ids."""
        runs = self.runs(resolve_stale=False)
        stale = runs.filter(pl.col("status") == "running")
        done = []
        for row in stale.iter_rows(named=True):
            run = Run(row["run_id"], row["period"], row["started_at"], row["suites_hash"] or "",
                      row["source"] or "", row["root"] or "")  # fmt: skip
            self._write_run(run, "interrupted", None, row["units"] or 0, row["errors"] or 0)
            done.append(row["run_id"])
        return done

    def _write_run(self, run: Run, status: str, finished: datetime | None, units: int, errors: int) -> None:
        row = {
            "run_id": run.run_id,
            "started_at": run.started_at,
            "finished_at": finished,
            "status": status,
            "dq_version": __version__,
            "suites_hash": run.suites_hash,
            "source": run.source,
            "root": run.root,
            "units": units,
            "errors": errors,
        }
        self._write(pl.DataFrame([row], schema=RUN_SCHEMA), self._path("runs", run, None))

    def _path(self, kind: str, run: Run, unit_id: str | None) -> tuple[str, ...]:
        name = run.run_id if unit_id is None else f"{run.run_id}__{_safe(unit_id)}"
        return (kind, f"period={run.period}", f"{name}.parquet")

    def write_unit(
        self,
        run: Run,
        unit: dict[str, Any],
        results: Sequence[RuleResult],
        score: UnitScore | None,
        summary: dict[str, Any] | None,
        fixes: dict[str, tuple[str, str]] | None = None,
        error: str | None = None,
        tables: Mapping[str, int | None] | None = None,
    ) -> None:
        """Write one unit's results, scores, summary and table row counts (each file atomically)."""
        uid = str(unit["unit_id"])
        pts: dict[str, RulePoints] = {p.rule: p for p in (score.points if score else ())}
        fixes = fixes or {}
        rows = []
        for r in results:
            p = pts.get(r.rule)
            fz, fe = fixes.get(r.rule, ("", ""))
            rows.append(
                {
                    "run_id": run.run_id,
                    "unit_id": uid,
                    "rule": r.rule,
                    "suite": r.suite,
                    "table": r.table,
                    "check": r.check,
                    "columns": ",".join(r.columns),
                    "dimension": r.dimension,
                    "severity": r.severity,
                    "status": r.status,
                    "evaluated": r.evaluated,
                    "failed": r.failed,
                    "fail_fraction": r.fail_fraction,
                    "max_fraction": (r.threshold or {}).get("max_fraction"),
                    "max_count": (r.threshold or {}).get("max_count"),
                    "weight": r.weight,
                    "points": p.points if p else None,
                    "max_points": p.max_points if p else None,
                    "message": r.message,
                    "message_args": message_args(r.message),
                    "samples": json.dumps(list(r.samples), ensure_ascii=False, default=str),
                    "title_zh": r.title_zh,
                    "title_en": r.title_en,
                    "fix_zh": fz,
                    "fix_en": fe,
                }
            )
        self._write(pl.DataFrame(rows, schema=RESULT_SCHEMA), self._path("results", run, uid))
        base = {
            "run_id": run.run_id,
            "unit_id": uid,
            "unit_name": unit.get("unit_name") or unit.get("name") or uid,
            "kind": unit.get("kind"),
            "district": unit.get("district"),
            "status": "error" if error else "ok",
            "error": error,
        }
        facets = score.rows() if score else [{"facet": "overall", "score": None}]
        srows = [
            {**base, **f, "grade": score.grade if score and f["facet"] == "overall" else None} for f in facets
        ]
        self._write(pl.DataFrame(srows, schema=SCORE_SCHEMA), self._path("scores", run, uid))
        if summary is not None:
            from dq.scoring.summary import summary_frame

            frame = summary_frame([summary]).drop("period").with_columns(pl.lit(run.run_id).alias("run_id"))
            self._write(frame, self._path("summaries", run, uid))
        if tables is not None:
            trows = [{"run_id": run.run_id, "unit_id": uid, "table": t, "rows": n} for t, n in tables.items()]
            self._write(pl.DataFrame(trows, schema=TABLE_SCHEMA), self._path("tables", run, uid))

    # -- reading -------------------------------------------------------------------------
    # One path for every folder (runs, results, scores, summaries, tables, fixrows, deliveries)
    # and every backend: list its files (of one period when asked), judge each against the
    # folder's schema from its footer (:func:`schema_problem`), scan together those that need no
    # conversion, read and convert the others (:func:`conform`), and skip those that cannot be
    # combined with a warning naming the file. :meth:`check` walks the same path over every file.

    def _listing(self, kind: str, period: str | None = None) -> list[StoredFile]:
        """Each Parquet file of ``kind`` (of one period when given), sorted."""
        part = f"period={period}" if Period.is_period(period) else "period=*"
        out = self.backend.glob(kind, part)
        if kind == "runs" and period is None:
            index: dict[str, str] = {}
            for f in out:
                month = _folder_period(f.rel[-2])
                if month is not None:
                    index.setdefault(f.name[: -len(".parquet")], month)
            self._run_index = index
        return out

    def _run_periods(self) -> dict[str, str]:
        """run id → the period folder of its ``runs`` file, from the last listing of the runs
        (every read of the runs lists them; a run added since is simply not known yet, so
        nothing is skipped for it)."""
        if self._run_index is None:
            self._listing("runs")
        return self._run_index or {}

    @staticmethod
    def _misplaced(name: str, period: str | None, runs_at: Mapping[str, str]) -> str | None:
        """Why the file ``name`` is in the wrong folder (not a period folder; a run's file under
        another period than the run's), or None."""
        if period is None:
            return "not in a period folder (period=YYYY-MM): no period to read it under"
        run_id = name.split("__", 1)[0]
        other = runs_at.get(run_id)
        if other is not None and other != period:
            return f"written by run {run_id} of {other}, found under period={period}"
        return None

    def _judge(self, kind: str, f: StoredFile, source: Source) -> tuple[str | None, bool]:
        """(why the file cannot be combined, or None; whether it can be scanned as it is), from
        its footer (cached while the file is unchanged)."""
        hit = self._checked.get(f.key)
        if hit is not None:
            return hit
        try:
            result = schema_problem(pl.read_parquet_schema(_polars_source(source)), kind)
        except Exception as exc:  # truncated, empty, not Parquet, a folder, not fetched
            result = (f"unreadable: {describe_error(exc)}", False)
        self._checked[f.key] = result
        return result

    def _load(
        self, kind: str, f: StoredFile, source: Source, keep: bool = True
    ) -> tuple[pl.DataFrame | None, str | None]:
        """(the file's rows in its folder's schema, or None; why not) read whole. ``keep``:
        remember the rows, not only a failure."""
        hit = self._loaded.get(f.key)
        if hit is not None:
            return hit
        frame: pl.DataFrame | None = None
        reason: str | None = None
        try:
            frame = conform(pl.read_parquet(_polars_source(source)), kind)
        except StoreError as exc:
            reason = str(exc)
        except Exception as exc:
            reason = f"unreadable: {describe_error(exc)}"
        if reason is not None:
            self._checked[f.key] = (reason, False)
            self._loaded[f.key] = (None, reason)
        elif keep:
            self._loaded[f.key] = (frame, None)
        return frame, reason

    def _skip(self, loc: Any, reason: str) -> None:
        """Warn once per file and reason that ``loc`` is left out of what is read."""
        if (str(loc), reason) in self._warned:
            return
        self._warned.add((str(loc), reason))
        what = "unreadable store file skipped" if reason.startswith("unreadable: ") else "store file skipped"
        why = reason.removeprefix("unreadable: ")
        self.warn(f"{self.display(loc)}: {what} ({why}); `dq history --check` lists them")

    def _read(
        self, kind: str, period: str | None = None, where: pl.Expr | None = None, prefix: str = ""
    ) -> pl.DataFrame:
        """The rows of the files of folder ``kind`` (of one ``period``; of the files whose name
        starts with ``prefix``) in the folder's schema, with their ``period``, filtered by
        ``where``. A file that cannot be combined is skipped with a warning naming it."""
        want = folder_schema(kind)
        if want is None:
            raise ValueError(f"{kind!r} is not a folder of the store ({', '.join(FOLDERS)})")
        empty = pl.DataFrame(schema={**want, "period": pl.String})
        if period is not None and not Period.is_period(period):
            return empty  # no folder holds it
        files = [f for f in self._listing(kind, period) if f.name.startswith(prefix)]
        if not files:
            return empty
        runs_at = self._run_periods() if kind in _RUN_FILES else {}
        placed: list[tuple[StoredFile, str]] = []
        for f in files:
            month = _folder_period(f.rel[-2])
            reason = self._misplaced(f.name, month, runs_at)
            if reason is not None or month is None:
                self._skip(f.loc, reason or "unreadable")
            else:
                placed.append((f, month))
        sources = self.backend.sources([f for f, _ in placed if f.key not in self._loaded])
        scans: dict[str, list[tuple[StoredFile, Source]]] = {}
        frames: list[pl.LazyFrame] = []
        for f, month in placed:
            frame: pl.DataFrame | None = None
            hit = self._loaded.get(f.key)
            if hit is not None:
                frame, reason = hit
            else:
                source = sources[f.key]
                reason, exact = self._judge(kind, f, source)
                if reason is None and exact:
                    scans.setdefault(month, []).append((f, source))
                    continue
                if reason is None:
                    frame, reason = self._load(kind, f, source)
            if reason is not None or frame is None:
                self._skip(f.loc, reason or "unreadable")
                continue
            frames.append(frame.lazy().with_columns(pl.lit(month, pl.String).alias("period")))

        def collect(parts: list[pl.LazyFrame]) -> pl.DataFrame:
            if not parts:
                return empty
            lf = pl.concat(parts, how="vertical")
            return (lf.filter(where) if where is not None else lf).collect(engine=SMALL)

        scanned = [
            pl.scan_parquet(
                [_polars_source(source) for _, source in group],
                schema=want,
                missing_columns="insert",
                extra_columns="ignore",
                hive_partitioning=False,
            ).with_columns(pl.lit(month, pl.String).alias("period"))
            for month, group in scans.items()
        ]
        try:
            return collect(scanned + frames)
        except Exception:
            if not scans:
                raise
        # A file whose footer reads but whose pages do not: read each alone to find it.
        for month, group in scans.items():
            for f, source in group:
                frame, reason = self._load(kind, f, source, keep=False)
                if frame is None:
                    self._skip(f.loc, reason or "unreadable")
                else:
                    frames.append(frame.lazy().with_columns(pl.lit(month, pl.String).alias("period")))
        return collect(frames)

    def check(self, full: bool = True) -> list[tuple[str, str, str]]:
        """Every file of every folder of the store that a reader would skip or never read:
        (folder, file as users see it, what is wrong). ``full``: read each file whole, not only
        its footer. A file outside ``<folder>/period=YYYY-MM/<name>.parquet`` is listed too
        (no command reads it); hidden files (a writer's lock, a temporary file) are not.
        What ``dq history --check`` reports; :attr:`checked` is then the number of files seen."""
        found = self.backend.walk()
        self._listing("runs")  # afresh
        runs_at = self._run_periods()
        out: list[tuple[str, str, str]] = []
        todo: list[tuple[str, StoredFile]] = []
        for f in found:
            rel = f.rel
            kind = rel[0] if len(rel) > 1 else ""
            if len(rel) != 3 or not rel[2].endswith(".parquet"):
                where = f"{kind or '<folder>'}/period=YYYY-MM/<name>.parquet"
                why = f"not where the store keeps its files ({where}): no command reads it"
                out.append((kind, self.display(f.loc), why))
                continue
            reason = self._misplaced(f.name, _folder_period(rel[1]), runs_at if kind in _RUN_FILES else {})
            if reason is not None:
                out.append((kind, self.display(f.loc), reason))
            else:
                todo.append((kind, f))
        for i in range(0, len(todo), 256):  # a batch at a time: a large store is never held whole
            chunk = todo[i : i + 256]
            sources = self.backend.sources([f for _, f in chunk], keep=False)
            for kind, f in chunk:
                reason, exact = self._judge(kind, f, sources[f.key])
                if reason is None and (full or not exact):
                    reason = self._load(kind, f, sources[f.key], keep=False)[1]
                if reason is not None:
                    out.append((kind, self.display(f.loc), reason))
        self.checked = len(found)
        return sorted(out, key=lambda t: t[1])

    def problems(self, full: bool = True) -> list[tuple[str, str]]:
        """Every store file that a reader skips or never reads, with the reason (``full``: read
        each file whole, not only its footer): :meth:`check` without the folder."""
        return [(f, why) for _, f, why in self.check(full)]

    def rows(self, kind: str, period: str | None = None) -> pl.DataFrame:
        """Every row of the files of ``kind`` (of one period when given) in the folder's schema
        (:data:`SCHEMAS`), with ``period``; files that cannot be combined are skipped, named."""
        return self._read(kind, period)

    def run_rows(self, kind: str, period: str, run_id: str) -> pl.DataFrame:
        """Every row of ``kind`` (``scores``, ``results``, ...) that run ``run_id`` wrote for
        ``period``, read straight from that run's files (empty when there are none)."""
        return self._read(kind, period, prefix=f"{run_id}__").drop("period")

    def runs(self, resolve_stale: bool = True) -> pl.DataFrame:
        """Every run, oldest first. A ``running`` row whose process no longer holds the store's
        lock is reported as ``interrupted``."""
        df = self._read("runs").sort("started_at")
        if resolve_stale and (df["status"] == "running").any() and not self.locked():
            df = df.with_columns(
                pl.when(pl.col("status") == "running")
                .then(pl.lit("interrupted"))
                .otherwise(pl.col("status"))
                .alias("status")
            )
        return df

    def periods(self) -> list[str]:
        return sorted(self.runs()["period"].unique().to_list())

    def _latest(self, kind: str, period: str | None) -> pl.DataFrame:
        """Rows of ``kind`` from each unit's latest run (per period)."""
        runs = self.runs().select("run_id", "started_at")  # first: its listing dates the runs' files
        df = self._read(kind, period)
        if df.is_empty():
            return df
        df = df.join(runs, on="run_id", how="left")
        latest = df.group_by("period", "unit_id").agg(pl.col("started_at").max().alias("_latest"))
        return (
            df.join(latest, on=["period", "unit_id"])
            .filter(pl.col("started_at") == pl.col("_latest"))
            .drop("_latest")
        )

    def scores(self, period: str | None = None, facet: str | None = "overall") -> pl.DataFrame:
        """Latest scores per unit (one facet, or all with ``facet=None``)."""
        df = self._latest("scores", period)
        if df.is_empty():
            return pl.DataFrame(schema={"period": pl.String, **SCORE_SCHEMA})
        return df.filter(pl.col("facet") == facet) if facet else df

    def results(self, period: str, unit_id: str | None = None, run_id: str | None = None) -> pl.DataFrame:
        if run_id is not None:
            df = self._read("results", period, where=pl.col("run_id") == run_id)
        else:
            df = self._latest("results", period)
        if df.is_empty():
            return pl.DataFrame(schema={"period": pl.String, **RESULT_SCHEMA})
        return df.filter(pl.col("unit_id") == unit_id) if unit_id else df

    def previous_results(
        self, period: str, unit_id: str, same_source: bool = False
    ) -> tuple[str | None, pl.DataFrame]:
        """The unit's results from the run before its latest one for ``period``: an earlier run
        of the same period, else its latest run of the most recent earlier period (``same_source``:
        only runs of the latest run's source, batch or published).
        Returns (that run's period or None, results)."""
        mine = (pl.col("unit_id") == unit_id) & (pl.col("facet") == "overall") & (pl.col("status") == "ok")
        runs = self.runs().select("run_id", "started_at", "source")
        seen = (
            self._read("scores", where=mine)
            .select("period", "run_id")
            .join(runs, on="run_id")
            .filter(pl.col("period") <= period)
            .sort(["period", "started_at"])
        )
        latest = seen.filter(pl.col("period") == period).tail(1)
        if same_source and latest.height:
            seen = seen.filter(pl.col("source") == latest["source"][0])
        # Earlier periods come first whenever their runs started (a backfilled month is still
        # the month before), then the earlier runs of the same period.
        before = seen.filter(
            (pl.col("period") < period)
            | ((pl.col("period") == period) & (pl.col("started_at") < latest["started_at"][0]))
            if latest.height
            else pl.col("period") < period
        )
        if before.is_empty():
            return None, pl.DataFrame(schema={"period": pl.String, **RESULT_SCHEMA})
        prev = before.tail(1).row(0, named=True)
        return prev["period"], self.results(prev["period"], unit_id, run_id=prev["run_id"])

    def summaries(self, period: str | None = None) -> pl.DataFrame:
        return self._latest("summaries", period)

    def table_rows(self, period: str | None = None) -> pl.DataFrame:
        """Rows of each uploaded table per unit and period, from each unit's latest run
        (columns period, unit_id, table, rows; a table not uploaded has no row)."""
        df = self._latest("tables", period)
        if df.is_empty():
            return pl.DataFrame(schema={"period": pl.String, **TABLE_SCHEMA})
        return df.select("period", *TABLE_SCHEMA)

    def scored_units(self, period: str) -> set[str]:
        """Units with a successful score for the period (skipped when resuming)."""
        df = self.scores(period)
        if df.is_empty():
            return set()
        return set(df.filter(pl.col("status") == "ok")["unit_id"].to_list())

    def history(self, unit_id: str) -> pl.DataFrame:
        """The unit's latest overall score in every period, oldest first."""
        df = self.scores(None)
        if df.is_empty():
            return df
        return df.filter(pl.col("unit_id") == unit_id).sort("period")

    def unit_results(self, period: str, unit_id: str) -> tuple[list[RuleResult], dict[str, tuple[str, str]]]:
        """The unit's latest stored results as :class:`RuleResult` objects, and their fixes."""
        df = self.results(period, unit_id)
        out: list[RuleResult] = []
        fixes: dict[str, tuple[str, str]] = {}
        for row in df.iter_rows(named=True):
            threshold = {k: row[k] for k in ("max_fraction", "max_count") if row.get(k) is not None}
            try:
                samples = tuple(json.loads(row["samples"] or "[]"))
            except ValueError:
                samples = ()
            out.append(
                RuleResult(
                    rule=row["rule"],
                    suite=row["suite"],
                    table=row["table"],
                    check=row["check"],
                    columns=tuple(c for c in (row["columns"] or "").split(",") if c),
                    dimension=row["dimension"],
                    severity=row["severity"],
                    status=row["status"],
                    evaluated=row["evaluated"] or 0,
                    failed=row["failed"] or 0,
                    fail_fraction=row["fail_fraction"],
                    message=row["message"] or "",
                    samples=samples,
                    weight=row["weight"] if row["weight"] is not None else 1.0,
                    threshold=threshold,
                    title_zh=row["title_zh"] or "",
                    title_en=row["title_en"] or "",
                )
            )
            fixes[row["rule"]] = (row["fix_zh"] or "", row["fix_en"] or "")
        return out, fixes

    def unfinished_units(self, period: str) -> pl.DataFrame:
        """Latest overall scores of the period whose run did not complete (a killed batch)."""
        scores = self.scores(period)
        if scores.is_empty():
            return scores
        runs = self.runs().select("run_id", pl.col("status").alias("run_status"))
        return scores.join(runs, on="run_id", how="left").filter(pl.col("run_status") != "complete")
