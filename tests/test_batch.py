"""dq score / dq history on a small hand-built batch: broken units, resume, --force, history.

<root>/2020-09/H001/      hospital, good
<root>/2020-09/h2-folder/ hospital, good (folder name differs from its unit_id H002)
<root>/2020-09/D01/       district, good
<root>/2020-09/BADYAML/   manifest.yaml is not YAML (unregistered: stored as folder:BADYAML)
<root>/2020-09/BADPQ/     outpatient_visit.parquet is not a Parquet file
"""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
import yaml

from dq.batch.local import evaluate_submissions
from dq.cli import main
from dq.engine.suite import load_suites
from dq.io.catalogue import default_rules_dir
from dq.scoring.summary import summary_frame
from dq.store.history import Store

P = "2020-09"
DT = datetime


def _days(n: int) -> list[datetime]:
    """n upload times spread over September (one a day from the 1st, then again)."""
    return [DT(2020, 9, 1, 20) + timedelta(days=i % 30) for i in range(n)]


def hospital(root: Path, unit_id: str, n: int, *, declared: list[str] | None = None) -> None:
    root.mkdir(parents=True)
    manifest = {
        "unit_id": unit_id,
        "name": f"测试医院{unit_id}",
        "kind": "hospital",
        "district": "玄武区",
        "period": P,
        "declared_tables": declared or ["patient_index", "outpatient_visit", "inpatient_record"],
    }
    (root / "manifest.yaml").write_text(yaml.safe_dump(manifest, allow_unicode=True), encoding="utf-8")
    up = _days(n)
    pl.DataFrame(
        {
            "patient_id": [f"P{i}" for i in range(n)],
            "id_type": ["01"] * n,
            "name": ["张三"] * n,
            "sex_code": ["1", "2"] * (n // 2) + ["1"] * (n % 2),
            "birth_date": [date(1980, 1, 1)] * n,
            "upload_time": up,
        }
    ).write_parquet(root / "patient_index.parquet")
    pl.DataFrame(
        {
            "visit_id": [f"V{i}" for i in range(n)],
            "patient_id": [f"P{i}" for i in range(n)],
            "visit_type": ["1"] * n,
            "visit_time": [u - timedelta(hours=2) for u in up],
            "dept_code": ["0101"] * n,
            "diagnosis_code": ["J06.900"] * n,
            "upload_time": up,
        }
    ).write_parquet(root / "outpatient_visit.parquet")
    pl.DataFrame(
        {
            "inpatient_id": ["I1", "I2"],
            "patient_id": ["P0", "P1"],
            "admission_time": [DT(2020, 9, 1, 8), DT(2020, 9, 2, 8)],
            "discharge_time": [DT(2020, 9, 5, 8), DT(2020, 9, 9, 8)],
            "dept_code": ["0301", "0301"],
            "diagnosis_code": ["I10.x00", "E11.900"],
            "upload_time": [DT(2020, 9, 5, 20), DT(2020, 9, 9, 20)],
        }
    ).write_parquet(root / "inpatient_record.parquet")
    (root / "reference.csv").write_text(f"metric,value\noutpatient_visits,{2 * n}\ndischarges,2\n")


def district(root: Path) -> None:
    root.mkdir(parents=True)
    manifest = {
        "unit_id": "D01",
        "name": "玄武区",
        "kind": "district",
        "district": "玄武区",
        "period": P,
        "declared_tables": ["resident_record", "community_visit"],
    }
    (root / "manifest.yaml").write_text(yaml.safe_dump(manifest, allow_unicode=True), encoding="utf-8")
    up = _days(30)
    pl.DataFrame(
        {
            "record_id": [f"R{i}" for i in range(30)],
            "sex_code": ["1"] * 30,
            "birth_date": [date(1960, 1, 1)] * 30,
            "address_code": ["320102"] * 30,
            "create_date": [u.date() for u in up],
            "upload_time": up,
        }
    ).write_parquet(root / "resident_record.parquet")
    pl.DataFrame(
        {
            "visit_id": [f"C{i}" for i in range(30)],
            "record_id": [f"R{i}" for i in range(30)],
            "visit_time": [u - timedelta(hours=1) for u in up],
            "diagnosis_code": ["I10.x00"] * 30,
            "upload_time": up,
        }
    ).write_parquet(root / "community_visit.parquet")


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("batches")
    base = root / P
    hospital(base / "H001", "H001", 40)
    hospital(base / "h2-folder", "H002", 20)
    district(base / "D01")
    bad = base / "BADYAML"
    bad.mkdir()
    (bad / "manifest.yaml").write_text("unit_id: BADYAML\nkind: [hospital\n", encoding="utf-8")
    hospital(base / "BADPQ", "BADPQ", 10)
    (base / "BADPQ" / "outpatient_visit.parquet").write_bytes(b"this is not parquet\n" * 20)
    return root


def score(capsys, *args: str) -> tuple[int, dict]:
    rc = main(["score", *args, "--format", "json"])
    out = capsys.readouterr().out
    return rc, json.loads(out)


@pytest.fixture(scope="module", autouse=True)
def suites_loaded_once():
    """Loading (and validating) every suite takes seconds; each `dq score` here uses the same."""
    import dq.batch.local

    cache: dict = {}

    def cached(paths=None, *args, **kwargs):
        key = (tuple(map(str, paths or ())), args, tuple(sorted(kwargs.items())))
        if key not in cache:
            cache[key] = load_suites(paths, *args, **kwargs)
        return cache[key]

    with pytest.MonkeyPatch.context() as m:
        m.setattr(dq.batch.local, "load_suites", cached)
        yield


def test_batch_scores_resumes_and_forces(batch: Path, tmp_path: Path, capsys):
    batch = Path(shutil.copytree(batch, tmp_path / "batch"))  # this test repairs a unit
    store = tmp_path / "history"
    args = (str(batch), "--period", P, "--store", str(store))

    # ---- first run: the batch completes despite two broken units
    rc, out = score(capsys, *args)
    assert rc == 1  # errors -> exit 1
    errors = {e["unit_id"]: e["error"] for e in out["errors"]}
    assert set(errors) == {"folder:BADYAML", "BADPQ"}
    assert "manifest.yaml" in errors["folder:BADYAML"] and "BADYAML/manifest.yaml" in errors["folder:BADYAML"]
    assert "outpatient_visit.parquet" in errors["BADPQ"]
    ranking = {r["unit_id"]: r for r in out["ranking"]}
    assert set(ranking) == {"H001", "H002", "D01", "folder:BADYAML", "BADPQ"}
    for uid in ("H001", "H002", "D01"):
        r = ranking[uid]
        assert r["status"] == "ok" and r["error"] is None, r
        assert 0 < r["score"] <= 100 and r["grade"] in "ABCD"
        assert r["submission"] is not None and r["records"] is not None
    assert ranking["H002"]["unit_name"] == "测试医院H002"
    assert (ranking["H001"]["kind"], ranking["D01"]["kind"]) == ("hospital", "district")
    assert {ranking["H001"]["rank"], ranking["H002"]["rank"]} <= {1, 2}
    assert ranking["D01"]["rank"] == 1 and ranking["D01"]["of"] == 1
    for uid in ("folder:BADYAML", "BADPQ"):
        assert ranking[uid]["status"] == "error" and ranking[uid]["score"] is None
        assert ranking[uid]["rank"] is None
    assert out["skipped"] == []
    first_id = out["run_id"]

    st = Store(store)
    (run,) = st.runs().to_dicts()
    assert (run["run_id"], run["status"], run["units"], run["errors"]) == (first_id, "complete", 5, 2)
    assert run["source"] == "batch" and run["root"] == str(batch.resolve())
    summaries = st.summaries(P)
    assert set(summaries["unit_id"]) == {"H001", "H002", "D01"}
    h1 = summaries.filter(pl.col("unit_id") == "H001").row(0, named=True)
    # 40 visits, 40 patients, 2 discharges uploaded; visits on all 30 days; rate 40 / 80
    assert (h1["outpatient_uploaded"], h1["discharge_uploaded"], h1["data_volume"]) == (40, 2, 82)
    assert (h1["upload_days"], h1["outpatient_rate"], h1["discharge_rate"]) == (30, 50.0, 100.0)
    results = st.results(P, "H001")
    assert set(results["suite"]) >= {"submission", "hospital.outpatient_visit", "hospital.patient_index"}
    assert results.filter(pl.col("suite") == "submission").height > 0

    # ---- rerun without --force: scored units are skipped, broken ones retried
    rc, out = score(capsys, *args)
    assert rc == 1
    assert sorted(out["skipped"]) == ["D01", "H001", "H002"]
    assert {e["unit_id"] for e in out["errors"]} == {"folder:BADYAML", "BADPQ"}
    second_id = out["run_id"]
    latest = st.scores(P)
    run_of = dict(zip(latest["unit_id"], latest["run_id"], strict=True))
    assert run_of["H001"] == run_of["H002"] == run_of["D01"] == first_id
    assert run_of["folder:BADYAML"] == run_of["BADPQ"] == second_id
    assert {r["unit_id"] for r in out["ranking"]} == {"H001", "H002", "D01", "folder:BADYAML", "BADPQ"}

    # ---- a fixed unit is scored on the next resume
    shutil.rmtree(batch / P / "BADPQ")
    hospital(batch / P / "BADPQ", "BADPQ", 10)
    rc, out = score(capsys, *args)
    assert rc == 1 and [e["unit_id"] for e in out["errors"]] == ["folder:BADYAML"]
    assert sorted(out["skipped"]) == ["D01", "H001", "H002"]
    fixed = {r["unit_id"]: r for r in out["ranking"]}["BADPQ"]
    assert fixed["status"] == "ok" and fixed["score"] is not None

    # ---- --force re-scores everything and keeps every run
    rc, out = score(capsys, *args, "--force")
    assert rc == 1 and out["skipped"] == []
    forced_id = out["run_id"]
    assert st.runs()["run_id"].to_list()[-1] == forced_id and st.runs().height == 4
    raw = pl.read_parquet(store / "scores" / "**" / "*.parquet", hive_partitioning=True)
    h1_runs = raw.filter((pl.col("unit_id") == "H001") & (pl.col("facet") == "overall"))
    assert sorted(h1_runs["run_id"]) == sorted([first_id, forced_id])
    assert h1_runs["score"].n_unique() == 1  # same data, same score
    assert set(st.scores(P)["run_id"]) == {forced_id}

    # ---- dq history lists them
    assert main(["history", "--store", str(store), "--format", "json"]) == 0
    hist = json.loads(capsys.readouterr().out)["rows"]
    assert {(h["unit_id"], h["run_id"]) for h in hist} == {
        (u, forced_id) for u in ("H001", "H002", "D01", "folder:BADYAML", "BADPQ")
    }
    assert all(h["period"] == P for h in hist)
    assert main(["history", "--store", str(store), "--runs", "--format", "json"]) == 0
    runs = json.loads(capsys.readouterr().out)["rows"]
    assert runs[0]["run_id"] == first_id and len(runs) == 4
    assert main(["history", "--store", str(store), "--unit", "H001", "--format", "json"]) == 0
    (h1_hist,) = json.loads(capsys.readouterr().out)["rows"]
    assert h1_hist["period"] == P and h1_hist["score"] == ranking_score(out, "H001")
    assert main(["history", "--store", str(store)]) == 0  # the table form prints
    assert "H001" in capsys.readouterr().out


def ranking_score(out: dict, uid: str) -> float:
    return {r["unit_id"]: r["score"] for r in out["ranking"]}[uid]


def test_a_rerun_with_nothing_to_do_records_no_run(batch: Path, tmp_path: Path, capsys):
    good = tmp_path / "good"
    for folder in ("H001", "h2-folder", "D01"):  # the batch's units that score
        shutil.copytree(batch / P / folder, good / P / folder)
    store = tmp_path / "history"
    args = (str(good), "--period", P, "--store", str(store))
    rc, first = score(capsys, *args)
    assert rc == 0 and first["skipped"] == [] and first["errors"] == []
    st = Store(store)
    files = sorted(p.relative_to(store) for p in store.rglob("*.parquet"))

    # every unit is already scored: nothing is written, and the command says so
    rc = main(["score", *args, "--format", "json"])
    cap = capsys.readouterr()
    again = json.loads(cap.out)
    assert rc == 0  # the code of the scores it stands on, as if it had run
    assert "nothing to do: 3 units already scored for 2020-09" in cap.err
    assert sorted(p.relative_to(store) for p in store.rglob("*.parquet")) == files
    assert st.runs()["run_id"].to_list() == [first["run_id"]]
    assert again["run_id"] == first["run_id"] and sorted(again["skipped"]) == ["D01", "H001", "H002"]
    assert again["ranking"] == first["ranking"] and again["errors"] == []
    assert main(["score", *args]) == 0
    out = capsys.readouterr().out
    assert "nothing to do: 3 units already scored for 2020-09" in out and "H001" in out
    assert st.runs().height == 1

    # -q keeps the JSON clean and silent; --force has work to do and records it
    assert main(["-q", "score", *args, "--format", "json"]) == 0
    assert capsys.readouterr().err == ""
    rc, forced = score(capsys, *args, "--force")
    assert rc == 0 and forced["run_id"] != first["run_id"] and forced["skipped"] == []
    assert st.runs()["status"].to_list() == ["complete", "complete"]

    # a unit added to the batch is work again: one run, the others skipped
    shutil.copytree(batch / P / "BADPQ", good / P / "BADPQ")
    rc, more = score(capsys, *args)
    assert rc == 1 and sorted(more["skipped"]) == ["D01", "H001", "H002"]
    assert st.runs().height == 3 and st.runs()["run_id"].to_list()[-1] == more["run_id"]
    # ... and then the rerun's code is that of its stored error: BADPQ is tried again, so it runs
    rc, _ = score(capsys, *args)
    assert rc == 1 and st.runs().height == 4


def test_table_output_and_errors_on_stderr(batch: Path, tmp_path: Path, capsys):
    rc = main(["score", str(batch), "--period", P, "--store", str(tmp_path / "h")])
    cap = capsys.readouterr()
    assert rc == 1
    assert "error folder:BADYAML:" in cap.err and "manifest.yaml" in cap.err
    assert "H001" in cap.out and "units" in cap.out


def test_missing_batch_folder_is_a_usage_error(tmp_path: Path, capsys):
    rc = main(["score", str(tmp_path), "--period", P, "--store", str(tmp_path / "h")])
    assert rc == 2
    assert "no such batch folder" in capsys.readouterr().err
    assert main(["score", str(tmp_path), "--period", "2020-13", "--store", str(tmp_path / "h")]) == 2


def test_period_mismatch_is_a_unit_error(tmp_path: Path, capsys):
    hospital(tmp_path / "b" / P / "H001", "H001", 5)
    m = tmp_path / "b" / P / "H001" / "manifest.yaml"
    m.write_text(
        m.read_text(encoding="utf-8").replace("period: 2020-09", "period: 2020-08"), encoding="utf-8"
    )
    rc, out = score(capsys, str(tmp_path / "b"), "--period", P, "--store", str(tmp_path / "h"))
    assert rc == 1
    (err,) = out["errors"]
    assert err["unit_id"] == "H001" and "2020-08" in err["error"] and "manifest.yaml" in err["error"]


# ----------------------------------------------------------------------------- submission peers
def test_evaluate_submissions_compares_each_unit_with_all_peers():
    """Each unit's rules see only its row, but peer checks compare it with every unit."""
    ratios = {"D01": 100, "D02": 110, "D03": 120, "D04": 90, "D05": 100, "D06": 0}  # per mille
    rows = [
        {
            "period": P,
            "unit_id": uid,
            "unit_name": uid,
            "kind": "district",
            "declaration_status": "declared",
            "declared_tables": 6,
            "required_tables": 6,
            "uploaded_tables": 6,
            "data_volume": 1000 + i,
            "upload_days": 30,
            "days_in_period": 30,
            "outpatient_uploaded": 500 + i,
            "records_basic": 1000,
            "records_hypertension": per_mille or 1,  # D06: 1 of 1000, far below its peers
            "records_diabetes": 50,
        }
        for i, (uid, per_mille) in enumerate(ratios.items())
    ]
    rows[1]["outpatient_uploaded"] = rows[2]["outpatient_uploaded"]  # D02 copies D03's figure
    suites = load_suites([default_rules_dir() / "suites" / "submission"])
    out = evaluate_submissions(summary_frame(rows), suites)
    assert set(out) == set(ratios)
    by = {uid: {r.rule: r for r in res} for uid, res in out.items()}
    for uid in ratios:
        # narrowed to the unit's own row
        assert by[uid]["SUB-005"].evaluated == 30 and by[uid]["SUB-013"].evaluated == 1
    assert {u for u in by if by[u]["SUB-018"].status == "warn"} == {"D06"}
    assert all(by[u]["SUB-018"].evaluated == 1 for u in by)
    assert {u for u in by if by[u]["SUB-021"].status == "warn"} == {"D02", "D03"}
    assert {u for u in by if by[u]["SUB-020"].status == "warn"} == set()


def _published_frames():
    from dq.io.published import data_dir, load_collection

    root = data_dir(None)
    for period in sorted({f.name[:7] for f in root.glob("*_collection_*.csv")}):
        frames = [
            load_collection(period, kind, root=root)
            for kind in ("district", "hospital")
            if (root / f"{period}_collection_{kind}.csv").is_file()
        ]
        yield period, summary_frame(pl.concat(frames, how="diagonal_relaxed").to_dicts())


def test_evaluate_submissions_all_units_at_once_equals_unit_by_unit():
    """The one-query evaluation of every unit gives each unit exactly the results of the
    submission suite narrowed to that unit (the unit-by-unit path), on every published month,
    whose units include peer outliers, copied figures and missing declarations."""
    from dq.batch.local import _evaluate_submissions_per_unit
    from dq.engine.evaluate import evaluate_by_unit

    suites = load_suites([default_rules_dir() / "suites" / "submission"])
    rules = [r for s in suites if s.table == "submission_summary" for r in s.rules]
    statuses = set()
    for period, frame in _published_frames():
        units = frame["unit_id"].to_list()
        assert len(units) > 10, period
        fast = evaluate_by_unit(frame.lazy(), rules, "submission_summary", units)
        assert fast is not None, period  # the fast path ran (no fallback)
        slow = _evaluate_submissions_per_unit(frame, rules, units)
        assert list(fast) == list(slow) == units
        for uid in units:
            assert fast[uid] == slow[uid], (period, uid)
        assert evaluate_submissions(frame, suites, units=units[3:5]) == {u: slow[u] for u in units[3:5]}
        statuses |= {r.status for res in fast.values() for r in res}
    assert {"pass", "warn", "fail"} <= statuses  # the months exercise failing rules too


# ----------------------------------------------------------------------------- synthetic batch
def _synth_available() -> bool:
    try:
        import dq.cli._synth  # noqa: F401
    except ModuleNotFoundError:
        return False
    return True


@pytest.mark.skipif(not _synth_available(), reason="dq synth is not available yet")
def test_tiny_synthetic_batch(tmp_path: Path, capsys):
    """dq synth writes 3 units with known defects (truth.json); dq score reads them back."""
    units = ["H021", "H026", "D03"]
    out_dir = tmp_path / "b"
    rc = main(
        [
            "synth",
            "--out",
            str(out_dir),
            "--period",
            P,
            "--scale",
            "0.001",
            "--units",
            *units,
            "--no-progress",
        ]
    )
    capsys.readouterr()
    assert rc == 0
    truth = json.loads((out_dir / P / "truth.json").read_text(encoding="utf-8"))
    assert sorted(truth["units"]) == sorted(units)

    rc, out = score(capsys, str(out_dir), "--period", P, "--store", str(tmp_path / "h"))
    assert out["errors"] == [] and rc == 0
    ranking = {r["unit_id"]: r for r in out["ranking"]}
    assert set(ranking) == set(units)
    assert all(r["status"] == "ok" and r["score"] is not None for r in ranking.values())

    # The submission figures dq derives are the ones the generator planted.
    summaries = {r["unit_id"]: r for r in Store(tmp_path / "h").summaries(P).to_dicts()}
    for uid, t in truth["units"].items():
        s = summaries[uid]
        expected_days = [d for d in range(1, 31) if d not in set(t["missing_days"])]
        assert s["upload_dates"] == ",".join(map(str, expected_days)), uid
        assert s["upload_days"] == len(expected_days)
        assert s["uploaded_tables"] == len(t["uploaded_tables"])
        if t["collection_mode"] == "direct_db":
            assert s["declaration_status"] == "direct_db"
        elif t["declared_tables"] is None:
            assert s["declaration_status"] == "not_reported" and s["declared_tables"] is None
        else:
            declared, uploaded = set(t["declared_tables"]), set(t["uploaded_tables"])
            assert s["declaration_status"] == "declared"
            assert s["declared_not_uploaded"] == len(declared - uploaded)
            assert s["uploaded_not_declared"] == len(uploaded - declared)
        assert s["outpatient_reference"] == t["reference"].get("outpatient_visits")
