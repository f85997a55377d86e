"""Realistic values for synthetic extracts: reference lists and vectorised builders.

Everything here is numpy/polars vectorised; a builder takes a :class:`numpy.random.Generator` and
a row count (or arrays) and returns arrays or :class:`polars.Series`. Reference lists live in
``datasets/reference/*.csv`` (ICD-10 national clinical version codes, ICD-9-CM-3 operation codes,
Nanjing area codes, surnames and given-name characters, drugs, lab items, vaccines, departments).
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import polars as pl

__all__ = [
    "ICD9CM3_PATTERN",
    "ICD10_PATTERN",
    "ID_CHECK_CHARS",
    "ID_WEIGHTS",
    "Reference",
    "civil_from_days",
    "id15_numbers",
    "id18_numbers",
    "id_check_index",
    "load_reference",
    "names",
    "passport_numbers",
    "phones",
    "reference_dir",
    "stable_hash",
    "uscc",
]

ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
ID_CHECK_CHARS = "10X98765432"
ICD10_PATTERN = r"^[A-Z][0-9]{2}(\.[0-9x][0-9]{0,2}(x[0-9]{3})?)?$"
ICD9CM3_PATTERN = r"^[0-9]{2}(\.[0-9]{1,2}[0-9x]{0,2})?$"

# GB 32100-2015 unified social credit code.
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# GB 11714-1997 organisation code (characters 9-17 of the credit code).
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def reference_dir() -> Path:
    """``datasets/reference``, shipped inside the package."""
    from dq.io.resources import data_dir

    return data_dir() / "reference"


def stable_hash(*parts: object) -> int:
    """A 63-bit hash of the parts that is stable across processes (unlike ``hash``)."""
    text = "\x1f".join(str(p) for p in parts).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big") >> 1


def _read(name: str) -> list[dict[str, str]]:
    with (reference_dir() / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@dataclass(frozen=True)
class Reference:
    """The bundled value lists as numpy arrays (object arrays for text)."""

    icd10_code: np.ndarray
    icd10_name: np.ndarray
    icd10_p_out: np.ndarray  # sampling probabilities, outpatient
    icd10_p_in: np.ndarray  # sampling probabilities, inpatient
    icd9_code: np.ndarray
    icd9_name: np.ndarray
    icd9_p: np.ndarray
    area_code: np.ndarray  # all Nanjing codes incl. abolished ones (still inside old IDs)
    area_current: np.ndarray  # current district codes
    surname: np.ndarray
    surname_p: np.ndarray
    given_male: np.ndarray
    given_female: np.ndarray
    dept_code: np.ndarray
    dept_outpatient_only: np.ndarray  # bool
    drug_code: np.ndarray
    drug_name: np.ndarray
    drug_price: np.ndarray
    drug_max_qty: np.ndarray
    lab_panel_items: dict[str, np.ndarray]  # panel -> row indices into the lab_* arrays
    lab_code: np.ndarray
    lab_name: np.ndarray
    lab_unit: np.ndarray
    lab_low: np.ndarray
    lab_high: np.ndarray
    lab_qual: np.ndarray  # bool: qualitative (阴性/阳性) item
    vaccine_code: np.ndarray
    vaccine_name: np.ndarray
    vaccine_doses: np.ndarray
    vaccine_min_age: np.ndarray  # months


def _p(weights: list[float]) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    return w / w.sum()


@cache
def load_reference() -> Reference:
    """Load (once) the value lists from ``datasets/reference``."""
    icd = _read("icd10.csv")
    ops = _read("icd9cm3.csv")
    areas = _read("areas.csv")
    sur = _read("surnames.csv")
    given = _read("given_chars.csv")
    depts = _read("departments.csv")
    drugs = _read("drugs.csv")
    labs = _read("lab_items.csv")
    vacc = _read("vaccines.csv")
    panels: dict[str, list[int]] = {}
    for i, row in enumerate(labs):
        panels.setdefault(row["panel"], []).append(i)

    def arr(rows: list[dict[str, str]], key: str) -> np.ndarray:
        return np.array([r[key] for r in rows], dtype=object)

    def num(rows: list[dict[str, str]], key: str) -> np.ndarray:
        return np.array([float(r[key]) if r[key] else np.nan for r in rows])

    return Reference(
        icd10_code=arr(icd, "code"),
        icd10_name=arr(icd, "name"),
        icd10_p_out=_p([float(r["outpatient_weight"]) for r in icd]),
        icd10_p_in=_p([float(r["inpatient_weight"]) for r in icd]),
        icd9_code=arr(ops, "code"),
        icd9_name=arr(ops, "name"),
        icd9_p=_p([float(r["weight"]) for r in ops]),
        area_code=arr(areas, "code"),
        area_current=np.array([r["code"] for r in areas if r["current"] == "1"], dtype=object),
        surname=arr(sur, "surname"),
        surname_p=_p([float(r["weight"]) for r in sur]),
        given_male=np.array([r["char"] for r in given if r["sex"] in ("0", "1")], dtype=object),
        given_female=np.array([r["char"] for r in given if r["sex"] in ("0", "2")], dtype=object),
        dept_code=arr(depts, "code"),
        dept_outpatient_only=np.array([r["setting"] == "o" for r in depts]),
        drug_code=arr(drugs, "code"),
        drug_name=arr(drugs, "name"),
        drug_price=num(drugs, "unit_price"),
        drug_max_qty=num(drugs, "max_quantity").astype(np.int64),
        lab_panel_items={k: np.array(v, dtype=np.int64) for k, v in panels.items()},
        lab_code=arr(labs, "code"),
        lab_name=arr(labs, "name"),
        lab_unit=np.array([r["unit"] or None for r in labs], dtype=object),
        lab_low=num(labs, "low"),
        lab_high=num(labs, "high"),
        lab_qual=np.array([r["kind"] == "qual" for r in labs]),
        vaccine_code=arr(vacc, "code"),
        vaccine_name=arr(vacc, "name"),
        vaccine_doses=num(vacc, "doses").astype(np.int64),
        vaccine_min_age=num(vacc, "min_age_months").astype(np.int64),
    )


# ----------------------------------------------------------------------------- dates


def civil_from_days(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(year, month, day) int64 arrays from days since 1970-01-01."""
    d = np.asarray(days, dtype="datetime64[D]")
    y = d.astype("datetime64[Y]").astype(np.int64) + 1970
    m = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dd = (d - d.astype("datetime64[M]")).astype(np.int64) + 1
    return y, m, dd


