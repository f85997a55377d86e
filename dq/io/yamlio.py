"""YAML reading with caps, for files that come from outside (manifests, suites, contacts).

Plain data only (libyaml's C safe loader when available, 10× faster than the pure-Python one),
and bounded: a file larger than ``max_bytes`` is refused before it is parsed, and a document
whose aliases expand to more than ``max_nodes`` values (the "billion laughs": a kilobyte of
nested ``&a [*a, *a, …]`` that grows to gigabytes as soon as anything walks it) or that refers
to itself is refused after parsing, before anything uses it. The expanded size is counted
without expanding anything, so the check costs one pass over the distinct values. A number
longer than :data:`MAX_NUMBER_CHARS` characters or an integer outside :data:`INT_RANGE` is
refused as it is read (a 5,000-digit ``seed:`` would otherwise stop the reader with Python's
"Exceeds the limit (4300 digits)").

    load_yaml(text, source="manifest.yaml")      text you already hold
    read_yaml(path, max_bytes=1 << 20)           a file: regular files only, UTF-8, capped

Both raise :class:`dq.errors.InputError` naming the source and the problem.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

from dq.errors import InputError

__all__ = [
    "INT_RANGE",
    "MAX_NUMBER_CHARS",
    "MAX_YAML_BYTES",
    "MAX_YAML_NODES",
    "YAMLInputError",
    "line_index",
    "line_of",
    "load_yaml",
    "read_yaml",
    "regular_file",
]

#: Longest number read from YAML (characters of the scalar: sign, digits, ``_``, exponent):
#: Python refuses to convert an integer of more than 4,300 digits, and no value dq reads from
#: YAML (a seed, a threshold, a count) needs more than 20 digits.
MAX_NUMBER_CHARS = 40
#: Integers outside a signed 64-bit range are refused: Polars, Parquet and the store hold no more.
INT_RANGE = (-(1 << 63), (1 << 63) - 1)


class _NumberRefused(yaml.constructor.ConstructorError):
    """A number outside what dq reads (too many digits, out of range)."""


def _checked(construct: Any, what: str) -> Any:
    def number(loader: Any, node: Any) -> Any:
        text = loader.construct_scalar(node)
        if len(text) > MAX_NUMBER_CHARS:
            digits = sum(ch.isdigit() for ch in text)
            raise _NumberRefused(
                None, None,
                f"{what} of {digits:,} digits, more than the {MAX_NUMBER_CHARS} characters a number may have",
                node.start_mark,
            )  # fmt: skip
        value = construct(loader, node)
        if isinstance(value, int) and not INT_RANGE[0] <= value <= INT_RANGE[1]:
            raise _NumberRefused(None, None, f"{what} outside the range of a 64-bit integer "
                                 f"({INT_RANGE[0]:,} to {INT_RANGE[1]:,})", node.start_mark)  # fmt: skip
        return value

    return number


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The safe loader, with numbers checked before they are converted."""


_Loader.add_constructor(
    "tag:yaml.org,2002:int", _checked(yaml.SafeLoader.construct_yaml_int, "a whole number")
)
_Loader.add_constructor("tag:yaml.org,2002:float", _checked(yaml.SafeLoader.construct_yaml_float, "a number"))


class YAMLInputError(InputError, yaml.YAMLError):
    """YAML that is invalid or refused (an :class:`InputError`, and a ``yaml.YAMLError`` for
    callers that catch that)."""


#: Largest YAML file read (suite files of the whole catalogue are about 200 KB).
MAX_YAML_BYTES = 8 << 20
#: Most values a document may hold once its aliases are expanded.
MAX_YAML_NODES = 1_000_000


