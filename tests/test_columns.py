"""parse_temporal: the fast fixed forms give exactly what the general parser gives."""

from __future__ import annotations

import datetime as dt
import random

import polars as pl
import pytest

from dq.io.columns import _parse_any, parse_temporal

FORMS = [
    "20200901083015",
    "2020-09-01 08:30:15",
    "20200901",
    "2020-09-01",
    "2020-02-29 23:59:59",
    "20200229235960",
    "2020-09-01 24:00:00",
    "2020-09-01T08:30:15",
    "2020-09-01 08:30+08",
    "2020-09-01 08:30:15Z",
    "2020-09-01 08:30:15.250",
    "2021-02-29",
    "20201301",
]
CHARS = "0123456789 -:/T+Z.z\t٣"


def _mutated(n: int, seed: int) -> list[str | None]:
    """Valid values of every accepted form, each with a character replaced, inserted or
    removed, or random text of a fixed form's length (whitespace inside a field, signs,
    letters, non-ASCII digits)."""
    rnd = random.Random(seed)
    out: list[str | None] = []
    for _ in range(n):
        chars = list(rnd.choice(FORMS))
        r = rnd.random()
        if r < 0.5:
            for _ in range(rnd.randint(1, 2)):
                chars[rnd.randrange(len(chars))] = rnd.choice(CHARS)
        elif r < 0.6:
            chars.insert(rnd.randrange(len(chars)), rnd.choice(CHARS))
        elif r < 0.7:
            del chars[rnd.randrange(len(chars))]
        elif r < 0.8:
            chars = [rnd.choice(CHARS) for _ in range(rnd.choice([8, 10, 14, 19]))]
        out.append("".join(chars))
    return [*out, *FORMS, None, "", " "]


@pytest.mark.parametrize("typ", ["date", "datetime"])
@pytest.mark.parametrize("order", [1, -1])  # the first value's form is tried first
def test_fast_forms_agree_with_the_general_parser(typ: str, order: int) -> None:
    values = _mutated(20_000, seed=11)[::order]
    frame = pl.DataFrame({"v": values})
    got = frame.select(parse_temporal(pl.col("v"), typ).alias("a"), _parse_any(pl.col("v"), typ).alias("g"))
    assert got["a"].drop_nulls().len() > 2_000  # the corpus holds many valid values
    differ = got.with_columns(v=frame["v"]).filter(~pl.col("a").eq_missing(pl.col("g")))
    assert differ.is_empty(), differ.head(10)


def test_mixed_forms_in_chunks_and_nulls() -> None:
    a = pl.DataFrame({"v": ["20200901083015", None, "20200901083016"]})
    b = pl.DataFrame({"v": ["2020-09-01 08:30:15", " 2020-09-01 08:30:15", "2020-09-01T00:15:00Z", "x"]})
    frame = pl.concat([a, b, a], rechunk=False)
    got = frame.lazy().select(parse_temporal(pl.col("v"), "datetime")).collect().to_series().to_list()
    t, t1, utc = (
        dt.datetime(2020, 9, 1, 8, 30, 15),
        dt.datetime(2020, 9, 1, 8, 30, 16),
        dt.datetime(2020, 9, 1, 8, 15),
    )
    assert got == [t, None, t1, t, t, utc, None, t, None, t1]


def test_all_null_and_empty() -> None:
    frame = pl.DataFrame({"v": pl.Series([None, None], dtype=pl.String)})
    assert frame.select(parse_temporal(pl.col("v"), "date")).to_series().to_list() == [None, None]
    empty = pl.DataFrame({"v": pl.Series([], dtype=pl.String)})
    out = empty.select(parse_temporal(pl.col("v"), "datetime")).to_series()
    assert out.dtype == pl.Datetime("us") and out.is_empty()


# ------------------------------------------------------------------ blank values
def test_blank_test_strips_the_same_characters_as_strip_chars() -> None:
    """blank_or_null's whitespace test agrees with strip_chars() == "" on every code point,
    alone, padded and after a letter."""
    from dq.engine.checks.base import blank_or_null

    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000]
    values = [*chars, *(f" {c}\t" for c in chars), *(f"a{c}" for c in chars), "", None]
    frame = pl.DataFrame({"v": values})
    got = frame.select(
        blank_or_null("v", pl.String).alias("a"),
        (pl.col("v").is_null() | (pl.col("v").str.strip_chars() == "")).alias("b"),
    )
    assert got["a"].sum() > 50  # every kind of whitespace is there
    assert got["a"].eq_missing(got["b"]).all()
