"""Scoring a whole batch: audit every unit, derive summaries, run the submission suite, score, store.

The batch runs in four steps, so that a killed batch never loses the units it finished:

1. **discover** the unit folders of ``ROOT/<period>/`` and their ids (:func:`discover_units`);
2. **audit** each unit with :func:`audit_unit`, a pure function of the folder, the period and the
   suites (no store, no globals: it can run in another process or on a Dask worker) that returns
   a picklable :class:`UnitOutcome`;
3. **commit** each outcome to the store at once (:func:`commit_unit`: results, summary and a score
   against the peers known so far, each file written to a temporary name and renamed);
4. **rescore** at the end: the peer-dependent submission rules are evaluated again over every
   summary stored for the period, and the units of this run (and those a killed run left behind)
   are rewritten with their final scores.

One broken extract never stops the batch: it becomes a unit with status ``error`` (and no
score), listed at the end. Units already scored for the period are skipped unless ``force``.
A run ends ``complete``, ``failed`` (stopped by an error of its own, e.g. an unwritable store) or
``interrupted``; the store's lock keeps a second writer out while a batch runs.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from dq.batch.fixlist import write_fix_rows
from dq.engine.evaluate import evaluate_by_unit, evaluate_frame, judge_with_history, rows_hint
from dq.engine.metrics import StoredHistory
from dq.engine.results import RuleResult
from dq.engine.suite import Rule, Suite, load_suites
from dq.errors import DQError, InputError, OutputError, raise_if_interrupted
from dq.io.catalogue import Catalogue, default_rules_dir, load_catalogue
from dq.io.database import (
    DatabaseLayout,
    DatabaseUnit,
    discover_database_units,
    is_database_url,
    mask_url,
    reuse_connections,
)
from dq.io.isolation import DEFAULT_LIMITS, Failure, Limits, WorkerPool
from dq.io.masking import describe_error, mask_identifiers, mask_text
from dq.io.period import Period
from dq.io.published import data_dir as published_data_dir
from dq.io.sources import MAX_MANIFEST_BYTES, TABLE_SUFFIXES, check_unit_id, open_extract, read_manifest
from dq.io.urls import is_url, list_unit_urls, local_copy, url_name
from dq.io.urls import read_text as read_url
from dq.io.yamlio import load_yaml, read_yaml
from dq.scoring.scores import ScoringConfig, UnitScore, load_scoring, rank_units, score_unit
from dq.scoring.summary import audit_and_summarize, summary_frame
from dq.store.history import Run, Store, suites_hash

if TYPE_CHECKING:
    from dq.project import Project

__all__ = [
    "BatchOutcome",
    "UnitOutcome",
    "audit_unit",
    "audit_unit_isolated",
    "commit_unit",
    "discover_units",
    "evaluate_submissions",
    "in_threads",
    "record_suites",
    "score_batch",
    "score_published",
]

SUBMISSION_TABLE = "submission_summary"


@dataclass
class UnitOutcome:
    unit: dict[str, Any]
    results: list[RuleResult] = field(default_factory=list)
    summary: dict[str, Any] | None = None
    tables: dict[str, int | None] | None = None  # rows of each uploaded table
    score: UnitScore | None = None
    error: str | None = None
    seconds: float = 0.0
    skipped: bool = False
    rows: int = 0
    trace: str | None = None  # the traceback of an unexpected error (logged, never stored)
    folder: str = ""  # the extract folder audited

    @property
    def unit_id(self) -> str:
        return str(self.unit["unit_id"])


@dataclass
class BatchOutcome:
    run: Run
    units: list[UnitOutcome]
    ranking: pl.DataFrame
    findings: list[RuleResult] = field(default_factory=list)  # table-level (published) findings
    rows: int = 0
    seconds: float = 0.0

    @property
    def errors(self) -> list[UnitOutcome]:
        return [u for u in self.units if u.error]


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def evaluate_submissions(
    summaries: pl.DataFrame, suites: Sequence[Suite], units: Sequence[str] | None = None
) -> dict[str, list[RuleResult]]:
    """Run the submission suite(s) once per unit over ALL summaries (so peer checks see the peers).

    Each rule is narrowed to one unit by adding ``unit_id = '…'`` to its ``when`` condition, so
    aggregate checks count that unit's row while window checks (peer outliers, identical values)
    still compare it with every other row.
    """
    rules = [r for s in suites if s.table == SUBMISSION_TABLE for r in s.rules]
    frame = summaries.lazy()
    todo = summaries["unit_id"].to_list() if units is None else list(units)
    # Every unit at once, each rule compiled once: the same results as the loop below, which
    # remains for a suite whose rules join other tables or whose query fails (it isolates them).
    fast = evaluate_by_unit(frame, rules, SUBMISSION_TABLE, todo)
    if fast is not None:
        return fast
    return _evaluate_submissions_per_unit(summaries, rules, todo)


def _evaluate_submissions_per_unit(
    summaries: pl.DataFrame, rules: Sequence[Rule], units: Sequence[str]
) -> dict[str, list[RuleResult]]:
    """:func:`evaluate_submissions` one unit at a time: each rule narrowed with a ``when``."""
    out: dict[str, list[RuleResult]] = {}
    frame = summaries.lazy()
    for uid in units:
        cond = f"unit_id = {_sql_str(uid)}"
        narrowed: list[Rule] = [replace(r, when=f"({r.when}) AND {cond}" if r.when else cond) for r in rules]
        _, results = evaluate_frame(frame, narrowed, SUBMISSION_TABLE, samples=0)
        out[uid] = results
    return out


def unit_from_dir(path: Path | str) -> dict[str, Any]:
    """The unit of an extract folder before it is opened: the id it is stored under is the
    manifest's (unit_id, else org_code, as :attr:`dq.io.sources.Extract.unit_id`), else the
    folder's name, which :func:`identify_units` accepts only for a registered unit
    (``from_folder``). ``error`` says why the manifest's id cannot be used; ``manifest_error``
    why the manifest cannot be read at all (see :func:`identify_units`). A unit of a database
    batch has the id its rows carry."""
    if isinstance(path, DatabaseUnit):  # a unit of a database batch: its id comes from the data
        return _unit_from_database(path)
    uid = _folder_name(path)
    kind, error, m, unreadable = None, None, None, None
    try:
        if is_url(path):
            where = f"{str(path).rstrip('/')}/manifest.yaml"
            m = load_yaml(read_url(where), source=where, max_nodes=10_000)
            if isinstance(m, dict):
                for key in ("unit_id", "org_code"):
                    if m.get(key) is not None:
                        m[key] = check_unit_id(m[key], where, key)
        else:
            m = read_manifest(Path(path) / "manifest.yaml")
    except InputError as exc:
        m = None
        if "'unit_id'" in str(exc) or "'org_code'" in str(exc):
            error = str(exc)
        else:  # an invalid manifest may still say which unit it is: its error is that unit's
            m = _stated_ids(path)
        unreadable = str(exc)
    except (OSError, UnicodeDecodeError, DQError) as exc:
        m, unreadable = None, f"{path}/manifest.yaml: cannot be read ({type(exc).__name__})"
    from_folder = True
    if isinstance(m, dict):
        kind = m.get("kind")
        if m.get("unit_id") or m.get("org_code"):
            uid, from_folder = str(m.get("unit_id") or m.get("org_code")), False
    return {"unit_id": uid, "name": uid, "kind": kind, "district": None, "error": error,
            "from_folder": from_folder, "manifest_error": unreadable}  # fmt: skip


def _stated_ids(path: Path | str) -> dict[str, Any] | None:
    """The ``unit_id``/``org_code`` a local manifest states although it is invalid otherwise
    (a bad ``kind``): read with the same caps; None when it cannot be read or states none."""
    if is_url(path):
        return None
    where = Path(path) / "manifest.yaml"
    try:
        raw = read_yaml(where, what="manifest", max_bytes=MAX_MANIFEST_BYTES, max_nodes=10_000)
        if not isinstance(raw, dict):
            return None
        return {
            k: check_unit_id(raw[k], str(where), k) for k in ("unit_id", "org_code") if raw.get(k) is not None
        }
    except (InputError, OSError, UnicodeDecodeError, DQError):
        return None


def _project_registry(project: Project | None) -> Any:
    """The project's unit registry, or None (the bundled one) when there is no project or its
    registry cannot be read (reported where it is used; identity checks go on)."""
    if project is None:
        return None
    try:
        return project.registry()
    except DQError:
        return None


def _folder_name(path: Path | str) -> str:
    if isinstance(path, DatabaseUnit):
        return _database_unit_name(path)
    return url_name(path) if is_url(path) else Path(path).name


def _registered_ids(registry: Any) -> set[str]:
    try:
        return {u.unit_id for u in registry.units()} if registry is not None else set()
    except Exception:  # a broken registry confirms nothing
        return set()


# -- units of a database batch (dq.io.database) ---------------------------------------------------
def _database_unit_name(unit: DatabaseUnit) -> str:
    """A database unit's id, or for an id that cannot name files a stand-in (``unit-<hash>``)."""
    try:
        return check_unit_id(unit.unit_id, str(unit))
    except InputError:
        import hashlib

        return "unit-" + hashlib.sha256(unit.unit_id.encode("utf-8", "replace")).hexdigest()[:12]


