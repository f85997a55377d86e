"""`dq report`: render the HTML reports from the history store (see :mod:`dq.report.files`)."""

from __future__ import annotations

import argparse

from dq.cli._common import add_format, add_store, info, open_store, period, print_json, project_of, store_path

__all__ = ["check_campaign", "configure_parser", "run"]

DEFAULT_OUT = "reports"


def configure_parser(p: argparse.ArgumentParser) -> None:
    common = argparse.ArgumentParser(add_help=False)
    add_store(common)
    common.add_argument("--out", help=f"output folder (default: the project's reports, else {DEFAULT_OUT})")
    common.add_argument("--lang", choices=("zh", "en"), help="language (default: the project's, else zh)")
    add_format(common)
    # -q/-v/--project after the action too (SUPPRESS: do not reset what was given before it).
    common.add_argument(
        "-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    common.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    common.add_argument("--project", metavar="DIR", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    sub = p.add_subparsers(dest="action", required=True, metavar="{unit,all,campaign}")
    u = sub.add_parser("unit", parents=[common], help="one unit's report for a period")
    u.add_argument("unit", help="unit id, e.g. H022")
    u.add_argument("--period", required=True, type=period, help="YYYY-MM")
    a = sub.add_parser("all", parents=[common], help="every unit's report and the index of a period")
    a.add_argument("--period", required=True, type=period, help="YYYY-MM")
    c = sub.add_parser("campaign", parents=[common], help="before/after campaign report")
    c.add_argument("--before", required=True, help="period YYYY-MM or run id (the earlier side)")
    c.add_argument("--after", required=True, help="period YYYY-MM or run id (the later side)")
    c.add_argument("--mixed", action="store_true", help="allow comparing published with batch scores")


def check_campaign(store, before: str, after: str) -> None:
    """A campaign compares an earlier side with a later one: refuse anything else, clearly."""
    from dq.errors import UsageError
    from dq.report.data import resolve_side

    b, a = resolve_side(store, before, "en"), resolve_side(store, after, "en")
    earlier = b.period < a.period or (
        b.period == a.period and b.run_id is not None and a.run_id is not None and b.run_id < a.run_id
    )
    if not earlier:
        raise UsageError(
            f"a campaign compares an earlier --before with a later --after; got --before {before} "
            f"and --after {after} (swap them?)"
        )


def run(args: argparse.Namespace) -> int:
    from dq.io.outputs import ensure_dir
    from dq.io.period import Period
    from dq.report.files import campaign_report, render_campaign_file, render_period, render_unit_file

    store = open_store(store_path(args))
    project = project_of(args)
    defaults = project.defaults
    # the project's catalogue (titles, labels) and scoring (weights, grades), where it has its own
    own = {"catalogue": project.catalogue(), "scoring": project.scoring()}
    args.out, args.lang = args.out or defaults.reports, args.lang or defaults.lang
    if args.action == "campaign":
        for spec in (args.before, args.after):
            if spec[:4].isdigit() and len(spec) <= 7:  # looks like a month: the one message for periods
                Period.parse(spec)
        check_campaign(store, args.before, args.after)
    ensure_dir(args.out)
    if args.action == "unit":
        paths = render_unit_file(store, args.period, args.unit, args.out, args.lang, **own)
    elif args.action == "all":
        echo = print if args.format == "table" else None
        paths = list(render_period(store, args.period, args.out, args.lang, echo=echo, **own))
    else:
        scoring = own["scoring"]
        report = campaign_report(store, args.before, args.after, args.lang, mixed=args.mixed, scoring=scoring)
        paths = list(
            render_campaign_file(store, args.before, args.after, args.out, args.lang, report=report, **own)
        )
        if args.format == "json":
            print_json({**report.figures(), "written": [str(p) for p in paths]})
            return 0
        for path in paths:
            print(path)
        for k in report.kinds:
            pu = "—" if k.growth_per_unit is None else f"{k.growth_per_unit:+.2f}%"
            om = "—" if k.growth_of_mean is None else f"{k.growth_of_mean:+.2f}%"
            mean = f"mean {k.mean_before} → {k.mean_after}"
            print(f"{k.kind}: {k.n} units, {mean}, average growth per unit {pu}, growth of the mean {om}")
        return 0
    if args.format == "json":
        print_json({"written": [str(p) for p in paths]})
    elif args.action == "all":
        info(args, f"{len(paths)} file(s) written in {args.out}")
    else:
        for path in paths:
            print(path)
    return 0
