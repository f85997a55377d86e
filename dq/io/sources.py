"""Reading site extracts: manifest, reference counts and table files into typed LazyFrames.

Readers keep every value visible. Where a column arrives as text but the catalogue wants a
number, date or datetime, the reader parses it into the typed column and keeps the original text
in ``<column>__raw``; a value that does not parse becomes null in the typed column and is counted
by the ``date_parse`` conformance rule, never dropped.

Accepted: Parquet; CSV in UTF-8 (with or without BOM) or GB18030/GBK (detected, or named with
``encoding``); Excel .xlsx (first sheet; data on another sheet is refused). Dates: ISO
(``2020-09-01``) or ``YYYYMMDD``; datetimes: ISO (``2020-09-01 08:30:00``, ``T`` separator,
fractional seconds, ``Z`` or an offset: converted to Asia/Shanghai) or ``YYYYMMDDHHMMSS``;
slashes also pass as separators. Refused, naming the file: ragged CSV rows, duplicate headers,
an uploaded ``<col>__raw``, nested (struct/list) values in a catalogue column, symbolic links
(unless ``follow_symlinks`` and inside the extract) and anything that is not a regular file.
NaN and ±inf in number columns, and numbers a column's type cannot hold (a uint64 above the
int64 range), become null in the typed column with their text kept in ``<column>__raw``:
counted by ``date_parse`` as values that could not be read (see docs/robustness.md).
"""

from __future__ import annotations

import atexit
import csv
import math
import re
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from dq.errors import InputError
from dq.io.catalogue import Catalogue, TableSpec, load_catalogue
from dq.io.columns import ROW_INDEX, parse_temporal, raw_column
from dq.io.isolation import note_reading
from dq.io.masking import describe_error, mask_text, quote_text
from dq.io.period import Period
from dq.io.yamlio import read_yaml, regular_file

__all__ = [
    "TABLE_SUFFIXES",
    "Extract",
    "TableSource",
    "check_xlsx",
    "coerce_frame",
    "detect_encoding",
    "open_extract",
    "parse_temporal",
    "read_table",
    "row_locators",
]

TABLE_SUFFIXES = (".parquet", ".csv", ".xlsx")
MANIFEST_KEYS = {
    "unit_id", "org_code", "name", "kind", "district", "period", "declared_tables",
    "collection_mode", "generated_by", "seed", "profile",
}  # fmt: skip


def _bad_byte(head: bytes, encoding: str, truncated: bool) -> int | None:
    """Offset of the first byte of ``head`` that does not decode, or None."""
    try:
        head.decode(encoding)
        return None
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the end of a truncated sample is fine.
        if truncated and exc.start >= len(head) - 3:
            return None
        return exc.start


def _head(path: Path, sample_bytes: int) -> tuple[bytes, bool]:
    with path.open("rb") as fh:
        head = fh.read(sample_bytes + 1)
    return head[:sample_bytes], len(head) > sample_bytes


def detect_encoding(path: Path, sample_bytes: int = 1 << 20) -> str:
    """'utf-8' (BOM or not) or 'gb18030'; GB18030 is a superset of GBK and GB2312."""
    head, truncated = _head(path, sample_bytes)
    if head.startswith(b"\xef\xbb\xbf") or _bad_byte(head, "utf-8", truncated) is None:
        return "utf-8"
    bad = _bad_byte(head, "gb18030", truncated)
    if bad is None:
        return "gb18030"
    raise InputError(f"{path}: neither UTF-8 nor GB18030 (byte {bad}); save it as UTF-8 or GB18030")