def _unit_from_database(unit: DatabaseUnit) -> dict[str, Any]:
    error = None
    try:
        check_unit_id(unit.unit_id, f"{mask_url(unit.url)}: a unit of {unit.period}")
    except InputError as exc:
        error = str(exc)
    kind = unit.info.get("kind")
    uid = _database_unit_name(unit)
    return {"unit_id": uid, "name": uid, "kind": kind if kind in ("hospital", "district") else None,
            "district": None, "error": error}  # fmt: skip


def _audit_database(
    db_unit: DatabaseUnit, period: str, suites: Sequence[Suite], **options: Any
) -> UnitOutcome:
    """:func:`audit_unit` for a unit read from a database (:func:`dq.io.database.open_database_unit`)."""
    from dq.io.database import open_database_unit

    unit = db_unit
    t = time.perf_counter()
    out = UnitOutcome(dict(options.pop("unit", None) or _unit_from_database(unit)), folder=str(unit))
    out.unit.pop("error", None)
    options.pop("follow_symlinks", None)
    cat = options.pop("catalogue", None) or load_catalogue()
    try:
        if unit.period != period:
            raise InputError(f"{unit}: read for {unit.period}, not the batch's {period}")
        with open_database_unit(unit, catalogue=cat) as ext:
            m = ext.manifest
            out.unit = {"unit_id": ext.unit_id, "name": m.get("name") or ext.unit_id,
                        "kind": m.get("kind"), "district": m.get("district")}  # fmt: skip
            audit, out.summary = audit_and_summarize(
                ext, record_suites(suites), period, catalogue=cat, **options
            )
            out.results = list(audit.results)
            out.tables = {ti.table: ti.rows for ti in audit.tables}
            out.rows = sum(ti.rows or 0 for ti in audit.tables)
    except DQError as exc:
        out.error = mask_url(str(exc))
    except Exception as exc:  # one broken unit never stops the batch
        raise_if_interrupted(exc)
        out.error = f"{unit}: {mask_url(describe_error(exc))}"
        out.trace = "".join(traceback.format_tb(exc.__traceback__)) + mask_url(describe_error(exc))
    out.seconds = time.perf_counter() - t
    return out


