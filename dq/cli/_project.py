"""`dq project show`: the rule project in force, and where each value came from."""

from __future__ import annotations

import argparse

from dq.cli._common import EXIT_OK, add_format, print_json, print_rows, project_of

__all__ = ["configure_parser", "run"]


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("show",), help="show: what is in force and where it came from")
    add_format(p)


def run(args: argparse.Namespace) -> int:
    project = project_of(args)
    doc = project.to_dict()
    if args.format == "json":
        print_json(doc)
        return EXIT_OK
    print(f"project {doc['name']} · {doc['file']} · found by {doc['found_by']}")
    rows = []
    for entry in doc["values"]:
        value = entry["value"]
        if isinstance(value, list):
            value = ", ".join(value)
        rows.append({"key": entry["key"], "value": value, "from": entry["from"]})
    print_rows(rows, ("key", "value", "from"))
    for name in doc["sections"]:
        print(f"section [{name}]: kept for its reader")
    for w in doc["warnings"]:
        print(f"warning: {w}")
    return EXIT_OK
