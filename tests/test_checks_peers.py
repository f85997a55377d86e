"""Checks over many units: proportion, peer_outlier, identical_across (dq/engine/checks/_peers.py).

Data-driven: each case is a tiny submission_summary frame, a rule and the expected
(status, evaluated, failed). Robust z = 0.6745 * (x - median) / MAD; the arithmetic of every
peer case is in its comment.
"""

from __future__ import annotations

import pytest
from conftest import case, check_case, checks_covered, make_rule, run_one

from dq.engine.checks import _peers as peers

T = "submission_summary"

PROPORTION = [
    case(
        # (31 - 27) + (31 - 31) of 31 + 31; the null row is not evaluated
        "proportion/upload-days",
        "proportion",
        {"failed": "days_in_period - upload_days", "total": "days_in_period"},
        {"days_in_period": [31, 31, 30], "upload_days": [27, 31, None]},
        ("fail", 62, 4),
        table=T,
    ),
    case(
        # 4 / 62 = 6.45 % <= 10 %
        "proportion/within-max-fraction",
        "proportion",
        {"failed": "days_in_period - upload_days", "total": "days_in_period"},
        {"days_in_period": [31, 31], "upload_days": [27, 31]},
        ("pass", 62, 4),
        table=T,
        threshold={"max_fraction": 0.1},
    ),
    case(
        # 64 of 85 declared: 21 / 85 = 24.7 % > 10 %
        "proportion/declared-of-required",
        "proportion",
        {"failed": "required_tables - declared_tables", "total": "required_tables"},
        {"required_tables": [85], "declared_tables": [64]},
        ("fail", 85, 21),
        table=T,
        threshold={"max_fraction": 0.1},
    ),
    case(
        # a negative count of failures (35 upload days of 31) is clipped to 0
        "proportion/negative-failed-clipped",
        "proportion",
        {"failed": "days_in_period - upload_days", "total": "days_in_period"},
        {"days_in_period": [31], "upload_days": [35]},
        ("pass", 31, 0),
        table=T,
    ),
    case(
        # more failures than the total: capped at the total
        "proportion/failed-capped-at-total",
        "proportion",
        {"failed": "upload_days", "total": "days_in_period"},
        {"days_in_period": [31], "upload_days": [40]},
        ("fail", 31, 31),
        table=T,
    ),
    case(
        # only the hospital row: 31 - 21 = 10 of 31
        "proportion/when",
        "proportion",
        {"failed": "days_in_period - upload_days", "total": "days_in_period"},
        {"kind": ["hospital", "district"], "days_in_period": [31, 31], "upload_days": [21, 1]},
        ("fail", 31, 10),
        table=T,
        when="kind = 'hospital'",
    ),
    case(
        "proportion/all-null",
        "proportion",
        {"failed": "days_in_period - upload_days", "total": "days_in_period"},
        {"days_in_period": [31, None], "upload_days": [None, 3]},
        ("not_applicable", 0, 0),
        table=T,
    ),
    case(
        "proportion/zero-total",
        "proportion",
        {"failed": "required_tables - declared_tables", "total": "required_tables"},
        {"required_tables": [0], "declared_tables": [0]},
        ("not_applicable", 0, 0),
        table=T,
    ),
]

