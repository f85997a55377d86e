"""`dq score`: audit and score every unit of a batch (or the published summaries), store, rank."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from dq.cli._common import (
    DEFAULT_STORE,
    PUBLISHED_STORE,
    add_format,
    count,
    info,
    period,
    positive,
    print_json,
    print_rows,
    project_of,
    seconds,
)
from dq.cli._database import add_database_options, project_layout
from dq.errors import UsageError

if TYPE_CHECKING:
    import polars as pl

    from dq.project import Project

__all__ = ["add_limits", "configure_parser", "limits_from", "run"]


def _size(text: str) -> int:
    from dq.io.isolation import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_limits(p: argparse.ArgumentParser) -> None:
    """The options of the process boundary around reading (docs/robustness.md, "Isolation")."""
    from dq.io.isolation import DEFAULT_LIMITS as D

    g = p.add_argument_group("limits of the reading of a unit (in a worker process)")
    g.add_argument(
        "--memory-limit", type=_size, metavar="SIZE",
        help=f"address space of each worker, e.g. 4G, 512M (default {(D.memory or 0) >> 30}G)",
    )  # fmt: skip
    g.add_argument("--cpu-limit", type=seconds(), metavar="SECONDS",
                   help=f"CPU seconds per unit (default {D.cpu:g})")  # fmt: skip
    g.add_argument("--time-limit", type=seconds(), metavar="SECONDS",
                   help=f"seconds per unit before its worker is killed (default {D.wall:g})")  # fmt: skip
    g.add_argument(
        "--no-isolation", action="store_true",
        help="read and audit in this process, without limits (a crashing reader stops the run)",
    )  # fmt: skip


def limits_from(args: argparse.Namespace):
    """The :class:`dq.io.isolation.Limits` the options ask for, or None for --no-isolation."""
    from dataclasses import replace

    from dq.io.isolation import DEFAULT_LIMITS

    if args.no_isolation:
        return None
    given = {k: v for k, v in (("memory", args.memory_limit), ("cpu", args.cpu_limit),
                               ("wall", args.time_limit)) if v is not None}  # fmt: skip
    return replace(DEFAULT_LIMITS, **given)


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "root", nargs="?",
        help="batch root: ROOT/<period>/<unit>/ extract folders, or a database URL (postgresql://HOST/DB, "
        "sqlite:///FILE, duckdb:///FILE)",
    )  # fmt: skip
    p.add_argument("--period", required=True, type=period, help="month to score, YYYY-MM")
    p.add_argument(
        "--published",
        metavar="DIR",
        help="score the published summaries in DIR, or a bundled set by name (nanjing) instead",
    )
    p.add_argument(
        "--store",
        default=None,
        help=f"history folder or fsspec URL (default: the project's store, else {DEFAULT_STORE}; "
        f"with --published: {PUBLISHED_STORE})",
    )
    add_format(p)
    p.add_argument("--force", action="store_true", help="re-score units already scored for the period")
    p.add_argument("--suite", action="append", help="suite file or folder (default: rules/suites)")
    p.add_argument(
        "--samples", type=count, help="failing rows kept per rule (0: none; default: the project's, else 5)"
    )
    p.add_argument("--streaming", action="store_true", help="use Polars' streaming engine")
    p.add_argument(
        "--max-rows",
        type=count,
        default=1000,
        help="failing rows kept per rule for the rows-to-fix files (default 1000; 0: none)",
    )
    p.add_argument(
        "--follow-symlinks",
        action="store_true",
        help="follow symbolic links that stay inside the extract folder (refused by default)",
    )
    p.add_argument("--reports", action="store_true", help="render the period's HTML reports afterwards")
    p.add_argument("--out", help="folder for --reports (default: the project's reports, else reports)")
    p.add_argument(
        "--lang", choices=("zh", "en"), help="language of --reports (default: the project's, else zh)"
    )
    cluster = p.add_mutually_exclusive_group()
    cluster.add_argument(
        "--threads",
        type=positive,
        metavar="N",
        help="units audited at once in this process (default: the cores + 2, at most 8; 1: one at a time)",
    )
    cluster.add_argument(
        "--workers",
        type=positive,
        metavar="N",
        help="audit the units on a local Dask cluster of N worker processes (needs dq[cluster])",
    )
    cluster.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="audit the units on a running Dask cluster, e.g. tcp://host:8786 (needs dq[cluster])",
    )
    add_database_options(p)
    add_limits(p)


def _print_table(ranking: pl.DataFrame, title: str) -> None:
    if ranking.is_empty():
        print("no scores")
        return
    wanted = (
        "kind",
        "rank",
        "unit_id",
        "unit_name",
        "district",
        "score",
        "grade",
        "submission",
        "records",
        "status",
    )
    cols = [c for c in wanted if c in ranking.columns]
    print_rows(
        ranking.select(cols).to_dicts(), cols, title=title, right=("rank", "score", "submission", "records")
    )


def default_store(args: argparse.Namespace) -> str:
    """``--store`` if given, else ``history-published`` for published runs and ``history`` for
    batch runs."""
    if args.store:
        return args.store
    return PUBLISHED_STORE if args.published else project_of(args).defaults.store


def run(args: argparse.Namespace) -> int:
    from dq.batch.local import score_batch, score_published
    from dq.store.history import Store

    project = project_of(args).override(
        reports=args.out, lang=args.lang, samples=args.samples, threads=args.threads
    )
    d = project.defaults
    args.out, args.lang, args.samples = d.reports, d.lang, d.samples
    if not (args.workers or args.scheduler):
        args.threads = d.threads
    store = Store(default_store(args))

    def log(msg: str) -> None:
        info(args, msg)

    if args.reports:
        from dq.io.outputs import ensure_dir

        ensure_dir(args.out)  # an unusable report folder stops us before the work, not after

    if args.published:
        outcome = score_published(args.period, store, root=args.published, suite_paths=args.suite)
    elif args.root:
        options = dict(
            suite_paths=args.suite,
            force=args.force,
            samples=args.samples,
            streaming=args.streaming,
            log=log,
            fix_rows=args.max_rows,
            follow_symlinks=args.follow_symlinks,
            project=project,
        )
        if args.workers or args.scheduler:
            from dq.batch.cluster import score_batch_on_cluster

            outcome = score_batch_on_cluster(
                args.root, args.period, store, workers=args.workers, scheduler=args.scheduler,
                then=_reports_on_cluster(store, args, project) if args.reports else None,
                memory_limit=None if args.no_isolation else limits_from(args).memory, **options,
            )  # fmt: skip
            args.reports = False  # rendered on the cluster
        else:
            from dq.io.database import is_database_url

            layout = project_layout(args, project) if is_database_url(args.root) else None
            outcome = score_batch(
                args.root,
                args.period,
                store,
                threads=args.threads,
                layout=layout,
                limits=limits_from(args),
                **options,
            )
    else:
        raise UsageError("give a batch ROOT or --published DIR")
    from dq.engine.results import FLAGGED, Status

    findings = [f for f in outcome.findings if f.status in {*FLAGGED, Status.ERROR}]
    idle = (  # every unit already scored: no run was recorded
        None
        if outcome.recorded
        else f"nothing to do: {len(outcome.skipped)} units already scored for {args.period} "
        f"(latest run {outcome.run.run_id}; no run recorded; --force scores them again)"
    )
    if args.format == "json":
        if idle:
            info(args, idle)
        from dq.engine.results import SCHEMA_VERSION as RESULTS_SCHEMA_VERSION

        payload = {
            "schema_version": RESULTS_SCHEMA_VERSION,
            "run_id": outcome.run.run_id,
            "period": args.period,
            "ranking": outcome.ranking.to_dicts(),
            "errors": [{"unit_id": u.unit_id, "error": u.error} for u in outcome.errors],
            "skipped": [u.unit_id for u in outcome.skipped],
            "findings": [f.to_dict() for f in findings],
        }
        print_json(payload)
    else:
        skipped, errors = len(outcome.skipped), len(outcome.errors)
        _print_table(outcome.ranking, f"dq score {args.period} — run {outcome.run.run_id}")
        if idle:
            print(idle)
        else:
            print(
                f"{len(outcome.units)} units ({skipped} already scored, skipped), {errors} errors, "
                f"{outcome.rows:,} rows in {outcome.seconds:.1f}s"
            )
        for f in findings:
            print(f"table finding {f.rule} {f.status}: {f.message}")
        for u in outcome.errors:
            print(f"error {u.unit_id}: {u.error}", file=sys.stderr)
    if args.reports:
        from dq.report.files import render_period

        echo = print if args.format != "json" else (lambda msg: print(msg, file=sys.stderr))
        render_period(
            store, args.period, Path(args.out), lang=args.lang, echo=echo,
            catalogue=project.catalogue(), scoring=project.scoring(),
        )  # fmt: skip
    return 1 if outcome.errors else 0


def _reports_on_cluster(store, args: argparse.Namespace, project: Project):
    """Render the period's reports on the cluster that scored it (``--reports`` with Dask), with
    the project's catalogue and scoring."""
    from dq.report.cluster import render_reports_on_cluster

    def render(client) -> None:
        render_reports_on_cluster(
            client, store, args.period, Path(args.out), lang=args.lang,
            catalogue=project.catalogue(), scoring=project.scoring(),
        )  # fmt: skip

    return render
