"""Masking of patient identifiers (the catalogue's ``pii`` columns) in samples and reports.

    id     320106199001011234 → 320106********1234   (first 6, last 4 kept)
    name   王小明 → 王**                                 (first character kept)
    phone  13812345678 → 138****5678                    (first 3, last 4 kept)
    patient P000000253 → P0*****253                     (a patient number in the rows to fix:
                                                         first 2, last 3 kept)

Anything else tagged pii is replaced by asterisks of the same length. A value that looks like a
resident ID number or a mobile/landline number is masked in any column, tagged or not, and inside
nested values; a sample value longer than 200 characters is cut. Messages from libraries pass
through :func:`describe_error`, which keeps the error's kind and names and drops cell values.

Names that come from a submission (manifest keys and values, unit ids, file, folder and sheet
names, reference metric names) pass through :func:`mask_text` (or :func:`quote_text`) before
they reach a message, the store, a report or a log: the same rules, applied more strictly, as
a name has no column to say what it holds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dq.io.catalogue import Catalogue

__all__ = [
    "MAX_SAMPLE_CHARS",
    "clean_value",
    "describe_error",
    "mask_identifiers",
    "mask_row",
    "mask_sample",
    "mask_samples",
    "mask_text",
    "mask_value",
    "quote_text",
]


def mask_value(value: Any, how: str) -> Any:
    if value is None:
        return None
    s = str(value)
    if not s.strip():
        return s
    if how == "id":
        return s[:6] + "*" * max(len(s) - 10, 0) + s[-4:] if len(s) > 10 else "*" * len(s)
    if how == "name":
        return s[0] + "*" * (len(s) - 1) if len(s) > 1 else "*"
    if how == "phone":
        return s[:3] + "*" * max(len(s) - 7, 0) + s[-4:] if len(s) > 7 else "*" * len(s)
    if how == "patient":  # a patient number: enough kept to check a row against, not to find anyone
        if len(s) >= 8:
            return s[:2] + "*" * (len(s) - 5) + s[-3:]
        return s[0] + "*" * (len(s) - 2) + s[-1] if len(s) >= 4 else "*" * len(s)
    return "*" * len(s)


def mask_row(row: dict[str, Any], pii: dict[str, str]) -> dict[str, Any]:
    """Mask every pii column of a sample row (``<col>__raw`` companions too)."""
    out = {}
    for k, v in row.items():
        base = k.removesuffix("__raw")
        out[k] = mask_value(v, pii[base]) if base in pii else v
    return out


_PII_CACHE: list[tuple[Catalogue, tuple[dict[str, dict[str, str]], dict[str, str]]]] = []


def pii_maps(cat: Catalogue) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """The pii tags by table and by column name; computed once per (immutable) catalogue, as
    every sample row and row to fix is masked with them."""
    for known, maps in _PII_CACHE:
        if known is cat:
            return maps
    maps = _build_pii_maps(cat)
    _PII_CACHE[:] = [*_PII_CACHE[-3:], (cat, maps)]
    return maps


def _build_pii_maps(cat: Catalogue) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    per_table = {name: spec.pii for name, spec in cat.tables.items()}
    anywhere: dict[str, str] = {}
    for pii in per_table.values():
        for col, how in pii.items():
            anywhere.setdefault(col, how)
    return per_table, anywhere


def mask_sample(row: dict[str, Any], table: str, cat: Catalogue) -> dict[str, Any]:
    """Mask every pii value of a sample row of ``table`` (idempotent on masked values).

    Masked: the table's pii columns and their ``__raw`` companions, looked-up columns named
    ``<table>__<column>`` with the pii tag of the table they come from, and any column whose
    name is a pii column elsewhere in the catalogue. The engine masks samples with it before they
    are stored; the reports apply it once more, so nothing unmasked can reach a page.
    """
    return mask_samples([row], table, cat)[0]


def mask_samples(rows: Iterable[dict[str, Any]], table: str, cat: Catalogue) -> list[dict[str, Any]]:
    """:func:`mask_sample` of each row (each column's pii tag is looked up once for all rows)."""
    per_table, anywhere = pii_maps(cat)
    own = per_table.get(table, {})
    tags: dict[str, str | None] = {}

    def tag(key: str) -> str | None:
        base = key.removesuffix("__raw")
        how = own.get(base)
        if how is None and "__" in base:
            other, col = base.split("__", 1)
            how = per_table.get(other, {}).get(col) or anywhere.get(col)
        return how or anywhere.get(base)

    masked = []
    for row in rows:
        out: dict[str, Any] = {}
        for key, value in row.items():
            how = tags[key] if key in tags else tags.setdefault(key, tag(key))
            if how and isinstance(value, dict | list | tuple):
                value = _mask_all(value, how)
            elif how:
                value = mask_value(value, how)
            out[key] = clean_value(value)
        masked.append(out)
    return masked


def _mask_all(value: Any, how: str) -> Any:
    """Every leaf of a nested pii value masked (a struct or list in a pii column)."""
    if isinstance(value, dict):
        return {k: _mask_all(v, how) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_all(v, how) for v in value]
    return mask_value(value, how)


# ----------------------------------------------------------------------------- untagged identifiers
# A resident ID number (GB 11643: 18 characters, or the old 15 digits) and a mainland mobile
# number look the same wherever they are: they are masked in any sample value and any message,
# whether or not the column is tagged pii.
_ID18 = r"[1-9]\d{16}[\dXx]"
_ID15 = r"[1-9]\d{7}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}"
_MOBILE = r"(?:\+?86[- ]?)?1[3-9]\d{9}"
_LANDLINE = r"0\d{2,3}-\d{7,8}"
_IDENTIFIER = re.compile(
    rf"(?<![\dA-Za-z])(?:(?P<id>{_ID18}|{_ID15})|(?P<phone>{_MOBILE}|{_LANDLINE}))(?![\dA-Za-z])"
)
#: Longest text kept of one sample value (JSON, store and HTML alike); the rest becomes "…".
MAX_SAMPLE_CHARS = 200


# Every form above holds a run of at least 7 digits: text without one has nothing to mask.
_SEVEN_DIGITS = re.compile(r"\d{7}")


def mask_identifiers(text: str) -> str:
    """``text`` with every resident ID number and phone number in it masked."""
    if not text or not _SEVEN_DIGITS.search(text):
        return text
    return _IDENTIFIER.sub(lambda m: mask_value(m.group(0), "id" if m.group("id") else "phone"), text)


def clean_value(value: Any, max_chars: int = MAX_SAMPLE_CHARS) -> Any:
    """A sample value with identifiers masked wherever they are (nested values too) and long
    text cut to ``max_chars``."""
    if isinstance(value, str):
        value = mask_identifiers(value)
        return value if len(value) <= max_chars else value[:max_chars] + "…"
    if isinstance(value, int) and not isinstance(value, bool) and value > 10**9:
        masked = mask_identifiers(str(value))
        return value if masked == str(value) else masked
    if isinstance(value, dict):
        return {k: clean_value(v, max_chars) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_value(v, max_chars) for v in value]
    return value


_CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef\U00020000-\U0003ffff]+")

