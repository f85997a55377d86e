"""dq send on a real batch against a real SMTP server that drops, defers and rejects.

A small synthetic batch is scored with `dq score --reports` once (module fixture): eight units, two
of which carry a hostile manifest `name` (a CR/LF with a `Bcc:` after it, and the same hidden in an
RFC 2047 encoded word), one unit whose extract cannot be read, and a contacts file in which one
unit's display name is an encoded word hiding a `Reply-To:` line. Each test sends a private copy of
the store and the reports to an aiosmtpd server on a loopback port whose answer at the end of DATA
is chosen per unit:

    drop    keeps the message, then closes the connection before answering (the ambiguous case)
    defer   451 (try again later)
    reject  554 (refused for good)
    accept  250

and checks the recorded statuses, that a rerun sends nothing twice, that `--resend-unknown` sends
the same Message-ID, that the server never sees two Message-IDs for one unit, and that no forged
header reaches the wire. Faults of the store (a full disk, a record that cannot be written after the
server accepted) run `dq send` as a real process where a resource limit is needed.
"""

from __future__ import annotations

import email
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from pathlib import Path

import polars as pl
import pytest
from aiosmtpd.controller import Controller

from dq.cli import main
from dq.delivery.contacts import HeaderTextError, header_text, load_contacts
from dq.delivery.send import SmtpSettings
from dq.errors import UsageError
from dq.store.deliveries import DeliveryLog
from dq.synth import generate

P = "2020-09"
UNITS = ["D01", "D05", "H001", "H002", "H003", "H004", "H014", "H046"]
SENDER = "dq@center.example.org"
EVIL = "attacker.example"
# Manifest names that try to add headers: as written, and hidden in an encoded word.
NAME_CRLF = f"南京市第一医院\r\nBcc: all@{EVIL}"
NAME_ENCODED = f"=?utf-8?q?QC=0D=0ABcc=3A_all@{EVIL}?="
CONTACTS = f"""unit_id,to,cc,language
D01,玄武区信息科 <xinxi@d01.example.org>,,zh
D05,xinxi@d05.example.org,,zh
H001,质控科 <qc@h001.example.org>,it@h001.example.org,zh
H002,qc@h002.example.org,,en
H003,qc@h003.example.org,,zh
H004,qc@h004.example.org,,zh
H014,=?utf-8?q?QC=0D=0AReply-To=3A_x@{EVIL}?= <qc@h014.example.org>,,zh
H046,qc@h046.example.org,,zh
"""
# What the server does at the end of DATA, per unit (accept when not listed).
MODES = {"D01": "drop", "D05": "defer", "H001": "reject"}
HEADERS = {
    "subject", "from", "to", "cc", "date", "message-id", "auto-submitted", "x-dq-unit", "x-dq-period",
    "x-dq-report-sha256", "mime-version", "content-type",
}  # fmt: skip


# -- the batch, scored once ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def scored(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("sendfaults")
    root = generate(base / "batch", P, scale=0.0005, seed=11, units=UNITS, progress=False)
    for unit, name in (("H004", NAME_CRLF), ("H046", NAME_ENCODED)):
        manifest = root / unit / "manifest.yaml"
        text = manifest.read_text(encoding="utf-8")
        lines = [f"name: {json.dumps(name, ensure_ascii=False)}" if x.startswith("name:") else x
                 for x in text.splitlines()]  # fmt: skip
        manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    broken = root / "H999"  # an extract that cannot be read: scored nowhere, listed as no_score
    broken.mkdir()
    (broken / "manifest.yaml").write_text("unit_id: H999\nkind: clinic\n", encoding="utf-8")
    argv = ["score", str(base / "batch"), "--period", P, "--store", str(base / "history")]
    assert main([*argv, "--reports", "--out", str(base / "reports"), "--threads", "1", "-q"]) == 1
    (base / "contacts.csv").write_text(CONTACTS, encoding="utf-8")
    return base


@pytest.fixture
def work(scored, tmp_path) -> Path:
    for name in ("history", "reports"):
        shutil.copytree(scored / name, tmp_path / name)
    shutil.copy(scored / "contacts.csv", tmp_path / "contacts.csv")
    return tmp_path


