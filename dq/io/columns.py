"""Shared column conventions, in one place for the readers, the checks and the GX
export:

* :func:`raw_column`: the name of the column keeping the uploaded text of a parsed value;
* :data:`ROW_INDEX`: the row number the readers add to every table (a file's record number from
  0, a database table's row id), so that a failing row can be found again in what was uploaded;
  like every ``__dq`` column it is the engine's own, never a column of the table
  (:func:`is_internal`);
* :func:`parse_temporal`: text → date or datetime (every form the upload specification allows,
  ISO 8601 with ``Z`` or an offset converted to the platform's local time, Asia/Shanghai);
"""

from __future__ import annotations

from functools import partial

import polars as pl

__all__ = [
    "LOCAL_UTC_OFFSET_MINUTES",
    "LOCATOR",
    "RAW_SUFFIX",
    "ROW_INDEX",
    "is_internal",
    "parse_temporal",
    "raw_column",
]

RAW_SUFFIX = "__raw"
#: The platform's local time, Asia/Shanghai: UTC+08:00 all year (no daylight saving since 1991).
LOCAL_UTC_OFFSET_MINUTES = 8 * 60


#: The row number a reader adds to every table (:func:`dq.io.sources.read_table`, a database's
#: row id): hidden from rules, column checks and every export, carried into the rows to fix.
ROW_INDEX = "__dq_row"
#: The key of a row to fix saying where the row is in what was uploaded (a file and line, a
#: sheet and row, a database row id: :func:`dq.io.sources.row_locators`).
LOCATOR = "__dq_at"
INTERNAL_PREFIX = "__dq"


def is_internal(col: str) -> bool:
    """Whether a frame's column is dq's own (the row number, the engine's working columns),
    not a column of the uploaded table."""
    return col.startswith(INTERNAL_PREFIX)


def raw_column(col: str) -> str:
    """Name of the column holding the original text of a value the reader had to parse."""
    return f"{col}{RAW_SUFFIX}"


_TIME_TZ = r"\d{2}:?\d{2}(?::?\d{2}(?:\.\d+)?)?(Z|z|[+-]\d{2}(?::?\d{2})?)$"


def parse_temporal(text: pl.Expr, typ: str) -> pl.Expr:
    """Parse text into a date or datetime; null where it is not one.

    Accepted: ``YYYY-MM-DD``, ``YYYYMMDD``, ``YYYY-MM-DD HH:MM[:SS[.f]]`` (``T`` or a space),
    ``YYYYMMDDHHMMSS``, slashes as date separators; a datetime where a date is expected keeps its
    date part; an impossible date (Feb 30) or any other text stays null. An ISO 8601 datetime
    that ends in ``Z`` or an offset (``+08:00``, ``-0500``, ``+08``) is an instant: it is
    converted to the platform's local time (UTC+08:00, Asia/Shanghai), so
    ``2020-09-03T00:15:00Z`` is ``2020-09-03 08:15:00``; a date keeps the local day.

    A table's values nearly always share one form, so each column is parsed with the common
    fixed forms first (one fast strict format each, tried only on the values still unparsed) and
    only what remains goes through the general parser (:func:`_parse_any`), which accepts every
    form above. A fixed form gives the general parser's value wherever it parses (tested).
    """
    dtype = pl.Date if typ == "date" else pl.Datetime("us")
    return text.map_batches(partial(_parse_series, typ=typ), return_dtype=dtype, is_elementwise=True)


