"""Untrusted reading in child processes with limits: a crash, a hang or a memory blow-up in a
reader becomes one unit's error, never the batch's end.

A unit's files come from outside; the readers under dq (Polars, fastexcel/calamine, pyarrow) are
native code. An input that makes one of them abort (a Rust panic or allocation failure is
``SIGABRT``), crash (``SIGSEGV``), allocate without bound or loop for ever would stop the whole
process. :class:`WorkerPool` runs such work in long-lived child processes instead, one call at a
time each, under :class:`Limits`:

* ``memory``: the address space of each worker (``RLIMIT_AS``); an allocation past it fails
  (a ``MemoryError`` in Python, an abort in native code);
* ``cpu``: CPU seconds per call (``RLIMIT_CPU``, raised before each call by what the worker has
  used so far; past it the kernel stops the worker with ``SIGXCPU``);
* ``wall``: seconds per call, after which the parent kills the worker.

A worker that dies or is killed is replaced by a new one for the next call; the call it was
running gets a :class:`Failure` that says why (and the file being opened when the worker noted
one with :func:`note_reading`). The parent knows which call each worker runs because it hands a
worker one call at a time: the caller's threads (:func:`dq.batch.local.in_threads`) each drive one
worker, so the row budget and the order of :func:`dq.batch.local.in_threads` are unchanged.

Workers are forked from a ``forkserver`` started once per process with dq's reading modules
already imported (a worker costs a fork, not an interpreter start: the isolation's CPU cost is
measured in benchmarks/README.md). What crosses the boundary is pickled: the function once per
worker (with its suites and catalogue), then per call the argument and the result (a unit's
outcome: results, summary, rows-to-fix samples; tens to hundreds of kB). A worker ignores
SIGINT: Ctrl-C is the parent's to handle (it stops the batch between units and kills the
workers). A worker's stderr goes to a temporary file read only to tell why it died; it is never
echoed (a native message may quote a cell).

POSIX only (``resource``); elsewhere the limits are not set and only crashes are contained.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import queue
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_LIMITS",
    "Failure",
    "Limits",
    "WorkerPool",
    "note_reading",
    "parse_size",
]

GiB = 1 << 30


@dataclass(frozen=True)
class Limits:
    """Limits of one worker process running one unit. ``None``: no limit of that kind.

    Defaults fit a 24 GB machine running the default 4 workers: 4 GiB of address space each
    (a unit the in-process audit reads within ~1.5 GB, docs/scale.md), 30 CPU minutes and one
    hour per unit (a scale-1.0 city's largest unit takes about a CPU minute)."""

    memory: int | None = 4 * GiB
    cpu: float | None = 1800.0
    wall: float | None = 3600.0

    def describe(self) -> str:
        parts = [
            f"{_size(self.memory)} of memory" if self.memory else "no memory limit",
            f"{self.cpu:g} CPU seconds" if self.cpu else "no CPU limit",
            f"{self.wall:g} seconds" if self.wall else "no time limit",
        ]
        return ", ".join(parts)


DEFAULT_LIMITS = Limits()


def _size(n: int | None) -> str:
    if n is None:
        return "unlimited"
    if n >= GiB:
        return f"{n / GiB:.3g} GiB"
    return f"{n / (1 << 20):.0f} MiB"


def parse_size(text: str) -> int:
    """``4G``, ``512M``, ``1.5GiB`` or a number of bytes, as bytes (ValueError otherwise)."""
    t = text.strip().upper().removesuffix("IB").removesuffix("B")
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}.get(t[-1:], 1)
    number = t[:-1] if scale > 1 else t
    if not number or len(number) > 20:
        raise ValueError(f"not a size: {text!r} (e.g. 4G, 512M)")
    value = float(number) * scale
    if not (value >= 1 << 20):  # also refuses nan
        raise ValueError(f"{text!r}: at least 1M")
    return int(value)


@dataclass(frozen=True)
class Failure:
    """A call that did not return: the worker died, was killed or hit a limit.

    ``reason``: what happened, for a message ("it was killed after 60 s, the wall-time limit");
    ``file``: the file the worker was opening, when it had said so (:func:`note_reading`)."""

    reason: str
    file: str | None = None

    def message(self) -> str:
        return self.reason + (f" (while reading {self.file})" if self.file else "")


# -- inside a worker ------------------------------------------------------------------------------
_CONN: Connection | None = None  # the worker's pipe to the parent while it runs a call


def note_reading(path: str | Path | None) -> None:
    """Tell the parent which file this worker opens now (None: none), so that a crash while
    reading it names the file. Does nothing outside a worker."""
    if _CONN is not None:
        with contextlib.suppress(OSError, ValueError):
            _CONN.send(("reading", None if path is None else str(path)))


