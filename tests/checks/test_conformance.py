"""Conformance checks: in_set, regex, length, id_card, id_legacy, id_card_matches, icd10,
icd9cm3, date_parse.

ID numbers are computed with the GB 11643-1999 algorithm in conftest.gb11643 (weights 7 9 10 5 8
4 2 1 6 3 7 9 10 5 8 4 2, check char "10X98765432"[S mod 11]); the audit moment is conftest.NOW
(2020-10-15 12:00).
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from conftest import (
    NOW,
    Case,
    case,
    check_case,
    checks_covered,
    gb11643,
    id18,
    make_rule,
    run,
    run_one,
    wrong_check_char,
)

from dq.engine.checks import _conformance as conformance

VALID = id18("19900101", seq="123")  # 320106199001011238, male (3 is odd)
FEMALE = id18("19900101", seq="124")
LEGACY = "320106900101123"  # 15 digits: born 1990-01-01, male
LEGACY_BAD_DATE = "320106901301123"  # month 13
FEB30 = gb11643("32010619900230123")  # right check char, impossible date
TODAY = id18(NOW.strftime("%Y%m%d"))
TOMORROW = id18((NOW + dt.timedelta(days=1)).strftime("%Y%m%d"))
BEFORE_1880 = id18("18791231")


def _with_check_x() -> str:
    for seq in range(1000):
        v = id18("19850615", seq=f"{seq:03d}")
        if v.endswith("X"):
            return v
    raise AssertionError("no X check char in 1000 sequences")  # pragma: no cover


WITH_X = _with_check_x()


def test_gb11643_helper_matches_the_published_example() -> None:
    # The example of GB 11643-1999 annex: 11010519491231002X.
    assert gb11643("11010519491231002") == "11010519491231002X"
    assert VALID == "320106199001011238"


ONE_ID = {"id_no": [VALID]}


def _one(value: str, ok: bool, check: str = "id_card", params=None, table="patient_index", column="id_no"):
    return case(
        f"{check}/{value!r}-{'ok' if ok else 'bad'}",
        check,
        params or {"column": column},
        {column: [value]},
        ("pass", 1, 0) if ok else ("fail", 1, 1),
        table=table,
    )


ID_CARD_VALUES = [
    (VALID, True),
    (FEMALE, True),
    (WITH_X, True),
    (TODAY, True),  # born today: not in the future
    (LEGACY, True),  # 15-digit legacy numbers are accepted by default (see id_legacy)
    (wrong_check_char(VALID), False),
    (WITH_X[:17] + "x", False),  # the check char X is upper case
    (FEB30, False),  # 1990-02-30 does not exist
    (gb11643("32010619901301123"), False),  # month 13
    (TOMORROW, False),  # born after the audit moment
    (BEFORE_1880, False),
    (LEGACY_BAD_DATE, False),
    (VALID[:17], False),  # 17 digits
    (VALID + "1", False),  # 19 digits
    ("32010619900101123A", False),
    (" " + VALID, False),  # surrounding spaces are not trimmed
    ("P12345678", False),  # a passport number
]

ICD10 = [
    ("J18.9", True),
    ("I10.x00", True),
    ("I10.x00x002", True),
    ("E11.900", True),
    ("J18", True),
    ("A00.0", True),
    ("j18.9", False),  # lower case letter
    ("J18.", False),  # dot without digits
    ("I10.x00x02", False),  # the x-suffix has three digits
    ("J1.9", False),
    ("18.9", False),
    ("J18.9 ", False),  # trailing space: anchored pattern
    ("J18.9000", False),
]

ICD9CM3 = [
    ("96.7201", True),
    ("96.72", True),
    ("96.7", True),
    ("96", True),
    ("38.93x1", True),
    ("96.", False),
    ("967201", False),
    ("9.67", False),
    ("96.72011", False),
    ("A6.72", False),
]

CASES = [
    # ---------------------------------------------------------------- in_set
    case(
        "in_set/values-nulls-blanks-skipped",
        "in_set",
        {"column": "sex_code", "values": ["1", "2"]},
        {"sex_code": ["1", "2", "3", None, "", " "]},
        ("fail", 3, 1),
    ),
    case(
        "in_set/numbers-in-yaml-match-text-codes",
        "in_set",
        {"column": "sex_code", "values": [1, 2]},
        {"sex_code": ["1", "2"]},
        ("pass", 2, 0),
    ),
    case(
        "in_set/code_set-sex",
        "in_set",
        {"column": "sex_code", "code_set": "sex"},
        {"sex_code": ["0", "1", "2", "9", "5"]},
        ("fail", 5, 1),
    ),
    case(
        "in_set/code_set-id_type-needs-leading-zero",
        "in_set",
        {"column": "id_type", "code_set": "id_type"},
        {"id_type": ["01", "1", "99"]},
        ("fail", 3, 1),
    ),
    case(
        "in_set/integer-column",
        "in_set",
        {"column": "item_no", "values": [1, 2]},
        {"item_no": [1, 2, 3, None]},
        ("fail", 3, 1),
        table="outpatient_prescription",
    ),
    case(
        "in_set/empty-table",
        "in_set",
        {"column": "sex_code", "code_set": "sex"},
        {"sex_code": []},
        ("not_applicable", 0, 0),
    ),
    case(
        "in_set/when",
        "in_set",
        {"column": "sex_code", "values": ["1"]},
        {"sex_code": ["2", "2", "1"], "id_type": ["02", "01", "01"]},
        ("fail", 2, 1),
        when="id_type = '01'",
    ),
    # ---------------------------------------------------------------- regex
    case(
        "regex/anchored",
        "regex",
        {"column": "address_code", "pattern": "^[0-9]{6}$"},
        {"address_code": ["320106", "32010", "abcdef", None, ""]},
        ("fail", 3, 2),
    ),
    case(
        "regex/searched-not-full-match",
        "regex",
        {"column": "address_code", "pattern": "106"},
        {"address_code": ["320106", "320107"]},
        ("fail", 2, 1),
    ),
    case(
        "regex/unicode",
        "regex",
        {"column": "name", "pattern": r"^\p{Han}+$"},
        {"name": ["王小明", "Wang"]},
        ("fail", 2, 1),
    ),
    case(
        "regex/empty-table",
        "regex",
        {"column": "name", "pattern": "x"},
        {"name": []},
        ("not_applicable", 0, 0),
    ),
    # ---------------------------------------------------------------- length
    case(
        "length/exact",
        "length",
        {"column": "address_code", "min": 6, "max": 6},
        {"address_code": ["320106", "3201", "3201066", " ", None]},
        ("fail", 3, 2),
    ),
    case(
        "length/counts-characters-not-bytes",
        "length",
        {"column": "name", "max": 3},
        {"name": ["王小明", "欧阳小明"]},
        ("fail", 2, 1),
    ),
    case(
        "length/min-only",
        "length",
        {"column": "name", "min": 2},
        {"name": ["王", "王五"]},
        ("fail", 2, 1),
    ),
    # ---------------------------------------------------------------- id_card
    *(_one(v, ok) for v, ok in ID_CARD_VALUES),
    case(
        "id_card/legacy-refused-when-allow_legacy-false",
        "id_card",
        {"column": "id_no", "allow_legacy": False},
        {"id_no": [LEGACY, VALID]},
        ("fail", 2, 1),
    ),
    case(
        "id_card/nulls-and-blanks-not-evaluated",
        "id_card",
        {"column": "id_no"},
        {"id_no": [None, "", "  ", VALID]},
        ("pass", 1, 0),
    ),
    case("id_card/empty-table", "id_card", {"column": "id_no"}, {"id_no": []}, ("not_applicable", 0, 0)),
    case(
        "id_card/only-where-id_type-01",
        "id_card",
        {"column": "id_no"},
        {"id_type": ["01", "03", "01", None], "id_no": [VALID, "P1234567", FEB30, "E7654321"]},
        ("fail", 2, 1),
        when="id_type = '01'",
    ),
    case(
        "id_card/threshold-and-warning",
        "id_card",
        {"column": "id_no"},
        {"id_no": [VALID, FEMALE, WITH_X, FEB30]},
        ("warn", 4, 1),
        severity="warning",
        threshold={"max_fraction": 0.1},
    ),
    # ---------------------------------------------------------------- id_legacy
    case(
        "id_legacy/flags-valid-15-digit-only",
        "id_legacy",
        {"column": "id_no"},
        {"id_no": [VALID, LEGACY, LEGACY_BAD_DATE, "abc", None]},
        ("fail", 4, 1),
    ),
    case("id_legacy/none", "id_legacy", {"column": "id_no"}, {"id_no": [VALID]}, ("pass", 1, 0)),
    # ---------------------------------------------------------------- id_card_matches
    case(
        "id_card_matches/birth-and-sex-agree",
        "id_card_matches",
        {"column": "id_no", "birth_date": "birth_date", "sex": "sex_code"},
        {
            "id_no": [VALID, FEMALE, LEGACY],
            "birth_date": [dt.date(1990, 1, 1)] * 3,
            "sex_code": ["1", "2", "1"],
        },
        ("pass", 3, 0),
    ),
    case(
        "id_card_matches/birth-differs",
        "id_card_matches",
        {"column": "id_no", "birth_date": "birth_date", "sex": "sex_code"},
        {"id_no": [VALID, LEGACY], "birth_date": [dt.date(1990, 1, 2)] * 2, "sex_code": ["1", "1"]},
        ("fail", 2, 2),
    ),
    case(
        "id_card_matches/sex-digit-differs",
        "id_card_matches",
        {"column": "id_no", "birth_date": "birth_date", "sex": "sex_code"},
        {"id_no": [VALID, FEMALE], "birth_date": [dt.date(1990, 1, 1)] * 2, "sex_code": ["2", "1"]},
        ("fail", 2, 2),
    ),
    case(
        "id_card_matches/unknown-sex-and-null-birth-not-compared",
        "id_card_matches",
        {"column": "id_no", "birth_date": "birth_date", "sex": "sex_code"},
        {
            "id_no": [VALID, VALID, VALID],
            "birth_date": [None, dt.date(1990, 1, 1), dt.date(1990, 1, 1)],
            "sex_code": ["2", "0", "9"],
        },
        ("fail", 3, 1),
    ),
    case(
        "id_card_matches/invalid-ids-not-evaluated",
        "id_card_matches",
        {"column": "id_no", "birth_date": "birth_date", "sex": "sex_code"},
        {
            "id_no": [FEB30, wrong_check_char(VALID), None, "abc"],
            "birth_date": [dt.date(2000, 1, 1)] * 4,
            "sex_code": ["2"] * 4,
        },
        ("not_applicable", 0, 0),
    ),
    # ---------------------------------------------------------------- icd10 / icd9cm3
    *(_one(v, ok, "icd10", table="outpatient_visit", column="diagnosis_code") for v, ok in ICD10),
    case(
        "icd10/nulls-blank-not-evaluated",
        "icd10",
        {"column": "diagnosis_code"},
        {"diagnosis_code": [None, "", "J18.9"]},
        ("pass", 1, 0),
        table="outpatient_visit",
    ),
    *(_one(v, ok, "icd9cm3", table="surgery_record", column="operation_code") for v, ok in ICD9CM3),
    # ---------------------------------------------------------------- date_parse
    case(
        "date_parse/raw-text-dates-via-reader",
        "date_parse",
        {"column": "birth_date", "type": "date"},
        {"birth_date": ["1990-01-01", "19900101", "1990/01/01", "1990-02-30", "abc", "", None]},
        ("fail", 5, 2),
        raw=True,
    ),
    case(
        "date_parse/raw-text-datetimes-via-reader",
        "date_parse",
        {"column": "upload_time"},
        {
            "upload_time": [
                "2020-09-01 08:00:00",
                "2020-09-01T08:00:00",
                "20200901080000",
                "2020-09-01 08:00:00.5",
                "2020-09-01 08:00",
                "2020-09-01",
                "20200901",
                " 2020-09-01 08:00:00 ",
                "2020-09-01 25:00:00",
                "yesterday",
            ]
        },
        ("fail", 10, 2),
        raw=True,
    ),
    case(
        "date_parse/text-column-parsed-by-the-check",
        "date_parse",
        {"column": "birth_date", "type": "date"},
        {"birth_date": ["1990-01-01", "19900101", "01/02/1990", None]},
        ("fail", 3, 1),
        schema={"birth_date": pl.String},
    ),
    case(
        "date_parse/natively-typed-always-conforms",
        "date_parse",
        {"column": "birth_date", "type": "date"},
        {"birth_date": [dt.date(1990, 1, 1), None]},
        ("pass", 1, 0),
    ),
    case(
        "date_parse/empty-table",
        "date_parse",
        {"column": "birth_date", "type": "date"},
        {"birth_date": []},
        ("not_applicable", 0, 0),
        raw=True,
    ),
]


@pytest.mark.parametrize("c", CASES)
def test_conformance(c: Case) -> None:
    check_case(c)


def test_every_conformance_check_is_covered() -> None:
    assert {c.name for c in conformance.CHECKS} <= checks_covered(CASES)


def test_icd_patterns_are_the_spec_regexes() -> None:
    assert conformance.ICD10_PATTERN == r"^[A-Z][0-9]{2}(\.[0-9x][0-9]{0,2}(x[0-9]{3})?)?$"
    assert conformance.ICD9CM3_PATTERN == r"^[0-9]{2}(\.[0-9]{1,2}[0-9x]{0,2})?$"


def test_date_parse_samples_show_the_raw_text() -> None:
    rule = make_rule("date_parse", {"column": "birth_date", "type": "date"})
    r = run_one({"patient_id": ["p1", "p2"], "birth_date": ["1990-02-30", "1990-01-01"]}, rule, raw=True)
    assert r.samples == ({"patient_id": "p1", "birth_date": None, "birth_date__raw": "1990-02-30"},)


def test_id_card_depends_on_now() -> None:
    rule = make_rule("id_card", {"column": "id_no"})
    born = id18("20201016")
    assert run_one({"id_no": [born]}, rule, now=dt.datetime(2020, 10, 15)).status == "fail"
    assert run_one({"id_no": [born]}, rule, now=dt.datetime(2020, 10, 16)).status == "pass"


def test_id_rules_on_one_column_give_together_what_each_gives_alone() -> None:
    # The three ID checks share the number's validity as columns computed once per table: run
    # together (one query) they must count exactly what each counts in a query of its own.
    legacy = "320106" + "900101" + "123"  # a valid 15-digit number
    bad_check = id18()[:17] + ("0" if id18()[17] != "0" else "1")
    data = {
        "patient_id": [f"p{i}" for i in range(7)],
        "id_no": [id18(), id18("19850505", seq="124"), legacy, bad_check, "", None, "12345"],
        "birth_date": [dt.date(1990, 1, 1), dt.date(1985, 5, 6), dt.date(1990, 1, 1), None, None, None, None],
        "sex_code": ["1", "2", "2", "1", "1", "2", "1"],
    }
    rules = [
        make_rule("id_card", {"column": "id_no", "allow_legacy": True}, id="A"),
        make_rule("id_legacy", {"column": "id_no"}, id="B"),
        make_rule(
            "id_card_matches", {"column": "id_no", "birth_date": "birth_date", "sex": "sex_code"}, id="C"
        ),
    ]
    together = run(data, rules)
    for rule in rules:
        alone = run_one(data, rule)
        assert (alone.status, alone.evaluated, alone.failed) == (
            together[rule.id].status,
            together[rule.id].evaluated,
            together[rule.id].failed,
        ), rule.id
    assert (together["A"].evaluated, together["A"].failed) == (5, 2)  # the bad check char and "12345"
    assert (together["B"].evaluated, together["B"].failed) == (5, 1)  # the 15-digit number
    assert (together["C"].evaluated, together["C"].failed) == (3, 2)  # birth day and sex digit differ
