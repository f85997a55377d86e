"""`dq history`: the runs and scores stored in a history dataset, as a readable table or JSON.

    dq history [--store history] [--period P] [--unit U] [--runs] [--format table|json]
    dq history --deliveries [--store history] [--period P] [--unit U]
    dq history --check [--store history]

Without options: every unit's latest overall score per period. ``--unit`` gives one unit's
score in every period (or in ``--period``), ``--runs`` the runs themselves, ``--deliveries`` the
report e-mails ``dq send`` attempted (every event: sending, sent, failed). ``--check`` reads
every file of every folder of the store against its folder's schema and lists each one that the
other commands skip (unreadable, or not combinable with the rest), or never read (misplaced).
"""

from __future__ import annotations

import argparse

from dq.cli._common import add_format, add_store, info, open_store, period, print_json, print_rows, store_path

__all__ = ["configure_parser", "history_rows", "run"]

SCORE_COLUMNS = ("period", "unit_id", "unit_name", "kind", "status", "score", "grade", "run_id")
UNIT_COLUMNS = ("period", "score", "grade", "status", "run_id")
RUN_COLUMNS = ("run_id", "period", "status", "started_at", "finished_at", "units", "errors", "source")
DELIVERY_COLUMNS = ("period", "time", "unit_id", "status", "to", "refused", "attempts", "error", "message_id")
TIMES = ("started_at", "finished_at", "time")


def configure_parser(p: argparse.ArgumentParser) -> None:
    add_store(p)
    p.add_argument("--period", type=period, help="only this period (YYYY-MM)")
    p.add_argument("--unit", help="one unit's score in every period (or in --period)")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--runs", action="store_true", help="list runs instead of scores")
    what.add_argument(
        "--deliveries", action="store_true", help="list the report e-mails dq send attempted, oldest first"
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="read every file of the store against its folder's schema and list those that cannot "
        "be read or combined with the rest (exit 1 if any)",
    )
    add_format(p)


def history_rows(
    store,
    *,
    period: str | None = None,
    unit: str | None = None,
    runs: bool = False,
    deliveries: bool = False,
):
    """(columns, rows as dicts) of what ``dq history`` shows."""
    import polars as pl

    cols: tuple[str, ...]
    if deliveries:
        from dq.store.deliveries import DeliveryLog

        df = DeliveryLog(store).events(period)
        if unit:
            df = df.filter(pl.col("unit_id") == unit)
        cols = DELIVERY_COLUMNS
    elif runs:
        df = store.runs()
        if period:
            df = df.filter(pl.col("period") == period)
        cols = RUN_COLUMNS
    elif unit:
        df = store.history(unit)
        if period and not df.is_empty():
            df = df.filter(pl.col("period") == period)
        cols = UNIT_COLUMNS
    else:
        df = store.scores(period)
        if not df.is_empty():
            df = df.sort(["period", "kind", "score"], descending=[False, False, True], nulls_last=True)
        cols = SCORE_COLUMNS
    cols = tuple(c for c in cols if c in df.columns)
    return cols, df.select(cols).to_dicts() if cols else []


def run(args: argparse.Namespace) -> int:
    store = open_store(store_path(args))
    if args.check:
        return _check(args, store)
    cols, rows = history_rows(
        store, period=args.period, unit=args.unit, runs=args.runs, deliveries=args.deliveries
    )
    if args.format == "json":
        view = "runs" if args.runs else "deliveries" if args.deliveries else "unit" if args.unit else "scores"
        print_json({"view": view, "rows": rows})
        return 0
    if not rows:
        what = "runs" if args.runs else "deliveries" if args.deliveries else "scores"
        where = " ".join(
            x
            for x in (
                f"for unit {args.unit}" if args.unit else "",
                f"in {args.period}" if args.period else "",
            )
            if x
        )
        info(args, f"no {what} {where} in {store.root}".replace("  ", " "))
        return 0
    for r in rows:
        for k in TIMES:
            if r.get(k) is not None:
                r[k] = f"{r[k]:%Y-%m-%d %H:%M:%S}"
    print_rows(rows, cols, right=("score", "units", "errors", "attempts"))
    return 0


def _check(args: argparse.Namespace, store) -> int:
    """``--check``: every file of the store that the other commands skip or never read, with the
    reason; exit 1 if any."""
    problems = [{"folder": k, "file": f, "problem": why} for k, f, why in store.check(full=True)]
    if args.format == "json":
        print_json({"store": str(store.root), "checked": store.checked, "problems": problems})
    elif problems:
        print_rows(problems, ("file", "problem"))
        info(args, f"{len(problems)} of {store.checked} file(s) of {store.root} skipped or never read")
    else:
        info(args, f"{store.root}: every file of the store ({store.checked}) can be read and combined")
    return 1 if problems else 0
