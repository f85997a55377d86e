"""Submission summaries derived from a site extract (see UPLOAD-SPEC "What the monthly figures mean").

One row per unit and period with the platform's figures: required / declared / uploaded tables,
data volume, upload days, outpatient visits and discharges uploaded and their rates against the
official counts (reference.csv), and for districts the health-record counts. The row has the
same columns as the published summaries read by :mod:`dq.io.published`, so one submission suite
audits both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import polars as pl

from dq.errors import UsageError
from dq.io.catalogue import Catalogue, load_catalogue
from dq.io.period import Period
from dq.io.sources import Extract

if TYPE_CHECKING:
    from dq.engine.results import AuditResult
    from dq.engine.suite import Suite

__all__ = [
    "SUMMARY_SCHEMA",
    "audit_and_summarize",
    "summarize",
    "summary_exprs",
    "summary_frame",
    "summary_from_counts",
]


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


RECORD_TABLES = ("resident_record", "hypertension_followup", "diabetes_followup")


def summary_exprs(
    table: str, frame: pl.LazyFrame, period: str, catalogue: Catalogue | None = None
) -> dict[str, pl.Expr]:
    """The aggregates the summary needs from one table (rows and upload days in the period,
    events in the period, distinct records), or none if it has no usable upload time."""
    cat = catalogue or load_catalogue()
    schema = frame.collect_schema()
    key = (table, tuple(schema.items()), period, id(cat))
    hit = _EXPRS.get(key)
    if hit is None or hit[0] is not cat:  # a batch asks for every unit: build once per schema
        if len(_EXPRS) >= 256:
            _EXPRS.clear()
        hit = _EXPRS[key] = (cat, _summary_exprs(table, schema, period, cat))
    return dict(hit[1])


_EXPRS: dict[tuple, tuple[Catalogue, dict[str, pl.Expr]]] = {}


def _summary_exprs(table: str, schema: pl.Schema, period: str, cat: Catalogue) -> dict[str, pl.Expr]:
    if "upload_time" not in schema or not schema["upload_time"].is_temporal():
        return {}
    month = Period.parse(period)
    in_period = month.contains(pl.col("upload_time"))
    exprs = {
        "rows": in_period.sum(),
        "days": pl.col("upload_time").filter(in_period).dt.date().unique().implode(),
    }
    spec = cat.table(table)
    event = spec.event_time if spec else None
    if event and event in schema and schema[event].is_temporal():
        ev = pl.col(event).cast(pl.Datetime("us"))
        exprs["events"] = month.contains(ev).sum()
    if table in RECORD_TABLES and "record_id" in schema:
        exprs["records"] = pl.col("record_id").drop_nulls().n_unique()
    return exprs


def _period_of(extract: Extract, period: str | None) -> str:
    period = period or extract.period
    if period is None:
        raise UsageError(f"{extract.root}: no period in the manifest; pass --period")
    return period


def summarize(extract: Extract, period: str | None = None, catalogue: Catalogue | None = None) -> dict:
    """Compute the submission summary of one extract (one light pass per table).

    :func:`audit_and_summarize` gives the same summary from the audit's own pass."""
    cat = catalogue or load_catalogue()
    period = _period_of(extract, period)
    counts: dict[str, dict[str, Any]] = {}
    for name, src in extract.tables.items():
        exprs = summary_exprs(name, src.frame, period, cat)
        if exprs:
            frame = src.frame.select([e.alias(k) for k, e in exprs.items()]).collect()
            counts[name] = frame.row(0, named=True)
    return summary_from_counts(extract, period, counts, cat)


def audit_and_summarize(
    extract: Extract,
    suites: Sequence[Suite],
    period: str | None = None,
    *,
    catalogue: Catalogue | None = None,
    samples: int = 5,
    streaming: bool = False,
    now: datetime | None = None,
    fix_rows: int = 0,
) -> tuple[AuditResult, dict]:
    """Audit an extract and compute its submission summary in the same pass over each table
    (``fix_rows``: failing rows kept per rule, see :func:`dq.engine.evaluate.evaluate_frame`)."""
    from dq.engine.evaluate import audit_extract

    cat = catalogue or load_catalogue()
    period = _period_of(extract, period)
    audit = audit_extract(
        extract, suites, period=period, samples=samples, catalogue=cat, now=now, streaming=streaming,
        extra=lambda table, frame: summary_exprs(table, frame, period, cat), fix_rows=fix_rows,
    )  # fmt: skip
    return audit, summary_from_counts(extract, period, audit.extra, cat)


def summary_from_counts(
    extract: Extract, period: str, counts: Mapping[str, Mapping[str, Any]], catalogue: Catalogue | None = None
) -> dict:
    """The summary row from the per-table aggregates of :func:`summary_exprs` (by table)."""
    cat = catalogue or load_catalogue()
    days_in_period = Period.parse(period).days
    kind = extract.kind or ""
    required = cat.tables_of(kind)
    volume = 0
    days: set[date] = set()
    uploaded: list[str] = []
    for name in extract.tables:
        row = counts.get(name)
        if row is None:
            continue
        volume += int(row["rows"] or 0)
        days.update(row["days"] or [])
        if row["rows"]:
            uploaded.append(name)
    declared = extract.manifest.get("declared_tables")
    status = _declaration_status(extract.manifest)
    outpatient_table = cat.kinds.get(kind, {}).get("outpatient_table")

    def events(table: str) -> int | None:
        # A table that was not uploaded at all counts 0 events; one without a usable event
        # time (or upload time), or that could not be read (Extract.unreadable), an unknown number.
        if table in extract.unreadable:
            return None
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
        "declared_tables": len(declared or ()) if status == "declared" else None,
        "required_tables": len(required),
        "uploaded_tables": len(uploaded),
        "declared_not_uploaded": len(declared_set - set(uploaded)) if status == "declared" else None,
        "uploaded_not_declared": len(set(uploaded) - declared_set) if status == "declared" else None,
        "data_volume": volume,
        "upload_days": len(days),
        "upload_dates": ",".join(str(d.day) for d in sorted(days)),
        "days_in_period": days_in_period,
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
        "source": extract.location,
    }


def _int(v: float | None) -> int | None:
    return None if v is None else round(v)


def summary_frame(rows: list[dict]) -> pl.DataFrame:
    """Summaries as a frame with the catalogue's types (missing columns become null)."""
    frame = pl.DataFrame(rows, schema=SUMMARY_SCHEMA) if rows else pl.DataFrame(schema=SUMMARY_SCHEMA)
    return frame
