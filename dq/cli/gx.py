"""`dq gx`: export suites as Great Expectations 1.x expectation suites (see :mod:`dq.gx`)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from dq.gx import export_suites

__all__ = ["configure_parser", "run"]


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Write the rules that have a Great Expectations equivalent as GX 1.x expectation suites"
        " (JSON). Rules without one are listed in meta.dq_not_exported."
    )
    p.add_argument("paths", nargs="*", help="suite files or folders (default: rules/suites)")
    p.add_argument(
        "--out",
        metavar="DIR",
        help="write one <suite id>.json per suite into DIR (default: stdout; one suite is written"
        " as an object, several as a list)",
    )


def run(args: argparse.Namespace) -> int:
    docs = export_suites(args.paths or None, args.out)
    if args.out:
        for d in docs:
            n, skipped = len(d["expectations"]), len(d["meta"]["dq_not_exported"])
            print(
                f"{d['meta'].pop('dq_path')}: {n} expectations, {skipped} rules not exported", file=sys.stderr
            )
        return 0
    doc: Any = docs[0] if len(docs) == 1 else docs
    json.dump(doc, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    return 0
