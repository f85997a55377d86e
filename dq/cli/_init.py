"""`dq init DIR [--from empty|nanjing]`: create a rule project (see :func:`dq.project.init_project`)."""

from __future__ import annotations

import argparse

from dq.cli._common import EXIT_OK, add_format, info, print_json

__all__ = ["configure_parser", "run"]


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", help="folder of the new project (created; must be empty)")
    p.add_argument(
        "--from",
        dest="template",
        choices=("empty", "nanjing"),
        default="empty",
        help="empty: no tables yet (default); nanjing: a copy of the bundled specification",
    )
    p.add_argument("--force", action="store_true", help="write into a folder that is not empty")
    add_format(p)


def run(args: argparse.Namespace) -> int:
    from dq.project import init_project

    files = init_project(args.dir, args.template, force=args.force)
    if args.format == "json":
        print_json({"project": args.dir, "from": args.template,
                    "files": [str(f) for f in files]})  # fmt: skip
        return EXIT_OK
    info(args, f"dq init: {len(files)} files in {args.dir} ({args.template}); read {args.dir}/README.md")
    print(f"{args.dir}/dq.toml")
    info(args, f"next: cd {args.dir} && dq suggest DATA.csv && dq audit DATA.csv")
    return EXIT_OK
