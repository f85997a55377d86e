"""The delivery record: every report e-mail attempted, kept in the history store.

    <store>/deliveries/period=2020-09/<time>__<unit>__<id>.parquet    one row per event

Each event is one file, written whole or not at all through the store's backend
(:mod:`dq.store.backend`: a temporary name renamed on a folder, one object behind a URL), so the
record survives an interruption at any point. An event's ``status`` (:data:`STATUSES`) is

    sending   written just before the message goes to the server (its Message-ID is fixed here)
    sent      the server accepted the message (``refused`` lists recipients it refused, if any)
    failed    the server did not take the message: refused it, deferred it (4xx) on every attempt,
              or could not be reached (``error`` says why). Nothing was delivered.
    unknown   the connection was lost (or timed out) after the whole message had gone to the
              server and before its answer: it may have been delivered or not

A unit counts as delivered for a period once it has a ``sent`` event. Its *message* for the period
is the Message-ID of its latest ``sending`` event: :meth:`DeliveryLog.states` gives each unit's
latest message and what became of it. A ``sending`` event that no later event of the same
Message-ID closes means dq stopped while talking to the server (or could not record the answer):
it reads as ``unknown``. ``dq send`` does not send an ``unknown`` message again unless asked
(``--resend-unknown``), and then with the same Message-ID, so a mail system that already has the
message can recognise the copy. Plain Polars reads the record:
``pl.scan_parquet("<store>/deliveries/*/*.parquet", hive_partitioning=True)``.

The record's columns are :data:`DELIVERY_SCHEMA`, defined here only; every event is written with
exactly these columns and types.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from dq import __version__
from dq.io.outputs import safe_filename
from dq.store.history import DELIVERY_SCHEMA, Store

__all__ = ["DELIVERY_SCHEMA", "STATUSES", "DeliveryEvent", "DeliveryLog", "DeliveryState"]

#: The values of the ``status`` column (see the module docstring).
STATUSES = ("sending", "sent", "failed", "unknown")


@dataclass(frozen=True)
class DeliveryEvent:
    """One row of the record (see the module docstring for ``status``)."""

    unit_id: str
    status: str
    to: Sequence[str]
    cc: Sequence[str]
    message_id: str
    subject: str
    report_file: str
    report_sha256: str
    attachments: Sequence[str] = ()
    score_run_id: str = ""
    smtp_host: str = ""
    attempts: int = 0
    refused: Sequence[str] = ()
    error: str = ""
    time: datetime | None = None


@dataclass(frozen=True)
class DeliveryState:
    """A unit's latest message of a period and what became of it.

    ``status`` is ``sent``, ``failed`` or ``unknown`` (also for a ``sending`` event nothing
    closed: then ``dangling`` is True); ``delivered`` says whether any message of the period
    (this one or an earlier one) was accepted."""

    unit_id: str
    status: str
    message_id: str
    report_sha256: str
    time: datetime | None
    error: str = ""
    delivered: bool = False
    dangling: bool = False


class DeliveryLog:
    """Read and append the delivery record of the history store rooted at ``root`` (a folder,
    a URL or a :class:`~dq.store.history.Store`; behind a URL each event is one object)."""

    def __init__(self, root: str | Path | Store):
        self.store = root if isinstance(root, Store) else Store(root)
        self.root = self.store.root
        self.folder = self.store.location("deliveries")

    def record(self, period: str, event: DeliveryEvent) -> Path | str:
        """Append one event (atomically); return the file written. A store that cannot be written
        (read-only, full disk) is an :class:`~dq.errors.OutputError` naming the file; no partial
        file is left behind."""
        if event.status not in STATUSES:
            raise ValueError(f"delivery status {event.status!r} is not one of {', '.join(STATUSES)}")
        when = event.time or datetime.now(UTC)
        row = {
            "unit_id": event.unit_id,
            "status": event.status,
            "time": when,
            "to": ", ".join(event.to),
            "cc": ", ".join(event.cc),
            "refused": ", ".join(event.refused),
            "message_id": event.message_id,
            "subject": event.subject,
            "report_file": event.report_file,
            "report_sha256": event.report_sha256,
            "attachments": ", ".join(event.attachments),
            "score_run_id": event.score_run_id,
            "smtp_host": event.smtp_host,
            "attempts": event.attempts,
            "error": event.error,
            "dq_version": __version__,
        }
        unit = safe_filename(event.unit_id)
        name = f"{when:%Y%m%dT%H%M%S%f}__{unit}__{event.status}__{uuid.uuid4().hex[:8]}"
        frame = pl.DataFrame([row], schema=DELIVERY_SCHEMA)
        parts = ("deliveries", f"period={safe_filename(period)}", f"{name}.parquet")
        return self.store.write_frame(frame, *parts, what="write the delivery record")

    def events(self, period: str | None = None) -> pl.DataFrame:
        """Every recorded event (of one period), oldest first: read through the store's one
        reading path (:meth:`dq.store.Store.rows`), so an event file of an older or newer schema
        is read in this one and a file that cannot be is skipped with a warning naming it."""
        return self.store.rows("deliveries", period).sort("time", nulls_last=True, maintain_order=True)

    def sent(self, period: str) -> pl.DataFrame:
        """The ``sent`` events of ``period``, oldest first."""
        ev = self.events(period)
        return ev.filter(pl.col("status") == "sent")

    def sent_units(self, period: str) -> set[str]:
        """Units whose report was delivered for ``period``."""
        return set(self.sent(period)["unit_id"].to_list())

    def states(self, period: str) -> dict[str, DeliveryState]:
        """unit → its latest message of ``period`` (the Message-ID of its latest ``sending``
        event) and what became of it; see :class:`DeliveryState`."""
        out: dict[str, DeliveryState] = {}
        delivered: set[str] = set()
        for row in self.events(period).iter_rows(named=True):
            uid, status, mid = row.get("unit_id"), row.get("status"), row.get("message_id") or ""
            sha, when, error = row.get("report_sha256") or "", row.get("time"), row.get("error") or ""
            if uid is None or status is None:
                continue  # a row that says nothing (a drifted or damaged file): no state to take
            if status == "sent":
                delivered.add(uid)
            cur = out.get(uid)
            if status == "sending":  # an attempt begins: open until an event of its Message-ID closes it
                out[uid] = DeliveryState(
                    uid, "unknown", mid, sha, when,
                    "dq stopped, or could not record the server's answer, while sending",
                    dangling=True,
                )  # fmt: skip
                continue
            if cur is not None and cur.message_id != mid:
                continue  # the answer to an older message: the latest one decides
            # a status this dq does not know (a newer one wrote it) is taken as unknown: never send twice
            known = status if status in STATUSES else "unknown"
            out[uid] = DeliveryState(uid, known, mid, sha or (cur.report_sha256 if cur else ""), when, error)
        return {uid: replace(st, delivered=uid in delivered) for uid, st in out.items()}

    def unfinished(self, period: str) -> dict[str, str]:
        """unit → Message-ID of its latest message when its outcome is unknown: a ``sending``
        event nothing closed, or an ``unknown`` one."""
        return {uid: st.message_id for uid, st in self.states(period).items() if st.status == "unknown"}
