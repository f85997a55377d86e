"""The process boundary around untrusted reading (dq.io.isolation) and the caps checked before a
reader sees a file (dq.sources.check_xlsx, dq.yamlio numbers, values a column's type cannot hold).

The worker pool is tested with real signals and real limits: a worker that really segfaults or
aborts (``signal.raise_signal`` in the worker), really sleeps past the wall limit, really burns
CPU past RLIMIT_CPU, and really allocates past RLIMIT_AS. The batch is a real ``dq score``
process over good units and one unit per hostile case (docs/robustness.md, "Isolation").
"""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_hostile_corpus import P, good, manifest, visits

from dq.errors import InputError
from dq.io.isolation import Failure, Limits, WorkerPool
from dq.io.sources import check_xlsx, read_table
from dq.io.yamlio import load_yaml
from dq.store.history import Store

ROOT = Path(__file__).resolve().parents[1]
MiB = 1 << 20

# -- a workbook written by hand, so that its XML can say anything -----------------------------------
_CT = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
    'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/'
    'workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.worksheet+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
    '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WB = (
    '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
    '2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
    '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WBRELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
    '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
)


def _cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def _column(n: int) -> str:
    s = ""
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


def workbook(path: Path, rows: str | bytes, dimension: str | None = None) -> Path:
    head = (
        '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
        'spreadsheetml/2006/main">' + (f'<dimension ref="{dimension}"/>' if dimension else "") + "<sheetData>"
    ).encode()
    body = rows.encode() if isinstance(rows, str) else rows
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", _CT)
        z.writestr("_rels/.rels", _RELS)
        z.writestr("xl/workbook.xml", _WB)
        z.writestr("xl/_rels/workbook.xml.rels", _WBRELS)
        z.writestr("xl/worksheets/sheet1.xml", head + body + b"</sheetData></worksheet>")
    return path


def corner(path: Path) -> Path:
    """Cells A1 and XFD1048576 in 1.5 KB: the reader would allocate 549 GB and abort."""
    return workbook(path, '<row r="1">' + _cell("A1", "visit_id") + '</row><row r="1048576">'
                    + _cell("XFD1048576", "x") + "</row>")  # fmt: skip


def far_column(path: Path) -> Path:
    """One cell in column 1,000,000 (BDWGN): the reader hangs for good."""
    return workbook(
        path, '<row r="1">' + _cell("A1", "visit_id") + _cell(f"{_column(1_000_000)}1", "x") + "</row>"
    )


def unpositioned(path: Path) -> Path:
    """A row of 2,000 cells that do not say where they are (each is the next column)."""
    return workbook(path, "<row>" + '<c t="inlineStr"><is><t>x</t></is></c>' * 2_000 + "</row>")


def declared(path: Path) -> Path:
    """Two cells, but a declared dimension of A1:XFD1048576."""
    return workbook(path, '<row r="1">' + _cell("A1", "visit_id") + "</row>", dimension="A1:XFD1048576")


