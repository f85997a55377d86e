"""`dq history`: the runs and scores stored in a history dataset."""

from __future__ import annotations

import argparse
import json

__all__ = ["configure_parser", "run"]


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", default="history", help="history dataset folder (default: history)")
    p.add_argument("--period", help="only this period")
    p.add_argument("--unit", help="a unit's score in every period")
    p.add_argument("--runs", action="store_true", help="list runs instead of scores")
    p.add_argument("--format", choices=("table", "json"), default="table")


def run(args: argparse.Namespace) -> int:
    import polars as pl

    from dq.store import Store

    store = Store(args.store)
    if args.runs:
        df = store.runs()
        if args.period:
            df = df.filter(pl.col("period") == args.period)
    elif args.unit:
        df = store.history(args.unit)
    else:
        df = store.scores(args.period)
        if not df.is_empty():
            df = df.select(
                "period", "unit_id", "unit_name", "kind", "status", "score", "grade", "run_id"
            ).sort(["period", "kind", "score"], descending=[False, False, True], nulls_last=True)
    if args.format == "json":
        print(json.dumps(df.to_dicts(), ensure_ascii=False, indent=2, default=str))
    else:
        with pl.Config(tbl_rows=200, tbl_cols=20, fmt_str_lengths=40, tbl_width_chars=200):
            print(df)
    return 0