# ----------------------------------------------------------------------------- names from a submission
# In a name an identifier may touch letters (H320106199001011234, 王小明13812345678), so only
# digits bound it here; and any run of 11 or more digits is masked, valid ID number or not.
_DIGITS_IN_NAMES = re.compile(r"(?<!\d)(?:\d{11,}[Xx]?|0\d{2,3}-\d{7,8})(?!\d)")
# Control characters, and invisible or direction-changing ones that could disguise a name.
_UNSHOWN = re.compile(r"[\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")
#: Longest name kept by :func:`mask_text` when not told.
MAX_NAME_CHARS = 200


def mask_text(text: Any, max_chars: int = MAX_NAME_CHARS) -> str:
    """A text that came from a submission (a manifest key or value, a unit id, a file, folder or
    sheet name, a reference metric) made fit for a message, the store, a report or a log:

    * ID and phone numbers masked as in samples (``320106********1234``, ``138****5678``), and
      so is any run of 11 or more digits, even next to letters;
    * every run of two or more Chinese (CJK) characters masked as a name (``王小明`` →
      ``王**``): a name in a file name cannot be told from a patient's;
    * control, invisible and direction-changing characters shown as ``?``;
    * cut to ``max_chars`` characters (then "…").

    Idempotent: masked text stays as it is.
    """
    s = _UNSHOWN.sub("?", "" if text is None else str(text))
    if any(c.isdigit() for c in s):
        s = _DIGITS_IN_NAMES.sub(
            lambda m: mask_value(m.group(0), "id" if len(m.group(0)) >= 15 else "phone"), s
        )
        s = mask_identifiers(s)
    s = _CJK.sub(lambda m: m.group(0) if len(m.group(0)) == 1 else mask_value(m.group(0), "name"), s)
    return s if len(s) <= max_chars else s[:max_chars] + "…"


def quote_text(text: Any, max_chars: int = 40) -> str:
    """:func:`mask_text` of ``text`` in quotes, to name a value from a submission in a message."""
    return f"'{mask_text(text, max_chars)}'"


_QUOTED = re.compile(r"""(['"`])(.*?)\1""")
_VALUES_FROM = re.compile(
    r"(?i)(\bfor \d+ out of \d+ values?\b|\bvalues?\s*[:=]|\bgot\s*[:=]|\bfound\s*[:=]|\bsample\b|"
    r"\bin row\b|\brow \d+\s*:|\bcontaining\b)"
)


def describe_error(exc: BaseException, max_chars: int = 300) -> str:
    """A one-line description of a library's exception that carries no cell value.

    Polars and other libraries quote the offending values in their messages (``conversion from
    struct to str failed … for 3 out of 3 values: [{"P1","3201…","张三"}]``). Kept: the exception
    type, the message up to where values start, quoted names that are plain identifiers (column
    names, types). Dropped: quoted text that is not an identifier, CJK text, and identifiers
    (ID and phone numbers, and runs of 11 or more digits, as in names) anywhere.
    """
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    m = _VALUES_FROM.search(text)
    if m:
        text = text[: m.end()].rstrip(" :=") + " …"

    def quoted(q: re.Match[str]) -> str:
        inner = q.group(2)
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\[\]() ,]{0,80}", inner):
            return q.group(0)
        return f"{q.group(1)}…{q.group(1)}"

    text = _QUOTED.sub(quoted, text)
    text = _CJK.sub("…", text)
    text = _DIGITS_IN_NAMES.sub(lambda m: mask_value(m[0], "id" if len(m[0]) >= 15 else "phone"), text)
    text = mask_identifiers(text)
    if len(text) > max_chars:
        text = text[:max_chars] + "…"
    name = type(exc).__name__
    return f"{name}: {text}" if text else name