def bomb(path: Path) -> Path:
    """A sheet of 60 MB of XML that compresses ~1000 times (the issue's 3 MB -> 870 MB, smaller)."""
    row = ("<row>" + _cell("A1", "x") + "</row>").replace(' r="A1"', "").encode()
    return workbook(path, row * (60 * MiB // len(row)))


def parquet_bomb(path: Path, rows: int = 800_000, width: int = 2_000) -> Path:
    """A table of ~5 MB on disk whose values take 1.6 GB once read (past a 2 GiB address space
    with the ~1 GB a worker has mapped already): distinct 2,000-character texts, mostly zeros,
    that compress well, written 100,000 rows at a time. (One text repeated would not do: the
    reader keeps a dictionary's values once.)"""
    schema = pa.schema([("visit_id", pa.large_string())])
    with pq.ParquetWriter(path, schema, compression="zstd", compression_level=1, use_dictionary=False) as w:
        for start in range(0, rows, 100_000):
            ids = pl.select(pl.int_range(start, min(rows, start + 100_000)).cast(pl.String).str.zfill(width))
            w.write_table(
                pa.table({"visit_id": ids.to_series().to_arrow().cast(pa.large_string())}, schema=schema)
            )
    return path


# -- the pool, with real signals and limits --------------------------------------------------------
def test_a_worker_that_crashes_natively_is_a_failure_and_is_replaced():
    with WorkerPool(1, Limits()) as pool:
        out = pool.run(signal.raise_signal, signal.SIGSEGV)
        assert isinstance(out, Failure) and "SIGSEGV" in out.reason, out
        out = pool.run(signal.raise_signal, signal.SIGABRT)
        assert isinstance(out, Failure) and "SIGABRT" in out.reason, out
        assert pool.run(abs, -3) == 3  # a new worker took over
        assert pool.replaced == 2


def test_the_wall_limit_kills_a_call_that_takes_too_long():
    with WorkerPool(1, Limits(memory=None, cpu=None, wall=3)) as pool:
        t = time.monotonic()
        out = pool.run(time.sleep, 120)
        assert isinstance(out, Failure) and "3 seconds, the time limit" in out.reason, out
        assert time.monotonic() - t < 100
        assert pool.run(len, "abc") == 3


def test_the_cpu_limit_kills_a_call_that_computes_too_long():
    # One call alone within the limit, the next one past it: the limit is per call, not per worker.
    with WorkerPool(1, Limits(memory=None, cpu=2, wall=None)) as pool:
        assert pool.run(functools.partial(pow, 7), 10**5) > 0
        out = pool.run(functools.partial(pow, 7), 10**9)  # minutes of CPU for one big integer
        assert isinstance(out, Failure) and "2 CPU seconds, the CPU limit" in out.reason, out
        assert pool.run(len, "abc") == 3


def test_the_memory_limit_stops_a_call_that_allocates_too_much():
    with WorkerPool(1, Limits(memory=2 << 30, cpu=None, wall=None)) as pool:
        out = pool.run(bytearray, 3 << 30)  # more than the address space allowed
        assert isinstance(out, Failure) and "2 GiB of memory" in out.reason, out
        assert pool.run(len, "abc") == 3


def test_exceptions_come_back_as_themselves():
    with WorkerPool(1) as pool, pytest.raises(ZeroDivisionError):
        pool.run(functools.partial(divmod, 1), 0)


# -- caps before parsing ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("build", "fragment"),
    [
        (corner, "reaches column 16,384, more than the 1,024"),
        (far_column, "reaches column 1,000,000"),
        (declared, "declared dimension A1:XFD1048576"),
        (unpositioned, "reaches column 1,025, more than the 1,024"),
        (bomb, "more than the 100 times of a workbook (a zip bomb?)"),
    ],
    ids=["corner", "far-column", "declared-dimension", "unpositioned-cells", "zip-bomb"],
)
def test_hostile_workbooks_are_refused_before_the_reader(tmp_path, build, fragment):
    f = build(tmp_path / "outpatient_visit.xlsx")
    with pytest.raises(InputError) as err:
        check_xlsx(f)
    assert str(f) in str(err.value) and fragment in str(err.value), err.value
    with pytest.raises(InputError):  # and the reader is never reached
        read_table(f)


def test_a_good_workbook_passes_the_caps(tmp_path):
    rows = "".join(
        f'<row r="{i}">' + _cell(f"A{i}", "visit_id" if i == 1 else f"V{i}") + "</row>" for i in range(1, 50)
    )
    f = workbook(tmp_path / "outpatient_visit.xlsx", rows, dimension="A1:A49")
    check_xlsx(f)
    assert read_table(f).frame.collect().height == 48


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("seed: " + "9" * 5000, "line 1: refused, a whole number of 5,000 digits"),
        ("a: 1\nb: 18446744073709551615", "line 2: refused, a whole number outside the range of a 64-bit"),
        ("x: -" + "1" * 60 + ".5", "a number of 61 digits"),
    ],
)
def test_yaml_numbers_are_checked_before_they_are_converted(text, fragment):
    with pytest.raises(InputError) as err:
        load_yaml(text, source="m.yaml")
    assert str(err.value).startswith("m.yaml") and fragment in str(err.value), err.value