def _set_limit(kind: int, soft: int) -> None:
    import resource

    _, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(kind, (soft, hard))


def _cpu_used() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _worker_main(conn: Connection, limits: Limits, stderr_path: str) -> None:
    """A worker's loop: receive (token, function or None, argument), send the result."""
    global _CONN
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's
    with contextlib.suppress(OSError):
        fd = os.open(stderr_path, os.O_WRONLY | os.O_APPEND)
        os.dup2(fd, 2)
        os.close(fd)
    try:
        import resource

        if limits.memory:
            _set_limit(resource.RLIMIT_AS, int(limits.memory))
    except (ImportError, ValueError, OSError):
        pass  # no limits where the platform has none; crashes are still contained
    fns: dict[str, Callable[[Any], Any]] = {}
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        token, payload, arg = msg
        if payload is not None:
            fns = {token: pickle.loads(payload)}
        if limits.cpu:
            with contextlib.suppress(ImportError, ValueError, OSError):
                import resource

                _set_limit(resource.RLIMIT_CPU, int(_cpu_used() + limits.cpu) + 1)
        _CONN = conn
        try:
            value = fns[token](arg)
        except MemoryError:
            value = None
            _CONN = None
            conn.send(("memory", None))
            return  # a worker that ran out of memory is not trusted with the next unit
        except BaseException as exc:
            _CONN = None
            try:
                conn.send(("raised", exc))
            except Exception:  # an exception that cannot be pickled: its kind only
                conn.send(("raised", RuntimeError(type(exc).__name__)))
            continue
        _CONN = None
        conn.send(("done", value))


# -- in the parent -------------------------------------------------------------------------------
_FORKSERVER_LOCK = threading.Lock()
#: Modules the forkserver imports once, so that a worker is a fork of a process that has them.
#: (Those an audit imports lazily too: each would otherwise be imported again in every worker.)
PRELOAD = [
    "dq.batch.local", "dq.scoring.summary", "dq.engine.evaluate", "dq.io.sources", "dq.api",
    "pyarrow", "pyarrow.parquet", "pyarrow.fs", "pyarrow.ipc", "numpy.ma", "cloudpickle",
    "encodings.utf_8_sig",
]  # fmt: skip


def _context(polars_threads: int | None) -> multiprocessing.context.BaseContext:
    """The forkserver context, its server started with ``POLARS_MAX_THREADS`` set (Polars reads
    it once, when imported: the first pool of a process decides it for every later one)."""
    try:
        ctx = multiprocessing.get_context("forkserver")
    except ValueError:  # no forkserver on this platform
        return multiprocessing.get_context("spawn")
    with _FORKSERVER_LOCK:
        from multiprocessing import forkserver

        if getattr(forkserver._forkserver, "_forkserver_pid", None) is None:
            ctx.set_forkserver_preload(PRELOAD)
            # PYTHONSAFEPATH: the server is started as `python -c …`, which would put the working
            # folder first on sys.path, so a folder named `dq` there would stand in for dq itself.
            wanted = {"PYTHONSAFEPATH": "1"}
            if polars_threads:
                wanted["POLARS_MAX_THREADS"] = str(polars_threads)
            before = {name: os.environ.get(name) for name in wanted}
            os.environ.update(wanted)
            try:
                forkserver.ensure_running()
            finally:
                for name, value in before.items():
                    if value is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = value
    return ctx


class _Worker:
    def __init__(self, ctx: Any, limits: Limits) -> None:
        fd, self.stderr_path = tempfile.mkstemp(prefix="dq-worker-", suffix=".log")
        os.close(fd)
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(
            target=_worker_main, args=(child, limits, self.stderr_path), name="dq-reader", daemon=True
        )
        self.proc.start()
        child.close()
        self.token: str | None = None  # the function it holds

    def alive(self) -> bool:
        return self.proc.is_alive()

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.proc.kill()
        with contextlib.suppress(Exception):
            self.proc.join(5)
        with contextlib.suppress(Exception):
            self.conn.close()
        with contextlib.suppress(Exception):
            self.proc.close()
        with contextlib.suppress(OSError):
            os.unlink(self.stderr_path)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.send(None)
        with contextlib.suppress(Exception):
            self.proc.join(2)
        self.kill()

    def stderr_tail(self) -> str:
        try:
            with open(self.stderr_path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - 8192))
                return fh.read().decode("utf-8", "replace")
        except OSError:
            return ""


