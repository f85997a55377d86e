"""What the commands print: the inspector's view of `dq audit`, `dq history`'s table, the shared
options (--format json, -q, NO_COLOR) and the light start-up of `dq --help`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from dq.cli import main

REPO = Path(__file__).resolve().parents[1]
EXTRACT = str(REPO / "examples" / "extract")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------------------ dq audit
def test_audit_view_lists_only_what_did_not_pass_worst_first(capsys) -> None:
    code, out, _ = run(capsys, "audit", EXTRACT, "--samples", "2")
    doc_code, doc, _ = run(capsys, "audit", EXTRACT, "--format", "json", "--samples", "2")
    results = {r["rule"]: r for r in json.loads(doc)["results"]}
    assert code == doc_code == 1
    lines = out.splitlines()
    assert lines[0].startswith("dq audit 江苏省人民医院 (H014) · period 2020-09 · 10 table(s) · ")
    heads = [ln.split()[:2] for ln in lines if re.match(r"(FAIL|WARN|ERROR|PASS|N/A) ", ln)]
    shown = [rule for _, rule in heads]
    bad = {r for r, v in results.items() if v["status"] in ("fail", "warn", "error")}
    assert set(shown) == bad and len(shown) == len(bad)
    # worst first: every failure before every warning; among failures critical first
    statuses = [results[r]["status"] for r in shown]
    assert statuses == sorted(statuses, key=["fail", "error", "warn"].index)
    fails = [results[r] for r in shown if results[r]["status"] == "fail"]
    ranks = [["critical", "error", "warning"].index(r["severity"]) for r in fails]
    assert ranks == sorted(ranks)
    # each finding: its Chinese title, its counts and its masked samples
    i = lines.index(next(ln for ln in lines if ln.split()[:2] == ["FAIL", "PI-110"]))
    pi110 = results["PI-110"]
    assert pi110["title_zh"] in lines[i]
    assert lines[i + 1].split()[:4] == [str(pi110["failed"]), "of", str(pi110["evaluated"]), "fail"]
    samples = [ln for ln in lines[i + 2 : i + 4] if ln.strip().startswith("·")]
    assert len(samples) == 2 and all("********" in s for s in samples)
    assert not re.search(r"\b\d{17}[\dX]\b", out)  # no ID number in clear
    s = json.loads(doc)["summary"]
    assert lines[-1].startswith(f"{s['rules']} rules: {s['pass']} pass, {s['warn']} warn, {s['fail']} fail")


def test_audit_view_options(capsys) -> None:
    _, en, _ = run(capsys, "audit", EXTRACT, "--lang", "en", "--samples", "0")
    assert "Settlement id unique" in en or "unique" in en.lower()
    assert not [ln for ln in en.splitlines() if ln.strip().startswith("·")]  # --samples 0
    assert not re.search(
        r"[\u4e00-\u9fff]", "\n".join(ln for ln in en.splitlines()[12:] if ln[:4] in ("FAIL", "WARN"))
    )
    _, three, _ = run(capsys, "audit", EXTRACT, "--samples", "3")
    assert max(len(b.split("\n      · ")) - 1 for b in re.split(r"\n(?=FAIL|WARN)", three)) == 3
    _, every, _ = run(capsys, "audit", EXTRACT, "--all", "--samples", "0")
    _, doc, _ = run(capsys, "audit", EXTRACT, "--format", "json", "--samples", "0")
    n = len(json.loads(doc)["results"])
    assert len([ln for ln in every.splitlines() if re.match(r"(FAIL|WARN|ERROR|PASS|N/A) ", ln)]) == n
    _, _, verbose = run(capsys, "audit", EXTRACT, "-v", "--samples", "0")
    assert re.search(rf"{n} rules on 10 table\(s\), [\d,]+ rows, in [\d.]+ s", verbose)
    assert "patient_index.parquet" in verbose
    _, _, normal = run(capsys, "audit", EXTRACT, "--samples", "0")
    assert normal == ""
    _, quiet, _ = run(capsys, "audit", EXTRACT, "-q", "--samples", "0")
    assert not quiet.startswith("dq audit")
    assert quiet.splitlines()[-1].split(" — ")[0] == every.splitlines()[-1].split(" — ")[0]


def test_audit_one_file_with_table(capsys, tmp_path) -> None:
    f = tmp_path / "patients.parquet"
    f.write_bytes((Path(EXTRACT) / "patient_index.parquet").read_bytes())
    code, out, _ = run(capsys, "audit", str(f), "--table", "patient_index", "--format", "json")
    doc = json.loads(out)
    assert code == 1 and {r["table"] for r in doc["results"]} == {"patient_index"}
    assert [t["table"] for t in doc["tables"]] == ["patient_index"]
    code, _, err = run(capsys, "audit", str(f))
    assert code == 2 and "--table" in err


# ------------------------------------------------------------------ dq history
@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("views") / "history"
    for period in ("2018-03", "2020-09"):
        assert main(["score", "--published", "nanjing", "--period", period, "--store", str(root), "-q"]) == 0
    return root


def test_history_is_a_readable_table(capsys, store) -> None:
    code, out, _ = run(capsys, "history", "--store", str(store))
    lines = out.splitlines()
    assert code == 0
    assert lines[0].split() == [
        "period",
        "unit_id",
        "unit_name",
        "kind",
        "status",
        "score",
        "grade",
        "run_id",
    ]
    assert set(lines[1]) <= {"-", " "}
    _, doc, _ = run(capsys, "history", "--store", str(store), "--format", "json")
    rows = json.loads(doc)["rows"]
    assert len(lines) == 2 + len(rows) and "shape:" not in out and "┌" not in out
    assert {r["period"] for r in rows} == {"2018-03", "2020-09"}


def test_history_of_a_unit_in_a_period(capsys, store) -> None:
    _, every, _ = run(capsys, "history", "--store", str(store), "--unit", "H014", "--format", "json")
    assert [r["period"] for r in json.loads(every)["rows"]] == ["2018-03", "2020-09"]
    _, one, _ = run(
        capsys, "history", "--store", str(store), "--unit", "H014", "--period", "2020-09", "--format", "json"
    )
    assert [r["period"] for r in json.loads(one)["rows"]] == ["2020-09"]
    code, out, err = run(capsys, "history", "--store", str(store), "--unit", "H014", "--period", "2019-01")
    assert (code, out) == (0, "") and "no scores for unit H014 in 2019-01" in err


def test_history_of_an_empty_store_says_so(capsys, tmp_path) -> None:
    (tmp_path / "h").mkdir()
    code, out, err = run(capsys, "history", "--store", str(tmp_path / "h"))
    assert (code, out) == (0, "") and "no scores in" in err
    code, out, _ = run(capsys, "history", "--store", str(tmp_path / "h"), "--runs", "--format", "json")
    assert (code, json.loads(out)["rows"]) == (0, [])


# ------------------------------------------------------------------ shared options
@pytest.mark.parametrize(
    ("argv", "key"),
    [
        (["suites", "list"], "suites"),
        (["suites", "validate"], "rules"),
        (["checks"], "checks"),
    ],
)
def test_format_json_everywhere(capsys, argv, key) -> None:
    code, out, _ = run(capsys, *argv, "--format", "json")
    doc = json.loads(out)
    assert code == 0
    assert isinstance(doc, dict) and doc["schema_version"] == 1 and key in doc


def test_every_command_that_prints_results_takes_format_json() -> None:
    from dq.cli import COMMANDS, build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, *_ in COMMANDS:
        p = sub.choices[name]
        subs = [a for a in p._actions if a.dest == "action" and a.choices]
        parsers = list(subs[0].choices.values()) if subs and isinstance(subs[0].choices, dict) else [p]
        for q in parsers:
            fmt = next((a for a in q._actions if a.dest == "format"), None)
            if name == "gx":  # writes suites, not results
                continue
            assert fmt is not None and {"table", "json"} <= set(fmt.choices), name
            assert any(a.dest == "quiet" for a in [*p._actions, *q._actions]), name


def _tty_output(argv: list[str], env: dict[str, str]) -> str:
    """Run ``python -m dq argv`` with stdout on a pseudo-terminal; return what it printed."""
    master, slave = os.openpty()
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    proc = subprocess.run(
        [sys.executable, "-m", "dq", *argv], stdout=slave, stderr=subprocess.DEVNULL, env=env, check=False
    )
    os.close(slave)
    reader.join(timeout=30)
    os.close(master)
    assert proc.returncode in (0, 1)
    return b"".join(chunks).decode("utf-8", "replace")


def test_no_color_is_honoured_on_a_terminal() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env |= {"TERM": "xterm-256color", "COLUMNS": "160", "PYTHONPATH": str(REPO)}
    coloured = _tty_output(["audit", EXTRACT, "--samples", "0"], env)
    assert "\x1b[" in coloured and "FAIL" in coloured
    plain = _tty_output(["audit", EXTRACT, "--samples", "0"], env | {"NO_COLOR": "1"})
    assert "FAIL" in plain and "\x1b[" not in plain
    table = _tty_output(["suites", "list"], env | {"NO_COLOR": "1"})
    assert "patient_index" in table and "\x1b[" not in table


def test_help_imports_no_optional_part() -> None:
    """`dq --help` must not import the optional parts (synth's numpy, GX, reports, pandas)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "dq", "--help"],
        capture_output=True, text=True, check=True, env=os.environ | {"PYTHONPATH": str(REPO)},
    )  # fmt: skip
    imported = {ln.split("|")[-1].strip() for ln in proc.stderr.splitlines() if ln.startswith("import time:")}
    assert "dq.cli" in imported
    heavy = {
        "numpy",
        "polars",
        "great_expectations",
        "pandas",
        "jinja2",
        "dask",
        "distributed",
        "dq.synth",
        "dq.report._render",
    }
    assert not heavy & {m.split(".")[0] if not m.startswith("dq.") else m for m in imported}