# ---------------------------------------------------------------------------------------------


def identify_units(unit_dirs: Sequence[Path | str], registry: Any = None) -> dict[Any, dict[str, Any]]:
    """The unit each folder holds, checked against its folder, the other folders and the
    registry, so that no folder can replace another unit's scores and no name becomes an id
    unconfirmed:

    * the id is the manifest's ``unit_id``, else its ``org_code``; the folder's name is used
      only when the registry confirms it (a registered id): else the folder is refused, with the
      manifest's own problem when it cannot be read;
    * the id must be a short plain string, and not look like an ID or phone number unless the
      registry has it;
    * a folder named like a registered unit must hold that unit (folder ``H011`` with a manifest
      saying ``H010`` is refused);
    * a registered id must have the registered kind;
    * two folders with one id: the folder named like the id keeps it, the others are refused (all
      are, when none is).

    A refused folder gets ``error`` set and is stored under ``folder:<name>`` (never a plain id),
    the name masked (:func:`dq.io.masking.mask_text`) and made unique, so its error is listed
    without touching any unit's history. Every error is masked the same way.
    """
    if registry is None:
        from dq.io.registry import Registry

        try:
            registry = Registry.load()
        except Exception:  # a broken registry is reported where it is used; identity checks go on
            registry = None
    known = _registered_ids(registry)
    units = {d: unit_from_dir(d) for d in unit_dirs}
    for d, u in units.items():
        from_folder, unreadable = u.pop("from_folder", False), u.pop("manifest_error", None)
        if u["error"] or isinstance(d, DatabaseUnit):  # a database unit's id comes from its rows
            continue
        uid = u["unit_id"]
        if from_folder and uid not in known:
            u["error"] = unreadable or (
                f"{d}/manifest.yaml: no unit_id (nor org_code), and the folder's name is not a "
                "registered unit id; add unit_id to the manifest"
            )
            continue
        try:
            check_unit_id(uid, f"{d}/manifest.yaml" if uid != _folder_name(d) else str(d), "unit_id")
        except InputError as exc:
            u["error"] = str(exc)
            continue
        if uid not in known and mask_text(uid) != uid:
            u["error"] = (
                f"{d}/manifest.yaml: unit id {mask_text(uid)} looks like an ID or phone number and "
                "is not a registered unit; use the unit's registered id"
            )
        elif _folder_name(d) != uid and _folder_name(d) in known:
            u["error"] = (
                f"{d}/manifest.yaml: the folder is named like unit {_folder_name(d)} but its manifest says "
                f"{uid}; refused so that {uid}'s scores are not replaced (fix the manifest or the folder)"
            )
        elif uid in known and u["kind"] and registry.get(uid).kind != u["kind"]:
            u["error"] = (
                f"{d}/manifest.yaml: unit {uid} is a {registry.get(uid).kind} in the registry, "
                f"the manifest says {u['kind']}"
            )
    claims: dict[str, list[Any]] = {}
    for d, u in units.items():
        if not u["error"]:
            claims.setdefault(u["unit_id"], []).append(d)
    for uid, dirs in claims.items():
        if len(dirs) < 2:
            continue
        owner = next((d for d in dirs if _folder_name(d) == uid), None)
        names = ", ".join(_folder_name(d) for d in dirs)
        for d in dirs:
            if d != owner:
                units[d]["error"] = (
                    f"{d}: unit id {uid} is claimed by several folders ({names}); "
                    + (f"folder {_folder_name(owner)} keeps it" if owner else "none is scored")
                    + " (fix the manifests so each unit has its own id)"
                )
    taken = {u["unit_id"] for u in units.values() if not u["error"]}
    for d, u in units.items():
        if u["error"]:
            u["error"] = mask_text(u["error"], MAX_ERROR_CHARS)
            u["unit_id"] = u["name"] = _refused_id(_folder_name(d), taken)
    return units


#: Longest error text kept of a unit (stored, listed and logged).
MAX_ERROR_CHARS = 2000


def _refused_id(folder: str, taken: set[str]) -> str:
    """``folder:<name>`` for a refused folder: the name masked and cut, with ``~2``, ``~3`` …
    when two masked names meet (two ID numbers can mask alike)."""
    base = f"folder:{mask_text(folder, 60)}"
    uid, n = base, 1
    while uid in taken:
        n += 1
        uid = f"{base}~{n}"
    taken.add(uid)
    return uid


