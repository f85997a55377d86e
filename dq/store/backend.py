"""Where the history store's files live: one small interface, :class:`StoreBackend`, and its two
implementations, chosen once when a store is opened (:func:`open_backend`).

* :class:`LocalBackend`: a folder (also a ``file:///…`` URL). A file is written to a hidden
  temporary name and renamed (atomic on POSIX); the writer's lock is an OS file lock
  (:class:`FileLock`), which a killed process releases.
* :class:`FsspecBackend`: any other fsspec URL (``s3://bucket/dq/history``, ``memory://…``). There
  is no rename and no file lock: each file is one object written in a single request (a reader sees
  the whole object or none), and the writer's lock is an object created only if absent
  (:class:`ObjectLock`); see docs/scale.md for what that does and does not guarantee.

A backend knows nothing of Parquet, schemas or periods: it lists, reads and writes bytes at paths
below the store's root (``parts``, e.g. ``("scores", "period=2020-09", "<run>__H001.parquet")``).
What the files mean, and the tolerant reading of them, is :class:`dq.store.history.Store`'s, the
same for every backend. docs/design.md says how to add one.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from dq.errors import InputError, OutputError, StoreError
from dq.io.urls import file_url_path, first_line, is_url, url_fs

__all__ = [
    "FileLock",
    "FsspecBackend",
    "LocalBackend",
    "ObjectLock",
    "StoreBackend",
    "StoredFile",
    "WriterLock",
    "open_backend",
]


@dataclass(frozen=True)
class StoredFile:
    """One file of the store as a listing found it."""

    loc: Any  #: the backend's own name for it (a :class:`Path`, or a path of the URL's file system)
    key: tuple  #: changes whenever the file does (path, size, time or ETag): what caches are keyed by
    rel: tuple[str, ...]  #: its path below the store's root, in parts

    @property
    def name(self) -> str:
        return self.rel[-1] if self.rel else ""


#: What Polars reads one file from: a local path, or the file's bytes; the error when it could not
#: be fetched at all.
Source = str | bytes | BaseException


def _holder_text(what: str, token: str = "") -> str:
    """Who holds a lock, for a second taker (and, with ``token``, for the holder to know its own)."""
    tail = f", token {token}" if token else ""
    since = f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC"
    return f"pid {os.getpid()} on {socket.gethostname()} since {since} ({what}{tail})\n"


class WriterLock(ABC):
    """A lock that one process at a time holds on a store (a ``dq score`` batch; ``dq send``).
    :meth:`acquire` refuses with an :class:`~dq.errors.InputError` naming the store and the holder."""

    @abstractmethod
    def acquire(self) -> None: ...

    @abstractmethod
    def release(self) -> None:
        """Give the lock up (nothing when it is not held)."""

    @abstractmethod
    def held_by_other(self) -> bool:
        """True while another holder (another process, or another lock object) holds it."""

    @contextlib.contextmanager
    def held(self) -> Iterator[WriterLock]:
        self.acquire()
        try:
            yield self
        finally:
            self.release()


class StoreBackend(ABC):
    """The file operations the history store needs, on paths below its root given in ``parts``.

    Every write is whole or nothing: a reader never sees half a file. Reads and listings never
    return hidden files (a name starting with a dot: a lock, a temporary file)."""

    #: True for a store behind a URL other than ``file://`` (informational: what the store does
    #: never depends on it).
    remote: ClassVar[bool] = False
    #: What to check when a write fails (ends the error message).
    write_hint: ClassVar[str] = ""

    root: Path | str  #: the store as users name it (a folder, or the URL)

    @abstractmethod
    def exists(self) -> bool:
        """True when the store has been written to."""

    @abstractmethod
    def location(self, *parts: str) -> Any:
        """The backend's name for the file or folder ``parts``."""

    @abstractmethod
    def display(self, loc: Any) -> str:
        """``loc`` as users see it (a path, or a full URL)."""

    @abstractmethod
    def address(self) -> str:
        """The store's root as another process or machine opens it (an absolute path, or the URL)."""

    @abstractmethod
    def glob(self, folder: str, subfolders: str) -> list[StoredFile]:
        """The files ``<folder>/<subfolders>/*.parquet`` (``subfolders`` a name or a glob such as
        ``period=*``), sorted."""

    @abstractmethod
    def walk(self) -> list[StoredFile]:
        """Every file of the store not hidden in any part of its path, sorted."""

    @abstractmethod
    def sources(self, files: Sequence[StoredFile], keep: bool = True) -> dict[tuple, Source]:
        """key → what Polars reads each file from (or why it could not be fetched). ``keep``: the
        backend may remember fetched bytes for later reads of the unchanged file."""

    @abstractmethod
    def read(self, *parts: str) -> bytes | None:
        """The bytes of the file ``parts``, or None when there is none."""

    @abstractmethod
    def write(self, data: bytes, *parts: str) -> Any:
        """Write the file ``parts`` whole or not at all (replacing it); returns its location.
        Raises the backend's own error (``OSError`` and the like) when it cannot."""

    @abstractmethod
    def lock(self, name: str, what: str) -> WriterLock:
        """A writer's lock kept at ``name`` (a hidden file below the root, e.g. ``.dq-lock``)
        for the command ``what`` (named to a second taker)."""