def regular_file(path: str | Path, what: str = "file") -> os.stat_result:
    """``path``'s status if it is a regular file (not a symbolic link is NOT implied: links are
    followed); otherwise an :class:`InputError` saying what it is. Reading a FIFO or a device
    would block or never end, and a folder is not a file."""
    p = Path(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise InputError(f"{p}: no such file") from None
    except OSError as exc:
        raise InputError(f"{p}: cannot read the {what} ({exc.strerror or exc})") from exc
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{p}: {_kind(st.st_mode)}, not a regular file; a {what} must be a plain file")
    return st


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a plain file"


def _expanded_size(data: Any, limit: int) -> int:
    """Number of values ``data`` would have if every alias were copied out; raises ValueError
    past ``limit`` or on a cycle. Shared objects are counted once per reference, computed once."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(obj: Any) -> int:
        if not isinstance(obj, dict | list):
            return 1
        key = id(obj)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise ValueError("an alias refers to the value that contains it")
        active.add(key)
        items = [*obj.keys(), *obj.values()] if isinstance(obj, dict) else obj
        total = 1
        for item in items:
            total += size(item)
            if total > limit:
                raise ValueError(f"aliases expand it to more than {limit:,} values")
        active.discard(key)
        sizes[key] = total
        return total

    return size(data)


def load_yaml(text: str, *, source: str = "YAML", max_nodes: int = MAX_YAML_NODES) -> Any:
    """Parse YAML as plain data (safe: no Python objects; aliases capped).

    Raises :class:`InputError` naming ``source`` when the text is not YAML or its aliases
    expand past ``max_nodes`` values.
    """
    try:
        data = yaml.load(text, Loader=_Loader)
    except _NumberRefused as exc:
        mark = exc.problem_mark
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise YAMLInputError(f"{source}{where}: refused, {exc.problem}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise YAMLInputError(f"{source}{where}: not valid YAML ({problem})") from exc
    except RecursionError:
        raise YAMLInputError(f"{source}: nested too deeply to be read") from None
    try:
        _expanded_size(data, max_nodes)
    except ValueError as exc:
        raise YAMLInputError(f"{source}: refused, {exc}") from None
    except RecursionError:
        raise YAMLInputError(f"{source}: nested too deeply to be read") from None
    return data


def read_yaml(
    path: str | Path,
    *,
    what: str = "YAML file",
    max_bytes: int = MAX_YAML_BYTES,
    max_nodes: int = MAX_YAML_NODES,
) -> Any:
    """Read and parse a YAML file: a regular file of at most ``max_bytes``, in UTF-8."""
    p = Path(path)
    st = regular_file(p, what)
    if st.st_size > max_bytes:
        raise InputError(f"{p}: {st.st_size:,} bytes, more than the {max_bytes:,} a {what} may have")
    try:
        with p.open("rb") as fh:
            raw = fh.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(f"{p}: cannot read the {what} ({exc.strerror or exc})") from exc
    if len(raw) > max_bytes:
        raise InputError(f"{p}: more than the {max_bytes:,} bytes a {what} may have")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{p}: not UTF-8 (byte {exc.start}); save the {what} as UTF-8") from None
    return load_yaml(text, source=str(p), max_nodes=max_nodes)


LineIndex = dict[tuple[str | int, ...], int]


def line_index(text: str) -> LineIndex:
    """The 1-based line of every value of a YAML document, by its path of keys and list indexes
    (``("rules", 3, "params", "column")``); a mapping key's line is where the key is written.
    Empty when the text is not YAML (its reader reports that)."""
    try:
        root = yaml.compose(text, Loader=_Loader)
    except (yaml.YAMLError, RecursionError):
        return {}
    index: LineIndex = {}
    seen: set[int] = set()

    def walk(node: yaml.Node, path: tuple[str | int, ...]) -> None:
        if id(node) in seen or len(index) > MAX_YAML_NODES:  # aliases: each node once
            return
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                key = k.value if isinstance(k, yaml.ScalarNode) else str(k.start_mark.line)
                index[(*path, key)] = k.start_mark.line + 1
                walk(v, (*path, key))
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                index[(*path, i)] = v.start_mark.line + 1
                walk(v, (*path, i))

    if root is not None:
        index[()] = root.start_mark.line + 1
        walk(root, ())
    return index


def line_of(index: LineIndex, path: tuple[str | int, ...]) -> int | None:
    """The line of ``path``, or of its longest prefix the index knows."""
    for n in range(len(path), 0, -1):
        line = index.get(path[:n])
        if line is not None:
            return line
    return None
