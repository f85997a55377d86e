"""Score history: a Hive-partitioned Parquet dataset, one folder per period.

    <store>/runs/period=2020-09/<run_id>.parquet              one row: run metadata
    <store>/results/period=2020-09/<run_id>__<unit>.parquet    rule results of one unit
    <store>/scores/period=2020-09/<run_id>__<unit>.parquet     unit × facet scores
    <store>/summaries/period=2020-09/<run_id>__<unit>.parquet  the unit's submission summary
    <store>/tables/period=2020-09/<run_id>__<unit>.parquet     rows of each table the unit uploaded

Files are written to a temporary name and renamed (atomic on POSIX), one unit at a time, so an
interrupted run keeps what it finished and can be resumed. Every run is kept. The *latest* score
of a unit for a period is the one from the most recently started run that scored it. Plain
Polars reads it: ``pl.scan_parquet("<store>/scores/**/*.parquet", hive_partitioning=True)``;
DuckDB likewise with ``read_parquet('<store>/scores/*/*.parquet', hive_partitioning=true)``.

The store may also be an fsspec URL (``s3://bucket/dq/history``, ``memory://…``; ``file:///…``
is the local folder it names and is handled as one). On an object store there is no rename and
no file lock: each file is written as one object in a single request (a reader sees the whole
object or none), and the writer's lock is a ``.dq-lock`` object created only if absent
(:class:`ObjectLock`); see docs/scale.md for what that does and does not guarantee.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import re
import socket
import sys
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import polars as pl

from dq import __version__
from dq.engine.messages import message_args
from dq.engine.results import RuleResult
from dq.errors import InputError, OutputError, StoreError
from dq.io.masking import describe_error
from dq.io.outputs import safe_filename
from dq.io.period import Period
from dq.io.urls import file_url_path, first_line, is_url, url_fs
from dq.scoring.scores import RulePoints, UnitScore, UnitStatus

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
    "RunStatus",
    "Store",
    "conform",
    "folder_schema",
    "safe_name",
    "schema_problem",
    "suites_hash",
]


class RunStatus(StrEnum):
    """A run's ``status`` in ``<store>/runs/`` (a :class:`~enum.StrEnum`: the stored text is the
    member's value). A run is ``running`` while its process holds the store's lock; it ends
    ``complete`` (every unit was tried, some may have errors), ``failed`` (the batch stopped on an
    error of its own, e.g. the store became unwritable) or ``interrupted`` (killed or stopped by
    the user; a ``running`` row whose process is gone is read as ``interrupted``)."""

    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


RUN_STATUSES: tuple[RunStatus, ...] = tuple(RunStatus)
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


def _type_name(dtype: Any) -> str:
    """A column type in words (never a struct's field names: they come from the file)."""
    if _is_text(dtype):
        return "text"
    if dtype.is_integer() or dtype.is_numeric():
        plain = "whole numbers" if dtype.is_integer() else "numbers"
        return plain if dtype in (pl.Int64, pl.Float64) else f"{plain} ({dtype})"
    if isinstance(dtype, pl.Datetime):
        return "timestamps"
    if dtype == pl.Date:
        return "dates"
    if dtype == pl.Boolean:
        return "true/false values"
    if dtype == pl.Null:
        return "nulls"
    return f"{dtype.base_type().__name__.lower()} values"


def _is_text(dtype: Any) -> bool:
    return (
        dtype == pl.String
        or dtype in (pl.Categorical, pl.Enum)
        or isinstance(dtype, pl.Categorical | pl.Enum)
    )


def _castable(have: Any, want: Any) -> bool:
    """True when a column of type ``have`` may be read as ``want`` (each value still has to convert)."""
    if have == want or have == pl.Null:
        return True
    text = _is_text(have)
    plain = have.is_numeric() or have.is_temporal() or have == pl.Boolean
    if want == pl.String:
        return text or plain
    if want.is_integer() or want.is_float():
        return text or have.is_numeric()
    if isinstance(want, pl.Datetime):
        return text or have == pl.Date or isinstance(have, pl.Datetime)
    return False


#: The ways a timestamp written as text is read (ISO 8601 with ``T`` or a space, with or without
#: a zone; a naive one is UTC), each value by the first that fits.
_TIMESTAMP_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d",
)


