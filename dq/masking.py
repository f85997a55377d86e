"""Masking of patient identifiers (the catalogue's ``pii`` columns) in samples and reports.

    id     320106199001011234 → 320106********1234   (first 6, last 4 kept)
    name   王小明 → 王**                                 (first character kept)
    phone  13812345678 → 138****5678                    (first 3, last 4 kept)

Anything else tagged pii is replaced by asterisks of the same length.
"""

from __future__ import annotations

from typing import Any

__all__ = ["mask_row", "mask_value"]


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