# The common forms: (length in bytes, the exact shape, strptime format), tried on the values
# still unparsed, the form of the table's first value first. Only a value of exactly that shape
# (ASCII digits where the format has digits: strptime alone would also take " 9" for "09") is
# parsed by the form's format; the rest go to the general parser.
_FAST_FORMS = {
    "datetime": (
        (14, r"^[0-9]{14}$", "%Y%m%d%H%M%S"),
        (19, r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$", "%Y-%m-%d %H:%M:%S"),
    ),
    "date": (
        (10, r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", "%Y-%m-%d"),
        (8, r"^[0-9]{8}$", "%Y%m%d"),
    ),
}


def _parse_series(values: pl.Series, typ: str) -> pl.Series:
    """:func:`parse_temporal` of one batch of values."""
    s = values.cast(pl.String)
    dtype = pl.Date if typ == "date" else pl.Datetime("us")
    out = pl.Series(s.name, [], dtype=dtype).extend_constant(None, len(s))
    todo = s.is_not_null()  # values not parsed yet
    lens = s.str.len_bytes()
    first = lens.drop_nulls().head(1).to_list()
    for length, shape, fmt in sorted(_FAST_FORMS[typ], key=lambda form: form[0] not in first):
        fits = todo & (lens == length)
        if not fits.any():
            continue
        fits = fits & s.str.contains(shape)
        k = fits.sum()
        if not k:
            continue
        if k == len(s):  # every value has this length: no copy
            out = _strptime(s, fmt, typ)
        else:
            where = fits.arg_true()
            got = _strptime(s.gather(where), fmt, typ)
            ok = got.is_not_null()
            out.scatter(where.filter(ok), got.filter(ok))
        todo = todo & out.is_null()  # a value that failed the fixed form: the general parser decides
    if todo.any():
        where = todo.arg_true()
        rest = pl.DataFrame({"v": s.gather(where)}).select(_parse_any(pl.col("v"), typ)).to_series()
        out.scatter(where, rest)
    return out.alias(s.name)


def _strptime(s: pl.Series, fmt: str, typ: str) -> pl.Series:
    if typ == "date":
        return s.str.to_date(fmt, strict=False)
    return s.str.to_datetime(fmt, strict=False, time_unit="us")


def _parse_any(text: pl.Expr, typ: str) -> pl.Expr:
    """Parse text into a date or datetime; null where it is not one.

    Separators (``- / : T`` and spaces) are dropped, so every accepted form becomes digits:
    14 (YYYYMMDDHHMMSS, optionally with fractional seconds), 12 (no seconds) or 8 (a date). One
    strict format then parses them all, about 3× faster than trying each format in turn; an
    impossible date (Feb 30) or any other text stays null.

    An ISO 8601 datetime that ends in ``Z`` or an offset (``+08:00``, ``-0500``, ``+08``) is an
    instant: it is converted to the platform's local time (UTC+08:00, Asia/Shanghai), so
    ``2020-09-03T00:15:00Z`` is ``2020-09-03 08:15:00``; a date keeps the local day.
    """
    s = text.cast(pl.String).str.strip_chars()
    # One regex finds an offset that follows a time (HH:MM…), never the "-03" of a date; it runs
    # only on values that can hold one (a Z, a +, or a - past the date), the rest are null to it.
    maybe = (
        s.str.slice(-1).is_in(["Z", "z"])
        | s.str.contains("+", literal=True)
        | s.str.slice(10).str.contains("-", literal=True)
    )
    tz = pl.when(maybe).then(s).str.extract(_TIME_TZ, 1)
    local = s.str.head(s.str.len_chars() - tz.str.len_chars().fill_null(0))
    digits = local.str.replace_all(r"[-/: T]", "")
    # Length of the digits before any fractional seconds.
    n = digits.str.find(".", literal=True).fill_null(digits.str.len_bytes())
    full = (
        pl.when(n == 14).then(digits).when(n == 12).then(digits + "00").when(n == 8).then(digits + "000000")
    )
    parsed = full.str.to_datetime("%Y%m%d%H%M%S%.f", strict=False, time_unit="us")
    # Minutes east of UTC of an explicit offset; the shift to local time is then local - offset.
    sign = pl.when(tz.str.starts_with("-")).then(-1).otherwise(1)
    hh = tz.str.slice(1, 2).cast(pl.Int64, strict=False)
    mm = tz.str.replace_all(":", "").str.slice(3, 2).cast(pl.Int64, strict=False).fill_null(0)
    offset = pl.when(tz.str.to_uppercase() == "Z").then(0).otherwise(sign * (hh * 60 + mm))
    shift = pl.when(tz.is_not_null() & (n >= 12)).then(LOCAL_UTC_OFFSET_MINUTES - offset).otherwise(0)
    parsed = parsed + pl.duration(minutes=shift)
    if typ == "date":
        # A datetime where a date is expected keeps its (local) date part.
        return pl.when(n.is_in([8, 12, 14])).then(parsed).cast(pl.Date)
    return parsed
