"""A corpus of hostile and broken extracts, scored as one batch by a real `dq score` process.

Every case is a unit folder of ``ROOT/2020-09/``, built here from a small good extract with one
thing wrong. The batch is scored once (with ``--reports``), then each case is checked:

* a unit that cannot be audited has an error naming the file and the problem;
* a unit whose defect is countable is scored, and the defect is counted by a rule;
* nothing else is affected: the good units are scored, the store stays readable;
* no traceback anywhere, and no planted patient identifier appears unmasked in stdout, stderr,
  any store file or any HTML page.

The cases and their outcomes are listed in docs/robustness.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
import yaml
from conftest import gb11643

from dq.store.history import Store

P = "2020-09"
DT = datetime

# Patient identifiers planted in the extracts; none may appear unmasked in any output.
ID_NUMBERS = [gb11643(f"3201021980010{i:02d}12"[:17]) for i in range(12)]
PHONES = [f"1381234{i:04d}" for i in range(12)]
NAMES = ["王小明", "李秀英", "张伟", "刘洋"]
SECRETS = ID_NUMBERS + PHONES


def _days(n: int) -> list[datetime]:
    return [DT(2020, 9, 1, 20) + timedelta(days=i % 30) for i in range(n)]


def manifest(d: Path, unit_id: object, **extra: object) -> None:
    m = {
        "unit_id": unit_id,
        "name": f"测试医院{unit_id}" if isinstance(unit_id, str) and len(unit_id) < 20 else "测试医院",
        "kind": "hospital",
        "district": "玄武区",
        "period": P,
        "declared_tables": ["patient_index", "outpatient_visit"],
        **extra,
    }
    d.mkdir(parents=True, exist_ok=True)
    (d / "manifest.yaml").write_text(yaml.safe_dump(m, allow_unicode=True), encoding="utf-8")


def patients(n: int = 12) -> pl.DataFrame:
    up = _days(n)
    return pl.DataFrame(
        {
            "patient_id": [f"P{i}" for i in range(n)],
            "id_type": ["01"] * n,
            "id_no": ID_NUMBERS[:n],
            "name": [NAMES[i % len(NAMES)] for i in range(n)],
            "sex_code": ["1", "2"] * (n // 2) + ["1"] * (n % 2),
            "birth_date": [date(1980, 1, 1)] * n,
            "phone": PHONES[:n],
            "upload_time": up,
        }
    )


def visits(n: int = 12) -> pl.DataFrame:
    up = _days(n)
    return pl.DataFrame(
        {
            "visit_id": [f"V{i}" for i in range(n)],
            "patient_id": [f"P{i}" for i in range(n)],
            "visit_type": ["1"] * n,
            "visit_time": [u - timedelta(hours=2) for u in up],
            "dept_code": ["0101"] * n,
            "diagnosis_code": ["J06.900"] * n,
            "upload_time": up,
        }
    )


def good(d: Path, unit_id: str) -> None:
    manifest(d, unit_id)
    patients().write_parquet(d / "patient_index.parquet")
    visits().write_parquet(d / "outpatient_visit.parquet")


@dataclass(frozen=True)
class Case:
    folder: str
    build: Callable[[Path], None]
    error: tuple[str, ...] = ()  # fragments of the unit's error (empty: the unit is scored)
    stored_as: str | None = None  # the unit id it is stored under (default: the folder)
    finding: tuple[str, str, int] | None = None  # (rule id, column, failed) counted instead


CASES: list[Case] = []


def case(folder: str, *, error: tuple[str, ...] = (), stored_as=None, finding=None):
    def register(fn: Callable[[Path], None]) -> Callable[[Path], None]:
        CASES.append(Case(folder, fn, error, stored_as, finding))
        return fn

    return register


# ----------------------------------------------------------------------------- identity
@case("H011", error=("H011/manifest.yaml", "named like unit H011", "says H010"), stored_as="folder:H011")
def _claims_another_registered_unit(d: Path) -> None:
    good(d, "H010")


@case("dup-a", error=("dup-a", "claimed by several folders", "dup-a, dup-b"), stored_as="folder:dup-a")
def _dup_a(d: Path) -> None:
    good(d, "H020")


@case("dup-b", error=("dup-b", "claimed by several folders"), stored_as="folder:dup-b")
def _dup_b(d: Path) -> None:
    good(d, "H020")


@case("LONGID", error=("LONGID/manifest.yaml", "'unit_id' must be a short plain id", "300-character"),
      stored_as="folder:LONGID")  # fmt: skip
def _long_id(d: Path) -> None:
    good(d, "H" * 300)


@case("MAPID", error=("MAPID/manifest.yaml", "'unit_id'", "a mapping"), stored_as="folder:MAPID")
def _mapping_id(d: Path) -> None:
    good(d, "H001")
    manifest(d, {"patient_id": ID_NUMBERS[0], "phone": PHONES[0]})


@case("SLASHID", error=("SLASHID/manifest.yaml", "'unit_id'", "'H/011'"), stored_as="folder:SLASHID")
def _slash_id(d: Path) -> None:
    good(d, "H/011")


@case("H034", error=("H034/manifest.yaml", "H034 is a hospital in the registry", "says district"),
      stored_as="folder:H034")  # fmt: skip
def _kind_mismatch(d: Path) -> None:
    good(d, "H034")
    manifest(d, "H034", kind="district", declared_tables=["resident_record"])


# ----------------------------------------------------------------------------- files
@case("H035", error=("H035/outpatient_visit.parquet", "symbolic link", "--follow-symlinks"))
def _symlink_to_another_unit(d: Path) -> None:
    good(d, "H035")
    (d / "outpatient_visit.parquet").unlink()
    (d / "outpatient_visit.parquet").symlink_to(d.parent / "H001" / "outpatient_visit.parquet")


@case("H036", error=("H036/outpatient_visit.csv", "named pipe (FIFO)", "not a regular file"))
def _fifo_table(d: Path) -> None:
    good(d, "H036")
    (d / "outpatient_visit.parquet").unlink()
    os.mkfifo(d / "outpatient_visit.csv")


@case("H037", error=("H037/outpatient_visit.parquet", "a folder", "not a regular file"))
def _folder_named_like_a_table(d: Path) -> None:
    good(d, "H037")
    (d / "outpatient_visit.parquet").unlink()
    (d / "outpatient_visit.parquet").mkdir()
    visits().write_parquet(d / "outpatient_visit.parquet" / "part-0.parquet")


@case("H038", error=("H038/manifest.yaml", "refused", "aliases expand"))
def _alias_bomb(d: Path) -> None:
    good(d, "H038")
    lines = ["unit_id: H038", "kind: hospital", "period: '2020-09'", "a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    lines.append("name: *a9")
    (d / "manifest.yaml").write_text("\n".join(lines), encoding="utf-8")


@case("H039", error=("H039/manifest.yaml", "more than", "a manifest may have"))
def _huge_manifest(d: Path) -> None:
    good(d, "H039")
    with (d / "manifest.yaml").open("a", encoding="utf-8") as fh:
        fh.write("# " + "x" * (70 << 10) + "\n")


@case("H040", error=("H040/reference.csv", "not UTF-8"))
def _reference_not_utf8(d: Path) -> None:
    good(d, "H040")
    (d / "reference.csv").write_bytes(b"metric,value\noutpatient_visits,\xff\xfe12\n")


@case("H041", error=("H041/reference.csv", "row 2", "not a finite number"))
def _reference_inf(d: Path) -> None:
    good(d, "H041")
    (d / "reference.csv").write_text("metric,value\noutpatient_visits,inf\n", encoding="utf-8")


# ----------------------------------------------------------------------------- patient data
@case("H042")
def _id_numbers_in_an_untagged_column(d: Path) -> None:
    """Resident ID numbers used as patient_id in visits (not in patient_index): the foreign-key
    rule fails and its samples show the untagged column, masked."""
    good(d, "H042")
    visits().with_columns(pl.Series("patient_id", ID_NUMBERS)).write_parquet(d / "outpatient_visit.parquet")


@case("H043", error=("H043/patient_index.parquet",))
def _struct_patient_id(d: Path) -> None:
    """patient_id holds a struct of identifiers: a library error would quote them."""
    good(d, "H043")
    p = patients()
    p.with_columns(pl.struct(pl.col("patient_id"), pl.col("id_no"), pl.col("name"), pl.col("phone"))
                   .alias("patient_id")).write_parquet(d / "patient_index.parquet")  # fmt: skip


@case("H044")
def _phones_and_names_in_free_text(d: Path) -> None:
    """Diagnosis codes that are a name and a phone number: invalid codes, sampled, masked."""
    good(d, "H044")
    v = visits()
    text = [f"{NAMES[i % 4]} {PHONES[i]}" for i in range(v.height)]
    v.with_columns(pl.Series("diagnosis_code", text)).write_parquet(d / "outpatient_visit.parquet")


# ----------------------------------------------------------------------------- said, not dropped
def _visits_csv(d: Path, text: str) -> None:
    (d / "outpatient_visit.parquet").unlink()
    (d / "outpatient_visit.csv").write_text(text, encoding="utf-8")


HEADER = "visit_id,patient_id,visit_type,visit_time,dept_code,diagnosis_code,upload_time"
ROW = "V{i},P{i},1,2020-09-0{d} 08:00:00,0101,J06.900,2020-09-0{d} 20:00:00"


@case("H045", error=("H045/outpatient_visit.csv", "row 6 (line 7) has 9 fields, 2 more fields than"))
def _ragged_rows(d: Path) -> None:
    good(d, "H045")
    rows = [ROW.format(i=i, d=i % 9 + 1) for i in range(12)]
    rows[5] += f",{ID_NUMBERS[5]},extra"  # a ragged row: its extra fields would be dropped
    _visits_csv(d, "\n".join([HEADER, *rows]) + "\n")


@case("H046", error=("H046/outpatient_visit.csv", "column dept_code appears more than once"))
def _duplicate_header(d: Path) -> None:
    good(d, "H046")
    rows = [ROW.format(i=i, d=i % 9 + 1) + ",0202" for i in range(12)]
    _visits_csv(d, "\n".join([HEADER + ",dept_code", *rows]) + "\n")


@case("H047", finding=("OV-102", "total_fee", 4))
def _non_finite_amounts(d: Path) -> None:
    """NaN and ±inf fees: not numbers, counted by the number-parse rule (they passed the range
    check before)."""
    good(d, "H047")
    fees = ["inf", "NaN", "-inf", "Infinity"] + ["12.5"] * 8
    rows = [ROW.format(i=i, d=i % 9 + 1) + f",{fees[i]}" for i in range(12)]
    _visits_csv(d, "\n".join([HEADER + ",total_fee", *rows]) + "\n")


@case("H048", error=("H048/outpatient_visit.xlsx", "sheet(s) 2 (visits) hold data", "first sheet"))
def _xlsx_second_sheet(d: Path) -> None:
    import openpyxl

    good(d, "H048")
    (d / "outpatient_visit.parquet").unlink()
    wb = openpyxl.Workbook()
    ws = wb.create_sheet("visits")
    v = visits().with_columns(pl.col(pl.Datetime).dt.strftime("%Y-%m-%d %H:%M:%S"))
    ws.append(v.columns)
    for row in v.iter_rows():
        ws.append(list(row))
    wb.save(d / "outpatient_visit.xlsx")


@case("H049", error=("H049/outpatient_visit.parquet", "visit_time__raw clashes"))
def _existing_raw_column(d: Path) -> None:
    good(d, "H049")
    visits().with_columns(pl.lit("x").alias("visit_time__raw")).write_parquet(d / "outpatient_visit.parquet")


@case("H050", finding=("OV-101", "visit_time", 0))
def _iso_offsets(d: Path) -> None:
    """ISO 8601 with Z or an offset parse (converted to Asia/Shanghai)."""
    good(d, "H050")
    times = ["2020-09-03T00:15:00Z", "2020-09-03T08:15:00+08:00", "2020-09-02T19:15:00-05:00"] * 4
    rows = [
        ROW.format(i=i, d=i % 9 + 1).replace(f"2020-09-0{i % 9 + 1} 08:00:00", times[i], 1) for i in range(12)
    ]
    _visits_csv(d, "\n".join([HEADER, *rows]) + "\n")


@case("H051", finding=("PI-400", "birth_date", 1))
def _born_after_upload(d: Path) -> None:
    """A birth date of November 2020 in a row uploaded in September 2020: flagged although the
    audit runs years later."""
    good(d, "H051")
    p = patients()
    births = [date(2020, 11, 2)] + [date(1980, 1, 1)] * (p.height - 1)
    p.with_columns(pl.Series("birth_date", births)).write_parquet(d / "patient_index.parquet")


GOOD = ["H001", "H002", "H010"]


# ----------------------------------------------------------------------------- the run
@pytest.fixture(scope="module")
def scored(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("corpus")
    base = root / P
    for uid in GOOD:
        good(base / uid, uid)
    for c in CASES:
        c.build(base / c.folder)
    store, reports = root / "history", root / "reports"
    env = {**os.environ, "NO_COLOR": "1"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1]) + os.pathsep + env.get("PYTHONPATH", "")
    p = subprocess.run(
        [sys.executable, "-m", "dq", "score", str(root), "--period", P, "--store", str(store),
         "--format", "json", "--reports", "--out", str(reports)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    return {"rc": p.returncode, "stdout": p.stdout, "stderr": p.stderr, "store": store, "reports": reports}


def test_the_batch_finishes_with_findings_and_no_traceback(scored):
    assert scored["rc"] == 1, scored["stderr"]
    assert "Traceback" not in scored["stderr"] and "Traceback" not in scored["stdout"]
    out = json.loads(scored["stdout"])
    ranking = {r["unit_id"]: r for r in out["ranking"]}
    for uid in GOOD:
        assert ranking[uid]["status"] == "ok" and ranking[uid]["score"] is not None, uid


@pytest.mark.parametrize("c", CASES, ids=[c.folder for c in CASES])
def test_case(scored, c: Case):
    out = json.loads(scored["stdout"])
    errors = {e["unit_id"]: e["error"] for e in out["errors"]}
    uid = c.stored_as or c.folder
    if c.error:
        assert uid in errors, (uid, errors)
        for fragment in c.error:
            assert fragment in errors[uid], (fragment, errors[uid])
    else:
        assert uid not in errors, errors.get(uid)
    if c.finding:
        rule, column, failed = c.finding
        res = Store(scored["store"]).results(P, uid)
        row = res.filter((pl.col("rule") == rule) & pl.col("columns").str.contains(column))
        assert row.height == 1, res.select("rule", "columns", "failed")
        assert row["failed"][0] == failed, row.to_dicts()


def test_identity_errors_never_replace_another_units_scores(scored):
    st = Store(scored["store"])
    scores = st.scores(P)
    h010 = scores.filter(pl.col("unit_id") == "H010").row(0, named=True)
    assert h010["status"] == "ok" and h010["unit_name"] == "测试医院H010"
    assert "H020" not in scores["unit_id"].to_list()  # two folders claimed it: neither is scored
    # Every stored file name is short, whatever the ids.
    for f in Path(scored["store"]).rglob("*.parquet"):
        assert len(f.name) < 120, f.name


def test_the_store_is_readable_and_the_run_complete(scored):
    st = Store(scored["store"])
    (run,) = st.runs().to_dicts()
    assert run["status"] == "complete"
    assert run["units"] == len(GOOD) + len(CASES)
    assert set(st.scores(P)["unit_id"]) >= set(GOOD)
    plain = pl.read_parquet(Path(scored["store"]) / "results" / "**" / "*.parquet", hive_partitioning=True)
    assert plain.height > 0


def test_no_identifier_leaks_anywhere(scored):
    texts = {"stdout": scored["stdout"], "stderr": scored["stderr"]}
    for f in Path(scored["store"]).rglob("*.parquet"):
        df = pl.read_parquet(f)
        texts[str(f)] = df.write_csv()
    pages = list(Path(scored["reports"]).rglob("*.html"))
    assert pages, "no report rendered"
    for f in pages:
        texts[str(f)] = f.read_text(encoding="utf-8")
    for where, text in texts.items():
        for secret in SECRETS:
            assert secret not in text, (where, secret)


def test_untagged_identifiers_are_sampled_masked(scored):
    """The leak test is not vacuous: the identifiers planted in untagged columns do reach the
    samples, masked (ID numbers keep 6 + 4 digits, phones 3 + 4)."""
    res = Store(scored["store"]).results(P)
    h042 = " ".join(res.filter(pl.col("unit_id") == "H042")["samples"].to_list())
    assert any(f"{i[:6]}********{i[-4:]}" in h042 for i in ID_NUMBERS), h042[:500]
    h044 = " ".join(res.filter(pl.col("unit_id") == "H044")["samples"].to_list())
    assert any(f"{p[:3]}****{p[-4:]}" in h044 for p in PHONES), h044[:500]