def _convert(s: pl.Series, want: Any) -> pl.Series | str:
    """``s`` as type ``want``, or why it cannot be: a safe conversion in which every value converts."""
    have = s.dtype
    if have == want:
        return s
    if not _castable(have, want):
        return f"column {s.name} holds {_type_name(have)}, not {_type_name(want)}"
    if _is_text(have):
        s = s.cast(pl.String)
        have = s.dtype
    if have == pl.Null:
        out = s.cast(want)
    elif want == pl.String:
        out = s.cast(pl.String)
    elif have == pl.String and isinstance(want, pl.Datetime):
        text = s.str.strip_chars()
        tries = [
            text.str.to_datetime(format=f, time_unit=want.time_unit, time_zone=want.time_zone, strict=False)
            for f in _TIMESTAMP_FORMATS
        ]
        out = pl.select(pl.coalesce([pl.lit(x) for x in tries])).to_series()
    elif have == pl.String:
        out = s.str.strip_chars().cast(want, strict=False)
    elif isinstance(want, pl.Datetime):
        out = s.cast(pl.Datetime(want.time_unit)) if have == pl.Date else s.dt.cast_time_unit(want.time_unit)
        if want.time_zone is not None and getattr(out.dtype, "time_zone", None) is None:
            out = out.dt.replace_time_zone(want.time_zone)  # a naive timestamp is read as UTC
        elif want.time_zone is not None:
            out = out.dt.convert_time_zone(want.time_zone)
    elif want.is_integer() and have.is_float():
        v = pl.col(s.name)
        whole = v.is_finite() & (v == v.round(0))
        out = s.to_frame().select(pl.when(whole).then(v).cast(want, strict=False)).to_series()
    else:
        out = s.cast(want, strict=False)
    lost = out.null_count() - s.null_count()
    if lost > 0:
        kinds = f"from {_type_name(have)} to {_type_name(want)}"
        return f"column {s.name}: {lost} of {s.len()} values do not convert {kinds}"
    return out.alias(s.name)


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
        f"column {c} holds {_type_name(columns[c])}, not {_type_name(t)}"
        for c, t in want.items()
        if c in columns and not _castable(columns[c], t)
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
        got = _convert(frame[name], dtype)
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


def _atomic_write(frame: pl.DataFrame, path: Path) -> None:
    """Write ``frame`` to a temporary name, then rename it: readers never see half a file.

    A store that cannot be written (read-only, full, not a folder) is an :class:`OutputError`
    naming the path; the temporary file is removed whatever happens.
    """
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.write_parquet(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)  # never leave a half-written file behind
        if isinstance(exc, OSError) or type(exc).__module__.startswith("polars"):
            reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0][:200]
            raise OutputError(
                f"{path}: cannot write to the store ({reason}); is the disk full or the folder read-only?"
            ) from exc
        raise


def safe_name(unit_id: str) -> str:
    """A file-name part for ``unit_id``: :func:`dq.io.outputs.safe_filename` (the id itself when it
    is short and plain, else a cleaned prefix plus a hash of the id, so that two ids never share
    a file and no name is too long)."""
    return safe_filename(unit_id)


_safe = safe_name


def _warn_stderr(message: str) -> None:
    print(f"dq: warning: {message}", file=sys.stderr)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


_HOLDER = re.compile(r"pid (\d+) on (\S+)")


