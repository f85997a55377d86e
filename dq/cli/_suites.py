"""`dq suites list|validate`: the rule suites; ``validate`` without paths checks the whole project
(dq.toml, catalogue, suites, scoring, registry), every problem at once with file and line."""

from __future__ import annotations

import argparse

from dq.cli._common import EXIT_OK, add_format, info, print_json, print_rows

__all__ = ["configure_parser", "run"]


def configure_parser(s: argparse.ArgumentParser) -> None:
    s.add_argument("action", choices=("list", "validate"))
    s.add_argument("paths", nargs="*", help="suite files or folders (default: the project's suites)")
    add_format(s)


def run(args: argparse.Namespace) -> int:
    from dq.errors import SuiteError
    from dq.project import find_project, parse_project, validate_project

    project, problems = parse_project(*find_project(getattr(args, "project", None)))
    for w in project.warnings:
        info(args, f"dq: warning: {w}")
    if args.action == "validate" and not args.paths:
        problems = validate_project(project, problems)
        if problems:
            raise SuiteError(problems)  # exit 2, every problem on its own line
        suites = project.suites()
    else:
        if problems:
            raise SuiteError(problems)
        suites = project.suites(args.paths or None)  # a SuiteError lists every problem (exit 2)
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
            print_json(
                {
                    "valid": True,
                    "project": str(project.file),
                    "suites": len(suites),
                    "rules": n,
                }
            )
        else:
            print(f"ok: {len(suites)} suites, {n} rules")
            info(args, f"project {project.name}: {project.file}")
        return EXIT_OK
    if args.format == "json":
        print_json({"suites": rows})
    else:
        print_rows(rows, ("suite", "kind", "table", "rules", "title_zh", "title_en"), right=("rules",))
    return EXIT_OK