# -- the server ------------------------------------------------------------------------------------
@dataclass
class Server:
    """What the server did with every message it was sent (``seen``: unit, Message-ID, what) and
    the raw bytes of every message it has (``kept``: accepted, or kept before dropping)."""

    modes: dict[str, str] = field(default_factory=dict)
    seen: list[tuple[str, str, str]] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)
    on_data: Callable[[str], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        unit, mid = str(msg["X-DQ-Unit"]), str(msg["Message-ID"]).strip()
        how = self.modes.get(unit, "accept")
        with self.lock:
            self.seen.append((unit, mid, how))
            self.raw.append(envelope.content)
            if how in ("drop", "accept"):
                self.kept.append((unit, mid))
        if self.on_data is not None:
            self.on_data(unit)
        if how == "drop":  # the message is kept; the answer never leaves
            server.transport.close()
            return "421 4.3.0 closing"
        if how == "defer":
            return "451 4.3.0 try again later"
        if how == "reject":
            return "554 5.7.1 message refused"
        return "250 OK"

    def copies(self, unit: str) -> int:
        return sum(1 for u, _ in self.kept if u == unit)


@pytest.fixture
def smtp_server():
    started = []

    def start(**kw) -> Server:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        srv = Server(**kw, port=port)
        c = Controller(srv, hostname="127.0.0.1", port=port)
        c.start()
        started.append(c)
        return srv

    yield start
    for c in started:
        c.stop()


def send_args(work: Path, srv: Server | None, *extra: str) -> list[str]:
    argv = ["send", "--period", P, "--store", str(work / "history"), "--reports", str(work / "reports")]
    argv += ["--contacts", str(work / "contacts.csv"), "--from", SENDER, "--format", "json"]
    if srv is not None:
        argv += ["--smtp", f"127.0.0.1:{srv.port}", "--retries", "2", "--backoff", "0.01", "--timeout", "10"]
    return [*argv, *extra]


def send(work: Path, srv: Server, capsys, *extra: str) -> tuple[int, dict, str]:
    code = main(send_args(work, srv, *extra))
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return code, json.loads(out.out), out.err


def statuses(doc: dict) -> dict[str, str]:
    return {u["unit_id"]: u["status"] for u in doc["units"]}


def events(work: Path, unit: str) -> pl.DataFrame:
    return DeliveryLog(work / "history").events(P).filter(pl.col("unit_id") == unit)


def assert_nothing_forged(srv: Server) -> None:
    """Every message on the wire carries the headers dq builds and nothing else."""
    for data in srv.raw:
        head = data.split(b"\r\n\r\n", 1)[0]
        msg = email.message_from_bytes(data, policy=policy.default)
        assert {k.lower() for k in msg} <= HEADERS, msg.keys()
        assert EVIL.encode() not in head and b"Bcc:" not in head and b"Reply-To:" not in head
        assert all(b"\r" not in line and b"\n" not in line for line in head.split(b"\r\n"))


def assert_one_message_id_per_unit(srv: Server) -> None:
    ids: dict[str, set[str]] = {}
    for unit, mid, _ in srv.seen:
        ids.setdefault(unit, set()).add(mid)
    assert all(len(v) == 1 for v in ids.values()), ids


# -- drop, defer, reject, accept; rerun; --resend-unknown ---------------------------------------------
def test_drop_defer_reject_accept_then_rerun_and_resend_unknown(work, smtp_server, capsys):
    srv = smtp_server(modes=dict(MODES))
    code, doc, err = send(work, srv, capsys)
    assert code == 1
    assert statuses(doc) == {
        "D01": "unknown",  # the server kept it and dropped the line before answering
        "D05": "failed",  # deferred on every attempt
        "H001": "failed",  # refused for good
        "H002": "sent",
        "H003": "sent",
        "H004": "error",  # manifest name with CR/LF: the unit's error, the batch went on
        "H014": "bad_contact",  # display name hiding Reply-To: in an encoded word
        "H046": "error",  # manifest name hiding Bcc: in an encoded word
        "H999": "no_score",
    }
    units = {u["unit_id"]: u for u in doc["units"]}
    assert doc["unknown"] == ["D01"]
    assert units["D01"]["attempts"] == 1  # never retried: it may have arrived
    assert units["D05"]["attempts"] == 3 and units["H001"]["attempts"] == 1  # 4xx retried, 5xx not
    assert "line feed" in units["H004"]["detail"] or "carriage return" in units["H004"]["detail"]
    assert "encoded word" in units["H046"]["detail"] and "encoded word" in units["H014"]["detail"]
    for detail in (units["H004"]["detail"], units["H046"]["detail"], units["H014"]["detail"], err):
        assert EVIL not in detail  # the problem is named, the text is not repeated
    assert "unknown D01" in err or "D01" in err
    # The record: unknown is not failed; the deferred attempts all carried one Message-ID.
    d01 = events(work, "D01")
    assert d01["status"].to_list() == ["sending", "unknown"]
    assert "before the server's answer" in d01["error"][1]
    assert events(work, "D05")["status"].to_list() == ["sending", "failed"]
    assert [h for u, _, h in srv.seen if u == "D05"] == ["defer"] * 3
    assert srv.copies("D01") == 1 and srv.copies("D05") == 0 and srv.copies("H001") == 0
    first_ids = {u: m for u, m, _ in srv.seen}

    # The server now accepts everything. A rerun sends the failed units again as the same
    # messages, leaves the unknown one alone, and sends nothing twice.
    srv.modes.clear()
    code, doc, err = send(work, srv, capsys)
    assert code == 1  # D01 still unknown, the hostile names and contact still refused
    assert statuses(doc) == {
        "D01": "unknown", "D05": "sent", "H001": "sent", "H002": "skipped", "H003": "skipped",
        "H004": "error", "H014": "bad_contact", "H046": "error", "H999": "no_score",
    }  # fmt: skip
    assert srv.copies("D01") == 1 and srv.copies("H002") == 1 and srv.copies("H003") == 1
    assert {u["unit_id"]: u["message_id"] for u in doc["units"]}["D01"] == first_ids["D01"]
    assert "--resend-unknown" in err

    # Asked to, it sends D01 again with the same Message-ID: the receiving side can recognise it.
    code, doc, _ = send(work, srv, capsys, "--resend-unknown")
    assert statuses(doc)["D01"] == "sent" and doc["unknown"] == []
    assert srv.copies("D01") == 2 and {m for u, m in srv.kept if u == "D01"} == {first_ids["D01"]}
    assert events(work, "D01")["status"].to_list() == ["sending", "unknown", "sending", "sent"]
    # A last run has nothing left to send.
    before = len(srv.seen)
    code, doc, _ = send(work, srv, capsys, "--resend-unknown")
    assert len(srv.seen) == before
    assert {u for u, s in statuses(doc).items() if s == "skipped"} == {"D01", "D05", "H001", "H002", "H003"}

    assert_one_message_id_per_unit(srv)
    assert_nothing_forged(srv)
    for unit in ("H004", "H014", "H046"):
        assert unit not in {u for u, _, _ in srv.seen}

    # dq history --deliveries lists the unknown attempt.
    assert main(["history", "--store", str(work / "history"), "--deliveries", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [(r["unit_id"], r["status"]) for r in rows if r["unit_id"] == "D01"][:2] == [
        ("D01", "sending"),
        ("D01", "unknown"),
    ]


def test_unknown_with_a_changed_report_is_not_resent_as_the_same_message(work, smtp_server, capsys):
    srv = smtp_server(modes={"D01": "drop"})
    code, doc, _ = send(work, srv, capsys, "--only", "D01")
    assert statuses(doc) == {"D01": "unknown"}
    (first,) = {m for u, m, _ in srv.seen}
    report = work / "reports" / P / "D01.html"
    report.write_text(report.read_text(encoding="utf-8") + "<!-- rendered again -->\n", encoding="utf-8")
    srv.modes.clear()
    code, doc, _ = send(work, srv, capsys, "--only", "D01", "--resend-unknown")
    (d01,) = doc["units"]
    assert code == 1 and d01["status"] == "unknown" and "--force" in d01["detail"]
    assert len(srv.seen) == 1  # nothing sent
    # --force sends the new report as a new message: a new Message-ID, said by the option.
    code, doc, _ = send(work, srv, capsys, "--only", "D01", "--force")
    assert code == 0 and statuses(doc) == {"D01": "sent"}
    assert [m for _, m, _ in srv.seen] == [first, srv.seen[1][1]] and srv.seen[1][1] != first


# -- options and the store -----------------------------------------------------------------------------
def test_timeout_zero_or_negative_is_a_usage_error(work, capsys):
    for bad in ("0", "-1", "nan", "inf"):
        argv = send_args(work, None, "--smtp", "127.0.0.1:25", "--timeout", bad)
        assert main(argv) == 2
        out = capsys.readouterr()
        assert "--timeout" in json.loads(out.out)["error"]["message"] and "Traceback" not in out.err
    with pytest.raises(UsageError, match="--timeout"):
        SmtpSettings.parse("127.0.0.1:25", timeout=0)


def _dq(argv: list[str], limit: int | None = None) -> subprocess.CompletedProcess:
    """``dq`` in a real process; ``limit``: a file-size limit that makes writes fail as on a
    full disk (EFBIG)."""
    import resource

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = dict(os.environ, NO_COLOR="1")
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1]) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "dq", *argv], capture_output=True, text=True, env=env,
                          timeout=300, preexec_fn=limited if limit else None)  # fmt: skip