class ObjectLock:
    """A writer's lock for a store on an object store, where there is no ``flock``: the object
    ``path`` (``<store>/.dq-lock``), created only if it does not exist yet.

    The object is created with fsspec's exclusive mode (``"xb"``: on S3 a conditional write,
    ``If-None-Match: *``, which the server applies atomically); on a file system that ignores
    that mode, only the existence check just before protects, so two runs started at the same
    moment could both proceed. A run removes its lock object when it ends. A killed run leaves
    it: the next run on the same host takes it over when the process named in it is gone;
    from any other host it is refused, naming the lock object to delete once that run is known
    to be over.
    """

    def __init__(self, fs: Any, path: str, what: str = "dq run", url: str | None = None):
        self.fs = fs
        self.path = path
        self.what = what
        self.url = url or fs.unstrip_protocol(path)  # the lock object, as users name it
        self.token = ""

    def holder(self) -> str | None:
        """The lock object's text (who holds it), or None when there is none."""
        try:
            self.fs.invalidate_cache(self.path)
            return self.fs.cat_file(self.path).decode("utf-8", "replace").strip() or "another process"
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise StoreError(f"{self.url}: cannot read the store's lock ({first_line(exc)})") from exc

    @staticmethod
    def stale(holder: str) -> bool:
        """True when ``holder`` names a process of this host that no longer runs."""
        m = _HOLDER.search(holder)
        return m is not None and m.group(2) == socket.gethostname() and not _pid_alive(int(m.group(1)))

    def held_by_other(self) -> bool:
        holder = self.holder()
        return holder is not None and not self.stale(holder) and (not self.token or self.token not in holder)

    def acquire(self) -> None:
        self.token = uuid.uuid4().hex
        text = (
            f"pid {os.getpid()} on {socket.gethostname()} since {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC"
            f" ({self.what}, token {self.token})\n"
        )
        for attempt in range(2):
            holder = self.holder()
            if holder is None:
                try:
                    with self.fs.open(self.path, "xb") as fh:
                        fh.write(text.encode())
                    return
                except FileExistsError:
                    holder = self.holder() or "another process"
                except Exception as exc:
                    raise OutputError(
                        f"{self.url}: cannot create the store's lock ({first_line(exc)}); "
                        "is the store writable?"
                    ) from exc
            if attempt == 0 and self.stale(holder):
                if self.holder() == holder:  # still that dead run's (not another taker's by now)
                    with contextlib.suppress(FileNotFoundError):
                        self.fs.rm_file(self.path)  # its process is gone: take over
                continue
            who = re.sub(r",? ?token [0-9a-f]+", "", holder)
            store = self.url.rsplit("/", 1)[0]
            raise InputError(
                f"{store}: the store is in use by another dq run ({who}); wait for it to finish, "
                f"or delete {self.url} if that run is gone"
            )

    def release(self) -> None:
        """Remove the lock object if it is still this run's."""
        with contextlib.suppress(Exception):
            holder = self.holder()
            if holder is not None and self.token and self.token in holder:
                self.fs.rm_file(self.path)
        self.token = ""

    @contextlib.contextmanager
    def held(self):
        self.acquire()
        try:
            yield self
        finally:
            self.release()


#: The folders whose files are named ``<run_id>__<unit>.parquet`` by the run that wrote them.
_RUN_FILES = ("results", "scores", "summaries", "tables", "fixrows")


def _folder_period(name: str) -> str | None:
    """The month of a folder named ``period=YYYY-MM``, else None."""
    label = name.removeprefix("period=")
    return label if label != name and Period.is_period(label) else None


def _file_name(loc: Any) -> str:
    return str(loc).rsplit("/", 1)[-1]


