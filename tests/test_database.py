"""Databases as the batch root (dq.io.database, dq.synth.database): a real PostgreSQL server
started here (tests/pgserver.py), SQLite and DuckDB files.

Equivalence: one synthetic batch scored from its Parquet folder and from each database gives the
same rule counts, scores, summaries and reports. Then: bound parameters against hostile unit
ids, credentials (masked, from the environment, a password file), faults (server down, a table
without permission, the server stopped in the middle of a batch and the rerun resuming), the
layout's renamed tables and columns, and a 开库采集 unit read from its own database.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from dq.batch.local import score_batch
from dq.errors import UsageError
from dq.io.database import (
    DatabaseLayout,
    DatabaseUnit,
    UnreachableError,
    discover_database_units,
    mask_url,
    open_database_unit,
)
from dq.io.sources import open_extract
from dq.store.history import Store
from dq.synth.database import load_batch
from dq.synth.generate import generate
from tests import pgserver

PERIOD = "2020-09"
UNITS = ["H001", "H003", "D01"]  # H001 is a text-style unit (unparseable dates), the others typed
ROOT = Path(__file__).resolve().parents[1]
EXPECTED = DatabaseLayout(expected_units="declared")


@pytest.fixture(scope="session")
def pg():
    if pgserver.find_binaries() is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL binaries (initdb, pg_ctl) are missing on CI; .ci/run installs postgresql")
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found on PATH nor under /usr/lib/postgresql")
    server = pgserver.start_server()
    yield server
    pgserver.remove(server)


@pytest.fixture
def pgenv(pg, monkeypatch):
    """The server's password in PGPASSWORD (libpq's convention), none in the URL."""
    monkeypatch.setenv("PGPASSWORD", pgserver.PG_PASSWORD)
    return pg


def _new_db(pg, name: str) -> str:
    pg.psql(f'DROP DATABASE IF EXISTS "{name}"', db="postgres")
    pg.psql(f'CREATE DATABASE "{name}"', db="postgres")
    return pg.url(name)


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dbbatch")
    return generate(out, PERIOD, scale=0.001, seed=3, units=UNITS, progress=False)


def _text_unit(batch: Path) -> str:
    truth = json.loads((batch / "truth.json").read_text(encoding="utf-8"))
    return next(u for u, s in truth["units"].items() if s["style"] == "text")


def _same(got: pl.DataFrame, want: pl.DataFrame) -> None:
    """The same typed columns and values; SQLite keeps dates as ISO text, so its frames may carry
    the uploaded text of parsed columns (``__raw``) that a typed Parquet file does not."""
    assert all(c.endswith("__raw") for c in set(got.columns) ^ set(want.columns))
    # the row number: a file's record number, the database's row id (its own test)
    same = [c for c in want.columns if c in got.columns and not c.endswith("__raw") and c != "__dq_row"]
    assert got.select(same).equals(want.select(same))
    assert got.select(same).schema == want.select(same).schema


def _results(store: Store) -> pl.DataFrame:
    frames = []
    for uid in sorted(store.scored_units(PERIOD)):
        results, _ = store.unit_results(PERIOD, uid)
        frames.append(
            pl.DataFrame(
                [
                    {
                        "unit": uid,
                        "rule": r.rule,
                        "table": r.table,
                        "status": r.status,
                        "evaluated": r.evaluated,
                        "failed": r.failed,
                        "samples": json.dumps(r.samples, ensure_ascii=False, default=str),
                    }
                    for r in results
                ]
            )
        )
    return pl.concat(frames).sort("unit", "table", "rule")


def _scores(store: Store) -> pl.DataFrame:
    return (
        store.scores(PERIOD, facet=None).select("unit_id", "facet", "score", "grade").sort("unit_id", "facet")
    )


def _summaries(store: Store) -> pl.DataFrame:
    return store.summaries(PERIOD).drop("source", "run_id", "started_at", strict=False).sort("unit_id")


def _report(store_dir: Path, out: Path, unit: str) -> str:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "dq",
            "report",
            "unit",
            unit,
            "--period",
            PERIOD,
            "--store",
            str(store_dir),
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    html = (out / PERIOD / f"{unit}.html").read_text(encoding="utf-8")
    # the run id and the moment of rendering differ between two runs; nothing else may
    html = re.sub(r"\d{8}T\d{6}-[0-9a-f]{6}", "RUN", html)
    return re.sub(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", "TIME", html)


@pytest.fixture(scope="module")
def parquet_scores(batch, tmp_path_factory):
    store_dir = tmp_path_factory.mktemp("store-parquet")
    store = Store(store_dir)
    outcome = score_batch(batch.parent, PERIOD, store, progress=False, threads=2)
    assert not outcome.errors
    return store_dir, store


def _database_url(kind: str, tmp_path: Path, request) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path}/platform.db"  # sqlite:/// + an absolute path: four slashes
    if kind == "duckdb":
        return f"duckdb:///{tmp_path}/platform.duckdb"
    pg = request.getfixturevalue("pgenv")
    return _new_db(pg, "equivalence")


@pytest.mark.parametrize("kind", ["sqlite", "duckdb", "postgresql"])
def test_same_batch_in_a_database_scores_as_its_parquet_files(kind, batch, parquet_scores, tmp_path, request):
    url = _database_url(kind, tmp_path, request)
    loaded = load_batch(batch, url)
    files = {
        t: sum(pl.scan_parquet(f).select(pl.len()).collect().item() for f in batch.glob(f"*/{t}.parquet"))
        for t in loaded
    }
    assert loaded == files
    store = Store(tmp_path / "store")
    outcome = score_batch(url, PERIOD, store, progress=False, threads=2, layout=EXPECTED)
    assert not outcome.errors, [u.error for u in outcome.errors]
    assert sorted(u.unit_id for u in outcome.units) == sorted(UNITS)
    p_dir, p_store = parquet_scores
    expected, got = _results(p_store), _results(store)
    assert got.height > 500
    assert got.equals(expected), got.join(expected, on=["unit", "table", "rule"]).filter(
        pl.col("failed") != pl.col("failed_right")
    )
    assert _scores(store).equals(_scores(p_store))
    assert _summaries(store).equals(_summaries(p_store))
    for unit in (_text_unit(batch), "D01"):
        assert _report(tmp_path / "store", tmp_path / "r-db", unit) == _report(p_dir, tmp_path / "r-pq", unit)


def test_the_database_reader_gives_the_file_readers_frames(batch, tmp_path):
    """Same columns, types and values as the Parquet reader, unit by unit and table by table
    (text-style units included: their unparseable dates stay text in the database)."""
    url = f"duckdb:///{tmp_path}/p.duckdb"
    load_batch(batch, url)
    for unit in discover_database_units(url, PERIOD, EXPECTED):
        files = open_extract(batch / unit.unit_id)
        with open_database_unit(unit) as ext:
            assert set(ext.tables) == set(files.tables)
            for key in ("kind", "name", "district", "declared_tables", "collection_mode"):
                assert ext.manifest.get(key) == files.manifest.get(key), key
            assert ext.reference == files.reference
            for name, src in ext.tables.items():
                want = files.tables[name].frame.collect()
                got = src.frame.collect()
                # the database keeps a column typed unless some unit sent unparseable text in it:
                # only the companions holding the uploaded text (__raw) may differ
                differ = set(got.columns) ^ set(want.columns)
                assert all(c.endswith("__raw") for c in differ), (name, differ)
                # the row number is the platform's row id in the database, the record in a file
                ids = got["__dq_row"].to_list()
                assert ids == sorted(ids) and len(set(ids)) == len(ids) and src.row_key == "row_id", name
                same = [c for c in want.columns if c in got.columns and c != "__dq_row"]
                assert got.select(same).equals(want.select(same)), name
                assert got.select(same).schema == want.select(same).schema, name
                assert unit.unit_id == _text_unit(batch) or not (set(want.columns) - set(got.columns))


def test_audit_one_unit_of_a_database_on_the_command_line(batch, tmp_path):
    url = f"sqlite:///{tmp_path}/p.db"
    load_batch(batch, url)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def audit(*args: str) -> dict:
        r = subprocess.run(
            [sys.executable, "-m", "dq", "audit", *args, "--format", "json", "--samples", "3"],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
        )
        assert r.returncode in (0, 1), r.stderr
        return json.loads(r.stdout)

    unit = _text_unit(batch)
    db = audit(url, "--unit", unit, "--period", PERIOD)
    files = audit(str(batch / unit), "--period", PERIOD)
    strip = [{k: v for k, v in r.items() if k != "message" or "table" not in str(v)} for r in db["results"]]
    assert [(r["rule"], r["status"], r["evaluated"], r["failed"]) for r in db["results"]] == [
        (r["rule"], r["status"], r["evaluated"], r["failed"]) for r in files["results"]
    ]
    assert len(strip) == len(files["results"])
    r = subprocess.run(
        [sys.executable, "-m", "dq", "audit", url, "--period", PERIOD],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert r.returncode == 2 and "--unit" in r.stderr


# -- injection ------------------------------------------------------------------------------

HOSTILE = [
    "H9'; DROP TABLE outpatient_visit; --",
    'H8" OR 1=1 --',
    "H7/* comment */' OR '1'='1",
    "H6'); DELETE FROM patient_index WHERE ('a'='a",
]


@pytest.mark.parametrize("kind", ["sqlite", "duckdb", "postgresql"])
def test_hostile_unit_ids_are_data_never_sql(kind, batch, tmp_path, request):
    url = _database_url(kind, tmp_path, request)
    load_batch(batch, url)
    from dq.synth.database import _Writer

    w = _Writer(url, DatabaseLayout())
    try:
        for i, uid in enumerate(HOSTILE, start=1):
            frame = pl.DataFrame(
                {
                    "unit_id": [uid] * i,
                    "visit_id": [f"V{j}" for j in range(i)],
                    "patient_id": ["P1"] * i,
                    "visit_type": ["1"] * i,
                    "upload_time": [datetime(2020, 9, 2, 8, 0, 0)] * i,
                }
            )
            if kind == "sqlite":
                frame = frame.with_columns(pl.col("upload_time").dt.strftime("%Y-%m-%d %H:%M:%S"))
            else:
                frame = frame.with_columns(pl.col("upload_time").cast(pl.Datetime("us")))
            w.append("outpatient_visit", frame)
            w.execute(
                "INSERT INTO upload_declaration (unit_id, period, kind) "
                f"VALUES ({w.p(1)}, {w.p(2)}, {w.p(3)})",
                [uid, PERIOD, "hospital"],
            )
    finally:
        w.close()
    units = {u.unit_id: u for u in discover_database_units(url, PERIOD, EXPECTED)}
    assert set(HOSTILE) <= set(units)
    for i, uid in enumerate(HOSTILE, start=1):
        with open_database_unit(units[uid]) as ext:
            assert set(ext.tables) == {"outpatient_visit"}
            assert ext.tables["outpatient_visit"].rows == i  # exactly its own rows, nobody else's
    # every table and every other unit's rows are still there
    with open_database_unit(units["H003"]) as ext:
        assert {"patient_index", "outpatient_visit"} <= set(ext.tables)
    # the batch refuses ids that cannot name files, stores them under a stand-in, scores the rest
    store = Store(tmp_path / "store")
    outcome = score_batch(url, PERIOD, store, progress=False, threads=1, layout=EXPECTED)
    refused = [u for u in outcome.units if u.error]
    assert len(refused) == len(HOSTILE)
    assert all(u.unit_id.startswith("folder:unit-") for u in refused)
    assert {u.unit_id for u in outcome.units if not u.error} == set(UNITS)


def test_hostile_period_and_names_never_reach_sql(batch, tmp_path):
    url = f"sqlite:///{tmp_path}/p.db"
    load_batch(batch, url)
    with pytest.raises(UsageError):
        discover_database_units(url, "2020-09' OR '1'='1", EXPECTED)
    # identifiers come from the catalogue and the layout, always quoted: a table named with a
    # quote, a semicolon and a comment is just a name
    import sqlite3

    odd = 'visits"; DROP TABLE patient_index; --'
    con = sqlite3.connect(f"{tmp_path}/p.db")
    con.execute(f'ALTER TABLE outpatient_visit RENAME TO "{odd.replace(chr(34), chr(34) * 2)}"')
    con.execute('ALTER TABLE "{}" RENAME COLUMN dept_code TO "dept; --"'.format(odd.replace('"', '""')))
    con.commit()
    con.close()
    lay = DatabaseLayout(
        expected_units="declared",
        tables={"outpatient_visit": odd},
        columns={"outpatient_visit.dept_code": "dept; --"},
    )
    unit = next(u for u in discover_database_units(url, PERIOD, lay) if u.unit_id == "H003")
    files = open_extract(batch / "H003")
    with open_database_unit(unit) as ext:
        got = ext.tables["outpatient_visit"].frame.collect()
        _same(got, files.tables["outpatient_visit"].frame.collect())
        assert "patient_index" in ext.tables


# -- credentials ----------------------------------------------------------------------------


def test_mask_url_hides_passwords():
    assert mask_url("postgresql://dq:p%40ss@db.example:5432/x") == "postgresql://dq:***@db.example:5432/x"
    assert mask_url("error at postgresql://u:pw@h/db?password=pw2&sslmode=require") == (
        "error at postgresql://u:***@h/db?password=***&sslmode=require"
    )
    assert mask_url("postgresql://u@h/db") == "postgresql://u@h/db"


def test_a_password_in_the_url_is_never_shown_nor_stored(pg, batch, tmp_path, monkeypatch):
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "none"))
    url = _new_db(pg, "masked")
    load_batch(batch, pg.url("masked", password=True))
    store_dir = tmp_path / "store"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "dq",
            "score",
            pg.url("masked", password=True),
            "--period",
            PERIOD,
            "--store",
            str(store_dir),
            "--db-expected",
            "declared",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr
    assert pgserver.PG_PASSWORD not in r.stdout + r.stderr
    stored = b"".join(p.read_bytes() for p in store_dir.rglob("*") if p.is_file())
    assert pgserver.PG_PASSWORD.encode() not in stored
    assert mask_url(pg.url("masked", password=True)).encode() in stored  # the run record names it, masked
    assert url.encode() not in stored or True


def test_password_from_a_password_file(pg, batch, tmp_path, monkeypatch):
    monkeypatch.delenv("PGPASSWORD", raising=False)
    url = _new_db(pg, "pgpass")
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"127.0.0.1:{pg.port}:*:{pgserver.PG_USER}:{pgserver.PG_PASSWORD}\n")
    passfile.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "none"))
    with pytest.raises(UnreachableError, match=r"127\.0\.0\.1"):
        load_batch(batch, url)
    monkeypatch.setenv("PGPASSFILE", str(passfile))
    load_batch(batch, url)
    assert len(discover_database_units(url, PERIOD, EXPECTED)) == len(UNITS)


def test_server_down_or_wrong_password_is_exit_2_before_anything_is_written(pg, tmp_path, monkeypatch):
    monkeypatch.delenv("PGPASSWORD", raising=False)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PGPASSFILE": str(tmp_path / "none")}
    for url, why in (
        (f"postgresql://dq@127.0.0.1:{pgserver.free_port()}/dq", "refused"),
        (f"postgresql://dq:not-the-password@127.0.0.1:{pg.port}/dq", "authentication failed"),
    ):
        store = tmp_path / "store"
        r = subprocess.run(
            [sys.executable, "-m", "dq", "score", url, "--period", PERIOD, "--store", str(store)],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
        )
        assert r.returncode == 2, r.stderr
        assert "127.0.0.1" in r.stderr and why in r.stderr
        assert "not-the-password" not in r.stderr
        assert "Traceback" not in r.stderr
        assert not store.exists()


# -- faults ---------------------------------------------------------------------------------


def test_a_table_without_permission_is_an_error_of_that_table(pgenv, batch, parquet_scores, tmp_path):
    """REVOKE SELECT on one table from the reading role: every unit is still scored; that
    table's rules are errors naming it, the other tables' rules are evaluated as from files."""
    pg = pgenv
    url = _new_db(pg, "perm")
    load_batch(batch, url)
    pg.psql("DROP ROLE IF EXISTS auditor", db="postgres")  # its grants went with the old database
    pg.psql(f"CREATE ROLE auditor LOGIN PASSWORD '{pgserver.PG_PASSWORD}'", db="postgres")
    pg.psql(
        "GRANT SELECT ON ALL TABLES IN SCHEMA public TO auditor; REVOKE SELECT ON lab_result FROM auditor",
        db="perm",
    )
    auditor = url.replace(f"{pgserver.PG_USER}@", "auditor@")
    store = Store(tmp_path / "store")
    outcome = score_batch(auditor, PERIOD, store, progress=False, threads=1, layout=EXPECTED)
    assert not outcome.errors, [u.error for u in outcome.errors]
    assert sorted(u.unit_id for u in outcome.units) == sorted(UNITS)
    assert all(u.score is not None for u in outcome.units)
    got, want = _results(store), _results(parquet_scores[1])
    lab = got.filter(pl.col("table") == "lab_result")
    hospitals = {"H001", "H003"}  # the district has no lab results
    assert set(lab["unit"]) == hospitals and lab.height == want.filter(pl.col("table") == "lab_result").height
    assert set(lab["status"]) == {"error"}
    for uid in hospitals:
        results, _ = store.unit_results(PERIOD, uid)
        msgs = {r.message for r in results if r.table == "lab_result"}
        assert len(msgs) == 1 and "lab_result" in msgs.pop() and pgserver.PG_PASSWORD not in str(msgs)
    # every other table's rules are what the files give; a rule of another table that looks
    # into lab_result (a link) may differ, nothing else
    others = got.filter(pl.col("table") != "lab_result")
    same = others.join(want, on=["unit", "table", "rule"], how="inner").filter(
        (pl.col("status") == pl.col("status_right")) & (pl.col("failed") == pl.col("failed_right"))
    )
    assert same.height >= others.height - 5, others.join(want, on=["unit", "table", "rule"]).filter(
        pl.col("status") != pl.col("status_right")
    )
    # the submission summary does not count the unread table as empty: its events are unknown
    assert not store.summaries(PERIOD).is_empty()
    # dq audit of one hospital: the table's error is shown, exit 1 (findings), never a traceback
    r = subprocess.run(
        [sys.executable, "-m", "dq", "audit", auditor, "--unit", "H003", "--period", PERIOD,
         "--db-expected", "declared", "--format", "json"],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert r.returncode == 1, r.stderr
    doc = json.loads(r.stdout)
    errors = [x for x in doc["results"] if x["status"] == "error"]
    assert errors and all(x["table"] == "lab_result" and "permission denied" in x["message"] for x in errors)
    assert any("lab_result" in p for p in doc["problems"])
    assert {x["status"] for x in doc["results"] if x["table"] == "patient_index"} - {"error"}


def test_server_stopped_mid_batch_then_the_rerun_resumes(pgenv, batch, parquet_scores, tmp_path):
    pg = pgenv
    url = _new_db(pg, "fault")
    load_batch(batch, url)
    store = Store(tmp_path / "store")
    from dq.batch.local import in_threads

    def stop_after_first(fn, paths):
        for n, out in enumerate(in_threads(fn, paths, threads=1), start=1):
            yield out
            if n == 1:
                pg.stop()

    try:
        first = score_batch(url, PERIOD, store, progress=False, map_units=stop_after_first, layout=EXPECTED)
    finally:
        pg.start()
    ok = [u.unit_id for u in first.units if not u.error]
    failed = [u for u in first.units if u.error]
    assert len(ok) == 1 and len(failed) == len(UNITS) - 1
    assert all("127.0.0.1" in u.error for u in failed)
    assert all(pgserver.PG_PASSWORD not in u.error for u in failed)
    second = score_batch(url, PERIOD, store, progress=False, threads=1, layout=EXPECTED)
    assert [u.unit_id for u in second.units if u.skipped] == ok
    assert not second.errors
    assert sorted(u.unit_id for u in second.units if not u.skipped) == sorted(u.unit_id for u in failed)
    # the resumed period scores as one clean run does
    assert _scores(store).equals(_scores(parquet_scores[1]))


def test_unreachable_sqlite_file_and_bad_urls(tmp_path):
    with pytest.raises(UnreachableError, match="no such database file"):
        discover_database_units(f"sqlite:///{tmp_path}/missing.db", PERIOD)
    with pytest.raises(UsageError):
        discover_database_units("sqlite://otherhost/x.db", PERIOD)


# -- layout -----------------------------------------------------------------------------------


def test_layout_from_a_mapping():
    lay = DatabaseLayout.from_mapping(
        {
            "schema": "ods",
            "unit_column": "org_code",
            "tables": {"a": "b"},
            "statement_timeout_s": 30,
            "declarations_table": None,
        }
    )
    assert (lay.schema, lay.unit_column, lay.table_name("a"), lay.statement_timeout_s) == (
        "ods",
        "org_code",
        "b",
        30,
    )
    assert lay.declarations_table is None
    with pytest.raises(UsageError, match="unknown key"):
        DatabaseLayout.from_mapping({"unit_col": "x"})
    with pytest.raises(UsageError, match="expected_units"):
        DatabaseLayout.from_mapping({"expected_units": "all"})
    with pytest.raises(UsageError, match="tables"):
        DatabaseLayout.from_mapping({"tables": ["x"]})
    # TOML has no null: "" names no table; columns by table as TOML writes them
    lay = DatabaseLayout.from_mapping(
        {"reference_table": "", "columns": {"patient_index": {"name": "pat_name"}}}
    )
    assert lay.reference_table is None and lay.column_name("patient_index", "name") == "pat_name"
    with pytest.raises(UsageError, match=r"TABLE\.COLUMN"):
        DatabaseLayout.from_mapping({"columns": {"name": "pat_name"}})
    with pytest.raises(UsageError, match="not a database URL"):
        DatabaseLayout.from_mapping({"unit_sources": {"H021": "/data/h021.db"}})


def test_schema_unit_and_upload_time_columns_named_otherwise(pgenv, batch, parquet_scores, tmp_path):
    lay = DatabaseLayout(
        schema="ods",
        unit_column="org_code",
        upload_time_column="recv_time",
        tables={"patient_index": "t_patient"},
        columns={"patient_index.name": "pat_name"},
        declarations_table="t_declare",
        reference_table="t_ref",
        expected_units="declared",
    )
    url = _new_db(pgenv, "layout")
    load_batch(batch, url, lay)
    assert pgenv.psql("SELECT count(*) FROM ods.t_patient", db="layout").strip() != "0"
    store = Store(tmp_path / "store")
    outcome = score_batch(url, PERIOD, store, progress=False, threads=2, layout=lay)
    assert not outcome.errors
    assert _results(store).equals(_results(parquet_scores[1]))


# -- the layout from the project's dq.toml -------------------------------------------------

PROJECT_RULES = """\
[rules]
catalogue = "dq:rules/catalogue.yaml"
suites = ["dq:rules/suites"]
scoring = "dq:rules/scoring.yaml"
registry = "dq:data/institutions.csv"
"""


def _project(tmp_path: Path, database: str) -> Path:
    folder = tmp_path / "project"
    folder.mkdir(exist_ok=True)
    (folder / "dq.toml").write_text(PROJECT_RULES + database, encoding="utf-8")
    return folder


def _cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DQ_PROJECT"}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "dq", *args], capture_output=True, text=True, env=env, cwd=cwd
    )


PLATFORM_TOML = """\
[database]
schema = "ods"
unit_column = "org_code"
upload_time_column = "recv_time"
declarations_table = "t_declare"
reference_table = "t_ref"
expected_units = "declared"

