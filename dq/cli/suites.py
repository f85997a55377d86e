"""`dq suites list|validate`: the rule suites."""

from __future__ import annotations

import argparse

from dq.cli.common import EXIT_OK, add_format, print_json, print_rows

__all__ = ["configure_parser", "run"]


def configure_parser(s: argparse.ArgumentParser) -> None:
    s.add_argument("action", choices=("list", "validate"))
    s.add_argument("paths", nargs="*", help="suite files or folders (default: the shipped suites)")
    add_format(s)


def run(args: argparse.Namespace) -> int:
    from dq.engine.suite import load_suites

    suites = load_suites(args.paths or None)  # a SuiteError lists every problem (exit 2)
    rows = [
        {
            "suite": s.id,
            "kind": s.kind,
            "table": s.table,
            "rules": len(s.rules),
            "title_zh": s.title_zh,
            "title_en": s.title_en,
            "source": s.source,
        }
        for s in suites
    ]
    n = sum(len(s.rules) for s in suites)
    if args.action == "validate":
        if args.format == "json":
            print_json({"valid": True, "suites": len(suites), "rules": n})
        else:
            print(f"ok: {len(suites)} suites, {n} rules")
        return EXIT_OK
    if args.format == "json":
        print_json({"suites": rows})
    else:
        print_rows(rows, ("suite", "kind", "table", "rules", "title_zh", "title_en"), right=("rules",))
    return EXIT_OK