class Store:
    """Read and write the history dataset rooted at ``root``.

    ``root`` is a folder, or an fsspec URL (``s3://bucket/history``; ``file:///…`` is the
    local folder). For a URL :attr:`root` is the URL (a string), otherwise a :class:`Path`.

    A file of the store that cannot be read (truncated, not Parquet, a stray file) is skipped
    with a warning naming it (``warn``, default: standard error), so the rest of the history
    stays usable; :meth:`problems` lists them.
    """

    def __init__(self, root: str | Path, warn: Callable[[str], None] | None = None):
        self._fs: Any = None
        self._base = ""
        self._lock_fh: Any = None
        self._auto_lock = False
        self.warn = warn or _warn_stderr
        self._warned: set[Any] = set()
        self._checked: dict[tuple, tuple[str | None, bool]] = {}  # file → (why not, scan as is)
        self._loaded: dict[tuple, tuple[pl.DataFrame | None, str | None]] = {}  # file → (rows, why not)
        self.checked = 0  # files seen by the last check()
        self._run_index: dict[str, str] | None = None  # run id → its period, see _run_periods
        if is_url(root):
            local = file_url_path(str(root))
            if local is None:
                self.root: Path | str = str(root).rstrip("/")
                self._fs, base = url_fs(self.root)
                self._base = base.rstrip("/")
                return
            root = local
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise StoreError(f"{self.root}: is a file, not a history store (give --store a folder)")

    @property
    def remote(self) -> bool:
        """True for a store behind an fsspec URL (an object store), False for a local folder."""
        return self._fs is not None

    def exists(self) -> bool:
        """True when the store has been written to (its folder, or some object under its URL)."""
        if not self.remote:
            return Path(self.root).exists()
        try:
            self._fs.invalidate_cache()
            return bool(self._fs.exists(self._base))
        except Exception as exc:
            raise StoreError(f"{self.root}: cannot reach the store ({first_line(exc)})") from exc

    def location(self, *parts: str) -> Path | str:
        """A file or folder of the store (a :class:`Path`, or a path of the URL's file system)."""
        if not self.remote:
            return Path(self.root, *parts)
        return "/".join([self._base, *parts])

    def display(self, location: Path | str) -> str:
        """``location`` as users see it (a path, or a full URL)."""
        if not self.remote:
            return str(location)
        text = str(location)
        if text == self._base or text.startswith(self._base + "/"):
            return str(self.root) + text[len(self._base) :]  # as the user wrote the URL
        return self._fs.unstrip_protocol(text)

    def write_frame(self, frame: pl.DataFrame, *parts: str) -> Path | str:
        """Write ``frame`` as the Parquet file ``parts`` of the store, whole or not at all (a
        temporary file renamed on a folder, one object in one request on an object store)."""
        path = self.location(*parts)
        self._write(frame, path)
        return path

    def read_frame(self, *parts: str) -> pl.DataFrame | None:
        """The Parquet file ``parts`` of the store in its folder's schema (:func:`conform`), or
        None when it does not exist, or when it cannot be read or combined: then, as every
        reader of the store does, it is skipped with a warning naming it (``dq history --check``
        lists it)."""
        path = self.location(*parts)
        try:
            if not self.remote:
                if not Path(path).exists():
                    return None
                frame = pl.read_parquet(path)
            else:
                frame = pl.read_parquet(io.BytesIO(self._fs.cat_file(path)))
            return conform(frame, parts[0]) if parts else frame
        except FileNotFoundError:
            return None
        except StoreError as exc:
            self._skip(path, str(exc))
        except Exception as exc:
            self._skip(path, f"unreadable: {describe_error(exc)}")
        return None

    def _write(self, frame: pl.DataFrame, path: Path | str) -> None:
        if not self.remote:
            _atomic_write(frame, Path(path))
            return
        buf = io.BytesIO()
        frame.write_parquet(buf)
        try:
            self._fs.pipe_file(str(path), buf.getvalue())  # one PUT: the object appears whole
        except Exception as exc:
            raise OutputError(
                f"{self.display(path)}: cannot write to the store ({first_line(exc)}); "
                "is the URL writable with these credentials?"
            ) from exc

    # -- writing -------------------------------------------------------------------------
    def begin_run(self, period: str, suites_hash: str, source: str, root: str = "") -> Run:
        if self._lock_fh is None:  # a writer outside score_batch: hold the lock until finish_run
            self._acquire()
            self._auto_lock = True
        now = datetime.now(UTC)
        run_id = f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
        run = Run(run_id, period, now, suites_hash, source, root)
        self._write_run(run, RunStatus.RUNNING, None, 0, 0)
        return run

    def finish_run(self, run: Run, units: int, errors: int, status: RunStatus = RunStatus.COMPLETE) -> None:
        if status not in RUN_STATUSES[1:]:
            raise ValueError(f"status {status!r} is not one of {', '.join(RUN_STATUSES[1:])}")
        status = RunStatus(status)
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

    def remote_lock(self, name: str, what: str) -> ObjectLock:
        """An :class:`ObjectLock` on the object ``name`` of a store behind a URL."""
        path = str(self.location(name))
        return ObjectLock(self._fs, path, what, url=self.display(path))

    def _acquire(self) -> None:
        if self.remote:
            lock = self.remote_lock(LOCK_NAME, "dq score")
            lock.acquire()
            self._lock_fh = lock
            return
        root = Path(self.root)
        if root.exists() and not root.is_dir():
            raise OutputError(f"{root}: the store exists and is not a folder (choose another --store)")
        try:
            root.mkdir(parents=True, exist_ok=True)
            fh = open(root / LOCK_NAME, "a+")  # noqa: SIM115
        except OSError as exc:
            raise OutputError(f"{root}: cannot use the store ({exc.strerror or exc})") from exc
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise InputError(
                f"{root}: the store is in use by another dq run ({holder}); wait for it to "
                "finish or use another --store"
            ) from None
        with contextlib.suppress(OSError):
            fh.seek(0)
            fh.truncate()
            fh.write(f"pid {os.getpid()} since {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC\n")
            fh.flush()
        self._lock_fh = fh

    def _release(self) -> None:
        if isinstance(self._lock_fh, ObjectLock):
            self._lock_fh.release()
            self._lock_fh = None
        elif self._lock_fh is not None:
            self._lock_fh.close()  # releases the lock
            self._lock_fh = None

    def locked(self) -> bool:
        """True while some process holds the store's writer lock."""
        if self.remote:
            if isinstance(self._lock_fh, ObjectLock):
                return True
            return self.remote_lock(LOCK_NAME, "dq score").held_by_other()
        path = Path(self.root) / LOCK_NAME
        if not path.is_file():
            return False
        try:
            with open(path) as fh:
                try:
                    fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
                except BlockingIOError:
                    return True
                return False
        except OSError:
            return False

    def mark_interrupted(self) -> list[str]:
        """Rewrite the rows of runs still marked ``running`` whose process is gone as
        ``interrupted`` (call with the lock held). Returns their run ids."""
        runs = self.runs(resolve_stale=False)
        stale = runs.filter(pl.col("status") == RunStatus.RUNNING)
        done = []
        for row in stale.iter_rows(named=True):
            run = Run(row["run_id"], row["period"], row["started_at"], row["suites_hash"] or "",
                      row["source"] or "", row["root"] or "")  # fmt: skip
            self._write_run(run, RunStatus.INTERRUPTED, None, row["units"] or 0, row["errors"] or 0)
            done.append(row["run_id"])
        return done

    def _write_run(
        self, run: Run, status: RunStatus, finished: datetime | None, units: int, errors: int
    ) -> None:
        row = {
            "run_id": run.run_id,
            "started_at": run.started_at,
            "finished_at": finished,
            "status": status.value,
            "dq_version": __version__,
            "suites_hash": run.suites_hash,
            "source": run.source,
            "root": run.root,
            "units": units,
            "errors": errors,
        }
        self._write(pl.DataFrame([row], schema=RUN_SCHEMA), self._path("runs", run, None))

    def _path(self, kind: str, run: Run, unit_id: str | None) -> Path | str:
        name = run.run_id if unit_id is None else f"{run.run_id}__{_safe(unit_id)}"
        return self.location(kind, f"period={run.period}", f"{name}.parquet")

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
            "status": (UnitStatus.ERROR if error else UnitStatus.OK).value,
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
    # One path for every folder (runs, results, scores, summaries, tables, fixrows, deliveries):
    # list its files (of one period when asked), judge each against the folder's schema
    # (:func:`conform`), read those that combine and skip the others with a warning naming the
    # file. :meth:`check` walks the same path over every file of the store.

    def _listing(self, kind: str, period: str | None = None) -> list[tuple[Any, tuple, str | None]]:
        """(location, cache key, period) of each Parquet file of ``kind`` (of one period when
        given), sorted; the period is None for a folder not named ``period=YYYY-MM``."""
        part = f"period={period}" if Period.is_period(period) else "period=*"
        out: list[tuple[Any, tuple, str | None]] = []
        if not self.remote:
            for f in sorted((Path(self.root) / kind).glob(f"{part}/*.parquet")):
                if f.name.startswith("."):
                    continue
                try:
                    st = f.stat()
                except OSError:
                    continue  # removed since listed
                out.append((f, (str(f), st.st_mtime_ns, st.st_size), _folder_period(f.parent.name)))
        else:
            for p, info in self._remote_listing(kind, period).items():
                if p.rsplit("/", 1)[-1].startswith("."):
                    continue
                key = (p, info.get("size"), info.get("ETag") or info.get("mtime") or info.get("created"))
                out.append((p, key, _folder_period(p.rsplit("/", 2)[-2])))
        if kind == "runs" and period is None:
            index: dict[str, str] = {}
            for loc, _, month in out:
                if month is not None:
                    index.setdefault(_file_name(loc)[: -len(".parquet")], month)
            self._run_index = index
        return out

    def _remote_listing(self, kind: str, period: str | None = None) -> dict[str, dict[str, Any]]:
        """path → fsspec info of the Parquet files of ``kind`` (of one period when given)."""
        part = f"period={period}" if Period.is_period(period) else "period=*"
        try:
            self._fs.invalidate_cache()  # other processes write too: list afresh
            found = self._fs.glob(f"{self._base}/{kind}/{part}/*.parquet", detail=True)
        except FileNotFoundError:
            return {}
        except Exception as exc:
            raise StoreError(f"{self.root}: cannot list the store ({first_line(exc)})") from exc
        return {p: found[p] for p in sorted(found) if found[p].get("type", "file") == "file"}

    def _run_periods(self) -> dict[str, str]:
        """run id → the period folder of its ``runs`` file, from the last listing of the runs
        (every read of the runs lists them; a run added since is simply not known yet, so
        nothing is skipped for it)."""
        if self._run_index is None:
            self._listing("runs")
        return self._run_index or {}

    @staticmethod
    def _misplaced(loc: Any, period: str | None, runs_at: Mapping[str, str]) -> str | None:
        """Why a file is in the wrong folder (not a period folder; a run's file under another
        period than the run's), or None."""
        if period is None:
            return "not in a period folder (period=YYYY-MM): no period to read it under"
        run_id = _file_name(loc).split("__", 1)[0]
        other = runs_at.get(run_id)
        if other is not None and other != period:
            return f"written by run {run_id} of {other}, found under period={period}"
        return None

    def _judge(self, kind: str, loc: Any, key: tuple) -> tuple[str | None, bool]:
        """(why the local file ``loc`` cannot be combined, or None; whether it can be scanned
        as it is), from its footer (cached while the file is unchanged)."""
        hit = self._checked.get(key)
        if hit is not None:
            return hit
        try:
            result = schema_problem(pl.read_parquet_schema(loc), kind)
        except Exception as exc:  # truncated, empty, not Parquet, a folder
            result = (f"unreadable: {describe_error(exc)}", False)
        self._checked[key] = result
        return result

    def _load(
        self, kind: str, loc: Any, key: tuple, data: Any = None, keep: bool = True
    ) -> tuple[pl.DataFrame | None, str | None]:
        """(the file's rows in its folder's schema, or None; why not) read whole (``data``: its
        bytes, already fetched). ``keep``: remember the rows, not only a failure."""
        hit = self._loaded.get(key)
        if hit is not None:
            return hit
        frame: pl.DataFrame | None = None
        reason: str | None = None
        try:
            if isinstance(data, BaseException):
                raise data
            frame = conform(pl.read_parquet(io.BytesIO(data) if data is not None else loc), kind)
        except StoreError as exc:
            reason = str(exc)
        except Exception as exc:
            reason = f"unreadable: {describe_error(exc)}"
        if reason is not None:
            self._checked[key] = (reason, False)
            self._loaded[key] = (None, reason)
        elif keep:
            self._loaded[key] = (frame, None)
        return frame, reason

    def _fetch(self, kind: str, items: Sequence[tuple[str, tuple]], keep: bool = True) -> None:
        """Read the objects ``items`` (path, key) of a store behind a URL in one request each
        batch, into the cache (``keep``: their rows too, not only whether they combine)."""
        todo = [(p, k) for p, k in items if k not in self._loaded]
        for i in range(0, len(todo), 256):
            chunk = todo[i : i + 256]
            try:
                blobs = self._fs.cat([p for p, _ in chunk], on_error="return")
            except Exception as exc:
                raise StoreError(f"{self.root}: cannot read the store ({first_line(exc)})") from exc
            if not isinstance(blobs, dict):
                blobs = {chunk[0][0]: blobs}
            for p, k in chunk:
                self._load(kind, p, k, data=blobs.get(p, FileNotFoundError(p)), keep=keep)

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
        files = [f for f in self._listing(kind, period) if _file_name(f[0]).startswith(prefix)]
        if not files:
            return empty
        runs_at = self._run_periods() if kind in _RUN_FILES else {}
        if self.remote:
            self._fetch(kind, [(loc, key) for loc, key, p in files if p is not None])
        scans: dict[str, list[tuple[Any, tuple]]] = {}
        frames: list[pl.LazyFrame] = []
        for loc, key, p in files:
            reason = self._misplaced(loc, p, runs_at)
            frame = None
            if reason is None and not self.remote:
                reason, exact = self._judge(kind, loc, key)
                if reason is None and exact:
                    scans.setdefault(str(p), []).append((loc, key))
                    continue
            if reason is None:
                frame, reason = self._load(kind, loc, key)
            if reason is not None or frame is None:
                self._skip(loc, reason or "unreadable")
                continue
            frames.append(frame.lazy().with_columns(pl.lit(p, pl.String).alias("period")))

        def collect(parts: list[pl.LazyFrame]) -> pl.DataFrame:
            if not parts:
                return empty
            lf = pl.concat(parts, how="vertical")
            return (lf.filter(where) if where is not None else lf).collect(engine=SMALL)

        scanned = [
            pl.scan_parquet(
                [str(loc) for loc, _ in group],
                schema=want,
                missing_columns="insert",
                extra_columns="ignore",
                hive_partitioning=False,
            ).with_columns(pl.lit(p, pl.String).alias("period"))
            for p, group in scans.items()
        ]
        try:
            return collect(scanned + frames)
        except Exception:
            if not scans:
                raise
        # A file whose footer reads but whose pages do not: read each alone to find it.
        for p, group in scans.items():
            for loc, key in group:
                frame, reason = self._load(kind, loc, key, keep=False)
                if frame is None:
                    self._skip(loc, reason or "unreadable")
                else:
                    frames.append(frame.lazy().with_columns(pl.lit(p, pl.String).alias("period")))
        return collect(frames)

    def check(self, full: bool = True) -> list[tuple[str, str, str]]:
        """Every file of every folder of the store that a reader would skip or never read:
        (folder, file as users see it, what is wrong). ``full``: read each file whole, not only
        its footer. A file outside ``<folder>/period=YYYY-MM/<name>.parquet`` is listed too
        (no command reads it); hidden files (a writer's lock, a temporary file) are not.
        What ``dq history --check`` reports; :attr:`checked` is then the number of files seen."""
        found = self._every_file()
        self._listing("runs")  # afresh
        runs_at = self._run_periods()
        out: list[tuple[str, str, str]] = []
        todo: list[tuple[str, Any, tuple, str]] = []
        for loc, key, rel in found:
            kind = rel[0] if len(rel) > 1 else ""
            period = _folder_period(rel[1]) if len(rel) == 3 else None
            if len(rel) != 3 or not rel[2].endswith(".parquet"):
                where = f"{kind or '<folder>'}/period=YYYY-MM/<name>.parquet"
                out.append(
                    (
                        kind,
                        self.display(loc),
                        f"not where the store keeps its files ({where}): no command reads it",
                    )
                )
                continue
            reason = self._misplaced(loc, period, runs_at if kind in _RUN_FILES else {})
            if reason is None and not self.remote:
                reason, exact = self._judge(kind, loc, key)
                if reason is None and (full or not exact):
                    reason = self._load(kind, loc, key, keep=False)[1]
            if reason is None and self.remote:
                todo.append((kind, loc, key, self.display(loc)))
                continue
            if reason is not None:
                out.append((kind, self.display(loc), reason))
        for kind in sorted({t[0] for t in todo}):
            self._fetch(kind, [(loc, key) for k, loc, key, _ in todo if k == kind], keep=False)
        for kind, _loc, key, shown in todo:
            reason = self._loaded.get(key, (None, None))[1]
            if reason is not None:
                out.append((kind, shown, reason))
        self.checked = len(found)
        return sorted(out, key=lambda t: t[1])

    def _every_file(self) -> list[tuple[Any, tuple, tuple[str, ...]]]:
        """(location, cache key, path parts below the store) of every file of the store that is
        not hidden (no part starting with a dot)."""
        out: list[tuple[Any, tuple, tuple[str, ...]]] = []
        if not self.remote:
            root = Path(self.root)
            if not root.is_dir():
                return out
            for f in sorted(root.rglob("*")):
                rel = f.relative_to(root).parts
                if any(part.startswith(".") for part in rel):
                    continue
                try:
                    st = f.lstat()
                except OSError:
                    continue
                if f.is_dir() and not f.name.endswith(".parquet"):
                    continue
                out.append((f, (str(f), st.st_mtime_ns, st.st_size), rel))
            return out
        try:
            self._fs.invalidate_cache()
            found = self._fs.find(self._base, detail=True)
        except FileNotFoundError:
            return out
        except Exception as exc:
            raise StoreError(f"{self.root}: cannot list the store ({first_line(exc)})") from exc
        for p in sorted(found):
            info = found[p]
            rel = tuple(p[len(self._base) + 1 :].split("/"))
            if not p.startswith(self._base + "/") or any(part.startswith(".") for part in rel):
                continue
            key = (p, info.get("size"), info.get("ETag") or info.get("mtime") or info.get("created"))
            out.append((p, key, rel))
        return out

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
        if resolve_stale and (df["status"] == RunStatus.RUNNING).any() and not self.locked():
            df = df.with_columns(
                pl.when(pl.col("status") == RunStatus.RUNNING)
                .then(pl.lit(RunStatus.INTERRUPTED.value))
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
        ok = pl.col("status") == UnitStatus.OK
        mine = (pl.col("unit_id") == unit_id) & (pl.col("facet") == "overall") & ok
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
        return set(df.filter(pl.col("status") == UnitStatus.OK)["unit_id"].to_list())

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
        return scores.join(runs, on="run_id", how="left").filter(pl.col("run_status") != RunStatus.COMPLETE)
