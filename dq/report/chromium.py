"""How dq starts headless Chromium (screenshots, browser tests): the flags that keep it offline."""

from __future__ import annotations

import shutil
from pathlib import Path

__all__ = ["FLAGS", "find_chromium"]

# Headless, no sandbox (root in CI), and no background connections: the machines are offline.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def find_chromium() -> str | None:
    """Path of Debian's chromium, or None when it is not installed."""
    return next((p for p in (shutil.which("chromium"), "/usr/bin/chromium") if p and Path(p).exists()), None)