def open_backend(root: str | Path) -> StoreBackend:
    """The backend of the store at ``root``: a folder (or ``file://`` URL) or another fsspec URL."""
    if is_url(root):
        local = file_url_path(str(root))
        if local is None:
            return FsspecBackend(str(root))
        root = local
    return LocalBackend(Path(root))


# --------------------------------------------------------------------------- a local folder
class FileLock(WriterLock):
    """An OS file lock (``flock``) on the file ``path``: a killed process releases it, so a stale
    lock never blocks the next run. The file keeps who took it, to name them to a second taker."""

    def __init__(self, path: Path, what: str, store: str):
        self.path = path
        self.what = what
        self.store = store
        self._fh: Any = None

    def acquire(self) -> None:
        import fcntl

        if self._fh is not None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fh = open(self.path, "a+")  # noqa: SIM115
        except OSError as exc:
            raise OutputError(f"{self.store}: cannot use the store ({exc.strerror or exc})") from exc
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise InputError(
                f"{self.store}: the store is in use by another dq run ({holder}); wait for it to "
                "finish or use another --store"
            ) from None
        with contextlib.suppress(OSError):
            fh.seek(0)
            fh.truncate()
            fh.write(_holder_text(self.what))
            fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._fh is not None:
            self._fh.close()  # releases the lock
            self._fh = None

    def held_by_other(self) -> bool:
        import fcntl

        if not self.path.is_file():
            return False
        try:
            with open(self.path) as fh:
                try:
                    fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
                except BlockingIOError:
                    return True
                return False
        except OSError:
            return False


class LocalBackend(StoreBackend):
    """A store in a local folder."""

    write_hint = "is the disk full or the folder read-only?"

    def __init__(self, root: Path):
        self.root: Path = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise StoreError(f"{self.root}: is a file, not a history store (give --store a folder)")

    def exists(self) -> bool:
        return self.root.exists()

    def location(self, *parts: str) -> Path:
        return Path(self.root, *parts)

    def display(self, loc: Any) -> str:
        return str(loc)

    def address(self) -> str:
        return str(self.root.resolve())

    def glob(self, folder: str, subfolders: str) -> list[StoredFile]:
        out = []
        for f in sorted((self.root / folder).glob(f"{subfolders}/*.parquet")):
            if f.name.startswith(".") or f.parent.name.startswith("."):
                continue
            try:
                st = f.stat()
            except OSError:
                continue  # removed since listed
            out.append(StoredFile(f, (str(f), st.st_mtime_ns, st.st_size), (folder, f.parent.name, f.name)))
        return out

    def walk(self) -> list[StoredFile]:
        out: list[StoredFile] = []
        if not self.root.is_dir():
            return out
        for f in sorted(self.root.rglob("*")):
            rel = f.relative_to(self.root).parts
            if any(part.startswith(".") for part in rel):
                continue
            try:
                st = f.lstat()
            except OSError:
                continue
            if f.is_dir() and not f.name.endswith(".parquet"):
                continue
            out.append(StoredFile(f, (str(f), st.st_mtime_ns, st.st_size), rel))
        return out

    def sources(self, files: Sequence[StoredFile], keep: bool = True) -> dict[tuple, Source]:
        return {f.key: str(f.loc) for f in files}  # Polars reads (and scans) the file itself

    def read(self, *parts: str) -> bytes | None:
        try:
            return self.location(*parts).read_bytes()
        except FileNotFoundError:
            return None

    def write(self, data: bytes, *parts: str) -> Path:
        path = self.location(*parts)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)  # never leave a half-written file behind
            raise
        return path

    def lock(self, name: str, what: str) -> FileLock:
        return FileLock(self.location(name), what, str(self.root))


# --------------------------------------------------------------------------- an fsspec URL
_HOLDER = re.compile(r"pid (\d+) on (\S+)")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


class ObjectLock(WriterLock):
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
        text = _holder_text(self.what, self.token)
        for attempt in range(2):
            holder = self.holder()
            if holder is None:
                try:
                    self._create(text.encode())
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

    def _create(self, data: bytes) -> None:
        """Write the lock object only if there is none (FileExistsError if there is)."""
        try:
            with self.fs.open(self.path, "xb") as fh:
                fh.write(data)
        except FileNotFoundError:  # a file system with folders: make the lock's, then try again
            self.fs.makedirs(self.path.rsplit("/", 1)[0], exist_ok=True)
            with self.fs.open(self.path, "xb") as fh:
                fh.write(data)

    def release(self) -> None:
        """Remove the lock object if it is still this run's."""
        with contextlib.suppress(Exception):
            holder = self.holder()
            if holder is not None and self.token and self.token in holder:
                self.fs.rm_file(self.path)
        self.token = ""


