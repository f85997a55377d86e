"""What every command shares: exit codes, output conventions and argument types."""

from __future__ import annotations

import argparse
import os
import sys

__all__ = [
    "EXIT_BUG",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "console",
    "count",
    "period",
    "use_color",
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BUG = 0, 1, 2, 3


def use_color(stream=None) -> bool:
    """Colour only on a terminal, and never when ``NO_COLOR`` is set (https://no-color.org)."""
    stream = stream or sys.stdout
    return bool(stream.isatty()) and not os.environ.get("NO_COLOR")


def console(stream=None):
    """A rich console for ``stream`` (default stdout) honouring ``NO_COLOR``."""
    from rich.console import Console

    stream = stream or sys.stdout
    return Console(file=stream, soft_wrap=False, no_color=not use_color(stream), highlight=False)


def period(text: str) -> str:
    """argparse type: a month ``YYYY-MM`` (the same rule and message as the library's)."""
    from dq.columns import parse_period
    from dq.errors import DQError

    try:
        parse_period(text)
    except DQError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def count(text: str) -> int:
    """argparse type: a whole number ≥ 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 0, got {value}")
    return value
