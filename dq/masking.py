"""Masking of patient identifiers (the catalogue's ``pii`` columns) in samples and reports.

    id     320106199001011234 → 320106********1234   (first 6, last 4 kept)
    name   王小明 → 王**                                 (first character kept)
    phone  13812345678 → 138****5678                    (first 3, last 4 kept)

Anything else tagged pii is replaced by asterisks of the same length.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dq.catalogue import Catalogue

__all__ = ["mask_row", "mask_sample", "mask_value"]


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
    return "*" * len(s)


def mask_row(row: dict[str, Any], pii: dict[str, str]) -> dict[str, Any]:
    """Mask every pii column of a sample row (``<col>__raw`` companions too)."""
    out = {}
    for k, v in row.items():
        base = k.removesuffix("__raw")
        out[k] = mask_value(v, pii[base]) if base in pii else v
    return out


def _pii_maps(cat: Catalogue) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
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
    per_table, anywhere = _pii_maps(cat)
    own = per_table.get(table, {})
    out: dict[str, Any] = {}
    for key, value in row.items():
        base = key.removesuffix("__raw")
        how = own.get(base)
        if how is None and "__" in base:
            other, col = base.split("__", 1)
            how = per_table.get(other, {}).get(col) or anywhere.get(col)
        how = how or anywhere.get(base)
        out[key] = mask_value(value, how) if how else value
    return out
