"""`dq audit`: audit one site extract (folder) or one table file (see :func:`dq.api.audit`).

The terminal view is what an inspector reads: a header (unit, period, tables, rows), then only
the rules that did not pass, worst first, each with its title, counts and masked sample rows,
and a last line that sums it up. ``--all`` adds the passing and not-applicable rules.

The files are read and audited in a child process under limits (``--memory-limit``,
``--cpu-limit``, ``--time-limit``; ``--no-isolation`` reads them here): a file that crashes a
reader or exceeds a limit is exit 2, "<path>: could not be read within the limits: …".
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from typing import Any

from dq.cli._common import add_format, console, count, debug, info, period, project_of, write_output
from dq.cli._database import add_database_options, project_layout
from dq.engine.results import Status

__all__ = ["configure_parser", "render_text", "run"]

STATUS_STYLE = {
    Status.FAIL: "bold red",
    Status.ERROR: "magenta",
    Status.WARN: "yellow",
    Status.PASS: "green",
    Status.NOT_APPLICABLE: "dim",
}
STATUS_LABEL = {
    Status.FAIL: "FAIL",
    Status.ERROR: "ERROR",
    Status.WARN: "WARN",
    Status.PASS: "PASS",
    Status.NOT_APPLICABLE: "N/A",
}
_STATUS_RANK = {s: i for i, s in enumerate(STATUS_STYLE)}
_SEVERITY_RANK = {"critical": 0, "error": 1, "warning": 2}


def configure_parser(a: argparse.ArgumentParser) -> None:
    a.add_argument(
        "path",
        help="extract folder (manifest.yaml + tables), a table file, or a database URL with --unit "
        "and --period",
    )
    a.add_argument("--unit", metavar="ID", help="the unit to audit in a database (with --period)")
    a.add_argument("--suite", action="append", help="suite file or folder (repeatable)")
    a.add_argument("--period", type=period, help="audited month YYYY-MM (default: the manifest's)")
    a.add_argument("--table", help="the catalogue table a single file holds (default: the file's name)")
    add_format(a)
    a.add_argument("--output", "-o", help="write the result to this file instead of stdout")
    a.add_argument(
        "--samples", type=count, help="failing rows shown per rule (0: none; default: the project's, else 5)"
    )
    a.add_argument("--all", action="store_true", help="also list the rules that passed or did not apply")
    a.add_argument(
        "--lang", choices=("zh", "en"), help="language of rule titles (default: the project's, else zh)"
    )
    a.add_argument("--encoding", help="CSV encoding (default: detect UTF-8 or GB18030)")
    a.add_argument("--streaming", action="store_true", help="use Polars' streaming engine")
    a.add_argument(
        "--follow-symlinks",
        action="store_true",
        help="follow symbolic links that stay inside the extract folder (refused by default)",
    )
    add_database_options(a)
    from dq.cli._score import add_limits

    add_limits(a)


def _worst_first(r) -> tuple:
    return (
        _STATUS_RANK.get(r.status, 9),
        _SEVERITY_RANK.get(r.severity, 9),
        -(r.fail_fraction or 0.0),
        -r.failed,
        r.table,
        r.rule,
    )


def _esc(text: object) -> str:
    from rich.markup import escape

    return escape(str(text))


def _sample_text(sample: dict) -> str:
    return "  ".join(f"{k}={'∅' if v is None else v}" for k, v in sample.items())


def render_text(
    audit, *, lang: str = "zh", show_all: bool = False, samples: int = 5, quiet: bool = False
) -> list[str]:
    """The terminal view as lines of rich markup (printable as plain text with the markup stripped)."""
    unit = audit.unit.get("name") or audit.unit.get("unit_id") or ""
    uid = audit.unit.get("unit_id")
    who = f"{unit} ({uid})" if uid and uid != unit else str(unit)
    read = [t for t in audit.tables if t.rows is not None]
    rows = sum(t.rows or 0 for t in read)
    lines: list[str] = []
    if not quiet:
        lines.append(
            f"[bold]dq audit[/] {_esc(who)} · period {_esc(audit.period or '-')} · "
            f"{len(audit.tables)} table(s) · {rows:,} rows"
        )
        for t in sorted(audit.tables, key=lambda t: t.table):
            n = "not audited (no suite)" if t.rows is None else f"{t.rows:,} rows"
            lines.append(f"  {_esc(t.table):<26} {n}")
        lines.append("")
    shown = [r for r in audit.results if show_all or r.status in (Status.FAIL, Status.ERROR, Status.WARN)]
    for r in sorted(shown, key=_worst_first):
        style = STATUS_STYLE.get(r.status, "")
        title = (r.title_zh if lang == "zh" else r.title_en) or r.title_en or r.title_zh
        lines.append(
            f"[{style}]{STATUS_LABEL.get(r.status, r.status):<5}[/] {_esc(r.rule):<10} "
            f"{_esc(r.table)} · {_esc(title)} [dim]({r.severity}, {r.dimension})[/]"
        )
        if r.evaluated:
            frac = f"{(r.fail_fraction or 0):.2%}"
            counts = f"{r.failed:,} of {r.evaluated:,} fail ({frac})"
            plain = r.message == f"{r.failed} of {r.evaluated} fail ({frac})"
            lines.append(f"      {counts}" + ("" if plain or not r.message else f" — {_esc(r.message)}"))
        else:
            lines.append(f"      {_esc(r.message)}")
        for s in r.samples[:samples]:
            lines.append(f"      [dim]·[/] {_esc(_sample_text(s))}")
    if shown:
        lines.append("")
    s = audit.summary
    verdict = "passed" if s["passed"] else f"{len(s['failed_rules'])} blocking rule(s) failed"
    lines.append(
        f"{s['rules']} rules: [green]{s['pass']} pass[/], [yellow]{s['warn']} warn[/], "
        f"[bold red]{s['fail']} fail[/], [magenta]{s['error']} error[/], {s['not_applicable']} not applicable"
        f" — {verdict}"
        + ("" if show_all or not (s["pass"] or s["not_applicable"]) else " (--all lists every rule)")
    )
    return lines


def _layout(args: argparse.Namespace, project: Any):
    from dq.io.database import is_database_url

    return project_layout(args, project) if is_database_url(args.path) else None


def run(args: argparse.Namespace) -> int:
    import time

    from dq.api import audit as run_audit
    from dq.cli._score import limits_from

    t0 = time.perf_counter()
    project = project_of(args).override(samples=args.samples, lang=args.lang)
    args.samples, args.lang = project.defaults.samples, project.defaults.lang
    audit = run_audit(
        args.path, args.suite or None, args.period, args.samples,
        table=args.table, encoding=args.encoding, streaming=args.streaming,
        follow_symlinks=args.follow_symlinks, project=project, unit=args.unit, layout=_layout(args, project),
        limits=limits_from(args),
    )  # fmt: skip
    for p in audit.problems:
        info(args, f"dq: warning: {p}")
    rows = sum(t.rows or 0 for t in audit.tables)
    debug(args, f"dq: {len(audit.results)} rules on {len(audit.tables)} table(s), {rows:,} rows, "
                f"in {time.perf_counter() - t0:.2f} s")  # fmt: skip
    for t in audit.tables:
        debug(args, f"dq: {t.table}: {t.file}")
    if args.format == "json":
        text = json.dumps(audit.to_dict(), ensure_ascii=False, indent=2, default=str) + "\n"
        if args.output:
            write_output(args.output, text)
        else:
            sys.stdout.write(text)
        return audit.exit_code
    lines = render_text(
        audit, lang=args.lang, show_all=args.all, samples=args.samples, quiet=getattr(args, "quiet", False)
    )
    if args.output:
        buf = io.StringIO()
        con = console(buf)
        for line in lines:
            con.print(line, soft_wrap=True)
        write_output(args.output, buf.getvalue())
    else:
        con = console()
        for line in lines:
            con.print(line, soft_wrap=True)
    return audit.exit_code
