"""Contacts: who receives each unit's monthly report (``dq send --contacts FILE``).

The center keeps one file, CSV or YAML, with a row per unit::

    unit_id,to,cc,language
    H001,质控科 <qc@h001.example.org>,info@h001.example.org,zh
    D01,jane@d01.example.org; li.wei@d01.example.org,,en

``to`` and ``cc`` hold one or more addresses separated by ``;`` (``Name <addr>`` or a bare
``addr``); ``cc`` may be empty; ``language`` is ``zh`` (the default when empty) or ``en``. The
YAML form is a list of mappings with the same keys (``to``/``cc`` may be lists). Every row is
checked against the unit registry: an unknown unit, a malformed or missing address, a repeated
unit or an unknown language is an error, and :class:`ContactsError` lists every problem with its
line. An address shared by several units is allowed but listed in :attr:`Contacts.warnings`
(every one of those units' reports will reach it). Units without a contact are found with
:meth:`Contacts.missing`; ``dq send`` lists them as not sent.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.headerregistry import Address
from pathlib import Path
from typing import Any

import yaml

from dq.errors import InputError
from dq.io.registry import Registry, UnknownUnitError
from dq.io.yamlio import load_yaml, regular_file

__all__ = ["COLUMNS", "LANGUAGES", "Contact", "Contacts", "ContactsError", "load_contacts", "parse_addresses"]

COLUMNS = ("unit_id", "to", "cc", "language")
LANGUAGES = ("zh", "en")
MAX_BYTES = 5_000_000  # a contacts file is a few kilobytes; refuse anything absurd

# A deliberately plain address check: dot-atom local part, a domain of labels with at least one
# dot (or ``localhost``). Quoted local parts and IP literals are refused: they are not what a
# hospital's quality office uses, and they are where header tricks hide.
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDR = re.compile(rf"{_LOCAL}@(?:{_LABEL}(?:\.{_LABEL})+|localhost)")
_NAMED = re.compile(r"^(?P<name>[^<>]*)<(?P<addr>[^<>]*)>$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ContactsError(InputError):
    """The contacts file is invalid; ``problems`` lists every problem found."""

    def __init__(self, path: Path | str, problems: list[str]):
        self.path = Path(path)
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"{path}: {len(self.problems)} problem(s) in the contacts file "
            f"(columns {','.join(COLUMNS)}; addresses separated by ';'):\n{lines}"
        )


@dataclass(frozen=True)
class Contact:
    """The addresses of one unit. ``to`` is never empty."""

    unit_id: str
    to: tuple[Address, ...]
    cc: tuple[Address, ...] = ()
    language: str = "zh"
    line: int | None = None

    @property
    def recipients(self) -> tuple[str, ...]:
        """Every envelope recipient (to, then cc), bare addresses, each once."""
        return tuple(dict.fromkeys(a.addr_spec.lower() for a in (*self.to, *self.cc)))


@dataclass
class Contacts:
    """The validated contacts, by unit id."""

    by_unit: dict[str, Contact]
    warnings: list[str] = field(default_factory=list)
    path: Path | None = None

    def get(self, unit_id: str) -> Contact | None:
        return self.by_unit.get(unit_id)

    def missing(self, unit_ids: Iterable[str]) -> list[str]:
        """The units among ``unit_ids`` that have no contact."""
        return [u for u in unit_ids if u not in self.by_unit]

    def __len__(self) -> int:
        return len(self.by_unit)

    def __contains__(self, unit_id: object) -> bool:
        return unit_id in self.by_unit


def parse_addresses(text: str | Iterable[str] | None) -> tuple[tuple[Address, ...], list[str]]:
    """``'Name <a@x.org>; b@y.org'`` (or a list of such items) → (addresses, problems)."""
    if text is None:
        return (), []
    items = text.split(";") if isinstance(text, str) else [str(t) for t in text]
    out: list[Address] = []
    problems: list[str] = []
    for raw in items:
        item = raw.strip()
        if not item:
            continue
        if _CONTROL.search(item):
            problems.append(f"address {item!r} contains a control character (line break or tab)")
            continue
        name, addr = "", item
        m = _NAMED.match(item)
        if m:
            name, addr = m.group("name").strip().strip('"').strip(), m.group("addr").strip()
        if "," in addr or not _ADDR.fullmatch(addr):
            hint = " (separate addresses with ';')" if "," in item else ""
            problems.append(f"malformed address {item!r}{hint}")
            continue
        local, domain = addr.rsplit("@", 1)
        try:
            out.append(Address(display_name=name, username=local, domain=domain.lower()))
        except (ValueError, IndexError) as exc:  # the email package's own stricter checks
            problems.append(f"malformed address {item!r}: {exc}")
    return tuple(out), problems


def _read_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, row) pairs from a CSV or YAML contacts file."""
    try:
        size = regular_file(path, "contacts file").st_size  # a FIFO or a folder is refused
    except InputError as exc:
        raise ContactsError(path, [str(exc).removeprefix(f"{path}: ")]) from None
    try:
        if size > MAX_BYTES:
            raise ContactsError(path, [f"file is {size:,} bytes; a contacts file is expected to be small"])
        data = path.read_bytes()
    except OSError as exc:
        raise ContactsError(path, [f"cannot read: {exc.strerror or exc}"]) from exc
    try:
        text = data.decode("utf-8-sig")  # Excel writes a BOM
    except UnicodeDecodeError as exc:
        raise ContactsError(path, [f"not UTF-8 text (byte {exc.start}); save it as CSV UTF-8"]) from exc
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            doc = load_yaml(text, source=str(path))
        except (yaml.YAMLError, InputError) as exc:  # invalid, or aliases that expand too far
            why = str(exc).removeprefix(str(path)).lstrip(": ").splitlines()[0]
            raise ContactsError(path, [why if "YAML" in why else f"not valid YAML: {why}"]) from exc
        if isinstance(doc, Mapping) and "contacts" in doc:
            doc = doc["contacts"]
        if not isinstance(doc, list) or not all(isinstance(r, Mapping) for r in doc):
            raise ContactsError(path, ["expected a list of mappings with keys " + ", ".join(COLUMNS)])
        rows = []
        for i, r in enumerate(doc, start=1):
            unknown = sorted(str(k) for k in r if k not in COLUMNS)
            if unknown:
                raise ContactsError(path, [f"entry {i}: unknown key(s) {', '.join(unknown)}"])
            rows.append((i, dict(r)))
        return rows
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        lines = list(reader)
    except csv.Error as exc:
        raise ContactsError(path, [f"not valid CSV: {exc}"]) from exc
    lines = [(n, row) for n, row in enumerate(lines, start=1) if any(c.strip() for c in row)]
    if not lines:
        raise ContactsError(path, ["the file is empty"])
    header = tuple(c.strip().lower() for c in lines[0][1])
    missing = [c for c in ("unit_id", "to") if c not in header]
    unknown = [c for c in header if c not in COLUMNS]
    if missing or unknown:
        raise ContactsError(
            path, [f"header must be {','.join(COLUMNS)} (cc and language optional), got {','.join(header)}"]
        )
    rows = []
    for n, cells in lines[1:]:
        if len(cells) != len(header):
            rows.append((n, {"__cells__": len(cells)}))
            continue
        rows.append((n, dict(zip(header, cells, strict=True))))
    return rows


