"""dq send against a real SMTP server (aiosmtpd on a free loopback port).

One tiny synthetic month (two districts, three hospitals) is generated, scored and rendered once;
every test works on its own copy of the store and the reports, so the delivery records of one
test never leak into another. The server keeps every message it accepted with its envelope.
"""

from __future__ import annotations

import datetime as dt
import email
import json
import os
import re
import shutil
import socket
import ssl
import threading
from dataclasses import dataclass, field
from email import policy
from pathlib import Path

import polars as pl
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from dq.batch.fixlist import write_fix_files
from dq.batch.local import score_batch
from dq.cli import main
from dq.delivery.contacts import load_contacts
from dq.delivery.send import SmtpSettings, demo_outbox, largest_losses, send_period
from dq.errors import UsageError
from dq.io.catalogue import load_catalogue
from dq.report.files import render_period
from dq.report.model import table_label
from dq.scoring.explain import unit_losses
from dq.store.deliveries import DeliveryLog
from dq.store.history import Store
from dq.synth import generate

P = "2020-09"
UNITS = ["D01", "D02", "H001", "H002", "H003"]
SENDER = "dq@center.example.org"
CONTACTS = """unit_id,to,cc,language
D01,玄武区信息科 <xinxi@d01.example.org>,,zh
D02,xinxi@d02.example.org,,zh
H001,南京鼓楼医院质控科 <zhikong@h001.example.org>,xinxike@h001.example.org,zh
H002,zhikong@h002.example.org; it@h002.example.org,,zh
H003,Quality Office <quality@h003.example.org>,it@h003.example.org,en
"""
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ID18 = re.compile(r"(?<![0-9])[1-9][0-9]{5}(?:19|20)[0-9]{9}[0-9Xx](?![0-9])")


# -- the month, built once -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def month(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("month")
    generate(base / "batch", P, scale=0.001, units=UNITS, progress=False)
    store = Store(base / "history")
    outcome = score_batch(base / "batch", P, store, log=None, progress=False)
    assert not outcome.errors
    render_period(store, P, base / "reports", echo=None)
    (base / "contacts.csv").write_text(CONTACTS, encoding="utf-8")
    return base


@pytest.fixture
def work(month, tmp_path) -> Path:
    """A private copy of the month: store, reports, contacts."""
    for name in ("history", "reports"):
        shutil.copytree(month / name, tmp_path / name)
    shutil.copy(month / "contacts.csv", tmp_path / "contacts.csv")
    return tmp_path


# -- the server ------------------------------------------------------------------------------------
@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def msg(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.data, policy=policy.default)


@dataclass
class Handler:
    """Stores what it accepts. ``refuse``: addresses answered 550 at RCPT. ``drop``: unit ids whose
    message makes the server close the connection at the end of DATA, before answering
    (``drops`` times each, or forever when None); the message is then not kept, unless ``keep``
    (then the server has it but the sender cannot know). ``drop_rcpt``: addresses at whose RCPT
    the server closes the connection (before any message data)."""

    refuse: set[str] = field(default_factory=set)
    drop: set[str] = field(default_factory=set)
    drops: int | None = 1
    keep: bool = False
    drop_rcpt: set[str] = field(default_factory=set)
    messages: list[Received] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _dropping(self, key: str, wanted: set[str]) -> bool:
        if key in wanted and (self.drops is None or self.dropped.count(key) < self.drops):
            self.dropped.append(key)
            return True
        return False

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.lock:
            if self._dropping(address.lower(), self.drop_rcpt):
                server.transport.close()
                return "421 4.3.0 closing"
        if address.lower() in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        unit = email.message_from_bytes(envelope.content, policy=policy.default)["X-DQ-Unit"]
        with self.lock:
            received = Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
            if self._dropping(unit, self.drop):
                if self.keep:
                    self.messages.append(received)
                server.transport.close()
                return "421 4.3.0 closing"
            self.messages.append(received)
        return "250 OK"

    def by_unit(self) -> dict[str, list[Received]]:
        out: dict[str, list[Received]] = {}
        for m in self.messages:
            out.setdefault(m.msg["X-DQ-Unit"], []).append(m)
        return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server():
    """Start a server: ``server(handler, **smtp_kwargs)`` → (controller, port)."""
    started = []

    def start(handler: Handler, **kw):
        c = Controller(handler, hostname="127.0.0.1", port=_free_port(), **kw)
        c.start()
        started.append(c)
        return c, c.port

    yield start
    for c in started:
        c.stop()


