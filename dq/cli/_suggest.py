"""`dq suggest PATH`: profile a table file or an extract and draft catalogue entries and suites
(see :mod:`dq.engine.suggest`)."""

from __future__ import annotations

import argparse
import sys

from dq.cli._common import EXIT_OK, add_format, info, print_json, project_of

__all__ = ["configure_parser", "run"]


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", help="a table file (CSV, Parquet, xlsx) or an extract folder")
    p.add_argument("--table", help="the table a single file holds (default: the file's name)")
    p.add_argument(
        "--out",
        help="where the draft suite goes: a .yaml file (one table) or a folder; '-': print everything "
        "(default: the project's suites folder, and new tables appended to its catalogue)",
    )
    p.add_argument("--force", action="store_true", help="replace a suite file that exists")
    add_format(p)


def run(args: argparse.Namespace) -> int:
    from dq.engine.suggest import suggest, taken_prefixes, write_drafts
    from dq.errors import SuiteError

    project = project_of(args)
    catalogue = project.catalogue()
    try:
        taken = taken_prefixes(project.suites(catalogue=catalogue))
    except SuiteError:
        taken = set()  # a project whose suites do not load yet: dq suites validate says why
    drafts = suggest(args.path, args.table, project=project, catalogue=catalogue, taken_prefixes=taken)

    def summary(written: list[str]) -> dict:
        return {
            "project": str(project.file),
            "drafts": [
                {
                    "table": d.table,
                    "file": str(d.path),
                    "rows": d.rows,
                    "declared": d.declared,
                    "rules": [
                        {"id": r["id"], "check": r["check"], "params": r["params"], "evidence": r["evidence"]}
                        for r in d.rules
                    ],
                    "catalogue_entry": d.catalogue_yaml,
                    "suite": d.suite_yaml,
                }
                for d in drafts
            ],
            "written": written,
        }

    if args.format == "json" and (args.out == "-" or (project.bundled and args.out is None)):
        print_json(summary([]))
        return EXIT_OK
    if args.out == "-" or (project.bundled and args.out is None):
        if project.bundled and args.out is None:
            info(
                args,
                "dq suggest: the bundled specification is not edited; printing the drafts "
                "(dq init DIR makes a project they can be written to)",
            )
        for d in drafts:
            if d.catalogue_yaml:
                sys.stdout.write(f"# catalogue entry (under tables:) for {d.table}\n{d.catalogue_yaml}\n")
            sys.stdout.write(d.suite_yaml + "\n")
        return EXIT_OK
    written = write_drafts(drafts, project, out=None if args.out == "-" else args.out, force=args.force)
    if args.format == "json":
        print_json(summary([str(p) for p in written]))
        return EXIT_OK
    for path in written:
        print(path)
    for d in drafts:
        info(
            args,
            f"dq suggest: {d.table}: {d.rows:,} rows, {len(d.rules)} rules drafted"
            + ("" if d.declared else ", catalogue entry added"),
        )
    return EXIT_OK
