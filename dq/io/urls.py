"""Batch roots given as fsspec URLs (``s3://bucket/batches``, ``gcs://…``, ``file:///…``).

A unit folder under a URL is copied to a local temporary folder, audited there and deleted
(:func:`local_copy`), so the readers stay those of local files. fsspec (and the protocol's own
package, e.g. s3fs) is needed only when a URL is given: ``pip install 'dq[cluster]'``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dq.errors import InputError, UsageError

__all__ = [
    "file_url_path",
    "first_line",
    "is_url",
    "list_unit_urls",
    "local_copy",
    "read_text",
    "url_fs",
    "url_name",
]


def is_url(path: Any) -> bool:
    """True for an fsspec URL (``protocol://…``); a plain path is not one."""
    return isinstance(path, str) and "://" in path


def url_name(url: str | Path) -> str:
    """The last part of a URL (or path): a unit folder's name."""
    return str(url).rstrip("/").rsplit("/", 1)[-1]


def first_line(exc: BaseException, limit: int = 200) -> str:
    """An exception's message on one line (some backends' messages run to pages)."""
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:limit]


def file_url_path(url: str) -> Path | None:
    """The local path a ``file://`` URL names (``file:///data/x``, ``file://localhost/data/x``);
    None for any other URL. A ``file://`` URL on another host is a :class:`UsageError`."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    if parts.scheme.lower() != "file":
        return None
    if parts.netloc not in ("", "localhost"):
        raise UsageError(f"{url}: a file:// URL must name a path on this machine (file:///path)")
    return Path(unquote(parts.path) or "/")


def url_fs(url: str) -> tuple[Any, str]:
    """(fsspec file system, path inside it) for ``url``. An unknown protocol, a protocol whose
    package is not installed (s3fs for ``s3://``) or a bad URL is a one-line :class:`UsageError`."""
    try:
        import fsspec
    except ImportError as exc:
        raise UsageError(f"{url}: URLs need fsspec; pip install 'dq[cluster]'") from exc
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError as exc:  # the protocol's package, e.g. "Install s3fs to access S3"
        extra = " (pip install 'dq[s3]')" if url.lower().startswith(("s3://", "s3a://")) else ""
        raise UsageError(f"{url}: {first_line(exc)}{extra}") from exc
    except Exception as exc:  # unknown protocol, malformed URL, a backend that cannot start
        raise UsageError(f"{url}: cannot use this URL ({first_line(exc)})") from exc


_fs = url_fs


def list_unit_urls(root: str, period: str) -> list[str]:
    """The unit folders of ``root/period`` as URLs (sorted; hidden entries ignored)."""
    fs, base = _fs(root.rstrip("/") + "/" + period)
    if not fs.isdir(base):
        raise InputError(f"{root}/{period}: no such batch folder (expected ROOT/{period}/<unit>/)")
    names = sorted(url_name(str(e["name"])) for e in fs.ls(base, detail=True) if e.get("type") == "directory")
    names = [n for n in names if not n.startswith(".")]
    if not names:
        raise InputError(f"{root}/{period}: the batch has no unit folders")
    prefix = root.rstrip("/") + "/" + period
    return [f"{prefix}/{n}" for n in names]


def read_text(url: str) -> str:
    fs, path = _fs(url)
    with fs.open(path, "rb") as fh:
        return fh.read().decode("utf-8")


@contextmanager
def local_copy(url: str) -> Iterator[Path]:
    """The files of the folder at ``url`` copied to a local temporary folder (removed after)."""
    fs, remote = _fs(url)
    tmp = Path(tempfile.mkdtemp(prefix="dq-unit-"))
    try:
        local = tmp / url_name(url)
        local.mkdir()
        if not fs.isdir(remote):
            raise InputError(f"{url}: no such folder")
        for f in fs.ls(remote, detail=True):
            if f.get("type") == "file":
                fs.get_file(f["name"], str(local / url_name(str(f["name"]))))
        yield local
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
