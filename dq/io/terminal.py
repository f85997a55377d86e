"""Terminal output shared by the library's progress bars and the CLI: colour only on a terminal
and never when ``NO_COLOR`` is set (https://no-color.org) -- then no escape code at all."""

from __future__ import annotations

import os
import sys

__all__ = ["terminal_console", "use_color"]


def use_color(stream=None) -> bool:
    """Colour only on a terminal, and never when ``NO_COLOR`` is set."""
    stream = stream or sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)()) and not os.environ.get("NO_COLOR")


def terminal_console(stream=None):
    """A rich console for ``stream`` (default stdout); plain text unless :func:`use_color`."""
    from rich.console import Console

    stream = stream or sys.stdout
    colour = use_color(stream)
    return Console(
        file=stream,
        soft_wrap=False,
        no_color=not colour,
        color_system="auto" if colour else None,
        highlight=False,
    )