def _send(work: Path, port: int | None, **kw):
    contacts = load_contacts(work / "contacts.csv")
    smtp = SmtpSettings.parse(f"127.0.0.1:{port}", **kw.pop("smtp", {})) if port else None
    kw.setdefault("retries", 2)
    kw.setdefault("backoff", 0.01)
    return send_period(
        Store(work / "history"), P, contacts, reports_dir=work / "reports", sender=SENDER, smtp=smtp, **kw
    )


def _cli(work: Path, *extra: str) -> list[str]:
    """``dq send`` arguments for the work copy, then ``extra``."""
    base = ["send", "--period", P, "--store", str(work / "history"), "--reports", str(work / "reports")]
    return [*base, "--contacts", str(work / "contacts.csv"), *extra]


def _attachments(msg) -> dict[str, bytes]:
    return {p.get_filename(): p.get_payload(decode=True) for p in msg.iter_attachments()}


# -- structure and encoding ------------------------------------------------------------------------
def test_one_message_per_unit_with_its_report(work, server):
    handler = Handler()
    _, port = server(handler)
    outcome = _send(work, port)
    assert outcome.ok, [u.to_dict() for u in outcome.units]
    assert [u.status for u in outcome.units] == ["sent"] * len(UNITS)
    got = handler.by_unit()
    assert sorted(got) == UNITS and all(len(v) == 1 for v in got.values())
    scores = {r["unit_id"]: r for r in Store(work / "history").scores(P).iter_rows(named=True)}

    h001 = got["H001"][0]
    msg = h001.msg
    assert h001.mail_from == SENDER
    assert sorted(h001.rcpt_tos) == ["xinxike@h001.example.org", "zhikong@h001.example.org"]
    # MIME: mixed → (alternative: plain + html) + the report.
    assert msg.get_content_type() == "multipart/mixed"
    body, *attached = msg.iter_parts()
    assert body.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in body.iter_parts()] == ["text/plain", "text/html"]
    # the report first, then the rows-to-fix files dq report writes beside it (dq.batch.fixlist)
    fixes = [f.name for f in sorted((work / "reports" / P).glob("H001_fix.*"))]
    assert [(p.get_content_type(), p.get_filename()) for p in attached][:1] == [
        ("text/html", f"dq_{P}_H001.html")
    ]
    assert sorted(p.get_filename() for p in attached[1:]) == sorted(f"dq_{P}_{f}" for f in fixes)
    report = work / "reports" / P / "H001.html"
    # the report as e-mailed: its links point at the attachments' names (dq.report.mailed)
    from dq.report.mailed import mailed_report

    assert attached[0].get_payload(decode=True) == mailed_report(report.read_bytes(), P, fixes)
    # Headers: Chinese encoded as RFC 2047 on the wire, decoded back exactly.
    raw_headers = h001.data.split(b"\r\n\r\n", 1)[0].decode("ascii")  # every header byte is ASCII
    assert "=?utf-8?" in raw_headers
    score = scores["H001"]["score"]
    assert msg["Subject"] == (
        f"【数据质量】南京鼓楼医院（H001）2020年9月评分 {score:.2f} 分 {scores['H001']['grade']}"
        f"（{ {'A': '优', 'B': '良', 'C': '中', 'D': '差'}[scores['H001']['grade']] }）"
    )
    assert msg["To"].addresses[0].display_name == "南京鼓楼医院质控科"
    assert str(msg["Cc"]) == "xinxike@h001.example.org"
    assert msg["From"] == SENDER
    assert re.fullmatch(r"<dq\.2020-09\.H001\.[0-9a-f]{16}@center\.example\.org>", msg["Message-ID"].strip())
    assert msg["X-DQ-Period"] == P and msg["Auto-Submitted"] == "auto-generated"
    import hashlib

    assert msg["X-DQ-Report-SHA256"].strip() == hashlib.sha256(report.read_bytes()).hexdigest()
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert f"{score:.2f} 分" in text and "排名第" in text
    assert text.count("：综合得分失 ") == 3  # the three largest losses
    assert f"{score:.2f}" in html and "<ol>" in html

    # The English contact gets English.
    h003 = got["H003"][0].msg
    assert h003["Subject"].startswith("[Data quality] 南京市妇幼保健院 (H003) September 2020: score ")
    assert "points" in h003.get_body(("plain",)).get_content()


