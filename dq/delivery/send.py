"""Send every unit its monthly report by e-mail, once, and keep the record (``dq send``).

    from dq.delivery.contacts import load_contacts
    from dq.delivery.send import SmtpSettings, send_period
    from dq.store.history import Store

    outcome = send_period(Store("history"), "2020-09", load_contacts("contacts.csv"),
                          reports_dir="reports", sender="dq@center.example.org",
                          smtp=SmtpSettings.parse("smtp.example.org:587", security="starttls",
                                                  user="dq", password=os.environ["DQ_SMTP_PASSWORD"]))
    outcome.ok        # False when a unit could not be sent (``dq send`` then exits 1)

One message per unit scored in the period (its latest score): the subject names the unit, the
month, the score and the grade; a short plain-text and HTML body gives the score, grade, rank and
the three rules that cost the most points; the unit's HTML report is attached, with its rows-to-fix
files when they sit next to it. The message goes to that unit's own addresses from the contacts
file and to no one else.

Exactly once: every attempt is recorded in the history store (:mod:`dq.store.deliveries`); a unit
already delivered for the period is skipped unless ``force``. A failed delivery is retried with
exponential back-off (``retries``, ``backoff``); a unit that still fails is listed and the batch
goes on. A unit is not sent (and is listed) when it has no contact, when its report is missing, or
when its report is older than its latest score (render the reports again first).

TLS is required for any server but the local machine (``security="starttls"`` or ``"ssl"``)
unless ``insecure=True``. Credentials are passed in by the caller; ``dq send`` reads the password
from an environment variable named by ``--password-env``, never from its command line.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import html
import ipaddress
import math
import os
import re
import smtplib
import ssl
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import format_datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import polars as pl

from dq.delivery.contacts import Contact, Contacts, HeaderTextError, header_text
from dq.errors import DQError, InputError, OutputError, UsageError
from dq.io.outputs import safe_filename
from dq.scoring.explain import Loss
from dq.scoring.scores import UnitStatus
from dq.store.deliveries import DeliveryEvent, DeliveryLog, DeliveryState, DeliveryStatus

__all__ = [
    "SendOutcome",
    "SendStatus",
    "SmtpSettings",
    "UnitDelivery",
    "UnitMail",
    "build_message",
    "largest_losses",
    "missing_options",
    "rows_to_fix_files",
    "send_period",
]

LOCAL_HOSTS = ("localhost", "localhost.localdomain")


class SendStatus(StrEnum):
    """What became of one unit in a ``dq send`` run (:attr:`UnitDelivery.status`; the ``status``
    of ``dq send --format json``'s units). A :class:`~enum.StrEnum`: each member is its text.
    The delivery record's own event statuses are :class:`dq.store.deliveries.DeliveryStatus`."""

    SENT = "sent"
    SKIPPED = "skipped"  # already sent for the period
    WRITTEN = "written"  # dry run: its .eml file was written
    PARTIAL = "partial"  # sent, but the server refused some recipients
    FAILED = "failed"
    UNKNOWN = "unknown"  # the message may or may not have arrived (dq.store.deliveries)
    NO_CONTACT = "no_contact"
    BAD_CONTACT = "bad_contact"  # its contacts row was refused
    NO_REPORT = "no_report"
    STALE_REPORT = "stale_report"  # older than the unit's latest score
    NO_SCORE = "no_score"  # the unit could not be scored
    ERROR = "error"  # the message could not be built


#: The outcomes of a unit that count as done: sent now, sent before, or written (dry run).
STATUSES_OK = frozenset({SendStatus.SENT, SendStatus.SKIPPED, SendStatus.WRITTEN})
_RUN_ID = re.compile(r"\b\d{8}T\d{6}-[0-9a-f]{6}\b")
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# -- the three largest losses ---------------------------------------------------------------------
def largest_losses(store, period: str, unit_id: str, n: int = 3) -> list[Loss]:
    """The ``n`` rules that cost ``unit_id`` the most overall-score points in ``period``: the same
    figures as ``dq explain`` and the report (:mod:`dq.scoring.explain`)."""
    from dq.scoring.explain import unit_losses

    return list(unit_losses(store, period, unit_id).losses[:n])


def _top_losses(results: pl.DataFrame, unit_id: str, score: float, n: int = 3) -> list[Loss]:
    """:func:`largest_losses` from the period's results read once for the whole batch."""
    from dq.scoring.explain import rule_losses

    if results.is_empty():
        return []
    return rule_losses(results.filter(pl.col("unit_id") == unit_id).to_dicts(), score)[:n]


def _loss_title(loss: Loss, lang: str) -> str:
    own = loss.title_zh if lang == "zh" else loss.title_en
    return own or loss.title_en or loss.title_zh or loss.rule


# -- what one unit's message is made of ------------------------------------------------------------
@dataclass(frozen=True)
class UnitMail:
    """Everything that goes into one unit's message (no patient data: scores and rule titles)."""

    unit_id: str
    unit_name: str
    kind: str
    period: str
    score: float
    grade: str
    rank: int | None
    of: int | None
    losses: tuple[Loss, ...]
    report: Path
    report_sha256: str
    fixes: tuple[Path, ...] = ()
    run_id: str = ""
    report_data: bytes | None = field(default=None, repr=False)  # the bytes hashed, when read already


def _report_words(lang: str) -> dict[str, str]:
    if lang == "zh":
        return {
            "subject": "【数据质量】{name}（{uid}）{month}评分 {score} 分 {grade}（{grade_label}）",
            "hello": "{name}（{uid}）：",
            "score": "{month}综合得分 {score} 分，等级 {grade}（{grade_label}）。",
            "rank": "{among}排名第 {rank} / {of}。",
            "no_rank": "本月无排名。",
            "losses": "失分最多的三条规则：",
            "loss": "{title}（{table}，规则 {rule}）：综合得分失 {points} 分",
            "no_losses": "本月没有失分的规则。",
            "report": "完整报告见附件 {file}（用浏览器打开，可打印）。",
            "fixes": "需整改的数据行（注明所在文件和行号）见附件 {files}。",
            "footer": "本邮件由数据质量审核系统 dq 自动发送。",
        }
    return {
        "subject": "[Data quality] {name} ({uid}) {month}: score {score}, grade {grade} ({grade_label})",
        "hello": "{name} ({uid}),",
        "score": "Overall score for {month}: {score}, grade {grade} ({grade_label}).",
        "rank": "Rank {rank} of {of} {among}.",
        "no_rank": "Not ranked this month.",
        "losses": "The three rules that cost the most points:",
        "loss": "{title} ({table}, rule {rule}): −{points} overall-score points",
        "no_losses": "No rule cost points this month.",
        "report": "The full report is attached as {file} (open it in a browser; it prints on A4).",
        "fixes": "The rows to fix (with file and line) are attached as {files}.",
        "footer": "This message was sent automatically by dq, the data-quality audit system.",
    }


def _texts(mail: UnitMail, lang: str) -> dict[str, Any]:
    from dq.io.catalogue import load_catalogue
    from dq.report.i18n import period_label, tr
    from dq.report.model import kind_label, table_label

    w = _report_words(lang)
    cat = load_catalogue()
    grade_label = tr(lang, f"grade_{mail.grade}") if mail.grade in ("A", "B", "C", "D") else ""
    fields = {
        "name": mail.unit_name,
        "uid": mail.unit_id,
        "month": period_label(mail.period, lang),
        "score": f"{mail.score:.2f}",
        "grade": mail.grade,
        "grade_label": grade_label,
    }
    among = kind_label(mail.kind, lang, plural=True)
    among = f"在{among}中" if lang == "zh" else f"among {among.lower()}"
    rank = (
        w["rank"].format(rank=mail.rank, of=mail.of, among=among)
        if mail.rank is not None and mail.of
        else w["no_rank"]
    )
    losses = [
        w["loss"].format(
            title=_loss_title(x, lang),
            table=table_label(x.table, cat, lang),
            rule=x.rule,
            points=f"{x.points:.2f}",
        )
        for x in mail.losses
    ]
    return {
        "subject": w["subject"].format(**fields),
        "hello": w["hello"].format(**fields),
        "score": w["score"].format(**fields),
        "rank": rank,
        "losses_head": w["losses"] if losses else w["no_losses"],
        "losses": losses,
        "report": w["report"].format(file=attachment_name(mail, mail.report)),
        "fixes": w["fixes"].format(files=", ".join(attachment_name(mail, f) for f in mail.fixes))
        if mail.fixes
        else "",
        "footer": w["footer"],
    }


def attachment_name(mail: UnitMail, path: Path) -> str:
    """``H001.html`` → ``dq_2020-09_H001.html``: the month in the name keeps months apart
    (:func:`dq.report.mailed.mail_name`, the names the attached report links to)."""
    from dq.report.mailed import mail_name

    return mail_name(mail.period, path.name)


def _html_body(t: Mapping[str, Any], lang: str) -> str:
    e = html.escape
    items = "".join(f"<li>{e(x)}</li>" for x in t["losses"])
    losses = f"<p>{e(t['losses_head'])}</p>" + (f"<ol>{items}</ol>" if items else "")
    fixes = f"<p>{e(t['fixes'])}</p>" if t["fixes"] else ""
    return (
        f'<!doctype html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
        f"<title>{e(t['subject'])}</title></head>"
        '<body style="font-family:sans-serif;font-size:14px;line-height:1.5;color:#222">'
        f"<p>{e(t['hello'])}</p><p><strong>{e(t['score'])}</strong> {e(t['rank'])}</p>"
        f"{losses}<p>{e(t['report'])}</p>{fixes}"
        f'<p style="color:#777;font-size:12px">{e(t["footer"])}</p></body></html>\n'
    )


def _text_body(t: Mapping[str, Any]) -> str:
    lines = [t["hello"], "", t["score"], t["rank"], "", t["losses_head"]]
    lines += [f"{i}. {x}" for i, x in enumerate(t["losses"], start=1)]
    lines += ["", t["report"]]
    if t["fixes"]:
        lines.append(t["fixes"])
    lines += ["", "-- ", t["footer"]]
    return "\n".join(lines) + "\n"


def build_message(
    mail: UnitMail,
    contact: Contact,
    sender: str | Address,
    message_id: str | None = None,
    date: datetime | None = None,
) -> EmailMessage:
    """The unit's message: multipart/mixed (text + HTML alternative, the report, rows to fix).

    Headers are RFC 2047-encoded where they hold Chinese; ``X-DQ-Unit``, ``X-DQ-Period`` and
    ``X-DQ-Report-SHA256`` say what the message carries.

    Every header value is built by the email package's header classes from text checked by
    :func:`dq.delivery.contacts.header_text`: encoded words in a unit name (registry or manifest) are
    decoded first, and a control character, as written or decoded, raises
    :class:`~dq.delivery.contacts.HeaderTextError` naming the field (never the text). The headers are then
    read back as a mail program would read them and must be exactly those built."""
    if contact.unit_id != mail.unit_id:  # the one rule that must never break
        raise DQError(f"contact of {contact.unit_id} used for the report of {mail.unit_id}")
    header_text(mail.unit_id, f"the unit id of {safe_filename(mail.unit_id)}")
    mail = dataclasses.replace(
        mail, unit_name=header_text(mail.unit_name, f"the name of unit {mail.unit_id} (registry or manifest)")
    )
    lang = contact.language
    t = _texts(mail, lang)
    subject = header_text(t["subject"], f"the subject of {mail.unit_id}'s message")
    sender_addr = sender if isinstance(sender, Address) else _parse_sender(sender)
    mid = message_id or new_message_id(mail, sender_addr.domain or "localhost")
    headers: list[tuple[str, Any]] = [
        ("Subject", subject),
        ("From", sender_addr),
        ("To", contact.to),
        *([("Cc", contact.cc)] if contact.cc else []),
        ("Date", format_datetime(date or datetime.now(UTC))),
        ("Message-ID", header_text(mid, f"the Message-ID of {mail.unit_id}'s message")),
        ("Auto-Submitted", "auto-generated"),  # RFC 3834: no vacation replies
        ("X-DQ-Unit", mail.unit_id),
        ("X-DQ-Period", header_text(mail.period, "the period")),
        ("X-DQ-Report-SHA256", mail.report_sha256),
    ]
    msg = EmailMessage(policy=policy.SMTP)
    for name, value in headers:
        msg[name] = value
    _check_headers(msg, mail.unit_id, subject, contact)
    msg.set_content(_text_body(t), charset="utf-8")
    msg.add_alternative(_html_body(t, lang), subtype="html", charset="utf-8")
    from dq.report.mailed import mailed_report

    data = mail.report_data if mail.report_data is not None else mail.report.read_bytes()
    data = mailed_report(data, mail.period, [f.name for f in mail.fixes])  # links to the attachments
    msg.add_attachment(data, maintype="text", subtype="html", filename=attachment_name(mail, mail.report))
    for f in mail.fixes:
        if f.suffix.lower() == ".csv":
            maintype, subtype = "text", "csv"
        else:
            maintype, subtype = _XLSX.split("/")
        msg.add_attachment(
            f.read_bytes(), maintype=maintype, subtype=subtype, filename=attachment_name(mail, f)
        )
    return msg


def _check_headers(msg: EmailMessage, unit_id: str, subject: str, contact: Contact) -> None:
    """The headers as they go on the wire, read back by the email package's parser, must be the
    headers built: the same names in the same order, the same subject and recipients."""
    wire = b"".join(msg.policy.fold_binary(k, v) for k, v in msg.items()) + b"\r\n"
    back = BytesHeaderParser(policy=policy.default).parsebytes(wire)
    addrs = [a.addr_spec.lower() for h in ("To", "Cc") for a in (back[h].addresses if back[h] else ())]
    if (
        [k.lower() for k in back] != [k.lower() for k in msg]
        or str(back["Subject"]) != subject
        or addrs != [a.addr_spec.lower() for a in (*contact.to, *contact.cc)]
        or str(back["X-DQ-Unit"]) != unit_id
    ):
        raise HeaderTextError(f"the headers of {unit_id}'s message do not read back as built; not sent")


def new_message_id(mail: UnitMail, domain: str) -> str:
    """``<dq.2020-09.H001.<random>@domain>``: unique, and it says what it is."""
    return f"<dq.{mail.period}.{safe_filename(mail.unit_id)}.{uuid.uuid4().hex[:16]}@{domain}>"


def _parse_sender(text: str) -> Address:
    from dq.delivery.contacts import parse_addresses

    addrs, problems = parse_addresses(text)
    if problems or len(addrs) != 1:
        raise UsageError(f"--from {text!r}: expected one address such as dq@center.example.org")
    return addrs[0]


# -- files next to the report -------------------------------------------------------------------
def rows_to_fix_files(report: Path, unit_id: str) -> tuple[Path, ...]:
    """The unit's rows-to-fix files (``H001_fix.csv``, ``H001_fix.xlsx``, :mod:`dq.batch.fixlist`)
    that exist next to its report."""
    from dq.batch.fixlist import fix_file_names

    return tuple(report.parent / n for n in fix_file_names(unit_id) if (report.parent / n).is_file())


# -- SMTP -----------------------------------------------------------------------------------------
def is_local_host(host: str) -> bool:
    """The machine itself: ``localhost`` or a loopback address."""
    if host.lower() in LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class SmtpSettings:
    """How to reach the mail server. ``security`` is ``none``, ``starttls`` or ``ssl``."""

    host: str
    port: int
    security: str = "none"
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    insecure: bool = False
    timeout: float = 30.0
    cafile: str | None = None
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)

    @classmethod
    def parse(cls, hostport: str, **kw: Any) -> SmtpSettings:
        """``host:port`` (``[::1]:25`` for IPv6) plus the other fields; validated."""
        m = re.fullmatch(r"\[(?P<v6>[^\]]+)\]:(?P<p6>\d+)|(?P<host>[^:\s]+):(?P<port>\d+)", hostport.strip())
        if not m:
            raise UsageError(f"--smtp {hostport!r}: expected HOST:PORT, e.g. smtp.example.org:587")
        host = m.group("v6") or m.group("host")
        port = int(m.group("p6") or m.group("port"))
        settings = cls(host=host, port=port, **kw)
        settings.validate()
        return settings

    def validate(self) -> None:
        if not (isinstance(self.timeout, int | float) and math.isfinite(self.timeout) and self.timeout > 0):
            raise UsageError(f"--timeout {self.timeout}: give a number of seconds greater than 0, e.g. 30")
        if not 0 < self.port < 65536:
            raise UsageError(f"--smtp port {self.port} is not between 1 and 65535")
        if self.security not in ("none", "starttls", "ssl"):
            raise UsageError(f"security {self.security!r} is not one of none, starttls, ssl")
        if self.security == "none" and not self.insecure and not is_local_host(self.host):
            raise UsageError(
                f"--smtp {self.host}: TLS is required for a server other than this machine; "
                "give --starttls or --ssl (or --insecure to send in clear text)"
            )
        if self.user and self.password is None:
            raise UsageError(f"--user {self.user}: no password (set the variable named by --password-env)")
        if self.password is not None and not self.user:
            raise UsageError("a password is set but no --user: give --user too")

    def context(self) -> ssl.SSLContext:
        if self.ssl_context is not None:
            return self.ssl_context
        ctx = ssl.create_default_context(cafile=self.cafile)
        if self.insecure:  # the user asked for it explicitly; say so in the docs
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx


