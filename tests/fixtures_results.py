"""A record-level rule result for tests that store scores without running an audit."""

from __future__ import annotations

from dq.engine.results import RuleResult


def record_result(failed: int) -> RuleResult:
    """OV-010 (visit id present) on 100 rows, ``failed`` of them failing."""
    return RuleResult(
        rule="OV-010", suite="hospital.outpatient_visit", table="outpatient_visit", check="not_null",
        columns=("visit_id",), dimension="completeness", severity="error",
        status="pass" if failed == 0 else "fail", evaluated=100, failed=failed,
        fail_fraction=failed / 100, message=f"{failed} of 100 fail", threshold={"max_fraction": 0.0},
        title_zh="就诊号不为空", title_en="Visit id present",
    )  # fmt: skip
