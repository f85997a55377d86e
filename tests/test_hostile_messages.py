"""No patient data in any message: library errors are redacted, identifiers masked anywhere."""

from __future__ import annotations

import polars as pl
import pytest
from conftest import gb11643

from dq.io.masking import clean_value, describe_error, mask_identifiers

ID = gb11643("32010219800101123")
PHONE = "13812345678"


def polars_error(values: list[str]) -> Exception:
    with pytest.raises(Exception) as info:
        pl.DataFrame({"patient_id": values}).select(pl.col("patient_id").cast(pl.Int64, strict=True))
    return info.value


def test_a_polars_conversion_error_keeps_column_and_types_and_drops_the_values():
    exc = polars_error([f"王小明 {ID} {PHONE}"])
    assert ID in str(exc) and "王小明" in str(exc)  # Polars does quote them
    msg = describe_error(exc)
    assert ID not in msg and PHONE not in msg and "王" not in msg
    assert "patient_id" in msg and "i64" in msg and type(exc).__name__ in msg
    assert "\n" not in msg


@pytest.mark.parametrize(
    "text",
    [
        f"value {ID} not allowed",
        f'found: "{PHONE}"',
        f"could not parse `李秀英` in row 3: {ID}",
        f"{ID[:17]}x is bad",
    ],
)
def test_describe_error_never_carries_an_identifier(text: str):
    msg = describe_error(ValueError(text))
    for secret in (ID, PHONE, "李秀英", ID[:17]):
        assert secret not in msg, msg


def test_identifiers_are_masked_in_any_text_and_nested_values():
    assert mask_identifiers(f"id {ID}, tel 025-84567890, {PHONE}") == (
        f"id {ID[:6]}********{ID[-4:]}, tel 025*****7890, 138****5678"
    )
    assert mask_identifiers("visit V12345678901234567890 and 2020-09-01") == (
        "visit V12345678901234567890 and 2020-09-01"
    )
    nested = clean_value({"a": [ID, {"b": PHONE}], "c": int(PHONE)})
    assert nested == {"a": [f"{ID[:6]}********{ID[-4:]}", {"b": "138****5678"}], "c": "138****5678"}


def test_long_sample_values_are_cut():
    assert clean_value("x" * 5000) == "x" * 200 + "…"


def test_not_future_judges_a_date_against_the_rows_upload_not_the_audit_clock():
    """Re-auditing a 2020 extract years later still flags a birth date of November 2020 in a row
    uploaded in September 2020; a date on the upload day itself is fine."""
    import datetime as dt

    frame = pl.DataFrame(
        {
            "a": ["ok", "late", "same-day", "no-upload"],
            "birth_date": [
                dt.date(1980, 1, 1),
                dt.date(2020, 11, 2),
                dt.date(2020, 9, 3),
                dt.date(2020, 11, 2),
            ],
            "upload_time": [dt.datetime(2020, 9, 3, 8)] * 3 + [None],
        }
    )
    import dq

    rule = {"id": "NF-1", "check": "not_future", "params": {"column": "birth_date"}}
    (res,) = dq.validate(frame, [rule])
    assert (res.evaluated, res.failed) == (4, 1)  # only "late": no-upload is judged by today's clock
    assert [s["birth_date"] for s in res.samples] == ["2020-11-02"]


def test_follow_symlinks_follows_links_inside_the_extract_only(tmp_path):
    """--follow-symlinks reads a link to a file inside the extract folder, never one outside."""
    from test_hostile_corpus import good

    from dq.errors import InputError
    from dq.io.sources import open_extract

    d = tmp_path / "H001"
    good(d, "H001")
    (d / "data").mkdir()
    (d / "outpatient_visit.parquet").rename(d / "data" / "visits.parquet")
    (d / "outpatient_visit.parquet").symlink_to(d / "data" / "visits.parquet")
    with pytest.raises(InputError, match="symbolic link; refused"):
        open_extract(d)
    assert open_extract(d, follow_symlinks=True).tables["outpatient_visit"].frame.collect().height == 12
    outside = tmp_path / "elsewhere.parquet"
    (d / "data" / "visits.parquet").rename(outside)
    (d / "outpatient_visit.parquet").unlink()
    (d / "outpatient_visit.parquet").symlink_to(outside)
    with pytest.raises(InputError, match="outside the extract folder"):
        open_extract(d, follow_symlinks=True)
