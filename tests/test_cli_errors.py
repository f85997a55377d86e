"""User mistakes end in exit 2 and one line naming the problem, never a traceback; a bug in dq
ends in exit 3 with "please report"; ``--format json`` also prints the error as JSON on stdout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dq.cli import main

REPO = Path(__file__).resolve().parents[1]
EXTRACT = str(REPO / "examples" / "extract")
PERIOD_MESSAGE = "a period is a month written YYYY-MM, e.g. 2020-09"


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """A history store with the published 2018-03 and 2020-09 scores."""
    root = tmp_path_factory.mktemp("errors") / "history"
    for period in ("2018-03", "2020-09"):
        assert main(["score", "--published", "nanjing", "--period", period, "--store", str(root), "-q"]) == 0
    return root


@pytest.fixture()
def a_file(tmp_path: Path) -> Path:
    f = tmp_path / "not-a-folder"
    f.write_text("x", encoding="utf-8")
    return f


def fails(capsys, *argv: str, code: int = 2) -> str:
    """Run ``dq argv``: it must exit ``code`` with one error line on stderr; return that line."""
    got = main(list(argv))
    out, err = capsys.readouterr()
    assert got == code, (argv, got, err)
    assert "Traceback" not in err and "Traceback" not in out
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("dq: error: ")
    return lines[0]


@pytest.mark.parametrize(
    "argv",
    [
        ["audit", EXTRACT, "--period", "2020-9"],
        ["score", "--published", "nanjing", "--period", "2020-9"],
        ["history", "--period", "2020-9"],
        ["report", "all", "--period", "2020-9"],
        ["report", "unit", "H001", "--period", "2020-9"],
        ["synth", "--out", "x", "--period", "2020-9"],
        ["explain", "H001", "--period", "2020-9"],
    ],
    ids=lambda a: a[0] + ("-" + a[1] if a[0] == "report" else ""),
)
def test_a_bad_period_is_refused_everywhere_with_one_message(capsys, argv) -> None:
    line = fails(capsys, *argv)
    assert PERIOD_MESSAGE in line
    assert "2020-9 " not in line + " " and "'2020-9'" not in line  # the text is not echoed


def test_a_bad_campaign_period_has_the_same_message(capsys, store) -> None:
    line = fails(
        capsys, "report", "campaign", "--before", "2020-9", "--after", "2020-09", "--store", str(store)
    )
    assert PERIOD_MESSAGE in line


def test_unknown_published_folder_or_period(capsys, tmp_path) -> None:
    line = fails(
        capsys, "score", "--published", "nowhere", "--period", "2020-09", "--store", str(tmp_path / "h")
    )
    assert "nowhere" in line and "bundled: nanjing" in line
    line = fails(
        capsys, "score", "--published", "nanjing", "--period", "2019-01", "--store", str(tmp_path / "h")
    )
    assert "no published collection tables for 2019-01" in line and "2018-03" in line


def test_output_in_a_missing_or_unusable_folder(capsys, tmp_path, a_file) -> None:
    # a missing folder is created ...
    assert main(["audit", EXTRACT, "-o", str(tmp_path / "new" / "audit.json"), "--format", "json"]) == 1
    assert json.loads((tmp_path / "new" / "audit.json").read_text(encoding="utf-8"))["schema_version"] == 1
    capsys.readouterr()
    # ... one that cannot be is an error naming it
    line = fails(capsys, "audit", EXTRACT, "-o", str(a_file / "audit.txt"))
    assert str(a_file) in line and "not a folder" in line
    line = fails(capsys, "demo", "--out", str(a_file))
    assert str(a_file) in line
    line = fails(capsys, "synth", "--out", str(a_file), "--period", "2020-09", "--units", "H014")
    assert str(a_file) in line


def test_report_out_that_cannot_be_used(capsys, store, a_file) -> None:
    line = fails(capsys, "report", "all", "--period", "2020-09", "--store", str(store), "--out", str(a_file))
    assert str(a_file) in line
    line = fails(
        capsys, "score", "--published", "nanjing", "--period", "2020-09", "--store", str(store),
        "--reports", "--out", str(a_file),
    )  # fmt: skip
    assert str(a_file) in line


@pytest.mark.parametrize(
    "argv",
    [
        ["history"],
        ["history", "--runs"],
        ["report", "all", "--period", "2020-09"],
        ["explain", "H001", "--period", "2020-09"],
        ["score", "--published", "nanjing", "--period", "2020-09"],
    ],
    ids=lambda a: "-".join(a[:2]),
)
def test_a_store_that_is_a_file(capsys, a_file, argv) -> None:
    line = fails(capsys, *argv, "--store", str(a_file))
    assert str(a_file) in line


def test_a_store_that_does_not_exist(capsys, tmp_path) -> None:
    line = fails(capsys, "history", "--store", str(tmp_path / "nothing"))
    assert "no history store" in line


@pytest.mark.parametrize(
    "argv",
    [["history"], ["report", "all", "--period", "2020-09"], ["explain", "H001", "--period", "2020-09"]],
    ids=lambda a: a[0],
)
def test_the_default_store_missing_points_to_the_published_one(capsys, tmp_path, monkeypatch, argv) -> None:
    """`dq score --published` writes to history-published: a command reading the default store
    in that folder is told where the scores are instead of only that there are none."""
    monkeypatch.chdir(tmp_path)
    assert main(["score", "--published", "nanjing", "--period", "2020-09", "-q"]) == 0
    capsys.readouterr()
    assert (tmp_path / "history-published").is_dir() and not (tmp_path / "history").exists()
    line = fails(capsys, *argv)
    assert "no history store here" in line and "--store history-published" in line
    # and with it, the command reads the published scores
    assert main([*argv, "--store", "history-published", "--format", "json"]) in (0, 1)


@pytest.mark.parametrize(
    "command", [["audit", EXTRACT], ["score", "--published", "nanjing", "--period", "2020-09"]]
)
def test_negative_samples(capsys, command) -> None:
    line = fails(capsys, *command, "--samples", "-1")
    assert "--samples" in line and "whole number" in line


def test_a_campaign_must_go_forward(capsys, store, tmp_path) -> None:
    out = str(tmp_path / "r")
    line = fails(
        capsys,
        "report",
        "campaign",
        "--before",
        "2020-09",
        "--after",
        "2018-03",
        "--store",
        str(store),
        "--out",
        out,
    )
    assert "earlier --before" in line
    line = fails(
        capsys,
        "report",
        "campaign",
        "--before",
        "2020-09",
        "--after",
        "2020-09",
        "--store",
        str(store),
        "--out",
        out,
    )
    assert "earlier --before" in line
    assert not Path(out).exists()  # refused before anything was written
    assert (
        main(
            [
                "report",
                "campaign",
                "--before",
                "2018-03",
                "--after",
                "2020-09",
                "--store",
                str(store),
                "--out",
                out,
            ]
        )
        == 0
    )


def test_json_errors_on_stdout(capsys, a_file) -> None:
    assert main(["audit", EXTRACT, "--period", "2020-9", "--format", "json"]) == 2
    out, err = capsys.readouterr()
    assert json.loads(out)["error"] == {
        "kind": "UsageError",
        "message": json.loads(out)["error"]["message"],
        "exit_code": 2,
    }
    assert PERIOD_MESSAGE in json.loads(out)["error"]["message"] and PERIOD_MESSAGE in err
    assert main(["history", "--store", str(a_file), "--format", "json"]) == 2
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["kind"] == "StoreError" and str(a_file) in error["message"]
    assert main(["suites", "validate", str(a_file), "--format=json"]) == 2
    assert json.loads(capsys.readouterr().out)["error"]["kind"] == "SuiteError"


def test_a_bug_is_exit_3_with_please_report(capsys, monkeypatch) -> None:
    import dq.engine.checks

    def broken():
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(dq.engine.checks, "check_catalogue", broken)  # a stand-in for a defect in dq
    line = fails(capsys, "checks", code=3)
    assert "please report" in line and "ZeroDivisionError" in line
    assert main(["checks", "--format", "json"]) == 3
    assert json.loads(capsys.readouterr().out)["error"]["kind"] == "InternalError"
    assert main(["checks", "-v"]) == 3
    assert "Traceback" in capsys.readouterr().err  # -v shows it


def test_no_traceback_from_the_installed_command(tmp_path) -> None:
    """End to end, as a scheduler runs it: exit status and stderr of a real process."""
    proc = subprocess.run(
        [sys.executable, "-m", "dq", "audit", EXTRACT, "--samples", "-1"],
        capture_output=True, text=True, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


# ------------------------------------------------------------------ the same conventions everywhere
def test_the_shared_flags_work_before_the_command_too(capsys) -> None:
    before = main(["-q", "suites", "validate"]), capsys.readouterr()
    after = main(["suites", "validate", "-q"]), capsys.readouterr()
    assert before[0] == after[0] == 0
    assert (before[1].out, before[1].err) == (after[1].out, after[1].err)


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["suites", "validate", "--bogus"], "dq suites"),
        (["score", "ROOT", "--period", "2020-09", "--bogus"], "dq score"),
        (["history", "--nonsense", "1"], "dq history"),
    ],
)
def test_an_unknown_option_points_at_the_commands_own_help(capsys, argv, command) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"(see {command} --help)" in err and "Traceback" not in err


@pytest.mark.parametrize("option", ["--workers", "--threads"])
def test_zero_workers_is_refused_like_zero_threads(capsys, option) -> None:
    assert main(["score", "ROOT", "--period", "2020-09", option, "0"]) == 2
    assert "expected a whole number ≥ 1, got 0" in capsys.readouterr().err


# The same mistake in an option of any command gets the same answer, and the command's own help.
SCORE = ["score", "ROOT", "--period", "2020-09"]
SEND = ["send", "--period", "2020-09"]
AT_LEAST_1 = "expected a whole number ≥ 1, got"
AT_LEAST_0 = "expected a whole number ≥ 0, got"
SECONDS = "expected a number of seconds"


@pytest.mark.parametrize(
    ("argv", "option", "answer"),
    [
        ([*SCORE, "--workers", "-1"], "--workers", f"{AT_LEAST_1} -1"),
        ([*SCORE, "--threads", "x"], "--threads", f"{AT_LEAST_1} 'x'"),
        ([*SCORE, "--samples", "-1"], "--samples", f"{AT_LEAST_0} -1"),
        (["audit", EXTRACT, "--samples", "-1"], "--samples", f"{AT_LEAST_0} -1"),
        (["explain", "--period", "2020-09", "--top", "-1"], "--top", f"{AT_LEAST_0} -1"),
        ([*SEND, "--retries", "-1"], "--retries", f"{AT_LEAST_0} -1"),
        (["demo", "--seed", "-1"], "--seed", f"{AT_LEAST_0} -1"),
        (["synth", "--out", "x", "--seed", "-1"], "--seed", f"{AT_LEAST_0} -1"),
        (["synth", "--out", "x", "--cities", "0"], "--cities", "expected a whole number from 1 to 99, got 0"),
        ([*SCORE, "--time-limit", "0"], "--time-limit", f"{SECONDS} > 0, got '0'"),
        ([*SCORE, "--db-timeout", "0"], "--db-timeout", f"{SECONDS} > 0, got '0'"),
        (["audit", "x", "--db-timeout", "nan"], "--db-timeout", f"{SECONDS} > 0, got 'nan'"),
        ([*SEND, "--timeout", "0"], "--timeout", f"{SECONDS} > 0, got '0'"),
        ([*SEND, "--backoff", "-1"], "--backoff", f"{SECONDS} ≥ 0, got '-1'"),
        (["synth", "--out", "x", "--scale", "inf"], "--scale", "expected a number > 0, got 'inf'"),
        (["demo", "--scale", "0"], "--scale", "expected a number > 0, got '0'"),
    ],
)
def test_a_bad_number_gets_the_same_answer_in_every_command(capsys, argv, option, answer) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"dq: error: argument {option}: {answer} (see dq {argv[0]} --help)\n" == err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["score", "--period", "2020-09"], "give a batch ROOT or --published DIR"),
        (["send", "--period", "2020-09", "--out", "x"], "--out is for --dry-run"),
        (["send", "--period", "2020-09"], "give --contacts FILE"),
    ],
)
def test_a_usage_error_found_after_parsing_points_at_the_commands_help(capsys, argv, says) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert says in err and err.rstrip().endswith(f"(see dq {argv[0]} --help)")


def test_every_command_points_at_its_own_help(capsys) -> None:
    from dq.cli import COMMANDS, build_parser

    parser = build_parser()
    for name, *_ in COMMANDS:
        assert main([name, "--no-such-option"]) == 2
        assert f"(see dq {name} --help)" in capsys.readouterr().err, name
        assert parser.commands[name].prog == f"dq {name}"  # type: ignore[attr-defined]