class FsspecBackend(StoreBackend):
    """A store behind an fsspec URL: each file one object. Fetched objects are remembered by
    path, size and ETag (or time) for the life of the backend, so a command reads each once.
    A file appears whole because an object store writes an object in one request; an fsspec file
    system with folders (``sftp://``, fsspec's own ``file://``) gets its folders made as needed
    but no such guarantee (a local folder is :class:`LocalBackend`'s)."""

    remote = True
    write_hint = "is the URL writable with these credentials?"

    def __init__(self, url: str):
        self.root: str = url.rstrip("/")
        self.fs, base = url_fs(self.root)
        self.base = base.rstrip("/")
        self._bytes: dict[tuple, bytes] = {}

    def _key(self, path: str, info: dict[str, Any]) -> tuple:
        return (path, info.get("size"), info.get("ETag") or info.get("mtime") or info.get("created"))

    def exists(self) -> bool:
        try:
            self.fs.invalidate_cache()
            return bool(self.fs.exists(self.base))
        except Exception as exc:
            raise StoreError(f"{self.root}: cannot reach the store ({first_line(exc)})") from exc

    def location(self, *parts: str) -> str:
        return "/".join([self.base, *parts])

    def display(self, loc: Any) -> str:
        text = str(loc)
        if text == self.base or text.startswith(self.base + "/"):
            return str(self.root) + text[len(self.base) :]  # as the user wrote the URL
        return str(self.fs.unstrip_protocol(text))

    def address(self) -> str:
        return str(self.root)

    def _rel(self, path: str) -> tuple[str, ...]:
        return tuple(path[len(self.base) + 1 :].split("/"))

    def glob(self, folder: str, subfolders: str) -> list[StoredFile]:
        try:
            self.fs.invalidate_cache()  # other processes write too: list afresh
            found = self.fs.glob(f"{self.base}/{folder}/{subfolders}/*.parquet", detail=True)
        except FileNotFoundError:
            return []
        except Exception as exc:
            raise StoreError(f"{self.root}: cannot list the store ({first_line(exc)})") from exc
        out = []
        for p in sorted(found):
            info = found[p]
            rel = self._rel(p)
            if info.get("type", "file") != "file" or rel[-1].startswith(".") or rel[-2].startswith("."):
                continue
            out.append(StoredFile(p, self._key(p, info), rel))
        return out

    def walk(self) -> list[StoredFile]:
        try:
            self.fs.invalidate_cache()
            found = self.fs.find(self.base, detail=True)
        except FileNotFoundError:
            return []
        except Exception as exc:
            raise StoreError(f"{self.root}: cannot list the store ({first_line(exc)})") from exc
        out = []
        for p in sorted(found):
            rel = self._rel(p)
            if not p.startswith(self.base + "/") or any(part.startswith(".") for part in rel):
                continue
            out.append(StoredFile(p, self._key(p, found[p]), rel))
        return out

    def sources(self, files: Sequence[StoredFile], keep: bool = True) -> dict[tuple, Source]:
        out: dict[tuple, Source] = {f.key: self._bytes[f.key] for f in files if f.key in self._bytes}
        todo = [f for f in files if f.key not in out]
        for i in range(0, len(todo), 256):  # one request per object, fetched concurrently by the backend
            chunk = todo[i : i + 256]
            try:
                blobs = self.fs.cat([f.loc for f in chunk], on_error="return")
            except Exception as exc:
                raise StoreError(f"{self.root}: cannot read the store ({first_line(exc)})") from exc
            if not isinstance(blobs, dict):
                blobs = {chunk[0].loc: blobs}
            for f in chunk:
                got = blobs.get(f.loc, FileNotFoundError(f.loc))
                out[f.key] = got
                if keep and isinstance(got, bytes):
                    self._bytes[f.key] = got
        return out

    def read(self, *parts: str) -> bytes | None:
        try:
            return bytes(self.fs.cat_file(self.location(*parts)))
        except FileNotFoundError:
            return None

    def write(self, data: bytes, *parts: str) -> str:
        path = self.location(*parts)
        try:
            self.fs.pipe_file(path, data)  # one PUT: the object appears whole
        except FileNotFoundError:  # a file system with folders (not an object store): make them
            self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
            self.fs.pipe_file(path, data)
        return path

    def lock(self, name: str, what: str) -> ObjectLock:
        path = self.location(name)
        return ObjectLock(self.fs, path, what, url=self.display(path))
