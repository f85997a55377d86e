"""Errors raised by dq.

    DQError                     base of everything dq raises on purpose
    ├── SuiteError              a suite or catalogue file is invalid (lists every problem)
    ├── InputError              an extract, table file, manifest, registry or store cannot be read
    │   ├── UsageError          a value given on the command line or to a function is invalid
    │   │                       (period, count, option pair); also a ValueError
    │   ├── StoreError          the history store is not a folder or cannot be read
    │   ├── PublishedError      a published table is missing or a cell is malformed (a ValueError)
    │   ├── RegistryError       the unit registry CSV is invalid (dq.io.registry; a ValueError)
    │   └── UnknownUnitError    a unit name or id is not in the registry (dq.io.registry; a LookupError)
    ├── OutputError             an output folder or file cannot be written
    └── CheckError              a rule cannot be compiled or run (becomes a result with status error)
        └── NotApplicable       the rule has nothing to judge (e.g. a referenced table was not
                                uploaded; becomes a result with status not_applicable)

Every message names the file, table, rule or row it is about so that a user can act on it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CheckError",
    "DQError",
    "InputError",
    "NotApplicable",
    "OutputError",
    "Problem",
    "PublishedError",
    "StoreError",
    "SuiteError",
    "UsageError",
]


class DQError(Exception):
    """Base class for errors dq raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One validation problem in a suite or catalogue file."""

    file: str
    rule: str | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.rule:
            where += f" rule {self.rule}"
        if self.field:
            where += f" field '{self.field}'"
        return f"{where}: {self.message}"


class SuiteError(DQError):
    """A suite or catalogue is invalid. ``problems`` lists every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in suites:\n{lines}")


class InputError(DQError):
    """An extract or table file cannot be read."""


class UsageError(InputError, ValueError):
    """A value given on the command line or to an API function is invalid."""


class StoreError(InputError):
    """The history store cannot be used: it is a file, or its dataset cannot be read."""


class PublishedError(InputError, ValueError):
    """A published table is missing, or one of its cells is neither a number nor a known marker."""


class OutputError(DQError):
    """An output folder or file cannot be created or written."""


class CheckError(DQError):
    """A rule cannot be compiled or evaluated."""


class NotApplicable(CheckError):
    """The rule has nothing to judge here; its result is ``not_applicable``, not an error."""


def raise_if_interrupted(exc: BaseException) -> None:
    """Re-raise a Ctrl-C that a library turned into an ordinary error.

    Polars runs dq's Python column functions inside its queries; a KeyboardInterrupt raised in
    one comes back as a query error (``ComputeError: KeyboardInterrupt…``). Code that isolates
    broken rules or units by catching ``Exception`` calls this first, so an interrupt is never
    taken for a broken rule."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, KeyboardInterrupt) or "KeyboardInterrupt" in str(seen)[:200]:
            raise KeyboardInterrupt from exc
        seen = seen.__cause__ or seen.__context__