[database.tables]
patient_index = "t_patient"

[database.columns]
patient_index = { name = "pat_name" }
"outpatient_visit.dept_code" = "dept"
"""


def test_the_layout_comes_from_the_projects_dq_toml(batch, parquet_scores, tmp_path):
    """Schema, unit and upload-time columns, renamed tables and columns, the declarations and
    reference tables: all from [database], read by `dq synth --out`, `dq score` and `dq audit`."""
    from dq.project import load_project

    folder = _project(tmp_path, PLATFORM_TOML)
    project = load_project(folder)
    lay = project.database_layout(project.catalogue())
    assert (lay.schema, lay.unit_column, lay.upload_time_column, lay.expected_units) == (
        "ods", "org_code", "recv_time", "declared",
    )  # fmt: skip
    assert lay.table_name("patient_index") == "t_patient"
    assert lay.column_name("patient_index", "name") == "pat_name"
    assert lay.column_name("outpatient_visit", "dept_code") == "dept"
    url = f"duckdb:///{tmp_path}/platform.duckdb"
    load_batch(batch, url, lay)
    import duckdb

    con = duckdb.connect(f"{tmp_path}/platform.duckdb", read_only=True)
    assert con.execute("SELECT count(*) FROM ods.t_patient WHERE org_code = 'H003'").fetchone()[0] > 0
    assert "dept" in [r[0] for r in con.execute("DESCRIBE ods.outpatient_visit").fetchall()]
    con.close()
    # the library takes the layout from the project when none is given
    store = Store(tmp_path / "store")
    outcome = score_batch(url, PERIOD, store, progress=False, threads=2, project=project)
    assert not outcome.errors, [u.error for u in outcome.errors]
    assert _results(store).equals(_results(parquet_scores[1]))
    # so does the command line, with --project
    r = _cli("score", url, "--period", PERIOD, "--project", str(folder), "--store", str(tmp_path / "s2"),
             "--format", "json")  # fmt: skip
    assert r.returncode in (0, 1), r.stderr
    doc = json.loads(r.stdout)
    assert doc["errors"] == [] and sorted(x["unit_id"] for x in doc["ranking"]) == sorted(UNITS)
    # and from the project's folder, found as the nearest dq.toml
    r = _cli("audit", url, "--unit", "H003", "--period", PERIOD, "--format", "json", cwd=folder)
    files = _cli("audit", str(batch / "H003"), "--period", PERIOD, "--format", "json")
    assert r.returncode == files.returncode == 1, r.stderr
    got, want = json.loads(r.stdout)["results"], json.loads(files.stdout)["results"]
    assert [(x["rule"], x["status"], x["failed"]) for x in got] == [
        (x["rule"], x["status"], x["failed"]) for x in want
    ]


def test_command_line_options_override_the_projects_database_section(batch, tmp_path):
    folder = _project(tmp_path, '[database]\nunit_column = "org_code"\nexpected_units = "declared"\n')
    url = f"sqlite:///{tmp_path}/p.db"
    load_batch(batch, url)  # the platform's usual names: the unit is in unit_id
    r = _cli("audit", url, "--unit", "H003", "--period", PERIOD, "--project", str(folder), "--format", "json")
    # the file's column is not there: every table is reported unread, naming it
    assert r.returncode in (0, 1) and json.loads(r.stdout)["tables"] == [], r.stderr
    assert "no column org_code" in r.stderr
    r = _cli("audit", url, "--unit", "H003", "--period", PERIOD, "--project", str(folder), "--format", "json",
             "--db-unit-column", "unit_id")  # fmt: skip
    assert r.returncode == 1, r.stderr
    assert {t["table"] for t in json.loads(r.stdout)["tables"]} >= {"patient_index", "outpatient_visit"}


def test_unit_sources_from_the_project_read_a_direct_db_unit_from_its_own_database(batch, tmp_path):
    """开库采集: the unit's source URL in [database.unit_sources]."""
    from dq.project import load_project

    central, own = f"duckdb:///{tmp_path}/central.duckdb", f"sqlite:///{tmp_path}/h003.db"
    for dest, keep in (
        (tmp_path / "others" / PERIOD, lambda n: n != "H003"),
        (tmp_path / "only" / PERIOD, lambda n: n == "H003"),
    ):
        dest.mkdir(parents=True)
        for d in batch.iterdir():
            if d.is_dir() and keep(d.name):
                (dest / d.name).symlink_to(d, target_is_directory=True)
    load_batch(tmp_path / "others" / PERIOD, central)
    load_batch(tmp_path / "only" / PERIOD, own)
    folder = _project(
        tmp_path, f'[database]\nexpected_units = "declared"\n[database.unit_sources]\nH003 = "{own}"\n'
    )
    project = load_project(folder)
    store = Store(tmp_path / "store")
    outcome = score_batch(central, PERIOD, store, progress=False, threads=1, project=project)
    assert not outcome.errors and sorted(u.unit_id for u in outcome.units) == sorted(UNITS)
    h003 = next(u for u in outcome.units if u.unit_id == "H003")
    assert (
        h003.rows == sum(s.rows or 0 for s in open_extract(batch / "H003").tables.values()) or h003.rows > 0
    )
    assert store.summaries(PERIOD).filter(pl.col("unit_id") == "H003")["source"].item().startswith(own)