def _scan_csv(path: Path, encoding: str | None) -> pl.LazyFrame:
    enc = (encoding or detect_encoding(path)).lower().replace("_", "-")
    if enc in ("utf-8", "utf8", "utf-8-sig"):
        if encoding:  # named by the user: make sure it fits before Polars fails mid-audit
            head, truncated = _head(path, 1 << 20)
            bad = _bad_byte(head, "utf-8", truncated)
            if bad is not None:
                raise InputError(f"{path}: not valid UTF-8 at byte {bad} (GB18030? try --encoding gb18030)")
        return pl.scan_csv(path, infer_schema=False, encoding="utf8", empty_string_is_null=False)
    if enc not in ("gb18030", "gbk", "gb2312", "cp936"):
        raise InputError(f"{path}: unsupported encoding {encoding!r} (use utf-8 or gb18030)")
    # Polars reads UTF-8 only: transcode in chunks to a temporary UTF-8 file, then scan it.
    tmp = tempfile.NamedTemporaryFile(prefix="dq-", suffix=".csv", delete=False)  # noqa: SIM115
    atexit.register(Path(tmp.name).unlink, missing_ok=True)
    try:
        with path.open(encoding="gb18030", newline="") as src, tmp:
            while chunk := src.read(1 << 22):
                tmp.write(chunk.encode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not valid {enc} ({exc.reason})") from exc
    return pl.scan_csv(tmp.name, infer_schema=False, empty_string_is_null=False)


def _scan(path: Path, encoding: str | None) -> pl.LazyFrame:
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            lf = pl.scan_parquet(path)
            lf.collect_schema()
            return lf
        if suffix == ".csv":
            lf = _scan_csv(path, encoding)
            lf.collect_schema()
            _check_ragged(path, lf, encoding)
            return lf
        if suffix == ".xlsx":
            return _read_xlsx(path)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{path}: cannot read {suffix[1:]} file: {describe_error(exc)}") from exc
    raise InputError(f"{path}: unsupported file type {suffix!r} (use {', '.join(TABLE_SUFFIXES)})")


#: Caps checked on a workbook before the reader sees it (:func:`check_xlsx`). The reader
#: (calamine, through fastexcel) allocates every cell of a sheet's extent at once, about 32 bytes
#: each, so two cells A1 and XFD1048576 ask for 549 GB; a sheet wider than any table's export
#: or larger than these is refused. A bigger table is better sent as CSV or Parquet.
XLSX_MAX_ROWS = 1_048_576  # Excel's own last row
XLSX_MAX_COLUMNS = 1_024  # the widest table of the catalogue has fewer than 100
XLSX_MAX_CELLS = 32_000_000  # rows x columns of a sheet's extent: ~1 GB in the reader
XLSX_MAX_PART_BYTES = 1 << 30  # uncompressed size of one part (a sheet's XML, shared strings)
XLSX_MAX_BYTES = 2 << 30  # uncompressed size of the whole workbook
XLSX_MAX_RATIO = 100  # uncompressed / compressed size of a part larger than 1 MiB
XLSX_MAX_PARTS = 10_000
_XLSX_RATIO_FROM = 1 << 20
_CELL_REF = re.compile(r"\$?([A-Za-z]{1,8})\$?([0-9]{1,12})")


class _Refused(Exception):
    """A cap hit while scanning a sheet (stops the XML parser)."""


def _column_number(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def _xlsx_extent_check(path: Path, part: str, rows: int, cols: int, what: str) -> None:
    where = f"{path}: sheet {part}"
    if cols > XLSX_MAX_COLUMNS:
        raise InputError(f"{where}: {what} reaches column {cols:,}, more than the {XLSX_MAX_COLUMNS:,} "
                         "columns dq reads from a workbook; refused before reading")  # fmt: skip
    if rows > XLSX_MAX_ROWS:
        raise InputError(f"{where}: {what} reaches row {rows:,}, more than the {XLSX_MAX_ROWS:,} rows "
                         "of a sheet; refused before reading")  # fmt: skip
    if rows * cols > XLSX_MAX_CELLS:
        raise InputError(
            f"{where}: {what} spans {rows:,} rows x {cols:,} columns = {rows * cols:,} cells, more than "
            f"the {XLSX_MAX_CELLS:,} dq reads from a workbook (the reader allocates every cell of "
            "the extent); refused before reading: send the table as CSV or Parquet"
        )


def _xlsx_worksheets(z: zipfile.ZipFile) -> list[str]:
    """The parts holding worksheets: those the workbook's relationships name, and any under
    xl/worksheets/ (a reader may find either)."""
    names = set(z.namelist())
    found = {n for n in names if n.startswith("xl/worksheets/") and n.endswith(".xml")}
    rels = "xl/_rels/workbook.xml.rels"
    if rels in names and z.getinfo(rels).file_size <= 1 << 20:
        import xml.etree.ElementTree as ET

        try:
            root = ET.fromstring(z.read(rels))
        except (ET.ParseError, zipfile.BadZipFile, OSError, ValueError):
            root = None
        for rel in root.iter() if root is not None else ():
            target = rel.get("Target") or ""
            if (rel.get("Type") or "").endswith("/worksheet") and target:
                part = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
                part = str(Path(part)).replace("\\", "/")
                if part in names:
                    found.add(part)
    return sorted(found)


_CELL_AT = re.compile(rb'<c r="\$?([A-Za-z]{1,8})\$?([0-9]{1,12})"')
_PREFIXED = re.compile(rb"<[A-Za-z_][\w.-]*:(?:c|row|dimension)[\s/>]")
_DIMENSION = re.compile(rb'<dimension\s[^>]*?\bref="([^"]{0,64})"')


def _scan_sheet(path: Path, z: zipfile.ZipFile, part: str) -> int:
    """:func:`_scan_sheet_xml` made fast for the usual sheet, whose cells are written
    ``<c r="B12" …>``: the positions are found by a regular expression over a megabyte at a time
    (the tail of a chunk carried to the next), ~5 times faster than a callback per element. A
    sheet written otherwise (a cell without its position, prefixed element names) is scanned by
    the XML parser instead."""
    rows = cols = 0
    read = 0
    tail = b""
    with z.open(part) as fh:
        while chunk := fh.read(1 << 20):
            read += len(chunk)
            if read > XLSX_MAX_PART_BYTES:
                raise InputError(f"{path}: sheet {part} is more than {XLSX_MAX_PART_BYTES:,} bytes "
                                 "uncompressed; refused before reading")  # fmt: skip
            cut = chunk.rfind(b"<")
            text, tail = (tail + chunk[:cut], chunk[cut:]) if cut >= 0 else (tail + chunk, b"")
            if len(tail) > 1 << 16 or _PREFIXED.search(text):
                return _scan_sheet_xml(path, z, part)
            if read <= 1 << 20 and (dim := _DIMENSION.search(text)):
                _check_dimension(path, part, dim.group(1).decode("ascii", "replace"))
            cells = _CELL_AT.findall(text)
            if len(cells) != text.count(b"<c ") + text.count(b"<c>") + text.count(b"<c/>"):
                return _scan_sheet_xml(path, z, part)
            if cells:
                cols = max(cols, *(_column_number(x.decode()) for x in {c[0] for c in cells}))
                rows = max(rows, *map(int, {c[1] for c in cells}))
                _xlsx_extent_check(path, part, rows, cols, "its data")
    return read


def _check_dimension(path: Path, part: str, ref: str) -> None:
    corners = [_CELL_REF.fullmatch(c) for c in ref.split(":")]
    if ref and all(corners) and len(corners) <= 2:
        cols = [_column_number(m.group(1)) for m in corners if m]
        rows = [int(m.group(2)) for m in corners if m]
        _xlsx_extent_check(path, part, max(rows) - min(rows) + 1, max(cols) - min(cols) + 1,
                           f"its declared dimension {_short(ref)}")  # fmt: skip
    elif ref:
        raise _Refused(f"{path}: sheet {part}: a dimension that is not a range ({_short(ref)}); "
                       "refused before reading")  # fmt: skip


def _scan_sheet_xml(path: Path, z: zipfile.ZipFile, part: str) -> int:
    """Stream one sheet's XML with a bounded parser (expat, a chunk at a time, nothing kept):
    check the declared dimension and the real extent of its cells; the bytes read."""
    from xml.parsers import expat

    state = {"row": 0, "col": 0, "rows": 0, "cols": 0}

    def start(name: str, attrs: dict[str, str]) -> None:
        local = name.rsplit(":", 1)[-1]
        if local == "c":
            ref = attrs.get("r")
            m = _CELL_REF.fullmatch(ref) if ref else None
            if ref and not m:
                raise _Refused(f"{path}: sheet {part}: a cell reference that is not one ({_short(ref)}); "
                               "refused before reading")  # fmt: skip
            col = _column_number(m.group(1)) if m else state["col"] + 1
            row = int(m.group(2)) if m else state["row"]
            state["col"] = col
            if col > state["cols"] or row > state["rows"]:
                state["cols"], state["rows"] = max(col, state["cols"]), max(row, state["rows"])
                _xlsx_extent_check(path, part, state["rows"], state["cols"], "its data")
        elif local == "row":
            r = attrs.get("r")
            state["row"] = int(r) if r and r.isdigit() and len(r) <= 8 else state["row"] + 1
            state["col"] = 0
            if state["row"] > state["rows"]:
                state["rows"] = state["row"]
                _xlsx_extent_check(path, part, state["rows"], max(1, state["cols"]), "its data")
        elif local == "dimension":
            _check_dimension(path, part, attrs.get("ref") or "")

    parser = expat.ParserCreate()
    parser.StartElementHandler = start
    read = 0
    with z.open(part) as fh:
        while chunk := fh.read(1 << 20):
            read += len(chunk)
            if read > XLSX_MAX_PART_BYTES:
                raise InputError(f"{path}: sheet {part} is more than {XLSX_MAX_PART_BYTES:,} bytes "
                                 "uncompressed; refused before reading")  # fmt: skip
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    return read


def _short(text: str) -> str:
    return text[:20] + "…" if len(text) > 20 else text


def check_xlsx(path: str | Path) -> None:
    """Refuse a workbook the reader should not see, naming the file and the cap: more parts,
    bytes (uncompressed, per part and in all) or compression than :data:`XLSX_MAX_PARTS`,
    :data:`XLSX_MAX_PART_BYTES`, :data:`XLSX_MAX_BYTES`, :data:`XLSX_MAX_RATIO` (a zip bomb), or
    a sheet whose declared dimension or real extent (its cells' positions, streamed from the
    sheet's XML) is beyond :data:`XLSX_MAX_ROWS`, :data:`XLSX_MAX_COLUMNS` or
    :data:`XLSX_MAX_CELLS`. The zip directory is read first; every part is then decompressed
    once, a chunk at a time, the sheets through a streaming XML parser (nothing is kept)."""
    p = Path(path)
    try:
        with zipfile.ZipFile(p) as z:
            infos = z.infolist()
            if len(infos) > XLSX_MAX_PARTS:
                raise InputError(
                    f"{p}: {len(infos):,} parts in the workbook, more than {XLSX_MAX_PARTS:,}; refused"
                )
            total = 0
            for info in infos:
                total += info.file_size
                if info.file_size > XLSX_MAX_PART_BYTES:
                    raise InputError(
                        f"{p}: part {_short(info.filename)} is {info.file_size:,} bytes uncompressed, "
                        f"more than {XLSX_MAX_PART_BYTES:,}; refused before reading"
                    )
                if info.file_size > _XLSX_RATIO_FROM and info.file_size > XLSX_MAX_RATIO * max(
                    1, info.compress_size
                ):
                    raise InputError(
                        f"{p}: part {_short(info.filename)} expands "
                        f"{info.file_size / max(1, info.compress_size):,.0f} "
                        f"times ({info.compress_size:,} bytes to {info.file_size:,}), more than the "
                        f"{XLSX_MAX_RATIO} times of a workbook (a zip bomb?); refused before reading"
                    )
            if total > XLSX_MAX_BYTES:
                raise InputError(f"{p}: {total:,} bytes uncompressed, more than the {XLSX_MAX_BYTES:,} of a "
                                 "workbook dq reads; refused before reading")  # fmt: skip
            sheets = set(_xlsx_worksheets(z))
            for info in infos:
                if info.filename in sheets:
                    _scan_sheet(p, z, info.filename)
                elif not info.is_dir():
                    with z.open(info) as fh:  # decompressed once: a size that lies is a CRC error
                        while fh.read(1 << 20):
                            pass
    except _Refused as exc:
        raise InputError(str(exc)) from None
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        EOFError,
        NotImplementedError,
        ValueError,
        RuntimeError,
    ) as exc:
        raise InputError(f"{p}: cannot read xlsx file: {describe_error(exc)}") from None
    except Exception as exc:
        from xml.parsers.expat import ExpatError

        if isinstance(exc, ExpatError):
            raise InputError(
                f"{p}: a sheet of the workbook is not well-formed XML ({exc.code}); refused"
            ) from None
        raise


def _read_xlsx(path: Path) -> pl.LazyFrame:
    """The first sheet of a workbook; data on any other sheet is refused, never ignored.
    The workbook passes :func:`check_xlsx` first."""
    check_xlsx(path)
    sheets = pl.read_excel(
        path,
        engine="calamine",
        sheet_id=0,
        infer_schema_length=0,
        raise_if_empty=False,
        drop_empty_rows=False,
    )
    names = list(sheets)
    others = [n for n in names[1:] if sheets[n].height or sheets[n].width]
    if others:
        shown = ", ".join(f"{i + 2} ({mask_text(n, 31)})" for i, n in enumerate(names[1:]) if n in others)
        first = "is empty" if not sheets[names[0]].height else "is read"
        raise InputError(
            f"{path}: sheet(s) {shown} hold data, but dq reads only the first sheet, which {first}; "
            "put one table per file, on its first sheet"
        )
    # The row index counts the sheet's rows below the header, empty ones too (so that it gives
    # the row in Excel, :func:`row_locators`); empty rows are then left out, as Excel users expect.
    _check_row_index(path, sheets[names[0]].schema)
    frame = sheets[names[0]].with_row_index(ROW_INDEX)
    values = [c for c in frame.columns if c != ROW_INDEX]
    if values:
        frame = frame.filter(pl.any_horizontal(pl.col(values).is_not_null()))
    return frame.lazy()


def _check_ragged(path: Path, lf: pl.LazyFrame, encoding: str | None = None) -> None:
    """Refuse a CSV file with a row longer than its header. Polars parses only the columns a
    query reads, so extra fields would be dropped without a word; one pass over every field
    (multi-threaded, about the cost of reading the file once more) finds them. The error names
    the first such row (found again, on this error only, by Python's csv reader); it quotes no
    value, since the row may hold identifiers."""
    try:
        lf.select(pl.all().is_null().sum()).collect()
    except pl.exceptions.ComputeError as exc:
        if "more fields" in str(exc):
            where = _first_ragged_row(path, encoding)
            which = "a row has"
            if where:
                which = f"row {where[0]} (line {where[1]}) has {where[2]} fields, {where[2] - where[3]}"
            raise InputError(
                f"{path}: {which} more fields than the header (ragged CSV); its extra values would "
                "be lost: quote values that contain commas, or fix the row"
            ) from None
        raise


def _first_ragged_row(path: Path, encoding: str | None) -> tuple[int, int, int, int] | None:
    """(data row number, line number, its fields, the header's fields) of the first row with
    more fields than the header, or None if Python's csv reader finds none."""
    try:
        enc = encoding or detect_encoding(path)
        enc = "utf-8-sig" if enc.lower().replace("_", "-") in ("utf-8", "utf8") else enc
        with path.open(encoding=enc, newline="", errors="replace") as fh:
            reader = csv.reader(fh)
            header = next(reader, [])
            for n, fields in enumerate(reader, start=1):
                if len(fields) > len(header):
                    return n, reader.line_num, len(fields), len(header)
    except (OSError, csv.Error, InputError, LookupError):
        return None
    return None


def _coerce(lf: pl.LazyFrame, spec: TableSpec | None) -> pl.LazyFrame:
    """Cast columns to the catalogue's types, keeping the text of parsed values in __raw."""
    if spec is None:
        return lf
    schema = lf.collect_schema()
    exprs: list[pl.Expr] = []
    for col in spec.columns:
        if col.name not in schema:
            continue
        got, want = schema[col.name], col.dtype
        if got == want:
            continue
        c = pl.col(col.name)
        if col.type == "str":
            exprs.append(c.cast(pl.String).alias(col.name))
        elif got == pl.String:
            exprs.append(c.alias(raw_column(col.name)))
            if col.type in ("date", "datetime"):
                exprs.append(parse_temporal(c, col.type).alias(col.name))
            else:
                exprs.append(_finite(c.str.strip_chars().cast(want, strict=False), want).alias(col.name))
        elif col.type in ("date", "datetime") and got.is_temporal():
            exprs.append(c.cast(want).alias(col.name))
        elif col.type in ("int", "decimal") and got.is_numeric():
            # Another number type (a uint64 2**64-1 where int64 is wanted, a float where an
            # integer is): a value the catalogue's type cannot hold becomes null in the typed
            # column, and its text is kept in __raw, so that date_parse counts it as a value
            # that could not be read, never a silent null.
            if _lossy(got, want):
                exprs.append(c.cast(pl.String).alias(raw_column(col.name)))
            exprs.append(_finite(c.cast(want, strict=False), want).alias(col.name))
    # A float column that already has the catalogue's type may still hold NaN or ±inf: null in
    # the typed column, its text in __raw, counted by date_parse like an unreadable text value.
    for col in spec.columns:
        have = schema.get(col.name)
        if have is not None and have == col.dtype and have.is_float():
            exprs.append(pl.col(col.name).cast(pl.String).alias(raw_column(col.name)))
            exprs.append(_finite(pl.col(col.name), have).alias(col.name))
        # Anything else (e.g. a number where a date is wanted) is left as is: columns_present
        # reports the wrong type and rules on it report a type error.
    return lf.with_columns(exprs) if exprs else lf


_INT64_SAFE = (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32)


def _lossy(got: pl.DataType, want: pl.DataType) -> bool:
    """Whether casting a native ``got`` column to ``want`` can null a value: a float (NaN,
    ±inf, or a fraction where an integer is wanted), a uint64 above the int64 range, a decimal."""
    if got.is_float():
        return True
    if want.is_integer() or want.is_float():
        return not any(got == t for t in _INT64_SAFE)
    return True


def _finite(e: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """NaN and ±inf are not amounts: null (counted by date_parse: the text is kept in __raw),
    never a value that passes a range check."""
    return pl.when(e.is_finite()).then(e) if dtype.is_float() else e


@dataclass(frozen=True)
class TableSource:
    table: str
    path: Path
    frame: pl.LazyFrame
    spec: TableSpec | None
    rows: int | None = None  # known row count (a database read); None: estimated from the file
    where: str | None = None  # how messages name it when not a file (a masked database table)
    row_key: str | None = None  # a database read: the column whose values ROW_INDEX holds (row_id)

    @property
    def location(self) -> str:
        """The file, or the database table, the table was read from."""
        return self.where or str(self.path)


def coerce_frame(where: str | Path, frame: pl.LazyFrame, spec: TableSpec | None) -> pl.LazyFrame:
    """A frame read by another reader (a database's Arrow result, :mod:`dq.io.database`) made what
    the file readers make: the same refusals (nested values, ``__raw`` clashes) and the same
    coercion to the catalogue's types. ``where`` names the source in errors."""
    _check_columns(where, frame, spec)
    return _coerce(frame, spec)


def read_table(
    path: str | Path,
    table: str | None = None,
    catalogue: Catalogue | None = None,
    encoding: str | None = None,
) -> TableSource:
    """Read one table file into a typed LazyFrame (table name defaults to the file's stem)."""
    p = Path(path)
    regular_file(p, "table file")
    cat = catalogue or load_catalogue()
    name = table or p.stem
    spec = cat.table(name)
    note_reading(p)  # in a worker process (dq.io.isolation), a crash from here on names the file
    lf = _scan(p, encoding)
    note_reading(None)
    _check_columns(p, lf, spec)
    if p.suffix.lower() != ".xlsx":  # a workbook has its own (rows of the sheet)
        _check_row_index(p, lf.collect_schema())
        lf = lf.with_row_index(ROW_INDEX)
    return TableSource(name, p, _coerce(lf, spec), spec)


def _check_row_index(path: Path, schema: Any) -> None:
    if ROW_INDEX in schema:
        raise InputError(
            f"{path}: column {ROW_INDEX} clashes with the row number dq gives each row; rename or drop it"
        )


def row_locators(
    src: TableSource, values: Iterable[Any], rows: int | None = None
) -> dict[Any, dict[str, Any]]:
    """Where each row of ``src`` whose :data:`~dq.io.columns.ROW_INDEX` is one of ``values``
    sits in what was uploaded, as a small mapping (names from the submission masked):

    * CSV: ``{"file": "outpatient_visit.csv", "line": 1234}``, the physical line, the header
      being line 1 (a quoted value spanning lines moves the lines after it: counted);
    * xlsx: ``{"file": …, "sheet": "Sheet1", "row": 1234}``, the row number Excel shows;
    * Parquet: ``{"file": …, "row": 1234}``, the row number from 1;
    * a database table: ``{"table": "outpatient_visit", "column": "row_id", "value": 5}``, the
      platform's row id (:attr:`TableSource.row_key`).

    ``rows``: the table's row count, if known (a CSV file with as many lines, header aside, has
    no quoted line break: no need to parse it again). Counts a CSV file's line breaks (a fast
    scan of its bytes) and parses it once more only when its lines are not one per row; reads
    a workbook's first sheet only for the row of its header."""
    wanted = sorted({v for v in values if isinstance(v, int) and not isinstance(v, bool)})
    if not wanted:
        return {}
    if src.row_key is not None:
        table = src.where.rsplit(" table ", 1)[-1] if src.where else src.table
        return {
            v: {"table": mask_text(table, 64), "column": mask_text(src.row_key, 64), "value": v}
            for v in wanted
        }
    name = mask_text(src.path.name, 100)
    suffix = src.path.suffix.lower()
    if suffix == ".csv":
        lines = _csv_lines(src.path, wanted, rows)
        return {v: {"file": name, "line": lines[v]} for v in wanted if v in lines}
    if suffix == ".xlsx":
        sheet, first = _xlsx_first_row(src.path)
        return {v: {"file": name, "sheet": mask_text(sheet, 31), "row": first + 1 + v} for v in wanted}
    return {v: {"file": name, "row": v + 1} for v in wanted}


def _csv_lines(path: Path, wanted: Sequence[int], rows: int | None = None) -> dict[int, int]:
    """The physical line (from 1, the header's) on which each wanted record (from 0) starts."""
    enc = detect_encoding(path)
    newlines = 0
    quotes = False
    last = b""
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 22):
            newlines += chunk.count(b"\n")
            quotes = quotes or b'"' in chunk
            last = chunk[-1:]
    lines = newlines + (last not in (b"\n", b""))  # the header's line and one per record...
    if not quotes or (rows is not None and lines == rows + 1):  # ...when no value spans lines
        return {v: v + 2 for v in wanted if v + 2 <= lines}
    out: dict[int, int] = {}
    todo = set(wanted)
    with path.open(encoding="utf-8-sig" if enc == "utf-8" else enc, newline="", errors="replace") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        start = reader.line_num + 1
        for n, _ in enumerate(reader):
            if n in todo:
                out[n] = start
                todo.discard(n)
                if not todo:
                    break
            start = reader.line_num + 1
    return out


_FIRST_VALUE = re.compile(
    rb'<c r="\$?[A-Za-z]{1,8}\$?([0-9]{1,12})"[^>]*?(?<!/)>\s*(?:<f[^>]*?(?:/>|>[^<]*</f>)\s*)?<(?:v|is)\b'
)


def _xlsx_first_row(path: Path) -> tuple[str, int]:
    """The first sheet's name and the row of its first cell with a value: the header row the
    reader takes (empty rows above it are skipped)."""
    import fastexcel

    sheet = str(fastexcel.read_excel(path).sheet_names[0])
    first = 1
    with zipfile.ZipFile(path) as z:
        parts = _xlsx_worksheets(z)
        part = (
            "xl/worksheets/sheet1.xml"
            if "xl/worksheets/sheet1.xml" in parts
            else (parts[0] if parts else None)
        )
        if part is not None:
            with z.open(part) as fh:
                head = fh.read(1 << 22)
            m = _FIRST_VALUE.search(head)
            if m:
                first = int(m.group(1))
    return sheet, first


def _check_columns(path: Path | str, lf: pl.LazyFrame, spec: TableSpec | None) -> None:
    """Refuse what the readers would otherwise hide: a catalogue column holding nested values
    (a struct or list: its text would carry every field, identifiers included)."""
    if spec is None:
        return
    schema = lf.collect_schema()
    for col in spec.columns:
        if f"{col.name}_duplicated_0" in schema:
            raise InputError(f"{path}: column {col.name} appears more than once in the header; keep one")
        if raw_column(col.name) in schema:
            raise InputError(
                f"{path}: column {raw_column(col.name)} clashes with the name dq gives the uploaded "
                f"text of {col.name}; rename or drop it"
            )
        dtype = schema.get(col.name)
        if dtype is not None and dtype.is_nested():
            kind = type(dtype).__name__.lower()
            raise InputError(
                f"{path}: column {col.name} holds {kind} values, not {col.type}; "
                "export one plain value per column"
            )


@dataclass
class Extract:
    """One unit's data for one period."""

    root: Path
    manifest: dict[str, Any]
    tables: dict[str, TableSource]
    reference: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    where: str | None = None  # a database (masked URL) the unit was read from, instead of root
    #: Tables that are there but could not be read (table → why, naming it; e.g. a database table
    #: this user has no permission on): their rules are errors, the other tables are audited.
    unreadable: dict[str, str] = field(default_factory=dict)

    @property
    def location(self) -> str:
        """The folder, or the database, the unit was read from."""
        return self.where or str(self.root)

    @property
    def kind(self) -> str | None:
        return self.manifest.get("kind")

    @property
    def period(self) -> str | None:
        p = self.manifest.get("period")
        return str(p) if p is not None else None

    @property
    def unit_id(self) -> str:
        return str(self.manifest.get("unit_id") or self.manifest.get("org_code") or self.root.name)


#: A unit id: short and plain, so that it can name files and never be mistaken for another.
UNIT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
MAX_MANIFEST_BYTES = 64 << 10
_TEXT_KEYS = {"name": 200, "district": 100, "generated_by": 200, "profile": 100}


def _describe(value: Any) -> str:
    """What a manifest value is: a short text quoted masked (:func:`dq.io.masking.quote_text`),
    anything else described, never quoted (it may be long or hostile)."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"a {len(value)}-character text" if len(value) > 20 else quote_text(value)
    return type(value).__name__


def check_unit_id(value: Any, where: str, key: str = "unit_id") -> str:
    """``value`` as a unit id, or an :class:`InputError`: a short plain string (letters,
    digits, ``- _ .``, at most 64, not starting with a sign) or a whole number."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        value = str(value)
    if not isinstance(value, str) or not UNIT_ID.fullmatch(value) or ".." in value:
        raise InputError(
            f"{where}: '{key}' must be a short plain id (letters, digits, - _ ., at most 64), "
            f"got {_describe(value)}"
        )
    return value


def read_manifest(path: Path, kinds: tuple[str, ...] | None = ("hospital", "district")) -> dict[str, Any]:
    """Read and validate ``manifest.yaml`` (a capped, regular, UTF-8 YAML file); its ``kind`` is
    one of ``kinds`` (the catalogue's kinds of unit; None: any plain name, for a catalogue that
    declares no kinds)."""
    raw = read_yaml(path, what="manifest", max_bytes=MAX_MANIFEST_BYTES, max_nodes=10_000)
    if not isinstance(raw, dict):
        raise InputError(f"{path}: the manifest must be a mapping")
    if any(not isinstance(k, str) for k in raw):
        raise InputError(f"{path}: manifest keys must be names")
    unknown = set(raw) - MANIFEST_KEYS
    if unknown:
        shown = ", ".join(sorted(mask_text(k, 40) for k in unknown)[:10])
        raise InputError(f"{path}: unknown manifest key(s): {shown}")
    for key in ("unit_id", "org_code"):
        if raw.get(key) is not None:
            raw[key] = check_unit_id(raw[key], str(path), key)
    for key, most in _TEXT_KEYS.items():
        value = raw.get(key)
        if value is not None and not (isinstance(value, str) and len(value) <= most):
            raise InputError(
                f"{path}: '{key}' must be a text of at most {most} characters, got {_describe(value)}"
            )
    if "seed" in raw and not (isinstance(raw["seed"], int) or raw["seed"] is None):
        raise InputError(f"{path}: 'seed' must be a whole number, got {_describe(raw['seed'])}")
    if kinds is None:
        if not (isinstance(raw.get("kind"), str) and UNIT_ID.fullmatch(raw["kind"])):
            raise InputError(f"{path}: 'kind' must be a plain name, got {_describe(raw.get('kind'))}")
    elif raw.get("kind") not in kinds:
        raise InputError(f"{path}: 'kind' must be {' or '.join(kinds)}, got {_describe(raw.get('kind'))}")
    if "period" in raw:
        if not isinstance(raw["period"], str | int):
            raise InputError(f"{path}: 'period' must be a month YYYY-MM, got {_describe(raw['period'])}")
        raw["period"] = str(raw["period"])
        try:
            Period.parse(raw["period"])
        except InputError as exc:
            raise InputError(f"{path}: 'period': {exc}") from exc
    declared = raw.get("declared_tables")
    if declared is not None and not (
        isinstance(declared, list)
        and len(declared) <= 200
        and all(isinstance(t, str) and len(t) <= 64 for t in declared)
    ):
        raise InputError(f"{path}: declared_tables must be a list of table names (or absent)")
    mode = raw.setdefault("collection_mode", "upload")
    if mode not in ("upload", "direct_db"):
        raise InputError(f"{path}: collection_mode must be upload or direct_db, got {_describe(mode)}")
    return raw


def _read_reference(path: Path) -> dict[str, float]:
    regular_file(path, "reference file")
    out: dict[str, float] = {}
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            for i, row in enumerate(csv.DictReader(fh), start=2):
                try:
                    value = float(row["value"])
                    metric = row["metric"].strip()
                except (KeyError, TypeError, ValueError, AttributeError):
                    raise InputError(
                        f"{path} row {i}: expected columns metric,value with a number as value"
                    ) from None
                if not math.isfinite(value):
                    raise InputError(
                        f"{path} row {i}: the value of {mask_text(metric, 40)} is not a finite number"
                    )
                out[metric] = value
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 (byte {exc.start}); save the reference file as UTF-8") from None
    except csv.Error as exc:
        raise InputError(f"{path}: not a readable CSV file ({exc})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    return out


def _entry(f: Path, root: Path, follow_symlinks: bool) -> Path:
    """``f`` if it is a regular file of the extract; a symbolic link only with
    ``follow_symlinks`` and only to a regular file inside the extract folder. Anything else is an
    :class:`InputError`: a link may point at another unit's data, and a FIFO or device would
    never finish reading."""
    if f.is_symlink():
        if not follow_symlinks:
            raise InputError(
                f"{f}: a symbolic link; refused, as it may point at another unit's data (copy the "
                "file into the extract, or pass --follow-symlinks for links inside the extract folder)"
            )
        target = f.resolve()
        inside = root.resolve()
        if not target.is_relative_to(inside):
            raise InputError(f"{f}: a symbolic link to a file outside the extract folder; refused")
        regular_file(target, "table file")
        return f
    regular_file(f, "table file")
    return f


def open_extract(
    path: str | Path,
    catalogue: Catalogue | None = None,
    encoding: str | None = None,
    *,
    follow_symlinks: bool = False,
) -> Extract:
    """Open a site extract folder (manifest.yaml + table files) or a single table file.

    Every file of the extract must be a regular file: a symbolic link is refused (followed with
    ``follow_symlinks`` when it stays inside the folder), and a folder, FIFO or device with a
    table's name is an error, never read.
    """
    p = Path(path)
    cat = catalogue or load_catalogue()
    if not p.exists():
        raise InputError(f"{p}: no such file or folder")
    if not p.is_dir():
        src = read_table(p, catalogue=cat, encoding=encoding)
        kind = src.spec.kind if src.spec else None
        return Extract(p.parent, {"kind": kind, "name": p.name}, {src.table: src})
    manifest_path = p / "manifest.yaml"
    if not manifest_path.exists() and not manifest_path.is_symlink():
        raise InputError(f"{p}: not an extract (no manifest.yaml); pass a table file or a folder")
    # A catalogue without kinds of unit (a project's own tables) takes any kind of unit.
    kinds = tuple(cat.kinds) if cat.kinds else None
    manifest = read_manifest(_entry(manifest_path, p, follow_symlinks), kinds)
    tables: dict[str, TableSource] = {}
    problems: list[str] = []
    for f in sorted(p.iterdir()):
        if f.name.startswith(".") or f.name == "manifest.yaml":
            continue
        if f.suffix.lower() not in TABLE_SUFFIXES:
            if f.suffix.lower() in (".xls", ".tsv", ".txt", ".json", ".gz", ".zip"):
                problems.append(
                    f"{mask_text(f.name)}: not a table format dq reads ({', '.join(TABLE_SUFFIXES)}); ignored"
                )
            continue
        _entry(f, p, follow_symlinks)
        if f.name == "reference.csv":
            continue
        if f.stem in tables:
            raise InputError(f"{f}: table {f.stem} is present twice in {p}")
        if cat.table(f.stem) is None:
            problems.append(f"{mask_text(f.name)}: not a table of the catalogue; ignored")
            continue
        tables[f.stem] = read_table(f, catalogue=cat, encoding=encoding)
    ref = p / "reference.csv"
    reference = _read_reference(ref) if ref.exists() or ref.is_symlink() else {}
    return Extract(p, manifest, tables, reference, problems)
