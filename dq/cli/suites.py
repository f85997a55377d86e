"""`dq suites list|validate`: the rule suites."""

from __future__ import annotations

import argparse

from dq.cli.common import EXIT_OK

__all__ = ["configure_parser", "run"]


def configure_parser(s: argparse.ArgumentParser) -> None:
    s.add_argument("action", choices=("list", "validate"))
    s.add_argument("paths", nargs="*", help="suite files or folders (default: the shipped suites)")


def run(args: argparse.Namespace) -> int:
    from dq.suite import load_suites

    suites = load_suites(args.paths or None)
    if args.action == "validate":
        n = sum(len(s.rules) for s in suites)
        print(f"ok: {len(suites)} suites, {n} rules")
        return EXIT_OK
    for s in suites:
        print(f"{s.id:<36} {s.kind:<9} {s.table:<24} {len(s.rules):>3} rules  {s.title_zh} / {s.title_en}")
    return EXIT_OK