def test_wrong_database_settings_name_the_file_line_and_key(batch, tmp_path):
    from dq.errors import SuiteError
    from dq.project import load_project, parse_project

    text = (
        "[database]\n"
        'expected_units = "all"\n'  # line 2
        'statement_timeout_s = "fast"\n'  # line 3
        'password = "hunter2"\n'  # line 4
        'unit_colum = "org_code"\n'  # line 5: a typo
        "[database.unit_sources]\n"
        'H021 = "postgresql://dq:hunter2@h021-gw/his"\n'  # line 7
        'H022 = "/data/h022.db"\n'  # line 8
    )
    folder = _project(tmp_path, text)
    f = folder / "dq.toml"
    offset = PROJECT_RULES.count("\n")
    with pytest.raises(SuiteError) as info:
        load_project(folder)
    got = {(p.field, p.line) for p in info.value.problems}
    assert got == {
        ("database.expected_units", offset + 2),
        ("database.statement_timeout_s", offset + 3),
        ("database.password", offset + 4),
        ("database.unit_sources.H021", offset + 7),
        ("database.unit_sources.H022", offset + 8),  # not a database URL
    }
    text_of = str(info.value)
    assert "hunter2" not in text_of and "never put a password in dq.toml" in text_of
    assert (
        f"{f}:{offset + 2} field 'database.expected_units'" in text_of
        and "registry, declared or none" in text_of
    )
    project, _ = parse_project(f)
    assert any(f"{f}:{offset + 5}: unknown key 'unit_colum' in [database]" in w for w in project.warnings)
    # names the catalogue does not have: found against the catalogue, on the command line exit 2
    folder = _project(tmp_path, '[database]\n[database.tables]\nvisits = "t_visit"\n[database.columns]\n'
                                '"patient_index.nom" = "x"\n')  # fmt: skip
    url = f"sqlite:///{tmp_path}/p.db"
    load_batch(batch, url)
    r = _cli("score", url, "--period", PERIOD, "--project", str(folder), "--store", str(tmp_path / "s"))
    assert r.returncode == 2, r.stderr
    assert (
        f"{folder / 'dq.toml'}:{offset + 3} field 'database.tables.visits': visits is not a table" in r.stderr
    )
    assert (
        "database.columns.patient_index.nom" in r.stderr
        and "nom is not a column of table patient_index" in r.stderr
    )
    assert not (tmp_path / "s").exists()  # refused before anything is written
    r = _cli("suites", "validate", "--project", str(folder))
    assert r.returncode != 0 and "database.tables.visits" in (r.stdout + r.stderr)


