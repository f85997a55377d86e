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
from typing import NoReturn

from dq import __version__
from dq.cli import audit, checks, demo, explain, gx, history, report, score, send, suites, synth
from dq.cli.common import EXIT_BUG, EXIT_OK, EXIT_USAGE
from dq.errors import DQError

__all__ = ["build_parser", "main"]

# name, module, help: every command is imported statically so none can vanish from the parser.
COMMANDS = (
    ("audit", audit, "audit one site extract (folder) or one table file"),
    ("score", score, "audit and score every unit of a batch"),
    ("history", history, "list stored runs and scores"),
    ("report", report, "render HTML score reports"),
    ("explain", explain, "where a unit loses points, in overall-score points"),
    ("send", send, "e-mail every unit its report, once, and record it"),
    ("synth", synth, "generate a synthetic batch of site extracts with known defects"),
    ("suites", suites, "list or validate rule suites"),
    ("checks", checks, "list the check catalogue"),
    ("gx", gx, "Great Expectations: export suites, validate them with GX, import GX suites"),
    ("demo", demo, "run the main job end to end on the bundled data"),
)


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on a usage error; say it on one line (and as JSON with --format json)."""

    json_errors = False

    def error(self, message: str) -> NoReturn:
        _report_error(None, f"{message} (see {self.prog} --help)", "UsageError", EXIT_USAGE,
                      as_json=_Parser.json_errors)  # fmt: skip
        raise SystemExit(EXIT_USAGE)


def _common_options() -> _Parser:
    p = _Parser(add_help=False)
    p.add_argument("-q", "--quiet", action="store_true", help="print only results and errors")
    p.add_argument("-v", "--verbose", action="store_true", help="say more (and show tracebacks of bugs)")
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="dq", description="Data-quality audits for regional health information platforms.")
    parser.add_argument("--version", action="version", version=f"dq {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    common = _common_options()
    for name, module, help_ in COMMANDS:
        p = sub.add_parser(name, help=help_, parents=[common])
        module.configure_parser(p)
        p.set_defaults(func=module.run)
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
    """The parser of the command ``args`` chose (its own help is where a bad option is explained)."""
    for action in parser._subparsers._group_actions if parser._subparsers else ():
        if isinstance(action, argparse._SubParsersAction):
            return action.choices.get(getattr(args, "command", None), parser)
    return parser


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
        return _report_error(args, str(exc), type(exc).__name__, EXIT_USAGE)
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
