"""Output folders and files: created when missing, refused with a clear error when unusable."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from dq.errors import OutputError

__all__ = ["atomic_write_text", "ensure_dir", "safe_filename"]


def safe_filename(text: str) -> str:
    """``text`` reduced to characters safe in a file or folder name (letters, digits, ``-_.``;
    anything else becomes ``_``; no leading dot), e.g. a period or a unit id in a report path."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text).lstrip(".") or "_"


def ensure_dir(path: str | Path) -> Path:
    """``path`` as an existing, writable folder (created with its parents if missing)."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}: exists and is not a folder (choose another output folder)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot create the folder ({exc.strerror or exc})") from exc
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"{folder}: the folder is not writable (choose another output folder)")
    return folder


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file and a rename: never half-written."""
    target = Path(path)
    ensure_dir(target.parent)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{target}: cannot write ({exc.strerror or exc})") from exc
    return target