class _ConfigFailure(DQError):
    """The server refuses our setup (credentials, TLS): no unit can be sent; stop the batch."""


class _OutcomeUnknown(DQError):
    """The whole message went to the server, then the connection was lost (or timed out) before
    its answer: the message may have been delivered or not."""

    def __init__(self, cause: BaseException):
        self.cause = cause
        super().__init__(_describe(cause))


class _Tracking:
    """An SMTP session that knows whether the end of a message's data (``CRLF.CRLF``) has been
    handed to the connection: a failure after that point leaves the outcome unknown, a failure
    before it (or any answer of the server) does not."""

    data_sent = False
    _in_data = False

    def data(self, msg):
        self.data_sent, self._in_data = False, True
        try:
            return super().data(msg)
        finally:
            self._in_data = False

    def send(self, s):
        super().send(s)  # raises before the last byte is handed over
        if self._in_data and isinstance(s, bytes | bytearray) and bytes(s[-5:]) == b"\r\n.\r\n":
            self.data_sent = True


class _SMTP(_Tracking, smtplib.SMTP):
    pass


class _SMTP_SSL(_Tracking, smtplib.SMTP_SSL):
    pass


class _Connection:
    """One SMTP session, opened on first use and reopened after a failure."""

    def __init__(self, settings: SmtpSettings):
        self.s = settings
        self.smtp: _SMTP | _SMTP_SSL | None = None

    def _open(self) -> _SMTP | _SMTP_SSL:
        s = self.s
        try:
            if s.security == "ssl":
                smtp: _SMTP | _SMTP_SSL = _SMTP_SSL(s.host, s.port, timeout=s.timeout, context=s.context())
            else:
                smtp = _SMTP(s.host, s.port, timeout=s.timeout)
            try:
                smtp.ehlo()
                if s.security == "starttls":
                    smtp.starttls(context=s.context())
                    smtp.ehlo()
                if s.user:
                    smtp.login(s.user, s.password or "")
            except BaseException:
                with contextlib.suppress(Exception):
                    smtp.close()
                raise
        except smtplib.SMTPNotSupportedError as exc:
            raise _ConfigFailure(f"{s.host}:{s.port}: {exc} (try --ssl, or another port)") from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise _ConfigFailure(
                f"{s.host}:{s.port}: the server refused the login of {s.user!r} ({exc.smtp_code}); "
                "check --user and the password variable"
            ) from exc
        except ssl.SSLCertVerificationError as exc:
            raise _ConfigFailure(
                f"{s.host}:{s.port}: the server's certificate is not trusted ({exc.verify_message}); "
                "give --cafile with the center's CA certificate"
            ) from exc
        return smtp

    def send(self, msg: EmailMessage, sender: str, recipients: Sequence[str]) -> dict[str, tuple[int, bytes]]:
        """Send ``msg``; the recipients refused. Raises :class:`_OutcomeUnknown` when the
        connection is lost after the whole message went out and before the server answered."""
        if self.smtp is None:
            self.smtp = self._open()
        smtp = self.smtp
        smtp.data_sent = False
        try:
            return smtp.send_message(msg, from_addr=sender, to_addrs=list(recipients))
        except smtplib.SMTPResponseException:
            raise  # the server answered: its answer says what happened
        except (smtplib.SMTPException, OSError) as exc:
            if smtp.data_sent:
                raise _OutcomeUnknown(exc) from exc
            raise

    def reset(self) -> None:
        if self.smtp is not None:
            with contextlib.suppress(Exception):
                self.smtp.close()
        self.smtp = None

    def close(self) -> None:
        if self.smtp is not None:
            with contextlib.suppress(Exception):
                self.smtp.quit()
        self.reset()


