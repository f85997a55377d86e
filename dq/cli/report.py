"""`dq report`: render the HTML reports from the history store (see :mod:`dq.report.files`)."""

from __future__ import annotations

import argparse

from dq.errors import InputError
from dq.report.files import render_campaign_file, render_period, render_unit_file
from dq.store import Store

__all__ = ["configure_parser", "run"]

DEFAULT_STORE = "history"
DEFAULT_OUT = "reports"


def configure_parser(p: argparse.ArgumentParser) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--store", default=DEFAULT_STORE, help=f"history dataset (default: {DEFAULT_STORE})")
    common.add_argument("--out", default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})")
    common.add_argument("--lang", choices=("zh", "en"), default="zh", help="language (default: zh)")
    sub = p.add_subparsers(dest="action", required=True, metavar="{unit,all,campaign}")
    u = sub.add_parser("unit", parents=[common], help="one unit's report for a period")
    u.add_argument("unit", help="unit id, e.g. H022")
    u.add_argument("--period", required=True, help="YYYY-MM")
    a = sub.add_parser("all", parents=[common], help="every unit's report and the index of a period")
    a.add_argument("--period", required=True, help="YYYY-MM")
    c = sub.add_parser("campaign", parents=[common], help="before/after campaign report")
    c.add_argument("--before", required=True, help="period YYYY-MM or run id")
    c.add_argument("--after", required=True, help="period YYYY-MM or run id")


def run(args: argparse.Namespace) -> int:
    store = Store(args.store)
    if not store.root.exists():
        raise InputError(f"{store.root}: no history store here (pass --store)")
    if args.action == "unit":
        print(render_unit_file(store, args.period, args.unit, args.out, args.lang))
    elif args.action == "all":
        render_period(store, args.period, args.out, args.lang)
    else:
        for path in render_campaign_file(store, args.before, args.after, args.out, args.lang):
            print(path)
    return 0
