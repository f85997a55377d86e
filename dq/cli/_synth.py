"""``dq synth`` command line: argument parsing and the thin glue over :func:`generate`."""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

from dq.cli._common import EXIT_USAGE, add_format, count, period, print_json, whole

__all__ = ["configure_parser", "main", "run"]


def scale_arg(text: str) -> float:
    """argparse type: a finite number > 0 (the synthetic volume's share of the published one)."""
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not 0 < v < math.inf:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text[:20]!r}")
    return v


def _out(text: str) -> Path | str:
    from dq.io.database import is_database_url

    return text if is_database_url(text) else Path(text)


def configure_parser(p: argparse.ArgumentParser) -> None:
    """Add the ``dq synth`` arguments to ``p``."""
    p.description = (
        "Generate a batch of synthetic site extracts (OUT/<period>/<unit_id>/) with seeded, known "
        "defects listed in OUT/<period>/truth.json. Volumes follow the newsletters' 数据采集情况 "
        "tables times --scale (1.0 is a real month, about 10^8 rows)."
    )
    p.add_argument(
        "--out", required=True, type=_out, metavar="DIR|URL",
        help="output folder, or a database URL (postgresql://HOST/DB, sqlite:///FILE, duckdb:///FILE) "
        "to write the batch into in the platform's layout (docs/databases.md)",
    )  # fmt: skip
    when = p.add_mutually_exclusive_group(required=True)
    when.add_argument("--period", type=period, metavar="YYYY-MM", help="month to generate")
    when.add_argument(
        "--months",
        metavar="FIRST:LAST",
        help="a batch per month from FIRST to LAST (YYYY-MM:YYYY-MM) with trend, Spring Festival"
        " seasonality, noise and injected events listed in OUT/truth.json (dq.synth.series)",
    )
    p.add_argument(
        "--scale",
        type=scale_arg,
        default=0.001,
        metavar="S",
        help="fraction of the published monthly volumes (default 0.001)",
    )
    p.add_argument("--seed", type=count, default=0, metavar="N", help="random seed (default 0)")
    p.add_argument(
        "--profile",
        choices=("steady", "before", "after"),
        default="steady",
        help=(
            "steady: an ordinary month of managed data (default); before / after: a data-quality "
            "campaign's two sides, calibrated on the newsletters (docs/campaign.md)"
        ),
    )
    p.add_argument(
        "--clean",
        action="store_true",
        help="plant no defect at all (a clean batch, e.g. to learn a draft suite from: dq suggest)",
    )
    p.add_argument(
        "--units",
        nargs="+",
        metavar="ID",
        help="unit ids from the unit registry (datasets/institutions.csv) (default: every unit of the "
        "published collection tables)",
    )
    p.add_argument(
        "--file-format",
        dest="fmt",
        choices=("parquet", "csv"),
        default="parquet",
        help="file format of the tables (default parquet)",
    )
    add_format(p)
    p.add_argument(
        "--cities",
        type=whole(1, 99),
        default=None,
        metavar="K",
        help="a province: K cities' worth of units under one period, ids prefixed P01- … (see "
        "dq.synth.province)",
    )
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Run ``dq synth`` with parsed arguments; return the exit code."""
    from dq.synth.generate import generate
    from dq.synth.province import generate_province

    t0 = time.perf_counter()
    if getattr(args, "months", None):
        return _run_months(args, t0)
    cities = getattr(args, "cities", None)
    options = {
        "scale": args.scale,
        "seed": args.seed,
        "profile": args.profile,
        "units": args.units,
        "fmt": args.fmt,
        "progress": getattr(args, "progress", True) and not getattr(args, "quiet", False),
    }
    if getattr(args, "clean", False):
        if cities:
            from dq.errors import UsageError

            raise UsageError("--clean is for one city's batch (not with --cities)")
        from dq.synth.generate import no_defects

        options["adjust"] = no_defects
    if isinstance(args.out, str):  # a database URL
        return _run_database(args, options, t0)
    if cities:
        root = generate_province(args.out, args.period, cities, **options)
    else:
        root = generate(args.out, args.period, **options)
    import json

    truth = json.loads((root / "truth.json").read_text(encoding="utf-8"))
    rows = sum(u["total_rows"] for u in truth["units"].values())
    if args.format == "json":
        print_json(
            {
                "root": str(root),
                "units": len(truth["units"]),
                "rows": rows,
                "defects": len(truth["defects"]),
                "kinds": len(truth["kinds"]),
                "truth": str(root / "truth.json"),
            }
        )
        return 0
    print(
        f"dq synth: {len(truth['units'])} units, {rows:,} rows, {len(truth['defects'])} defects "
        f"({len(truth['kinds'])} kinds) in {root} ({time.perf_counter() - t0:.1f} s)"
    )
    return 0


def _layout(args: argparse.Namespace) -> Any:
    """The project's database layout (its ``[database]`` section): the names the batch is written
    under, so that ``dq score URL`` with the same project reads it back."""
    from dq.cli._common import project_of

    return project_of(args).database_layout()


def _run_database(args: argparse.Namespace, options: dict, t0: float) -> int:
    from dq.io.database import mask_url
    from dq.synth.database import write_database

    counts = write_database(
        args.out, args.period, cities=getattr(args, "cities", None), layout=_layout(args), **options
    )
    rows = sum(counts.values())
    if args.format == "json":
        from dq.engine.results import SCHEMA_VERSION

        print_json({"schema_version": SCHEMA_VERSION, "database": mask_url(args.out), "period": args.period,
                    "rows": rows, "tables": counts})  # fmt: skip
        return 0
    took = time.perf_counter() - t0
    print(f"dq synth: {rows:,} rows of {args.period} in {mask_url(args.out)} ({took:.1f} s)")
    return 0


def _run_months(args: argparse.Namespace, t0: float) -> int:
    from dq.errors import UsageError
    from dq.synth.series import series

    if getattr(args, "cities", None):
        raise UsageError("--months makes one city's series; it does not take --cities")
    if isinstance(args.out, str):  # a database URL: each month generated, then loaded
        return _run_months_database(args, t0)
    truth = series(
        args.out, args.months, scale=args.scale, seed=args.seed, units=args.units, fmt=args.fmt,
        progress=getattr(args, "progress", True) and not getattr(args, "quiet", False),
    )  # fmt: skip
    print(
        f"dq synth: {len(truth['months'])} months × {len(truth['units'])} units,"
        f" {len(truth['events'])} events in {args.out}/truth.json ({time.perf_counter() - t0:.1f} s)"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    from dq.errors import DQError

    parser = argparse.ArgumentParser(prog="python -m dq.synth")
    configure_parser(parser)
    try:
        return run(parser.parse_args(argv))
    except SystemExit as exc:  # argparse's usage error: return its code like the other errors
        return int(exc.code or 0)
    except DQError as exc:
        print(f"dq synth: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _run_months_database(args: argparse.Namespace, t0: float) -> int:
    import shutil
    import tempfile

    from dq.io.database import mask_url
    from dq.synth.database import load_batch
    from dq.synth.series import series

    tmp = Path(tempfile.mkdtemp(prefix="dq-synth-db-"))
    try:
        truth = series(
            tmp, args.months, scale=args.scale, seed=args.seed, units=args.units, fmt="parquet",
            progress=getattr(args, "progress", True) and not getattr(args, "quiet", False),
        )  # fmt: skip
        rows = 0
        for month in truth["months"]:
            rows += sum(load_batch(tmp / month, args.out, _layout(args)).values())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"dq synth: {len(truth['months'])} months, {rows:,} rows in {mask_url(args.out)}"
          f" ({time.perf_counter() - t0:.1f} s)")  # fmt: skip
    return 0
