"""`dq gx`: Great Expectations 1.x both ways (see :mod:`dq.interop.gx` and :mod:`dq.interop.gx_import`).

    dq gx export [PATHS] [--out DIR]         dq suites -> GX suites (JSON)
    dq gx import SUITE.json [--out FILE]     a GX suite -> a dq suite (YAML)
    dq gx validate EXTRACT [PATHS]           run the exported suites with GX; compare with dq

``dq gx PATHS --out DIR`` (no action word) still exports, as before.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from dq.cli._common import EXIT_FAILED, EXIT_OK, add_format, info, print_json, print_rows
from dq.errors import UsageError

__all__ = ["configure_parser", "run"]

ACTIONS = ("export", "import", "validate")


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Great Expectations (GX 1.x) both ways. `dq gx export [PATHS] [--out DIR]` writes the rules"
        " that have a GX equivalent as GX suites (rules without one are listed in"
        " meta.dq_not_exported); `dq gx import SUITE.json [--out FILE.yaml] [--table T]` turns a GX"
        " suite into a dq suite (expectations dq cannot express are listed, never dropped);"
        " `dq gx validate EXTRACT [PATHS]` loads the extract with dq.interop.gx.load_batch, validates it"
        " with GX and compares GX's counts with dq's. Without an action word, PATHS are exported."
    )
    p.add_argument(
        "paths",
        nargs="*",
        metavar="[ACTION] PATH",
        help="export: suite files or folders (default: the shipped suites); import: one GX suite"
        " JSON; validate: the extract folder or table file, then suite paths",
    )
    p.add_argument(
        "--out",
        metavar="PATH",
        help="export: write one <suite id>.json per suite into this folder (default: stdout; one"
        " suite as an object, several as a list); import: the YAML file to write (default: stdout)",
    )
    p.add_argument("--table", help="import: the catalogue table (default: meta.dq_table of the suite)")
    p.add_argument("--suite-id", help="import: the dq suite id (default: the GX suite's name)")
    p.add_argument(
        "--kind",
        choices=("hospital", "district", "published", "any"),
        help="import: the units the suite is for (default: meta.dq_kind, else any)",
    )
    add_format(p)


def run(args: argparse.Namespace) -> int:
    paths = list(args.paths or [])
    action = paths.pop(0) if paths and paths[0] in ACTIONS else "export"
    if action == "import":
        return _import(args, paths)
    if action == "validate":
        return _validate(args, paths)
    return _export(args, paths)


def _export(args: argparse.Namespace, paths: list[str]) -> int:
    from dq.interop.gx import export_suites

    docs = export_suites(paths or None, args.out)
    if args.out:
        written = [
            {
                "file": d["meta"].pop("dq_path"),
                "expectations": len(d["expectations"]),
                "not_exported": len(d["meta"]["dq_not_exported"]),
            }
            for d in docs
        ]
        if args.format == "json":
            print_json({"written": written})
        for w in written:
            info(
                args, f"{w['file']}: {w['expectations']} expectations, {w['not_exported']} rules not exported"
            )
        return EXIT_OK
    doc: Any = docs[0] if len(docs) == 1 else docs
    print_json(doc)  # the GX suite JSON is the output, whatever --format
    return EXIT_OK


def _import(args: argparse.Namespace, paths: list[str]) -> int:
    from dq.interop.gx_import import import_suite

    if len(paths) != 1:
        raise UsageError("dq gx import takes one GX suite file: dq gx import SUITE.json --out FILE.yaml")
    imported = import_suite(paths[0], table=args.table, suite_id=args.suite_id, kind=args.kind)
    # What was left out is always said, even with -q: nothing is dropped silently.
    for n in imported.not_imported:
        print(f"not imported: #{n['index']} {n['expectation']}: {n['reason']}", file=sys.stderr)
    if not imported.rules:
        imported.write(args.out or "-")  # raises UsageError: nothing dq can express
    path = imported.write(args.out) if args.out else None
    if args.format == "json":
        print_json(
            {
                "file": str(path) if path else None,
                "suite": imported.suite,
                "not_imported": list(imported.not_imported),
            }
        )
    elif path is None:
        sys.stdout.write(imported.to_yaml())
    if path is not None:
        info(
            args,
            f"{path}: {len(imported.rules)} rules, {len(imported.not_imported)} expectations not imported",
        )
    return EXIT_OK


def _validate(args: argparse.Namespace, paths: list[str]) -> int:
    from dq.engine.evaluate import audit_extract
    from dq.engine.suite import load_suites
    from dq.interop.gx import validate_with_gx
    from dq.io.sources import open_extract

    if not paths:
        raise UsageError("dq gx validate takes an extract folder or table file: dq gx validate EXTRACT")
    extract, suite_paths = paths[0], paths[1:]
    suites = load_suites(suite_paths or None)
    gx_rows = validate_with_gx(extract, suites)
    dq = {r.rule: r for r in audit_extract(open_extract(extract), suites, samples=0).results}
    rows = []
    for o in gx_rows:
        r = dq.get(o.rule)
        rows.append(
            {
                "rule": o.rule,
                "table": o.table,
                "expectation": o.expectation,
                "dq_failed": r.failed if r else None,
                "gx_failed": o.failed,
                "gx_success": o.success,
                "agree": r is not None and not o.error and r.failed == o.failed,
                "error": o.error,
            }
        )
    differ = [x for x in rows if not x["agree"]]
    if args.format == "json":
        print_json({"expectations": rows, "differ": len(differ)})
    else:
        shown = rows if args.verbose else differ
        if shown:
            cols = ["rule", "table", "expectation", "dq_failed", "gx_failed", "agree", "error"]
            print_rows(shown, cols, right=("dq_failed", "gx_failed"))
        print(
            f"{len(rows)} expectations validated with GX; {len(differ)} differ from dq"
            + ("" if args.verbose or differ else " (-v lists them all)")
        )
    return EXIT_FAILED if differ else EXIT_OK