def _progress(enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from dq.io.terminal import terminal_console

    return Progress(
        TextColumn("[bold]scoring[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=not enabled,
        transient=False,
        console=terminal_console(sys.stderr),
    )


def discover_units(root: str | Path, period: str, layout: DatabaseLayout | None = None) -> list[Path]:
    """The unit folders of ``root/period`` (sorted; hidden entries ignored); URLs for an fsspec
    URL ``root`` (:mod:`dq.io.urls`); for a database URL its units of the period
    (:class:`dq.io.database.DatabaseUnit`, see :func:`dq.io.database.discover_database_units`)."""
    Period.parse(period)
    if is_database_url(root):
        return discover_database_units(str(root), period, layout)  # type: ignore[return-value]
    if is_url(root):
        return list_unit_urls(str(root), period)  # type: ignore[return-value]
    base = Path(root) / period
    if not base.is_dir():
        raise InputError(f"{base}: no such batch folder (expected ROOT/{period}/<unit>/)")
    unit_dirs = sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not unit_dirs:
        raise InputError(f"{base}: the batch has no unit folders")
    return unit_dirs


def record_suites(suites: Sequence[Suite]) -> list[Suite]:
    """The suites :func:`audit_unit` runs: every suite but the submission and published ones."""
    return [s for s in suites if s.table != SUBMISSION_TABLE and s.kind != "published"]


def audit_unit(
    path: str | Path,
    period: str,
    suites: Sequence[Suite],
    *,
    unit: dict[str, Any] | None = None,
    follow_symlinks: bool = False,
    catalogue: Catalogue | None = None,
    samples: int = 5,
    streaming: bool = False,
    fix_rows: int = 0,
    now: datetime | None = None,
) -> UnitOutcome:
    """Audit one unit folder for ``period`` with the record-level ``suites``: its results and
    submission summary, or its error. Pure: reads only the folder (no store, no globals), never
    raises for a bad extract, and returns a picklable outcome, so it can run in another process.
    A folder given as an fsspec URL is copied to a local temporary folder and audited there.
    ``now``: the clock of checks such as "not in the future" (a batch gives all its units one,
    which also lets the engine compile each rule once for all units; default: the current time).
    """
    if isinstance(path, DatabaseUnit):
        return _audit_database(path, period, suites, unit=unit, catalogue=catalogue, samples=samples,
                               streaming=streaming, fix_rows=fix_rows, now=now)  # fmt: skip
    if is_url(path):
        return _audit_url(str(path), period, suites, unit=unit, catalogue=catalogue, samples=samples,
                          streaming=streaming, now=now)  # fmt: skip
    d = Path(path)
    t = time.perf_counter()
    out = UnitOutcome(dict(unit) if unit else unit_from_dir(d), folder=str(d))
    out.unit.pop("error", None)
    expected = out.unit_id
    try:
        cat = catalogue or load_catalogue()
        ext = open_extract(d, catalogue=cat, follow_symlinks=follow_symlinks)
        m = ext.manifest
        if ext.unit_id != expected:
            raise InputError(f"{d}/manifest.yaml: the manifest changed during the batch (unit {expected})")
        # A unit's display name and district are kept (a hospital's name is Chinese text),
        # with any ID or phone number in them masked.
        out.unit = {
            "unit_id": ext.unit_id,
            "name": mask_identifiers(str(m.get("name") or ext.unit_id)),
            "kind": m.get("kind"),
            "district": mask_identifiers(m["district"]) if m.get("district") else None,
        }
        if ext.period and ext.period != period:
            raise InputError(f"{d}/manifest.yaml: period {ext.period} is not the batch's {period}")
        # The submission summary comes from the audit's own pass over each table.
        audit, out.summary = audit_and_summarize(
            ext,
            record_suites(suites),
            period,
            catalogue=cat,
            samples=samples,
            streaming=streaming,
            fix_rows=fix_rows,
            now=now,
        )
        if out.summary is not None:
            out.summary["unit_name"] = out.unit["name"]
            out.summary["source"] = mask_text(out.summary.get("source") or "", 1000)
        out.results = list(audit.results)
        out.tables = {ti.table: ti.rows for ti in audit.tables}
        out.rows = sum(ti.rows or 0 for ti in audit.tables)
    except DQError as exc:
        out.error = str(exc)
    except Exception as exc:  # one broken site never stops the batch
        raise_if_interrupted(exc)
        out.error = f"{d}: {describe_error(exc)}"
        # The traceback's frames, not its message: library messages may quote cell values.
        out.trace = "".join(traceback.format_tb(exc.__traceback__)) + describe_error(exc)
    if out.error:  # file and folder names from the submission, masked (dq.io.masking.mask_text)
        out.error = mask_text(out.error, MAX_ERROR_CHARS)
    out.seconds = time.perf_counter() - t
    return out


def _audit_url(url: str, period: str, suites: Sequence[Suite], **options: Any) -> UnitOutcome:
    unit = options.pop("unit", None) or unit_from_dir(url)
    t = time.perf_counter()
    try:
        with local_copy(url) as local:
            out = audit_unit(local, period, suites, unit=unit, **options)
        if out.error:  # name the file by its URL, not by the temporary copy
            out.error = mask_text(out.error.replace(str(local), url.rstrip("/")), MAX_ERROR_CHARS)
    except DQError as exc:
        out = UnitOutcome(unit, error=mask_text(str(exc), MAX_ERROR_CHARS))
    out.folder = url
    out.seconds = time.perf_counter() - t
    return out


LIMIT_ERROR = "could not be read within the limits"


def audit_unit_isolated(
    pool: WorkerPool, fn: Callable[[Path], UnitOutcome], units: dict[Any, dict[str, Any]], path: Path
) -> UnitOutcome:
    """``fn(path)`` (an :func:`audit_unit` with all but the folder bound) in one of ``pool``'s
    worker processes, under its limits. A worker that dies, is killed or runs out of memory
    makes this unit's error, "<unit>: could not be read within the limits: <why> (while reading
    <file>)"; ``units``: the identified unit of each folder (:func:`identify_units`), to name
    it. The entry point of the batch's reading: another reader (e.g. of a database) plugs in
    as another ``fn``."""
    t = time.perf_counter()
    unit = dict(units.get(path) or unit_from_dir(path))
    unit.pop("error", None)
    try:
        out = pool.run(fn, path)
    except Exception as exc:  # audit_unit returns its errors; this is the boundary's own
        raise_if_interrupted(exc)
        out = Failure(f"its worker failed ({describe_error(exc)})")
    if isinstance(out, Failure):
        out = UnitOutcome(unit, error=f"{unit['unit_id']}: {LIMIT_ERROR}: {out.message()}", folder=str(path))
    elif out.error and out.trace and "MemoryError" in out.trace:
        mem = pool.limits.describe().split(",")[0]
        out.error = f"{out.unit_id}: {LIMIT_ERROR}: it needed more than the {mem} a unit may use"
    out.seconds = time.perf_counter() - t
    return out


#: Units audited at once by :func:`score_batch` in one process when not told (``threads``):
#: the cores plus two, at most 8. More threads than cores pays on 2 cores (scale 0.1: 7.1 s with
#: 2, 6.5 with 3, 6.4 with 4, at the same CPU) because each unit leaves cores idle between its
#: queries; memory is bounded by :data:`IN_FLIGHT_ROWS`, not by the threads.
DEFAULT_THREADS = min((os.cpu_count() or 1) + 2, 8)
#: At most this many rows (estimated from the files, :func:`dq.engine.evaluate.rows_hint`) are audited
#: at once by concurrent units; a unit larger than this runs alone. It keeps a city of large
#: hospitals within the memory one unit at a time needs (docs/scale.md).
IN_FLIGHT_ROWS = 5_000_000


def unit_rows_hint(path: str | Path) -> int:
    """About how many rows a unit folder's table files hold (their metadata and sizes, nothing
    read); a folder behind a URL counts as :data:`IN_FLIGHT_ROWS` (it runs alone); a database
    unit, its rows in the period (counted when the batch listed the units)."""
    if isinstance(path, DatabaseUnit):
        return path.rows
    if is_url(path):
        return IN_FLIGHT_ROWS
    try:
        files = [f for f in Path(path).iterdir() if f.suffix.lower() in TABLE_SUFFIXES and f.is_file()]
    except OSError:
        return 0  # the audit names the problem
    return sum(rows_hint(f) for f in files)


@contextlib.contextmanager
def stop_between_units() -> Iterator[threading.Event]:
    """Ctrl-C (SIGINT) during a batch stops it between units, not inside one.

    Python raises KeyboardInterrupt wherever the main thread happens to be, and Polars calls back
    into Python inside a query (dq's own column functions): an interrupt landing there became a
    query error, which the engine took for a broken rule, and the batch went on. Here the first
    Ctrl-C only sets the event; the batch stops at the next unit boundary (the units in flight
    are dropped, the committed ones kept, the run recorded as interrupted). A second Ctrl-C
    interrupts at once. Outside the main thread signals cannot be handled: nothing changes.
    """
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def first(signum: int, frame: Any) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)  # the second one is immediate

    previous = signal.signal(signal.SIGINT, first)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)