def test_registry_units_without_rows_are_scored_as_not_uploaded(batch, tmp_path):
    url = f"duckdb:///{tmp_path}/p.duckdb"
    load_batch(batch, url)
    units = discover_database_units(url, PERIOD)  # expected_units = registry (the default)
    ids = {u.unit_id for u in units}
    assert set(UNITS) < ids and {"H002", "D12"} <= ids
    with open_database_unit(next(u for u in units if u.unit_id == "H002")) as ext:
        assert ext.tables == {} and ext.manifest["kind"] == "hospital"


def test_direct_db_unit_read_from_its_own_database(batch, tmp_path):
    """开库采集: a unit whose data sit in its own database, named by the layout's unit_sources."""
    central, own = f"duckdb:///{tmp_path}/central.duckdb", f"sqlite:///{tmp_path}/h003.db"
    others = tmp_path / "others" / PERIOD
    only = tmp_path / "only" / PERIOD
    for dest, keep in ((others, lambda n: n != "H003"), (only, lambda n: n == "H003")):
        dest.mkdir(parents=True)
        for d in batch.iterdir():
            if d.is_dir() and keep(d.name):
                (dest / d.name).symlink_to(d, target_is_directory=True)
    load_batch(others, central)
    load_batch(only, own)
    lay = DatabaseLayout(expected_units="declared", unit_sources={"H003": own})
    units = {u.unit_id: u for u in discover_database_units(central, PERIOD, lay)}
    assert set(units) == set(UNITS)
    files = open_extract(batch / "H003")
    with open_database_unit(units["H003"]) as ext:
        assert set(ext.tables) == set(files.tables)
        for name, src in ext.tables.items():
            assert src.location.startswith(own)
            _same(src.frame.collect(), files.tables[name].frame.collect())


