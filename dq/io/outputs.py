"""Output folders and files: created when missing, refused with a clear error when unusable."""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from pathlib import Path

from dq.errors import OutputError
from dq.io.masking import mask_text

__all__ = ["MAX_NAME_PART", "atomic_write_text", "ensure_dir", "safe_filename"]

_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
#: Longest name :func:`safe_filename` returns.
MAX_NAME_PART = 64


def safe_filename(text: str) -> str:
    """The one way dq makes a file or folder name part from a unit id, a folder name or a
    period (the store's files, the reports, the rows-to-fix files, the delivery records).

    A short plain text (letters, digits, ``- _ .``, at most 64, not starting with ``-``, ``_``
    or ``.``, no ``..``) is its own name. Anything else becomes a cleaned prefix of its masked
    form (:func:`dq.io.masking.mask_text`, ASCII letters, digits, ``- _`` only, at most 40) with
    ``~`` and 12 hex digits of its SHA-256 (never starting with ``-``): at most 53 characters,
    and two texts never share a name (``H/011`` and ``H_011`` differ; so do two ID numbers that mask alike).
    """
    text = str(text)
    if _PLAIN.fullmatch(text) and ".." not in text:
        return text
    masked = mask_text(text, 40)
    clean = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_") else "_" for ch in masked)[:40]
    clean = "_" + clean[1:] if clean.startswith("-") else clean  # never read as an option
    return f"{clean}~{hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}"


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