def in_threads(
    fn: Callable[[Path], UnitOutcome], paths: Sequence[Path], threads: int = DEFAULT_THREADS,
    budget: int | None = None, stop: threading.Event | None = None,
) -> Iterator[UnitOutcome]:  # fmt: skip
    """``fn`` over ``paths``, up to ``threads`` units at once in this process, while their
    estimated rows stay within ``budget`` (default :data:`IN_FLIGHT_ROWS`); outcomes are yielded
    as they finish.

    Polars releases the GIL while it computes, so a unit's Python work (compiling rules, masking
    samples, and the caller's commit of the previous outcome) overlaps another unit's query, and
    both cores are busy where one unit's queries alone keep ~1.2 of them. The threads are
    daemons: an interrupted batch does not wait for the units in flight. With ``threads=1`` the
    one unit in flight still runs in a thread, so that the caller's thread stays free to notice
    ``stop`` (set by :func:`stop_between_units`): then KeyboardInterrupt is raised here.
    """
    budget = IN_FLIGHT_ROWS if budget is None else budget
    # A unit is sized when it is next in line, not all before the first starts (a province's
    # 500 folders of footers would delay the whole batch); one thread needs no budget.
    size: int | None = None  # of the next unit
    done: queue.Queue = queue.Queue()

    def work(i: int) -> None:
        try:
            done.put((i, fn(paths[i]), None))
        except BaseException as exc:  # re-raised in the caller's thread
            done.put((i, None, exc))

    running: dict[int, int] = {}  # index -> estimated rows
    nxt = 0
    while nxt < len(paths) or running:
        while nxt < len(paths) and len(running) < threads:
            if size is None:
                size = unit_rows_hint(paths[nxt]) if threads > 1 else 0
            if running and sum(running.values()) + size > budget:
                break
            running[nxt], size = size, None
            threading.Thread(target=work, args=(nxt,), name=f"dq-audit-{nxt}", daemon=True).start()
            nxt += 1
        try:
            i, out, exc = done.get(timeout=0.2)
        except queue.Empty:
            if stop is not None and stop.is_set():
                raise KeyboardInterrupt from None
            continue
        del running[i]
        if exc is not None:
            raise exc
        yield out


