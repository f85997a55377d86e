"""Submission summaries derived from a site extract (see UPLOAD-SPEC "What the monthly figures mean").

One row per unit and period with the platform's figures: required / declared / uploaded tables,
data volume, upload days, outpatient visits and discharges uploaded and their rates against the
official counts (reference.csv), and for districts the health-record counts. The row has the
same columns as the published summaries read by :mod:`dq.published`, so one submission suite
audits both.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

from dq.catalogue import Catalogue, load_catalogue
from dq.sources import Extract, parse_period

__all__ = ["SUMMARY_SCHEMA", "summarize", "summary_frame"]


def _schema() -> dict[str, pl.DataType]:
    spec = load_catalogue().table("submission_summary")
    assert spec is not None
    return {c.name: c.dtype for c in spec.columns if c.name != "upload_time"}


SUMMARY_SCHEMA = _schema()


def _declaration_status(manifest: dict[str, Any]) -> str:
    if manifest.get("collection_mode") == "direct_db":
        return "direct_db"
    if manifest.get("declared_tables") is None:
        return "not_reported"
    return "declared"


def _rate(uploaded: int | None, reference: float | None) -> tuple[float | None, str]:
    if not reference:  # absent, or zero: no rate can be computed
        return None, "no_reference"
    return round(100.0 * (uploaded or 0) / reference, 2), "reported"


def summarize(extract: Extract, period: str | None = None, catalogue: Catalogue | None = None) -> dict:
    """Compute the submission summary of one extract (one light pass per table)."""
    cat = catalogue or load_catalogue()
    period = period or extract.period
    if period is None:
        raise ValueError(f"{extract.root}: no period in the manifest; pass --period")
    start, end = parse_period(period)
    kind = extract.kind or ""
    required = cat.tables_of(kind)
    in_period = (pl.col("upload_time") >= start) & (pl.col("upload_time") < end)
    volume = 0
    days: set[date] = set()
    uploaded: list[str] = []
    counts: dict[str, Any] = {}
    for name, src in extract.tables.items():
        schema = src.frame.collect_schema()
        if "upload_time" not in schema or not schema["upload_time"].is_temporal():
            continue
        exprs = [
            in_period.sum().alias("rows"),
            pl.col("upload_time").filter(in_period).dt.date().unique().implode().alias("days"),
        ]
        spec = cat.table(name)
        event = spec.event_time if spec else None
        if event and event in schema and schema[event].is_temporal():
            ev = pl.col(event).cast(pl.Datetime("us"))
            exprs.append(((ev >= start) & (ev < end)).sum().alias("events"))
        if name in ("resident_record", "hypertension_followup", "diabetes_followup"):
            exprs.append(pl.col("record_id").drop_nulls().n_unique().alias("records"))
        row = src.frame.select(exprs).collect().row(0, named=True)
        volume += int(row["rows"] or 0)
        days.update(row["days"] or [])
        if row["rows"]:
            uploaded.append(name)
        counts[name] = row
    declared = extract.manifest.get("declared_tables")
    status = _declaration_status(extract.manifest)
    outpatient_table = cat.kinds.get(kind, {}).get("outpatient_table")

    def events(table: str) -> int | None:
        # A table that was not uploaded at all counts 0 events; one without a usable event
        # time (or upload time) an unknown number.
        return counts.get(table, {}).get("events") if table in extract.tables else 0

    out_n = events(outpatient_table) if outpatient_table else None
    dis_n = events("inpatient_record") if kind == "hospital" else None
    ref = extract.reference
    out_rate, out_status = _rate(out_n, ref.get("outpatient_visits"))
    dis_rate, dis_status = (
        _rate(dis_n, ref.get("discharges")) if kind == "hospital" else (None, "not_applicable")
    )
    declared_set = set(declared or []) if status == "declared" else set()

    def records(table: str) -> int | None:
        return counts.get(table, {}).get("records") if kind == "district" else None

    return {
        "period": period,
        "unit_id": extract.unit_id,
        "unit_name": str(extract.manifest.get("name") or extract.unit_id),
        "kind": kind,
        "declaration_status": status,
        "declared_tables": len(declared) if status == "declared" else None,
        "required_tables": len(required),
        "uploaded_tables": len(uploaded),
        "declared_not_uploaded": len(declared_set - set(uploaded)) if status == "declared" else None,
        "uploaded_not_declared": len(set(uploaded) - declared_set) if status == "declared" else None,
        "data_volume": volume,
        "upload_days": len(days),
        "upload_dates": ",".join(str(d.day) for d in sorted(days)),
        "days_in_period": (end - start).days,
        "outpatient_uploaded": out_n,
        "outpatient_reference": _int(ref.get("outpatient_visits")),
        "outpatient_rate": out_rate,
        "outpatient_rate_status": out_status,
        "discharge_uploaded": dis_n,
        "discharge_reference": _int(ref.get("discharges")),
        "discharge_rate": dis_rate,
        "discharge_rate_status": dis_status,
        "records_basic": records("resident_record"),
        "records_hypertension": records("hypertension_followup"),
        "records_diabetes": records("diabetes_followup"),
        "source": str(extract.root),
    }


def _int(v: float | None) -> int | None:
    return None if v is None else round(v)


def summary_frame(rows: list[dict]) -> pl.DataFrame:
    """Summaries as a frame with the catalogue's types (missing columns become null)."""
    frame = pl.DataFrame(rows, schema=SUMMARY_SCHEMA) if rows else pl.DataFrame(schema=SUMMARY_SCHEMA)
    return frame