def _permanent(exc: BaseException) -> bool:
    """A 5xx answer will not change on retry; connection trouble and 4xx answers may."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    return False


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "every recipient refused: " + "; ".join(
            f"{a} ({c} {m.decode(errors='replace')})" for a, (c, m) in exc.recipients.items()
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        text = (
            exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
        )
        return f"server answered {exc.smtp_code} {text}"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return f"connection lost ({exc})" if str(exc) else "connection lost"
    return f"{type(exc).__name__}: {exc}"


# -- the batch ------------------------------------------------------------------------------------
@dataclass
class UnitDelivery:
    """What happened to one unit in a send run: its :class:`SendStatus` and the details."""

    unit_id: str
    unit_name: str
    status: SendStatus
    detail: str = ""
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()
    message_id: str = ""
    attempts: int = 0
    file: str = ""

    @property
    def ok(self) -> bool:
        return self.status in STATUSES_OK

    def to_dict(self) -> dict[str, Any]:
        return {
            "unit_id": self.unit_id,
            "unit_name": self.unit_name,
            "status": self.status.value,
            "detail": self.detail,
            "to": list(self.to),
            "cc": list(self.cc),
            "refused": list(self.refused),
            "message_id": self.message_id,
            "attempts": self.attempts,
            "file": self.file,
        }


@dataclass
class SendOutcome:
    period: str
    dry_run: bool
    units: list[UnitDelivery]
    warnings: list[str]
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when every unit was sent, already sent before, or written (dry run)."""
        return all(u.ok for u in self.units)

    def count(self, status: SendStatus) -> int:
        return sum(1 for u in self.units if u.status == status)

    @property
    def unknown(self) -> list[UnitDelivery]:
        """The units whose message may or may not have arrived (not sent again by this run)."""
        return [u for u in self.units if u.status == SendStatus.UNKNOWN]


