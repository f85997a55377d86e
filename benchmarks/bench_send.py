"""Benchmark: `dq send` for a synthetic city-month, dry run against a real local SMTP server.

Generates the 2020-09 month (every unit of the newsletters, ``--scale`` of their volumes), scores
and renders it, writes a contacts file (example.org) for every unit, then times in the same process:

    dry run        build every message and write the .eml files
    smtp           send every message to aiosmtpd on a loopback port (plain)
    smtp+starttls  the same over STARTTLS with a self-signed certificate (needs `cryptography`)
    re-run         a second send of the month: every unit skipped from the record

after one untimed warm-up dry run, and prints seconds, milliseconds per unit, messages and mean
message size, and each figure's ratio to the dry run. Not a test: CI does not run it. Data go
to a temporary folder.

    .venv/bin/python benchmarks/bench_send.py [--scale 0.001] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path

PERIOD = "2020-09"


class Keep:
    def __init__(self):
        self.sizes: list[int] = []

    async def handle_DATA(self, server, session, envelope):
        self.sizes.append(len(envelope.content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tls_context(folder: Path) -> tuple[ssl.SSLContext, ssl.SSLContext] | None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    try:
        from tlscert import self_signed

        cert_pem, key_pem = self_signed(folder)
    except ImportError:
        return None
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_pem, key_pem)
    return server, ssl.create_default_context(cafile=str(cert_pem))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=0.001)
    ap.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = ap.parse_args()

    from aiosmtpd.controller import Controller

    from dq.batch.local import score_batch
    from dq.delivery.contacts import load_contacts
    from dq.delivery.send import SmtpSettings, send_period
    from dq.report.files import render_period
    from dq.store.deliveries import DeliveryLog
    from dq.store.history import Store
    from dq.synth import generate

    base = args.keep or Path(tempfile.mkdtemp(prefix="dq-bench-send-"))
    base.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    generate(base / "batch", PERIOD, scale=args.scale, progress=False)
    store = Store(base / "history")
    score_batch(base / "batch", PERIOD, store, log=None, progress=False)
    render_period(store, PERIOD, base / "reports", echo=None)
    units = sorted(store.scores(PERIOD)["unit_id"].to_list())
    lines = ["unit_id,to,cc,language"] + [
        f"{u},quality@{u.lower()}.example.org,it@{u.lower()}.example.org,{'en' if i % 4 == 0 else 'zh'}"
        for i, u in enumerate(units)
    ]
    (base / "contacts.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    contacts = load_contacts(base / "contacts.csv")
    print(f"month {PERIOD} at scale {args.scale}: {len(units)} units scored and rendered in "
          f"{time.perf_counter() - t:.1f}s ({base})")  # fmt: skip
    common = {"reports_dir": base / "reports", "sender": "dq@center.example.org", "retries": 0}

    rows: list[tuple[str, float, int, float | None]] = []

    def fresh_store(name: str) -> Store:
        target = base / f"history-{name}"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(base / "history", target)
        return Store(target)

    # Warm-up (imports, catalogue, templates), not timed.
    send_period(fresh_store("warm"), PERIOD, contacts, dry_run=True, out=base / "warm", **common)
    t = time.perf_counter()
    out = send_period(fresh_store("dry"), PERIOD, contacts, dry_run=True, out=base / "outbox", **common)
    sec = time.perf_counter() - t
    sizes = [p.stat().st_size for p in (base / "outbox" / PERIOD).glob("*.eml")]
    assert out.ok and len(sizes) == len(units)
    rows.append(("dry run (.eml)", sec, len(sizes), statistics.mean(sizes)))

    ctxs = tls_context(base)
    for label, kw in (("smtp", {}), ("smtp+starttls", {"tls": True})):
        if kw and ctxs is None:
            print("smtp+starttls: skipped (cryptography is not installed)")
            continue
        handler = Keep()
        port = free_port()
        extra = {"tls_context": ctxs[0], "require_starttls": True} if kw else {}
        c = Controller(handler, hostname="127.0.0.1", port=port, **extra)
        c.start()
        try:
            smtp = SmtpSettings.parse(
                f"127.0.0.1:{port}", **({"security": "starttls", "ssl_context": ctxs[1]} if kw else {})
            )
            s = fresh_store(label)
            t = time.perf_counter()
            out = send_period(s, PERIOD, contacts, smtp=smtp, **common)
            sec = time.perf_counter() - t
            assert out.ok and len(handler.sizes) == len(units), [u.to_dict() for u in out.units if not u.ok]
            rows.append((label, sec, len(handler.sizes), statistics.mean(handler.sizes)))
            if not kw:
                t = time.perf_counter()
                again = send_period(s, PERIOD, contacts, smtp=smtp, **common)
                sec = time.perf_counter() - t
                assert again.count("skipped") == len(units) and len(handler.sizes) == len(units)
                rows.append(("re-run (all skipped)", sec, 0, None))
                events = DeliveryLog(s.root).events(PERIOD).height
                print(f"record: {events} events for {len(units)} units")
        finally:
            c.stop()

    dry = rows[0][1]
    print(f"\n{'step':<22}{'seconds':>9}{'ms/unit':>9}{'messages':>10}{'mean KB':>9}{'× dry run':>11}")
    for label, sec, n, size in rows:
        kb = f"{size / 1024:.1f}" if size else "-"
        print(f"{label:<22}{sec:>9.2f}{1000 * sec / len(units):>9.1f}{n:>10}{kb:>9}{sec / dry:>11.2f}")
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
