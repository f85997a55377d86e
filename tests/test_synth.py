"""dq synth: contract, determinism, realistic clean values and truth counts recounted with polars.

The truth checks recompute every rule straight from the files (independently of dq's engine) and
compare the number of violating rows with the sum of truth.json's entries for that check, table and
column: clean rows must pass and injected rows must be counted exactly.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
import yaml

from dq.cli._synth import main as synth_main
from dq.io.catalogue import load_catalogue
from dq.synth import CHECK_OF, generate
from dq.synth._values import (
    ICD9CM3_PATTERN,
    ICD10_PATTERN,
    ID_CHECK_CHARS,
    ID_WEIGHTS,
    id18_numbers,
    uscc,
)

PERIOD = "2020-09"
UNITS = ["H001", "H021", "D07"]
START = datetime(2020, 9, 1)
END = datetime(2020, 10, 1)
CAT = load_catalogue()


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    return generate(out, PERIOD, scale=0.001, seed=7, units=UNITS, profile="before", progress=False)


@pytest.fixture(scope="module")
def truth(batch) -> dict:
    return json.loads((batch / "truth.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def csv_batch(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth_csv")
    return generate(
        out, PERIOD, scale=0.001, seed=11, units=["H021", "D04", "D05"], fmt="csv", progress=False
    )


def read_table(unit_dir: Path, table: str, encoding: str = "utf-8") -> pl.DataFrame:
    """Load a table as the catalogue types, parsing text the way HIS exports write it."""
    spec = CAT.tables[table]
    pq = unit_dir / f"{table}.parquet"
    if pq.exists():
        df = pl.read_parquet(pq)
    else:
        raw = (unit_dir / f"{table}.csv").read_bytes().decode(encoding)
        df = pl.read_csv(raw.encode("utf-8"), infer_schema=False)
    exprs = []
    for c in spec.columns:
        e = pl.col(c.name)
        if df.schema[c.name] == pl.String and c.type != "str":
            if c.type == "date":
                e = pl.coalesce(
                    e.str.to_date("%Y%m%d", strict=False), e.str.to_date("%Y-%m-%d", strict=False)
                )
            elif c.type == "datetime":
                e = pl.coalesce(
                    e.str.to_datetime("%Y%m%d%H%M%S", strict=False, time_unit="us"),
                    e.str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False, time_unit="us"),
                )
            elif c.type == "int":
                e = e.cast(pl.Int64, strict=False)
            else:
                e = e.cast(pl.Float64, strict=False)
            exprs.append(e.alias(c.name))
            exprs.append(pl.col(c.name).alias(f"{c.name}__raw"))
        elif df.schema[c.name] == pl.String:
            # dq reads a blank text value as empty (null): only not_null judges emptiness
            exprs.append(pl.when(e.str.strip_chars() == "").then(None).otherwise(e).alias(c.name))
        else:
            exprs.append(e)
    return df.select(exprs)


def expected(truth: dict, unit: str, table: str | None, check: str, columns=None) -> int:
    return sum(
        d["rows"]
        for d in truth["defects"]
        if d["unit"] == unit
        and d["table"] == table
        and d["check"] == check
        and (columns is None or d["columns"] == list(columns))
    )


def id18_ok(s: pl.Expr) -> pl.Expr:
    total = pl.sum_horizontal(
        [s.str.slice(i, 1).cast(pl.Int32, strict=False) * int(w) for i, w in enumerate(ID_WEIGHTS)]
    )
    check = (total % 11).replace_strict(list(range(11)), list(ID_CHECK_CHARS), return_dtype=pl.String)
    birth = s.str.slice(6, 8).str.to_date("%Y%m%d", strict=False)
    return (
        s.str.contains(r"^[0-9]{17}[0-9X]$") & (s.str.slice(17, 1) == check) & birth.is_not_null()
    ).fill_null(False)


def id15_ok(s: pl.Expr) -> pl.Expr:
    return (
        s.str.contains(r"^[0-9]{15}$")
        & ("19" + s.str.slice(6, 6)).str.to_date("%Y%m%d", strict=False).is_not_null()
    ).fill_null(False)


def counts(batch: Path, truth: dict, unit: str) -> list[tuple[str, str, int, int]]:
    """(what, table, counted in the data, expected from truth) for every rule recomputed here."""
    d = batch / unit
    kind = truth["units"][unit]["kind"]
    uploaded = truth["units"][unit]["uploaded_tables"]
    enc = truth["units"][unit]["encoding"] or "utf-8"
    t = {name: read_table(d, name, enc) for name in uploaded}
    out = []

    def add(what, table, n, check, columns=None):
        out.append((what, table, int(n), expected(truth, unit, table, check, columns)))

    for name, df in t.items():
        spec = CAT.tables[name]
        for c in spec.columns:
            if c.required:
                # a value given as text but unparseable is date_parse's finding: test the text
                col = f"{c.name}__raw" if f"{c.name}__raw" in df.columns else c.name
                n = df.select(
                    (pl.col(col).is_null() | (pl.col(col).cast(pl.String).str.strip_chars() == "")).sum()
                ).item()
                add(f"not_null {c.name}", name, n, "not_null", [c.name])
            if c.code_set:
                values = list(CAT.code_sets[c.code_set])
                n = df.select((pl.col(c.name).is_not_null() & ~pl.col(c.name).is_in(values)).sum()).item()
                add(f"in_set {c.name}", name, n, "in_set", [c.name])
            if f"{c.name}__raw" in df.columns:
                n = df.select(
                    (pl.col(c.name).is_null() & pl.col(f"{c.name}__raw").is_not_null()).sum()
                ).item()
                add(f"date_parse {c.name}", name, n, "date_parse", [c.name])
        if spec.key:
            # rows with a missing key part are not_null's finding, not unique's
            keyed = df.filter(pl.all_horizontal([pl.col(k).is_not_null() for k in spec.key]))
            n = keyed.select(pl.struct(list(spec.key)).is_duplicated().sum()).item()
            add("unique", name, n, "unique", list(spec.key))
        ev = spec.event_time
        if ev:
            v = pl.col(ev).cast(pl.Datetime("us"))
            n = df.select((v.is_not_null() & ((v < START) | (v >= END))).sum()).item()
            add("in_period", name, n, "in_period", [ev])
            if df.schema[ev] == pl.Date:
                late = (pl.col("upload_time").dt.date() - pl.col(ev)).dt.total_days() > 1
            else:
                late = (pl.col("upload_time") - pl.col(ev)) > timedelta(days=1)
            add(
                "late",
                name,
                df.select(late.fill_null(False).sum()).item(),
                "upload_timeliness",
                [ev, "upload_time"],
            )
            # uploads never precede the event (beyond clock slack) on any row
            assert (
                df.select((pl.col("upload_time") < v - timedelta(hours=1)).fill_null(False).sum()).item() == 0
            )
        # every upload falls inside the period
        assert df.select(((pl.col("upload_time") < START) | (pl.col("upload_time") >= END)).sum()).item() == 0

    person = "patient_index" if kind == "hospital" else "resident_record"
    if person in t:
        df = t[person]
        applies = pl.col("id_type") == "01" if kind == "hospital" else pl.lit(True)
        s = pl.col("id_no")
        applies = applies & s.is_not_null()  # a missing number is not_null's finding
        n = df.select((applies & ~(id18_ok(s) | id15_ok(s))).sum()).item()
        add("id_card", person, n, "id_card", ["id_no"])
        add("id_legacy", person, df.select((applies & id15_ok(s)).sum()).item(), "id_legacy", ["id_no"])
        birth = (
            pl.when(id18_ok(s))
            .then(s.str.slice(6, 8))
            .otherwise("19" + s.str.slice(6, 6))
            .str.to_date("%Y%m%d", strict=False)
        )
        sex_digit = (
            pl.when(id18_ok(s))
            .then(s.str.slice(16, 1))
            .otherwise(s.str.slice(14, 1))
            .cast(pl.Int32, strict=False)
        )
        id_sex = pl.when(sex_digit % 2 == 1).then(pl.lit("1")).otherwise(pl.lit("2"))
        bad = (birth != pl.col("birth_date")) | (
            pl.col("sex_code").is_in(["1", "2"]) & (id_sex != pl.col("sex_code"))
        )
        n = df.select(((id18_ok(s) | id15_ok(s)) & bad.fill_null(False)).sum()).item()
        add("id_card_matches", person, n, "id_card_matches", ["id_no", "sex_code"])
        future = df.select((pl.col("birth_date") > date.today()).fill_null(False).sum()).item()
        add("not_future birth_date", person, future, "not_future", ["birth_date"])

    for name, col in (
        ("outpatient_visit", "diagnosis_code"),
        ("community_visit", "diagnosis_code"),
        ("inpatient_diagnosis", "diagnosis_code"),
    ):
        if name in t:
            n = t[name].select((~pl.col(col).str.contains(ICD10_PATTERN)).sum()).item()
            add("icd10", name, n, "icd10", [col])
    if "inpatient_record" in t:
        ir = t["inpatient_record"]
        n = ir.select((~pl.col("diagnosis_code").str.contains(ICD10_PATTERN)).sum()).item()
        assert n == 0
        n = ir.select((pl.col("discharge_time") < pl.col("admission_time")).fill_null(False).sum()).item()
        add("discharge >= admission", "inpatient_record", n, "compare", ["admission_time", "discharge_time"])
        days = (pl.col("discharge_time").dt.date() - pl.col("admission_time").dt.date()).dt.total_days()
        n = ir.select(((pl.col("length_of_stay") - days).abs() > 1).fill_null(False).sum()).item()
        add(
            "length_of_stay",
            "inpatient_record",
            n,
            "compare",
            ["admission_time", "discharge_time", "length_of_stay"],
        )
        add(
            "total_fee >= 0",
            "inpatient_record",
            ir.select((pl.col("total_fee") < 0).sum()).item(),
            "between",
            ["total_fee"],
        )
    if "surgery_record" in t:
        n = t["surgery_record"].select((~pl.col("operation_code").str.contains(ICD9CM3_PATTERN)).sum()).item()
        add("icd9cm3", "surgery_record", n, "icd9cm3", ["operation_code"])
    if "inpatient_diagnosis" in t:
        g = (
            t["inpatient_diagnosis"]
            .group_by("inpatient_id")
            .agg((pl.col("diag_type") == "1").sum().alias("main"))
        )
        add("one main diagnosis", "inpatient_diagnosis", g.filter(pl.col("main") != 1).height, "group_count")
    if "lab_report" in t:
        n = t["lab_report"].select((pl.col("report_time") < pl.col("specimen_time")).sum()).item()
        add("report >= specimen", "lab_report", n, "compare", ["specimen_time", "report_time"])
    if "exam_report" in t:
        assert t["exam_report"].select((pl.col("report_time") < pl.col("exam_time")).sum()).item() == 0
    if "outpatient_prescription" in t:
        p = t["outpatient_prescription"]
        n = p.select(
            ((pl.col("amount") - pl.col("quantity") * pl.col("unit_price")).abs() > 0.011).sum()
        ).item()
        add("amount", "outpatient_prescription", n, "compare", ["quantity", "unit_price", "amount"])
        add(
            "quantity > 0",
            "outpatient_prescription",
            p.select((pl.col("quantity") <= 0).sum()).item(),
            "between",
            ["quantity"],
        )
    if "fee_settlement" in t:
        f = t["fee_settlement"]
        n = f.select(
            (
                (pl.col("self_pay_amount") - (pl.col("total_amount") - pl.col("insurance_amount"))).abs()
                > 0.011
            ).sum()
        ).item()
        add(
            "self pay",
            "fee_settlement",
            n,
            "compare",
            ["total_amount", "insurance_amount", "self_pay_amount"],
        )
        assert f.select((pl.col("insurance_amount") > pl.col("total_amount")).sum()).item() == 0
    for name in ("outpatient_visit", "community_visit"):
        if name in t:
            add(
                "total_fee >= 0",
                name,
                t[name].select((pl.col("total_fee") < 0).sum()).item(),
                "between",
                ["total_fee"],
            )
            days = t[name].select(pl.col("upload_time").dt.date().n_unique()).item()
            add("upload days", name, 30 - days, "upload_days", ["upload_time"])
    if "hypertension_followup" in t:
        h = t["hypertension_followup"]
        add(
            "dbp < sbp",
            "hypertension_followup",
            h.select((pl.col("dbp") >= pl.col("sbp")).sum()).item(),
            "compare",
            ["sbp", "dbp"],
        )
        add(
            "sbp range",
            "hypertension_followup",
            h.select(~pl.col("sbp").is_between(60, 300)).sum().item(),
            "between",
            ["sbp"],
        )
        assert h.select(~pl.col("dbp").is_between(30, 200)).sum().item() == 0
    if "diabetes_followup" in t:
        n = t["diabetes_followup"].select(~pl.col("fasting_glucose").is_between(1.0, 35.0)).sum().item()
        add("glucose range", "diabetes_followup", n, "between", ["fasting_glucose"])
    if "vaccination_record" in t:
        v = t["vaccination_record"]
        add(
            "dose >= 1",
            "vaccination_record",
            v.select((pl.col("dose_seq") < 1).sum()).item(),
            "between",
            ["dose_seq"],
        )
        j = v.join(t["resident_record"].select("record_id", "birth_date").unique("record_id"), on="record_id")
        assert j.select((pl.col("vaccination_date") < pl.col("birth_date")).sum()).item() == 0
        # a missing key part is not_null's (or date_parse's) finding, not unique's
        keyed = v.filter(pl.all_horizontal([pl.col(c).is_not_null() for c in ("vaccine_code", "dose_seq")]))
        n = keyed.select(pl.struct("record_id", "vaccine_code", "dose_seq").is_duplicated().sum()).item()
        assert n == 0
    if "family_doctor_contract" in t:
        assert (
            t["family_doctor_contract"].select((pl.col("end_date") <= pl.col("sign_date")).sum()).item() == 0
        )
    # foreign keys
    links = {
        "outpatient_visit": ("patient_id", "patient_index", "patient_id"),
        "outpatient_prescription": ("visit_id", "outpatient_visit", "visit_id"),
        "lab_result": ("report_id", "lab_report", "report_id"),
        "surgery_record": ("inpatient_id", "inpatient_record", "inpatient_id"),
        "exam_report": ("patient_id", "patient_index", "patient_id"),
        "inpatient_record": ("patient_id", "patient_index", "patient_id"),
        "inpatient_diagnosis": ("inpatient_id", "inpatient_record", "inpatient_id"),
        "lab_report": ("patient_id", "patient_index", "patient_id"),
        "hypertension_followup": ("record_id", "resident_record", "record_id"),
        "diabetes_followup": ("record_id", "resident_record", "record_id"),
        "vaccination_record": ("record_id", "resident_record", "record_id"),
        "family_doctor_contract": ("record_id", "resident_record", "record_id"),
        "community_visit": ("record_id", "resident_record", "record_id"),
    }
    for child, (col, parent, pcol) in links.items():
        if child in t and parent in t:
            keys = t[parent].get_column(pcol).unique()
            n = t[child].select(pl.col(col).is_not_null() & ~pl.col(col).is_in(keys.implode())).sum().item()
            add("foreign_key", child, n, "foreign_key", [col])
    return out


# ----------------------------------------------------------------------------- tests


def test_layout_manifest_and_reference(batch, truth):
    assert sorted(p.name for p in batch.iterdir()) == sorted([*UNITS, "truth.json"])
    for unit in UNITS:
        m = yaml.safe_load((batch / unit / "manifest.yaml").read_text(encoding="utf-8"))
        assert m["unit_id"] == unit and m["period"] == PERIOD
        assert m["generated_by"] == "dq synth" and m["seed"] == 7 and m["profile"] == "before"
        assert m["kind"] in ("hospital", "district") and m["collection_mode"] in ("upload", "direct_db")
        assert len(m["org_code"]) == 18 and m["org_code"] == uscc(unit, m["org_code"][2:8])
        declared = m.get("declared_tables")
        assert declared is None or all(t in CAT.tables for t in declared)
        summary = truth["units"][unit]
        assert summary["declared_tables"] == declared
        for table in CAT.tables_of(m["kind"]):
            f = batch / unit / f"{table}.parquet"
            assert f.exists() == (table in summary["uploaded_tables"])
            if f.exists():
                df = pl.read_parquet(f)
                assert df.columns == [c.name for c in CAT.tables[table].columns]
                assert df.height >= 20
                if summary["style"] == "typed":
                    assert df.schema == pl.Schema({c.name: c.dtype for c in CAT.tables[table].columns})
                else:
                    assert set(df.schema.values()) == {pl.String}
        ref = batch / unit / "reference.csv"
        if not summary["reference"]:
            assert not ref.exists()
        else:
            r = pl.read_csv(ref)
            assert r.columns == ["metric", "value"]
            metrics = set(r["metric"])
            assert metrics == (
                {"outpatient_visits", "discharges"} if m["kind"] == "hospital" else {"outpatient_visits"}
            )


def test_every_defect_kind_in_small_batch(truth):
    # no_upload follows a newsletter row that uploaded nothing (none of these units' rows)
    assert set(truth["kinds"]) == set(CHECK_OF) - {"no_upload"}
    assert truth["missing_kinds"] == ["no_upload"]
    for d in truth["defects"]:
        assert d["check"] == CHECK_OF[d["kind"]] and d["rows"] >= 1
        assert set(d) >= {"unit", "table", "kind", "check", "columns", "rows"}


@pytest.mark.parametrize("unit", UNITS)
def test_truth_counts_recomputed_with_polars(batch, truth, unit):
    wrong = [(w, t, got, exp) for w, t, got, exp in counts(batch, truth, unit) if got != exp]
    assert not wrong, wrong
    # and nothing in truth for a (table, check) that the recount did not look at is left unchecked
    # beyond the submission-level kinds


def test_submission_level_truth(batch, truth):
    by_unit = defaultdict(list)
    for d in truth["defects"]:
        by_unit[d["unit"]].append(d)
    for unit, defects in by_unit.items():
        m = yaml.safe_load((batch / unit / "manifest.yaml").read_text(encoding="utf-8"))
        s = truth["units"][unit]
        kinds = {d["kind"] for d in defects}
        assert ("not_reported" in kinds) == (m["collection_mode"] == "upload" and "declared_tables" not in m)
        for d in defects:
            if d["kind"] == "declared_not_uploaded":
                assert all(x in m["declared_tables"] and x not in s["uploaded_tables"] for x in d["tables"])
            if d["kind"] == "uploaded_not_declared":
                assert all(x not in m["declared_tables"] and x in s["uploaded_tables"] for x in d["tables"])
            if d["kind"] == "over_reporting":
                ref = dict(pl.read_csv(batch / unit / "reference.csv").iter_rows())
                assert ref[d["columns"][0]] < d["uploaded"]
        if "over_reporting" not in kinds and s["reference"]:
            df = read_table(
                batch / unit, "outpatient_visit" if s["kind"] == "hospital" else "community_visit"
            )
            col = "visit_time"
            n = df.filter(pl.col(col).is_between(START, END, closed="left")).height
            assert n <= s["reference"]["outpatient_visits"]


def test_clean_values_are_realistic(batch):
    pi = read_table(batch / "H001", "patient_index")
    ids = pi.filter(pl.col("id_type") == "01")
    assert ids.height > 50
    ok = ids.select(id18_ok(pl.col("id_no")) | id15_ok(pl.col("id_no"))).to_series()
    # before governance up to three id-number kinds (checksum, birth date, 15 digits) at <= 10 % each
    assert ok.mean() > 0.7
    assert ids.select(pl.col("id_no").str.slice(0, 4).is_in(["3201"]).all()).item()
    assert (
        pi.filter(pl.col("id_type") == "03").select(pl.col("id_no").str.contains(r"^E[0-9]{8}$").all()).item()
    )
    phones = pi.get_column("phone").drop_nulls()
    assert phones.str.contains(r"^1[3-9][0-9]{9}$").all()
    assert pi.get_column("name").str.contains(r"^[\u4e00-\u9fff]{2,4}$").mean() > 0.9
    codes = pl.read_csv(
        Path(__file__).resolve().parents[1] / "datasets/reference/icd10.csv", infer_schema=False
    )
    assert codes["code"].str.contains(ICD10_PATTERN).all() and codes.height >= 200
    assert codes["code"].is_in(["I10.x00x002", "E11.900", "J18.900"]).sum() == 3
    ops = pl.read_csv(
        Path(__file__).resolve().parents[1] / "datasets/reference/icd9cm3.csv", infer_schema=False
    )
    assert ops["code"].str.contains(ICD9CM3_PATTERN).all() and "96.7201" in ops["code"].to_list()
    visits = read_table(batch / "H001", "outpatient_visit")
    rx = read_table(batch / "H001", "outpatient_prescription")
    assert 1.0 <= rx.height / visits.height <= 30
    res = read_table(batch / "H001", "lab_result")
    reports = read_table(batch / "H001", "lab_report")
    assert 3 <= res.height / reports.height <= 12
    dx = read_table(batch / "H001", "inpatient_diagnosis")
    per = dx.group_by("inpatient_id").len()
    assert per["len"].min() >= 1 and per["len"].max() <= 5


def test_id_numbers_follow_gb11643():
    s = id18_numbers([320106], [1985], [3], [7], [123]).item()
    body = s[:17]
    total = sum(int(c) * int(w) for c, w in zip(body, ID_WEIGHTS, strict=True))
    assert s[17] == ID_CHECK_CHARS[total % 11] and s[6:14] == "19850307" and int(s[16]) % 2 == 1
    assert (
        id18_numbers([110105], [1949], [12], [31], [301]).item()
        == "11010519491231301"
        + ID_CHECK_CHARS[
            sum(int(c) * int(w) for c, w in zip("11010519491231301", ID_WEIGHTS, strict=True)) % 11
        ]
    )


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(root.rglob("*")):
        if f.is_file():
            h.update(str(f.relative_to(root)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def test_deterministic_bytes(tmp_path, batch):
    again = generate(
        tmp_path / "a", PERIOD, scale=0.001, seed=7, units=UNITS, profile="before", progress=False
    )
    assert _digest(again) == _digest(batch)
    other = generate(
        tmp_path / "b", PERIOD, scale=0.001, seed=8, units=UNITS, profile="before", progress=False
    )
    assert _digest(other) != _digest(batch)


def test_after_profile_keeps_base_data(tmp_path, batch, truth):
    after = generate(tmp_path, PERIOD, scale=0.001, seed=7, units=UNITS, profile="after", progress=False)
    t2 = json.loads((after / "truth.json").read_text(encoding="utf-8"))
    assert len(t2["defects"]) < len(truth["defects"])
    assert sum(d["origin"] != "new" for d in t2["defects"]) <= len(truth["defects"]) // 2
    for unit in UNITS:
        table = "resident_record" if unit.startswith("D") else "outpatient_visit"
        key = CAT.tables[table].key[0]
        a = pl.read_parquet(batch / unit / f"{table}.parquet").unique(key).sort(key)
        b = pl.read_parquet(after / unit / f"{table}.parquet").unique(key).sort(key)
        common = a.join(b, on=key, how="inner")
        assert common.height >= 0.9 * a.height  # the same rows, apart from defect rows


def test_csv_text_and_gb18030_round_trip(csv_batch):
    truth = json.loads((csv_batch / "truth.json").read_text(encoding="utf-8"))
    encodings = {u: s["encoding"] for u, s in truth["units"].items()}
    assert set(encodings.values()) <= {"utf-8", "gb18030"}
    for unit, enc in encodings.items():
        files = list((csv_batch / unit).glob("*.csv"))
        assert files and not list((csv_batch / unit).glob("*.parquet"))
        for f in files:
            if f.name == "reference.csv":
                continue
            raw = f.read_bytes()
            text = raw.decode(enc)
            if enc == "gb18030":
                with pytest.raises(UnicodeDecodeError):
                    raw.decode("utf-8")
            df = pl.read_csv(text.encode("utf-8"), infer_schema=False)
            assert df.columns == [c.name for c in CAT.tables[f.stem].columns]
        wrong = [(w, t, g, e) for w, t, g, e in counts(csv_batch, truth, unit) if g != e]
        assert not wrong, (unit, wrong)


def test_gb18030_is_used_for_some_units(tmp_path):
    root = generate(
        tmp_path,
        PERIOD,
        scale=0.0002,
        seed=3,
        units=["D01", "D02", "D03", "D04", "D05", "D06", "D08", "D09"],
        fmt="csv",
        progress=False,
    )
    truth = json.loads((root / "truth.json").read_text(encoding="utf-8"))
    assert "gb18030" in {s["encoding"] for s in truth["units"].values()}


def test_cli_and_errors(tmp_path, capsys):
    assert (
        synth_main(
            ["--out", str(tmp_path), "--period", PERIOD, "--units", "H048", "--seed", "1", "--no-progress"]
        )
        == 0
    )
    assert "1 units" in capsys.readouterr().out
    assert (tmp_path / PERIOD / "H048" / "manifest.yaml").exists()
    assert synth_main(["--out", str(tmp_path), "--period", "2020-13", "--units", "H048"]) == 2
    assert synth_main(["--out", str(tmp_path), "--period", PERIOD, "--units", "NOPE"]) == 2
    with pytest.raises(ValueError):
        generate(tmp_path, PERIOD, fmt="xlsx")


def test_volumes_follow_the_newsletters():
    from dq.synth._plan import load_units, parse_period

    plans = load_units(parse_period(PERIOD), 0.01, 0, None, "parquet")
    ids = [p.unit_id for p in plans]
    assert len(ids) == len(set(ids)) >= 36
    by = {p.unit_id: p for p in plans}
    assert by["H014"].counts["outpatient_visit"] == round(544268 * 0.01)  # 江苏省人民医院
    assert by["H014"].declaration_status == "not_reported"
    assert by["D07"].counts["resident_record"] == round(938401 * 0.01)  # 江宁区 basic records
    assert by["H046"].source_period == "2018-03"  # only in the 2018 table


def test_campaign_intensities_are_a_quota_not_independent_draws():
    """Before the campaign each unit's data-management intensity u comes from its kind's Beta
    distribution by quota (docs/campaign.md): at every seed the n units of a kind take the
    midpoints of n equal-probability strata, only shuffled among them, so no seed has more well
    managed districts than another. Checked against scipy's Beta quantile function."""
    from scipy.stats import beta

    from dq.synth._defects import INTENSITY, plan_batch, unit_intensities
    from dq.synth._plan import load_units, parse_period

    month = parse_period("2020-08")
    plans = load_units(month, 0.001, 0, None, "parquet", "before")
    kinds = {"district": [p.unit_id for p in plans if p.kind == "district"],
             "hospital": [p.unit_id for p in plans if p.kind == "hospital"]}  # fmt: skip
    assert len(kinds["district"]) == 12 and len(kinds["hospital"]) >= 26
    assigned = {}
    for seed in (1, 2, 3):
        u = unit_intensities(plans, seed)
        assert set(u) == {p.unit_id for p in plans}
        for kind, ids in kinds.items():
            n = len(ids)
            expected = beta.ppf([(i + 0.5) / n for i in range(n)], *INTENSITY[kind])
            # the generator reads its quantiles off a fixed sample of 200,000 draws
            assert sorted(u[i] for i in ids) == pytest.approx(expected, abs=0.01)
        assigned[seed] = tuple(u[i] for i in kinds["district"])
        # the plan follows u: the least managed district carries more row defects than the best
        uds = plan_batch(load_units(month, 0.001, seed, None, "parquet", "before"), month, seed, "before")
        lo, hi = min(kinds["district"], key=u.get), max(kinds["district"], key=u.get)
        assert len(uds[hi].row_defects()) > 2 * len(uds[lo].row_defects())
    # who is well managed changes with the seed
    assert len(set(assigned.values())) == 3
