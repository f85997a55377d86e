"""Which units a batch has, how big each unit's tables are, and how each unit writes its files.

Volumes come from the newsletters' 数据采集情况 tables through :func:`dq.io.published.load_collection`:
the generated period's own table if it was published, else 2020-09, else 2018-03. Per hospital:
outpatient visits (门急诊上传人次), discharges (出院人次) and the data volume (数据上传量, all rows);
per district: community visits, health records (basic / hypertension / diabetes) and the data
volume. Everything is multiplied by ``scale``; every uploaded table keeps a sensible minimum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from dq.errors import UsageError
from dq.io.catalogue import load_catalogue
from dq.io.period import Period as CalendarPeriod
from dq.synth._values import stable_hash, uscc

__all__ = [
    "DISTRICT_TABLES",
    "HOSPITAL_TABLES",
    "PUBLISHED_PERIODS",
    "SynthMonth",
    "UnitPlan",
    "load_units",
    "parse_period",
]

# The tables each kind uploads come from the catalogue (the upload specification as data).
HOSPITAL_TABLES = tuple(load_catalogue().tables_of("hospital"))
DISTRICT_TABLES = tuple(load_catalogue().tables_of("district"))
PUBLISHED_PERIODS = ("2020-09", "2018-03")

# Current GB/T 2260 codes of Nanjing's districts; 江北新区 is not a county-level division (its
# area lies in 浦口 and 六合), so it uses 浦口's code.
DISTRICT_AREA = {
    "玄武区": "320102",
    "秦淮区": "320104",
    "建邺区": "320105",
    "鼓楼区": "320106",
    "浦口区": "320111",
    "栖霞区": "320113",
    "雨花台区": "320114",
    "江宁区": "320115",
    "六合区": "320116",
    "溧水区": "320117",
    "高淳区": "320118",
    "江北新区": "320111",
}

# Minimum base rows of the tables whose size is set directly (derived tables follow them).
MIN_ROWS = {
    "patient_index": 60,
    "outpatient_visit": 60,
    "inpatient_record": 50,
    "lab_report": 40,
    "exam_report": 40,
    "resident_record": 90,
    "hypertension_followup": 40,
    "diabetes_followup": 40,
    "community_visit": 60,
    "vaccination_record": 40,
    "family_doctor_contract": 40,
}
MIN_DERIVED = 30  # surgery_record, and any other table built from its parents


@dataclass(frozen=True)
class SynthMonth:
    """The generator's month: label 'YYYY-MM', first day as days since 1970-01-01, number of days.

    Not :class:`dq.io.period.Period` (the public calendar month, imported here as
    ``CalendarPeriod``): this one is only the generator's arithmetic on epoch days."""

    label: str
    start_day: int
    n_days: int

    @property
    def start_s(self) -> int:
        return self.start_day * 86400

    @property
    def end_s(self) -> int:
        return (self.start_day + self.n_days) * 86400


def parse_period(text: str) -> SynthMonth:
    """A month ``YYYY-MM``; anything else raises the same :class:`~dq.errors.UsageError` as everywhere."""
    month = CalendarPeriod.parse(text)
    return SynthMonth(str(month), (month.first_day - date(1970, 1, 1)).days, month.days)


@dataclass
class UnitPlan:
    """One unit of the batch: identity, published figures, volumes and output style."""

    unit_id: str
    name: str
    kind: str  # hospital | district
    district: str | None
    area: str
    org_code: str
    declaration_status: str  # declared | not_reported | direct_db (from the newsletter)
    source_period: str | None  # newsletter the figures come from
    published_upload_days: int | None
    published_days: int | None
    reference_available: bool  # False when the newsletter says 未获取卫统数据
    counts: dict[str, int]  # target base rows of the directly sized tables
    factor: float  # detail multiplier from the data volume (rows per visit beyond the base)
    target_rows: int  # data volume × scale (0 when not published)
    style: str = "typed"  # typed | text (parquet); csv is always text
    compact_dates: bool = False  # text style: YYYYMMDD / YYYYMMDDHHMMSS instead of ISO
    encoding: str = "utf-8"  # csv only: utf-8 | gb18030
    key: int = 0  # stable hash of the unit id
    extra: dict[str, object] = field(default_factory=dict)
    # submission figures of the profile's newsletter row (before: 2018-03, after: 2020-09):
    # declared / required tables (None when unknown, 未反馈 or 开库采集) and that row's period
    declared_ratio: float | None = None
    figures_period: str | None = None
    # upload rates (uploaded / official count, %) of that row, by reference metric; empty when
    # the row has none (the steady profile, or a newsletter that prints no rate)
    published_rates: dict[str, float] = field(default_factory=dict)
    # tables the profile's newsletter row uploaded nothing of (0 data volume, 0 outpatient
    # visits, 0 discharges): not written at all; empty for the steady profile
    absent: tuple[str, ...] = ()

    @property
    def tables(self) -> tuple[str, ...]:
        return HOSPITAL_TABLES if self.kind == "hospital" else DISTRICT_TABLES