PEER_OUTLIER = [
    case(
        # median 12.5; |dev| 2.5 1.5 .5 .5 1.5 87.5 -> MAD 1.5
        # z(100) = .6745 * 87.5 / 1.5 = 39.3 > 3.5; z(10) = .6745 * -2.5 / 1.5 = -1.12
        "peer_outlier/linear-high",
        "peer_outlier",
        {"value": "data_volume", "direction": "high"},
        {"data_volume": [10, 11, 12, 13, 14, 100]},
        ("fail", 6, 1),
        table=T,
    ),
    case(
        "peer_outlier/linear-both",
        "peer_outlier",
        {"value": "data_volume"},
        {"data_volume": [10, 11, 12, 13, 14, 100]},
        ("fail", 6, 1),
        table=T,
    ),
    case(
        # the only outlier is high: a "low" rule finds nothing
        "peer_outlier/linear-direction-low",
        "peer_outlier",
        {"value": "data_volume", "direction": "low"},
        {"data_volume": [10, 11, 12, 13, 14, 100]},
        ("pass", 6, 0),
        table=T,
    ),
    case(
        # median 12.5, MAD 1.5: z(1) = .6745 * -11.5 / 1.5 = -5.17 < -3.5
        "peer_outlier/linear-low",
        "peer_outlier",
        {"value": "data_volume", "direction": "low"},
        {"data_volume": [1, 11, 12, 13, 14, 15]},
        ("fail", 6, 1),
        table=T,
    ),
    case(
        # [1 2 3 4 5 30] linear: median 3.5, MAD 1.5, z(30) = .6745 * 26.5 / 1.5 = 11.9
        "peer_outlier/skewed-linear-flags",
        "peer_outlier",
        {"value": "data_volume", "direction": "high"},
        {"data_volume": [1, 2, 3, 4, 5, 30]},
        ("fail", 6, 1),
        table=T,
    ),
    case(
        # log: ln = 0 .693 1.099 1.386 1.609 3.401; median 1.2425
        # |dev| = 1.2425 .5493 .1438 .1438 .3669 2.1587 -> MAD (.3669 + .5493) / 2 = .4581
        # z(30) = .6745 * 2.1587 / .4581 = 3.18 <= 3.5: not an outlier on the log scale
        "peer_outlier/skewed-log-does-not",
        "peer_outlier",
        {"value": "data_volume", "direction": "high", "log": True},
        {"data_volume": [1, 2, 3, 4, 5, 30]},
        ("pass", 6, 0),
        table=T,
    ),
    case(
        # same, plus a 0 (no logarithm: not evaluated) and a null
        "peer_outlier/log-skips-non-positive",
        "peer_outlier",
        {"value": "data_volume", "direction": "high", "log": True},
        {"data_volume": [0, 1, 2, 3, 4, 5, 30, None]},
        ("pass", 6, 0),
        table=T,
    ),
    case(
        # 2018 栖霞区-like ratio 27 / 68530 = .000394 among ratios .1 .11 .12 .09 .1:
        # ln ratios -2.303 -2.207 -2.120 -2.408 -2.303 -7.839; median -2.303;
        # |dev| 0 .0953 .1823 .1054 0 5.536 -> MAD (.0953 + .1054) / 2 = .1004
        # z = .6745 * -5.536 / .1004 = -37.2 < -3.5
        "peer_outlier/log-ratio-low",
        "peer_outlier",
        {"value": "records_hypertension / records_basic", "direction": "low", "log": True},
        {
            "records_hypertension": [100, 110, 120, 90, 100, 27],
            "records_basic": [1000, 1000, 1000, 1000, 1000, 68530],
        },
        ("fail", 6, 1),
        table=T,
    ),
    case(
        # one group of 6 (outlier 100) and one of 3: the small group is not evaluated (min_peers 5)
        "peer_outlier/group-by-and-min-peers",
        "peer_outlier",
        {"value": "data_volume", "group_by": ["kind"]},
        {
            "kind": ["hospital"] * 6 + ["district"] * 3,
            "data_volume": [10, 11, 12, 13, 14, 100, 1, 2, 1000],
        },
        ("fail", 6, 1),
        table=T,
    ),
    case(
        "peer_outlier/too-few-peers",
        "peer_outlier",
        {"value": "data_volume", "min_peers": 7},
        {"data_volume": [10, 11, 12, 13, 14, 100]},
        ("not_applicable", 0, 0),
        table=T,
    ),
    case(
        # min_peers 3 lets a group of 3 be judged: [1 2 1000] median 2, MAD 1;
        # z(1000) = .6745 * 998 = 673
        "peer_outlier/min-peers-lowered",
        "peer_outlier",
        {"value": "data_volume", "min_peers": 3},
        {"data_volume": [1, 2, 1000]},
        ("fail", 3, 1),
        table=T,
    ),
    case(
        # median 5, |dev| 0 0 0 0 0 4 -> MAD 0: no spread, nothing can be judged
        "peer_outlier/no-spread",
        "peer_outlier",
        {"value": "data_volume"},
        {"data_volume": [5, 5, 5, 5, 5, 9]},
        ("not_applicable", 0, 0),
        table=T,
    ),
    case(
        # max_z 1: z(10) = -1.12 and z(14) = .6745 * 1.5 / 1.5 = .67 -> only 10 and 100 fail
        "peer_outlier/max-z",
        "peer_outlier",
        {"value": "data_volume", "max_z": 1},
        {"data_volume": [10, 11, 12, 13, 14, 100]},
        ("fail", 6, 2),
        table=T,
    ),
    case(
        # the peers are every row of the group; `when` only picks the rows that are judged
        "peer_outlier/when-judges-a-subset",
        "peer_outlier",
        {"value": "data_volume"},
        {
            "unit_id": ["a", "b", "c", "d", "e", "f"],
            "data_volume": [10, 11, 12, 13, 14, 100],
        },
        ("fail", 1, 1),
        table=T,
        when="unit_id = 'f'",
    ),
]