def test_losses_in_the_message_are_those_of_dq_explain(work, server):
    """The body's three losses are the unit's three largest in overall-score points."""
    handler = Handler()
    _, port = server(handler)
    assert _send(work, port).ok
    store = Store(work / "history")
    for unit, (m,) in handler.by_unit().items():
        expected = unit_losses(store, P, unit).losses[:3]
        assert [x.rule for x in largest_losses(store, P, unit)] == [x.rule for x in expected]
        text = m.msg.get_body(("plain",)).get_content()
        listed = [line for line in text.splitlines() if re.match(r"[123]\. ", line)]
        assert len(listed) == len(expected)
        for line, loss in zip(listed, expected, strict=True):
            assert loss.rule in line and f"{loss.points:.2f}" in line
            # the table as the report names it (上报情况, 门急诊就诊记录), never its internal name
            labels = {table_label(loss.table, load_catalogue(), lang) for lang in ("zh", "en")}
            assert any(x in line for x in labels) and loss.table not in text
        assert "数据质量评分" not in text  # the report's term for the score: 综合得分 / overall score
        assert "综合得分" in text or "Overall score" in text


def test_rows_to_fix_files_are_attached_to_their_unit_only(work, server):
    """The files dq.batch.fixlist writes next to the report go with it; a file older than the unit's
    latest score is left out (and said)."""
    store, folder = Store(work / "history"), work / "reports" / P
    written = {u: write_fix_files(store, P, u, folder) for u in UNITS}
    with_fixes = sorted(u for u, paths in written.items() if paths)
    assert len(with_fixes) >= 2, "the synthetic month should have rows to fix"
    stale_unit = with_fixes[-1]
    old = dt.datetime(2020, 1, 1).timestamp()
    for f in written[stale_unit]:
        os.utime(f, (old, old))
    handler = Handler()
    _, port = server(handler)
    outcome = _send(work, port)
    assert outcome.ok
    assert [w for w in outcome.warnings if "not attached" in w] == [
        f"{stale_unit}: {f} is older than the unit's latest score; not attached" for f in written[stale_unit]
    ]
    got = handler.by_unit()
    for unit in UNITS:
        msg = got[unit][0].msg
        att = _attachments(msg)
        fixes = [] if unit == stale_unit else written[unit]
        assert sorted(att) == sorted([f"dq_{P}_{unit}.html"] + [f"dq_{P}_{f.name}" for f in fixes])
        for f in fixes:
            assert att[f"dq_{P}_{f.name}"] == f.read_bytes()
        types = {p.get_filename(): p.get_content_type() for p in msg.iter_attachments()}
        for f in fixes:
            want = "text/csv" if f.suffix == ".csv" else _XLSX
            assert types[f"dq_{P}_{f.name}"] == want
        if fixes:
            assert "_fix.csv" in msg.get_body(("plain",)).get_content()