def test_values_a_column_type_cannot_hold_are_kept_as_text(tmp_path):
    """uint64 2**64-1 where int64 is wanted, ±inf and NaN where a float is: null in the typed
    column, the text in __raw (date_parse counts them), never a silent null."""
    f = tmp_path / "hypertension_followup.parquet"
    pl.DataFrame({"sbp": pl.Series([120, 2**64 - 1], dtype=pl.UInt64)}).write_parquet(f)
    got = read_table(f).frame.collect()
    assert got["sbp"].to_list() == [120, None]
    assert got["sbp__raw"].to_list() == ["120", str(2**64 - 1)]
    f = tmp_path / "outpatient_visit.parquet"
    pl.DataFrame({"total_fee": [1.5, float("inf"), float("-inf"), float("nan")]}).write_parquet(f)
    got = read_table(f).frame.collect()
    assert got["total_fee"].to_list() == [1.5, None, None, None]
    assert got["total_fee__raw"].to_list() == ["1.5", "inf", "-inf", "NaN"]


# -- a real batch ----------------------------------------------------------------------------------
def _env() -> dict[str, str]:
    env = {**os.environ, "NO_COLOR": "1"}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _with_visits_file(d: Path, uid: str, build) -> None:
    good(d, uid)
    (d / "outpatient_visit.parquet").unlink()
    build(d / "outpatient_visit.xlsx")


GOOD = ["H001", "H002", "H010"]
LIMITS = ["--memory-limit", "2G", "--cpu-limit", "120", "--time-limit", "600"]


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("isolation")
    base = root / P
    for uid in GOOD:
        good(base / uid, uid)
    for uid, build in (("X01", corner), ("X02", far_column), ("X03", declared), ("X04", bomb)):
        _with_visits_file(base / uid, uid, build)
    good(base / "X05", "X05")  # gigabytes once read: past the memory limit
    (base / "X05" / "outpatient_visit.parquet").unlink()
    parquet_bomb(base / "X05" / "outpatient_visit.parquet")
    good(base / "X06", "X06")  # a 5,000-digit seed in the manifest
    with (base / "X06" / "manifest.yaml").open("a", encoding="utf-8") as fh:
        fh.write("seed: " + "9" * 5000 + "\n")
    good(base / "X07", "X07")  # uint64 and inf where numbers are wanted: scored, counted
    visits().with_columns(pl.Series("total_fee", [float("inf"), float("nan")] + [2.0] * 10)).write_parquet(
        base / "X07" / "outpatient_visit.parquet"
    )
    manifest(base / "X07", "X07")
    store = root / "history"
    p = subprocess.run(
        [sys.executable, "-m", "dq", "score", str(root), "--period", P, "--store", str(store),
         "--format", "json", *LIMITS],
        capture_output=True, text=True, env=_env(), timeout=900,
    )  # fmt: skip
    return {"rc": p.returncode, "stdout": p.stdout, "stderr": p.stderr, "store": store, "root": root}


def test_every_good_unit_is_scored_and_the_batch_ends_with_exit_1(batch):
    assert batch["rc"] == 1, batch["stderr"][-3000:]
    assert "Traceback" not in batch["stderr"] + batch["stdout"]
    assert "memory allocation" not in batch["stderr"]  # a reader's own words stay in the worker
    out = json.loads(batch["stdout"])
    ranking = {r["unit_id"]: r for r in out["ranking"]}
    for uid in [*GOOD, "X07"]:
        assert ranking[uid]["status"] == "ok" and ranking[uid]["score"] is not None, uid
    (run,) = Store(batch["store"]).runs().to_dicts()
    assert run["status"] == "complete"