IDENTICAL_ACROSS = [
    case(
        # 5 twice (fail both), 7 once; 0s ignored; null not evaluated
        "identical_across/ignore",
        "identical_across",
        {"columns": ["data_volume"], "ignore": [0]},
        {"data_volume": [5, 5, 7, 0, 0, None]},
        ("fail", 3, 2),
        table=T,
    ),
    case(
        # without ignore the two 0s are duplicates too
        "identical_across/no-ignore",
        "identical_across",
        {"columns": ["data_volume"]},
        {"data_volume": [5, 5, 7, 0, 0, None]},
        ("fail", 5, 4),
        table=T,
    ),
    case(
        # 153233 in two periods: not the same month, not a copy
        "identical_across/group-by",
        "identical_across",
        {"columns": ["outpatient_uploaded"], "group_by": ["period"], "ignore": [0]},
        {
            "period": ["2018-03", "2020-09", "2020-09"],
            "outpatient_uploaded": [153233, 153233, 1],
        },
        ("pass", 3, 0),
        table=T,
    ),
    case(
        # 2020-09: 雨花台区 and 东南大学附属中大医院 both printed 153233 outpatient visits
        "identical_across/group-by-same-period",
        "identical_across",
        {"columns": ["outpatient_uploaded"], "group_by": ["period"], "ignore": [0]},
        {
            "period": ["2020-09", "2020-09", "2020-09", "2018-03"],
            "outpatient_uploaded": [153233, 153233, 1, 1],
        },
        ("fail", 4, 2),
        table=T,
    ),
    case(
        # several columns: duplicates only where every column is equal
        "identical_across/combination",
        "identical_across",
        {"columns": ["data_volume", "upload_days"]},
        {"data_volume": [5, 5, 5], "upload_days": [30, 30, 29]},
        ("fail", 3, 2),
        table=T,
    ),
    case(
        "identical_across/all-distinct",
        "identical_across",
        {"columns": ["data_volume"], "ignore": [0]},
        {"data_volume": [1, 2, 3]},
        ("pass", 3, 0),
        table=T,
    ),
    case(
        # only unit b is judged, but it is compared with every row
        "identical_across/when",
        "identical_across",
        {"columns": ["data_volume"]},
        {"unit_id": ["a", "b", "c"], "data_volume": [5, 5, 7]},
        ("fail", 1, 1),
        table=T,
        when="unit_id = 'b'",
    ),
]

CASES = PROPORTION + PEER_OUTLIER + IDENTICAL_ACROSS


def test_every_peer_check_has_cases():
    assert checks_covered(CASES) == {c.name for c in peers.CHECKS}


@pytest.mark.parametrize("c", CASES)
def test_case(c):
    check_case(c)


def test_proportion_samples_the_failing_rows():
    rule = make_rule(
        "proportion", {"failed": "days_in_period - upload_days", "total": "days_in_period"}, table=T
    )
    r = run_one(
        {"unit_id": ["a", "b", "c"], "days_in_period": [30, 30, 30], "upload_days": [30, 22, 29]},
        rule,
    )
    assert (r.status, r.evaluated, r.failed) == ("fail", 90, 9)
    assert sorted(s["unit_id"] for s in r.samples) == ["b", "c"]


def test_peer_outlier_samples_name_the_outlier():
    rule = make_rule("peer_outlier", {"value": "data_volume"}, table=T)
    r = run_one({"unit_id": list("abcdef"), "data_volume": [10, 11, 12, 13, 14, 100]}, rule)
    assert [s["unit_id"] for s in r.samples] == ["f"]
