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
from pathlib import Path
from typing import Any

import polars as pl

from dq import __version__
from dq.engine.messages import message_args
from dq.engine.results import RuleResult
from dq.errors import InputError, OutputError, StoreError
from dq.io.masking import describe_error
from dq.io.period import Period
from dq.io.urls import file_url_path, first_line, is_url, url_fs
from dq.scoring.scores import RulePoints, UnitScore

__all__ = [
    "RUN_SCHEMA",
    "RUN_STATUSES",
    "TABLE_SCHEMA",
    "ObjectLock",
    "Run",
    "Store",
    "safe_name",
    "suites_hash",
]

#: A run is ``running`` while its process holds the store's lock; it ends ``complete`` (every unit
#: was tried, some may have errors), ``failed`` (the batch stopped on an error of its own, e.g. the
#: store became unwritable) or ``interrupted`` (killed or stopped by the user; a ``running`` row
#: whose process is gone is read as ``interrupted``).
RUN_STATUSES = ("running", "complete", "failed", "interrupted")
LOCK_NAME = ".dq-lock"

RUN_SCHEMA = {
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
RESULT_SCHEMA = {
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
TABLE_SCHEMA = {"run_id": pl.String, "unit_id": pl.String, "table": pl.String, "rows": pl.Int64}
SCORE_SCHEMA = {
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


_SCHEMAS = {
    "runs": RUN_SCHEMA,
    "results": RESULT_SCHEMA,
    "scores": SCORE_SCHEMA,
    "tables": TABLE_SCHEMA,
    "summaries": {"run_id": pl.String, "unit_id": pl.String},
}


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
SMALL = "in-memory"


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


_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def safe_name(unit_id: str) -> str:
    """A file-name part for ``unit_id``: the id itself when it is short and plain, else a
    cleaned prefix plus a hash of the id, so that two ids never share a file and no name is too
    long (``H/011`` and ``H_011`` get different names)."""
    if _SAFE_NAME.fullmatch(unit_id) and ".." not in unit_id:
        return unit_id
    clean = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_") else "_" for ch in unit_id)[:40]
    return f"{clean}~{hashlib.sha256(unit_id.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}"


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
        return bool(m) and m.group(2) == socket.gethostname() and not _pid_alive(int(m.group(1)))

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


_PERIOD_SEGMENT = re.compile(r"/period=([^/]+)/[^/]+$")


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
        self._checked: dict[tuple[str, int, int], str | None] = {}
        self._loaded: dict[tuple[str, Any, Any], tuple[pl.DataFrame | None, str | None]] = {}
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
        """The Parquet file ``parts`` of the store, or None when it does not exist (a file that
        cannot be read is an :class:`InputError` naming it)."""
        path = self.location(*parts)
        try:
            if not self.remote:
                if not Path(path).exists():
                    return None
                return pl.read_parquet(path)
            return pl.read_parquet(io.BytesIO(self._fs.cat_file(path)))
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise InputError(f"{self.display(path)}: cannot read the store file ({first_line(exc)})") from exc

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
    def _files(self, kind: str) -> list[Path]:
        """The readable files of ``kind``; an unreadable one is skipped with a warning naming it
        (once per file and Store), and listed by :meth:`problems`."""
        folder = Path(self.root) / kind
        good = []
        for f in sorted(folder.glob("period=*/*.parquet")):
            reason = self._unreadable(f, kind)
            if reason is None:
                good.append(f)
            elif f not in self._warned:
                self._warned.add(f)
                self.warn(f"{f}: unreadable store file skipped ({reason}); `dq history --check` lists them")
        return good

    def _unreadable(self, f: Path, kind: str) -> str | None:
        """Why ``f`` cannot be read as a ``kind`` file (its footer and schema), or None."""
        try:
            st = f.stat()
        except OSError as exc:
            return exc.strerror or str(exc)
        key = (str(f), st.st_mtime_ns, st.st_size)
        if key in self._checked:
            return self._checked[key]
        reason = None
        try:
            schema = pl.read_parquet_schema(f)
            want = _SCHEMAS.get(kind, {})
            missing = [c for c in ("run_id", "unit_id") if c in want and c not in schema]
            if missing:
                reason = f"not a {kind} file: no column {', '.join(missing)}"
        except Exception as exc:  # truncated, not Parquet, unreadable
            reason = describe_error(exc)
        self._checked[key] = reason
        return reason

    # -- reading a store behind a URL ------------------------------------------------------
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
        return {p: found[p] for p in sorted(found)}

    def _remote_frames(self, kind: str, period: str | None = None) -> list[tuple[str, pl.DataFrame]]:
        """(path, rows with their ``period``) of each readable file of ``kind``; the others are
        skipped with a warning, as on a folder. Files already read are not fetched again."""
        listing = self._remote_listing(kind, period)
        keys = {
            p: (p, info.get("size"), info.get("ETag") or info.get("mtime") or info.get("created"))
            for p, info in listing.items()
        }
        todo = [p for p, key in keys.items() if key not in self._loaded]
        if todo:
            try:
                blobs = self._fs.cat(todo, on_error="return")
            except Exception as exc:
                raise StoreError(f"{self.root}: cannot read the store ({first_line(exc)})") from exc
            if not isinstance(blobs, dict):
                blobs = {todo[0]: blobs}
            want = _SCHEMAS.get(kind, {})
            for p in todo:
                blob = blobs.get(p)
                frame, reason = None, None
                try:
                    if isinstance(blob, BaseException):
                        raise blob
                    frame = pl.read_parquet(io.BytesIO(blob))
                    missing = [c for c in ("run_id", "unit_id") if c in want and c not in frame.columns]
                    if missing:
                        frame, reason = None, f"not a {kind} file: no column {', '.join(missing)}"
                except Exception as exc:
                    frame, reason = None, describe_error(exc)
                if frame is not None:
                    m = _PERIOD_SEGMENT.search(p)
                    frame = frame.with_columns(pl.lit(m.group(1) if m else None, pl.String).alias("period"))
                self._loaded[keys[p]] = (frame, reason)
        out = []
        for p, key in keys.items():
            frame, reason = self._loaded[key]
            if frame is not None:
                out.append((p, frame))
            elif p not in self._warned:
                self._warned.add(p)
                self.warn(
                    f"{self.display(p)}: unreadable store file skipped ({reason}); "
                    "`dq history --check` lists them"
                )
        return out

    def _remote_problems(self) -> list[tuple[Any, str]]:
        out = []
        for kind in ("runs", "results", "scores", "summaries", "tables"):
            self._remote_frames(kind)
            for p, info in self._remote_listing(kind).items():
                key = (p, info.get("size"), info.get("ETag") or info.get("mtime") or info.get("created"))
                reason = self._loaded.get(key, (None, "changed while being read"))[1]
                if reason is not None:
                    out.append((self.display(p), reason))
        return out

    def problems(self, full: bool = True) -> list[tuple[Path, str]]:
        """Every store file that cannot be read, with the reason (``full``: read each file
        whole, not only its footer). What ``dq history --check`` reports."""
        if self.remote:
            return self._remote_problems()
        out = []
        for kind in ("runs", "results", "scores", "summaries", "tables"):
            for f in sorted((Path(self.root) / kind).glob("period=*/*.parquet")):
                reason = self._unreadable(f, kind)
                if reason is None and full:
                    try:
                        pl.read_parquet(f)
                    except Exception as exc:
                        reason = describe_error(exc)
                if reason is not None:
                    out.append((f, reason))
        return out

    def _scan(self, kind: str, period: str | None = None) -> pl.LazyFrame | None:
        """The rows of ``kind`` with their ``period`` (``period``: a hint that only that
        period's rows are needed; on a folder every file is scanned lazily anyway)."""
        if self.remote:
            frames = [f for _, f in self._remote_frames(kind, period)]
            if not frames:
                return None
            return pl.concat(frames, how="diagonal_relaxed").lazy()
        files = self._files(kind)
        if not files:
            return None
        return pl.scan_parquet(files, hive_partitioning=True, missing_columns="insert").with_columns(
            pl.col("period").cast(pl.String)
        )

    def rows(self, kind: str, period: str | None = None) -> pl.DataFrame:
        """Every row of the files of ``kind`` (of one period when given), with ``period``."""
        lf = self._scan(kind, period)
        if lf is None:
            return pl.DataFrame()
        return (lf.filter(pl.col("period") == period) if period else lf).collect(engine=SMALL)

    def run_rows(self, kind: str, period: str, run_id: str) -> pl.DataFrame:
        """Every row of ``kind`` (``scores``, ``results``, ...) that run ``run_id`` wrote for
        ``period``, read straight from that run's files (empty when there are none)."""
        prefix = f"{run_id}__"
        if self.remote:
            frames = [
                f.drop("period")
                for p, f in self._remote_frames(kind, period)
                if f"/period={period}/" in p and p.rsplit("/", 1)[-1].startswith(prefix)
            ]
        else:
            files = sorted(Path(self.root, kind).glob(f"period={period}/{prefix}*.parquet"))
            frames = [pl.read_parquet(f) for f in files]
        return pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()

    def runs(self, resolve_stale: bool = True) -> pl.DataFrame:
        """Every run, oldest first. A ``running`` row whose process no longer holds the store's
        lock is reported as ``interrupted``."""
        lf = self._scan("runs")
        if lf is None:
            return pl.DataFrame(schema={"period": pl.String, **RUN_SCHEMA})
        df = lf.collect(engine=SMALL).sort("started_at")
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
        lf = self._scan(kind, period)
        if lf is None:
            return pl.DataFrame()
        if period is not None:
            lf = lf.filter(pl.col("period") == period)
        runs = self.runs().select("run_id", "started_at")
        df = lf.collect(engine=SMALL).join(runs, on="run_id", how="left")
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
            lf = self._scan("results", period)
            # Filter the partition first so only that period's files are read.
            cond = (pl.col("period") == period) & (pl.col("run_id") == run_id)
            df = lf.filter(cond).collect(engine=SMALL) if lf is not None else pl.DataFrame()
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
        lf = self._scan("scores")
        if lf is None:
            return None, pl.DataFrame(schema={"period": pl.String, **RESULT_SCHEMA})
        runs = self.runs().select("run_id", "started_at", "source")
        seen = (
            lf.filter(
                (pl.col("unit_id") == unit_id) & (pl.col("facet") == "overall") & (pl.col("status") == "ok")
            )
            .select("period", "run_id")
            .collect(engine=SMALL)
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