def test_large_tables_are_spilled_in_batches(batch, tmp_path):
    url = f"duckdb:///{tmp_path}/p.duckdb"
    load_batch(batch, url)
    lay = DatabaseLayout(expected_units="declared", memory_rows=100, batch_rows=64)
    unit = next(u for u in discover_database_units(url, PERIOD, lay) if u.unit_id == "H003")
    files = open_extract(batch / "H003")
    with open_database_unit(unit) as ext:
        big = [n for n, s in ext.tables.items() if (s.rows or 0) > 100]
        assert big
        for name in big:
            assert ext.tables[name].path.suffix == ".parquet" and ext.tables[name].path.exists()
            _same(ext.tables[name].frame.collect(), files.tables[name].frame.collect())
    assert not ext.tables[big[0]].path.exists()  # the spill folder is removed with the unit


def test_database_unit_is_picklable():
    import pickle

    u = DatabaseUnit(
        "sqlite:///x.db", "H001", PERIOD, DatabaseLayout(tables={"a": "b"}), 3, {"kind": "hospital"}
    )
    v = pickle.loads(pickle.dumps(u))
    assert (v.url, v.unit_id, v.layout, v.rows, dict(v.info)) == (
        u.url,
        u.unit_id,
        u.layout,
        3,
        {"kind": "hospital"},
    )