def commit_unit(
    store: Store,
    run: Run,
    outcome: UnitOutcome,
    peers: dict[str, dict[str, Any]],
    suites: Sequence[Suite],
    cfg: ScoringConfig,
    fixes: dict[str, tuple[str, str]],
) -> None:
    """Store one unit at once: its results, summary and a score against the peers known so far
    (``peers``: unit id → summary, updated with this unit's). A unit whose files cannot be written
    for a reason of its own becomes an error of that unit; an unwritable store stops the batch."""
    if outcome.summary is not None:
        peers[outcome.unit_id] = outcome.summary
    results = list(outcome.results)
    if not outcome.error:
        frame = summary_frame(list(peers.values()))
        results += evaluate_submissions(frame, suites, units=[outcome.unit_id]).get(outcome.unit_id, [])
        outcome.score = score_unit(results, cfg)
    try:
        store.write_unit(
            run, outcome.unit, results, outcome.score, outcome.summary, fixes, outcome.error, outcome.tables
        )
        if not outcome.error:
            write_fix_rows(store, run, outcome.unit_id, outcome.results)
    except OutputError:
        raise
    except Exception as exc:  # e.g. a value Parquet cannot hold: this unit's error only
        outcome.error = f"{outcome.unit_id}: its results could not be stored ({type(exc).__name__})"
        outcome.score = None
        store.write_unit(run, outcome.unit, [], None, None, fixes, outcome.error)


def _rescore(
    store: Store,
    run: Run,
    period: str,
    suites: Sequence[Suite],
    cfg: ScoringConfig,
    outcomes: dict[str, UnitOutcome],
) -> None:
    """Evaluate the submission suite again over every summary stored for the period and rewrite
    the units of this run, and those a killed run left unfinished, with their final scores."""
    stored = store.summaries(period)
    if stored.is_empty():
        return
    keep = [c for c in summary_frame([]).columns if c in stored.columns]
    frame = summary_frame(stored.select(keep).with_columns(pl.lit(period).alias("period")).to_dicts())
    todo = [uid for uid, o in outcomes.items() if not o.error and not o.skipped]
    adopt = store.unfinished_units(period)
    if not adopt.is_empty():
        adopt = adopt.filter((pl.col("status") == "ok") & (pl.col("run_id") != run.run_id))
        todo += [u for u in adopt["unit_id"].to_list() if u not in outcomes or outcomes[u].skipped]
    have = set(frame["unit_id"].to_list())
    todo = [u for u in todo if u in have]
    if not todo:
        return
    sub = evaluate_submissions(frame, suites, units=todo)
    summaries = {r["unit_id"]: r for r in frame.to_dicts()}
    rules = [r for s in suites for r in s.rules]
    history = StoredHistory(store, period)  # a unit against its own earlier periods in the store
    suite_fixes = {r.id: (r.fix_zh, r.fix_en) for s in suites for r in s.rules}
    for uid in todo:
        got = outcomes.get(uid)
        o = got if got is not None and not got.skipped else None  # None: adopted from an interrupted run
        own = o is not None
        if o is not None:
            records, fx, unit, tables = o.results, None, o.unit, o.tables
        else:
            records, fx = store.unit_results(period, uid)
            records = [r for r in records if r.table != SUBMISSION_TABLE]
            row = adopt.filter(pl.col("unit_id") == uid).row(0, named=True)
            unit = {k: row[k] for k in ("unit_id", "unit_name", "kind", "district")}
            counts = store.table_rows(period).filter(pl.col("unit_id") == uid)
            tables = dict(zip(counts["table"].to_list(), counts["rows"].to_list(), strict=True))
        results = [*records, *sub.get(uid, [])]
        results = judge_with_history(
            results, rules, history, period=period, unit_id=uid, summary=summaries[uid], tables=tables
        )
        score = score_unit(results, cfg)
        # A unit of this run has its summary and table counts stored by its commit already;
        # only an adopted unit needs them under this run's id.
        store.write_unit(run, unit, results, score, None if own else summaries[uid], fx or suite_fixes,
                         None, None if own else tables)  # fmt: skip
        if o is not None:
            o.score = score
            o.results = results