#: One ``dq send`` per store at a time (two would both think a unit was not sent yet): the lock
#: below the store, of the store's backend (an OS file lock on a folder, an object behind a URL).
_SEND_LOCK = "deliveries/.send.lock"


def _freshness(report: Path, run_id: str, started_at: datetime | None) -> SendStatus | None:
    """Why ``report`` cannot be sent for the score of run ``run_id``, or None."""
    if not report.is_file():
        return SendStatus.NO_REPORT
    if started_at is not None:
        mtime = datetime.fromtimestamp(report.stat().st_mtime, UTC)
        if mtime < started_at:
            return SendStatus.STALE_REPORT
    if run_id:
        head = report.read_text(encoding="utf-8", errors="replace")
        named = set(_RUN_ID.findall(head))
        if named and run_id not in named:
            return SendStatus.STALE_REPORT
    return None


def send_period(
    store,
    period: str,
    contacts: Contacts,
    *,
    reports_dir: str | Path = "reports",
    sender: str = "",
    smtp: SmtpSettings | None = None,
    only: Sequence[str] | None = None,
    dry_run: bool = False,
    out: str | Path | None = None,
    force: bool = False,
    resend_unknown: bool = False,
    retries: int = 3,
    backoff: float = 2.0,
    log: Callable[[str], None] | None = None,
) -> SendOutcome:
    """Send (or, with ``dry_run``, write as .eml under ``out/<period>/``) every unit's report.

    A unit's message keeps one Message-ID for the period: fixed (and recorded) before the first
    attempt, reused by every retry and by a later run after a failure. A unit whose latest
    message's outcome is unknown (:mod:`dq.store.deliveries`) is listed as ``unknown`` and not
    sent again, unless ``resend_unknown`` (the same message again, with the same Message-ID;
    refused if the report has changed since) or ``force`` (a new message, with a new Message-ID).

    A delivery record that cannot be written (read-only store, full disk) stops the run with an
    :class:`~dq.errors.OutputError`: nothing is sent that could not be recorded, and what was
    sent before stays recorded."""
    from dq.io.period import Period
    from dq.report.model import rank_of, report_filename
    from dq.store.history import Store

    t0 = time.perf_counter()
    Period.parse(period)
    store = store if isinstance(store, Store) else Store(store)
    say = log or (lambda _msg: None)
    if retries < 0 or not (math.isfinite(backoff) and backoff >= 0):
        raise UsageError(f"--retries {retries} --backoff {backoff}: give a whole number ≥ 0 and seconds ≥ 0")
    missing = missing_options(dry_run=dry_run, out=out, smtp=smtp, sender=sender)
    if missing:
        raise UsageError("give " + "; ".join(missing))
    sender_addr = _parse_sender(sender)
    if smtp is not None:
        smtp.validate()

    scores = store.scores(period)
    if scores.is_empty():
        raise InputError(f"{store.root}: no scores for {period} (run `dq score ... --period {period}` first)")
    scored = {r["unit_id"]: r for r in scores.sort("unit_id").iter_rows(named=True)}
    if only:
        unknown = [u for u in only if u not in scored]
        if unknown:
            raise UsageError(
                f"--only {' '.join(unknown)}: no score for {period} in {store.root} "
                f"(scored units: {', '.join(list(scored)[:10])}{' …' if len(scored) > 10 else ''})"
            )
        selected = list(dict.fromkeys(only))
    else:
        selected = list(scored)
    results = store.results(period)
    ranked_pool = scores.filter(pl.col("status") == UnitStatus.OK)
    folder = Path(reports_dir) / safe_filename(period)
    warnings = list(contacts.warnings)
    log_ = DeliveryLog(store)
    eml_dir = Path(out) / safe_filename(period) if dry_run and out is not None else None
    if eml_dir is not None:
        from dq.io.outputs import ensure_dir

        ensure_dir(eml_dir)

    outcomes: list[UnitDelivery] = []
    conn = _Connection(smtp) if smtp is not None and not dry_run else None
    with store.writer_lock(_SEND_LOCK, "dq send").held():  # one dq send per store at a time
        states = log_.states(period)
        try:
            for uid in selected:
                row = scored[uid]
                name = str(row.get("unit_name") or uid)
                if row.get("status") != UnitStatus.OK or row.get("score") is None:
                    outcomes.append(
                        UnitDelivery(uid, name, SendStatus.NO_SCORE, "the unit's extract could not be scored")
                    )
                    continue
                state = states.get(uid)
                if (
                    state is not None
                    and state.status == DeliveryStatus.UNKNOWN
                    and not (force or resend_unknown)
                ):
                    outcomes.append(_unknown_outcome(uid, name, state))
                    say(f"{uid}: {outcomes[-1].detail}")
                    continue
                if (
                    state is not None
                    and state.delivered
                    and state.status != DeliveryStatus.UNKNOWN
                    and not force
                ):
                    outcomes.append(
                        UnitDelivery(uid, name, SendStatus.SKIPPED, "already sent for this period")
                    )
                    continue
                contact = contacts.get(uid)
                if contact is None:
                    if uid in contacts.rejected:
                        detail = f"its contacts row was refused: {contacts.rejected[uid]}"
                        outcomes.append(UnitDelivery(uid, name, SendStatus.BAD_CONTACT, detail))
                    else:
                        outcomes.append(
                            UnitDelivery(uid, name, SendStatus.NO_CONTACT, "no row in the contacts file")
                        )
                    continue
                report = folder / report_filename(uid)
                started = row.get("started_at")
                why = _freshness(report, str(row.get("run_id") or ""), started)
                if why:
                    detail = (
                        f"{report} is missing (render the reports first)"
                        if why == SendStatus.NO_REPORT
                        else f"{report} is older than the unit's latest score (render the reports again)"
                    )
                    outcomes.append(UnitDelivery(uid, name, why, detail))
                    continue
                try:
                    data = report.read_bytes()
                except OSError as exc:
                    detail = f"{report}: cannot read ({exc.strerror or exc})"
                    outcomes.append(UnitDelivery(uid, name, SendStatus.NO_REPORT, detail))
                    continue
                fixes = []
                for f in rows_to_fix_files(report, uid):
                    if _freshness(f, "", started) is None:
                        fixes.append(f)
                    else:
                        warnings.append(f"{uid}: {f} is older than the unit's latest score; not attached")
                rank, of = rank_of(ranked_pool, uid)
                mail = UnitMail(
                    unit_id=uid,
                    unit_name=name,
                    kind=str(row.get("kind") or ""),
                    period=period,
                    score=float(row["score"]),
                    grade=str(row.get("grade") or ""),
                    rank=rank,
                    of=of,
                    losses=tuple(_top_losses(results, uid, float(row["score"]))),
                    report=report,
                    report_sha256=hashlib.sha256(data).hexdigest(),
                    report_data=data,
                    fixes=tuple(fixes),
                    run_id=str(row.get("run_id") or ""),
                )
                mid = None if force or state is None else state.message_id  # one message per period
                if (
                    mid
                    and state is not None
                    and state.status == DeliveryStatus.UNKNOWN
                    and (state.report_sha256 and state.report_sha256 != mail.report_sha256)
                ):
                    outcomes.append(_unknown_outcome(uid, name, state, changed=True))
                    say(f"{uid}: {outcomes[-1].detail}")
                    continue
                try:
                    msg = build_message(mail, contact, sender_addr, message_id=mid)
                except (OSError, DQError) as exc:  # a name that would write headers, a file unreadable
                    outcomes.append(
                        UnitDelivery(uid, name, SendStatus.ERROR, f"cannot build the message: {exc}")
                    )
                    say(f"{uid}: not sent: cannot build the message: {exc}")
                    continue
                if eml_dir is not None:
                    path = eml_dir / f"{Path(report_filename(uid)).stem}.eml"
                    _write_bytes(path, msg.as_bytes())
                    outcomes.append(_outcome(mail, contact, msg, SendStatus.WRITTEN, file=str(path)))
                    say(f"{uid}: written {path}")
                    continue
                assert conn is not None and smtp is not None
                outcomes.append(
                    _deliver(conn, smtp, log_, period, mail, contact, msg, sender_addr, retries, backoff, say)
                )
        except _ConfigFailure as exc:
            raise UsageError(str(exc)) from exc
        finally:
            if conn is not None:
                conn.close()
    return SendOutcome(period, dry_run, outcomes, warnings, time.perf_counter() - t0)