def _int(v: object) -> int:
    if v is None:
        return 0
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0
    return 0 if math.isnan(f) else int(f)


def _at_least(table: str, value: float, key: int) -> int:
    """``value`` rounded, but at least the table's minimum plus a per-unit offset (0-19), so units
    clamped to the minimum do not all report identical counts."""
    floor = MIN_ROWS[table] + stable_hash(key, table) % 20
    return max(floor, round(value))


def _hospital_counts(row: dict, scale: float, key: int) -> tuple[dict[str, int], float, int]:
    v = _int(row.get("outpatient_uploaded")) * scale
    d = _int(row.get("discharge_uploaded")) * scale
    target = _int(row.get("data_volume")) * scale
    fixed = 2.5 * v + 5.2 * d
    variable = 5.48 * v + 33.5 * d
    factor = 1.0 if variable <= 0 or target <= 0 else (target - fixed) / variable
    factor = float(min(8.0, max(0.3, factor)))
    counts = {
        "patient_index": 0.5 * v + 0.8 * d,
        "outpatient_visit": v,
        "inpatient_record": d,
        "lab_report": (0.3 * v + 4 * d) * factor,
        "exam_report": (0.08 * v + 1.5 * d) * factor,
    }
    out = {t: _at_least(t, c, key) for t, c in counts.items()}
    return out, factor, round(target)


def _district_counts(row: dict, scale: float, key: int) -> tuple[dict[str, int], float, int]:
    c = _int(row.get("outpatient_uploaded")) * scale
    b = _int(row.get("records_basic")) * scale
    h = _int(row.get("records_hypertension")) * scale
    g = _int(row.get("records_diabetes")) * scale
    target = _int(row.get("data_volume")) * scale
    fixed = b + h + g + c
    variable = 0.15 * c + 0.05 * b
    factor = 1.0 if variable <= 0 or target <= 0 else (target - fixed) / variable
    factor = float(min(10.0, max(0.3, factor)))
    records = _at_least("resident_record", b, key)
    vaccine_slots = math.ceil(records / 10) * 31  # children × childhood doses, see tables
    out = {
        "resident_record": records,
        "community_visit": _at_least("community_visit", c, key),
        "vaccination_record": min(
            vaccine_slots // 2, _at_least("vaccination_record", 0.15 * c * factor, key)
        ),
        "family_doctor_contract": _at_least("family_doctor_contract", 0.05 * b * factor, key),
    }
    # follow-ups are subsets of the adults with a record (records with index % 10 == 0 are
    # children): at most 60 % of them each
    adults = out["resident_record"] - math.ceil(out["resident_record"] / 10)
    cap = int(adults * 0.6)
    out["hypertension_followup"] = min(cap, _at_least("hypertension_followup", h, key))
    out["diabetes_followup"] = min(cap, _at_least("diabetes_followup", g, key))
    return out, factor, round(target)


# The newsletter whose submission figures a campaign profile follows (volumes still come from
# the generated period's own table when it was published, see _published_rows).
PROFILE_FIGURES = {"before": ("2018-03", "2020-09"), "after": ("2020-09", "2018-03")}


def _published_rows(period: str, order: tuple[str, ...] | None = None) -> dict[str, tuple[str, dict]]:
    """unit_id -> (source period, summary row), preferring ``period``, then 2020-09, 2018-03
    (or the periods of ``order``)."""
    from dq.io.published import available_periods, load_collection

    have = set(available_periods())
    wanted = [p for p in (order or (period, *PUBLISHED_PERIODS)) if p in have]
    out: dict[str, tuple[str, dict]] = {}
    for p in dict.fromkeys(wanted):
        for kind in ("district", "hospital"):
            try:
                df = load_collection(p, kind)
            except ValueError:
                continue
            for row in df.iter_rows(named=True):
                out.setdefault(row["unit_id"], (p, row))
    return out