def score_batch(
    root: str | Path,
    period: str,
    store: Store,
    *,
    suite_paths: Sequence[str | Path] | None = None,
    force: bool = False,
    samples: int = 5,
    streaming: bool = False,
    log: Callable[[str], None] | None = None,
    progress: bool | None = None,
    map_units: Callable[[Callable[[Path], UnitOutcome], Sequence[Path]], Iterable[UnitOutcome]] | None = None,
    fix_rows: int = 1000,
    follow_symlinks: bool = False,
    threads: int | None = None,
    project: Project | None = None,
    layout: DatabaseLayout | None = None,
    limits: Limits | None = DEFAULT_LIMITS,
) -> BatchOutcome:
    """Audit and score every unit under ``root/period`` and append the results to ``store``.

    ``project``: the rule project whose catalogue, suites, scoring and registry are used
    (default: the bundled one). ``root`` may be a database URL (:mod:`dq.io.database`; ``layout``
    says where the units' data are, default the project's ``[database]`` section): its units of
    the period are audited the same way; a database that cannot be reached is an
    :class:`~dq.io.database.UnreachableError` before anything is written.

    ``map_units(fn, paths)`` runs ``fn`` (a picklable :func:`audit_unit` with everything but the
    folder bound) over the folders and yields the outcomes in any order, e.g. on a Dask cluster;
    by default the units run in this process, ``threads`` at a time (default
    :data:`DEFAULT_THREADS`; 1: one after the other) within :data:`IN_FLIGHT_ROWS` estimated
    rows (:func:`in_threads`), each unit read and audited in a worker process under ``limits``
    (:mod:`dq.io.isolation`; default :data:`dq.io.isolation.DEFAULT_LIMITS`; None: in this
    process, unprotected). ``limits`` do not apply to ``map_units`` (a Dask cluster has its own,
    see :mod:`dq.batch.cluster`). Each outcome is committed to the store as soon as it arrives.
    ``fix_rows``: failing rows kept per rule for the rows-to-fix files (:mod:`dq.batch.fixlist`;
    0 = none).
    """
    t0 = time.perf_counter()
    if project is None:
        cat, suites, cfg = load_catalogue(), load_suites(suite_paths), load_scoring()
    else:
        cat = project.catalogue()
        suites, cfg = project.suites(suite_paths, cat), project.scoring()
        if layout is None and is_database_url(root):
            layout = project.database_layout(cat)
    unit_dirs = discover_units(root, period, layout)
    fixes = {r.id: (r.fix_zh, r.fix_en) for s in suites for r in s.rules}
    show = sys.stderr.isatty() if progress is None else progress
    with store.lock(), contextlib.ExitStack() as stack:
        stale = store.mark_interrupted()
        if stale and log:
            log(f"runs {', '.join(stale)} were interrupted; their finished units are kept")
        where = mask_url(str(root)) if is_url(root) else str(Path(root).resolve())
        run = store.begin_run(
            period, suites_hash([project.root if project else default_rules_dir()]), "batch", where
        )
        outcomes: dict[str, UnitOutcome] = {}
        status = "failed"
        try:
            done = set() if force else store.scored_units(period)
            todo: list[Path] = []
            refused: list[UnitOutcome] = []
            identified = identify_units(unit_dirs, _project_registry(project))
            for d, unit in identified.items():
                error = unit.pop("error")
                if error:
                    refused.append(UnitOutcome(unit, error=error, folder=str(d)))
                elif unit["unit_id"] in done:
                    outcomes[unit["unit_id"]] = UnitOutcome(unit, skipped=True, folder=str(d))
                else:
                    todo.append(d)
            peers: dict[str, dict[str, Any]] = {}
            previous = store.summaries(period)
            if not previous.is_empty():
                keep = [c for c in summary_frame([]).columns if c in previous.columns]
                for row in previous.select(keep).with_columns(pl.lit(period).alias("period")).to_dicts():
                    peers[row["unit_id"]] = row
            fn = partial(
                audit_unit, period=period, suites=record_suites(suites), catalogue=cat,
                samples=samples, streaming=streaming, fix_rows=fix_rows, follow_symlinks=follow_symlinks,
                now=datetime.now(),  # one clock for the whole batch
            )  # fmt: skip
            stop = stack.enter_context(stop_between_units())
            if is_database_url(root):  # each thread logs in once, not once per unit
                stack.enter_context(reuse_connections())
            n_threads = DEFAULT_THREADS if threads is None else threads
            mapper = map_units or partial(in_threads, threads=n_threads, stop=stop)
            # Files a unit sends are read in a worker under limits; a database unit is read by its
            # client library here (the platform's own server, its credentials in this environment).
            if map_units is None and limits is not None and todo and not is_database_url(root):
                # Each thread of in_threads drives one worker process: the units read there.
                pool = stack.enter_context(WorkerPool(min(n_threads, len(todo)), limits))
                fn = partial(audit_unit_isolated, pool, fn, identified)
            for out in refused:
                commit_unit(store, run, out, peers, suites, cfg, fixes)
                outcomes[out.unit_id] = out
                if log and not show:
                    log(f"[refused] {mask_text(out.folder)}: {out.error}")
            with _progress(show) as bar:
                task = bar.add_task("", total=len(unit_dirs))
                bar.advance(task, len(unit_dirs) - len(todo) - len(refused))
                for n, out in enumerate(mapper(fn, todo), start=1):
                    if stop.is_set():  # Ctrl-C: this outcome is dropped like the others in flight
                        raise KeyboardInterrupt
                    commit_unit(store, run, out, peers, suites, cfg, fixes)
                    if out.trace and log:
                        log(out.trace)
                    outcomes[out.unit_id] = out
                    if log and not show:
                        state = "error" if out.error else "ok"
                        log(f"[{n}/{len(todo)}] {out.unit_id} {state} ({out.seconds:.1f}s)")
                    bar.update(task, description=out.unit_id)
                    bar.advance(task)
            _rescore(store, run, period, suites, cfg, outcomes)
            status = "complete"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            fresh = [o for o in outcomes.values() if not o.skipped]
            try:
                store.finish_run(run, len(fresh), sum(1 for o in fresh if o.error), status)
            except OutputError:
                if status == "complete":
                    raise
    ranking = _ranking(store, period)
    rank = {str(d): i for i, d in enumerate(unit_dirs)}
    ordered = sorted(outcomes.values(), key=lambda o: (rank.get(o.folder, len(rank)), o.unit_id))
    return BatchOutcome(
        run, ordered, ranking, rows=sum(o.rows for o in ordered), seconds=time.perf_counter() - t0
    )


