"""`dq send`: e-mail every unit its report for a period, once, and record it in the store."""

from __future__ import annotations

import argparse
import os
import sys

from dq.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    add_store,
    console,
    count,
    period,
    print_json,
    project_of,
    seconds,
    store_path,
)

__all__ = ["configure_parser", "run"]

DEFAULT_PASSWORD_ENV = "DQ_SMTP_PASSWORD"


def configure_parser(p: argparse.ArgumentParser) -> None:
    # No abbreviations: ``--password s3cret`` must be refused, not taken as ``--password-env``.
    p.allow_abbrev = False
    # --period is required, checked in run() with the other options a send needs (all named at once)
    p.add_argument("--period", type=period, help="month whose reports to send, YYYY-MM (required)")
    add_store(p)
    p.add_argument(
        "--reports", help="folder the reports were rendered to (default: the project's, else reports)"
    )
    p.add_argument(
        "--contacts",
        metavar="FILE",
        help="contacts CSV or YAML (unit_id,to,cc,language); default: the project's contacts",
    )
    p.add_argument(
        "--smtp", metavar="HOST:PORT", help="mail server (default: the project's; not needed with --dry-run)"
    )
    tls = p.add_mutually_exclusive_group()
    tls.add_argument(
        "--starttls", action="store_true", help="upgrade the connection with STARTTLS (port 587)"
    )
    tls.add_argument("--ssl", action="store_true", help="connect over TLS from the start (port 465)")
    tls.add_argument(
        "--no-tls", action="store_true", help="plain connection (this machine only, or --insecure)"
    )
    p.add_argument("--user", help="login name on the mail server")
    p.add_argument(
        "--password-env",
        metavar="VAR",
        default=None,
        help=f"environment variable holding the password (default with --user: {DEFAULT_PASSWORD_ENV})",
    )
    p.add_argument("--cafile", metavar="PEM", help="CA certificate(s) to trust for the server's certificate")
    p.add_argument(
        "--from", dest="sender", metavar="ADDR", help="sender address (default: --user if an address)"
    )
    p.add_argument("--only", nargs="+", metavar="UNIT", help="send only these units")
    p.add_argument("--dry-run", action="store_true", help="write .eml files to --out and send nothing")
    p.add_argument("--out", metavar="DIR", help="folder for the .eml files of --dry-run")
    p.add_argument(
        "--force",
        action="store_true",
        help="send again, as a new message, to units already sent (or unknown) for the period",
    )
    p.add_argument(
        "--resend-unknown",
        action="store_true",
        help="send again the messages whose delivery is unknown (connection lost before the server's "
        "answer), with the same Message-ID so the receiving side can recognise a copy",
    )
    p.add_argument(
        "--insecure", action="store_true", help="allow a server other than this machine without TLS"
    )
    p.add_argument("--retries", type=count, default=3, help="retries of a failed delivery (default: 3)")
    p.add_argument(
        "--backoff",
        type=seconds(zero=True),
        default=2.0,
        help="seconds before the first retry, doubled each time (default: 2)",
    )
    p.add_argument(
        "--timeout",
        type=seconds(zero=False),
        default=30.0,
        help="seconds to wait for the server (default: 30)",
    )
    p.add_argument(
        "--registry", metavar="CSV", help="unit registry to check contacts against (default: bundled)"
    )
    p.add_argument("--format", choices=("table", "json"), default="table")


