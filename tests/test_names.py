"""Names from a submission: masked before they are shown (dq.io.masking.mask_text), confirmed before
they become a unit id (dq.batch.local.identify_units), bounded and unique as file names
(dq.io.outputs.safe_filename). The batch-wide check (nothing planted reaches any output) is in
tests/test_hostile_corpus.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import id18

from dq.batch.local import identify_units
from dq.errors import InputError
from dq.io.masking import mask_text, quote_text
from dq.io.outputs import safe_filename
from dq.io.registry import Registry
from dq.io.sources import read_manifest

ID = id18()
PHONE = "13812345678"
NAME = "欧阳秀英"


# ----------------------------------------------------------------------------- mask_text
@pytest.mark.parametrize(
    "text",
    [
        ID,
        f"H{ID}",  # next to letters: still an ID number
        f"{ID}x.csv",
        f"kind{NAME}{PHONE}",
        f"/srv/batch/2020-09/{ID}/manifest.yaml",
        "123456789012",  # any run of 11+ digits, valid ID or not
        "025-84561234",  # a landline
        NAME,
        f"{NAME[:2]} {NAME[2:]}",
    ],
)
def test_mask_text_hides_identifiers_and_names(text: str):
    masked = mask_text(text)
    for secret in (ID, PHONE, NAME, NAME[:2], NAME[2:], "123456789012", "84561234"):
        assert secret not in masked, (text, masked)
    assert mask_text(masked) == masked  # masked text stays as it is


def test_mask_text_keeps_plain_names_and_bounds_length():
    for plain in ("H001", "outpatient_visit.csv", "kind", "2020-09", "Sheet1"):
        assert mask_text(plain) == plain
    assert mask_text("a\u202eb\nc\x00d") == "a?b?c?d"  # direction overrides, line breaks, NUL
    assert mask_text("x" * 500, 40) == "x" * 40 + "…"
    assert quote_text(NAME) == f"'{NAME[0]}***'"


# ----------------------------------------------------------------------------- manifest messages
def _manifest(tmp_path: Path, **values) -> Path:
    m = {"unit_id": "H001", "kind": "hospital", "period": "2020-09", **values}
    p = tmp_path / "manifest.yaml"
    p.write_text(yaml.safe_dump(m, allow_unicode=True), encoding="utf-8")
    return p


@pytest.mark.parametrize(
    "values",
    [
        {"kind": ID},
        {"kind": NAME},
        {"kind": PHONE},
        {"collection_mode": NAME},
        {"collection_mode": ID},
        {ID: 1},  # an unknown key
        {NAME: "x"},
        {"unit_id": NAME},
        {"unit_id": f"{NAME}{ID}"},
        {"org_code": f"{PHONE}/x"},
        {"period": NAME},
        {"seed": NAME},
    ],
)
def test_manifest_errors_quote_no_identifier(tmp_path: Path, values: dict):
    with pytest.raises(InputError) as info:
        read_manifest(_manifest(tmp_path, **values))
    text = str(info.value)
    for secret in (ID, PHONE, NAME, NAME[1:]):
        assert secret not in text, text


# ----------------------------------------------------------------------------- unit identity
def _unit(base: Path, folder: str, **manifest) -> Path:
    d = base / folder
    d.mkdir(parents=True)
    m = {"kind": "hospital", "period": "2020-09", **manifest}
    (d / "manifest.yaml").write_text(yaml.safe_dump(m, allow_unicode=True), encoding="utf-8")
    return d


def test_a_folder_name_is_an_id_only_when_the_registry_has_it(tmp_path: Path):
    registered = _unit(tmp_path, "H001")  # no unit_id: the registry confirms the folder's name
    stranger = _unit(tmp_path, "XYZ")  # no unit_id, not registered: refused
    stated = _unit(tmp_path, "any-folder", unit_id="Q77")  # the manifest states it
    units = identify_units([registered, stranger, stated], Registry.load())
    assert units[registered]["unit_id"] == "H001" and not units[registered]["error"]
    assert units[stated]["unit_id"] == "Q77" and not units[stated]["error"]
    assert units[stranger]["unit_id"] == "folder:XYZ"
    assert "no unit_id" in units[stranger]["error"] and "not a registered unit" in units[stranger]["error"]


def test_identifiers_as_folder_names_and_ids_are_refused_masked_and_unique(tmp_path: Path):
    other = id18(birth="19851231")  # another ID number of the same area
    folders = [
        _unit(tmp_path, ID),  # no unit_id: the folder's name would be the id
        _unit(tmp_path, f"{ID}-copy"),
        _unit(tmp_path, NAME),
        _unit(tmp_path, "ok-folder", unit_id=ID),  # an ID number as unit_id
        _unit(tmp_path, "ok-phone", unit_id=int(PHONE)),  # a phone number, as a YAML integer
        _unit(tmp_path, f"{ID[:6]}19991231{ID[-4:]}"),  # masks exactly like ID
        _unit(tmp_path, other),
    ]
    units = identify_units(folders, Registry.load())
    ids = [u["unit_id"] for u in units.values()]
    assert len(set(ids)) == len(ids), ids  # two ID numbers that mask alike keep two ids
    for u in units.values():
        assert u["error"] and u["unit_id"].startswith("folder:"), u
        for secret in (ID, other, PHONE, NAME, NAME[1:], f"{ID[:6]}19991231{ID[-4:]}"):
            assert secret not in u["unit_id"] and secret not in u["error"], u


# ----------------------------------------------------------------------------- file names
def test_file_names_are_bounded_unique_and_masked():
    plain = ["H001", "P01-H001", "2020-09", "D01", "a.b_c-d"]
    for name in plain:
        assert safe_filename(name) == name
    hostile = [
        "H/011", "H_011~x", "H..9", "../../etc/passwd", ".hidden", "-rf", "x" * 300, "x" * 301,
        f"folder:{ID}", f"folder:{ID[:-1]}0", NAME, f"{NAME}1", "con", "a\nb", "a\u202eb", "",
    ]  # fmt: skip
    names = [safe_filename(t) for t in hostile]
    assert len(set(names)) == len(names), names
    for text, name in zip(hostile, names, strict=True):
        assert 0 < len(name) <= 64, (text, name)
        assert all(c.isascii() and (c.isalnum() or c in "-_.~") for c in name), name
        assert not name.startswith((".", "-")) and ".." not in name, name
        for secret in (ID, NAME, ID[6:14]):
            assert secret not in name, name
    assert safe_filename("H/011") != safe_filename("H_011")
