"""Masking of the catalogue's pii columns (id, name, phone) in samples and reports."""

from __future__ import annotations

import pytest

from dq.io.masking import mask_row, mask_value


@pytest.mark.parametrize(
    ("value", "how", "masked"),
    [
        ("320106199001011234", "id", "320106********1234"),
        ("32010619900101123X", "id", "320106********123X"),
        ("320106900101123", "id", "320106*****1123"),
        ("E12345678", "id", "*********"),  # 10 characters or fewer: nothing kept
        ("王小明", "name", "王**"),
        ("欧阳小明", "name", "欧***"),
        ("王五", "name", "王*"),
        ("王", "name", "*"),  # a one-character value is not shown
        ("13812345678", "phone", "138****5678"),
        ("025-83123456", "phone", "025*****3456"),
        ("1234567", "phone", "*******"),
        ("secret", "other", "******"),
        (None, "id", None),
        ("", "name", ""),
        ("  ", "phone", "  "),
        (320106199001011234, "id", "320106********1234"),  # numbers are masked as text
    ],
)
def test_mask_value(value, how: str, masked) -> None:
    assert mask_value(value, how) == masked


def test_mask_value_keeps_the_length_of_ids_and_phones() -> None:
    for value, how in [("320106199001011234", "id"), ("13812345678", "phone"), ("王小明", "name")]:
        assert len(mask_value(value, how)) == len(value)


def test_mask_row_masks_pii_columns_and_their_raw_text() -> None:
    pii = {"id_no": "id", "name": "name", "phone": "phone"}
    row = {
        "patient_id": "p1",
        "id_no": "320106199001011234",
        "id_no__raw": "320106199001011234",
        "name": "王小明",
        "phone": "13812345678",
        "phone__raw": "13812345678",
        "birth_date": "1990-01-01",
    }
    assert mask_row(row, pii) == {
        "patient_id": "p1",
        "id_no": "320106********1234",
        "id_no__raw": "320106********1234",
        "name": "王**",
        "phone": "138****5678",
        "phone__raw": "138****5678",
        "birth_date": "1990-01-01",
    }
    assert list(mask_row(row, pii)) == list(row)  # column order kept
    assert row["name"] == "王小明"  # the input row is not modified


def test_mask_row_without_pii_is_identity() -> None:
    row = {"a": "王小明", "b": None}
    assert mask_row(row, {}) == row