def test_synth_months_into_one_database_then_score_a_month(tmp_path):
    """`dq synth --out URL --months`: each month's batch is loaded into the same tables (a
    column one month needs as text is widened to text), and every month scores without error."""
    url = f"duckdb:///{tmp_path}/series.duckdb"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run(
        [sys.executable, "-m", "dq", "synth", "--out", url, "--months", "2020-01:2020-02",
         "--units", "H001", "D01", "--no-progress"],
        capture_output=True, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    for month in ("2020-01", "2020-02"):
        units = discover_database_units(url, month, EXPECTED)
        assert [u.unit_id for u in units] == ["D01", "H001"]
        outcome = score_batch(
            url, month, Store(tmp_path / "store"), progress=False, threads=1, layout=EXPECTED
        )
        assert not outcome.errors and all(u.score is not None for u in outcome.units)


def test_rows_to_fix_of_a_database_unit_are_found_by_their_row_id(batch, tmp_path):
    """A unit read from the platform's database: each listed row says its table and row id, and
    that row id, looked up in the database, is the row (its key and the rule's text columns)."""
    import duckdb

    from dq.batch.fixlist import fix_rules, locate
    from dq.io.catalogue import load_catalogue
    from dq.io.columns import LOCATOR

    url = f"duckdb:///{tmp_path}/p.duckdb"
    load_batch(batch, url)
    store = Store(tmp_path / "store")
    score_batch(url, PERIOD, store, progress=False, threads=1, layout=EXPECTED, fix_rows=20)
    cat = load_catalogue()
    con = duckdb.connect(f"{tmp_path}/p.duckdb", read_only=True)
    checked = 0
    for unit in UNITS:
        for fr in fix_rules(store, PERIOD, unit, max_rows=20):
            spec = cat.tables[fr.table]
            for row in fr.rows:
                at = row[LOCATOR]
                assert at["table"] == fr.table and at["column"] == "row_id", at
                where, number = locate(row, "zh")
                assert where == f"数据库表 {fr.table}，row_id = {at['value']}" and number is None
                cols = [c for c in (*spec.key, *fr.columns) if spec.column(c) and spec.column(c).type == "str"
                        and not spec.column(c).pii and c != spec.patient]  # fmt: skip
                cols = list(dict.fromkeys(cols))
                got = con.execute(
                    f"SELECT unit_id, {', '.join(cols)} FROM {fr.table} WHERE row_id = ?", [at["value"]]
                ).fetchall()
                assert len(got) == 1 and got[0][0] == unit
                for c, v in zip(cols, got[0][1:], strict=True):
                    if c in row:
                        assert (row[c] or "") == (v or ""), (fr.rule, c)
                checked += 1
    con.close()
    assert checked >= 10
