"""The contacts file: validated against the unit registry, every problem listed with its line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dq.delivery.contacts import ContactsError, load_contacts, parse_addresses
from dq.errors import InputError

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str, name: str = "contacts.csv", encoding: str = "utf-8") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding=encoding)
    return p


def test_bundled_example_is_valid_and_uses_example_org():
    contacts = load_contacts(ROOT / "examples" / "contacts.csv")
    assert len(contacts) >= 3
    for c in contacts.by_unit.values():
        assert c.recipients and all(a.endswith(".example.org") for a in c.recipients)
        assert c.language in ("zh", "en")


def test_names_cc_languages_and_bom(tmp_path):
    text = (
        "unit_id,to,cc,language\n"
        'H001,"南京鼓楼医院质控科 <QC@H001.Example.org>; info@h001.example.org",it@h001.example.org,\n'
        "D01,xinxi@d01.example.org,,en\n"
    )
    contacts = load_contacts(write(tmp_path, "\ufeff" + text))
    h001 = contacts.get("H001")
    assert [a.display_name for a in h001.to] == ["南京鼓楼医院质控科", ""]
    assert h001.recipients == ("qc@h001.example.org", "info@h001.example.org", "it@h001.example.org")
    assert h001.language == "zh" and contacts.get("D01").language == "en"
    assert contacts.missing(["H001", "D01", "H002"]) == ["H002"]
    assert contacts.warnings == []


def test_every_problem_is_listed_with_its_line(tmp_path):
    text = (
        "unit_id,to,cc,language\n"
        "H001,qc@h001.example.org,,zh\n"  # fine
        "H999,qc@h999.example.org,,zh\n"  # unknown unit
        "H002,not-an-address,,zh\n"  # malformed
        "H003,,cc@h003.example.org,zh\n"  # no 'to'
        "H004,a@h004.example.org,,fr\n"  # language
        "H001,other@h001.example.org,,zh\n"  # twice
        'H005,"a@h005.example.org, b@h005.example.org",,zh\n'  # comma instead of ';'
        ",x@example.org,,zh\n"  # no unit
        "H006,a@h006.example.org\n"  # too few cells
    )
    with pytest.raises(ContactsError) as exc:
        load_contacts(write(tmp_path, text))
    err = exc.value
    assert isinstance(err, InputError)  # the CLI turns it into exit code 2
    text_of = "\n".join(err.problems)
    assert "line 3 (H999): unknown unit 'H999'" in text_of
    assert "line 4 (H002) to: malformed address 'not-an-address'" in text_of
    assert "line 5 (H003): no address in 'to'" in text_of
    assert "line 6 (H004): language 'fr'" in text_of
    assert "line 7 (H001): unit listed twice (first on line 2)" in text_of
    assert "line 8 (H005) to: malformed address" in text_of and "separate addresses with ';'" in text_of
    assert "line 9: empty unit_id" in text_of
    assert "line 10: 2 cells, expected 4" in text_of
    assert len(err.problems) == 8
    assert str(tmp_path / "contacts.csv") in str(err)


def test_header_injection_and_odd_addresses_are_refused():
    for bad in (
        "a@example.org\r\nBcc: everyone@example.org",
        "a@example.org\nX: y",
        '"quoted"@example.org',
        "a@[127.0.0.1]",
        "a@example",
        "a..b@example.org",
        "<a@example.org",
        "名字@example.org",
    ):
        addrs, problems = parse_addresses(bad)
        assert addrs == () and problems, bad


def test_shared_address_is_a_listed_warning(tmp_path):
    text = (
        "unit_id,to,cc,language\n"
        "H001,qc@district.example.org,,zh\n"
        "H002,x@h002.example.org,QC@district.example.org,zh\n"
    )
    contacts = load_contacts(write(tmp_path, text))
    assert contacts.warnings == ["qc@district.example.org receives the reports of 2 units (H001, H002)"]


def test_yaml_form(tmp_path):
    text = """
contacts:
  - unit_id: H001
    to: [质控科 <qc@h001.example.org>, it@h001.example.org]
    language: zh
  - unit_id: D01
    to: xinxi@d01.example.org
    cc: ""
"""
    contacts = load_contacts(write(tmp_path, text, "contacts.yaml"))
    assert contacts.get("H001").recipients == ("qc@h001.example.org", "it@h001.example.org")
    assert contacts.get("D01").language == "zh"
    with pytest.raises(ContactsError, match="unknown key"):
        load_contacts(
            write(tmp_path, "- {unit_id: H001, to: a@b.example.org, bcc: c@d.example.org}\n", "c.yaml")
        )
    with pytest.raises(ContactsError, match="not valid YAML"):
        load_contacts(write(tmp_path, "- {unit_id: [\n", "d.yaml"))
    with pytest.raises(ContactsError, match="not valid YAML"):  # the safe loader builds no objects
        load_contacts(write(tmp_path, "!!python/object:os.system {}\n", "e.yaml"))
    with pytest.raises(ContactsError, match="list of mappings"):
        load_contacts(write(tmp_path, "H001: a@h001.example.org\n", "f.yaml"))
    bomb = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
        f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n" for p, c in zip("abcdef", "bcdefg", strict=True)
    )
    with pytest.raises(ContactsError, match="aliases expand"):
        load_contacts(write(tmp_path, bomb, "g.yaml"))


def test_unreadable_files_are_input_errors(tmp_path):
    with pytest.raises(ContactsError, match="no such file"):
        load_contacts(tmp_path / "missing.csv")
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    with pytest.raises(ContactsError, match="not a regular file"):  # would block forever if read
        load_contacts(fifo)
    with pytest.raises(ContactsError, match="not UTF-8"):
        load_contacts(write(tmp_path, "unit_id,to\nH001,质控@example.org\n", encoding="gbk"))
    with pytest.raises(ContactsError, match="header must be"):
        load_contacts(write(tmp_path, "unit,email\nH001,a@example.org\n"))
    with pytest.raises(ContactsError, match="empty"):
        load_contacts(write(tmp_path, "\n\n"))
