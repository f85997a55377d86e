"""The ``dq`` command line: a thin layer over the library.

Exit codes: 0 all rules pass (warnings allowed); 1 a rule of severity error or critical failed
(or, for batch commands, a unit errored); 2 usage or input error (unreadable file, invalid suite).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from dq import __version__
from dq.errors import DQError, SuiteError

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
STATUS_STYLE = {
    "pass": "green",
    "warn": "yellow",
    "fail": "bold red",
    "error": "magenta",
    "not_applicable": "dim",
}


def _console(stream=None):
    from rich.console import Console

    return Console(file=stream or sys.stdout, soft_wrap=False)


def _err(msg: str) -> None:
    print(f"dq: error: {msg}", file=sys.stderr)


# ---------------------------------------------------------------- audit
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


def _audit_table_rich(audit, console) -> None:
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
    console.print(t)
    s = audit.summary
    console.print(
        f"{s['rules']} rules: [green]{s['pass']} pass[/], [yellow]{s['warn']} warn[/], "
        f"[bold red]{s['fail']} fail[/], [magenta]{s['error']} error[/], "
        f"{s['not_applicable']} not applicable"
    )


def cmd_audit(args: argparse.Namespace) -> int:
    from dq.engine import audit_extract
    from dq.sources import open_extract
    from dq.suite import load_suites

    extract = open_extract(args.path, encoding=args.encoding)
    suites = load_suites(args.suite or None)
    if args.period:
        from dq.sources import parse_period

        parse_period(args.period)
    if extract.kind is None and not any(s.table in extract.tables for s in suites):
        raise DQError(f"{args.path}: no suite targets this table; pass --suite")
    audit = audit_extract(extract, suites, period=args.period, samples=args.samples, streaming=args.streaming)
    for p in audit.problems:
        print(f"dq: warning: {p}", file=sys.stderr)
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
    try:
        if args.format == "json":
            json.dump(audit.to_dict(), out, ensure_ascii=False, indent=2, default=str)
            out.write("\n")
        elif out is sys.stdout and sys.stdout.isatty():
            _audit_table_rich(audit, _console())
        else:
            _audit_table_text(audit, out)
    finally:
        if out is not sys.stdout:
            out.close()
    return audit.exit_code


# ---------------------------------------------------------------- suites / checks
def cmd_suites(args: argparse.Namespace) -> int:
    from dq.suite import load_suites

    suites = load_suites(args.paths or None)
    if args.action == "validate":
        n = sum(len(s.rules) for s in suites)
        print(f"ok: {len(suites)} suites, {n} rules")
        return EXIT_OK
    for s in suites:
        print(f"{s.id:<36} {s.kind:<9} {s.table:<24} {len(s.rules):>3} rules  {s.title_zh} / {s.title_en}")
    return EXIT_OK


def check_catalogue() -> list[dict[str, Any]]:
    """The check registry as plain data (read by `dq checks` and the docs)."""
    from dq.checks import REGISTRY

    return [
        {
            "name": c.name,
            "dimension": c.dimension,
            "summary": c.summary,
            "params": [
                {"name": p.name, "kind": p.kind, "required": p.required, "default": p.default}
                for p in c.params
            ],
            "nulls": c.null_semantics,
            "gx": c.gx_equivalent,
        }
        for c in REGISTRY.values()
    ]


def cmd_checks(args: argparse.Namespace) -> int:
    checks = check_catalogue()
    if args.format == "json":
        print(json.dumps(checks, ensure_ascii=False, indent=2))
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


# ---------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dq", description="Data-quality audits for health data.")
    parser.add_argument("--version", action="version", version=f"dq {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    a = sub.add_parser("audit", help="audit one site extract (folder) or one table file")
    a.add_argument("path", help="extract folder (manifest.yaml + tables) or a table file")
    a.add_argument("--suite", action="append", help="suite file or folder (repeatable)")
    a.add_argument("--period", help="audited month YYYY-MM (default: the manifest's)")
    a.add_argument("--format", choices=("table", "json"), default="table")
    a.add_argument("--output", "-o", help="write the result to this file")
    a.add_argument("--samples", type=int, default=5, help="failing rows shown per rule (0: none)")
    a.add_argument("--encoding", help="CSV encoding (default: detect UTF-8 or GB18030)")
    a.add_argument("--streaming", action="store_true", help="use Polars' streaming engine")
    a.set_defaults(func=cmd_audit)

    s = sub.add_parser("suites", help="list or validate rule suites")
    s.add_argument("action", choices=("list", "validate"))
    s.add_argument("paths", nargs="*", help="suite files or folders (default: rules/suites)")
    s.set_defaults(func=cmd_suites)

    c = sub.add_parser("checks", help="list the check catalogue")
    c.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    c.set_defaults(func=cmd_checks)

    _optional_commands(sub)
    return parser


def _optional_commands(sub) -> None:
    """Commands whose modules register their own arguments."""
    import importlib

    for name, module, help_ in (
        ("synth", "dq.synth.cli", "generate a synthetic batch of site extracts with known defects"),
        ("score", "dq.score_cli", "audit and score every unit of a batch"),
        ("history", "dq.history_cli", "list stored runs and scores"),
        ("report", "dq.report.cli", "render HTML score reports"),
        ("gx", "dq.gx", "export suites as Great Expectations suites"),
        ("demo", "dq.demo", "run the main job end to end on the bundled data"),
    ):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("dq"):
                continue
            raise
        p = sub.add_parser(name, help=help_)
        mod.configure_parser(p)
        p.set_defaults(func=mod.run)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SuiteError as exc:
        _err(str(exc))
        return EXIT_USAGE
    except DQError as exc:
        _err(str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except BrokenPipeError:  # output piped into head & co.
        sys.stderr.close()
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