def test_no_report_ever_reaches_another_units_contact(work, server):
    """Every recipient of every message belongs to the unit whose report is attached, judged by
    the attachment's bytes against the report files on disk."""
    handler = Handler()
    _, port = server(handler)
    assert _send(work, port).ok
    contacts = load_contacts(work / "contacts.csv")
    owner_of_address = {a: c.unit_id for c in contacts.by_unit.values() for a in c.recipients}
    from dq.delivery.send import rows_to_fix_files
    from dq.report.mailed import mailed_report

    reports = {
        mailed_report(p.read_bytes(), P, [f.name for f in rows_to_fix_files(p, p.stem)]): p.stem
        for p in (work / "reports" / P).glob("*.html")
        if p.stem != "index"
    }
    assert len(handler.messages) == len(UNITS)
    for m in handler.messages:
        (report_bytes,) = [b for name, b in _attachments(m.msg).items() if name.endswith(".html")]
        unit = reports[report_bytes]
        header_rcpts = {a.addr_spec for h in ("To", "Cc") for a in (m.msg[h].addresses if m.msg[h] else ())}
        assert {owner_of_address[a.lower()] for a in m.rcpt_tos} == {unit}
        assert {owner_of_address[a.lower()] for a in header_rcpts} == {unit}
        assert set(m.rcpt_tos) == set(contacts.get(unit).recipients)
        assert unit in m.msg["Subject"] and m.msg["X-DQ-Unit"] == unit


def test_messages_hold_no_unmasked_id_number(work, server, month):
    """Bodies, report and rows-to-fix CSV: no 18-digit ID number in clear, though the extracts
    are full of them."""
    (extract,) = (month / "batch" / P / "H001").glob("patient_index.*")
    raw = extract.read_bytes().decode("utf-8", "replace") if extract.suffix == ".csv" else ""
    raw = raw or pl.read_parquet(extract).write_csv()
    assert len(ID18.findall(raw)) > 10
    store = Store(work / "history")
    assert any([write_fix_files(store, P, u, work / "reports" / P) for u in UNITS])
    handler = Handler()
    _, port = server(handler)
    assert _send(work, port).ok
    for m in handler.messages:
        for part in m.msg.walk():
            if part.get_content_maintype() == "text":
                assert not ID18.search(part.get_content())


# -- exactly once ------------------------------------------------------------------------------------
def test_exactly_once_across_two_runs_and_force(work, server):
    handler = Handler()
    _, port = server(handler)
    first = _send(work, port)
    assert first.ok and first.count("sent") == len(UNITS)
    second = _send(work, port)
    assert second.ok and second.count("skipped") == len(UNITS)
    assert len(handler.messages) == len(UNITS)  # nothing sent twice

    log = DeliveryLog(work / "history")
    sent = log.sent(P)
    assert sorted(sent["unit_id"].to_list()) == UNITS
    row = sent.filter(pl.col("unit_id") == "H002").row(0, named=True)
    assert row["to"] == "zhikong@h002.example.org, it@h002.example.org"
    got = handler.by_unit()["H002"][0].msg
    assert row["message_id"] == got["Message-ID"].strip()
    assert row["report_sha256"] == got["X-DQ-Report-SHA256"].strip()
    assert row["period"] == P and isinstance(row["time"], dt.datetime)
    files = list((work / "history" / "deliveries" / f"period={P}").glob("*.parquet"))
    assert len(files) == 2 * len(UNITS)  # a "sending" and a "sent" event per unit
    assert not list((work / "history" / "deliveries").rglob("*.tmp"))
    # Readable with plain Polars, next to the scores.
    plain = pl.read_parquet(work / "history" / "deliveries" / "*" / "*.parquet", hive_partitioning=True)
    assert plain.filter(pl.col("status") == "sent").height == len(UNITS)

    third = _send(work, port, force=True, only=["H001"])
    assert [(u.unit_id, u.status) for u in third.units] == [("H001", "sent")]
    h001 = handler.by_unit()["H001"]
    assert len(h001) == 2 and h001[0].msg["Message-ID"].strip() != h001[1].msg["Message-ID"].strip()
    assert DeliveryLog(work / "history").sent(P).height == len(UNITS) + 1