def run(args: argparse.Namespace) -> int:
    from dq.delivery.contacts import load_contacts
    from dq.delivery.send import (
        SmtpSettings,
        default_sender,
        missing_options,
        password_from_env,
        send_period,
    )
    from dq.errors import UsageError
    from dq.io.registry import Registry, RegistryError
    from dq.store.history import Store

    if args.out and not args.dry_run:
        raise UsageError("--out is for --dry-run (the .eml files); nothing is written when sending")
    project = project_of(args)
    d = project.defaults
    args.store = store_path(args)
    args.reports = args.reports or d.reports
    args.contacts = args.contacts or d.contacts
    if not args.smtp and d.smtp_host:
        port = d.smtp_port or {"ssl": 465, "starttls": 587}.get(d.smtp_tls or "", 25)
        args.smtp = f"[{d.smtp_host}]:{port}" if ":" in d.smtp_host else f"{d.smtp_host}:{port}"
    args.user = args.user or d.smtp_user
    args.sender = args.sender or d.smtp_sender
    sender = args.sender or default_sender(args.user, dry_run=args.dry_run)
    # Every option still missing, named in one error (not one per run of the command).
    missing = ["--period YYYY-MM"] if args.period is None else []
    if not args.contacts:
        missing.append("--contacts FILE (or contacts in the project's [defaults])")
    missing += missing_options(dry_run=args.dry_run, out=args.out, smtp=args.smtp, sender=sender)
    var = args.password_env or (DEFAULT_PASSWORD_ENV if args.user else None)
    if args.smtp and not args.dry_run and var and not os.environ.get(var):
        missing.append(f"the password in ${var} (--password-env {var}: the variable is not set or empty)")
    if missing:
        raise UsageError(f"give {'; '.join(missing)}")  # dq.cli.main adds: (see dq send --help)
    if not (args.starttls or args.ssl or args.no_tls):
        args.starttls, args.ssl = d.smtp_tls == "starttls", d.smtp_tls == "ssl"
    try:
        registry = Registry.load(args.registry) if args.registry else project.registry()
    except RegistryError as exc:
        raise UsageError(str(exc)) from exc
    contacts = load_contacts(args.contacts, registry)
    smtp = None
    if args.smtp and not args.dry_run:
        smtp = SmtpSettings.parse(
            args.smtp,
            security="starttls" if args.starttls else "ssl" if args.ssl else "none",
            user=args.user,
            password=password_from_env(var),
            insecure=args.insecure,
            cafile=args.cafile,
            timeout=args.timeout,
        )

    def log(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr)

    for w in contacts.warnings:
        log(f"warning: {w}")
    outcome = send_period(
        Store(args.store),
        args.period,
        contacts,
        reports_dir=args.reports,
        sender=sender,
        smtp=smtp,
        only=args.only,
        dry_run=args.dry_run,
        out=args.out,
        force=args.force,
        resend_unknown=args.resend_unknown,
        retries=args.retries,
        backoff=args.backoff,
        log=log,  # each unit as it goes, retries and failures: what a cron log needs
    )
    if args.format == "json":
        payload = {
            "period": outcome.period,
            "dry_run": outcome.dry_run,
            "ok": outcome.ok,
            "units": [u.to_dict() for u in outcome.units],
            "unknown": [u.unit_id for u in outcome.unknown],
            "warnings": outcome.warnings,
        }
        print_json(payload)
    else:
        _print_table(outcome)
    return EXIT_OK if outcome.ok else EXIT_FAILED


def _print_table(outcome) -> None:
    from rich.table import Table

    from dq.delivery.send import SendStatus

    verb = "dry run" if outcome.dry_run else "send"
    t = Table(title=f"dq send {outcome.period} ({verb})")
    for c in ("unit", "name", "status", "to", "detail"):
        t.add_column(c, overflow="fold")
    for u in outcome.units:
        style = None if u.ok else "bold red"
        detail = u.detail or u.file or u.message_id
        t.add_row(u.unit_id, u.unit_name, u.status, ", ".join((*u.to, *u.cc)), detail, style=style)
    out = console()
    out.print(t)
    counts: dict[str, int] = {}
    for u in outcome.units:
        counts[u.status] = counts.get(u.status, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    out.print(f"{len(outcome.units)} units: {summary} in {outcome.seconds:.1f}s")
    for u in outcome.units:
        if not u.ok and u.status != SendStatus.UNKNOWN:
            what = "sent with a problem" if u.status == SendStatus.PARTIAL else "not sent"
            print(f"{what} {u.unit_id}: {u.status}: {u.detail}", file=sys.stderr)
    if outcome.unknown:
        print(
            f"{len(outcome.unknown)} unit(s) whose message may or may not have arrived (not sent again; "
            "ask the recipients, or rerun with --resend-unknown to send the same message again):",
            file=sys.stderr,
        )
        for u in outcome.unknown:
            print(f"unknown {u.unit_id}: {u.message_id}: {u.detail}", file=sys.stderr)