def test_a_full_disk_stops_the_run_with_exit_2_and_keeps_what_was_sent(work, smtp_server, capsys):
    srv = smtp_server()
    code, doc, _ = send(work, srv, capsys, "--only", "H002")
    assert code == 0 and statuses(doc) == {"H002": "sent"}
    # Every delivery record is larger than 1 KB: the first one of this run cannot be written.
    p = _dq(send_args(work, srv), limit=1024)
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr and "cannot write the delivery record" in p.stderr
    assert "File too large" in p.stderr and "were not sent" in p.stderr
    assert json.loads(p.stdout)["error"]["exit_code"] == 2
    assert [u for u, _, _ in srv.seen] == ["H002"]  # nothing went out that could not be recorded
    assert not list((work / "history" / "deliveries").rglob("*.tmp"))
    assert events(work, "H002")["status"].to_list() == ["sending", "sent"]  # kept
    # With room again the run sends the others, and H002 not twice.
    code, doc, _ = send(work, srv, capsys)
    assert statuses(doc)["H002"] == "skipped" and srv.copies("H002") == 1
    assert {u for u, s in statuses(doc).items() if s == "sent"} == {"D01", "D05", "H001", "H003"}

    # A dry run whose outbox cannot be written: exit 2 naming the file, no partial .eml.
    out = work / "outbox"
    p = _dq([*send_args(work, None), "--dry-run", "--force", "--out", str(out)], limit=1024)
    assert p.returncode == 2 and "Traceback" not in p.stderr and "cannot write" in p.stderr, p.stderr
    assert not [f for f in out.rglob("*") if f.is_file()]