# ----------------------------------------------------------------------------- identity numbers


def id_check_index(body17: np.ndarray) -> np.ndarray:
    """Index into ``ID_CHECK_CHARS`` for 17-digit bodies given as int64."""
    rest = np.asarray(body17, dtype=np.int64).copy()
    total = np.zeros(rest.shape, dtype=np.int64)
    for w in ID_WEIGHTS[::-1]:
        total += (rest % 10) * w
        rest //= 10
    return total % 11


def _check_chars(idx: np.ndarray) -> pl.Series:
    return pl.Series(np.asarray(idx, dtype=np.int64)).replace_strict(
        list(range(11)), list(ID_CHECK_CHARS), return_dtype=pl.String
    )


def id18_numbers(
    area: np.ndarray,
    year: np.ndarray,
    month: np.ndarray,
    day: np.ndarray,
    seq3: np.ndarray,
    check_shift: np.ndarray | None = None,
) -> pl.Series:
    """GB 11643-1999 numbers; ``seq3`` is the 3-digit order code (its last digit odd = male).

    ``check_shift`` (1..10) replaces the check character by a wrong one (a checksum defect).
    """
    body = (
        np.asarray(area, dtype=np.int64) * 10**11
        + np.asarray(year, dtype=np.int64) * 10**7
        + np.asarray(month, dtype=np.int64) * 10**5
        + np.asarray(day, dtype=np.int64) * 10**3
        + np.asarray(seq3, dtype=np.int64)
    )
    idx = id_check_index(body)
    if check_shift is not None:
        idx = (idx + np.asarray(check_shift, dtype=np.int64)) % 11
    return pl.select(pl.concat_str([pl.Series(body).cast(pl.String), _check_chars(idx)])).to_series()