def _unknown_outcome(uid: str, name: str, state: DeliveryState, changed: bool = False) -> UnitDelivery:
    when = f"{state.time:%Y-%m-%d %H:%M} UTC" if state.time else "an earlier run"
    detail = f"message {state.message_id} ({when}) may or may not have arrived: {state.error}; "
    if changed:
        detail += (
            "its report has changed since, so it cannot be sent again as the same message: "
            "give --force to send the new report as a new message"
        )
    else:
        detail += "ask the recipient, or give --resend-unknown to send it again with the same Message-ID"
    return UnitDelivery(uid, name, SendStatus.UNKNOWN, detail, message_id=state.message_id)


def _write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from exc


def _outcome(
    mail: UnitMail, contact: Contact, msg: EmailMessage, status: SendStatus, **kw: Any
) -> UnitDelivery:
    return UnitDelivery(
        mail.unit_id,
        mail.unit_name,
        status,
        to=tuple(a.addr_spec for a in contact.to),
        cc=tuple(a.addr_spec for a in contact.cc),
        message_id=str(msg["Message-ID"]),
        **kw,
    )


def _deliver(
    conn: _Connection,
    smtp: SmtpSettings,
    log_: DeliveryLog,
    period: str,
    mail: UnitMail,
    contact: Contact,
    msg: EmailMessage,
    sender: Address,
    retries: int,
    backoff: float,
    say: Callable[[str], None],
) -> UnitDelivery:
    recipients = contact.recipients  # that unit's own addresses, and only those
    if str(msg["X-DQ-Unit"]) != contact.unit_id or mail.unit_id != contact.unit_id:
        raise DQError(f"refusing to send the report of {mail.unit_id} to the contact of {contact.unit_id}")

    def event(status: DeliveryStatus, attempts: int, refused: Sequence[str] = (), error: str = "") -> None:
        log_.record(
            period,
            DeliveryEvent(
                unit_id=mail.unit_id,
                status=status,
                to=[a.addr_spec for a in contact.to],
                cc=[a.addr_spec for a in contact.cc],
                message_id=str(msg["Message-ID"]),
                subject=str(msg["Subject"]),
                report_file=str(mail.report),
                report_sha256=mail.report_sha256,
                attachments=[attachment_name(mail, p) for p in (mail.report, *mail.fixes)],
                score_run_id=mail.run_id,
                smtp_host=f"{smtp.host}:{smtp.port}",
                attempts=attempts,
                refused=refused,
                error=error,
            ),
        )

    try:
        event(DeliveryStatus.SENDING, 0)  # nothing goes out that could not be recorded
    except OutputError as exc:
        raise OutputError(f"{exc}; {mail.unit_id} and the units after it were not sent") from exc
    attempts, last = 0, ""
    while True:
        attempts += 1
        try:
            refused = conn.send(msg, sender.addr_spec, recipients)
        except _ConfigFailure:
            event(DeliveryStatus.FAILED, attempts, error="the server refused the connection setup")
            raise
        except _OutcomeUnknown as exc:  # never retried: it may have arrived
            conn.reset()
            last = f"{exc} after the whole message was sent, before the server's answer"
            _closing(event, mail, msg, DeliveryStatus.UNKNOWN, attempts, error=last)
            say(f"{mail.unit_id}: outcome unknown ({last}); not sent again (see --resend-unknown)")
            return _outcome(mail, contact, msg, SendStatus.UNKNOWN, detail=last, attempts=attempts)
        except (smtplib.SMTPException, OSError) as exc:
            conn.reset()
            last = _describe(exc)
            if _permanent(exc) or attempts > retries:
                _closing(event, mail, msg, DeliveryStatus.FAILED, attempts, error=last)
                say(f"{mail.unit_id}: not sent after {attempts} attempt(s): {last}")
                return _outcome(mail, contact, msg, SendStatus.FAILED, detail=last, attempts=attempts)
            wait = backoff * 2 ** (attempts - 1)
            say(f"{mail.unit_id}: attempt {attempts} failed ({last}); retrying in {wait:g}s")
            time.sleep(wait)
            continue
        bad = tuple(sorted(refused))
        _closing(event, mail, msg, DeliveryStatus.SENT, attempts, refused=bad)
        if bad:
            detail = "refused by the server: " + "; ".join(
                f"{a} ({c} {m.decode(errors='replace')})" for a, (c, m) in sorted(refused.items())
            )
            say(f"{mail.unit_id}: sent, but {detail}")
            return _outcome(
                mail, contact, msg, SendStatus.PARTIAL, detail=detail, attempts=attempts, refused=bad
            )
        say(f"{mail.unit_id}: sent to {', '.join(recipients)}")
        return _outcome(mail, contact, msg, SendStatus.SENT, attempts=attempts)