def load_contacts(path: str | Path, registry: Registry | None = None) -> Contacts:
    """Read and validate a contacts file against ``registry`` (default: the bundled registry)."""
    path = Path(path)
    registry = registry if registry is not None else Registry.load()
    rows = _read_rows(path)
    where_word = "entry" if path.suffix.lower() in (".yaml", ".yml") else "line"
    problems: list[str] = []
    by_unit: dict[str, Contact] = {}
    for n, row in rows:
        where = f"{where_word} {n}"
        if "__cells__" in row:
            problems.append(
                f"{where}: {row['__cells__']} cells, expected {len(COLUMNS)} (quote cells with commas)"
            )
            continue
        unit_id = str(row.get("unit_id") or "").strip()
        if not unit_id:
            problems.append(f"{where}: empty unit_id")
            continue
        where = f"{where} ({unit_id})"
        try:
            registry.get(unit_id)
        except UnknownUnitError as exc:
            closest = ", ".join(exc.candidates) or "none"
            problems.append(f"{where}: unknown unit {unit_id!r} (closest registry ids: {closest})")
            continue
        to, bad_to = parse_addresses(row.get("to"))
        cc, bad_cc = parse_addresses(row.get("cc"))
        problems += [f"{where} to: {p}" for p in bad_to] + [f"{where} cc: {p}" for p in bad_cc]
        if not to and not bad_to:
            problems.append(f"{where}: no address in 'to'")
        language = str(row.get("language") or "").strip().lower() or "zh"
        if language not in LANGUAGES:
            problems.append(f"{where}: language {language!r} is not one of {', '.join(LANGUAGES)}")
        if unit_id in by_unit:
            first = by_unit[unit_id].line
            problems.append(f"{where}: unit listed twice (first on {where_word} {first}); merge the rows")
            continue
        if bad_to or bad_cc or not to or language not in LANGUAGES:
            continue
        by_unit[unit_id] = Contact(unit_id, to, cc, language, n)
    if problems:
        raise ContactsError(path, problems)
    owners: dict[str, list[str]] = {}
    for c in by_unit.values():
        for addr in c.recipients:
            owners.setdefault(addr, []).append(c.unit_id)
    warnings = [
        f"{addr} receives the reports of {len(units)} units ({', '.join(units)})"
        for addr, units in owners.items()
        if len(units) > 1
    ]
    return Contacts(by_unit, warnings, path)
