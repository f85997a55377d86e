"""Clean rows of every table of a unit, built in two steps.

1. :meth:`UnitData.build` draws a *skeleton*: the numeric facts other tables or defects depend on
   (who a visit belongs to, event and upload times, items per prescription, …), as whole-table
   numpy arrays. Only parent tables and per-row integers are kept, so even scale 1.0 fits easily.
2. :meth:`UnitData.chunk` turns rows ``[start, stop)`` of one table into a typed polars frame
   (catalogue column order, plus ``upload_time``), drawing the remaining values (names, codes,
   fees …) from a generator seeded by (seed, unit, table, chunk).

Every random stream is seeded from (seed, unit, purpose), never from the profile or the defects,
so ``--profile before`` and ``--profile after`` share the same base data. All times are int64
seconds since 1970-01-01 (naive local time); dates are int days.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from dq.synth._plan import SynthMonth, UnitPlan
from dq.synth._values import (
    Reference,
    civil_from_days,
    id18_numbers,
    names,
    passport_numbers,
    phones,
    sex_seq3,
    stable_hash,
)

__all__ = ["DAY", "EVENT_COLUMNS", "UnitData", "ids"]

DAY = 86400
HOUR = 3600

# the column whose time the upload is measured against (the catalogue's event_time)
EVENT_COLUMNS = {
    "outpatient_visit": "visit_time",
    "inpatient_record": "discharge_time",
    "surgery_record": "operation_time",
    "lab_report": "report_time",
    "exam_report": "report_time",
    "fee_settlement": "settle_time",
    "resident_record": "create_date",
    "hypertension_followup": "followup_date",
    "diabetes_followup": "followup_date",
    "community_visit": "visit_time",
    "vaccination_record": "vaccination_date",
    "family_doctor_contract": "sign_date",
}
DATE_EVENTS = {
    "resident_record",
    "hypertension_followup",
    "diabetes_followup",
    "vaccination_record",
    "family_doctor_contract",
}

# id prefixes and digit widths
ID_FORMAT = {
    "patient": ("P", 9),
    "visit": ("MZ", 10),
    "prescription": ("CF", 10),
    "inpatient": ("ZY", 9),
    "surgery": ("SS", 9),
    "lab": ("JY", 10),
    "exam": ("JC", 10),
    "settlement": ("JS", 10),
    "followup_ht": ("GXY", 10),
    "followup_dm": ("TNB", 10),
    "cvisit": ("SQ", 10),
    "vaccination": ("YM", 10),
    "contract": ("QY", 10),
    "doctor": ("YS", 5),
}
MODALITIES = np.array(["DR", "CT", "US", "MR", "ES", "CR", "XA", "NM", "PET", "OT"], dtype=object)
MODALITY_P = np.array([0.3, 0.25, 0.25, 0.1, 0.04, 0.02, 0.01, 0.005, 0.005, 0.02])
LAB_PANELS = ["CBC", "LFT", "RFT", "LIP", "ELE", "COAG", "URINE", "INF", "THY", "CARD", "DM"]
LAB_PANEL_P = np.array([0.3, 0.12, 0.1, 0.08, 0.08, 0.06, 0.12, 0.05, 0.03, 0.03, 0.03])


def ids(kind: str, idx: np.ndarray) -> pl.Series:
    """String ids like 'MZ0000000042' from integer indices."""
    prefix, width = ID_FORMAT[kind]
    return prefix + pl.Series(np.asarray(idx, dtype=np.int64)).cast(pl.String).str.zfill(width)


def record_ids(area: str, idx: np.ndarray) -> pl.Series:
    """17-digit health-record numbers: area code, 3-digit centre, 8-digit sequence."""
    idx = np.asarray(idx, dtype=np.int64)
    centre = 1 + idx % 7
    num = int(area) * 10**11 + centre * 10**8 + idx
    return pl.Series(num).cast(pl.String)


def _dt(seconds: np.ndarray) -> pl.Series:
    return pl.Series(np.asarray(seconds, dtype=np.int64) * 1_000_000).cast(pl.Datetime("us"))


def _date(days: np.ndarray) -> pl.Series:
    return pl.Series(np.asarray(days, dtype=np.int32)).cast(pl.Date)


def _str(values: np.ndarray) -> pl.Series:
    """Text column from an array of str (None entries become nulls)."""
    arr = np.asarray(values, dtype=object)
    missing = np.equal(arr, np.array(None, dtype=object))
    if not missing.any():
        return pl.Series(arr.astype(str), dtype=pl.String)
    s = pl.Series(np.where(missing, "", arr).astype(str), dtype=pl.String)
    return pl.select(pl.when(pl.lit(pl.Series(~missing))).then(pl.lit(s))).to_series()


def _money(x: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(x, dtype=np.float64), 2)


def tod_clinic(rng: np.random.Generator, n: int) -> np.ndarray:
    """Time of day in seconds: mostly clinic hours, some at any time."""
    u = rng.random(n)
    morning = rng.uniform(7.5 * HOUR, 11.75 * HOUR, n)
    afternoon = rng.uniform(13.5 * HOUR, 17.25 * HOUR, n)
    anytime = rng.uniform(0, DAY - 1, n)
    return np.where(u < 0.5, morning, np.where(u < 0.85, afternoon, anytime)).astype(np.int64)


class UnitData:
    """The skeleton of one unit and the chunk generators of its tables."""

    def __init__(
        self,
        plan: UnitPlan,
        period: SynthMonth,
        seed: int,
        missing_days: list[int],
        ref: Reference,
    ):
        self.plan = plan
        self.period = period
        self.seed = seed
        self.missing = np.array(sorted(missing_days), dtype=np.int64)
        self.ref = ref
        self.n: dict[str, int] = {}
        self.sk: dict[str, dict[str, np.ndarray]] = {}
        self.lab_matrix = np.zeros((0, 0), dtype=np.int64)

    # ------------------------------------------------------------------ randomness
    def rng(self, *purpose: object) -> np.random.Generator:
        return np.random.default_rng(
            [self.seed & 0xFFFFFFFF, self.seed >> 32 & 0xFFFFFFFF, self.plan.key, stable_hash(*purpose)]
        )

    # ------------------------------------------------------------------ time helpers
    def event_days(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Day offsets in the period; the first rows cover every day once (uploads every day)."""
        nd = self.period.n_days
        days = rng.integers(0, nd, n)
        k = min(n, nd)
        days[:k] = rng.permutation(nd)[:k]
        return days

    def on_missing(self, seconds: np.ndarray) -> np.ndarray:
        if not len(self.missing):
            return np.zeros(len(seconds), dtype=bool)
        return np.isin(seconds // DAY - self.period.start_day, self.missing)

    def upload_for(self, rng: np.random.Generator, event_s: np.ndarray, date_event: bool) -> np.ndarray:
        """Upload times: the event's day, minutes to hours later; the next day for events on a
        day without uploads (still within one day of the event)."""
        n = len(event_s)
        if date_event:
            up = event_s + rng.integers(8 * HOUR, 23 * HOUR + 3000, n)
        else:
            eod = (event_s // DAY + 1) * DAY
            lag = (rng.exponential(1.5 * HOUR, n) + 20).astype(np.int64)
            rest = eod - 1 - event_s  # an upload that would spill into the next day: later today
            lag = np.where(lag > rest, (rng.random(n) * rest).astype(np.int64), lag)
            up = event_s + np.maximum(lag, 0)
        moved = self.on_missing(up)
        if moved.any():
            ev = event_s[moved]
            if date_event:
                up[moved] = ev + DAY + rng.integers(6 * HOUR, 20 * HOUR, int(moved.sum()))
            else:
                tod = ev % DAY
                u = (rng.random(int(moved.sum())) * np.minimum(tod, HOUR)).astype(np.int64)
                up[moved] = ev + DAY - u
        return up

    def upload_free(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Upload times of rows without an event (patients): any day of the period."""
        days = self.event_days(rng, n)
        up = (self.period.start_day + days) * DAY + tod_clinic(rng, n)
        moved = self.on_missing(up)
        up[moved] += DAY
        return up

    @staticmethod
    def upload_child(rng: np.random.Generator, parent_up: np.ndarray) -> np.ndarray:
        """Rows uploaded with their parent: seconds later, same day."""
        eod = (parent_up // DAY + 1) * DAY
        return np.minimum(parent_up + rng.integers(0, 120, len(parent_up)), eod - 1)

    # ------------------------------------------------------------------ skeleton
    def build(self) -> UnitData:
        if self.plan.kind == "hospital":
            self._build_hospital()
        else:
            self._build_district()
        return self

    def _people(self, rng: np.random.Generator, n: int, ages: np.ndarray) -> dict[str, np.ndarray]:
        start = self.period.start_day
        birth = start - (ages * 365.25).astype(np.int64) - rng.integers(1, 365, n)
        male = rng.random(n) < 0.49
        seq3 = sex_seq3(rng, np.where(male, "1", "2"))
        y, _, _ = civil_from_days(birth)
        # abolished district codes (白下, 下关, the old counties) live on in older numbers
        home = np.full(n, int(self.plan.area), dtype=np.int64)
        anyarea = self.ref.area_code[rng.integers(0, len(self.ref.area_code), n)].astype(np.int64)
        current = self.ref.area_current[rng.integers(0, len(self.ref.area_current), n)].astype(np.int64)
        other = np.where(y < 2013, anyarea, current)
        area = np.where(rng.random(n) < 0.55, home, other)
        # the same area, birth date and order code would be the same person: redraw the code
        for _ in range(20):
            key = (area * 100_000 + (birth - start + 60_000)) * 1000 + seq3
            _, first = np.unique(key, return_index=True)
            dup = np.ones(n, dtype=bool)
            dup[first] = False
            if not dup.any():
                break
            seq3[dup] = sex_seq3(rng, np.where(male[dup], "1", "2"))
        return {"birth": birth, "male": male, "seq3": seq3, "area": area}

    def _build_hospital(self) -> None:
        c, ref, per = self.plan.counts, self.ref, self.period
        f = self.plan.factor
        n_pat, v, d = c["patient_index"], c["outpatient_visit"], c["inpatient_record"]
        r, x = c["lab_report"], c["exam_report"]

        rng = self.rng("skel", "patient_index")
        u = rng.random(n_pat)
        ages = np.where(
            u < 0.16,
            rng.uniform(0, 15, n_pat),
            np.where(u < 0.7, rng.uniform(15, 65, n_pat), rng.uniform(65, 96, n_pat)),
        )
        pat = self._people(rng, n_pat, ages)
        # id_type: 0 '01' resident ID, 1 '02' household register, 2 '03' passport, 3 '06' HK/Macau
        t = rng.random(n_pat)
        idt = np.where(t < 0.02, 2, np.where(t < 0.03, 3, np.where((ages < 16) & (t < 0.25), 1, 0)))
        y, _, _ = civil_from_days(pat["birth"])
        if ((idt == 2) & (y >= 1940)).sum() < 8:  # enough foreign patients for the defects
            adults = np.flatnonzero((y >= 1940) & (y <= 2000))
            idt[rng.choice(adults, min(8, len(adults)), replace=False)] = 2
        pat["idt"] = idt
        pat["up"] = self.upload_free(rng, n_pat)
        self.sk["patient_index"] = pat
        self.n["patient_index"] = n_pat

        rng = self.rng("skel", "outpatient_visit")
        vtype = rng.choice(4, v, p=[0.85, 0.13, 0.015, 0.005])
        day = self.event_days(rng, v)
        tod = np.where(vtype == 1, rng.integers(0, DAY, v), tod_clinic(rng, v))
        vs = (per.start_day + day) * DAY + tod
        items = 1 + rng.poisson(max(0.1, 3 * f - 1), v)
        self.sk["outpatient_visit"] = {
            "patient": rng.integers(0, n_pat, v),
            "vtype": vtype,
            "event": vs,
            "up": self.upload_for(rng, vs, False),
            "fee": _money(rng.lognormal(math.log(180), 0.9, v) + 5),
            "items": items,
            "offsets": np.concatenate([[0], np.cumsum(items)]),
        }
        self.n["outpatient_visit"] = v
        self.n["outpatient_prescription"] = int(items.sum())

        rng = self.rng("skel", "inpatient_record")
        day = self.event_days(rng, d)
        dis = (per.start_day + day) * DAY + rng.integers(8 * HOUR, 18 * HOUR, d)
        los = np.clip(np.round(rng.lognormal(math.log(6.5), 0.65, d)), 1, 90).astype(np.int64)
        los[rng.random(d) < 0.03] = 0  # day cases
        adm_day = dis // DAY - los
        dis_tod = dis % DAY
        adm_tod = np.where(los == 0, (rng.random(d) * dis_tod).astype(np.int64), rng.integers(0, DAY, d))
        adm = adm_day * DAY + adm_tod
        n_diag = 1 + rng.binomial(4, 0.4, d)
        n_surg = rng.choice(3, d, p=[0.62, 0.32, 0.06])
        short = 30 - int(n_surg.sum())
        if short > 0:
            free = np.flatnonzero(n_surg == 0)
            n_surg[rng.choice(free, min(short, max(0, len(free) - 10)), replace=False)] = 1
        self.sk["inpatient_record"] = {
            "patient": rng.integers(0, n_pat, d),
            "event": dis,
            "adm": adm,
            "los": los,
            "up": self.upload_for(rng, dis, False),
            "fee": _money(rng.lognormal(math.log(12000), 0.7, d)),
            "n_diag": n_diag,
            "diag_offsets": np.concatenate([[0], np.cumsum(n_diag)]),
            "n_surg": n_surg,
        }
        self.n["inpatient_record"] = d
        self.n["inpatient_diagnosis"] = int(n_diag.sum())

        rng = self.rng("skel", "surgery_record")
        ip = self.sk["inpatient_record"]
        parent = np.repeat(np.arange(d), n_surg)
        lo = np.maximum(ip["adm"][parent], per.start_s)
        hi = ip["event"][parent]
        op = lo + (rng.random(len(parent)) * (hi - lo)).astype(np.int64)
        self.sk["surgery_record"] = {
            "parent": parent,
            "event": op,
            "up": self.upload_for(rng, op, False),
        }
        self.n["surgery_record"] = len(parent)

        rng = self.rng("skel", "lab_report")
        p_in = 4 * d / (0.3 * v + 4 * d)
        from_ip = rng.random(r) < p_in
        src = np.where(from_ip, rng.integers(0, d, r), rng.integers(0, v, r))
        patient = np.where(
            from_ip,
            ip["patient"][np.minimum(src, d - 1)],
            self.sk["outpatient_visit"]["patient"][np.minimum(src, v - 1)],
        )
        day = self.event_days(rng, r)
        rep = (per.start_day + day) * DAY + tod_clinic(rng, r)
        panel = rng.choice(len(LAB_PANELS), r, p=LAB_PANEL_P)
        sizes = np.array([len(ref.lab_panel_items[p]) for p in LAB_PANELS])
        size = sizes[panel]
        n_items = np.maximum(1, size - rng.integers(0, np.maximum(1, size // 3) + 1))
        self.lab_matrix = np.full((len(LAB_PANELS), sizes.max()), -1, dtype=np.int64)
        for i, p in enumerate(LAB_PANELS):
            self.lab_matrix[i, : sizes[i]] = ref.lab_panel_items[p]
        self.sk["lab_report"] = {
            "from_ip": from_ip,
            "src": src,
            "patient": patient,
            "event": rep,
            "specimen": rep - rng.integers(20 * 60, 30 * HOUR, r),
            "up": self.upload_for(rng, rep, False),
            "panel": panel,
            "items": n_items,
            "offsets": np.concatenate([[0], np.cumsum(n_items)]),
        }
        self.n["lab_report"] = r
        self.n["lab_result"] = int(n_items.sum())

        rng = self.rng("skel", "exam_report")
        day = self.event_days(rng, x)
        rep = (per.start_day + day) * DAY + tod_clinic(rng, x)
        self.sk["exam_report"] = {
            "patient": rng.integers(0, n_pat, x),
            "event": rep,
            "exam": rep - rng.integers(30 * 60, 30 * HOUR, x),
            "up": self.upload_for(rng, rep, False),
        }
        self.n["exam_report"] = x

        rng = self.rng("skel", "fee_settlement")
        ov = self.sk["outpatient_visit"]
        ev = np.concatenate([ov["event"], ip["event"]])
        eod = (ev // DAY + 1) * DAY
        settle = np.minimum(ev + rng.integers(120, 2 * HOUR, v + d), eod - 1)
        self.sk["fee_settlement"] = {
            "event": settle,
            "up": self.upload_for(rng, settle, False),
            "total": np.concatenate([ov["fee"], ip["fee"]]),
        }
        self.n["fee_settlement"] = v + d

    def _build_district(self) -> None:
        c, per = self.plan.counts, self.period
        b = c["resident_record"]
        rng = self.rng("skel", "resident_record")
        child = np.arange(b) % 10 == 0
        u = rng.random(b)
        adult_age = np.where(u < 0.45, rng.uniform(18, 60, b), rng.uniform(60, 96, b))
        ages = np.where(child, rng.uniform(0.1, 6.5, b), adult_age)
        people = self._people(rng, b, ages)
        day = self.event_days(rng, b)
        create = (per.start_day + day) * DAY
        people.update({"event": create, "up": self.upload_for(rng, create, True)})
        self.sk["resident_record"] = people
        self.n["resident_record"] = b
        n_adults = b - math.ceil(b / 10)

        def adult_index(ordinal: np.ndarray) -> np.ndarray:  # adults are records i % 10 != 0
            return 10 * (ordinal // 9) + ordinal % 9 + 1

        for table in ("hypertension_followup", "diabetes_followup"):
            n = c[table]
            rng = self.rng("skel", table)
            day = self.event_days(rng, n)
            ev = (per.start_day + day) * DAY
            self.sk[table] = {
                "record": adult_index(rng.choice(n_adults, n, replace=False)),
                "event": ev,
                "up": self.upload_for(rng, ev, True),
            }
            self.n[table] = n

        n = c["community_visit"]
        rng = self.rng("skel", "community_visit")
        day = self.event_days(rng, n)
        ev = (per.start_day + day) * DAY + tod_clinic(rng, n)
        rec = rng.integers(0, b, n)
        rec[rng.random(n) < 0.1] = -1  # walk-in patients without a health record
        self.sk["community_visit"] = {
            "record": rec,
            "event": ev,
            "up": self.upload_for(rng, ev, False),
        }
        self.n["community_visit"] = n

        n = c["vaccination_record"]
        rng = self.rng("skel", "vaccination_record")
        day = self.event_days(rng, n)
        ev = (per.start_day + day) * DAY
        # one row per (child, vaccine, dose): draw distinct slots of children x doses
        doses = np.where(self.ref.vaccine_min_age <= 72, self.ref.vaccine_doses, 0)  # children
        slot_vaccine = np.repeat(np.arange(len(doses)), doses)
        slot_dose = np.concatenate([np.arange(1, k + 1) for k in doses if k])
        code = rng.choice(math.ceil(b / 10) * len(slot_vaccine), n, replace=False)
        self.sk["vaccination_record"] = {
            "record": 10 * (code // len(slot_vaccine)),
            "vaccine": slot_vaccine[code % len(slot_vaccine)],
            "dose": slot_dose[code % len(slot_vaccine)],
            "event": ev,
            "up": self.upload_for(rng, ev, True),
        }
        self.n["vaccination_record"] = n

        n = c["family_doctor_contract"]
        rng = self.rng("skel", "family_doctor_contract")
        day = self.event_days(rng, n)
        ev = (per.start_day + day) * DAY
        self.sk["family_doctor_contract"] = {
            "record": rng.integers(0, b, n),
            "event": ev,
            "up": self.upload_for(rng, ev, True),
        }
        self.n["family_doctor_contract"] = n

    # ------------------------------------------------------------------ chunks
    def chunk(self, table: str, start: int, stop: int) -> pl.DataFrame:
        """Clean rows [start, stop) of ``table`` as a typed frame (catalogue order + upload_time)."""
        rng = self.rng("chunk", table, start)
        return getattr(self, f"_t_{table}")(rng, np.arange(start, stop, dtype=np.int64))

    def doctors(self, rng: np.random.Generator, n: int, pool: int) -> pl.Series:
        return ids("doctor", self.plan.key % 900 * 100 + rng.integers(0, max(20, pool), n))

    def _t_patient_index(self, rng: np.random.Generator, rows: np.ndarray) -> pl.DataFrame:
        s = self.sk["patient_index"]
        n = len(rows)
        idt, birth, male = s["idt"][rows], s["birth"][rows], s["male"][rows]
        sex = np.where(male, "1", "2")
        y, m, d = civil_from_days(birth)
        gb = id18_numbers(s["area"][rows], y, m, d, s["seq3"][rows])
        passport = passport_numbers(rows, "E", self.plan.key % 90_000_000)
        hk = passport_numbers(rows, "H", self.plan.key % 70_000_000)
        id_no = pl.select(
            pl.when(pl.lit(pl.Series(idt <= 1)))
            .then(pl.lit(gb))
            .when(pl.lit(pl.Series(idt == 2)))
            .then(pl.lit(passport))
            .otherwise(pl.lit(hk))
        ).to_series()
        ph = phones(rng, n)
        ph = pl.select(pl.when(pl.lit(pl.Series(rng.random(n) < 0.93))).then(pl.lit(ph))).to_series()
        addr = self.ref.area_current[rng.integers(0, len(self.ref.area_current), n)]
        addr = np.where(rng.random(n) < 0.6, self.plan.area, addr)
        addr = np.where(rng.random(n) < 0.05, np.array(None, dtype=object), addr)
        return pl.DataFrame(
            {
                "patient_id": ids("patient", rows),
                "id_type": _str(np.array(["01", "02", "03", "06"], dtype=object)[idt]),
                "id_no": id_no,
                "name": names(rng, sex, self.ref),
                "sex_code": _str(sex.astype(object)),
                "birth_date": _date(birth),
                "phone": ph,
                "address_code": _str(addr),
                "upload_time": _dt(s["up"][rows]),
            }
        )

    def _diag(self, rng: np.random.Generator, n: int, inpatient: bool) -> np.ndarray:
        p = self.ref.icd10_p_in if inpatient else self.ref.icd10_p_out
        return rng.choice(len(p), n, p=p)

    def _t_outpatient_visit(self, rng: np.random.Generator, rows: np.ndarray) -> pl.DataFrame:
        s, ref = self.sk["outpatient_visit"], self.ref
        n = len(rows)
        dx = self._diag(rng, n, False)
        dept = ref.dept_code[rng.integers(0, len(ref.dept_code), n)]
        return pl.DataFrame(
            {
                "visit_id": ids("visit", rows),
                "patient_id": ids("patient", s["patient"][rows]),
                "visit_type": _str(np.array(["1", "2", "3", "9"], dtype=object)[s["vtype"][rows]]),
                "visit_time": _dt(s["event"][rows]),
                "dept_code": _str(dept),
                "doctor_id": self.doctors(rng, n, self.n["outpatient_visit"] // 400),
                "diagnosis_code": _str(ref.icd10_code[dx]),
                "diagnosis_name": _str(ref.icd10_name[dx]),
                "total_fee": s["fee"][rows],
                "upload_time": _dt(s["up"][rows]),
            }
        )

    def _t_outpatient_prescription(self, rng: np.random.Generator, rows: np.ndarray) -> pl.DataFrame:
        s, ref = self.sk["outpatient_visit"], self.ref
        n = len(rows)
        parent = np.searchsorted(s["offsets"], rows, side="right") - 1
        item = rows - s["offsets"][parent] + 1
        drug = rng.integers(0, len(ref.drug_code), n)
        qty = rng.integers(1, ref.drug_max_qty[drug] + 1).astype(np.float64)
        price = ref.drug_price[drug]
        return pl.DataFrame(
            {
                "prescription_id": ids("prescription", parent),
                "item_no": item,
                "visit_id": ids("visit", parent),
                "drug_code": _str(ref.drug_code[drug]),
                "drug_name": _str(ref.drug_name[drug]),
                "quantity": qty,
                "unit_price": price,
                "amount": _money(qty * price),
                "upload_time": _dt(self.upload_child(rng, s["up"][parent])),
            }
        )

    def _t_inpatient_record(self, rng: np.random.Generator, rows: np.ndarray) -> pl.DataFrame:
        s, ref = self.sk["inpatient_record"], self.ref
        n = len(rows)
        dx = self.inpatient_main_diag(rows)
        wards = np.flatnonzero(~ref.dept_outpatient_only)
        dept = ref.dept_code[wards[rng.integers(0, len(wards), n)]]
        method = rng.choice(6, n, p=[0.9, 0.03, 0.02, 0.03, 0.01, 0.01])
        return pl.DataFrame(
            {
                "inpatient_id": ids("inpatient", rows),
                "patient_id": ids("patient", s["patient"][rows]),
                "admission_time": _dt(s["adm"][rows]),
                "discharge_time": _dt(s["event"][rows]),
                "dept_code": _str(dept),
                "diagnosis_code": _str(ref.icd10_code[dx]),
                "discharge_method": _str(np.array(["1", "2", "3", "4", "5", "9"], dtype=object)[method]),
                "length_of_stay": np.maximum(s["los"][rows], 1),  # a same-day stay counts 1
                "total_fee": s["fee"][rows],
                "upload_time": _dt(s["up"][rows]),
            }
        )

    def inpatient_main_diag(self, inpatients: np.ndarray) -> np.ndarray:
        """The main diagnosis of each inpatient (the same in the record and in its diagnoses)."""
        rng = np.random.default_rng([self.seed & 0xFFFFFFFF, self.plan.key, stable_hash("maindx")])
        p = self.ref.icd10_p_in
        # a per-inpatient draw independent of chunking: hash the index into [0, 1)
        u = (np.asarray(inpatients, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(11)
        draw = (u.astype(np.float64) / float(1 << 53) + rng.random()) % 1.0
        return np.minimum(np.searchsorted(np.cumsum(p), draw, side="right"), len(p) - 1)

    def _t_inpatient_diagnosis(self, rng: np.random.Generator, rows: np.ndarray) -> pl.DataFrame:
        s, ref = self.sk["inpatient_record"], self.ref
        parent = np.searchsorted(s["diag_offsets"], rows, side="right") - 1
        seq = rows - s["diag_offsets"][parent] + 1
        other = self._diag(rng, len(rows), True)
        dx = np.where(seq == 1, self.inpatient_main_diag(parent), other)
        return pl.DataFrame(
            {
                "inpatient_id": ids("inpatient", parent),
                "diag_seq": seq,
                "diag_type": _str(np.where(seq == 1, "1", "2").astype(object)),
                "diagnosis_code": _str(ref.icd10_code[dx]),
                "upload_time": _dt(self.upload_child(rng, s["up"][parent])),
            }
        )

    def _t_surgery_record(self, rng: np.random.Generator, rows: np.ndarray) -> pl.DataFrame:
        s, ref = self.sk["surgery_record"], self.ref
        op = rng.choice(len(ref.icd9_code), len(rows), p=ref.icd9_p)
        return pl.DataFrame(
            {
                "surgery_id": ids("surgery", rows),
                "inpatient_id": ids("inpatient", s["parent"][rows]),
                "operation_code": _str(ref.icd9_code[op]),
                "operation_time": _dt(s["event"][rows]),
                "upload_time": _dt(s["up"][rows]),
            }
        )

    def _t_lab_report(self, rng: np.random.Generator, rows: np.ndarray) -> pl.DataFrame:
        s = self.sk["lab_report"]
        n = len(rows)
        from_ip, src = s["from_ip"][rows], s["src"][rows]
        visit = pl.select(
            pl.when(pl.lit(pl.Series(from_ip)))
            .then(pl.lit(ids("inpatient", src)))
            .otherwise(pl.lit(ids("visit", src)))
        ).to_series()
        visit = pl.select(pl.when(pl.lit(pl.Series(rng.random(n) >= 0.05))).then(pl.lit(visit))).to_series()
        return pl.DataFrame(
            {
                "report_id": ids("lab", rows),
                "patient_id": ids("patient", s["patient"][rows]),
                "visit_id": visit,
                "specimen_time": _dt(s["specimen"][rows]),
                "report_time": _dt(s["event"][rows]),
                "upload_time": _dt(s["up"][rows]),
            }
        )

    def _t_lab_result(self, rng: np.random.Generator, rows: np.ndarray) -> pl.DataFrame:
        s, ref = self.sk["lab_report"], self.ref
        n = len(rows)
        parent = np.searchsorted(s["offsets"], rows, side="right") - 1
        j = rows - s["offsets"][parent]
        item = self.lab_matrix[s["panel"][parent], j]
        lo, hi, qual = ref.lab_low[item], ref.lab_high[item], ref.lab_qual[item]
        lo = np.nan_to_num(lo, nan=0.0)
        hi = np.nan_to_num(hi, nan=1.0)
        width = hi - lo
        u = rng.random(n)
        val = np.where(
            u < 0.8,
            lo + rng.random(n) * width,
            np.where(u < 0.9, hi + rng.random(n) * width * 0.8, lo - rng.random(n) * lo * 0.5),
        )
        flag = np.where(val > hi, "H", np.where(val < lo, "L", "N")).astype(object)
        decimals = np.where(hi >= 100, 0, np.where(hi >= 10, 1, 2))
        vtext = pl.select(
            pl.when(pl.lit(pl.Series(decimals == 0)))
            .then(pl.lit(pl.Series(np.round(val))).cast(pl.Int64).cast(pl.String))
            .when(pl.lit(pl.Series(decimals == 1)))
            .then(pl.lit(pl.Series(np.round(val, 1))).cast(pl.String))
            .otherwise(pl.lit(pl.Series(np.round(val, 2))).cast(pl.String))
        ).to_series()
        pos = rng.random(n) < 0.08
        qtext = np.where(pos, np.where(rng.random(n) < 0.5, "阳性(+)", "弱阳性(±)"), "阴性(-)")
        result = pl.select(
            pl.when(pl.lit(pl.Series(qual))).then(pl.lit(_str(qtext.astype(object)))).otherwise(pl.lit(vtext))
        ).to_series()
        flag = np.where(qual, np.where(pos, "A", "N"), flag)
        return pl.DataFrame(
            {
                "report_id": ids("lab", parent),
                "item_code": _str(ref.lab_code[item]),
                "item_name": _str(ref.lab_name[item]),
                "result_value": result,
                "unit": _str(ref.lab_unit[item]),
                "abnormal_flag": _str(flag.astype(object)),
                "upload_time": _dt(self.upload_child(rng, s["up"][parent])),
            }
        )

    def _t_exam_report(self, rng: np.random.Generator, rows: np.ndarray) -> pl.DataFrame:
        s = self.sk["exam_report"]
        mod = rng.choice(len(MODALITIES), len(rows), p=MODALITY_P)
        return pl.DataFrame(
            {
                "report_id": ids("exam", rows),
                "patient_id": ids("patient", s["patient"][rows]),
                "modality": _str(MODALITIES[mod]),
                "exam_time": _dt(s["exam"][rows]),
                "report_time": _dt(s["event"][rows]),
                "upload_time": _dt(s["up"][rows]),
            }
        )

    def _t_fee_settlement(self, rng: np.random.Generator, rows: np.ndarray) -> pl.DataFrame:
        s = self.sk["fee_settlement"]
        n = len(rows)
        v = self.n["outpatient_visit"]
        is_ip = rows >= v
        visit = pl.select(
            pl.when(pl.lit(pl.Series(is_ip)))
            .then(pl.lit(ids("inpatient", np.where(is_ip, rows - v, 0))))
            .otherwise(pl.lit(ids("visit", rows)))
        ).to_series()
        total = s["total"][rows]
        insured = rng.random(n) < np.where(is_ip, 0.85, 0.6)
        share = np.where(is_ip, rng.uniform(0.5, 0.9, n), rng.uniform(0.2, 0.8, n))
        ins = np.where(insured, _money(total * share), 0.0)
        return pl.DataFrame(
            {
                "settlement_id": ids("settlement", rows),
                "visit_id": visit,
                "settle_time": _dt(s["event"][rows]),
                "total_amount": total,
                "insurance_amount": ins,
                "self_pay_amount": _money(total - ins),
                "upload_time": _dt(s["up"][rows]),
            }
        )

    # ------------------------------------------------------------------ district tables
    def _t_resident_record(self, rng: np.random.Generator, rows: np.ndarray) -> pl.DataFrame:
        s = self.sk["resident_record"]
        birth, male = s["birth"][rows], s["male"][rows]
        sex = np.where(male, "1", "2")
        y, m, d = civil_from_days(birth)
        live = np.where(
            rng.random(len(rows)) < 0.9,
            self.plan.area,
            self.ref.area_current[rng.integers(0, len(self.ref.area_current), len(rows))],
        )
        return pl.DataFrame(
            {
                "record_id": record_ids(self.plan.area, rows),
                "id_no": id18_numbers(s["area"][rows], y, m, d, s["seq3"][rows]),
                "name": names(rng, sex, self.ref),
                "sex_code": _str(sex.astype(object)),
                "birth_date": _date(birth),
                "address_code": _str(live),
                "create_date": _date(s["event"][rows] // DAY),
                "doctor_id": self.doctors(rng, len(rows), self.n["resident_record"] // 2000),
                "upload_time": _dt(s["up"][rows]),
            }
        )

    def _t_hypertension_followup(self, rng: np.random.Generator, rows: np.ndarray) -> pl.DataFrame:
        s = self.sk["hypertension_followup"]
        n = len(rows)
        sbp = np.clip(np.round(rng.normal(142, 16, n)), 95, 200).astype(np.int64)
        dbp = np.minimum(np.round(sbp * rng.uniform(0.5, 0.68, n)), sbp - 20).astype(np.int64)
        return pl.DataFrame(
            {
                "followup_id": ids("followup_ht", rows),
                "record_id": record_ids(self.plan.area, s["record"][rows]),
                "followup_date": _date(s["event"][rows] // DAY),
                "sbp": sbp,
                "dbp": dbp,
                "upload_time": _dt(s["up"][rows]),
            }
        )

    def _t_diabetes_followup(self, rng: np.random.Generator, rows: np.ndarray) -> pl.DataFrame:
        s = self.sk["diabetes_followup"]
        glu = np.clip(np.round(rng.lognormal(math.log(7.4), 0.25, len(rows)), 1), 3.5, 20.0)
        return pl.DataFrame(
            {
                "followup_id": ids("followup_dm", rows),
                "record_id": record_ids(self.plan.area, s["record"][rows]),
                "followup_date": _date(s["event"][rows] // DAY),
                "fasting_glucose": glu,
                "upload_time": _dt(s["up"][rows]),
            }
        )

    def _t_community_visit(self, rng: np.random.Generator, rows: np.ndarray) -> pl.DataFrame:
        s, ref = self.sk["community_visit"], self.ref
        rec = s["record"][rows]
        rid = pl.select(
            pl.when(pl.lit(pl.Series(rec >= 0))).then(pl.lit(record_ids(self.plan.area, np.maximum(rec, 0))))
        ).to_series()
        dx = self._diag(rng, len(rows), False)
        return pl.DataFrame(
            {
                "visit_id": ids("cvisit", rows),
                "record_id": rid,
                "visit_time": _dt(s["event"][rows]),
                "diagnosis_code": _str(ref.icd10_code[dx]),
                "total_fee": _money(rng.lognormal(math.log(60), 0.8, len(rows)) + 2),
                "upload_time": _dt(s["up"][rows]),
            }
        )

    def _t_vaccination_record(self, rng: np.random.Generator, rows: np.ndarray) -> pl.DataFrame:
        s, ref = self.sk["vaccination_record"], self.ref
        vac, dose = s["vaccine"][rows], s["dose"][rows]
        return pl.DataFrame(
            {
                "vaccination_id": ids("vaccination", rows),
                "record_id": record_ids(self.plan.area, s["record"][rows]),
                "vaccine_code": _str(ref.vaccine_code[vac]),
                "dose_seq": dose.astype(np.int64),
                "vaccination_date": _date(s["event"][rows] // DAY),
                "upload_time": _dt(s["up"][rows]),
            }
        )

    def _t_family_doctor_contract(self, rng: np.random.Generator, rows: np.ndarray) -> pl.DataFrame:
        s = self.sk["family_doctor_contract"]
        sign = s["event"][rows] // DAY
        years = np.where(rng.random(len(rows)) < 0.8, 1, 3)
        sign_d = sign.astype("datetime64[D]")
        month = sign_d.astype("datetime64[M]")
        day_in_month = np.minimum((sign_d - month).astype(np.int64), 27)
        end = ((month + 12 * years).astype("datetime64[D]") + day_in_month).astype(np.int64) - 1
        return pl.DataFrame(
            {
                "contract_id": ids("contract", rows),
                "record_id": record_ids(self.plan.area, s["record"][rows]),
                "doctor_id": self.doctors(rng, len(rows), self.n["resident_record"] // 2000),
                "sign_date": _date(sign),
                "end_date": _date(end),
                "upload_time": _dt(s["up"][rows]),
            }
        )
