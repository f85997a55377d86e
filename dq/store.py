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
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import sys
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from dq import __version__
from dq.errors import InputError, OutputError, StoreError
from dq.masking import describe_error
from dq.messages import message_args
from dq.results import RuleResult
from dq.scoring import RulePoints, UnitScore

__all__ = ["RUN_SCHEMA", "RUN_STATUSES", "TABLE_SCHEMA", "Run", "Store", "safe_name", "suites_hash"]

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
    "message_args": pl.String,  # the message's key and fields (dq.messages), to render it in zh/en
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


class Store:
    """Read and write the history dataset rooted at ``root``.

    A file of the store that cannot be read (truncated, not Parquet, a stray file) is skipped
    with a warning naming it (``warn``, default: standard error), so the rest of the history
    stays usable; :meth:`problems` lists them.
    """

    def __init__(self, root: str | Path, warn: Callable[[str], None] | None = None):
        self.root = Path(root)
        self._lock_fh: Any = None
        self._auto_lock = False
        self.warn = warn or _warn_stderr
        self._warned: set[Path] = set()
        self._checked: dict[tuple[str, int, int], str | None] = {}
        if self.root.exists() and not self.root.is_dir():
            raise StoreError(f"{self.root}: is a file, not a history store (give --store a folder)")

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
        it. The lock is an OS file lock: a killed process releases it, so a stale lock never
        blocks the next run. Re-entrant within one :class:`Store` object.
        """
        if self._lock_fh is not None:
            yield
            return
        self._acquire()
        try:
            yield
        finally:
            self._release()

    def _acquire(self) -> None:
        root = self.root
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
        if self._lock_fh is not None:
            self._lock_fh.close()  # releases the lock
            self._lock_fh = None

    def locked(self) -> bool:
        """True while some process holds the store's writer lock."""
        path = self.root / LOCK_NAME
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
        _atomic_write(pl.DataFrame([row], schema=RUN_SCHEMA), self._path("runs", run, None))

    def _path(self, kind: str, run: Run, unit_id: str | None) -> Path:
        name = run.run_id if unit_id is None else f"{run.run_id}__{_safe(unit_id)}"
        return self.root / kind / f"period={run.period}" / f"{name}.parquet"

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
        _atomic_write(pl.DataFrame(rows, schema=RESULT_SCHEMA), self._path("results", run, uid))
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
        _atomic_write(pl.DataFrame(srows, schema=SCORE_SCHEMA), self._path("scores", run, uid))
        if summary is not None:
            from dq.summary import summary_frame

            frame = summary_frame([summary]).drop("period").with_columns(pl.lit(run.run_id).alias("run_id"))
            _atomic_write(frame, self._path("summaries", run, uid))
        if tables is not None:
            trows = [{"run_id": run.run_id, "unit_id": uid, "table": t, "rows": n} for t, n in tables.items()]
            _atomic_write(pl.DataFrame(trows, schema=TABLE_SCHEMA), self._path("tables", run, uid))

    # -- reading -------------------------------------------------------------------------
    def _files(self, kind: str) -> list[Path]:
        """The readable files of ``kind``; an unreadable one is skipped with a warning naming it
        (once per file and Store), and listed by :meth:`problems`."""
        folder = self.root / kind
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

    def problems(self, full: bool = True) -> list[tuple[Path, str]]:
        """Every store file that cannot be read, with the reason (``full``: read each file
        whole, not only its footer). What ``dq history --check`` reports."""
        out = []
        for kind in ("runs", "results", "scores", "summaries", "tables"):
            for f in sorted((self.root / kind).glob("period=*/*.parquet")):
                reason = self._unreadable(f, kind)
                if reason is None and full:
                    try:
                        pl.read_parquet(f)
                    except Exception as exc:
                        reason = describe_error(exc)
                if reason is not None:
                    out.append((f, reason))
        return out

    def _scan(self, kind: str) -> pl.LazyFrame | None:
        files = self._files(kind)
        if not files:
            return None
        return pl.scan_parquet(files, hive_partitioning=True, missing_columns="insert").with_columns(
            pl.col("period").cast(pl.String)
        )

    def runs(self, resolve_stale: bool = True) -> pl.DataFrame:
        """Every run, oldest first. A ``running`` row whose process no longer holds the store's
        lock is reported as ``interrupted``."""
        lf = self._scan("runs")
        if lf is None:
            return pl.DataFrame(schema={"period": pl.String, **RUN_SCHEMA})
        df = lf.collect().sort("started_at")
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
        lf = self._scan(kind)
        if lf is None:
            return pl.DataFrame()
        if period is not None:
            lf = lf.filter(pl.col("period") == period)
        runs = self.runs().select("run_id", "started_at")
        df = lf.collect().join(runs, on="run_id", how="left")
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
            lf = self._scan("results")
            # Filter the partition first so only that period's files are read.
            cond = (pl.col("period") == period) & (pl.col("run_id") == run_id)
            df = lf.filter(cond).collect() if lf is not None else pl.DataFrame()
        else:
            df = self._latest("results", period)
        if df.is_empty():
            return pl.DataFrame(schema={"period": pl.String, **RESULT_SCHEMA})
        return df.filter(pl.col("unit_id") == unit_id) if unit_id else df

    def previous_results(self, period: str, unit_id: str) -> tuple[str | None, pl.DataFrame]:
        """The unit's results from the run before its latest one for ``period``: an earlier run
        of the same period, else its latest run of the most recent earlier period.
        Returns (that run's period or None, results)."""
        lf = self._scan("scores")
        if lf is None:
            return None, pl.DataFrame(schema={"period": pl.String, **RESULT_SCHEMA})
        runs = self.runs().select("run_id", "started_at")
        seen = (
            lf.filter(
                (pl.col("unit_id") == unit_id) & (pl.col("facet") == "overall") & (pl.col("status") == "ok")
            )
            .select("period", "run_id")
            .collect()
            .join(runs, on="run_id")
            .filter(pl.col("period") <= period)
            .sort(["period", "started_at"])
        )
        latest = seen.filter(pl.col("period") == period).tail(1)
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
