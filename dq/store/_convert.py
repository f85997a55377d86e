"""Reading a stored column as the type its folder's schema wants: which conversions are safe,
and converting every value or saying why not (types and counts, never a value). Used by
:func:`dq.store.history.conform`, the one reading path of every folder of the store."""

from __future__ import annotations

from typing import Any

import polars as pl

__all__ = ["castable", "convert", "type_name"]


def type_name(dtype: Any) -> str:
    """A column type in words (never a struct's field names: they come from the file)."""
    if is_text(dtype):
        return "text"
    if dtype.is_integer() or dtype.is_numeric():
        plain = "whole numbers" if dtype.is_integer() else "numbers"
        return plain if dtype in (pl.Int64, pl.Float64) else f"{plain} ({dtype})"
    if isinstance(dtype, pl.Datetime):
        return "timestamps"
    if dtype == pl.Date:
        return "dates"
    if dtype == pl.Boolean:
        return "true/false values"
    if dtype == pl.Null:
        return "nulls"
    return f"{dtype.base_type().__name__.lower()} values"


def is_text(dtype: Any) -> bool:
    return (
        dtype == pl.String
        or dtype in (pl.Categorical, pl.Enum)
        or isinstance(dtype, pl.Categorical | pl.Enum)
    )


def castable(have: Any, want: Any) -> bool:
    """True when a column of type ``have`` may be read as ``want`` (each value still has to convert)."""
    if have == want or have == pl.Null:
        return True
    text = is_text(have)
    plain = have.is_numeric() or have.is_temporal() or have == pl.Boolean
    if want == pl.String:
        return text or plain
    if want.is_integer() or want.is_float():
        return text or have.is_numeric()
    if isinstance(want, pl.Datetime):
        return text or have == pl.Date or isinstance(have, pl.Datetime)
    return False


#: The ways a timestamp written as text is read (ISO 8601 with ``T`` or a space, with or without
#: a zone; a naive one is UTC), each value by the first that fits.
TIMESTAMP_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d",
)


def convert(s: pl.Series, want: Any) -> pl.Series | str:
    """``s`` as type ``want``, or why it cannot be: a safe conversion in which every value converts."""
    have = s.dtype
    if have == want:
        return s
    if not castable(have, want):
        return f"column {s.name} holds {type_name(have)}, not {type_name(want)}"
    if is_text(have):
        s = s.cast(pl.String)
        have = s.dtype
    if have == pl.Null:
        out = s.cast(want)
    elif want == pl.String:
        out = s.cast(pl.String)
    elif have == pl.String and isinstance(want, pl.Datetime):
        text = s.str.strip_chars()
        tries = [
            text.str.to_datetime(format=f, time_unit=want.time_unit, time_zone=want.time_zone, strict=False)
            for f in TIMESTAMP_FORMATS
        ]
        out = pl.select(pl.coalesce([pl.lit(x) for x in tries])).to_series()
    elif have == pl.String:
        out = s.str.strip_chars().cast(want, strict=False)
    elif isinstance(want, pl.Datetime):
        out = s.cast(pl.Datetime(want.time_unit)) if have == pl.Date else s.dt.cast_time_unit(want.time_unit)
        if want.time_zone is not None and getattr(out.dtype, "time_zone", None) is None:
            out = out.dt.replace_time_zone(want.time_zone)  # a naive timestamp is read as UTC
        elif want.time_zone is not None:
            out = out.dt.convert_time_zone(want.time_zone)
    elif want.is_integer() and have.is_float():
        v = pl.col(s.name)
        whole = v.is_finite() & (v == v.round(0))
        out = s.to_frame().select(pl.when(whole).then(v).cast(want, strict=False)).to_series()
    else:
        out = s.cast(want, strict=False)
    lost = out.null_count() - s.null_count()
    if lost > 0:
        kinds = f"from {type_name(have)} to {type_name(want)}"
        return f"column {s.name}: {lost} of {s.len()} values do not convert {kinds}"
    return out.alias(s.name)
