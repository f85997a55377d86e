"""id18_valid against a plain Python reading of GB 11643-1999 on a corpus of mutated numbers."""

from __future__ import annotations

import datetime as dt
import random

import polars as pl
from conftest import CATALOGUE, NOW

from dq.engine.checks._conformance import _WEIGHTS, id18_valid
from dq.engine.checks.base import Context


def _reference(value: str | None, today: dt.date) -> bool:
    if value is None or len(value) != 18 or not value[:17].isascii() or not value[:17].isdigit():
        return False
    if not (value[17].isascii() and value[17].isdigit()) and value[17] != "X":
        return False
    total = sum(int(c) * w for c, w in zip(value[:17], _WEIGHTS, strict=True))
    if value[17] != "10X98765432"[total % 11]:
        return False
    try:
        birth = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    return birth <= today and birth.year >= 1880


def test_weights_are_powers_of_two_mod_11() -> None:
    assert tuple(2 ** (17 - i) % 11 for i in range(17)) == _WEIGHTS


def test_id18_valid_agrees_with_the_standard() -> None:
    rnd = random.Random(7)
    values: list[str | None] = []
    for _ in range(20_000):
        body = f"{rnd.randint(110000, 659999)}{rnd.randint(1870, 2030)}{rnd.randint(0, 13):02d}"
        body += f"{rnd.randint(0, 32):02d}{rnd.randint(0, 999):03d}"
        total = sum(int(c) * w for c, w in zip(body, _WEIGHTS, strict=True))
        value = list(body + "10X98765432"[total % 11])
        if rnd.random() < 0.4:  # a wrong character anywhere: digit, X, x, sign, space, letter
            value[rnd.randrange(18)] = rnd.choice("0123456789Xx +-a٣")
        if rnd.random() < 0.05:
            value = value[: rnd.randrange(18)]
        values.append("".join(value))
    values += ["", None, "99999999999999999X", "11010519491231002X"]
    ctx = Context(table="patient_index", schema={"id_no": pl.String}, catalogue=CATALOGUE, now=NOW)
    got = pl.DataFrame({"id_no": values}).select(id18_valid("id_no", ctx)).to_series().to_list()
    want = [_reference(v, NOW.date()) for v in values]
    assert sum(want) > 5_000
    assert got == want