def _ranking(store: Store, period: str) -> pl.DataFrame:
    all_facets = store.scores(period, facet=None)
    if all_facets.is_empty():
        return pl.DataFrame()
    overall = all_facets.filter(pl.col("facet") == "overall")
    parts = (
        all_facets.filter(pl.col("facet").str.starts_with("part:"))
        .with_columns(pl.col("facet").str.strip_prefix("part:"))
        .pivot(on="facet", index="unit_id", values="score")
    )
    ranked = rank_units(
        overall.select("unit_id", "unit_name", "kind", "district", "status", "error", "score", "grade")
    )
    if not parts.is_empty():
        ranked = ranked.join(parts, on="unit_id", how="left")
    return ranked.sort(["kind", "rank", "unit_id"], nulls_last=True)


def score_published(
    period: str,
    store: Store,
    *,
    root: str | Path | None = None,
    suite_paths: Sequence[str | Path] | None = None,
) -> BatchOutcome:
    """Score the newsletters' published summaries with the submission suite, and check the
    published tables' totals. Units are scored on the submission part only."""
    from dq.io.published import load_collection
    from dq.io.registry import Registry

    t0 = time.perf_counter()
    Period.parse(period)
    data_root = published_data_dir(root)
    frames = []
    for kind in ("district", "hospital"):
        if (data_root / f"{period}_collection_{kind}.csv").is_file():
            frames.append(load_collection(period, kind, root=data_root))
    if not frames:
        have = sorted({f.name[:7] for f in data_root.glob("*_collection_*.csv")})
        there = ", ".join(have) or "none"
        raise InputError(f"{data_root}: no published collection tables for {period} (periods there: {there})")
    published = pl.concat(frames, how="diagonal_relaxed")
    frame = summary_frame(published.to_dicts())
    suites = load_suites(suite_paths)
    cfg = load_scoring()
    fixes = {r.id: (r.fix_zh, r.fix_en) for s in suites for r in s.rules}
    registry = Registry.load()
    run = store.begin_run(period, suites_hash([default_rules_dir()]), "published", str(data_root))
    sub = evaluate_submissions(frame, suites)
    rules = [r for s in suites for r in s.rules]
    history = StoredHistory(store, period)
    outcomes = []
    for row in frame.to_dicts():
        inst = registry.get(row["unit_id"])
        unit = {
            "unit_id": row["unit_id"],
            "name": row["unit_name"],
            "kind": row["kind"],
            "district": (inst.district if inst else None)
            or (row["unit_name"] if row["kind"] == "district" else None),
        }
        results = judge_with_history(
            sub[row["unit_id"]], rules, history, period=period, unit_id=row["unit_id"], summary=row
        )
        o = UnitOutcome(unit, results, row, score=score_unit(results, cfg))
        store.write_unit(run, unit, results, o.score, row, fixes)
        outcomes.append(o)
    findings = check_published_tables(period, data_root, suites)
    store.finish_run(run, len(outcomes), 0)
    return BatchOutcome(run, outcomes, _ranking(store, period), findings, seconds=time.perf_counter() - t0)


def check_published_tables(period: str, root: Path | None, suites: Sequence[Suite]) -> list[RuleResult]:
    """Run the published-table suites (row totals) on ``<root>/<period>_<name>.csv``."""
    folder = published_data_dir(root)
    by_table = {s.table: s for s in suites if s.kind == "published"}
    findings: list[RuleResult] = []
    for f in sorted(folder.glob(f"{period}_*.csv")):
        table = "pub_" + f.stem.split("_", 1)[1]
        if table not in by_table:
            continue
        lf = pl.scan_csv(f, infer_schema=False)
        _, results = evaluate_frame(lf, by_table[table].rules, table, samples=0)
        findings += [replace(r, message=f"{f.name}: {r.message}") for r in results]
    return findings
