"""The delivery record: every report e-mail attempted, kept in the history store.

    <store>/deliveries/period=2020-09/<time>__<unit>__<id>.parquet    one row per event

Each event is one file, written to a temporary name and renamed (atomic on POSIX), so the record
survives an interruption at any point. An event's ``status`` is

    sending   written just before the message goes to the server (its Message-ID is fixed here)
    sent      the server accepted the message (``refused`` lists recipients it refused, if any)
    failed    every attempt failed (``error`` says why)

A unit counts as delivered for a period once it has a ``sent`` event. A ``sending`` event with no
``sent`` after it means dq stopped while talking to the server: the next run sends again with the
same Message-ID, so a mail system that already has the message can recognise the copy. Plain
Polars reads the record: ``pl.scan_parquet("<store>/deliveries/*/*.parquet", hive_partitioning=True)``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from dq import __version__
from dq.io.outputs import safe_filename
from dq.store.history import Store

__all__ = ["DELIVERY_SCHEMA", "DeliveryEvent", "DeliveryLog"]

DELIVERY_SCHEMA = {
    "unit_id": pl.String,
    "status": pl.String,
    "time": pl.Datetime("us", "UTC"),
    "to": pl.String,
    "cc": pl.String,
    "refused": pl.String,
    "message_id": pl.String,
    "subject": pl.String,
    "report_file": pl.String,
    "report_sha256": pl.String,
    "attachments": pl.String,
    "score_run_id": pl.String,
    "smtp_host": pl.String,
    "attempts": pl.Int64,
    "error": pl.String,
    "dq_version": pl.String,
}


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


class DeliveryLog:
    """Read and append the delivery record of the history store rooted at ``root`` (a folder,
    a URL or a :class:`~dq.store.history.Store`; behind a URL each event is one object)."""

    def __init__(self, root: str | Path | Store):
        self.store = root if isinstance(root, Store) else Store(root)
        self.root = self.store.root
        self.folder = self.store.location("deliveries")

    def record(self, period: str, event: DeliveryEvent) -> Path:
        """Append one event (atomically); return the file written."""
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
        if self.store.remote:
            return self.store.write_frame(
                frame, "deliveries", f"period={safe_filename(period)}", f"{name}.parquet"
            )
        path = Path(self.folder) / f"period={safe_filename(period)}" / f"{name}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            frame.write_parquet(tmp)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)  # never leave a half-written event behind
            raise
        return path

    def events(self, period: str | None = None) -> pl.DataFrame:
        """Every recorded event (of one period), oldest first."""
        if self.store.remote:
            df = self.store.rows("deliveries", safe_filename(period) if period else None)
            if df.is_empty():
                return pl.DataFrame(schema={"period": pl.String, **DELIVERY_SCHEMA})
            if period is not None:
                df = df.filter(pl.col("period") == period)
            return df.sort("time")
        files = sorted(Path(self.folder).glob(f"period={safe_filename(period) if period else '*'}/*.parquet"))
        if not files:
            return pl.DataFrame(schema={"period": pl.String, **DELIVERY_SCHEMA})
        df = pl.scan_parquet(
            str(Path(self.folder) / "period=*" / "*.parquet"),
            hive_partitioning=True,
            missing_columns="insert",
        ).with_columns(pl.col("period").cast(pl.String))
        if period is not None:
            df = df.filter(pl.col("period") == period)
        return df.collect(engine="in-memory").sort("time")

    def sent(self, period: str) -> pl.DataFrame:
        """The ``sent`` events of ``period``, oldest first."""
        ev = self.events(period)
        return ev.filter(pl.col("status") == "sent")

    def sent_units(self, period: str) -> set[str]:
        """Units whose report was delivered for ``period``."""
        return set(self.sent(period)["unit_id"].to_list())

    def unfinished(self, period: str) -> dict[str, str]:
        """unit → Message-ID of a ``sending`` event that no later ``sent``/``failed`` event closed."""
        out: dict[str, str] = {}
        for row in self.events(period).iter_rows(named=True):
            if row["status"] == "sending":
                out[row["unit_id"]] = row["message_id"]
            elif row["message_id"] == out.get(row["unit_id"]):
                del out[row["unit_id"]]
        return out
