"""An e-mailed report works when saved: a unit's message is sent through a real SMTP server
(aiosmtpd on a loopback port), its attachments are saved side by side in a folder as a mail
client saves them, and headless Chromium opens the saved report and follows every link in it.

Every link of the saved report must reach a saved attachment (or an anchor of the page); none
may point at the index, which is not attached.
"""

from __future__ import annotations

import email
import re
import socket
import threading
from email import policy
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from aiosmtpd.controller import Controller
from test_report_browser import CHROMIUM, Browser

from dq.batch.local import score_batch
from dq.delivery.contacts import load_contacts
from dq.delivery.send import SmtpSettings, send_period
from dq.report.files import render_period
from dq.report.mailed import mail_name, mailed_report
from dq.store.history import Store
from dq.synth import generate

P = "2020-09"
UNITS = ["D01", "H008"]


def test_mailed_report_rewrites_links_to_attachment_names():
    page = (
        '<a class="no-print back" href="index.html">← 返回目录</a>'
        '<a href="#rule-X">X</a>'
        '<p><a href="H008_fix.csv" download>CSV</a> · <a href="H008_fix.xlsx" download>XLSX</a></p>'
    )
    out = mailed_report(page, P, ["H008_fix.csv"]).decode("utf-8")
    assert "index.html" not in out and "返回目录" not in out
    assert '<a href="#rule-X">X</a>' in out
    assert f'href="{mail_name(P, "H008_fix.csv")}"' in out
    assert "H008_fix.xlsx" not in out and "XLSX" in out  # not attached: the label stays, unlinked


class _Keep:
    def __init__(self):
        self.messages: list[bytes] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append(envelope.original_content or envelope.content)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def sent(tmp_path_factory):
    base = tmp_path_factory.mktemp("mailed")
    generate(base / "batch", P, scale=0.001, units=UNITS, progress=False)
    store = Store(base / "history")
    score_batch(base / "batch", P, store, progress=False, fix_rows=20)
    render_period(store, P, base / "reports", echo=None)
    (base / "contacts.csv").write_text(
        "unit_id,to,cc,language\nD01,a@d01.example.org,,zh\nH008,b@h008.example.org,,zh\n", encoding="utf-8"
    )
    keep = _Keep()
    ctl = Controller(keep, hostname="127.0.0.1", port=_free_port())
    ctl.start()
    try:
        outcome = send_period(
            store,
            P,
            load_contacts(base / "contacts.csv"),
            reports_dir=base / "reports",
            sender="dq@center.example.org",
            smtp=SmtpSettings.parse(f"127.0.0.1:{ctl.port}"),
            retries=0,
        )
    finally:
        ctl.stop()
    assert outcome.ok and len(keep.messages) == len(UNITS)
    return base, keep.messages


def _save(raw: bytes, folder: Path) -> tuple[Path, list[str]]:
    """Save every attachment under its own file name, as a mail client does."""
    msg = email.message_from_bytes(raw, policy=policy.default)
    folder.mkdir(parents=True)
    names = []
    report = None
    for part in msg.iter_attachments():
        name = part.get_filename()
        assert name and "/" not in name
        (folder / name).write_bytes(part.get_payload(decode=True))
        names.append(name)
        if name.endswith(".html"):
            report = folder / name
    assert report is not None
    return report, names


def test_every_link_of_the_saved_report_reaches_an_attachment(sent):
    base, messages = sent
    for i, raw in enumerate(messages):
        report, names = _save(raw, base / f"saved{i}")
        page = report.read_text(encoding="utf-8")
        hrefs = re.findall(r'<a\b[^>]*\bhref="([^"]*)"', page)
        assert "index.html" not in page
        files = [h for h in hrefs if not h.startswith("#")]
        assert files, "the report links its rows-to-fix files"
        for h in files:
            assert h in names, (h, names)
            assert h.startswith(f"dq_{P}_")
        for h in hrefs:
            if h.startswith("#"):
                assert f'id="{h[1:]}"' in page, h


def _downloaded(browser: Browser, session: str, seen: set[str]) -> dict:
    """Wait (at most about 20 s) for a download that completed and was not seen yet."""
    for _ in range(200):
        for e in browser.events:
            p = e.get("params", {})
            done = e.get("method") == "Browser.downloadProgress" and p.get("state") == "completed"
            if done and p["guid"] not in seen:
                seen.add(p["guid"])
                return p
        browser.evaluate(session, "new Promise(r => setTimeout(r, 100))")
    raise AssertionError("no download completed")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_saved_report_links_work_in_chromium(sent, tmp_path):
    """Open the saved report and click every link: a file link downloads the attachment it
    names (same bytes), an in-page link lands on its target; nothing else fails."""
    _, messages = sent
    browser = Browser(tmp_path / "profile")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.send(
        "Browser.setDownloadBehavior",
        {"behavior": "allowAndName", "downloadPath": str(downloads), "eventsEnabled": True},
    )
    seen: set[str] = set()
    try:
        for i, raw in enumerate(messages):
            report, names = _save(raw, tmp_path / f"saved{i}")
            session = browser.open(report.as_uri())
            assert browser.problems(session) == []
            links = browser.evaluate(
                session, "Array.from(document.querySelectorAll('a[href]')).map(a => a.href)"
            )
            assert links
            for n, url in enumerate(links):
                u = urlparse(url)
                assert u.scheme == "file", url
                target = Path(unquote(u.path))
                assert target.parent == report.parent and target.is_file(), url
                browser.evaluate(session, f"document.querySelectorAll('a[href]')[{n}].click()")
                if u.fragment and target == report:
                    assert browser.evaluate(session, "location.hash.slice(1)") == u.fragment
                    assert browser.evaluate(session, f"document.getElementById({u.fragment!r}) !== null"), url
                    continue
                assert target.name in names
                done = _downloaded(browser, session, seen)
                got = downloads / done["guid"]  # allowAndName: saved under the download's guid
                assert got.read_bytes() == target.read_bytes(), url
            # a link that downloads ends its navigation as "aborted" (it became a download)
            after = browser.problems(session)
            assert set(after) <= {"failed load: net::ERR_ABORTED"}, after
    finally:
        browser.close()
