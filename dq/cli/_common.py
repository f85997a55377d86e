"""What every command shares: exit codes, output conventions and argument types."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "EXIT_BUG",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "add_format",
    "add_store",
    "console",
    "count",
    "debug",
    "info",
    "open_store",
    "period",
    "print_json",
    "print_rows",
    "project_of",
    "store_path",
    "use_color",
    "write_output",
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BUG = 0, 1, 2, 3

#: The default history stores: batch runs, and the newsletters' published summaries (kept apart so
#: no report compares a unit's batch month with a published one; docs/scoring.md).
DEFAULT_STORE = "history"
PUBLISHED_STORE = "history-published"


def use_color(stream=None) -> bool:
    """Colour only on a terminal, and never when ``NO_COLOR`` is set (https://no-color.org)."""
    from dq.io.terminal import use_color as _use_color

    return _use_color(stream)


def console(stream=None):
    """A rich console for ``stream`` (default stdout) honouring ``NO_COLOR`` (no escape codes)."""
    from dq.io.terminal import terminal_console

    return terminal_console(stream)


def period(text: str) -> str:
    """argparse type: a month ``YYYY-MM`` (the same rule and message as the library's)."""
    from dq.errors import DQError
    from dq.io.period import Period

    try:
        Period.parse(text)
    except DQError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


# The types of every command's numeric options, so that the same mistake gets the same answer
# whichever command it is made in ("argument --workers: expected a whole number ≥ 1, got 0").
def whole(least: int = 0, most: int | None = None):
    """argparse type: a whole number ≥ ``least`` (and ≤ ``most``)."""

    def parse(text: str) -> int:
        bounds = f"≥ {least}" if most is None else f"from {least} to {most}"
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number {bounds}, got {text[:20]!r}") from None
        if value < least or (most is not None and value > most):
            raise argparse.ArgumentTypeError(f"expected a whole number {bounds}, got {value}")
        return value

    return parse


#: argparse type: a whole number ≥ 0 (a count that may be none).
count = whole(0)
#: argparse type: a whole number ≥ 1 (threads, workers).
positive = whole(1)


def seconds(zero: bool = False):
    """argparse type: a finite number of seconds, > 0 (≥ 0 when ``zero``), below 10⁹."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (0 <= value < 10**9) or (value == 0 and not zero):  # NaN fails the first test
            least = "≥ 0" if zero else "> 0"
            raise argparse.ArgumentTypeError(f"expected a number of seconds {least}, got {text[:20]!r}")
        return value

    return parse


def add_format(p: argparse.ArgumentParser, *extra: str) -> None:
    """``--format table|json`` (plus ``extra`` choices such as markdown), default table."""
    choices = ("table", "json", *extra)
    p.add_argument("--format", choices=choices, default="table", help=f"output format: {'|'.join(choices)}")


def add_store(p: argparse.ArgumentParser) -> None:
    """``--store``, the history store a command reads (default: the project's, else the batch
    runs' store; see :func:`store_path`)."""
    p.add_argument(
        "--store",
        default=None,
        help=f"history folder or fsspec URL (default: the project's store, else {DEFAULT_STORE})",
    )


def project_of(args: argparse.Namespace):
    """The rule project of a command (``--project``, ``DQ_PROJECT``, the nearest dq.toml, else the
    bundled one), read once per command; its warnings (unknown keys, with file and line) go to
    stderr unless ``-q``."""
    cached = getattr(args, "dq_project", None)
    if cached is None:
        from dq.project import load_project

        cached = load_project(getattr(args, "project", None))
        for w in cached.warnings:
            info(args, f"dq: warning: {w}")
        args.dq_project = cached
    return cached


def store_path(args: argparse.Namespace) -> str:
    """``--store`` if given, else the project's default store."""
    return args.store or project_of(args).defaults.store


def print_json(doc: Mapping[str, Any], out=None) -> None:
    """``doc`` as one indented JSON object (UTF-8 text kept as is) on ``out`` (default stdout),
    ``schema_version`` first: every command's ``--format json`` output goes through here
    (docs/json.md)."""
    from dq.engine.results import SCHEMA_VERSION

    out = out or sys.stdout
    body = {"schema_version": SCHEMA_VERSION, **{k: v for k, v in doc.items() if k != "schema_version"}}
    out.write(json.dumps(body, ensure_ascii=False, indent=2, default=str) + "\n")


def info(args: argparse.Namespace, message: str) -> None:
    """A progress or status line on stderr, unless ``-q``."""
    if not getattr(args, "quiet", False):
        print(message, file=sys.stderr)


def debug(args: argparse.Namespace, message: str) -> None:
    """A detail line on stderr, only with ``-v``."""
    if getattr(args, "verbose", False):
        print(message, file=sys.stderr)


def write_output(path: str | Path, text: str) -> Path:
    """Write a command's output file atomically; an unusable folder is an OutputError (exit 2)."""
    from dq.io.outputs import atomic_write_text

    return atomic_write_text(path, text)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def print_rows(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    title: str | None = None,
    right: Iterable[str] = (),
    out=None,
) -> None:
    """A readable table of ``rows``: a rich table on a terminal (colour per ``NO_COLOR``), aligned
    plain text otherwise (pipes, files), wide characters counted as two columns."""
    out = out or sys.stdout
    right = set(right)
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    if out.isatty():
        from rich.table import Table

        t = Table(title=title)
        for c in columns:
            t.add_column(c, justify="right" if c in right else "left")
        for row in cells:
            t.add_row(*row)
        console(out).print(t)
        return
    from rich.cells import cell_len

    widths = [max([cell_len(c), *(cell_len(r[i]) for r in cells)]) for i, c in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        parts = []
        for i, (v, w) in enumerate(zip(values, widths, strict=True)):
            pad = " " * (w - cell_len(v))
            parts.append(pad + v if columns[i] in right else v + pad)
        return "  ".join(parts).rstrip()

    if title:
        print(title, file=out)
    print(line(list(columns)), file=out)
    print(line(["-" * w for w in widths]), file=out)
    for row in cells:
        print(line(row), file=out)


def open_store(path: str):
    """The history store at ``path`` for a command that reads it; a StoreError naming it when there
    is none, pointing to the published runs' store when the default one is missing and that is
    here (``dq score --published`` writes there)."""
    from dq.errors import StoreError
    from dq.store.history import Store

    store = Store(path)
    if store.exists():
        return store
    hint = "run `dq score` first, or pass --store"
    if path == DEFAULT_STORE and Store(PUBLISHED_STORE).exists():
        hint = f"the published runs are in {PUBLISHED_STORE}: pass --store {PUBLISHED_STORE}"
    raise StoreError(f"{store.root}: no history store here ({hint})")