def _closing(
    event: Callable[..., None],
    mail: UnitMail,
    msg: EmailMessage,
    status: DeliveryStatus,
    attempts: int,
    **kw: Any,
) -> None:
    """Record how an attempt ended; if the record cannot be written, stop the run saying what
    happened to the message (the next run reads its open ``sending`` event as ``unknown``)."""
    try:
        event(status, attempts, **kw)
    except OutputError as exc:
        what = {
            DeliveryStatus.SENT: "was delivered",
            DeliveryStatus.UNKNOWN: "may have been delivered",
            DeliveryStatus.FAILED: "was not delivered",
        }
        raise OutputError(
            f"{exc}; {mail.unit_id}'s message {msg['Message-ID']} {what[status]} but this is not recorded "
            "(the next run lists it as unknown and does not send it again); the units after it were not sent"
        ) from exc


def password_from_env(variable: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The password held in the environment variable ``variable`` (None when no variable is named)."""
    if not variable:
        return None
    env = os.environ if environ is None else environ
    value = env.get(variable)
    if not value:
        raise UsageError(f"--password-env {variable}: the variable is not set or empty")
    return value


def default_sender(user: str | None, dry_run: bool = False) -> str:
    """``--from`` when not given: the login if it is an address (``dq@localhost`` for a dry run),
    else "" (none: :func:`missing_options` names ``--from``)."""
    if user and "@" in user:
        return user
    if dry_run:
        return "dq@localhost"
    return ""


def missing_options(
    *, dry_run: bool, out: str | Path | None, smtp: SmtpSettings | str | None, sender: str | None
) -> list[str]:
    """Every option a send still lacks, each as the option to give (all of them, so that one
    error names them at once): ``--out`` for a dry run, ``--smtp`` otherwise, ``--from``."""
    missing = []
    if dry_run and out is None:
        missing.append("--out DIR (where --dry-run writes the .eml files)")
    if not dry_run and not smtp:
        missing.append("--smtp HOST:PORT (or --dry-run --out DIR)")
    if not sender:
        missing.append("--from ADDR (the address the reports come from)")
    return missing


def demo_outbox(store, period: str, reports_dir: str | Path, out: str | Path, lang: str = "zh") -> Path:
    """``dq demo``'s last step: a contacts file with example.org addresses for every unit scored
    in ``period`` (``out/contacts.csv``) and a dry run that writes each unit's message to
    ``out/outbox/<period>/``. Returns that folder."""
    from dq.delivery.contacts import load_contacts
    from dq.io.outputs import atomic_write_text
    from dq.store.history import Store

    store = store if isinstance(store, Store) else Store(store)
    units = sorted(store.scores(period)["unit_id"].to_list())
    rows = ["unit_id,to,cc,language"] + [
        f"{u},quality@{u.lower()}.example.org,it@{u.lower()}.example.org,{lang}" for u in units
    ]
    path = atomic_write_text(Path(out) / "contacts.csv", "\n".join(rows) + "\n")
    send_period(
        store,
        period,
        load_contacts(path),
        reports_dir=reports_dir,
        sender="dq@center.example.org",
        dry_run=True,
        out=Path(out) / "outbox",
    )
    return Path(out) / "outbox" / safe_filename(period)
