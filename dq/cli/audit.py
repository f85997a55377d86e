"""`dq audit`: audit one site extract (folder) or one table file."""

from __future__ import annotations

import argparse
import json
import sys

from dq.cli.common import console, count, period

__all__ = ["configure_parser", "run"]

STATUS_STYLE = {
    "pass": "green",
    "warn": "yellow",
    "fail": "bold red",
    "error": "magenta",
    "not_applicable": "dim",
}


def configure_parser(a: argparse.ArgumentParser) -> None:
    a.add_argument("path", help="extract folder (manifest.yaml + tables) or a table file")
    a.add_argument("--suite", action="append", help="suite file or folder (repeatable)")
    a.add_argument("--period", type=period, help="audited month YYYY-MM (default: the manifest's)")
    a.add_argument("--table", help="the catalogue table a single file holds (default: the file's name)")
    a.add_argument("--format", choices=("table", "json"), default="table")
    a.add_argument("--output", "-o", help="write the result to this file")
    a.add_argument("--samples", type=count, default=5, help="failing rows shown per rule (0: none)")
    a.add_argument("--encoding", help="CSV encoding (default: detect UTF-8 or GB18030)")
    a.add_argument("--streaming", action="store_true", help="use Polars' streaming engine")
    a.add_argument(
        "--follow-symlinks",
        action="store_true",
        help="follow symbolic links that stay inside the extract folder (refused by default)",
    )


def _audit_table_text(audit, out) -> None:
    """Plain text, one rule per line, for pipes and files."""
    unit = audit.unit.get("name") or audit.unit.get("unit_id") or ""
    print(f"unit: {unit}  period: {audit.period or '-'}", file=out)
    for t in audit.tables:
        print(f"table {t.table}: {t.rows if t.rows is not None else '-'} rows ({t.file})", file=out)
    for r in audit.results:
        frac = f"{r.fail_fraction:.2%}" if r.fail_fraction is not None else "-"
        print(
            f"{r.status.upper():<14} {r.rule:<12} {r.table:<24} {r.check:<18} "
            f"{r.failed}/{r.evaluated} ({frac})  {r.message}",
            file=out,
        )
    s = audit.summary
    print(
        f"{s['rules']} rules: {s['pass']} pass, {s['warn']} warn, {s['fail']} fail, "
        f"{s['error']} error, {s['not_applicable']} not applicable",
        file=out,
    )


def _audit_table_rich(audit, con) -> None:
    from rich.table import Table

    unit = audit.unit.get("name") or audit.unit.get("unit_id") or ""
    t = Table(title=f"dq audit — {unit} {audit.period or ''}".strip(), show_lines=False)
    for col in ("status", "rule", "table", "check", "failed", "evaluated", "%", "message"):
        t.add_column(col, justify="right" if col in ("failed", "evaluated", "%") else "left")
    for r in audit.results:
        frac = f"{r.fail_fraction:.2%}" if r.fail_fraction is not None else "-"
        style = STATUS_STYLE.get(r.status, "")
        t.add_row(
            f"[{style}]{r.status}[/]", r.rule, r.table, r.check, str(r.failed), str(r.evaluated), frac,
            r.message,
        )  # fmt: skip
    con.print(t)
    s = audit.summary
    con.print(
        f"{s['rules']} rules: [green]{s['pass']} pass[/], [yellow]{s['warn']} warn[/], "
        f"[bold red]{s['fail']} fail[/], [magenta]{s['error']} error[/], "
        f"{s['not_applicable']} not applicable"
    )


def run(args: argparse.Namespace) -> int:
    from dq.api import audit as run_audit

    audit = run_audit(
        args.path, args.suite or None, args.period, args.samples,
        table=args.table, encoding=args.encoding, streaming=args.streaming,
        follow_symlinks=args.follow_symlinks,
    )  # fmt: skip
    for p in audit.problems:
        print(f"dq: warning: {p}", file=sys.stderr)
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
    try:
        if args.format == "json":
            json.dump(audit.to_dict(), out, ensure_ascii=False, indent=2, default=str)
            out.write("\n")
        elif out is sys.stdout and sys.stdout.isatty():
            _audit_table_rich(audit, console())
        else:
            _audit_table_text(audit, out)
    finally:
        if out is not sys.stdout:
            out.close()
    return audit.exit_code
