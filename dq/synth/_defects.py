"""Known defects: which unit gets which, which rows carry them, how rows are altered.

Every injected defect breaks exactly one rule of the suites: rows are chosen disjointly per table
(a row carries at most one defect), defect values are chosen so that no other check fires (an
orphan link is a well-formed id that does not exist; a bad checksum keeps a valid birth date and
matching sex; an out-of-period visit was uploaded within a day, …), and parent tables keep their
clean values for their children (a visit moved out of the period does not move its settlement).

Planning is two-level:

- per unit, a seeded *profile* (independent of the rest of the batch): the newsletter's own
  findings (未反馈 → ``not_reported``, fewer upload days → ``missing_upload_days``, nothing
  uploaded → ``no_upload``) plus random row-level and submission-level kinds;
- per batch (``--profile before``), a coverage pass adds every kind still missing to an eligible
  unit, so a batch of one hospital and one district already shows every kind.

The campaign profiles use a wider set of options than an ordinary month (:data:`KINDS` vs
:data:`STEADY_KINDS`): blanks in every required column whose other rules skip a missing value,
and unparseable values in every column a text export must parse. ``--profile after`` keeps the
base data: each defect of the *before* plan persists with probability :data:`AFTER_PERSIST` (at
about half its size), the rest are fixed, a few new ones appear, and a few units that were well
managed before get worse (:func:`_worse_units`). See docs/campaign.md.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from dq.errors import UsageError
from dq.synth._plan import SynthMonth, UnitPlan
from dq.synth._tables import DATE_EVENTS, DAY, EVENT_COLUMNS, HOUR, ID_FORMAT, ids, record_ids, tod_clinic
from dq.synth._values import civil_from_days, id15_numbers, id18_numbers, stable_hash

if TYPE_CHECKING:
    from dq.synth._tables import UnitData

__all__ = [
    "CHECK_OF",
    "INJECTORS",
    "KINDS",
    "SUBMISSION_KINDS",
    "Defect",
    "apply_rows",
    "apply_text",
    "plan_batch",
    "select_rows",
    "unit_intensities",
]

H, D = "hospital", "district"

# kind -> the check (dq.engine.checks registry name) that should catch it
CHECK_OF = {
    "null_required": "not_null",
    "blank_required": "not_null",
    "bad_code": "in_set",
    "bad_id_checksum": "id_card",
    "bad_id_birthdate": "id_card",
    "legacy_id15": "id_legacy",
    "id_sex_mismatch": "id_card_matches",
    "bad_icd10": "icd10",
    "bad_icd9cm3": "icd9cm3",
    "unparseable_date": "date_parse",
    "duplicate_key": "unique",
    "orphan_link": "foreign_key",
    "discharge_before_admission": "compare",
    "report_before_specimen": "compare",
    "dbp_not_below_sbp": "compare",
    "out_of_range": "between",
    "negative_fee": "between",
    "amount_mismatch": "compare",
    "self_pay_mismatch": "compare",
    "los_mismatch": "compare",
    "event_out_of_period": "in_period",
    "future_date": "not_future",
    "late_upload": "upload_timeliness",
    "diag_main_count": "group_count",
    "missing_upload_days": "upload_days",
    "declared_not_uploaded": "proportion",
    "uploaded_not_declared": "proportion",
    "over_reporting": "between",
    "under_reporting": "between",
    "not_reported": "expression",
    "no_upload": "expression",
}
SUBMISSION_KINDS = (
    "not_reported",
    "no_upload",
    "declared_not_uploaded",
    "uploaded_not_declared",
    "missing_upload_days",
    "over_reporting",
    "under_reporting",
)
# kinds written from a unit's newsletter row rather than drawn (the row's own upload rates, see
# dq.synth.generate._reference): the coverage step cannot add them
FROM_ROW_KINDS = ("under_reporting", "no_upload")
TEXT_ONLY = {"unparseable_date"}

_NULLABLE_H = (
    ("patient_index", ("name",)),
    ("outpatient_visit", ("dept_code",)),
    ("inpatient_record", ("dept_code",)),
    ("lab_result", ("result_value",)),
    ("outpatient_prescription", ("drug_code",)),
    # required columns whose other rules skip empty values (code sets, links): a blank breaks
    # only not_null (unmanaged data before governance)
    ("outpatient_visit", ("visit_type",)),
    ("outpatient_visit", ("diagnosis_code",)),
    ("outpatient_visit", ("patient_id",)),
    ("outpatient_prescription", ("visit_id",)),
    ("inpatient_record", ("patient_id",)),
    ("surgery_record", ("operation_code",)),
    ("lab_report", ("patient_id",)),
    ("exam_report", ("patient_id",)),
    ("exam_report", ("modality",)),
    ("fee_settlement", ("visit_id",)),
)
_NULLABLE_D = (
    ("resident_record", ("name",)),
    ("resident_record", ("address_code",)),
    ("family_doctor_contract", ("doctor_id",)),
    ("vaccination_record", ("vaccine_code",)),
    ("hypertension_followup", ("record_id",)),
    ("diabetes_followup", ("record_id",)),
    ("community_visit", ("diagnosis_code",)),
    ("family_doctor_contract", ("record_id",)),
)

# More required columns whose other rules skip a missing value (leaf keys, whose unique rule
# skips blanks and which no other table links to; event and other times, codes and amounts,
# whose comparisons, period and range checks skip nulls): a blank breaks only not_null.
# Columns the summary or a linked table depends on stay out: upload times, the keys other
# tables link to, diagnosis codes (a blank main diagnosis differs from its diagnosis rows, DX-302),
# diagnosis rows (the main-diagnosis count). Event times of the counted tables
# (visits, discharges) are left out of the summary's counts (see generate._count_in_period).
_NULLABLE_KEYS_H = (
    ("patient_index", ("sex_code",)),
    ("lab_result", ("item_code",)),
    ("outpatient_prescription", ("prescription_id",)),
    ("exam_report", ("report_id",)),
    ("fee_settlement", ("settlement_id",)),
    ("surgery_record", ("surgery_id",)),
)
_NULLABLE_KEYS_D = (
    ("resident_record", ("id_no",)),
    ("resident_record", ("sex_code",)),
    ("hypertension_followup", ("followup_id",)),
    ("diabetes_followup", ("followup_id",)),
    ("community_visit", ("visit_id",)),
    ("vaccination_record", ("vaccination_id",)),
    ("family_doctor_contract", ("contract_id",)),
)
# typed columns (times, dates, numbers): null only (a blank is text)
_NULLABLE_TYPED_H = (
    ("patient_index", ("birth_date",)),
    ("outpatient_visit", ("visit_time",)),
    ("inpatient_record", ("admission_time",)),
    ("lab_report", ("specimen_time",)),
    ("lab_report", ("report_time",)),
    ("exam_report", ("exam_time",)),
    ("exam_report", ("report_time",)),
    ("surgery_record", ("operation_time",)),
    ("fee_settlement", ("settle_time",)),
    ("fee_settlement", ("total_amount",)),
    ("outpatient_prescription", ("quantity",)),
    ("outpatient_prescription", ("item_no",)),
    ("inpatient_diagnosis", ("diag_seq",)),
)
_NULLABLE_TYPED_D = (
    ("resident_record", ("birth_date",)),
    ("resident_record", ("create_date",)),
    ("hypertension_followup", ("followup_date",)),
    ("hypertension_followup", ("sbp",)),
    ("hypertension_followup", ("dbp",)),
    ("diabetes_followup", ("followup_date",)),
    ("diabetes_followup", ("fasting_glucose",)),
    ("community_visit", ("visit_time",)),
    ("vaccination_record", ("vaccination_date",)),
    ("vaccination_record", ("dose_seq",)),
    ("family_doctor_contract", ("sign_date",)),
    ("family_doctor_contract", ("end_date",)),
)
# Every column a text export must parse (date_parse), upload times aside (the summary counts
# rows by them): an unparseable value is date_parse's finding only -- not_null tests the text,
# and the other rules skip the value that did not parse.
_UNPARSEABLE_H = tuple(
    (t, (c,))
    for t, cs in (
        ("patient_index", ("birth_date",)),
        ("outpatient_visit", ("visit_time", "total_fee")),
        ("inpatient_record", ("admission_time", "discharge_time", "length_of_stay", "total_fee")),
        ("lab_report", ("specimen_time", "report_time")),
        ("exam_report", ("exam_time", "report_time")),
        ("surgery_record", ("operation_time",)),
        ("fee_settlement", ("settle_time", "total_amount", "insurance_amount", "self_pay_amount")),
        ("outpatient_prescription", ("quantity", "unit_price", "amount", "item_no")),
        ("inpatient_diagnosis", ("diag_seq",)),
    )
    for c in cs
)
_UNPARSEABLE_D = tuple(
    (t, (c,))
    for t, cs in (
        ("resident_record", ("birth_date", "create_date")),
        ("hypertension_followup", ("followup_date", "sbp", "dbp")),
        ("diabetes_followup", ("followup_date", "fasting_glucose")),
        ("community_visit", ("visit_time", "total_fee")),
        ("vaccination_record", ("vaccination_date", "dose_seq")),
        ("family_doctor_contract", ("sign_date", "end_date")),
    )
    for c in cs
)

_LATE_H = tuple(
    (t, (EVENT_COLUMNS[t], "upload_time"))
    for t in (
        "outpatient_visit",
        "inpatient_record",
        "surgery_record",
        "lab_report",
        "exam_report",
        "fee_settlement",
    )
)
_LATE_D = tuple(
    (t, (EVENT_COLUMNS[t], "upload_time"))
    for t in (
        "resident_record",
        "hypertension_followup",
        "diabetes_followup",
        "community_visit",
        "vaccination_record",
        "family_doctor_contract",
    )
)

# row- and group-level kinds: unit kind -> ((table, columns), ...)
KINDS: dict[str, dict[str, tuple[tuple[str, tuple[str, ...]], ...]]] = {
    "null_required": {
        H: _NULLABLE_H + _NULLABLE_KEYS_H + _NULLABLE_TYPED_H,
        D: _NULLABLE_D + _NULLABLE_KEYS_D + _NULLABLE_TYPED_D,
    },
    "blank_required": {H: _NULLABLE_H + _NULLABLE_KEYS_H, D: _NULLABLE_D + _NULLABLE_KEYS_D},
    "bad_code": {
        H: (
            ("outpatient_visit", ("visit_type",)),
            ("inpatient_record", ("discharge_method",)),
            ("lab_result", ("abnormal_flag",)),
            ("exam_report", ("modality",)),
            ("patient_index", ("id_type",)),
            ("patient_index", ("sex_code",)),
        ),
        D: (("resident_record", ("sex_code",)),),
    },
    "bad_id_checksum": {H: (("patient_index", ("id_no",)),), D: (("resident_record", ("id_no",)),)},
    "bad_id_birthdate": {H: (("patient_index", ("id_no",)),), D: (("resident_record", ("id_no",)),)},
    "legacy_id15": {H: (("patient_index", ("id_no",)),), D: (("resident_record", ("id_no",)),)},
    "id_sex_mismatch": {
        H: (("patient_index", ("id_no", "sex_code")),),
        D: (("resident_record", ("id_no", "sex_code")),),
    },
    "bad_icd10": {
        # not inpatient_record: its code must also equal the main diagnosis row (DX-302)
        H: (("outpatient_visit", ("diagnosis_code",)),),
        D: (("community_visit", ("diagnosis_code",)),),
    },
    "bad_icd9cm3": {H: (("surgery_record", ("operation_code",)),)},
    "unparseable_date": {H: _UNPARSEABLE_H, D: _UNPARSEABLE_D},
    "duplicate_key": {
        H: (
            ("outpatient_visit", ("visit_id",)),
            ("exam_report", ("report_id",)),
            ("fee_settlement", ("settlement_id",)),
            ("lab_result", ("report_id", "item_code")),
        ),
        D: (
            ("community_visit", ("visit_id",)),
            ("hypertension_followup", ("followup_id",)),
        ),
    },
    "orphan_link": {
        H: (
            ("outpatient_visit", ("patient_id",)),
            ("outpatient_prescription", ("visit_id",)),
            ("lab_result", ("report_id",)),
            ("surgery_record", ("inpatient_id",)),
            ("exam_report", ("patient_id",)),
            ("inpatient_record", ("patient_id",)),
            ("lab_report", ("patient_id",)),
            ("fee_settlement", ("visit_id",)),
        ),
        D: (
            ("hypertension_followup", ("record_id",)),
            ("diabetes_followup", ("record_id",)),
            ("vaccination_record", ("record_id",)),
            ("family_doctor_contract", ("record_id",)),
            ("community_visit", ("record_id",)),
        ),
    },
    "discharge_before_admission": {H: (("inpatient_record", ("admission_time", "discharge_time")),)},
    "report_before_specimen": {H: (("lab_report", ("specimen_time", "report_time")),)},
    "dbp_not_below_sbp": {D: (("hypertension_followup", ("sbp", "dbp")),)},
    "out_of_range": {
        H: (("outpatient_prescription", ("quantity",)),),
        D: (
            ("hypertension_followup", ("sbp",)),
            ("diabetes_followup", ("fasting_glucose",)),
            ("vaccination_record", ("dose_seq",)),
        ),
    },
    "negative_fee": {
        H: (("outpatient_visit", ("total_fee",)), ("inpatient_record", ("total_fee",))),
        D: (("community_visit", ("total_fee",)),),
    },
    "amount_mismatch": {H: (("outpatient_prescription", ("quantity", "unit_price", "amount")),)},
    "self_pay_mismatch": {H: (("fee_settlement", ("total_amount", "insurance_amount", "self_pay_amount")),)},
    "los_mismatch": {H: (("inpatient_record", ("admission_time", "discharge_time", "length_of_stay")),)},
    "event_out_of_period": {
        H: (("outpatient_visit", ("visit_time",)), ("fee_settlement", ("settle_time",))),
        # follow-ups may be back-dated (no in_period rule): not them
        D: (("community_visit", ("visit_time",)), ("vaccination_record", ("vaccination_date",))),
    },
    "future_date": {H: (("patient_index", ("birth_date",)),)},
    "late_upload": {H: _LATE_H, D: _LATE_D},
    "diag_main_count": {H: (("inpatient_diagnosis", ("inpatient_id", "diag_type")),)},
}
ROW_KINDS = tuple(KINDS)
# The options of an ordinary month (``--profile steady``, the monthly series, the province):
# the campaign profiles add the wider ones above (unmanaged data before governance).
STEADY_KINDS: dict[str, dict[str, tuple[tuple[str, tuple[str, ...]], ...]]] = {
    **KINDS,
    "null_required": {H: _NULLABLE_H, D: _NULLABLE_D},
    "blank_required": {H: _NULLABLE_H, D: _NULLABLE_D},
    "unparseable_date": {H: (("inpatient_record", ("discharge_time",)),)},
}
ALL_KINDS = ROW_KINDS + tuple(k for k in SUBMISSION_KINDS if k not in FROM_ROW_KINDS)

# tables a defect's rule needs besides its own (a link is not checked when the linked table
# was not uploaded)
REFERENCED = {("orphan_link", "fee_settlement"): ("outpatient_visit", "inpatient_record")}

# leaf tables a unit may declare and then not upload (nothing else depends on them)
DROPPABLE = {
    H: ("exam_report", "surgery_record", "fee_settlement"),
    D: ("vaccination_record", "family_doctor_contract", "diabetes_followup"),
}
# orphan values: id kind of the referenced table
ORPHAN_ID = {"patient_id": "patient", "visit_id": "visit", "report_id": "lab", "inpatient_id": "inpatient"}


@dataclass
class Defect:
    """One injected defect of a unit; ``rows`` (base-row indices) is filled at generation."""

    kind: str
    table: str | None
    columns: tuple[str, ...]
    rate: float = 0.0  # share of the table's rows (row/group kinds)
    figure: int = 0  # submission kinds: days / tables / 1
    detail: dict[str, Any] = field(default_factory=dict)
    rows: np.ndarray | None = None
    origin: str = "seeded"  # seeded | newsletter | coverage | persisting | new

    @property
    def check(self) -> str:
        return CHECK_OF[self.kind]

    @property
    def on_table(self) -> str:
        """The table of a row defect (a submission defect has none)."""
        if self.table is None:
            raise ValueError(f"defect {self.kind} is not a row defect")
        return self.table

    @property
    def picked(self) -> np.ndarray:
        """The base rows of a row defect, once generation has chosen them."""
        if self.rows is None:
            raise ValueError(f"defect {self.kind}: rows not chosen yet")
        return self.rows


@dataclass
class UnitDefects:
    """The defect plan of one unit and the submission decisions that follow from it."""

    defects: list[Defect]
    collection_mode: str  # upload | direct_db
    reported: bool  # declared_tables present in the manifest
    missing_days: list[int]
    dropped: list[str]  # declared but not uploaded
    undeclared: list[str]  # uploaded but not declared

    def row_defects(self, table: str | None = None) -> list[Defect]:
        return [
            d for d in self.defects if d.kind not in SUBMISSION_KINDS and (table is None or d.table == table)
        ]


# ============================================================================ planning


def _rng(seed: int, *purpose: object) -> np.random.Generator:
    return np.random.default_rng([seed & 0xFFFFFFFF, seed >> 32 & 0xFFFFFFFF, stable_hash(*purpose)])


def _rate(rng: np.random.Generator, kind: str) -> float:
    if kind == "late_upload":
        return float(rng.uniform(0.01, 0.05))
    return float(rng.uniform(0.003, 0.025))


def _outpatient_table(plan: UnitPlan) -> str:
    return "outpatient_visit" if plan.kind == "hospital" else "community_visit"


def _pick_missing(rng: np.random.Generator, n_days: int, m: int) -> list[int]:
    """m non-adjacent days, never the first or the last of the month."""
    chosen: set[int] = set()
    for d in rng.permutation(np.arange(1, n_days - 1)):
        if len(chosen) >= m:
            break
        if d - 1 in chosen or d + 1 in chosen:
            continue
        chosen.add(int(d))
    return sorted(chosen)


def _options(
    plan: UnitPlan, kind: str, uploaded: set[str], wide: bool = True
) -> list[tuple[str, tuple[str, ...]]]:
    """The (table, columns) a kind may hit in this unit (``wide``: the campaign profiles' set)."""
    if kind in TEXT_ONLY and plan.style != "text":
        return []
    return [
        o
        for o in (KINDS if wide else STEADY_KINDS)[kind].get(plan.kind, ())
        if o[0] in uploaded and set(REFERENCED.get((kind, o[0]), ())) <= uploaded
    ]


def _uploaded(plan: UnitPlan, ud: UnitDefects) -> set[str]:
    return set(plan.tables) - set(ud.dropped) - set(plan.absent)


def _no_upload(plan: UnitPlan) -> Defect:
    """The newsletter row uploaded nothing (of a kind): its tables are not written. The
    submission columns that show it: nothing at all (data volume, upload days), no outpatient
    visits, no discharges; ``explains`` lists the figures that follow from it (fewer tables
    declared and uploaded than required, no upload day, a 0 % rate)."""
    absent = set(plan.absent)
    if absent >= set(plan.tables):
        cols: tuple[str, ...] = ("data_volume",)
        explains = ["upload_days", "uploaded_tables"]
    else:
        cols = ()
        if absent & {"outpatient_visit", "community_visit"}:
            cols += ("outpatient_uploaded",)
        if "inpatient_record" in absent:
            cols += ("discharge_uploaded",)
        explains = ["uploaded_tables"]
    explains += ["required_tables", "declared_tables"]
    return Defect(
        "no_upload",
        None,
        cols,
        figure=1,
        detail={"tables": sorted(absent), "explains": explains},
        origin="newsletter",
    )


# Calibration of the campaign profiles (see docs/campaign.md). Before governance each unit has a
# data-management *intensity* u, from a Beta distribution of its kind by quota
# (unit_intensities: the strata midpoints, shuffled among the kind's units): every
# (table, columns) option of every row kind is injected with probability u, at a rate drawn
# from RATE_BEFORE times (0.4 + 0.6 u), so a poorly managed unit carries many defects at several
# percent of its rows (local codes, blank fields, unparseable dates, late uploads, orphans) and a
# well managed one few, and small ones.
INTENSITY = {"hospital": (2.5, 0.175), "district": (2.5, 0.6)}  # Beta(a, b) of u
RATE_BEFORE = (0.05, 0.12)  # share of the table's rows, uniform (at most 10 %, see select_rows)
AFTER_PERSIST = 0.15  # share of the before defects still there after governance (at half size)
AFTER_NEW = 0.35  # probability of one new defect per unit after governance
AFTER_WORSE = 0.08  # share of the units (per kind, at least one) that get worse after governance
TABLE_SHARE = 0.9  # at most this share of a table's rows carry a defect
REGRESS_SHARE = 1.0  # such a unit: probability of a new defect per option, at the size of before
PROFILES = ("steady", "before", "after")


@functools.lru_cache(maxsize=8)
def _beta_quantiles(a: float, b: float, n: int) -> tuple[float, ...]:
    """The midpoints of ``n`` equal-probability strata of Beta(a, b): its quantiles at
    (i + 0.5) / n, read off a fixed sample of 200,000 draws (numpy has no Beta quantile
    function, scipy is not a dependency): within 0.01 of the exact quantiles for up to 40 units."""
    sample = np.random.default_rng(20200930).beta(a, b, 200_000)
    return tuple(float(q) for q in np.quantile(sample, (np.arange(n) + 0.5) / n))


def unit_intensities(plans: list[UnitPlan], seed: int) -> dict[str, float]:
    """Each unit's data-management intensity u (``--profile before``), by quota rather than by
    independent draws: per kind, the n units of the batch take the midpoints of n equal-probability
    strata of the kind's Beta distribution (:data:`INTENSITY`), in an order shuffled by the seed.

    Every seed then has the same spread of well and poorly managed units, only who is which
    changes. Independent draws let chance decide how many well managed units a kind has, and
    with 12 districts one or two more of them moved the average growth per unit by 5-8 points
    from seed to seed (docs/campaign.md)."""
    out: dict[str, float] = {}
    for kind in sorted({p.kind for p in plans}):
        ids = [p.unit_id for p in plans if p.kind == kind]
        a, b = INTENSITY.get(kind, INTENSITY["hospital"])
        order = _rng(seed, "intensity", kind, *ids).permutation(len(ids))
        quantiles = _beta_quantiles(a, b, len(ids))
        out.update({ids[i]: quantiles[rank] for rank, i in enumerate(order)})
    return out


def _submission(
    plan: UnitPlan, period: SynthMonth, rng: np.random.Generator, after: bool, ratio: bool = True
) -> UnitDefects:
    """The submission-level defects that follow the unit's newsletter figures (declaration,
    declared / required tables, upload days), plus a few random ones (a declared table not
    uploaded, over-reporting) -- fewer after governance."""
    mode = "direct_db" if plan.declaration_status == "direct_db" else "upload"
    reported = plan.declaration_status != "not_reported"
    ud = UnitDefects([], mode, reported, [], [], [])
    if mode == "upload" and not reported:
        ud.defects.append(Defect("not_reported", None, ("declared_tables",), figure=1, origin="newsletter"))
    # missing upload days: as many as the newsletter reports (at most 12), else sometimes 1-3
    gap = 0
    if plan.published_upload_days and plan.published_days:
        gap = max(0, plan.published_days - plan.published_upload_days)
    draw_days = rng.random()
    m = min(gap, 12) if gap else (int(rng.integers(1, 4)) if draw_days < (0.05 if after else 0.12) else 0)
    nothing = set(plan.absent) >= set(plan.tables)
    if m and not nothing:
        ud.missing_days = _pick_missing(rng, period.n_days, m)
        ud.defects.append(
            Defect(
                "missing_upload_days",
                # the record-level rule on the days runs on the outpatient table, if uploaded
                None if _outpatient_table(plan) in plan.absent else _outpatient_table(plan),
                ("upload_time",),
                figure=len(ud.missing_days),
                detail={"days": [d + 1 for d in ud.missing_days]},
                origin="newsletter" if gap else "seeded",
            )
        )
    u_drop, u_undecl, u_over = rng.random(3)
    p_random = 0.05 if after else 0.15
    if plan.absent:
        ud.defects.append(_no_upload(plan))
    droppable = [t for t in DROPPABLE[plan.kind] if t not in plan.absent]
    if mode == "upload" and reported and u_drop < p_random and droppable:
        ud.dropped = [str(rng.choice(droppable))]
        ud.defects.append(Defect("declared_not_uploaded", None, (), figure=1, detail={"tables": ud.dropped}))
    uploaded = _uploaded(plan, ud)
    if mode == "upload" and reported:
        # the newsletter's declared / required share, scaled to the modelled spec's tables
        n_tables = len(plan.tables)
        missing = 0
        if ratio and plan.declared_ratio is not None:
            # tables not uploaded at all are not declared either
            missing = n_tables - max(1, round(plan.declared_ratio * n_tables)) - len(plan.absent)
        elif u_undecl < p_random:
            missing = 1
        pool = sorted(t for t in uploaded if t not in ud.dropped)
        missing = min(missing, len(pool) - 1)
        if missing > 0:
            ud.undeclared = sorted(str(t) for t in rng.choice(pool, missing, replace=False))
            origin = "newsletter" if ratio and plan.declared_ratio is not None else "seeded"
            ud.defects.append(
                Defect(
                    "uploaded_not_declared",
                    None,
                    (),
                    figure=len(ud.undeclared),
                    detail={"tables": ud.undeclared},
                    origin=origin,
                )
            )
    if plan.reference_available and u_over < p_random:
        d = _over_reporting(rng, plan)
        if d is not None:
            ud.defects.append(d)
    return ud


def _fit_tables(defects: list[Defect]) -> list[Defect]:
    """Scale the rates down where a table's defects would take more than :data:`TABLE_SHARE`
    of its rows (rows carry one defect each, and a kind added later still needs some)."""
    total: dict[str | None, float] = {}
    for d in defects:
        total[d.table] = total.get(d.table, 0.0) + min(d.rate, 0.1)
    for d in defects:
        if total[d.table] > TABLE_SHARE:
            d.rate *= TABLE_SHARE / total[d.table]
    return defects


def _row_defects_before(plan: UnitPlan, uploaded: set[str], seed: int, u: float) -> list[Defect]:
    """Every row-kind option with probability u (the unit's intensity, :func:`unit_intensities`),
    at 5-12 % of the rows (late uploads 5-30 %) scaled by 0.4 + 0.6 u, capped per defect and per
    table."""
    rng = _rng(seed, "rows-before", plan.unit_id)
    out = []
    for kind in ROW_KINDS:
        for table, cols in KINDS[kind].get(plan.kind, ()):
            hit, rate = rng.random(), float(rng.uniform(*RATE_BEFORE))
            if kind == "late_upload":
                rate = float(rng.uniform(0.05, 0.30))  # uploads a few days late are common
            rate *= 0.4 + 0.6 * u  # a better managed unit has fewer defects, and smaller ones
            if (table, cols) in _options(plan, kind, uploaded) and hit < u:
                out.append(Defect(kind, table, cols, rate=rate))
    return _fit_tables(out)


def _unit_steady(plan: UnitPlan, period: SynthMonth, seed: int) -> UnitDefects:
    """A managed unit in an ordinary month (``--profile steady``, the default): the newsletter's
    own findings and, per row kind with probability 0.3, one option at 0.3-2.5 % of the rows
    (late uploads 1-5 %)."""
    rng = _rng(seed, "defects", plan.unit_id)
    ud = _submission(plan, period, rng, after=False, ratio=False)
    uploaded = _uploaded(plan, ud)
    for kind in ROW_KINDS:
        u = rng.random()
        opts = _options(plan, kind, uploaded, wide=False)
        if opts and u < 0.3:
            table, cols = opts[int(rng.integers(0, len(opts)))]
            ud.defects.append(Defect(kind, table, cols, rate=_rate(rng, kind)))
    return ud


def _unit_before(plan: UnitPlan, period: SynthMonth, seed: int, u: float) -> UnitDefects:
    ud = _submission(plan, period, _rng(seed, "defects", plan.unit_id), after=False)
    ud.defects += _row_defects_before(plan, _uploaded(plan, ud), seed, u)
    return ud


def _over_reporting(rng: np.random.Generator, plan: UnitPlan, keep_rates: bool = True) -> Defect | None:
    """More rows uploaded than the official count. A metric whose newsletter row has its own rate
    keeps it (None when every metric has one), unless ``keep_rates`` is off: then only rates
    outside the submission rules' bounds (too low, above 100 %) are kept."""
    outpatient = ("outpatient_visits", "outpatient_visit" if plan.kind == "hospital" else "community_visit")
    metrics = [outpatient, ("discharges", "inpatient_record")] if plan.kind == "hospital" else [outpatient]

    def free(metric: str) -> bool:
        rate = plan.published_rates.get(metric)
        return rate is None or (not keep_rates and 30 <= rate <= 100)

    if plan.kind == "hospital" and rng.random() < 0.4:
        metrics.reverse()
    metrics = [m for m in metrics if free(m[0]) and m[1] not in plan.absent]
    if not metrics:
        return None
    metric, table = metrics[0]
    return Defect(
        "over_reporting", table, (metric,), figure=1, detail={"share": float(rng.uniform(0.7, 0.95))}
    )


def _cover(
    plans: list[UnitPlan], uds: dict[str, UnitDefects], period: SynthMonth, seed: int, wide: bool = True
) -> None:
    """Add every kind that no unit has yet to an eligible unit (seeded choice)."""
    rng = _rng(seed, "coverage", *[p.unit_id for p in plans])
    present = {d.kind for ud in uds.values() for d in ud.defects}
    for kind in ALL_KINDS:
        if kind in present:
            continue
        order = [plans[i] for i in rng.permutation(len(plans))]
        done = False
        for plan in order:
            ud = uds[plan.unit_id]
            if _add_kind(rng, plan, ud, kind, period, wide=wide):
                done = True
                break
        if not done and kind in TEXT_ONLY:
            # no text-style unit could take it: switch a unit that has such tables to text
            for plan in order:
                if (KINDS if wide else STEADY_KINDS)[kind].get(plan.kind) and plan.style == "typed":
                    plan.style = "text"
                    if _add_kind(rng, plan, uds[plan.unit_id], kind, period, wide=wide):
                        done = True
                        break
                    plan.style = "typed"
        if not done and kind in ("declared_not_uploaded", "uploaded_not_declared"):
            # only unreported units: make one report (if another stays unreported)
            unreported = [
                p for p in order if not uds[p.unit_id].reported and uds[p.unit_id].collection_mode == "upload"
            ]
            if len(unreported) > 1 or (unreported and "not_reported" not in present):
                plan = unreported[0]
                ud = uds[plan.unit_id]
                ud.reported = True
                ud.defects = [d for d in ud.defects if d.kind != "not_reported"]
                done = _add_kind(rng, plan, ud, kind, period, wide=wide)
        if not done and kind == "over_reporting":
            # a unit given an official count, or one whose newsletter rate is plausible anyway
            for plan in order:
                plan.reference_available = True
                done = _add_kind(rng, plan, uds[plan.unit_id], kind, period, keep_rates=False)
                if done:
                    break
        if done:
            present.add(kind)


def _add_kind(
    rng: np.random.Generator,
    plan: UnitPlan,
    ud: UnitDefects,
    kind: str,
    period: SynthMonth,
    keep_rates: bool = True,
    wide: bool = True,
) -> bool:
    if kind == "not_reported":
        if ud.collection_mode != "upload" or not ud.reported or ud.dropped:
            return False
        # an unreported declaration has no undeclared tables either
        ud.undeclared = []
        ud.defects = [d for d in ud.defects if d.kind != "uploaded_not_declared"]
        ud.reported = False
        ud.defects.append(Defect("not_reported", None, ("declared_tables",), figure=1, origin="coverage"))
        return True
    if kind in ("declared_not_uploaded", "uploaded_not_declared"):
        if ud.collection_mode != "upload" or not ud.reported:
            return False
        if kind == "declared_not_uploaded":
            busy = set(ud.undeclared) | set(ud.dropped) | set(plan.absent)
            free = [t for t in DROPPABLE[plan.kind] if t not in busy]
            if not free:
                return False
            table = str(rng.choice(free))
            ud.dropped.append(table)
            # a table not uploaded carries no row defect
            ud.defects = [d for d in ud.defects if d.kind in SUBMISSION_KINDS or d.table != table]
            ud.defects.append(
                Defect(kind, None, (), figure=1, detail={"tables": list(ud.dropped)}, origin="coverage")
            )
        else:
            ud.undeclared = [str(rng.choice(sorted(_uploaded(plan, ud))))]
            ud.defects.append(
                Defect(kind, None, (), figure=1, detail={"tables": ud.undeclared}, origin="coverage")
            )
        return True
    if kind == "missing_upload_days":
        ud.missing_days = _pick_missing(rng, period.n_days, int(rng.integers(1, 4)))
        ud.defects.append(
            Defect(
                kind,
                _outpatient_table(plan),
                ("upload_time",),
                figure=len(ud.missing_days),
                detail={"days": [d + 1 for d in ud.missing_days]},
                origin="coverage",
            )
        )
        return True
    if kind == "over_reporting":
        if not plan.reference_available:
            return False
        d = _over_reporting(rng, plan, keep_rates)
        if d is None:
            return False
        d.origin = "coverage"
        ud.defects.append(d)
        return True
    opts = _options(plan, kind, _uploaded(plan, ud), wide)
    if not opts:
        return False
    table, cols = opts[int(rng.integers(0, len(opts)))]
    ud.defects.append(Defect(kind, table, cols, rate=_rate(rng, kind), origin="coverage"))
    return True


def _after(plan: UnitPlan, before: UnitDefects, period: SynthMonth, seed: int) -> UnitDefects:
    """Governance: most row defects fixed (:data:`AFTER_PERSIST` persist at about half size), a
    few new; the submission figures follow the unit's after-governance newsletter row."""
    ud = _submission(plan, period, _rng(seed, "submission-after", plan.unit_id), after=True)
    rng = _rng(seed, "after", plan.unit_id)
    uploaded = _uploaded(plan, ud)
    for d in before.row_defects():
        if rng.random() >= AFTER_PERSIST or d.table not in uploaded:
            continue
        ud.defects.append(
            Defect(d.kind, d.table, d.columns, rate=d.rate / 2, detail=dict(d.detail), origin="persisting")
        )
    if rng.random() < AFTER_NEW:
        have = {d.kind for d in ud.defects}
        kinds = [k for k in ROW_KINDS if k not in have and _options(plan, k, uploaded)]
        if kinds:
            kind = kinds[int(rng.integers(0, len(kinds)))]
            opts = _options(plan, kind, uploaded)
            table, cols = opts[int(rng.integers(0, len(opts)))]
            ud.defects.append(Defect(kind, table, cols, rate=_rate(rng, kind) / 2, origin="new"))
    return ud


def plan_batch(plans: list[UnitPlan], period: SynthMonth, seed: int, profile: str) -> dict[str, UnitDefects]:
    """The defect plan of every unit of the batch (may switch a unit to the text style)."""
    if profile not in PROFILES:
        raise UsageError(f"profile must be one of {', '.join(PROFILES)}, got {profile!r}")
    if profile == "steady":
        uds = {p.unit_id: _unit_steady(p, period, seed) for p in plans}
    else:
        u = unit_intensities(plans, seed)
        uds = {p.unit_id: _unit_before(p, period, seed, u[p.unit_id]) for p in plans}
    _cover(plans, uds, period, seed, wide=profile != "steady")
    if profile == "after":
        worse = _worse_units(plans, uds, seed)
        uds = {p.unit_id: _after(p, uds[p.unit_id], period, seed) for p in plans}
        for p in worse:
            _regress(p, uds[p.unit_id], period, seed)
    return uds


def _worse_units(plans: list[UnitPlan], before: dict[str, UnitDefects], seed: int) -> list[UnitPlan]:
    """The units that get worse after the campaign: per kind :data:`AFTER_WORSE` of the units
    (at least one), drawn among the third that was best managed before (the smallest share of
    defective rows) -- the units the campaign did not reach -- that upload something."""
    rng = _rng(seed, "worse", *[p.unit_id for p in plans])
    out = []
    for kind in ("district", "hospital"):
        pool = [p for p in plans if p.kind == kind and not set(p.tables) <= set(p.absent)]
        if not pool:
            continue
        load = {p.unit_id: sum(min(d.rate, 0.1) for d in before[p.unit_id].row_defects()) for p in pool}
        pool.sort(key=lambda p: (load[p.unit_id], p.unit_id))
        best = pool[: max(1, math.ceil(len(pool) / 3))]
        k = max(1, round(AFTER_WORSE * len(pool)))
        out += [best[i] for i in sorted(rng.choice(len(best), min(k, len(best)), replace=False))]
    return out


def _regress(plan: UnitPlan, ud: UnitDefects, period: SynthMonth, seed: int) -> None:
    """A unit that got worse: an upload outage of a few days and, with probability
    :data:`REGRESS_SHARE` per option, new defects at the size of unmanaged data."""
    rng = _rng(seed, "regress", plan.unit_id)
    uploaded = _uploaded(plan, ud)
    have = {(d.kind, d.table, d.columns) for d in ud.defects}
    for kind in ROW_KINDS:
        for table, cols in _options(plan, kind, uploaded):
            hit, rate = rng.random(), float(rng.uniform(*RATE_BEFORE))
            if kind == "late_upload":
                rate = float(rng.uniform(0.05, 0.30))
            if (kind, table, cols) not in have and hit < REGRESS_SHARE:
                ud.defects.append(Defect(kind, table, cols, rate=rate, origin="new"))
    rows = _fit_tables(ud.row_defects())
    ud.defects = [d for d in ud.defects if d.kind in SUBMISSION_KINDS] + rows
    if not ud.missing_days:
        ud.missing_days = _pick_missing(rng, period.n_days, int(rng.integers(3, 6)))
        table = _outpatient_table(plan)
        ud.defects.append(
            Defect(
                "missing_upload_days",
                None if table in plan.absent else table,
                ("upload_time",),
                figure=len(ud.missing_days),
                detail={"days": [d + 1 for d in ud.missing_days]},
                origin="new",
            )
        )


# ============================================================================ row selection


def _eligible(ud: UnitData, d: Defect):
    """A function index-array -> bool-array restricting the rows a defect may use (or None)."""
    t, k = d.on_table, d.kind
    per = ud.period
    if t == "patient_index":
        s = ud.sk[t]
        year = civil_from_days(s["birth"])[0]
        if k in ("bad_id_checksum", "bad_id_birthdate", "id_sex_mismatch") or (
            k == "bad_code" and d.columns == ("id_type",)
        ):
            return lambda i: s["idt"][i] == 0
        if k == "legacy_id15":
            return lambda i: (s["idt"][i] == 0) & (year[i] >= 1920) & (year[i] <= 1984)
        if k == "future_date":
            return lambda i: (s["idt"][i] == 2) & (year[i] >= 1940)
    if t == "resident_record" and k == "legacy_id15":
        year = civil_from_days(ud.sk[t]["birth"])[0]
        return lambda i: (year[i] >= 1920) & (year[i] <= 1984)
    if k == "out_of_range" and t == "vaccination_record":
        # dose 0 on a first dose only: two doses of one vaccine set to 0 would repeat VR-201's key
        dose = ud.sk[t]["dose"]
        return lambda i: dose[i] == 1
    if k == "discharge_before_admission":
        n_surg = ud.sk["inpatient_record"]["n_surg"]
        return lambda i: n_surg[i] == 0
    if k == "orphan_link" and t == "community_visit":
        rec = ud.sk[t]["record"]
        return lambda i: rec[i] >= 0
    # rows 0..n_days-1 of an event table are the ones that guarantee an upload on every day
    # (see UnitData.event_days): defects that move an upload to another day leave them alone
    if k == "late_upload":
        ev = ud.sk[t]["event"]
        return lambda i: ((ev[i] // DAY - per.start_day) <= per.n_days - 3) & (i >= per.n_days)
    if k == "event_out_of_period":
        return lambda i: i >= per.n_days
    return None


def _sample(rng: np.random.Generator, n: int, k: int, used: np.ndarray, ok) -> np.ndarray:
    if n <= 2_000_000:
        mask = ~used
        if ok is not None:
            mask &= ok(np.arange(n))
        pool = np.flatnonzero(mask)
        return np.sort(rng.choice(pool, min(k, len(pool)), replace=False)) if len(pool) else pool
    chosen: list[np.ndarray] = []
    got = 0
    seen = used.copy()
    for _ in range(50):
        cand = np.unique(rng.integers(0, n, max(64, 4 * (k - got))))
        cand = cand[~seen[cand]]
        if ok is not None:
            cand = cand[ok(cand)]
        cand = rng.permutation(cand)[: k - got]
        seen[cand] = True
        chosen.append(cand)
        got += len(cand)
        if got >= k:
            break
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)


def select_rows(ud: UnitData, plan: UnitDefects, seed: int) -> None:
    """Choose the rows of every row/group defect: disjoint within a table, eligible, clean."""
    rng = np.random.default_rng([seed & 0xFFFFFFFF, ud.plan.key, stable_hash("rows")])
    used: dict[str, np.ndarray] = {}
    # rows per defect, at most a tenth of the table; where a table's defects would take more
    # than TABLE_SHARE of its rows (small tables, where every defect takes at least one row),
    # each takes a share, so the last ones planned still get rows
    want: dict[int, int] = {}
    per_table: dict[str, list[int]] = {}
    for i, d in enumerate(plan.row_defects()):
        if d.kind != "diag_main_count":
            n = ud.n[d.on_table]
            want[i] = max(1, min(round(d.rate * n), n // 10))
            per_table.setdefault(d.on_table, []).append(i)
    for table, idx in per_table.items():
        budget, total = int(TABLE_SHARE * ud.n[table]), sum(want[i] for i in idx)
        if total > budget:
            for i in idx:
                want[i] = max(1, want[i] * budget // total)
    for i, d in enumerate(plan.row_defects()):
        if d.kind == "diag_main_count":
            n = ud.n["inpatient_record"]
            k = max(1, round(d.rate * n))
            sel = _sample(rng, n, k, np.zeros(n, dtype=bool), None)
            ip = ud.sk["inpatient_record"]
            two = (ip["n_diag"][sel] >= 2) & (rng.random(len(sel)) < 0.5)
            # zero main diagnoses: the first row becomes '2'; two: the second row becomes '1'
            d.detail["diag_rows"] = ip["diag_offsets"][sel] + two
            d.detail["diag_values"] = np.where(two, "1", "2")
            # a second main diagnosis repeats the main code (DX-302 compares main rows)
            d.detail["diag_codes"] = ud.ref.icd10_code[ud.inpatient_main_diag(sel)]
            d.detail["diag_two"] = two
            d.detail["group_rows"] = int(ip["n_diag"][sel].sum())
            d.rows = sel
            continue
        n = ud.n[d.on_table]
        u = used.setdefault(d.on_table, np.zeros(n, dtype=bool))
        sel = _sample(rng, n, want[i], u, _eligible(ud, d))
        u[sel] = True
        d.rows = sel


# ============================================================================ applying


def _scatter(df: pl.DataFrame, col: str, local: np.ndarray, values) -> pl.DataFrame:
    s = df.get_column(col).clone()
    if not isinstance(values, pl.Series):
        values = pl.Series(values, dtype=s.dtype)
    s.scatter(local, values.cast(s.dtype))
    return df.with_columns(s)


def _dt(seconds: np.ndarray) -> pl.Series:
    return pl.Series(np.asarray(seconds, dtype=np.int64) * 1_000_000).cast(pl.Datetime("us"))


def _choose(rng: np.random.Generator, options: list[str], n: int) -> list[str]:
    return [options[i] for i in rng.integers(0, len(options), n)]


BAD_CODES = {
    "visit_type": ["5", "0", "01", "门诊"],
    "discharge_method": ["6", "0", "01", "治愈"],
    "abnormal_flag": ["X", "+", "HH", "↑"],
    "modality": ["XR", "B超", "ct", "MRI"],
    "id_type": ["1", "身份证", "001"],
}


# One injector per kind: (unit data, defect, chunk, chunk-local rows, base rows, rng) -> chunk.
Injector = Callable[
    ["UnitData", Defect, pl.DataFrame, np.ndarray, np.ndarray, np.random.Generator], pl.DataFrame
]


def _null_required(ud, d, df, local, g, rng):
    return _scatter(df, d.columns[0], local, [None] * len(local))


def _blank_required(ud, d, df, local, g, rng):
    return _scatter(df, d.columns[0], local, _choose(rng, ["", " ", "  "], len(local)))


def _bad_code(ud, d, df, local, g, rng):
    col, n = d.columns[0], len(local)
    if col == "sex_code":
        cur = df.get_column(col).gather(local).to_list()
        return _scatter(
            df,
            col,
            local,
            [
                ("男" if c == "1" else "女") if r < 0.6 else ("M" if c == "1" else "F")
                for c, r in zip(cur, rng.random(n), strict=True)
            ],
        )
    return _scatter(df, col, local, _choose(rng, BAD_CODES[col], n))


def _id_number(ud, d, df, local, g, rng):
    k, n = d.kind, len(local)
    s = ud.sk[d.table]
    y, m, dd = civil_from_days(s["birth"][g])
    area, seq = s["area"][g], s["seq3"][g]
    if k == "bad_id_checksum":
        new = id18_numbers(area, y, m, dd, seq, check_shift=rng.integers(1, 11, n))
    elif k == "legacy_id15":
        new = id15_numbers(area, y, m, dd, seq)
    else:
        # an impossible birth date, injective so two bad numbers never coincide (id_no is
        # unique): day and month swapped when the day is > 12 (DD/MM confusion), else a day
        # of 32..43
        swap = dd > 12
        bm = np.where(swap, dd, m)
        bd = np.where(swap, m, dd + 31)
        new = id18_numbers(area, y, bm, bd, seq)
    return _scatter(df, "id_no", local, new)


def _id_sex_mismatch(ud, d, df, local, g, rng):
    cur = df.get_column("sex_code").gather(local)
    return _scatter(
        df,
        "sex_code",
        local,
        pl.select(pl.when(cur == "1").then(pl.lit("2")).otherwise(pl.lit("1"))).to_series(),
    )


def _bad_classification(ud, d, df, local, g, rng):
    col = d.columns[0]
    cur = df.get_column(col).gather(local)
    v = pl.Series(rng.integers(0, 3, len(local)))
    if d.kind == "bad_icd10":
        alt = [cur.str.replace(".", "", literal=True), cur.str.to_lowercase(), cur.str.slice(0, 2)]
    else:
        alt = [
            cur.str.replace(".", "", literal=True),
            cur.str.slice(0, 5) + "." + cur.str.slice(5),
            cur + "A",
        ]
    new = pl.select(pl.when(v == 0).then(alt[0]).when(v == 1).then(alt[1]).otherwise(alt[2])).to_series()
    return _scatter(df, col, local, new)


def _orphan_link(ud, d, df, local, g, rng):
    col = d.columns[0]
    if col == "record_id":
        new = record_ids(ud.plan.area, 10**8 - 1 - g)
    else:
        kind = ORPHAN_ID[col]
        new = ids(kind, 10 ** ID_FORMAT[kind][1] - 1 - g)
    return _scatter(df, col, local, new)


def _discharge_before_admission(ud, d, df, local, g, rng):
    n = len(local)
    dis = ud.sk["inpatient_record"]["event"][g]
    df = _scatter(df, "admission_time", local, _dt(dis + rng.integers(HOUR, 20 * HOUR, n)))
    return _scatter(df, "length_of_stay", local, np.zeros(n, dtype=np.int64))


def _report_before_specimen(ud, d, df, local, g, rng):
    rep = ud.sk["lab_report"]["event"][g]
    return _scatter(df, "specimen_time", local, _dt(rep + rng.integers(HOUR // 2, 6 * HOUR, len(local))))


def _dbp_not_below_sbp(ud, d, df, local, g, rng):
    sbp = df.get_column("sbp").gather(local).to_numpy()
    return _scatter(df, "dbp", local, np.minimum(sbp + rng.integers(0, 11, len(local)), 200))


def _out_of_range(ud, d, df, local, g, rng):
    col, n = d.columns[0], len(local)
    if col == "quantity":  # zero quantity: amount 0 still equals quantity × price
        df = _scatter(df, "quantity", local, np.zeros(n))
        return _scatter(df, "amount", local, np.zeros(n))
    if col == "sbp":
        return _scatter(df, "sbp", local, rng.integers(301, 400, n))
    if col == "fasting_glucose":
        return _scatter(
            df, col, local, np.where(rng.random(n) < 0.7, np.round(rng.uniform(40, 99, n), 1), 0.5)
        )
    return _scatter(df, col, local, np.zeros(n, dtype=np.int64))  # dose_seq


def _negative_fee(ud, d, df, local, g, rng):
    col = d.columns[0]
    cur = df.get_column(col).gather(local).to_numpy()
    return _scatter(df, col, local, -np.abs(cur) - 0.01)


def _amount_mismatch(ud, d, df, local, g, rng):
    n = len(local)
    cur = df.get_column("amount").gather(local).to_numpy()
    new = np.where(rng.random(n) < 0.5, cur * 10, cur + np.round(rng.uniform(1, 50, n), 2))
    return _scatter(df, "amount", local, np.round(new + 0.01, 2))


def _self_pay_mismatch(ud, d, df, local, g, rng):
    cur = df.get_column("self_pay_amount").gather(local).to_numpy()
    return _scatter(df, "self_pay_amount", local, np.round(cur + rng.uniform(5, 200, len(local)), 2))


def _los_mismatch(ud, d, df, local, g, rng):
    cur = df.get_column("length_of_stay").gather(local).to_numpy()
    return _scatter(df, "length_of_stay", local, cur + rng.integers(3, 11, len(local)))


def _event_out_of_period(ud, d, df, local, g, rng):
    col, n, per = d.columns[0], len(local), ud.period
    if d.table in DATE_EVENTS:
        df = _scatter(df, col, local, pl.Series(np.full(n, per.start_day - 1, dtype=np.int32)).cast(pl.Date))
        up = per.start_s + rng.integers(8 * HOUR, 20 * HOUR, n)
    else:
        df = _scatter(df, col, local, _dt(per.start_s - rng.integers(HOUR, 20 * HOUR, n)))
        up = per.start_s + rng.integers(600, 3 * HOUR, n)
    return _scatter(df, "upload_time", local, _dt(up))


def _future_date(ud, d, df, local, g, rng):  # a century typo: 1987 -> 2087
    birth = ud.sk["patient_index"]["birth"][g]
    return _scatter(df, d.columns[0], local, pl.Series((birth + 36524).astype(np.int32)).cast(pl.Date))


def _late_upload(ud, d, df, local, g, rng):
    n, per = len(local), ud.period
    ev = ud.sk[d.table]["event"][g]
    day = ev // DAY - per.start_day
    new = np.minimum(day + rng.integers(2, 5, n), per.n_days - 1)
    missing = np.isin(new, ud.missing)
    new = new + missing  # missing days are never adjacent nor the last day
    up = (per.start_day + new) * DAY + tod_clinic(rng, n)
    return _scatter(df, "upload_time", local, _dt(up))


# Kinds applied elsewhere: duplicate_key and diag_main_count (apply_rows), unparseable_date
# (apply_text); submission kinds change the manifest and the upload days, not rows.
INJECTORS: dict[str, Injector] = {
    "null_required": _null_required,
    "blank_required": _blank_required,
    "bad_code": _bad_code,
    "bad_id_checksum": _id_number,
    "bad_id_birthdate": _id_number,
    "legacy_id15": _id_number,
    "id_sex_mismatch": _id_sex_mismatch,
    "bad_icd10": _bad_classification,
    "bad_icd9cm3": _bad_classification,
    "orphan_link": _orphan_link,
    "discharge_before_admission": _discharge_before_admission,
    "report_before_specimen": _report_before_specimen,
    "dbp_not_below_sbp": _dbp_not_below_sbp,
    "out_of_range": _out_of_range,
    "negative_fee": _negative_fee,
    "amount_mismatch": _amount_mismatch,
    "self_pay_mismatch": _self_pay_mismatch,
    "los_mismatch": _los_mismatch,
    "event_out_of_period": _event_out_of_period,
    "future_date": _future_date,
    "late_upload": _late_upload,
}
_ELSEWHERE = {"duplicate_key", "diag_main_count", "unparseable_date"}
if set(INJECTORS) != set(ROW_KINDS) - _ELSEWHERE:  # pragma: no cover - a kind added without injector
    raise RuntimeError(f"kinds without injector: {sorted(set(ROW_KINDS) - _ELSEWHERE - set(INJECTORS))}")


def apply_rows(
    ud: UnitData, plan: UnitDefects, table: str, df: pl.DataFrame, start: int, stop: int, seed: int
) -> pl.DataFrame:
    """Apply the typed-level defects of ``table`` to its clean rows [start, stop)."""
    rng = np.random.default_rng([seed & 0xFFFFFFFF, ud.plan.key, stable_hash("apply", table, start)])
    dups = None
    for d in plan.row_defects(table):
        if d.kind == "unparseable_date":
            continue
        if d.kind == "diag_main_count":
            rows = d.detail["diag_rows"]
            m = (rows >= start) & (rows < stop)
            if m.any():
                df = _scatter(df, "diag_type", rows[m] - start, list(d.detail["diag_values"][m]))
                two = m & d.detail["diag_two"]
                if two.any():
                    df = _scatter(df, "diagnosis_code", rows[two] - start, list(d.detail["diag_codes"][two]))
            continue
        g = d.picked[(d.picked >= start) & (d.picked < stop)]
        if not len(g):
            continue
        local = g - start
        if d.kind == "duplicate_key":
            dups = local if dups is None else np.concatenate([dups, local])
            continue
        df = INJECTORS[d.kind](ud, d, df, local, g, rng)
    if dups is not None:
        df = pl.concat([df, df[np.sort(dups)]])
    return df


def apply_text(
    ud: UnitData, plan: UnitDefects, table: str, df: pl.DataFrame, start: int, stop: int, seed: int
) -> pl.DataFrame:
    """Apply the text-level defects (values no reader can parse) to a text-styled chunk."""
    rng = np.random.default_rng([seed & 0xFFFFFFFF, ud.plan.key, stable_hash("text", table, start)])
    for d in plan.row_defects(table):
        if d.kind != "unparseable_date":
            continue
        g = d.picked[(d.picked >= start) & (d.picked < stop)]
        if not len(g):
            continue
        local = g - start
        col = d.columns[0]
        n = len(g)
        v = rng.integers(0, 3, n)
        typ = _column_type(table, col)
        y = civil_from_days(np.array([ud.period.start_day]))[0][0]
        if typ == "datetime":
            alt = (
                [f"{y}0230101500", f"{y}1305081200", f"{y}0915251000"]
                if ud.plan.compact_dates
                else [f"{y}-02-30 10:15:00", f"{y}-13-05 08:12:00", f"{y}-09-15 25:10:00"]
            )
        elif typ == "date":
            alt = (
                [f"{y}0230", f"{y}1305", f"{y}0010"]
                if ud.plan.compact_dates
                else [f"{y}-02-30", f"{y}-13-05", f"{y}-00-10"]
            )
        else:  # a number written as text no reader takes
            alt = ["N/A", "约10", "10元"]
        new = [alt[i] for i in v]
        df = _scatter(df, col, local, new)
    return df


def _column_type(table: str, column: str) -> str:
    from dq.io.catalogue import load_catalogue

    spec = load_catalogue().tables[table].column(column)
    if spec is None:
        raise KeyError(f"{table}.{column} is not a column of the catalogue")
    return spec.type


def truth_count(d: Defect) -> int:
    """The number dq should count for this defect."""
    if d.kind in SUBMISSION_KINDS:
        return d.figure
    n = 0 if d.rows is None else len(d.rows)
    return 2 * n if d.kind == "duplicate_key" else n
