"""A store that tolerates its own history (issue 18, item 3).

A real two-month store (``dq score`` of a synthetic batch per month, reports rendered, a delivery
recorded) is copied, and the files of tests/store_corpus.py are planted into the copy: files of
older or newer schemas (combined), damaged and misplaced ones (named, skipped, listed by
``dq history --check``). Then every command that reads the store runs on it (the CLI, in process
and as a real process; ``dq send`` against a real SMTP server): each answers with its documented
exit code, no traceback, the good data shows as in the untouched store, and no planted value
reaches any output.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from aiosmtpd.controller import Controller
from store_corpus import CASES, SECRET, plant

from dq.batch.local import score_batch
from dq.cli import main
from dq.errors import StoreError
from dq.report.files import render_period
from dq.store.deliveries import DeliveryEvent, DeliveryLog
from dq.store.history import SCHEMAS, Store, conform, folder_schema
from dq.synth import generate

BEFORE, P = "2020-08", "2020-09"
UNITS = ["D01", "H001", "H002", "H003"]
REPO = Path(__file__).resolve().parents[1]
CONTACTS = """unit_id,to,cc,language
D01,xinxi@d01.example.org,,zh
H001,zhikong@h001.example.org,,zh
H002,zhikong@h002.example.org,,zh
H003,quality@h003.example.org,,en
"""


@pytest.fixture(scope="module")
def month(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("tolerance")
    store = Store(base / "history")
    for seed, period in enumerate((BEFORE, P)):
        generate(base / "batch", period, scale=0.001, seed=seed, units=UNITS, progress=False)
        assert not score_batch(base / "batch", period, store, log=None, progress=False).errors
    render_period(store, P, base / "reports", echo=None)
    DeliveryLog(store).record(
        P,
        DeliveryEvent("D01", "sent", ["xinxi@d01.example.org"], [], "<d01@dq>", "s", "D01.html", "0" * 64),
    )
    (base / "contacts.csv").write_text(CONTACTS, encoding="utf-8")
    return base


@pytest.fixture
def work(month: Path, tmp_path: Path) -> Path:
    for name in ("history", "reports"):
        shutil.copytree(month / name, tmp_path / name)
    shutil.copy(month / "contacts.csv", tmp_path / "contacts.csv")
    return tmp_path


@pytest.fixture
def drifted(work: Path) -> tuple[Path, dict]:
    return work, plant(work / "history", P, BEFORE)


def dq(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    for text in (out, err):
        assert "Traceback" not in text and "a bug in dq" not in text, err
        assert SECRET not in text, "a planted value reached the output"
    return code, out, err


def views(capsys, store: Path) -> tuple[dict[str, object], dict[str, str]]:
    """What the reading commands answer for the store, as JSON, and what each said on stderr."""
    s = str(store)
    out, errs = {}, {}
    for name, argv in {
        "scores": ["history", "--store", s, "--format", "json"],
        "unit": ["history", "--store", s, "--unit", "H001", "--format", "json"],
        "runs": ["history", "--store", s, "--runs", "--format", "json"],
        "deliveries": ["history", "--store", s, "--deliveries", "--format", "json"],
        "explain": ["explain", "H001", "--period", P, "--store", s, "--format", "json"],
    }.items():
        code, text, errs[name] = dq(capsys, *argv)
        assert code == 0, name
        doc = json.loads(text)
        out[name] = doc["rows"] if argv[0] == "history" else doc
    return out, errs


# -- the corpus, through every command -------------------------------------------------------------
def test_check_lists_every_file_that_cannot_be_combined_and_only_those(capsys, drifted):
    work, planted = drifted
    code, out, _ = dq(capsys, "history", "--store", str(work / "history"), "--check", "--format", "json")
    assert code == 1
    doc = json.loads(out)
    assert doc["schema_version"] == 1 and doc["store"] == str(work / "history")
    listed = {r["file"]: r for r in doc["problems"]}
    bad = {str(f): c for f, c in planted.items() if c.problem is not None}
    assert set(listed) == set(bad)  # every bad file, and no combinable one
    for f, c in bad.items():
        assert c.problem in listed[f]["problem"], (c.name, listed[f])
        assert listed[f]["folder"] == c.folder
    # every folder was looked at, deliveries and a folder dq does not know included
    assert {c.folder for c in bad.values()} <= {r["folder"] for r in doc["problems"]}
    assert doc["checked"] == sum(
        1 for p in (work / "history").rglob("*") if p.is_file() and "/." not in str(p)
    )
    # as a table too (one line per file)
    code, out, err = dq(capsys, "history", "--store", str(work / "history"), "--check")
    assert code == 1 and all(f in out for f in bad) and f"{len(bad)} of " in err


def test_every_reading_command_answers_and_shows_the_good_data(capsys, month, drifted):
    work, planted = drifted
    before, _ = views(capsys, month / "history")
    after, errs = views(capsys, work / "history")

    # Scores: H001's text scores read as numbers; H002's 2020-09 file (text that is not a number)
    # is skipped, so its 2020-08 score is its latest; everything else as in the untouched store.
    def by_key(rows):
        return {(r["period"], r["unit_id"]): r for r in rows}

    b, a = by_key(before["scores"]), by_key(after["scores"])
    assert set(b) - set(a) == {(P, "H002")} and set(a) <= set(b)
    assert all(a[k] == b[k] for k in a)
    assert a[(P, "H001")]["score"] == b[(P, "H001")]["score"] is not None
    assert after["unit"] == before["unit"]
    # Runs: the timestamps written as text are the same instants; the counts the same numbers.
    assert after["runs"] == before["runs"]
    # Explain reads H001's results (counts written as text, a column dropped) as before.
    assert after["explain"] == before["explain"]
    # Deliveries: the recorded event and the older one (time as text) show, oldest first.
    assert [(r["unit_id"], r["status"]) for r in before["deliveries"]] == [("D01", "sent")]
    shown = [(r["unit_id"], r["status"], r["period"]) for r in after["deliveries"]]
    assert sorted(shown) == [("D01", "sent", P), ("H003", "sent", P)]

    # Each skipped file a command met is named on stderr, once, with the reason (never a value).
    h002 = next(str(f) for f, c in planted.items() if c.problem == "column score: ")
    said = f"dq: warning: {h002}: store file skipped (column score: "
    assert errs["scores"].count(said) == 1 and errs["unit"].count(said) == 1
    junk = [str(f) for f, c in planted.items() if c.folder == "deliveries" and c.problem is not None]
    assert all(errs["deliveries"].count(f"{f}: ") == 1 for f in junk), errs["deliveries"]


@pytest.mark.parametrize(
    "argv",
    [
        ["report", "all", "--period", P],
        ["report", "unit", "H001", "--period", P],
        ["report", "unit", "H003", "--period", P],
        ["report", "campaign", "--before", BEFORE, "--after", P],
        ["explain", "H003", "--period", P],
        ["history", "--period", BEFORE],
        ["history", "--deliveries", "--period", BEFORE],
    ],
    ids=lambda a: "-".join(a[:2]),
)
def test_reports_and_views_of_the_drifted_store(capsys, drifted, argv):
    work, _ = drifted
    extra = ["--out", str(work / "out")] if argv[0] == "report" else []
    code, _, err = dq(capsys, *argv, "--store", str(work / "history"), *extra)
    assert code == 0, err
    if argv[:2] == ["report", "all"]:
        assert (work / "out" / P / "index.html").is_file() and (work / "out" / P / "H001.html").is_file()
        assert "store file skipped" in err


def test_send_after_drift_sends_once_to_the_units_not_yet_sent(drifted):
    """A real `dq send` process against a real SMTP server: the junk event files (one of another
    period) do not stop it; D01 (recorded sent) and H003 (an older event, time as text) are not
    sent again; H002 has no readable score for the month and is not sent."""
    work, _ = drifted
    received: list[bytes] = []

    class Keep:
        async def handle_DATA(self, server, session, envelope):
            received.append(envelope.content)
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctl = Controller(Keep(), hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        argv = ["send", "--period", P, "--store", str(work / "history"), "--reports", str(work / "reports")]
        argv += ["--contacts", str(work / "contacts.csv"), "--smtp", f"127.0.0.1:{port}"]
        argv += ["--from", "dq@center.example.org", "--format", "json"]
        p = subprocess.run(
            [sys.executable, "-m", "dq", *argv],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=REPO,
            env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        )
    finally:
        ctl.stop()
    assert "Traceback" not in p.stderr and SECRET not in p.stdout + p.stderr, p.stderr
    assert p.returncode in (0, 1), p.stderr
    doc = json.loads(p.stdout)
    status = {u["unit_id"]: u["status"] for u in doc["units"]}
    assert status == {"D01": "skipped", "H001": "sent", "H003": "skipped"}, status
    assert len(received) == 1 and b"X-DQ-Unit: H001" in received[0]
    # The new events are recorded beside the junk, and read back.
    sent = DeliveryLog(work / "history").sent_units(P)
    assert sent == {"D01", "H001", "H003"}


def test_scoring_again_rescores_the_unit_whose_scores_were_skipped(capsys, month, drifted):
    work, _ = drifted
    code, out, err = dq(
        capsys,
        "score",
        str(month / "batch"),
        "--period",
        P,
        "--store",
        str(work / "history"),
        "--format",
        "json",
    )
    assert code in (0, 1), err
    doc = json.loads(out)
    assert sorted(doc["skipped"]) == ["D01", "H001", "H003"]
    assert {r["unit_id"] for r in doc["ranking"]} == set(UNITS)


# -- one file at a time, on a folder and behind a URL ------------------------------------------------
@pytest.mark.parametrize("c", CASES, ids=lambda c: f"{c.folder}: {c.name}")
def test_each_case_alone(tmp_path, month, c):
    store_dir = tmp_path / "history"
    shutil.copytree(month / "history", store_dir)
    f = c.plant(store_dir, P, BEFORE, ("H001", "H002", "H003"))
    warnings: list[str] = []
    store = Store(store_dir, warn=warnings.append)
    problems = dict(store.problems())
    if c.problem is None:
        assert problems == {}
    else:
        assert list(problems) == [str(f)] and c.problem in problems[str(f)]
    # The folder reads: the file's rows are in it, or it is skipped with one warning naming it.
    if c.folder in SCHEMAS or c.folder == "summaries":
        rows = store.rows(c.folder, P if c.in_period else None)
        assert list(rows.columns) == [*folder_schema(c.folder), "period"]
        if c.problem is None:
            assert not warnings
        elif c.problem.startswith("not where"):
            assert not warnings  # never read
        else:
            assert len(warnings) == 1 and warnings[0].startswith(f"{f}: ") and SECRET not in warnings[0]


def test_a_drifted_store_behind_a_url_reads_as_on_a_folder(tmp_path, month):
    fsspec = pytest.importorskip("fsspec")
    store_dir = tmp_path / "history"
    shutil.copytree(month / "history", store_dir)
    planted = plant(store_dir, P, BEFORE)
    mem = fsspec.filesystem("memory")
    if mem.exists("/drift"):
        mem.rm("/drift", recursive=True)
    for f in store_dir.rglob("*"):
        if f.is_file():
            mem.pipe_file(f"/drift/history/{f.relative_to(store_dir)}", f.read_bytes())
    local, remote = (
        Store(store_dir, warn=lambda _: None),
        Store("memory://drift/history", warn=lambda _: None),
    )
    url = "memory://drift/history"
    assert [(k, f.replace(str(store_dir), url), w) for k, f, w in local.check()] == remote.check()
    assert len(remote.check()) == sum(1 for c in planted.values() if c.problem is not None)
    for kind in ("runs", "scores", "results", "summaries", "tables", "deliveries", "fixrows"):
        a, b = local.rows(kind), remote.rows(kind)
        keys = [
            k
            for k in ("period", "run_id", "unit_id", "facet", "rule", "table", "n", "time")
            if k in a.columns
        ]
        assert a.sort(keys, nulls_last=True).equals(b.sort(keys, nulls_last=True)), kind
    assert local.scores(P).sort("unit_id").equals(remote.scores(P).sort("unit_id"))


# -- the conversions, one by one --------------------------------------------------------------------
def _scores(**cols) -> pl.DataFrame:
    base = {"run_id": ["r", "r"], "unit_id": ["u", "u"], "facet": ["overall", "completeness"]}
    return pl.DataFrame({**base, **cols})


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        (pl.Series("score", ["81.5", " 90 "]), [81.5, 90.0]),
        (pl.Series("score", [81, 90], dtype=pl.Int32), [81.0, 90.0]),
        (pl.Series("score", [81.5, None], dtype=pl.Float32), [81.5, None]),
        (pl.Series("score", [None, None], dtype=pl.Null), [None, None]),
        (pl.Series("score", ["81.5", None], dtype=pl.Categorical), [81.5, None]),
    ],
)
def test_safe_conversions_to_numbers(column, expected):
    out = conform(_scores(score=column), "scores")
    assert out["score"].dtype == pl.Float64 and out["score"].to_list() == expected
    assert out.columns == list(folder_schema("scores"))


@pytest.mark.parametrize(
    ("column", "reason"),
    [
        (
            pl.Series("score", ["81.5", "high"]),
            "column score: 1 of 2 values do not convert from text to numbers",
        ),
        (pl.Series("score", [[1], [2]]), "column score holds list values, not numbers"),
        (pl.Series("score", [True, False]), "column score holds true/false values, not numbers"),
        (pl.Series("score", [b"1", b"2"]), "column score holds binary values, not numbers"),
    ],
)
def test_unsafe_conversions_are_refused_without_the_values(column, reason):
    with pytest.raises(StoreError) as exc:
        conform(_scores(score=column), "scores")
    assert str(exc.value) == reason


def test_whole_numbers_timestamps_and_text():
    run = {
        "run_id": ["r1", "r2"],
        "started_at": ["2020-09-30T10:00:00+08:00", "2020-09-30 02:00:00"],
        "units": pl.Series([3.0, 4.0]),
        "errors": pl.Series([0, 1], dtype=pl.UInt8),
        "status": pl.Series([1, 2]),  # a text column written as numbers: read as their text
    }
    out = conform(pl.DataFrame(run), "runs")
    assert out["started_at"].dtype == pl.Datetime("us", "UTC")
    assert [t.isoformat() for t in out["started_at"]] == ["2020-09-30T02:00:00+00:00"] * 2
    assert out["units"].to_list() == [3, 4] and out["errors"].to_list() == [0, 1]
    assert out["status"].to_list() == ["1", "2"] and out["finished_at"].to_list() == [None, None]
    # a fraction or a value beyond 64 bits is no whole number
    for bad, reason in (
        (
            pl.Series("units", [2.5, 3.0]),
            "column units: 1 of 2 values do not convert from numbers to whole numbers",
        ),
        (pl.Series("units", [2**64 - 1, 1], dtype=pl.UInt64), "from whole numbers (UInt64) to whole numbers"),
        (pl.Series("started_at", ["30/09/2020", None]), "column started_at: 1 of 2 values do not convert"),
    ):
        with pytest.raises(StoreError, match=re.escape(reason)):
            conform(pl.DataFrame({**run, bad.name: bad}), "runs")
    # a naive timestamp is read as UTC; another zone is converted
    t = pl.DataFrame({"run_id": ["r"], "started_at": [dt.datetime(2020, 9, 30, 2)]})
    assert conform(t, "runs")["started_at"][0].isoformat() == "2020-09-30T02:00:00+00:00"
    t = t.with_columns(pl.col("started_at").dt.replace_time_zone("Asia/Shanghai").dt.cast_time_unit("ns"))
    assert conform(t, "runs")["started_at"][0].isoformat() == "2020-09-29T18:00:00+00:00"


# -- a period or unit the store does not have -------------------------------------------------------
@pytest.mark.parametrize(
    ("argv", "code", "says"),
    [
        (["report", "campaign", "--before", P, "--after", "2031-01"], 2, "no scores for period 2031-01"),
        (["report", "campaign", "--before", "2019-01", "--after", P], 2, "no scores for period 2019-01"),
        (["report", "all", "--period", "2031-01"], 2, "no scores for 2031-01"),
        (["report", "unit", "H001", "--period", "2031-01"], 2, "no scores for 2031-01"),
        (["report", "unit", "NOPE", "--period", P], 2, "unit NOPE has no score for 2020-09"),
        (["explain", "NOPE", "--period", P], 2, "no score of unit NOPE for 2020-09"),
        (["explain", "H001", "--period", "2031-01"], 2, "no score of unit H001 for 2031-01"),
        (["history", "--period", "2031-01"], 0, "no scores in 2031-01"),
        (["history", "--unit", "NOPE"], 0, "no scores for unit NOPE"),
        (["history", "--deliveries", "--period", "2031-01"], 0, "no deliveries in 2031-01"),
        (["send", "--period", "2031-01", "--dry-run"], 2, "no scores for 2031-01"),
        (["send", "--period", P, "--dry-run", "--only", "NOPE"], 2, "--only NOPE: no score for 2020-09"),
    ],
    ids=lambda v: "-".join(v) if isinstance(v, list) else str(v),
)
def test_a_period_or_unit_the_store_does_not_have(capsys, work, argv, code, says):
    extra = ["--out", str(work / "out")] if argv[0] in ("report", "send") else []
    if argv[0] == "send":
        extra += ["--reports", str(work / "reports"), "--contacts", str(work / "contacts.csv")]
    got, _, err = dq(capsys, *argv, "--store", str(work / "history"), *extra)
    assert got == code, err
    assert says in err
    if code == 2:
        assert err.startswith("dq: error: ") and len(err.strip().splitlines()) == 1