def _profile_rates(row: dict, kind: str) -> dict[str, float]:
    """The row's reported upload rates by reference metric (outpatient visits; discharges for
    hospitals only, districts upload no front sheets)."""
    metrics = {"outpatient_visits": "outpatient"}
    if kind == "hospital":
        metrics["discharges"] = "discharge"
    out = {}
    for metric, col in metrics.items():
        rate = row.get(f"{col}_rate")
        if row.get(f"{col}_rate_status") == "reported" and rate is not None and not math.isnan(rate):
            out[metric] = float(rate)
    return out


# Tables a unit does not upload when its newsletter row reports no outpatient visits or no
# discharges (a table and the tables that hang from it).
OUTPATIENT_TABLES = {
    "hospital": ("outpatient_visit", "outpatient_prescription"),
    "district": ("community_visit",),
}
INPATIENT_TABLES = ("inpatient_record", "inpatient_diagnosis", "surgery_record")


def _absent(row: dict, kind: str) -> tuple[str, ...]:
    """The tables a newsletter row uploaded nothing of (none when the row is unknown)."""
    if not row:
        return ()
    tables = HOSPITAL_TABLES if kind == "hospital" else DISTRICT_TABLES
    if row.get("data_volume") == 0:
        return tuple(tables)
    out: list[str] = []
    if row.get("outpatient_uploaded") == 0:
        out += OUTPATIENT_TABLES[kind]
    if kind == "hospital" and row.get("discharge_uploaded") == 0:
        out += INPATIENT_TABLES
    return tuple(t for t in tables if t in out)


def load_units(
    period: SynthMonth,
    scale: float,
    seed: int,
    units: list[str] | None,
    fmt: str,
    profile: str | None = None,
) -> list[UnitPlan]:
    """The batch's units in a stable order: districts first, then hospitals (newsletter order).

    With a campaign ``profile`` (before | after) the submission figures (declaration, declared /
    required tables, upload days, whether an official count exists) follow the unit's row of the
    newsletter of that side of the campaign (:data:`PROFILE_FIGURES`); volumes do not change.
    """
    from dq.io.registry import Registry

    registry = Registry.load()
    published = _published_rows(period.label)
    figures = (
        _published_rows(period.label, PROFILE_FIGURES[profile]) if profile in PROFILE_FIGURES else published
    )
    if units:
        ids = list(dict.fromkeys(units))
        insts = [registry.get(u) for u in ids]  # raises UnknownUnitError for unknown ids
    else:
        insts = [registry.get(u) for u in published]
        insts.sort(key=lambda i: (i.kind != "district",))
    plans = []
    for inst in insts:
        if inst.kind not in ("hospital", "district"):
            raise UsageError(f"unit {inst.unit_id} has kind {inst.kind!r}")
        source, row = published.get(inst.unit_id, (None, {}))
        fig_source, fig = figures.get(inst.unit_id, (None, {}))
        key = stable_hash("unit", inst.unit_id)
        if inst.kind == "hospital":
            counts, factor, target = _hospital_counts(row, scale, key)
        else:
            counts, factor, target = _district_counts(row, scale, key)
        district = inst.district if inst.kind == "hospital" else inst.name
        area = DISTRICT_AREA.get(district or "", "320100")
        rng = np.random.default_rng([seed & 0xFFFFFFFF, key, 1])
        style = "text" if fmt == "csv" or rng.random() < 0.4 else "typed"
        compact = bool(rng.random() < 0.5)
        encoding = "gb18030" if fmt == "csv" and rng.random() < 0.3 else "utf-8"
        no_ref = fig.get("outpatient_rate_status") == "no_reference"
        declared, required = fig.get("declared_tables"), fig.get("required_tables")
        ratio = min(1.0, declared / required) if declared is not None and required else None
        rates = _profile_rates(fig, inst.kind) if profile in PROFILE_FIGURES else {}
        lost = rng.random() < 0.12  # the official count is missing now and then
        plans.append(
            UnitPlan(
                unit_id=inst.unit_id,
                name=inst.name,
                kind=inst.kind,
                district=district,
                area=area,
                org_code=uscc(inst.unit_id, area),
                declaration_status=fig.get("declaration_status") or "declared",
                source_period=source,
                published_upload_days=fig.get("upload_days"),
                published_days=fig.get("days_in_period"),
                reference_available=not no_ref and (bool(rates) or not lost),
                counts=counts,
                factor=factor,
                target_rows=target,
                style=style,
                compact_dates=compact,
                encoding=encoding,
                key=key,
                declared_ratio=ratio,
                figures_period=fig_source,
                published_rates=rates,
                # only the profile's own newsletter row says what was not uploaded
                absent=_absent(fig, inst.kind)
                if profile in PROFILE_FIGURES and fig_source == PROFILE_FIGURES[profile][0]
                else (),
            )
        )
    return plans