@pytest.mark.parametrize(
    ("uid", "fragments"),
    [
        ("X01", ("X01/outpatient_visit.xlsx", "reaches column 16,384")),
        ("X02", ("X02/outpatient_visit.xlsx", "reaches column 1,000,000")),
        ("X03", ("X03/outpatient_visit.xlsx", "declared dimension")),
        ("X04", ("X04/outpatient_visit.xlsx", "a zip bomb?")),
        ("X05", ("X05: could not be read within the limits", "2 GiB of memory")),
        # an unregistered folder whose manifest cannot be read is stored as folder:<name>
        ("folder:X06", ("X06/manifest.yaml line", "5,000 digits")),
    ],
)
def test_each_hostile_unit_is_an_error_naming_its_reason(batch, uid, fragments):
    errors = {e["unit_id"]: e["error"] for e in json.loads(batch["stdout"])["errors"]}
    stored = Store(batch["store"]).scores(P).filter(pl.col("unit_id") == uid)
    assert stored.height == 1 and stored["status"][0] == "error", stored
    for text in (errors[uid], stored["error"][0]):
        for fragment in fragments:
            assert fragment in text, (fragment, text)


def test_out_of_type_values_are_counted_not_nulled(batch):
    res = Store(batch["store"]).results(P, "X07")
    row = res.filter(pl.col("rule") == "OV-102").row(0, named=True)
    assert row["failed"] == 2, row


def test_dq_audit_of_a_hostile_workbook_exits_2_naming_it(tmp_path):
    f = corner(tmp_path / "outpatient_visit.xlsx")
    p = subprocess.run([sys.executable, "-m", "dq", "audit", str(f)], capture_output=True, text=True,
                       env=_env(), timeout=300)  # fmt: skip
    assert p.returncode == 2, p.stderr
    assert str(f) in p.stderr and "refused before reading" in p.stderr and "Traceback" not in p.stderr


def test_dq_audit_past_a_limit_exits_2_naming_the_limit(tmp_path):
    f = parquet_bomb(tmp_path / "outpatient_visit.parquet")
    p = subprocess.run([sys.executable, "-m", "dq", "audit", str(f), "--memory-limit", "2G"],
                       capture_output=True, text=True, env=_env(), timeout=600)  # fmt: skip
    assert p.returncode == 2, p.stderr
    assert f"{f}: could not be read within the limits" in p.stderr and "2 GiB of memory" in p.stderr, p.stderr
    assert "Traceback" not in p.stderr


def test_ctrl_c_at_the_terminal_stops_the_batch_and_its_workers(tmp_path):
    """A terminal's Ctrl-C reaches the whole process group, workers included: they ignore it,
    the batch stops between units (exit 130, run interrupted), and no worker is left behind."""
    from fixtures_batches import batch_with_a_broken_unit

    batch = batch_with_a_broken_unit(tmp_path / "batch", seed=11)
    store = tmp_path / "history"
    proc = subprocess.Popen(
        [sys.executable, "-m", "dq", "score", str(batch), "--period", P, "--store", str(store),
         "--threads", "2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=_env(), start_new_session=True,
    )  # fmt: skip
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith("[") and (" ok " in line or " error " in line):
            os.killpg(proc.pid, signal.SIGINT)
            break
    rest = proc.stderr.read()
    proc.wait(timeout=120)
    assert proc.returncode == 130, rest
    assert "dq: interrupted" in rest and "Traceback" not in rest
    (run,) = Store(store).runs().to_dicts()
    assert run["status"] == "interrupted"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the forkserver and workers leave with the batch
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        pytest.fail("processes of the interrupted batch are still running")


def test_a_folder_named_dq_in_the_working_folder_does_not_stand_in_for_dq(tmp_path: Path):
    """The workers' server is started as `python -c …`, which puts the working folder first on
    its path: a user's folder named `dq` there must not be imported in place of dq."""
    (tmp_path / "dq").mkdir()
    (tmp_path / "dq" / "notes.txt").write_text("a folder of the user's, not the package", encoding="utf-8")
    extract = Path(__file__).resolve().parents[1] / "examples" / "extract"
    dq = Path(sys.executable).with_name("dq")
    p = subprocess.run([str(dq), "audit", str(extract), "--format", "json"], capture_output=True, text=True,
                       cwd=tmp_path, timeout=300)  # fmt: skip
    assert p.returncode == 1, p.stderr
    doc = json.loads(p.stdout)
    assert doc["results"] and not [r for r in doc["results"] if r["status"] == "error"], p.stderr
