"""The ``dq`` command line: a thin layer over the library, one module per command.

Exit codes (the same for every command):

    0  every rule passed (warnings allowed); for batch commands, every unit was done
    1  findings: a rule of severity error or critical failed, or a unit of a batch errored
    2  usage or input error: invalid suite, unreadable file or manifest, bad period, unwritable output
    3  an unexpected error inside dq (a bug: please report it)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any, NoReturn

from dq import __version__
from dq.cli._audit import configure_parser as audit_options
from dq.cli._audit import run as audit_run
from dq.cli._checks import configure_parser as checks_options
from dq.cli._checks import run as checks_run
from dq.cli._common import EXIT_BUG, EXIT_OK, EXIT_USAGE
from dq.cli._demo import configure_parser as demo_options
from dq.cli._demo import run as demo_run
from dq.cli._explain import configure_parser as explain_options
from dq.cli._explain import run as explain_run
from dq.cli._gx import configure_parser as gx_options
from dq.cli._gx import run as gx_run
from dq.cli._history import configure_parser as history_options
from dq.cli._history import run as history_run
from dq.cli._init import configure_parser as init_options
from dq.cli._init import run as init_run
from dq.cli._project import configure_parser as project_options
from dq.cli._project import run as project_run
from dq.cli._report import configure_parser as report_options
from dq.cli._report import run as report_run
from dq.cli._score import configure_parser as score_options
from dq.cli._score import run as score_run
from dq.cli._send import configure_parser as send_options
from dq.cli._send import run as send_run
from dq.cli._suggest import configure_parser as suggest_options
from dq.cli._suggest import run as suggest_run
from dq.cli._suites import configure_parser as suites_options
from dq.cli._suites import run as suites_run
from dq.cli._synth import configure_parser as synth_options
from dq.cli._synth import run as synth_run
from dq.errors import DQError, UsageError
from dq.project import PROJECT_ENV

__all__ = ["build_parser", "main"]

# name, its options, its run, help: every command is imported statically so none can vanish from the parser.
COMMANDS = (
    ("audit", audit_options, audit_run, "audit one site extract (folder) or one table file"),
    ("score", score_options, score_run, "audit and score every unit of a batch"),
    ("history", history_options, history_run, "list stored runs and scores"),
    ("report", report_options, report_run, "render HTML score reports"),
    ("explain", explain_options, explain_run, "where a unit loses points, in overall-score points"),
    ("send", send_options, send_run, "e-mail every unit its report, once, and record it"),
    ("synth", synth_options, synth_run, "generate a synthetic batch of site extracts with known defects"),
    ("suites", suites_options, suites_run, "list or validate rule suites (a whole project with validate)"),
    (
        "project",
        project_options,
        project_run,
        "show the rule project in force and where each value came from",
    ),
    ("init", init_options, init_run, "create a rule project: dq.toml, catalogue, suites, scoring, registry"),
    (
        "suggest",
        suggest_options,
        suggest_run,
        "profile a table file or an extract and draft its catalogue entry and suite",
    ),
    ("checks", checks_options, checks_run, "list the check catalogue"),
    ("gx", gx_options, gx_run, "Great Expectations: export suites, validate them with GX, import GX suites"),
    ("demo", demo_options, demo_run, "run the main job end to end on the bundled data"),
)


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on a usage error; say it on one line (and as JSON with --format json).
    ``commands``: the parser of each command (filled by :func:`build_parser` on the top one)."""

    json_errors = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands: dict[str, argparse.ArgumentParser] = {}

    def error(self, message: str) -> NoReturn:
        _report_error(None, f"{message} (see {self.prog} --help)", "UsageError", EXIT_USAGE,
                      as_json=_Parser.json_errors)  # fmt: skip
        raise SystemExit(EXIT_USAGE)


def _common_options() -> _Parser:
    p = _Parser(add_help=False)
    p.add_argument("-q", "--quiet", action="store_true", help="print only results and errors")
    p.add_argument("-v", "--verbose", action="store_true", help="say more (and show tracebacks of bugs)")
    p.add_argument(
        "--project",
        metavar="DIR",
        help=f"rule project folder (its dq.toml); default: ${PROJECT_ENV}, else the nearest dq.toml "
        "here or above, else the bundled specification",
    )
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="dq", description="Data-quality audits for regional health information platforms.")
    parser.add_argument("--version", action="version", version=f"dq {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    common = _common_options()
    for name, options, run, help_ in COMMANDS:
        p = sub.add_parser(name, help=help_, parents=[common])
        options(p)
        p.set_defaults(func=run)
        parser.commands[name] = p
    return parser


def _wants_json(argv: Sequence[str]) -> bool:
    argv = list(argv)
    return "--format=json" in argv or any(
        a == "--format" and argv[i + 1 : i + 2] == ["json"] for i, a in enumerate(argv)
    )


def _report_error(
    args: argparse.Namespace | None, message: str, kind: str, code: int, as_json: bool = False
) -> int:
    if as_json or (args is not None and getattr(args, "format", None) == "json"):
        print(
            json.dumps({"error": {"kind": kind, "message": message, "exit_code": code}}, ensure_ascii=False)
        )
    print(f"dq: error: {message}", file=sys.stderr)
    return code


_GLOBAL_FLAGS = ("-q", "--quiet", "-v", "--verbose")


def _hoist_global_flags(argv: list[str]) -> list[str]:
    """``dq -q audit X`` as ``dq audit -q X``: the shared flags may stand before the command too."""
    i = 0
    while i < len(argv) and argv[i] in _GLOBAL_FLAGS:
        i += 1
    if 0 < i < len(argv):
        return [argv[i], *argv[:i], *argv[i + 1 :]]
    return argv


def _command_parser(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The parser of the command ``args`` chose (its own help is where a bad option is explained):
    from the map :func:`build_parser` keeps, not from argparse's internals."""
    commands: dict[str, argparse.ArgumentParser] = getattr(parser, "commands", {})
    return commands.get(str(getattr(args, "command", "")), parser)


def main(argv: Sequence[str] | None = None) -> int:
    argv = _hoist_global_flags(sys.argv[1:] if argv is None else list(argv))
    parser = build_parser()
    _Parser.json_errors = _wants_json(argv)
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:  # an option the command does not have: point at the command's own help
            _command_parser(parser, args).error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as exc:  # --help, --version (0) or a usage error already reported (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except DQError as exc:
        message = str(exc)
        if isinstance(exc, UsageError) and "--help" not in message:  # an option: its command explains it
            message += f" (see {_command_parser(parser, args).prog} --help)"
        return _report_error(args, message, type(exc).__name__, EXIT_USAGE)
    except BrokenPipeError:  # output piped into head & co.: stop quietly
        with contextlib.suppress(OSError, ValueError):  # ValueError: stdout is not a real file
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        return _report_error(args, f"{where}{exc.strerror or exc}", "OSError", EXIT_USAGE)
    except KeyboardInterrupt:
        print("dq: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: say so briefly, never exit 1 (which means "findings")
        if getattr(args, "verbose", False):
            traceback.print_exc()
        msg = f"unexpected {type(exc).__name__}: a bug in dq {__version__}; please report it with the command"
        msg += " you ran" + ("" if getattr(args, "verbose", False) else " (-v shows the traceback)")
        return _report_error(args, msg, "InternalError", EXIT_BUG)


if __name__ == "__main__":
    sys.exit(main())
