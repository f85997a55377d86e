"""Statuses and outcomes are string enums whose members are the very text dq stored and printed
before them: JSON, the store's Parquet and the templates read the same words, and a store written
before the enums reads as it did.

``tests/data/store-before-enums/`` is a history store written by dq before the enums (commit
212aa8c): ``dq score`` of a three-unit batch built like tests/test_batch.py's (H001, D01, and
BADPQ whose outpatient file is not Parquet), four delivery events recorded through
``DeliveryLog.record`` (H001 sending then sent; D01 sending then unknown), and a run begun and
never finished (its process gone: read as interrupted). Its ``.dq-lock`` was left out.
"""

from __future__ import annotations

import json
import re
import shutil
from enum import StrEnum
from pathlib import Path

import polars as pl
import pytest

import dq
from dq.delivery.send import STATUSES_OK, SendStatus, UnitDelivery
from dq.engine.results import FLAGGED, STATUSES, RuleResult, Status
from dq.scoring.scores import UnitStatus
from dq.store.deliveries import DeliveryLog, DeliveryStatus
from dq.store.history import RUN_STATUSES, RunStatus, Store

REPO = Path(__file__).resolve().parents[1]
BEFORE = REPO / "tests" / "data" / "store-before-enums"
P = "2020-09"
DOCS = {name: (REPO / "docs" / name).read_text(encoding="utf-8") for name in ("json.md", "delivery.md")}


# The words each status had before it became an enum (docs/json.md, docs/delivery.md).
@pytest.mark.parametrize(
    ("enum", "words"),
    [
        (Status, ["pass", "warn", "fail", "error", "not_applicable"]),
        (UnitStatus, ["ok", "error", "skipped"]),
        (RunStatus, ["running", "complete", "failed", "interrupted"]),
        (DeliveryStatus, ["sending", "sent", "failed", "unknown"]),
        (SendStatus, ["sent", "skipped", "written", "partial", "failed", "unknown", "no_contact",
                      "bad_contact", "no_report", "stale_report", "no_score", "error"]),
    ],
)  # fmt: skip
def test_each_member_is_the_word_it_replaces(enum: type[StrEnum], words: list[str]) -> None:
    assert [m.value for m in enum] == words
    for member, word in zip(enum, words, strict=True):
        assert isinstance(member, str) and member == word and str(member) == word and f"{member}" == word
        assert json.dumps(member) == f'"{word}"' and enum(word) is member
    documented = " ".join(DOCS.values())
    stored_only = {"skipped"} if enum is UnitStatus else set()  # a batch's own word, never stored
    assert [w for w in words if f"`{w}`" not in documented and w not in stored_only] == []


def test_the_tuples_of_statuses_are_the_enums() -> None:
    assert tuple(Status) == STATUSES and tuple(RunStatus) == RUN_STATUSES
    assert {Status.WARN, Status.FAIL} == FLAGGED
    assert {SendStatus.SENT, SendStatus.SKIPPED, SendStatus.WRITTEN} == STATUSES_OK
    assert dq.Status is Status


def test_one_unit_outcome_class() -> None:
    import dq.batch.local
    import dq.delivery.send

    assert hasattr(dq.batch.local, "UnitOutcome") and not hasattr(dq.delivery.send, "UnitOutcome")
    found = [
        p.relative_to(REPO).as_posix()
        for p in (REPO / "dq").rglob("*.py")
        if re.search(r"^class UnitOutcome\b", p.read_text(encoding="utf-8"), re.M)
    ]
    assert found == ["dq/batch/local.py"]
    assert UnitDelivery("H001", "x", SendStatus.SENT).to_dict()["status"] == "sent"


def test_a_result_holds_the_member_whatever_it_was_given() -> None:
    (r,) = dq.validate(pl.DataFrame({"a": [1, None]}), "- {id: A, check: not_null, params: {column: a}}")
    assert r.status is Status.FAIL
    d = r.to_dict()
    assert type(d["status"]) is str and d["status"] == "fail"
    again = RuleResult.from_dict(json.loads(json.dumps(d)))
    assert again.status is Status.FAIL and again == r
    with pytest.raises(ValueError, match="rule A: status 'failed' is not one of pass, warn"):
        RuleResult.from_dict({**d, "status": "failed"})
    # a status column is text, as before (not a Polars Enum)
    assert dq.results_frame([r])["status"].dtype == pl.String


@pytest.fixture
def before(tmp_path: Path) -> Path:
    return Path(shutil.copytree(BEFORE, tmp_path / "store"))


def _raw(store: Path, folder: str) -> pl.DataFrame:
    """A folder of the store read by plain Polars, as any reader outside dq would."""
    return pl.read_parquet(store / folder / "**" / "*.parquet", hive_partitioning=True)


def test_a_store_written_before_the_enums_reads_as_before(before: Path) -> None:
    st = Store(before)
    runs = st.runs()
    assert runs["status"].to_list() == ["complete", "interrupted"]  # a running row whose process is gone
    assert runs["status"].to_list() == [RunStatus.COMPLETE, RunStatus.INTERRUPTED]
    assert runs["status"].dtype == pl.String

    scores = st.scores(P)
    assert dict(zip(scores["unit_id"], scores["status"], strict=True)) == {
        "H001": UnitStatus.OK, "D01": UnitStatus.OK, "BADPQ": UnitStatus.ERROR,
    }  # fmt: skip
    assert st.scored_units(P) == {"H001", "D01"}

    raw = _raw(before, "results").filter(pl.col("unit_id") == "H001")
    results, _ = st.unit_results(P, "H001")
    assert all(type(r.status) is Status for r in results)
    assert sorted(r.status.value for r in results) == sorted(raw["status"].to_list())
    assert {r.status for r in results} <= set(Status)

    states = DeliveryLog(st).states(P)
    assert (states["H001"].status, states["H001"].delivered) == (DeliveryStatus.SENT, True)
    assert (states["D01"].status, states["D01"].delivered) == (DeliveryStatus.UNKNOWN, False)
    assert DeliveryLog(st).sent_units(P) == {"H001"}
    assert DeliveryLog(st).unfinished(P) == {"D01": "<b@dq>"}


def test_what_dq_writes_now_has_the_words_it_wrote_before(before: Path) -> None:
    """A unit written again today beside the files of before: the same status text, as text."""
    st = Store(before)
    old_results, fixes = st.unit_results(P, "H001")
    row = st.scores(P).filter(pl.col("unit_id") == "H001").row(0, named=True)
    unit = {"unit_id": "H001", "name": row["unit_name"], "kind": row["kind"], "district": row["district"]}
    run = st.begin_run(P, "x", "batch", "")
    st.write_unit(run, unit, old_results, None, None, fixes)
    st.write_unit(run, {"unit_id": "BADPQ", "name": "BADPQ"}, [], None, None, error="BADPQ: unreadable")
    st.finish_run(run, 2, 1)

    results = _raw(before, "results")
    old, new = (results.filter((pl.col("unit_id") == "H001") & (pl.col("run_id") == r)) for r in
                (row["run_id"], run.run_id))  # fmt: skip
    assert new["status"].dtype == old["status"].dtype == pl.String
    assert new.sort("rule")["status"].to_list() == old.sort("rule")["status"].to_list()
    scores = _raw(before, "scores").filter(pl.col("run_id") == run.run_id)
    assert dict(zip(scores["unit_id"], scores["status"], strict=True)) == {"H001": "ok", "BADPQ": "error"}
    runs = _raw(before, "runs").sort("started_at")
    assert runs["status"].dtype == pl.String
    assert runs["status"].to_list()[-1] == "complete"