def test_dq_history_lists_the_deliveries(work, server, capsys):
    """`dq history --deliveries` shows what dq send recorded: every event, filtered by unit."""
    handler = Handler()
    _, port = server(handler)
    assert _send(work, port, only=["H002"]).ok
    store = str(work / "history")
    assert main(["history", "--store", store, "--deliveries", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [(r["unit_id"], r["status"]) for r in rows] == [("H002", "sending"), ("H002", "sent")]
    got = handler.by_unit()["H002"][0].msg
    assert rows[1]["message_id"] == got["Message-ID"].strip() and rows[1]["period"] == P
    assert main(["history", "--store", store, "--deliveries", "--unit", "H001"]) == 0
    assert "no deliveries for unit H001" in capsys.readouterr().err
    assert main(["history", "--store", store, "--deliveries"]) == 0
    table = capsys.readouterr().out
    assert "H002" in table and "sent" in table and "zhikong@h002.example.org" in table


def test_unfinished_send_is_unknown_and_resent_only_when_asked(work, server):
    """A run that stopped after recording 'sending' (before the server's answer was recorded) may
    have delivered the message: the next run lists the unit as unknown and sends nothing; with
    resend_unknown it sends the message again with the Message-ID it had fixed."""
    from dq.store.deliveries import DeliveryEvent

    log = DeliveryLog(work / "history")
    log.record(
        P, DeliveryEvent("D02", "sending", ["xinxi@d02.example.org"], [], "<fixed@x.example.org>", "", "", "")
    )
    assert log.unfinished(P) == {"D02": "<fixed@x.example.org>"}
    handler = Handler()
    _, port = server(handler)
    again = _send(work, port, only=["D02"])
    assert [(u.unit_id, u.status, u.message_id) for u in again.units] == [
        ("D02", "unknown", "<fixed@x.example.org>")
    ]
    assert not again.ok and handler.messages == []
    assert _send(work, port, only=["D02"], resend_unknown=True).ok
    assert handler.by_unit()["D02"][0].msg["Message-ID"].strip() == "<fixed@x.example.org>"
    assert log.unfinished(P) == {}


# -- faults ------------------------------------------------------------------------------------------
def test_server_refuses_one_recipient(work, server):
    handler = Handler(refuse={"it@h002.example.org"})
    _, port = server(handler)
    outcome = _send(work, port)
    assert not outcome.ok  # someone did not get it: the center must fix the address
    status = {u.unit_id: u for u in outcome.units}
    assert status["H002"].status == "partial" and status["H002"].refused == ("it@h002.example.org",)
    assert "550" in status["H002"].detail
    assert all(status[u].status == "sent" for u in UNITS if u != "H002")
    assert handler.by_unit()["H002"][0].rcpt_tos == ["zhikong@h002.example.org"]
    row = DeliveryLog(work / "history").sent(P).filter(pl.col("unit_id") == "H002").row(0, named=True)
    assert row["refused"] == "it@h002.example.org"
    # Recorded as delivered: the next run does not send the others a second copy.
    assert _send(work, port).count("skipped") == len(UNITS)
    assert len(handler.messages) == len(UNITS)


def test_every_recipient_refused_fails_without_retry(work, server):
    handler = Handler(refuse={"xinxi@d02.example.org"})
    _, port = server(handler)
    outcome = _send(work, port, retries=3)
    d02 = next(u for u in outcome.units if u.unit_id == "D02")
    assert d02.status == "failed" and d02.attempts == 1  # 5xx: a retry would not help
    assert "D02" not in handler.by_unit() and len(handler.messages) == len(UNITS) - 1
    assert not outcome.ok


def test_connection_dropped_mid_batch_is_retried(work, server):
    """Dropped before the message data went out: certainly not delivered, so retried (with the
    same message)."""
    handler = Handler(drop_rcpt={"zhikong@h001.example.org"}, drops=1)
    _, port = server(handler)
    outcome = _send(work, port)
    assert outcome.ok
    h001 = next(u for u in outcome.units if u.unit_id == "H001")
    assert h001.status == "sent" and h001.attempts == 2
    assert handler.dropped == ["zhikong@h001.example.org"]
    got = handler.by_unit()
    assert sorted(got) == UNITS and all(len(v) == 1 for v in got.values())
    # The units after the drop went through the new connection.
    assert [m.msg["X-DQ-Unit"] for m in handler.messages] == UNITS


def test_unit_that_keeps_failing_is_listed_and_the_batch_goes_on(work, server, month):
    handler = Handler(drop_rcpt={"zhikong@h002.example.org"}, drops=None)
    _, port = server(handler)
    smtp = ("--smtp", f"127.0.0.1:{port}", "--from", SENDER)
    code = main(_cli(work, *smtp, "--retries", "2", "--backoff", "0.01", "--format", "json"))
    assert code == 1
    assert handler.dropped == ["zhikong@h002.example.org"] * 3  # the first try and two retries
    assert sorted(handler.by_unit()) == [u for u in UNITS if u != "H002"]
    ev = DeliveryLog(work / "history").events(P).filter(pl.col("unit_id") == "H002")
    assert ev["status"].to_list() == ["sending", "failed"]
    assert "connection" in ev["error"][1].lower()
    # The server recovers: the next run sends H002 only, as the same message (its Message-ID).
    handler.drop_rcpt.clear()
    again = _send(work, port)
    assert again.ok and [u.unit_id for u in again.units if u.status == "sent"] == ["H002"]
    (h002,) = handler.by_unit()["H002"]
    assert h002.msg["Message-ID"].strip() == ev["message_id"][0]


def test_server_down_fails_every_unit_but_finishes(work):
    port = _free_port()  # nothing listens there
    outcome = _send(work, port, retries=1)
    assert [u.status for u in outcome.units] == ["failed"] * len(UNITS)
    assert all(u.attempts == 2 for u in outcome.units)
    assert DeliveryLog(work / "history").sent_units(P) == set()


# -- what is not sent --------------------------------------------------------------------------------
def test_missing_stale_and_contactless_units_are_listed(work, server):
    folder = work / "reports" / P
    (folder / "D02.html").unlink()
    old = dt.datetime(2020, 1, 1).timestamp()
    os.utime(folder / "H002.html", (old, old))
    lines = (work / "contacts.csv").read_text(encoding="utf-8").splitlines()
    (work / "contacts.csv").write_text("\n".join(x for x in lines if not x.startswith("H003")) + "\n")
    handler = Handler()
    _, port = server(handler)
    outcome = _send(work, port)
    status = {u.unit_id: u.status for u in outcome.units}
    assert status == {
        "D01": "sent",
        "D02": "no_report",
        "H001": "sent",
        "H002": "stale_report",
        "H003": "no_contact",
    }
    assert not outcome.ok
    assert sorted(handler.by_unit()) == ["D01", "H001"]


def test_unit_whose_extract_failed_is_listed_as_not_scored(work, server):
    """D01's latest run could not read its extract: the report exists but holds no score."""
    store = Store(work / "history")
    run = store.begin_run(P, "x", "batch")
    unit = {"unit_id": "D01", "unit_name": "玄武区", "kind": "district"}
    store.write_unit(run, unit, [], None, None, error="manifest.yaml: not YAML")
    store.finish_run(run, 1, 1)
    handler = Handler()
    _, port = server(handler)
    outcome = _send(work, port)
    status = {u.unit_id: u.status for u in outcome.units}
    assert status["D01"] == "no_score" and not outcome.ok
    assert sorted(handler.by_unit()) == [u for u in UNITS if u != "D01"]


def test_report_of_an_earlier_run_is_stale(work, server, month):
    """A unit re-scored after its report was rendered: the report names the old run."""
    store = Store(work / "history")
    # Re-score the month into the copy (force): new run ids, reports left as they were...
    score_batch(month / "batch", P, store, force=True, log=None, progress=False)
    # ...then make the reports look newer than the run: the run id inside still tells.
    for f in (work / "reports" / P).glob("*.html"):
        os.utime(f)
    handler = Handler()
    _, port = server(handler)
    outcome = _send(work, port)
    assert {u.status for u in outcome.units} == {"stale_report"}
    assert handler.messages == []
    render_period(store, P, work / "reports", echo=None)
    assert _send(work, port).ok and len(handler.messages) == len(UNITS)


def test_dry_run_writes_eml_and_sends_nothing(work, server, tmp_path):
    handler = Handler()
    _, port = server(handler)
    smtp = ("--smtp", f"127.0.0.1:{port}", "--from", SENDER)
    code = main(_cli(work, *smtp, "--dry-run", "--out", str(tmp_path / "eml"), "--only", "H001", "H003"))
    assert code == 0
    assert handler.messages == []
    files = sorted(p.name for p in (tmp_path / "eml" / P).iterdir())
    assert files == ["H001.eml", "H003.eml"]
    msg = email.message_from_bytes((tmp_path / "eml" / P / "H001.eml").read_bytes(), policy=policy.default)
    assert msg["X-DQ-Unit"] == "H001" and "南京鼓楼医院" in msg["Subject"]
    assert not (work / "history" / "deliveries").exists() or not list(
        (work / "history" / "deliveries").rglob("*.parquet")
    )


# -- TLS, login, and the command line ----------------------------------------------------------------
def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    pytest.importorskip("cryptography")
    from tlscert import self_signed

    return self_signed(tmp_path)


def test_starttls_and_login_with_password_from_the_environment(work, server, tmp_path, monkeypatch):
    cert, key = _self_signed(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    logins = []

    def authenticator(server_, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password, session.ssl is not None))
        return AuthResult(success=auth_data.password == b"s3cret", handled=False)  # the server answers 535

    handler = Handler()
    _, port = server(
        handler,
        tls_context=ctx,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    )
    monkeypatch.setenv("DQ_TEST_SMTP_PW", "s3cret")
    args = _cli(work, "--smtp", f"127.0.0.1:{port}", "--starttls", "--cafile", str(cert), "--timeout", "5")
    args += ["--user", SENDER, "--password-env", "DQ_TEST_SMTP_PW", "--only", "D01"]
    assert main(args) == 0
    assert logins == [(SENDER.encode(), b"s3cret", True)]
    assert sorted(handler.by_unit()) == ["D01"]
    assert handler.by_unit()["D01"][0].mail_from == SENDER  # no --from: the login, an address

    # A wrong password stops the batch with a usage error before anything is sent.
    monkeypatch.setenv("DQ_TEST_SMTP_PW", "wrong")
    args[-1] = "H001"
    assert main([*args, "--force"]) == 2
    assert sorted(handler.by_unit()) == ["D01"]
    # Without STARTTLS the server refuses to go on (require_starttls): not sent, listed.
    monkeypatch.setenv("DQ_TEST_SMTP_PW", "s3cret")
    no_tls = [a for a in args if a != "--starttls"]
    assert main([*no_tls, "--retries", "0"]) == 2
    assert sorted(handler.by_unit()) == ["D01"]


def test_implicit_tls_and_an_untrusted_certificate(work, server, tmp_path, capsys):
    cert, key = _self_signed(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    handler = Handler()
    _, port = server(handler, ssl_context=ctx)
    base = _cli(work, "--smtp", f"127.0.0.1:{port}", "--ssl", "--from", SENDER, "--timeout", "5")
    # Without --cafile the self-signed certificate is not trusted: stop before sending anything.
    assert main([*base, "--only", "D01"]) == 2
    assert "certificate is not trusted" in capsys.readouterr().err
    assert handler.messages == [] and DeliveryLog(work / "history").sent_units(P) == set()
    assert main([*base, "--cafile", str(cert), "--only", "D01", "H003"]) == 0
    assert sorted(handler.by_unit()) == ["D01", "H003"]


def test_tls_is_required_beyond_this_machine(work):
    contacts = load_contacts(work / "contacts.csv")
    with pytest.raises(UsageError, match="TLS is required"):
        send_period(Store(work / "history"), P, contacts, reports_dir=work / "reports", sender=SENDER,
                    smtp=SmtpSettings(host="smtp.example.org", port=25))  # fmt: skip
    # --insecure is an explicit choice; localhost needs none.
    SmtpSettings.parse("smtp.example.org:25", insecure=True)
    SmtpSettings.parse("localhost:25")
    SmtpSettings.parse("[::1]:25")
    code = main(_cli(work, "--smtp", "smtp.example.org:25", "--from", SENDER))
    assert code == 2
    assert not (work / "history" / "deliveries").exists() or not list(
        (work / "history" / "deliveries").rglob("*.parquet")
    )


def test_password_never_on_the_command_line(work, capsys, monkeypatch):
    assert main(_cli(work, "--smtp", "localhost:25", "--password", "s3cret")) == 2
    assert "unrecognized arguments: --password" in capsys.readouterr().err
    monkeypatch.delenv("DQ_SMTP_PASSWORD", raising=False)
    code = main(_cli(work, "--smtp", "localhost:25", "--user", "dq", "--format", "json"))
    assert code == 2
    err = json.loads(capsys.readouterr().out)["error"]
    assert "DQ_SMTP_PASSWORD" in err["message"]


def test_cli_json_lists_every_unit(work, server, capsys):
    handler = Handler()
    _, port = server(handler)
    code = main(_cli(work, "--smtp", f"127.0.0.1:{port}", "--from", SENDER, "--format", "json"))
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is True and [u["unit_id"] for u in out["units"]] == UNITS
    assert {u["status"] for u in out["units"]} == {"sent"}
    assert out["units"][2]["to"] == ["zhikong@h001.example.org"] and out["units"][2]["cc"] == [
        "xinxike@h001.example.org"
    ]
    code = main(_cli(work, "--smtp", f"127.0.0.1:{port}", "--from", SENDER, "--only", "H999"))
    assert code == 2


def test_demo_outbox_writes_every_units_message(work):
    folder = demo_outbox(Store(work / "history"), P, work / "reports", work / "demo", lang="en")
    assert sorted(p.stem for p in folder.glob("*.eml")) == UNITS
    assert len(load_contacts(work / "demo" / "contacts.csv")) == len(UNITS)
    msg = email.message_from_bytes((folder / "H002.eml").read_bytes(), policy=policy.default)
    assert msg["Subject"].startswith("[Data quality] 南京市儿童医院 (H002)")
    assert [a.addr_spec for a in msg["To"].addresses] == ["quality@h002.example.org"]


def test_every_missing_option_is_named_at_once(tmp_path: Path, capsys, monkeypatch):
    """One error names all a send lacks (exit 2), not one per attempt of the user."""
    monkeypatch.chdir(tmp_path)  # no dq.toml above: the bundled specification, no project defaults
    monkeypatch.delenv("DQ_PROJECT", raising=False)
    assert main(["send"]) == 2
    err = capsys.readouterr().err
    assert err.count("dq: error:") == 1 and "Traceback" not in err
    for option in ("--period YYYY-MM", "--contacts FILE", "--smtp HOST:PORT", "--from ADDR"):
        assert option in err, option
    assert err.rstrip().endswith("(see dq send --help)")
    # a dry run needs --out instead of --smtp; --user as an address gives --from
    assert main(["send", "--dry-run", "--user", "dq@center.example.org", "--format", "json"]) == 2
    message = json.loads(capsys.readouterr().out)["error"]["message"]
    assert "--period" in message and "--contacts" in message and "--out DIR" in message
    assert "--smtp" not in message and "--from" not in message
    # given everything, nothing is reported missing (the next problem is the contacts file)
    full = ["send", "--period", P, "--contacts", "nowhere.csv", "--smtp", "localhost:25", "--from", SENDER]
    assert main(full) == 2
    err = capsys.readouterr().err
    assert "nowhere.csv" in err and "give --" not in err
    # the library names its own missing options at once too
    with pytest.raises(UsageError, match=r"give --out DIR .*; --from ADDR"):
        send_period(Store(tmp_path / "h"), P, load_contacts_text(tmp_path), dry_run=True)


def load_contacts_text(folder: Path):
    (folder / "contacts.csv").write_text(CONTACTS, encoding="utf-8")
    return load_contacts(folder / "contacts.csv")
