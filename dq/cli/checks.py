"""`dq checks`: the check catalogue."""

from __future__ import annotations

import argparse

from dq.cli.common import EXIT_OK, add_format, print_json

__all__ = ["configure_parser", "run"]


def configure_parser(c: argparse.ArgumentParser) -> None:
    add_format(c, "markdown")


def run(args: argparse.Namespace) -> int:
    from dq.engine.checks import check_catalogue

    checks = check_catalogue()
    if args.format == "json":
        print_json({"checks": checks})
        return EXIT_OK
    if args.format == "markdown":
        print("| check | dimension | parameters | what it checks | nulls |")
        print("| --- | --- | --- | --- | --- |")
        for c in checks:
            params = ", ".join(p["name"] + ("" if p["required"] else "?") for p in c["params"])
            print(f"| `{c['name']}` | {c['dimension']} | {params} | {c['summary']} | {c['nulls']} |")
        return EXIT_OK
    for c in checks:
        params = ", ".join(p["name"] + ("" if p["required"] else "?") for p in c["params"])
        print(f"{c['name']:<18} {c['dimension']:<13} ({params})\n    {c['summary']}")
    return EXIT_OK