def id15_numbers(
    area: np.ndarray, year: np.ndarray, month: np.ndarray, day: np.ndarray, seq3: np.ndarray
) -> pl.Series:
    """Legacy GB 11643-1989 15-digit numbers (YYMMDD, no check character)."""
    body = (
        np.asarray(area, dtype=np.int64) * 10**9
        + (np.asarray(year, dtype=np.int64) % 100) * 10**7
        + np.asarray(month, dtype=np.int64) * 10**5
        + np.asarray(day, dtype=np.int64) * 10**3
        + np.asarray(seq3, dtype=np.int64)
    )
    return pl.Series(body).cast(pl.String)


def sex_seq3(rng: np.random.Generator, sex: np.ndarray) -> np.ndarray:
    """3-digit order codes whose last digit is odd for sex '1' and even otherwise."""
    n = len(sex)
    seq = rng.integers(0, 50, n) * 10 + rng.integers(0, 5, n) * 2  # even, 0..498
    return seq + (np.asarray(sex) == "1")


def passport_numbers(idx: np.ndarray, prefix: str = "E", salt: int = 0) -> pl.Series:
    """Document numbers like 'E12345678' (passports) or 'H12345678' (HK/Macau permits).

    Distinct indices give distinct numbers (an invertible affine map modulo 9·10^7).
    """
    body = 10_000_000 + (np.asarray(idx, dtype=np.int64) * 7919 + salt) % 90_000_000
    return prefix + pl.Series(body).cast(pl.String)


# ----------------------------------------------------------------------------- people


def names(rng: np.random.Generator, sex: np.ndarray, ref: Reference) -> pl.Series:
    """Chinese names: a weighted surname and one or two given characters matching the sex."""
    n = len(sex)
    male = np.asarray(sex) == "1"
    sur = ref.surname[rng.choice(len(ref.surname), n, p=ref.surname_p)]
    g1m = ref.given_male[rng.integers(0, len(ref.given_male), n)]
    g1f = ref.given_female[rng.integers(0, len(ref.given_female), n)]
    g2m = ref.given_male[rng.integers(0, len(ref.given_male), n)]
    g2f = ref.given_female[rng.integers(0, len(ref.given_female), n)]
    two = rng.random(n) < 0.7
    g1 = np.where(male, g1m, g1f)
    g2 = np.where(two, np.where(male, g2m, g2f), "")
    return pl.select(
        pl.concat_str(
            [pl.Series(sur, dtype=pl.String), pl.Series(g1, dtype=pl.String), pl.Series(g2, dtype=pl.String)]
        )
    ).to_series()


def phones(rng: np.random.Generator, n: int) -> pl.Series:
    """Mobile numbers: 1, a second digit 3-9, nine more digits."""
    second = rng.choice(np.array([3, 5, 7, 8, 9, 6, 4]), n, p=[0.3, 0.25, 0.08, 0.3, 0.03, 0.02, 0.02])
    num = 10**10 + second * 10**9 + rng.integers(0, 10**9, n)
    return pl.Series(num).cast(pl.String)


# ----------------------------------------------------------------------------- organisations


def _org_code(body8: str) -> str:
    vals = [int(c) if c.isdigit() else ord(c) - 55 for c in body8]
    c = 11 - sum(v * w for v, w in zip(vals, _ORG_WEIGHTS, strict=True)) % 11
    return body8 + ("X" if c == 10 else "0" if c == 11 else str(c))


def uscc(unit_id: str, area: str) -> str:
    """A deterministic fake unified social credit code with valid GB 11714 / GB 32100 checks.

    '12' = registered by the establishment-administration office, a public institution (事业单位).
    """
    h = stable_hash("uscc", unit_id)
    body8 = f"{4660_0000 + h % 10_000_000:08d}"
    code17 = "12" + area + _org_code(body8)
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(code17, _USCC_WEIGHTS, strict=True))
    return code17 + _USCC_CHARS[(31 - total % 31) % 31]