class WorkerPool:
    """Up to ``workers`` long-lived child processes running calls under ``limits``.

    :meth:`run` is called from any thread; it blocks that thread until a worker returns the
    result (or a :class:`Failure`). Each worker runs one call at a time; a dead worker is
    replaced by a new one for the next call. ``polars_threads``: Polars threads per worker
    (default: the cores split between the workers). Use as a context manager: leaving it stops
    the idle workers and kills the busy ones (a unit in flight when a batch is interrupted is
    dropped)."""

    def __init__(self, workers: int, limits: Limits = DEFAULT_LIMITS, *, polars_threads: int | None = None):
        self.workers = max(1, workers)
        self.limits = limits
        self.polars_threads = polars_threads or max(1, (os.cpu_count() or 1) // self.workers)
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(self.workers)
        self._busy: set[_Worker] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._payloads: list[tuple[Callable[[Any], Any], str, bytes]] = []
        self.sent_bytes = 0  # pickled bytes sent to the workers, functions included (measured)
        self.received_bytes = 0  # pickled results received
        self.largest_result = 0
        self.started = 0  # workers started, replacements included
        self.replaced = 0  # workers that died or were killed

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            busy = list(self._busy)
            self._busy.clear()
        for w in busy:
            w.kill()
        while True:
            try:
                self._idle.get_nowait().stop()
            except queue.Empty:
                break

    def _payload(self, fn: Callable[[Any], Any]) -> tuple[str, bytes]:
        with self._lock:
            for known, token, data in self._payloads:
                if known is fn:
                    return token, data
            data = pickle.dumps(fn, protocol=pickle.HIGHEST_PROTOCOL)
            token = f"{os.getpid()}-{len(self._payloads)}"
            self._payloads.append((fn, token, data))
            return token, data

    def _take(self) -> _Worker:
        self._slots.acquire()
        try:
            try:
                w = self._idle.get_nowait()
            except queue.Empty:
                w = _Worker(_context(self.polars_threads), self.limits)
                self.started += 1
            with self._lock:
                if self._closed:
                    w.kill()
                    raise RuntimeError("the worker pool is closed")
                self._busy.add(w)
            return w
        except BaseException:
            self._slots.release()
            raise

    def _give_back(self, w: _Worker, *, healthy: bool) -> None:
        with self._lock:
            self._busy.discard(w)
            closed = self._closed
        if healthy and not closed:
            self._idle.put(w)
        else:
            w.kill()
            if not healthy:
                self.replaced += 1
        self._slots.release()

    def run(self, fn: Callable[[Any], Any], arg: Any) -> Any:
        """``fn(arg)`` in a worker: its result, the exception it raised (re-raised here), or a
        :class:`Failure` when the worker died, was killed or hit a limit."""
        token, payload = self._payload(fn)
        w = self._take()
        healthy = False
        try:
            msg = pickle.dumps((token, None if w.token == token else payload, arg), pickle.HIGHEST_PROTOCOL)
            self.sent_bytes += len(msg)
            reading: str | None = None
            deadline = time.monotonic() + self.limits.wall if self.limits.wall else None
            try:
                w.conn.send_bytes(msg)
                w.token = token
                while True:
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        return Failure(
                            f"it was stopped after {self.limits.wall:g} seconds, the time limit", reading
                        )
                    if not w.conn.poll(1.0 if left is None else min(left, 1.0)):
                        continue
                    raw = w.conn.recv_bytes()
                    kind, value = pickle.loads(raw)
                    if kind != "reading":
                        break
                    reading = value
            except (EOFError, OSError, pickle.UnpicklingError):
                return self._why(w, reading)
            self.received_bytes += len(raw)
            self.largest_result = max(self.largest_result, len(raw))
            if kind == "memory":
                return Failure(
                    f"it needed more than the {_size(self.limits.memory)} of memory a unit may use", reading
                )
            healthy = True
            if kind == "raised":
                raise value
            return value
        finally:
            self._give_back(w, healthy=healthy)

    def _why(self, w: _Worker, reading: str | None) -> Failure:
        """Why a worker's pipe closed: its exit signal, and its stderr (read, never quoted)."""
        with contextlib.suppress(Exception):
            w.proc.join(5)
        code = w.proc.exitcode
        tail = w.stderr_tail()
        mem = _size(self.limits.memory)
        if "memory allocation of" in tail or "MemoryError" in tail or "std::bad_alloc" in tail:
            return Failure(
                f"it needed more than the {mem} of memory a unit may use (a reader aborted)", reading
            )
        if code is not None and code < 0:
            sig = -code
            try:
                name = signal.Signals(sig).name
            except ValueError:
                name = f"signal {sig}"
            if sig == getattr(signal, "SIGXCPU", -1):
                return Failure(f"it used more than {self.limits.cpu:g} CPU seconds, the CPU limit", reading)
            if sig == signal.SIGKILL:
                return Failure(
                    "its reader was killed (SIGKILL), most likely by the system for lack of memory", reading
                )
            what = "panicked" if "panicked" in tail else "crashed"
            return Failure(f"its reader {what} ({name}, in native code)", reading)
        return Failure(f"its reader stopped unexpectedly (exit status {code})", reading)
