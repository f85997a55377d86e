"""The reports in a real browser: headless Chromium loads every kind of page without a console
error, a failed or outside request, a CSP violation or horizontal overflow; the index's sorter
works; the unit report prints to A4; and a screenshot of each page type is a real PNG.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: commands
on fd 3, events on fd 4, NUL-separated JSON), so no Python package beyond the standard library
is needed. Skipped, with the reason, only when no chromium binary is installed (CI installs the
Debian package ``chromium``).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import subprocess
import time
from pathlib import Path

import pytest

from dq.engine.results import RuleResult
from dq.report.chromium import FLAGS, find_chromium
from dq.report.files import render_campaign_file, render_period
from dq.scoring.scores import load_scoring, score_unit
from dq.store.history import Store

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"
)

TIMEOUT = 20.0


class Browser:
    """A minimal DevTools-protocol client over Chromium's debugging pipe."""

    def __init__(self, user_data: Path):
        cmd_r, self._cmd_w = os.pipe()
        self._evt_r, evt_w = os.pipe()

        def child_fds() -> None:  # runs in the child: put the pipe ends on fds 3 and 4
            a = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(evt_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={user_data}", "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=False,
            preexec_fn=child_fds,
        )
        os.close(cmd_r)
        os.close(evt_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        reply = self._wait(lambda m: m.get("id") == self._id)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def wait_event(self, method: str, session: str | None = None) -> dict:
        for e in self.events:
            if e.get("method") == method and e.get("sessionId") == session:
                return e
        return self._wait(lambda m: m.get("method") == method and m.get("sessionId") == session)

    def _wait(self, match) -> dict:
        deadline = time.monotonic() + TIMEOUT
        while True:
            while b"\0" in self._buf:
                raw, self._buf = self._buf.split(b"\0", 1)
                m = json.loads(raw)
                if "method" in m:
                    self.events.append(m)
                if match(m):
                    return m
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from chromium")
            ready, _, _ = select.select([self._evt_r], [], [], left)
            if ready:
                chunk = os.read(self._evt_r, 1 << 20)
                if not chunk:
                    raise RuntimeError(f"chromium exited ({self.proc.poll()})")
                self._buf += chunk

    def open(self, url: str, width: int = 1200, height: int = 2400) -> str:
        """Load ``url`` in a new tab; return its session id once the load event fired."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Page", "Network"):
            self.send(f"{domain}.enable", session=session)
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session=session,
        )
        self.send("Page.navigate", {"url": url}, session=session)
        self.wait_event("Page.loadEventFired", session)
        self.evaluate(session, "new Promise(r => requestAnimationFrame(() => setTimeout(r, 50)))")
        return session

    def evaluate(self, session: str, expression: str):
        res = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            session,
        )
        if "exceptionDetails" in res:
            raise RuntimeError(res["exceptionDetails"])
        return res["result"].get("value")

    def problems(self, session: str) -> list[str]:
        """Console errors, uncaught exceptions, log errors and requests leaving file:/data:."""
        out = []
        for e in self.events:
            if e.get("sessionId") != session:
                continue
            m, p = e["method"], e.get("params", {})
            if m == "Runtime.exceptionThrown":
                out.append(f"exception: {p['exceptionDetails'].get('text')}")
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert", "warning"):
                out.append(f"console.{p['type']}: {[a.get('value') for a in p.get('args', [])]}")
            elif m == "Log.entryAdded" and p["entry"].get("level") in ("error", "warning"):
                out.append(f"log {p['entry']['level']}: {p['entry'].get('text')} {p['entry'].get('url', '')}")
            elif m == "Network.requestWillBeSent":
                url = p["request"]["url"]
                if not url.startswith(("file:", "data:", "about:")):
                    out.append(f"request: {url}")
            elif m == "Network.loadingFailed":
                out.append(f"failed load: {p.get('errorText')}")
        return out

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):
            self.send("Browser.close")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._cmd_w)
        os.close(self._evt_r)


# ------------------------------------------------------------------------------- data
def _result(rule: str, failed: int, samples=(), weight: float = 1.0) -> RuleResult:
    return RuleResult(
        rule=rule,
        suite="hospital.patient_index",
        table="patient_index",
        check="id_card",
        columns=("id_no",),
        dimension="conformance",
        severity="error",
        status="fail" if failed else "pass",
        evaluated=200,
        failed=failed,
        fail_fraction=failed / 200,
        message=f"{failed} of 200 fail ({failed / 2:.2f}%)",
        samples=samples,
        weight=weight,
        threshold={"max_fraction": 0.0},
        title_zh=f"身份证号校验 {rule}",
        title_en=f"ID check {rule}",
    )


def _summary(uid: str, kind: str, days: str | None, rate: float) -> dict:
    return {
        "unit_id": uid,
        "unit_name": uid,
        "kind": kind,
        "declaration_status": "declared",
        "declared_tables": 20,
        "required_tables": 85,
        "uploaded_tables": 18,
        "data_volume": 123456,
        "upload_days": len(days.split(",")) if days else 29,
        "upload_dates": days,
        "days_in_period": 30,
        "outpatient_uploaded": 1200,
        "outpatient_reference": 1000,
        "outpatient_rate": rate,
        "outpatient_rate_status": "reported",
        "discharge_uploaded": 50,
        "discharge_reference": None,
        "discharge_rate": None,
        "discharge_rate_status": "no_reference" if kind == "hospital" else "not_applicable",
        "records_basic": 100 if kind == "district" else None,
    }


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    base = tmp_path_factory.mktemp("report-browser")
    store, out = Store(base / "history"), base / "reports"
    cfg = load_scoring()
    samples = ({"patient_id": "P1", "id_no": "320106********123X", "name": "王*", "phone": "138****5678"},)
    units = [
        ("H1", "hospital", "南京市示例医院"),
        ("H2", "hospital", "示例专科医院"),
        ("D1", "district", "示例区"),
    ]
    for step, period in enumerate(("2020-08", "2020-09")):
        run = store.begin_run(period, "h", "test")
        for i, (uid, kind, name) in enumerate(units):
            res = [
                _result("PI-110", (3 - step) * (i + 1) * 2, samples),
                _result("PI-201", step * i, samples, 2.0),
            ]
            days = ",".join(str(d) for d in range(1, 31) if d % (7 - i) != 0)
            unit = {"unit_id": uid, "name": name, "kind": kind, "district": "鼓楼区"}
            store.write_unit(
                run,
                unit,
                res,
                score_unit(res, cfg),
                _summary(uid, kind, days if i != 1 else None, 95 + 5 * i),
                {
                    "PI-110": ("核对身份证号。", "Check the ID numbers."),
                    "PI-201": ("去重。", "Remove duplicates."),
                },
            )
        if step:
            store.write_unit(
                run,
                {"unit_id": "H9", "name": "读不出医院", "kind": "hospital"},
                [],
                None,
                None,
                error="manifest.yaml: period 2019-01 is not the batch's 2020-09",
            )
        store.finish_run(run, len(units), step)
    render_period(store, "2020-08", out, echo=None)
    render_period(store, "2020-09", out, echo=None)
    render_period(store, "2020-09", out / "en", lang="en", echo=None)
    render_campaign_file(store, "2020-08", "2020-09", out)
    return {
        "unit": out / "2020-09" / "H1.html",
        "unit_en": out / "en" / "2020-09" / "H1.html",
        "unit_count_only": out / "2020-09" / "H2.html",
        "error": out / "2020-09" / "H9.html",
        "index": out / "2020-09" / "index.html",
        "campaign": out / "campaign_2020-08_2020-09.html",
    }


def test_pages_load_cleanly_sort_print_and_screenshot(pages, tmp_path):
    browser = Browser(tmp_path / "profile")
    try:
        for name, path in pages.items():
            session = browser.open(path.resolve().as_uri())
            assert browser.problems(session) == [], name
            assert browser.evaluate(session, "document.title"), name
            overflow = browser.evaluate(session, "document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{name}: {overflow}px wider than the window"
            assert browser.evaluate(session, "document.querySelectorAll('svg.chart').length") >= (
                0 if name in ("error", "index") else 1
            ), name
            if name == "index":
                order = """[...document.querySelectorAll('table.sortable')[1].tBodies[0].rows]
                           .map(r => r.cells[3].getAttribute('data-v'))"""
                browser.evaluate(
                    session, "document.querySelectorAll('table.sortable')[1].tHead.rows[0].cells[3].click()"
                )
                scores = [float(x) for x in browser.evaluate(session, order)]
                assert scores == sorted(scores, reverse=True), scores
                browser.evaluate(
                    session, "document.querySelectorAll('table.sortable')[1].tHead.rows[0].cells[3].click()"
                )
                scores = [float(x) for x in browser.evaluate(session, order)]
                assert scores == sorted(scores), scores
            if name in ("unit", "campaign", "index"):
                shot = browser.send("Page.captureScreenshot", {"format": "png"}, session)
                png = base64.b64decode(shot["data"])
                assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000, name
            if name == "unit":
                pdf = base64.b64decode(
                    browser.send("Page.printToPDF", {"preferCSSPageSize": True}, session)["data"]
                )
                assert pdf.startswith(b"%PDF")
                assert browser.problems(session) == []
            assert browser.problems(session) == [], name
    finally:
        browser.close()


def test_screenshot_flag_writes_a_png(pages, tmp_path):
    """The command-line screenshot used by reports/examples/make_screenshots.py works here."""
    shot = tmp_path / "unit.png"
    subprocess.run(
        [
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={tmp_path / 'p'}",
            f"--screenshot={shot}",
            "--window-size=1200,2400",
            pages["unit"].resolve().as_uri(),
        ],
        check=True,
        timeout=60,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def test_the_check_sees_errors_and_outside_requests(tmp_path):
    """The same check on a deliberately bad page finds each problem (so a clean pass means clean)."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>bad</title></head><body>"
        "<img src='http://127.0.0.1:9/x.png'><script>console.error('boom'); undefinedFunction();</script>"
        "</body></html>",
        encoding="utf-8",
    )
    browser = Browser(tmp_path / "profile")
    try:
        session = browser.open(bad.as_uri())
        found = " | ".join(browser.problems(session))
    finally:
        browser.close()
    assert "console.error" in found and "boom" in found
    assert "exception" in found
    assert "request: http://127.0.0.1:9/x.png" in found