def test_a_record_that_cannot_be_written_after_the_server_accepted(work, smtp_server, capsys):
    """The server accepts D05, and at that moment the record's folder becomes unwritable (replaced
    by a file). dq stops with exit 2 saying the message was delivered but not recorded; the next
    run reads the open attempt as unknown and does not send it again."""
    folder = work / "history" / "deliveries" / f"period={P}"
    aside = work / "aside"

    def break_the_record(unit: str) -> None:
        if unit == "D05":
            folder.rename(aside)
            folder.write_text("not a folder\n")

    srv = smtp_server(on_data=break_the_record)
    code = main(send_args(work, srv, "--only", "D01", "D05", "H002"))
    out = capsys.readouterr()
    assert code == 2 and "Traceback" not in out.err
    err = json.loads(out.out)["error"]["message"]
    assert "D05" in err and "was delivered but this is not recorded" in err
    assert [u for u, _, _ in srv.seen] == ["D01", "D05"]  # H002 was not sent: it could not be recorded
    folder.unlink()
    aside.rename(folder)
    code, doc, _ = send(work, srv, capsys, "--only", "D01", "D05", "H002")
    assert statuses(doc) == {"D01": "skipped", "D05": "unknown", "H002": "sent"}
    assert srv.copies("D05") == 1
    assert_one_message_id_per_unit(srv)


# -- headers ---------------------------------------------------------------------------------------------
def test_header_text_decodes_then_refuses_control_characters():
    assert header_text("=?utf-8?q?=E8=B4=A8=E6=8E=A7=E7=A7=91?=", "x") == "质控科"
    assert header_text("南京鼓楼医院", "x") == "南京鼓楼医院"
    for bad in (
        "a\r\nBcc: x@e.example",
        "a\nb",
        "a\tb",
        "a\x00b",
        "a\u2028b",
        "a\x85b",
        "=?utf-8?q?QC=0D=0AReply-To=3A_x@e.example?=",
        "=?utf-8?b?UUMNCkJjYzogeEBlLmV4YW1wbGU=?=",  # base64 of "QC\r\nBcc: x@e.example"
        "=?utf-8?q?=3D=3Futf-8=3Fq=3FX=3D0A=3F=3D?=",  # an encoded word inside an encoded word
    ):
        with pytest.raises(HeaderTextError) as exc:
            header_text(bad, "the unit name")
        assert "the unit name" in str(exc.value) and "e.example" not in str(exc.value)


def test_contacts_row_with_a_hidden_header_is_that_units_problem_only(scored):
    contacts = load_contacts(scored / "contacts.csv")
    assert "H014" not in contacts.by_unit and "H014" in contacts.rejected
    assert (
        "line 8 (H014) to: address 1 holds a carriage return (CR) once its RFC 2047 encoded"
        in (contacts.rejected["H014"])
    )
    assert EVIL not in contacts.rejected["H014"]
    assert sorted(contacts.by_unit) == sorted(u for u in UNITS if u != "H014")
    assert contacts.get("D01").to[0].display_name == "玄武区信息科"
